"""Throughput of the footage assets against a plain decode of the same file.

    .venv/bin/python bench/footage_bench.py --generate 720p --minutes 120 [--compare-dense]
        (writes bench/out/long/cam1_090000_720p_120min.mp4 once, ~30 min; later runs reuse it; also 1080p)
    .venv/bin/python bench/footage_bench.py PATH [--compare-dense]      (any video; also: watershop bench footage PATH)

Prints, for one video in one run: the wall time of a full decode-only pass (PyAV, one thread and
threaded; the faster is the baseline), the wall time of the footage-to-visits stages the assets run
(manifest probe, sampling, motion, face detection, embedding, bodies, tracking, identities, visits), their
ratio, seconds of video per wall second, peak memory (max RSS), the per-stage breakdown (the body detector's
seconds run beside detection and embedding) and what the sampler decoded. Customer visits are scored
against the generator's truth, and with --compare-dense against analysing every sampled frame (same
visits, entry and exit within 2 s).
"""

import argparse
import json
import resource
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "360p": (640, 360)}


def generated_path(out_dir: Path, size: str, minutes: float) -> Path:
    return out_dir / f"cam1_090000_{size}_{int(minutes)}min.mp4"


def generate(size: str, minutes: float, out_dir: Path, preset: str) -> Path:
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.scene import CameraSpec, ShopScene, plan_busy_span, render_continuous
    from watershop_dagster.sim.shop import PlannedVisit
    from watershop_dagster.sim.world import demo_cast

    w, h = SIZES[size]
    cast = demo_cast(FaceEngine.from_models())
    cam = CameraSpec("cam1", w, h, fps=25.0, face_fraction=0.13)
    start = datetime(2024, 6, 3, 9, 0, 0)
    people = [c.name for c in cast.customers]
    visits = plan_busy_span(start, minutes * 60, people, {c.name: list(c.images) for c in cast.customers}, seed=1)
    staff = [
        PlannedVisit(s.name, start, start + timedelta(minutes=minutes), s.images[0], is_staff=True) for s in cast.staff
    ]
    path = generated_path(out_dir, size, minutes)
    t0 = time.perf_counter()
    render_continuous(ShopScene(cam, cast.sprites, seed=1), staff + visits, path, start, minutes * 60, preset=preset)
    truth = [{"person": v.person, "entry": v.entry.isoformat(), "exit": v.exit.isoformat()} for v in visits]
    path.with_suffix(".truth.json").write_text(json.dumps(truth, indent=1))
    presence = sum((v.exit - v.entry).total_seconds() for v in visits) / (minutes * 60)
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB, {len(visits)} visits, presence {presence:.0%}) "
        f"in {time.perf_counter() - t0:.0f}s"
    )
    return path


def plain_decode_seconds(path: Path, threaded: bool) -> tuple[float, int]:
    """Decode every frame and do nothing with it: the floor any analysis of the whole file would pay."""
    import av

    t0 = time.perf_counter()
    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if threaded:
            s.thread_type = "AUTO"
        for _ in c.decode(s):
            n += 1
    return time.perf_counter() - t0, n


def staff_gallery(engine) -> dict:
    """The generated footage's staff member, enrolled from the same photo the generator used (as a shop
    enrols its staff under data/staff/), so the bench counts customer visits only."""
    from watershop_dagster.sim.world import demo_cast

    cast = demo_cast(engine)
    gallery = {}
    for name, photos in cast.enrolment.items():
        vecs = [v for v in (engine.embed_image(p) for p in photos) if v is not None]
        if vecs:
            gallery[f"STAFF_{name}"] = np.stack(vecs)
    return gallery


def footage_to_visits(path: Path, dense: bool):
    from watershop_dagster.core.footage.analysis import analyse_day
    from watershop_dagster.core.footage.coarse_to_fine import CoarseToFineSampler
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.core.footage.manifest import scan_day
    from watershop_dagster.core.footage.persons import PersonDetector
    from watershop_dagster.core.footage.sampling import DenseSampler
    from watershop_dagster.core.footage.tracking import build_tracks, tracks_frame
    from watershop_dagster.core.identities.matching import assign_identities
    from watershop_dagster.core.identities.visits import build_visits

    engine = FaceEngine.from_models()
    staff = staff_gallery(engine)
    day = date(2024, 6, 3)
    folder = path.parent / "day"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("cam1_090000.*"):  # an earlier run's link, perhaps to a file of another kind
        if old.is_symlink():
            old.unlink()
    (folder / f"cam1_090000{path.suffix}").symlink_to(path.resolve())  # the suffix says how to read it
    stages = {}
    t0 = time.perf_counter()
    manifest = scan_day(folder, day)
    stages["probe"] = time.perf_counter() - t0
    # Dense: every sampled frame analysed, the reference the default sampler must agree with.
    sampler = (lambda: DenseSampler(2.0, analyse_every=True)) if dense else (lambda: CoarseToFineSampler(2.0))
    # the body detector too, as the footage_analysis asset runs it by default (detect_persons)
    result = analyse_day(day, manifest, engine, None, sampler_factory=sampler, persons=PersonDetector.default())
    stages.update(result.times.as_dict())
    t1 = time.perf_counter()
    embs = {r.detection_id: np.asarray(r.embedding, np.float32) for r in result.embeddings.itertuples()}
    tracks = tracks_frame(day, build_tracks(result.detections, embs))
    stages["tracking"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    ids = assign_identities(tracks, [], staff, 1)
    visits = build_visits(day, tracks, ids.assignments)
    visits = visits[~visits["is_staff"]].reset_index(drop=True)  # customer visits, as the owner counts them
    stages["identity_and_visits"] = time.perf_counter() - t2
    wall = time.perf_counter() - t0
    return wall, stages, visits, result


def as_visits(truth, gap_s: float = 60.0):
    """The generator may bring a customer back a few seconds after leaving; the product counts that as one
    visit (gaps under a minute do not split a visit), so the truth is merged the same way."""
    rows = []
    for r in truth.sort_values("entry").itertuples(index=False):
        same = [x for x in rows if x["person"] == r.person and (r.entry - x["exit"]).total_seconds() <= gap_s]
        if same:
            same[-1]["exit"] = max(same[-1]["exit"], r.exit)
        else:
            rows.append({"person": r.person, "entry": r.entry, "exit": r.exit})
    return type(truth)(rows)


def compare(a, b, tolerance_s: float = 2.0) -> dict:
    from watershop_dagster.evaluation.scoring import match_visits

    ta = a.rename(columns={"entry_time": "entry", "exit_time": "exit"})
    pairs = match_visits(ta, b, min_iou=0.3)
    ok, off = [], []
    for i, j, _ in pairs:
        d_entry = (b.loc[j, "entry_time"] - a.loc[i, "entry_time"]).total_seconds()
        d_exit = (b.loc[j, "exit_time"] - a.loc[i, "exit_time"]).total_seconds()
        (ok if abs(d_entry) <= tolerance_s and abs(d_exit) <= tolerance_s else off).append(
            f"{a.loc[i, 'entry_time']:%H:%M:%S}-{a.loc[i, 'exit_time']:%H:%M:%S}: "
            f"entry {d_entry:+.1f}s, exit {d_exit:+.1f}s"
        )
    matched = {i for i, _, _ in pairs}
    missed = [
        f"{a.loc[i, 'entry_time']:%H:%M:%S}-{a.loc[i, 'exit_time']:%H:%M:%S}" for i in a.index if i not in matched
    ]
    return {
        "reference_visits": len(a),
        "found_visits": len(b),
        "matched_within_2s": len(ok),
        "outside_2s": off,
        "not_found": missed,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("video", nargs="?")
    p.add_argument("--generate", choices=sorted(SIZES))
    p.add_argument("--minutes", type=float, default=120)
    p.add_argument(
        "--preset", default="veryfast", help="x264 preset for --generate (superfast: quicker to write, decodes alike)"
    )
    p.add_argument("--compare-dense", action="store_true")
    p.add_argument("--no-baseline", action="store_true", help="skip the plain decodes (no ratio): for quick iterations")
    args = p.parse_args(argv)
    path = Path(args.video) if args.video else None
    if args.generate:
        made = generated_path(REPO / "bench" / "out" / "long", args.generate, args.minutes)
        if made.exists():
            print(f"using {made} (delete it to write it again)", file=sys.stderr)
        else:
            generate(args.generate, args.minutes, REPO / "bench" / "out" / "long", args.preset)
        path = path or made
    if path is None or not path.exists():
        p.error("give a video (or --generate SIZE)")
    # Both ways, and the faster is the baseline: on a small VM frame threading can be slower than one thread.
    if args.no_baseline:  # quicker iterations on the pipeline alone; no ratio
        single_s = threaded_s = decode_s = float("nan")
        frames = 0
    else:
        # In a child process, so the peak memory printed below is the pipeline's alone.
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1) as pool:
            single_s, frames = pool.submit(plain_decode_seconds, path, False).result()
            threaded_s, _ = pool.submit(plain_decode_seconds, path, True).result()
        decode_s = min(single_s, threaded_s)
    wall, stages, visits, result = footage_to_visits(path, dense=False)
    video_s = result.video_seconds
    report = {
        "video": str(path),
        "frames": frames,
        "video_seconds": round(video_s, 1),
        "plain_decode_wall_s": round(decode_s, 2),
        "plain_decode_one_thread_s": round(single_s, 2),
        "plain_decode_threaded_s": round(threaded_s, 2),
        "footage_to_visits_wall_s": round(wall, 2),
        "ratio_to_decode": round(wall / decode_s, 3),
        "video_seconds_per_wall_second": round(video_s / wall, 1),
        "decode_x_realtime": round(video_s / decode_s, 1),
        "frames_sampled": len(result.frames),
        "frames_analysed": int(result.frames["analysed"].sum()),
        "faces": len(result.detections),
        "embeddings": len(result.embeddings),
        "visits": len(visits),
        "sampler": result.sampler_detail,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
    }
    truth_path = path.with_suffix(".truth.json")
    if truth_path.exists():
        import pandas as pd

        truth = pd.DataFrame(json.loads(truth_path.read_text()))
        truth["entry"], truth["exit"] = pd.to_datetime(truth["entry"]), pd.to_datetime(truth["exit"])
        report["generated_visits"] = len(truth)
        truth = as_visits(truth)
        report["truth_visits"] = len(truth)
        report["truth_match"] = compare(truth.rename(columns={"entry": "entry_time", "exit": "exit_time"}), visits)
    if args.compare_dense:
        dense_wall, _, dense_visits, _ = footage_to_visits(path, dense=True)
        report["dense_wall_s"] = round(dense_wall, 1)
        report["same_as_dense"] = compare(dense_visits, visits)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
