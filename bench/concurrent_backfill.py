"""A 14-day backfill launched as several runs at once against one warehouse: no run may fail on DuckDB's
single-writer lock. Prints the wall time, runs per process, and how long writers waited.

    .venv/bin/python bench/concurrent_backfill.py [--days 14] [--processes 4]
"""

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path


def _run(data_dir: str, day: str) -> tuple[str, bool, float]:

    from watershop_dagster.definitions import build_definitions
    from watershop_dagster_tests.support import ephemeral_instance, resources_for, run_shop_day

    defs = build_definitions(resources_for(Path(data_dir)))
    t = time.perf_counter()
    with ephemeral_instance() as inst:
        ok = run_shop_day(defs, inst, day).success
    return day, ok, time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--processes", type=int, default=4)
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from watershop_dagster.core.storage.warehouse import Warehouse
    from watershop_dagster_tests.support import till_only_world

    data = Path(tempfile.mkdtemp(prefix="backfill-")) / "data"
    days = till_only_world(data, args.days)
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(args.processes) as pool:
        results = pool.starmap(_run, [(str(data), d.isoformat()) for d in days])
    wall = time.perf_counter() - t0
    wh = Warehouse(data / "warehouse.duckdb")
    print(
        json.dumps(
            {
                "days": args.days,
                "processes": args.processes,
                "all_succeeded": all(ok for _, ok, _ in results),
                "failed_days": [d for d, ok, _ in results if not ok],
                "wall_s": round(wall, 1),
                "mean_run_s": round(sum(s for _, _, s in results) / len(results), 1),
                "days_in_daily_revenue": int(wh.query("SELECT count(DISTINCT day) n FROM daily_revenue")["n"][0]),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
