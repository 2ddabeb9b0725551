"""Visit, identity, sales-linking and shop-hours accuracy on evaluation days built from real photos
(a different photo per visit), under named recording conditions.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/evaluate_visits.py --days 5 --customers 30 \
        --condition shopcam

Writes a data folder under bench/out/eval, materializes every day through Dagster (the same job the
schedule runs) and prints visit recall (faced / faceless visits) and precision, BCubed F1 across days,
distinct customers found against the truth, sales linked to the right person and the ambiguous share, and
staff visits counted as customer visits.

Conditions (--condition; each flag below overrides its value):

* clear: 640x360, faces 20% of the frame height (~72 px), full light, mp4v (the earlier evaluation days).
* shopcam: 1280x720, face detector boxes 28-40 px on the shorter side, lights at 60%, H.264 at 400 kbit/s.
* shopcam_faceless30: shopcam, 30% of customer visits never show a face (back to the camera, caps).
* shopcam_busy4: shopcam, customers in groups of up to four waiting at the counter at once.
* shopcam_restaff: shopcam, the staff member in a different photo every day (none of them enrolled).
* shopcam_all: all of the above at once.

The camera's encoding can be set apart from the condition, as DVRs are configured: --codec hevc (libx265,
3 B-frames), --gop S (a keyframe every S seconds; 2 by default) and --fps F (12 by default). So can the
recorder's export (watershop_dagster/sim/dvr.py): --file-names dvr|nvr|dated (channel and start/end stamps as
DVRs and NVRs name files), --clock-overlay (the date, time and camera label burned into every frame) and
--power-cut (one recording a day loses its last second and its MP4 index, as a power failure leaves it), and
--stored-width W (a DVR's half-width "lite" mode: frames drawn at --width, stored squeezed to W, the file
saying nothing of it), --recording continuous --segment-minutes M (the DVR records all the time, in files of M
minutes cut on the clock, instead of on motion; with --open-hours 08:00-10:30 a short, busy day keeps that cheap
to draw). --door-camera adds a second camera (cam2) above the door, recording the same days: it
sees customers' backs as they come in and wait, their faces only as they walk out.

The cast is drawn from the `report` half of the people (evaluation/split.py) unless --half says otherwise:
thresholds are tuned on the other half.

--till-clock-offset S [--till-clock-drift D] sets the till's clock off the camera's (camera = till + S + i*D
on day i; the truth records it) and the report scores each day's estimated offset; with --reuse it applies to
the reused days (a reused run whose clock was set off keeps it). --rescore scores the run already in --out
again (a scorer change needs no re-analysis).
"""

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from datetime import time as dt_time
from pathlib import Path

from watershop_dagster.sim.dvr import EXPORTS, FILE_NAME_STYLES
from watershop_dagster.sim.scene import RECORDINGS
from watershop_dagster.sim.shop import CLOSE, OPEN

REPO = Path(__file__).resolve().parents[1]

SHOPCAM = {"width": 1280, "height": 720, "face_px": "28,40", "light": 0.6, "codec": "h264", "kbps": 400}
# Flags that set a CameraSpec field of the same name (face_px is parsed apart: a "lo,hi" range).
CAMERA_FLAGS = (
    "width",
    "height",
    "light",
    "codec",
    "kbps",
    "gop_seconds",
    "fps",
    "file_names",
    "clock_overlay",
    "power_cut",
    "stored_width",
    "export",
    "recording",
    "segment_minutes",
)
CONDITIONS: dict[str, dict] = {
    "clear": {},
    "shopcam": SHOPCAM,
    "shopcam_faceless30": {**SHOPCAM, "faceless_share": 0.3},
    "shopcam_busy4": {**SHOPCAM, "max_waiting": 4},
    "shopcam_restaff": {**SHOPCAM, "staff_photo_per_day": True},
    "shopcam_all": {**SHOPCAM, "faceless_share": 0.3, "max_waiting": 4, "staff_photo_per_day": True},
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--customers", type=int, default=30)
    p.add_argument("--visits-per-day", type=int, default=14)
    p.add_argument("--first-day", default="2024-04-01")
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "eval"))
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--newcomers-per-day", type=int, default=6)
    p.add_argument("--half", default="report", choices=["tune", "report", "all"], help="people the cast is drawn from")
    p.add_argument("--condition", default="clear", choices=sorted(CONDITIONS))
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--face-px", help="face detector box shorter side, 'lo,hi' px (drawn per visit)")
    p.add_argument("--light", type=float, help="lights when open, 1.0 = full")
    p.add_argument("--codec", choices=["mp4v", "h264", "hevc"])
    p.add_argument("--kbps", type=int, help="H.264 / HEVC bitrate (= maxrate = bufsize)")
    p.add_argument("--gop", type=float, dest="gop_seconds", help="H.264 / HEVC: seconds between keyframes (2)")
    p.add_argument("--fps", type=float, help="frames a second the camera records (12)")
    p.add_argument(
        "--file-names",
        choices=FILE_NAME_STYLES,
        help="how the recorder names its files (watershop_dagster/sim/dvr.py): camera cam1_HHMMSS.mp4 (the "
        "default), dvr ch01_<start>_<end>.mp4, nvr NVR_ch1_main_<start>_<end>.mp4, dated <date>_<time>_cam1.mp4",
    )
    p.add_argument(
        "--clock-overlay",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="burn the DVR's date/time and camera label into every frame",
    )
    p.add_argument(
        "--power-cut",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one recording a day cut off by a power failure (last second and index lost)",
    )
    p.add_argument(
        "--stored-width",
        type=int,
        help="a DVR's half-width ('lite') mode: frames drawn at --width stored squeezed to this width, unsignalled",
    )
    p.add_argument(
        "--export",
        choices=EXPORTS,
        help="what the recorder exports (h264 / hevc only): mp4 (the default), raw Annex B streams (.h264 / .265), "
        "Dahua .dav recordings, or Hikvision program streams named .mp4 (ps), all recorded without B-frames",
    )
    p.add_argument(
        "--recording",
        choices=RECORDINGS,
        help="motion (the default): a file per burst of customers, plus opening and closing; continuous: "
        "back-to-back files of --segment-minutes cut on the clock, from before opening to after closing",
    )
    p.add_argument("--segment-minutes", type=float, help="continuous recording: minutes per file (60)")
    p.add_argument(
        "--open-hours",
        help="HH:MM-HH:MM the shop opens and closes (each day a few minutes either way; the simulator's day by "
        "default); a shorter day packs "
        "--visits-per-day into fewer hours (continuous recording draws every minute of them)",
    )
    p.add_argument(
        "--door-camera",
        action="store_true",
        help="a second camera above the door (cam2): backs as customers come in and wait, faces as they leave",
    )
    p.add_argument("--faceless-share", type=float)
    p.add_argument("--max-waiting", type=int)
    p.add_argument("--staff-photo-per-day", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument(
        "--staff",
        type=int,
        default=1,
        choices=[1, 2],
        help="staff members (a second one works the second half of the day)",
    )
    p.add_argument(
        "--reuse",
        help="an earlier run's folder (--out): analyse its generated days again (footage, till, staff photos, "
        "truth) with this code instead of generating them; its report.json gives the conditions",
    )
    p.add_argument(
        "--till-clock-offset",
        type=float,
        default=0.0,
        help="seconds the till's clock runs behind the camera's (camera = till + offset), on the first day",
    )
    p.add_argument("--till-clock-drift", type=float, default=0.0, help="seconds the offset grows each day")
    p.add_argument(
        "--rescore",
        action="store_true",
        help="score the run already in --out again with this scorer (nothing generated or analysed)",
    )
    args = p.parse_args()
    if args.rescore:
        out = Path(args.out)
        return _score(out, out / "data", json.loads((out / "report.json").read_text()))
    cond = dict(CONDITIONS[args.condition])
    for key in (*CAMERA_FLAGS, "face_px", "faceless_share", "max_waiting"):
        if getattr(args, key) is not None:
            cond[key] = getattr(args, key)
    if args.staff_photo_per_day is not None:
        cond["staff_photo_per_day"] = args.staff_photo_per_day

    shared = Path(os.environ.get("WATERSHOP_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (shared / "faces").is_dir():
        print(f"no labelled faces under {shared}/faces: set WATERSHOP_SHARED_DATA", file=sys.stderr)
        return 2
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    data = out / "data"
    os.environ.update(
        WATERSHOP_DATA_DIR=str(data), DAGSTER_HOME=str(out / "dagster_home"), WATERSHOP_LOG_LEVEL="WARNING"
    )

    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.scene import CameraSpec
    from watershop_dagster.sim.shop import set_till_clock
    from watershop_dagster.sim.world import eval_cast, write_world

    camera = CameraSpec()
    for key in CAMERA_FLAGS:
        if key in cond:
            camera = replace(camera, **{key: cond[key]})
    if "face_px" in cond:
        lo, hi = (float(x) for x in str(cond["face_px"]).split(","))
        camera = replace(camera, face_px=(lo, hi))
    restaff = bool(cond.get("staff_photo_per_day", False))

    days = [date.fromisoformat(args.first_day) + timedelta(days=i) for i in range(args.days)]
    open_, close = args.open_hours.split("-") if args.open_hours else (f"{OPEN:%H:%M}", f"{CLOSE:%H:%M}")
    hours = (dt_time.fromisoformat(open_), dt_time.fromisoformat(close))
    t0 = time.perf_counter()
    till_clock = (args.till_clock_offset, args.till_clock_drift)
    if args.reuse:
        return _rescore(Path(args.reuse), out, data, days, t0, till_clock)
    cast = eval_cast(
        FaceEngine.from_models(),
        shared / "faces",
        customers=args.customers,
        seed=args.seed,
        staff=args.staff,
        half=None if args.half == "all" else args.half,
        staff_footage_photos=args.days if restaff else 1,
    )
    write_world(
        data,
        days,
        cast,
        camera=camera,
        visits_per_day=args.visits_per_day,
        seed=args.seed,
        newcomers_per_day=args.newcomers_per_day,
        faceless_share=float(cond.get("faceless_share", 0.0)),
        max_waiting=int(cond.get("max_waiting", 1)),
        staff_photo_per_day=restaff,
        door_camera=args.door_camera,
        hours=hours,
    )
    set_till_clock(data, *till_clock)
    report = {
        "condition": args.condition,
        "conditions": {
            "camera": camera.describe(),
            "faceless_share": float(cond.get("faceless_share", 0.0)),
            "max_waiting": int(cond.get("max_waiting", 1)),
            "staff_photo_per_day": restaff,
            "staff": args.staff,
            "door_camera": args.door_camera,
            "open_hours": f"{hours[0]:%H:%M}-{hours[1]:%H:%M}",
            "half": args.half,
            "till_clock_offset_s": args.till_clock_offset,
            "till_clock_drift_s_per_day": args.till_clock_drift,
        },
        "days": args.days,
        "customers_in_cast": len(cast.customers),
        "seed": args.seed,
    }
    return _analyse_and_score(out, data, days, report, t0)


def _rescore(earlier: Path, out: Path, data: Path, days: list, t0: float, till_clock: tuple[float, float]) -> int:
    """The generated days of an earlier run, analysed again: same footage, till files, staff photos, truth;
    the till's clock set as this run asks (the earlier till files are taken as the camera's time), or, where
    the earlier run set it off already, kept as it was."""
    from watershop_dagster.sim.shop import set_till_clock

    before = json.loads((earlier / "report.json").read_text())
    for part in ("footage", "transactions", "staff", "truth", "optout"):  # optout: where one was added by hand
        if part != "optout" or (earlier / "data" / part).is_dir():
            shutil.copytree(earlier / "data" / part, data / part)
    earlier_clock = (
        before["conditions"].get("till_clock_offset_s", 0.0),
        before["conditions"].get("till_clock_drift_s_per_day", 0.0),
    )
    if any(earlier_clock) and any(till_clock):
        raise SystemExit(
            f"{earlier}: its till clock was already set off ({earlier_clock}); reuse it as it is (no "
            "--till-clock-offset/--till-clock-drift) or set the clock on a synchronised run"
        )
    if any(earlier_clock):
        till_clock = earlier_clock  # its till files and truth already carry that clock: analysed as they are
    else:
        set_till_clock(data, *till_clock)
    report = {k: before[k] for k in ("condition", "conditions", "days", "customers_in_cast", "seed") if k in before}
    report["conditions"] = {
        **report["conditions"],
        "till_clock_offset_s": till_clock[0],
        "till_clock_drift_s_per_day": till_clock[1],
    }
    report["reused_from"] = str(earlier)
    return _analyse_and_score(out, data, [d for d in days if (data / "truth" / f"{d}.json").exists()], report, t0)


def _analyse_and_score(out: Path, data: Path, days: list, report: dict, t0: float) -> int:
    from watershop_dagster.cli import materialize

    t1 = time.perf_counter()
    ok = materialize(days, log=lambda m: None)
    t2 = time.perf_counter()
    report = {**report, "run_ok": ok, "generate_s": round(t1 - t0, 1), "materialize_s": round(t2 - t1, 1)}
    return _score(out, data, report)


def _score(out: Path, data: Path, report: dict) -> int:
    """Score the run's warehouse against its truth and write report.json (the run's own fields kept)."""
    from watershop_dagster.core.identities.suggestions import in_rank_order
    from watershop_dagster.core.storage.warehouse import Warehouse
    from watershop_dagster.evaluation.scoring import (
        load_truth,
        persons_per_identity,
        score_clock,
        score_links,
        score_shop_hours,
        score_staff,
        score_suggestions,
        score_visits,
    )

    wh = Warehouse(data / "warehouse.duckdb")
    truth = load_truth(data / "truth")
    visit_log = wh.query("SELECT * FROM visit_log")
    scores = score_visits(truth, visit_log)
    staff_ids = wh.query("SELECT DISTINCT customer_id FROM visit_log WHERE is_staff")["customer_id"].tolist()
    links = score_links(truth, visit_log, wh.query("SELECT * FROM transaction_links"))
    hours = score_shop_hours(data / "truth", wh.query("SELECT * FROM shop_hours"))
    report = {
        **report,
        **scores.as_dict(),
        **links,
        **score_staff(data / "truth", truth, visit_log),
        **hours,
        **score_clock(data / "truth", wh.query("SELECT * FROM clock_offsets")),
        **score_suggestions(truth, visit_log, in_rank_order(wh.query("SELECT * FROM identity_suggestions"))),
        "staff_ids_seen": staff_ids,
    }
    print(json.dumps(report, indent=1))
    (out / "report.json").write_text(json.dumps(report, indent=1))
    mixed = {cid: people for cid, people in persons_per_identity(truth, visit_log).items() if len(people) > 1}
    if mixed:
        print("IDs holding more than one true person:", json.dumps(mixed, indent=1))
    return 0 if report.get("run_ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
