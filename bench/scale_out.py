"""Parallel footage analysis: a backfill of several days with 1 worker against N, same data, same rows.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/scale_out.py --days 4 --shops 1 --workers 2 \
        [--visits-per-day 30 --out bench/out/scale30] [--reuse] [--repeats 3]

Writes demo days with footage (the synthetic shop, demo cast) for each shop under bench/out/scale/, then runs
`watershop materialize --from D1 --to Dn --workers W` as a subprocess for W = 1 and W = N, each on a fresh copy
of the data with a fresh warehouse and Dagster instance. The timed span is the whole command: start-up, model
loads in every worker, footage analysis, every asset, crops, warehouse writes, reports and the chain roll-up.
Prints both wall times with the CPU seconds (user + system) the command and its workers used, the speed-up,
and whether the two warehouses hold the same rows; with --repeats, each pair and the median speed-up (this
machine's wall times move by several seconds between runs of the same command).
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TABLES = ["frames", "face_detections", "face_tracks", "visit_log", "customer_registry", "daily_revenue", "chain_daily"]


def write_data(root: Path, days: list[date], shops: int, visits_per_day: int) -> Path:
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.world import demo_cast, write_world

    cast = demo_cast(FaceEngine.from_models())
    data = root / "data"
    for s in range(shops):
        write_world(data / "shops" / f"shop{s + 1}", days, cast, visits_per_day=visits_per_day, seed=s + 1)
    return data


def footage_minutes(data: Path) -> float:
    """Minutes of footage in the data, for the table: what each day's analysis had to look at."""
    import av

    seconds = 0.0
    for video in data.glob("shops/*/footage/*/*.mp4"):
        with av.open(str(video)) as container:
            seconds += (container.duration or 0) / av.time_base
    return seconds / 60


def run(data: Path, days: list[date], workers: int) -> float:
    env = {
        **os.environ,
        "WATERSHOP_DATA_DIR": str(data),
        "DAGSTER_HOME": str(data.parent / "dagster_home"),
        "WATERSHOP_START_DATE": str(days[0]),
        "WATERSHOP_LOG_LEVEL": "ERROR",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "watershop_dagster.cli", "materialize", "--from", str(days[0]), "--to", str(days[-1]),
         "--workers", str(workers)],
        env=env, capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(f"workers={workers} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def snapshot(data: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as conn:
        drop = {"crop_path", "best_crop_path"}  # absolute paths differ between the two copies
        out = {}
        for t in TABLES:
            frame = conn.execute(f"SELECT * FROM {t}").df()
            frame = frame.drop(columns=[c for c in frame.columns if c in drop])
            out[t] = frame.sort_values(list(frame.columns[:4])).reset_index(drop=True)
        return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=4)
    p.add_argument("--shops", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--visits-per-day", type=int, default=8, help="customer visits a day; each adds footage")
    p.add_argument("--repeats", type=int, default=1, help="pairs of runs (1 worker, then N) on the same data")
    p.add_argument("--reuse", action="store_true", help="keep the data an earlier run wrote under --out")
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "scale"))
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    days = [date(2024, 5, 6) + timedelta(days=i) for i in range(args.days)]
    out = Path(args.out)
    # --reuse: the footage an earlier run rendered with the same settings (4 days of 30 visits take 13 minutes)
    params = {"days": args.days, "shops": args.shops, "visits_per_day": args.visits_per_day}
    written = out / "source" / "params.json"
    if args.reuse and written.is_file():
        if json.loads(written.read_text()) != params:
            raise SystemExit(f"--reuse: {out} holds {written.read_text()}, not {params}: run without --reuse")
        source = out / "source" / "data"
        for stale in out.glob("w[0-9]*"):
            shutil.rmtree(stale)
    else:
        shutil.rmtree(out, ignore_errors=True)
        source = write_data(out / "source", days, args.shops, args.visits_per_day)
        written.write_text(json.dumps(params))
    per_day = footage_minutes(source) / (args.days * args.shops)
    print(f"footage: {per_day:.1f} min a shop day ({args.visits_per_day} visits a day)")
    print(f"| days x shops | pair | 1 worker: wall (CPU) | {args.workers} workers: wall (CPU) | speed-up | same rows |")
    print("|---|---|---|---|---|---|")
    pairs, all_same = [], True
    for pair in range(1, args.repeats + 1):  # the pairs run one after the other: 1 worker, then N, each fresh
        results = {}
        for workers in (1, args.workers):
            root = out / f"w{workers}"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(source, root / "data")
            wall, cpu = run(root / "data", days, workers)
            results[workers] = (wall, cpu, snapshot(root / "data"))
        one, many = results[1], results[args.workers]
        same = all(one[2][t].equals(many[2][t]) for t in TABLES)
        all_same &= same
        pairs.append(one[0] / many[0])
        print(
            f"| {args.days} x {args.shops} | {pair} | {one[0]:.1f} s ({one[1]:.0f} CPU s) "
            f"| {many[0]:.1f} s ({many[1]:.0f} CPU s) | {one[0] / many[0]:.2f}x | {same} |",
            flush=True,
        )
    if len(pairs) > 1:
        print(f"speed-up over {len(pairs)} pairs: median {statistics.median(pairs):.2f}x, "
              f"{min(pairs):.2f}-{max(pairs):.2f}x")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
