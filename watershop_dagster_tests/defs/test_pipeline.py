import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

import dagster as dg
import pandas as pd

from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster_tests.support import (
    FIRST_DAY,
    ephemeral_instance,
    register_shops,
    resources_for,
    run_shop_day,
    run_shop_job,
    till_only_world,
)

TABLES = [
    "transactions",
    "transaction_rejects",
    "daily_revenue",
    "payment_summary",
    "traffic_per_hour",
    "repeat_defaulters",
    "visit_log",
]


def run_day(defs, instance, day):
    return run_shop_day(defs, instance, day)


def snapshot(wh: Warehouse, day) -> dict[str, pd.DataFrame]:
    out = {}
    with wh.connect() as conn:
        for t in TABLES:
            if wh.table_exists(conn, t):
                out[t] = conn.execute(f"SELECT * FROM {t} WHERE day = ? ORDER BY ALL", [day]).df()
    return out


def test_a_day_materializes_with_checks_passing(defs, instance, data_dir):
    days = till_only_world(data_dir, 2)
    result = run_day(defs, instance, days[1])
    assert result.success
    wh = Warehouse(data_dir / "warehouse.duckdb")
    csv_rows = len((data_dir / "transactions" / f"{days[1]}.csv").read_text().splitlines()) - 1
    loaded = wh.query("SELECT count(*) n FROM transactions")["n"][0]
    rejected = wh.query("SELECT count(*) n FROM transaction_rejects")["n"][0]
    assert rejected == 2 and loaded == csv_rows - 2
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["transactions_unique_ids"] and checks["revenue_reconciles"] and checks["transactions_schema"]
    assert checks["rejects_counted"] is False  # 2 bad rows of ~20 is over the 5% warning line: shown, not hidden
    mats = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    assert mats["transactions"].materialization.metadata["dagster/row_count"].value == loaded
    assert wh.query("SELECT count(*) n FROM visit_log")["n"][0] == 0  # no footage: an empty day, not a failure


def test_rematerializing_a_day_gives_the_same_rows(defs, instance, data_dir):
    days = till_only_world(data_dir, 2)
    for d in days:
        assert run_day(defs, instance, d).success
    wh = Warehouse(data_dir / "warehouse.duckdb")
    before = snapshot(wh, days[0])
    assert run_day(defs, instance, days[0]).success
    after = snapshot(wh, days[0])
    for t in before:
        pd.testing.assert_frame_equal(before[t], after[t])
    assert wh.query("SELECT count(DISTINCT day) n FROM transactions")["n"][0] == 2


def test_backfill_range_then_cross_day_tables(defs, instance, data_dir):
    days = till_only_world(data_dir, 3)
    for d in days:
        assert run_day(defs, instance, d).success
    assert run_shop_job(defs, instance, "cross_day_job", "main").success
    wh = Warehouse(data_dir / "warehouse.duckdb")
    total = wh.query("SELECT sum(revenue) r FROM daily_revenue")["r"][0]
    assert wh.query("SELECT sum(revenue) r FROM monthly_revenue")["r"][0] == total
    assert wh.query("SELECT sum(revenue) r FROM quarterly_revenue")["r"][0] == total
    assert not wh.query("SELECT * FROM total_spent").empty


def test_a_file_that_is_not_csv_fails_only_its_day(defs, instance, data_dir):
    days = till_only_world(data_dir, 2)
    assert run_day(defs, instance, days[0]).success
    (data_dir / "transactions" / f"{days[0]}.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    failed = run_day(defs, instance, days[0])
    assert not failed.success
    message = next(e for e in failed.all_events if e.is_step_failure).event_specific_data.error.message
    assert f"transactions/{days[0]}.csv" in message and "not a CSV" in message
    wh = Warehouse(data_dir / "warehouse.duckdb")
    assert (
        wh.query("SELECT count(*) n FROM transactions WHERE day = ?", [days[0]])["n"][0] > 0
    )  # nothing stored was lost
    assert run_day(defs, instance, days[1]).success


def test_missing_till_file_is_an_empty_day(defs, instance, data_dir):
    (data_dir / "transactions").mkdir(parents=True)
    assert run_day(defs, instance, FIRST_DAY).success
    assert Warehouse(data_dir / "warehouse.duckdb").query("SELECT transactions FROM daily_revenue")[
        "transactions"
    ].tolist() == [0]


def test_daily_schedule_requests_each_shops_day_that_just_closed(defs, instance):
    register_shops(instance, "main", "north")
    schedule = defs.resolve_schedule_def("daily_after_closing")
    when = datetime(2024, 3, 6, 22, 0)
    repository = defs.get_repository_def()
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repository) as ctx:
        requests = schedule.evaluate_tick(ctx).run_requests
    # every shop closed at 21:00 that same day
    assert sorted(r.partition_key for r in requests) == ["2024-03-06|main", "2024-03-06|north"]


def _run_partition(data_dir, day):

    from watershop_dagster.definitions import build_definitions

    defs = build_definitions(resources_for(data_dir))
    with ephemeral_instance() as inst:
        return run_shop_day(defs, inst, day).success


def test_concurrent_runs_do_not_fail_on_the_warehouse_lock(data_dir):
    days = till_only_world(data_dir, 6)
    # An executor, not mp.Pool: if a worker process dies, Pool waits forever; this fails the test instead.
    with ProcessPoolExecutor(3, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_run_partition, [data_dir] * len(days), [d.isoformat() for d in days], timeout=600))
    assert all(results)
    wh = Warehouse(data_dir / "warehouse.duckdb")
    assert wh.query("SELECT count(DISTINCT day) n FROM daily_revenue")["n"][0] == 6


def test_the_nightly_job_runs_retention_then_the_warehouse_upkeep(defs, instance, data_dir):
    days = till_only_world(data_dir, 1)
    assert run_day(defs, instance, days[0]).success
    before = Warehouse(data_dir / "warehouse.duckdb").query("SELECT count(*) n FROM transactions")["n"][0]
    result = defs.resolve_job_def("retention_job").execute_in_process(instance=instance)
    assert result.success
    order = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert order == ["biometric_retention", "warehouse_maintenance"]
    upkeep = result.get_asset_materialization_events()[1].materialization.metadata
    assert upkeep["warehouse"].value == "duckdb file"
    assert Warehouse(data_dir / "warehouse.duckdb").query("SELECT count(*) n FROM transactions")["n"][0] == before
