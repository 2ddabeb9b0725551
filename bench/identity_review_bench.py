"""Identity review, measured.

1. Suggested merges on evaluation days (real photos, a different photo per visit) with identity errors forced:
   thresholds set so that people split. The owner goes down the suggestions in order, answering each from the
   truth (merge when one person, "not the same person" otherwise), the warehouse is brought up to date after
   each pass over the list; printed: BCubed F1 before and after, suggestions looked at, real fixes (merges),
   suggestions looked at per real fix. With --merge-thresholds it also reports a forced-merge setting, which
   suggested merges cannot fix (a split is the owner's tool there).
2. The review page's load time with --customers customers and --visits visits (synthetic rows in a fresh
   warehouse: the page's queries do not care where rows came from).

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/identity_review_bench.py --days 3 --eval-customers 8
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def suggestions_bench(args) -> None:
    from watershop_dagster.core.storage.warehouse import Warehouse
    from watershop_dagster.definitions import build_definitions
    from watershop_dagster.defs.partitions import shop_day_key
    from watershop_dagster_tests.support import (
        ephemeral_instance,
        eval_world,
        follow_suggestions,
        register_shops,
        resources_for,
        shared_data_dir,
    )

    if shared_data_dir() is None:
        print("suggestions: skipped (set WATERSHOP_SHARED_DATA to ../shared/data)")
        return
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    days = eval_world(out, args.eval_customers, args.days, args.visits_per_day, args.seed)
    for label, (match, cluster) in [
        ("split", args.split_thresholds),
        *([("merge", args.merge_thresholds)] * bool(args.merge_thresholds)),
    ]:
        data = out.with_name(out.name + f"-{label}")
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(out, data)
        config = {"ops": {"identities": {"config": {"match_threshold": match, "cluster_threshold": cluster}}}}
        defs = build_definitions(resources_for(data))
        with ephemeral_instance() as instance:
            register_shops(instance, "main")
            started = time.perf_counter()
            for d in days:
                result = defs.resolve_job_def("daily_job").execute_in_process(
                    partition_key=shop_day_key(d), instance=instance, run_config=config, raise_on_error=False
                )
                assert result.success, d
            cross_day = defs.resolve_job_def("cross_day_job")
            assert cross_day.execute_in_process(partition_key="main", instance=instance).success
            built = time.perf_counter() - started
            started = time.perf_counter()
            wh = Warehouse(data / "warehouse.duckdb")
            r = follow_suggestions(wh, data, defs, instance, config)
            spent = time.perf_counter() - started
        fixes = max(r["merges"], 1)
        print(
            f"forced {label} (match {match}, cluster {cluster}), {len(days)} days x {args.visits_per_day} visits, "
            f"{args.eval_customers} customers: BCubed F1 {r['f1_before']:.3f} -> {r['f1_after']:.3f}; "
            f"{r['looked_at']} suggestions looked at, {r['merges']} merges (real fixes), {r['not_same']} not-same; "
            f"{r['looked_at'] / fixes:.2f} looked at per real fix; {r['rounds']} update passes, "
            f"{spent:.0f} s of corrections (days built in {built:.0f} s)"
        )


def page_bench(args) -> None:
    import numpy as np
    import pandas as pd
    from starlette.testclient import TestClient

    from watershop_dagster.core.storage.warehouse import Warehouse
    from watershop_dagster.review.app import create_app

    folder = Path(args.out).with_name("review-page")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    wh = Warehouse(folder / "warehouse.duckdb")
    rng = np.random.default_rng(1)
    n, v = args.customers, args.visits
    first = date(2024, 1, 1)
    ids = [f"CUST_{i + 1:04d}" for i in range(n)]
    who = rng.integers(0, n, v)
    days = [first + timedelta(days=int(d)) for d in rng.integers(0, 90, v)]
    entry = [
        datetime.combine(d, datetime.min.time()) + timedelta(hours=8, seconds=int(s))
        for d, s in zip(days, rng.integers(0, 12 * 3600, v))
    ]
    visits = pd.DataFrame(
        {
            "day": days,
            "visit_id": [f"{d}/V{i:05d}" for i, d in enumerate(days)],
            "customer_id": [ids[i] for i in who],
            "entry_time": entry,
            "exit_time": [e + timedelta(seconds=120) for e in entry],
            "duration_seconds": 120.0,
            "faces_seen": 20,
            "tracks": 1,
            "match_similarity": rng.uniform(0.3, 0.9, v),
            "best_crop_path": [f"crops/{d}/c{i}.jpg" for i, d in enumerate(days)],
            "is_staff": False,
        }
    )
    with wh.transaction() as conn:
        conn.register("v", visits)
        conn.execute("CREATE TABLE visit_log AS SELECT * FROM v")
        conn.execute(
            "CREATE TABLE total_spent AS SELECT customer_id, count(*) * 40.0 AS billed_amount, "
            "count(*) * 5.0 AS amount_owed FROM v GROUP BY 1"
        )
        conn.execute("CREATE TABLE shop_hours AS SELECT DISTINCT day, 12.0 AS open_hours FROM v")
        conn.execute(
            "CREATE TABLE identity_suggestions AS SELECT 'CUST_' || lpad((2 * i + 1)::VARCHAR, 4, '0') AS "
            "customer_id_a, 'CUST_' || lpad((2 * i + 2)::VARCHAR, 4, '0') AS customer_id_b, 0.5 AS score "
            "FROM range(200) t(i)"
        )
    client = TestClient(create_app(folder, wh, apply=False), base_url="http://127.0.0.1:8765")  # the local page
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        page = client.get("/")
        times.append(time.perf_counter() - started)
        assert page.status_code == 200
    print(
        f"review page with {n} customers and {v} visits: median {statistics.median(times) * 1000:.0f} ms, "
        f"worst {max(times) * 1000:.0f} ms over {args.repeats} loads; {len(page.content) / 1e6:.1f} MB of HTML"
    )


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--eval-customers", type=int, default=8)
    p.add_argument("--visits-per-day", type=int, default=8)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--split-thresholds", type=float, nargs=2, default=(0.75, 0.75), metavar=("MATCH", "CLUSTER"))
    p.add_argument("--merge-thresholds", type=float, nargs=2, default=None, metavar=("MATCH", "CLUSTER"))
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--visits", type=int, default=30000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "identity"))
    p.add_argument("--page-only", action="store_true")
    args = p.parse_args()
    page_bench(args)
    if not args.page_only:
        suggestions_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
