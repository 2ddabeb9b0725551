"""Visit, identity, sales-linking and shop-hours accuracy on evaluation days built from real photos
(a different photo per visit).

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/evaluate_visits.py --days 5 --customers 30

Writes a data folder under bench/out/eval, materializes every day through Dagster (the same job the
schedule runs) and prints visit recall/precision, BCubed F1 across days, distinct customers found against
the truth, and whether staff stayed out of the customer figures.
"""

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--customers", type=int, default=30)
    p.add_argument("--visits-per-day", type=int, default=14)
    p.add_argument("--first-day", default="2024-04-01")
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "eval"))
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--newcomers-per-day", type=int, default=6)
    args = p.parse_args()

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

    from watershop_dagster.cli import materialize
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.core.storage.warehouse import Warehouse
    from watershop_dagster.evaluation.scoring import (
        load_truth,
        persons_per_identity,
        score_links,
        score_shop_hours,
        score_visits,
    )
    from watershop_dagster.sim.world import eval_cast, write_world

    days = [date.fromisoformat(args.first_day) + timedelta(days=i) for i in range(args.days)]
    t0 = time.perf_counter()
    cast = eval_cast(FaceEngine.from_models(), shared / "faces", customers=args.customers, seed=args.seed)
    write_world(
        data, days, cast, visits_per_day=args.visits_per_day, seed=args.seed, newcomers_per_day=args.newcomers_per_day
    )
    t1 = time.perf_counter()
    ok = materialize(days, log=lambda m: None)
    t2 = time.perf_counter()
    wh = Warehouse(data / "warehouse.duckdb")
    scores = score_visits(load_truth(data / "truth"), wh.query("SELECT * FROM visit_log"))
    staff_ids = wh.query("SELECT DISTINCT customer_id FROM visit_log WHERE is_staff")["customer_id"].tolist()
    links = score_links(
        load_truth(data / "truth"), wh.query("SELECT * FROM visit_log"), wh.query("SELECT * FROM transaction_links")
    )
    hours = score_shop_hours(data / "truth", wh.query("SELECT * FROM shop_hours"))
    report = {
        "days": args.days,
        "customers_in_cast": len(cast.customers),
        "run_ok": ok,
        **scores.as_dict(),
        **links,
        **hours,
        "staff_ids_seen": staff_ids,
        "generate_s": round(t1 - t0, 1),
        "materialize_s": round(t2 - t1, 1),
    }
    print(json.dumps(report, indent=1))
    mixed = {
        cid: people
        for cid, people in persons_per_identity(load_truth(data / "truth"), wh.query("SELECT * FROM visit_log")).items()
        if len(people) > 1
    }
    if mixed:
        print("IDs holding more than one true person:", json.dumps(mixed, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
