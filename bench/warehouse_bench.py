"""Warehouse side: a year of shop data (300 sales and 200 visits a day), then
- the time to refresh every SQL asset for one day (partitioned ones for that day, the others over all days),
- the cost of backfilling 7, 14 and 30 days of the day-partitioned SQL assets (should grow linearly).
Each refresh takes the SQL assets' own path, without Dagster around it: a `TableReader` over the model's
declared reads (views cut to the day or window and the shop), the model's SQL, and one `replace_rows`
transaction for the day and shop.

    .venv/bin/python bench/warehouse_bench.py [--days 365] [--encrypted]
"""

import argparse
import json
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from watershop_dagster.core.storage.layout import MAIN_SHOP
from watershop_dagster.core.storage.sql_models import default_sql_folder, load_models
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.defs.sql_models import model_reads, model_rows
from watershop_dagster.defs.warehouse_asset import TableReader


def fill(wh: Warehouse, days: list[date], sales: int, visits: int) -> None:
    rng = np.random.default_rng(0)
    for day in days:
        base = datetime.combine(day, datetime.min.time()) + timedelta(hours=7)
        v_entry = [base + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 14 * 3600, visits))]
        cust = [f"CUST_{int(c):04d}" for c in rng.integers(1, 600, visits)]
        vlog = pd.DataFrame(
            {
                "visit_id": [f"{day}/V{i:04d}" for i in range(visits)],
                "customer_id": cust,
                "entry_time": v_entry,
                "exit_time": [e + timedelta(seconds=40) for e in v_entry],
                "duration_seconds": 40.0,
                "faces_seen": 30,
                "tracks": 1,
                "is_staff": False,
            }
        )
        t_time = [base + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 14 * 3600, sales))]
        sizes = rng.choice(["10L", "20L"], sales)
        n = rng.integers(1, 4, sales)
        tx = pd.DataFrame(
            {
                "transaction_id": [f"T{day:%Y%m%d}-{i:04d}" for i in range(sales)],
                "timestamp": t_time,
                "customer_id": None,
                "payment_mode": rng.choice(["Cash", "UPI", "Coins"], sales),
                "can_size": sizes,
                "number_of_cans": n,
                "litres": n * np.where(sizes == "10L", 10, 20),
                "amount": n * np.where(sizes == "10L", 10.0, 20.0),
                "payment_status": np.where(rng.random(sales) < 0.05, "Unpaid", "Paid"),
                "source_file": "x",
                "line_number": 2,
            }
        )
        links = pd.DataFrame(
            {
                "transaction_id": tx["transaction_id"],
                "timestamp": t_time,
                "visit_id": vlog["visit_id"].sample(sales, replace=True, random_state=1).values,
                "customer_id": rng.choice(cust, sales),
                "camera_customer_id": rng.choice(cust, sales),
                "confidence": 1.0,
                "ambiguous": False,
                "candidates": 1,
            }
        )
        reg = pd.DataFrame(
            {"customer_id": sorted(set(cust)), "is_staff": False, "is_new": rng.random(len(set(cust))) < 0.05}
        )
        hours = pd.DataFrame([{"open_time": base, "close_time": base + timedelta(hours=14)}])
        wh.replace_partitions(
            day,
            shop=MAIN_SHOP,
            tables={
                "transactions": tx,
                "visit_log": vlog,
                "transaction_links": links,
                "customer_registry": reg,
                "shop_hours": hours,
            },
        )


def run_model(wh: Warehouse, model, day: date) -> None:
    """What the model's asset does for one partition (defs/sql_models.py), minus Dagster."""
    tables = TableReader(wh, model_reads(model), day if model.partitioned else None, model.name, MAIN_SHOP)
    _sql, rows, schema = model_rows(model, tables)
    keys = {"day": day, "shop": MAIN_SHOP} if model.partitioned else {"shop": MAIN_SHOP}
    wh.replace_rows(keys, {model.name: rows}, {model.name: schema})


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--encrypted", action="store_true")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wh-bench-"))
    wh = Warehouse(folder / "w.duckdb", encryption_key="bench-key" if args.encrypted else None)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(args.days)]
    t0 = time.perf_counter()
    fill(wh, days, 300, 200)
    fill_s = time.perf_counter() - t0
    models = load_models(default_sql_folder())
    order, done = [], set()
    while len(order) < len(models):  # dependency order among the models themselves
        for m in models:
            if m.name not in done and all(r.table not in {x.name for x in models} or r.table in done for r in m.refs):
                order.append(m)
                done.add(m.name)
    for m in order:  # build every table once over all days
        for d in days if m.partitioned else [days[-1]]:
            run_model(wh, m, d)
    day = days[-1]
    per_model = {}
    for m in order:
        t = time.perf_counter()
        run_model(wh, m, day)
        per_model[m.name] = round(time.perf_counter() - t, 4)
    backfill = {}
    daily = [m for m in order if m.partitioned]
    for n in (7, 14, 30):
        t = time.perf_counter()
        for d in days[-n:]:
            for m in daily:
                run_model(wh, m, d)
        backfill[f"{n}_days_s"] = round(time.perf_counter() - t, 3)
        backfill[f"{n}_days_per_day_s"] = round((time.perf_counter() - t) / n, 4)
    print(
        json.dumps(
            {
                "days_of_data": args.days,
                "encrypted": args.encrypted,
                "fill_s": round(fill_s, 1),
                "file_mb": round((folder / "w.duckdb").stat().st_size / 1e6, 1),
                "slowest_model_one_day_s": max(per_model.values()),
                "all_models_one_day_s": round(sum(per_model.values()), 3),
                "per_model_s": per_model,
                "backfill_daily_sql_models": backfill,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
