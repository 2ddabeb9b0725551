"""Every asset declares what it reads once: Dagster's lineage is built from that declaration, the body can
query nothing else, and what it queries is exactly what it declares."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.defs.partitions import shop_month_key
from watershop_dagster.defs.warehouse_asset import DECLARATIONS, MissingTable, Read, TableReader, UndeclaredTable
from watershop_dagster_tests.support import run_shop_day, run_shop_job, till_only_world

DAY = date(2024, 3, 6)


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(tmp_path / "w.duckdb")
    for i in range(5):
        d = date(2024, 3, 4 + i)
        w.replace_partition("sales_x", d, pd.DataFrame({"n": [i]}))
    w.replace_partition("other_x", DAY, pd.DataFrame({"n": [9]}))
    return w


def days(frame: pd.DataFrame) -> list[int]:
    return sorted(frame["n"])


def test_each_scope_sees_exactly_its_days(wh):
    assert days(TableReader(wh, [Read.day("sales_x")], DAY, "a").read("sales_x")) == [2]
    assert days(TableReader(wh, [Read.window("sales_x", 2)], DAY, "a").read("sales_x")) == [1, 2]
    assert days(TableReader(wh, [Read.before("sales_x")], DAY, "a").read("sales_x")) == [0, 1]
    assert days(TableReader(wh, [Read.all("sales_x")], DAY, "a").read("sales_x")) == [0, 1, 2, 3, 4]


def test_an_undeclared_table_cannot_be_read(wh):
    reader = TableReader(wh, [Read.day("sales_x")], DAY, "a")
    with pytest.raises(UndeclaredTable, match="other_x"):
        reader.read("other_x")
    with pytest.raises(duckdb.CatalogException, match="other_x"):
        reader.sql("SELECT * FROM sales_x JOIN other_x USING (day)")


def test_a_missing_input_is_an_error_unless_it_has_a_documented_schema(wh):
    with pytest.raises(MissingTable, match="materialize daily_revenue first"):
        TableReader(wh, [Read.day("daily_revenue")], DAY, "daily_report").read("daily_revenue")
    empty = TableReader(wh, [Read.day("visit_log")], DAY, "a").read("visit_log")
    assert empty.empty and "visit_id" in empty.columns  # nobody came yet: an empty, typed table


def test_lineage_is_the_declared_reads(defs):
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        name = key.to_user_string()
        if name not in DECLARATIONS:
            continue
        declared = {r.table for r in DECLARATIONS[name].reads}
        upstream = {k.to_user_string() for k in graph.get(key).parent_keys}
        assert upstream == declared, name


def test_every_asset_queries_what_it_declares_and_nothing_more(defs, instance, data_dir):
    """A full till-only run: each asset's `tables_read` metadata (the declared tables its queries named) must
    be its whole declaration (file reads aside), so no declaration is left over."""
    first, second = till_only_world(data_dir, 2)
    materializations = []
    for day in (first, second):
        result = run_shop_day(defs, instance, day)
        materializations += result.get_asset_materialization_events()
    for job, key in (("cross_day_job", "main"), ("monthly_job", shop_month_key("2024-03-01"))):
        materializations += run_shop_job(defs, instance, job, key).get_asset_materialization_events()
    for job, key in (("chain_daily_job", first.isoformat()), ("chain_monthly_job", "2024-03-01")):
        result = defs.resolve_job_def(job).execute_in_process(partition_key=key, instance=instance)
        materializations += result.get_asset_materialization_events()
    seen = set()
    for event in materializations:
        name = event.asset_key.to_user_string()
        if name not in DECLARATIONS:
            continue
        read = event.materialization.metadata["tables_read"].value
        queried = set() if read == "none" else set(read.split(", "))
        declared = {r.table for r in DECLARATIONS[name].reads if r.scope != "file"}
        assert queried == declared, name
        seen.add(name)
    assert seen == set(DECLARATIONS) - {"biometric_retention"}


def test_a_table_from_an_older_version_reads_its_new_columns_as_null(tmp_path):
    old = Warehouse(tmp_path / "old.duckdb")
    with old.connect() as conn:  # written before `shop` and `label` existed
        conn.execute("CREATE TABLE customer_registry (day DATE, customer_id VARCHAR, is_staff BOOLEAN)")
        conn.execute("INSERT INTO customer_registry VALUES (DATE '2024-03-06', 'CUST_0001', false)")
    reader = TableReader(old, [Read.day("customer_registry")], DAY, "a", shop="main")
    rows = reader.read("customer_registry", "customer_id, label")
    assert rows["customer_id"].tolist() == ["CUST_0001"] and rows["label"].isna().all()
    assert TableReader(old, [Read.day("customer_registry")], DAY, "a", shop="north").read("customer_registry").empty


def _daily_assets() -> frozenset[str]:
    from watershop_dagster.definitions import defs

    return frozenset(k.to_user_string() for k in defs.resolve_job_def("daily_job").asset_layer.selected_asset_keys)


def test_a_split_day_runs_in_phases_that_follow_from_the_declarations():
    from watershop_dagster.backfill import day_phases

    phases = day_phases(_daily_assets())
    assert {t for t, p in phases.items() if p == "footage"} == {
        "footage_manifest", "frames", "face_detections", "face_embeddings", "person_detections", "face_tracks",
        "person_tracks",
    }  # fmt: skip
    # later days read the registry, identity evidence, staff posts, the till and its links as history; the visit
    # log is written by the same asset as the registry, so it comes with it
    assert {t for t, p in phases.items() if p == "history"} == {
        "identity_evidence", "staff_posts", "customer_registry", "track_identities", "visit_log", "transactions",
        "transaction_rejects", "transaction_links", "clock_offsets", "counter_pace",
    }  # fmt: skip
    assert {t for t, p in phases.items() if p == "charts"} == {"daily_charts", "daily_report"}  # 30-day windows
    assert phases["daily_revenue"] == phases["repeat_defaulters"] == "tables"


def test_each_run_of_a_split_backfill_waits_for_the_runs_that_write_what_it_reads():
    from datetime import date

    from watershop_dagster.backfill import PHASES, plan_runs

    days = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
    graph = plan_runs(days, ["north", "south"], split=True)
    needs = {r.label: {n.label for n in after} for r, after in graph.items()}
    assert needs["2024-03-04 north footage"] == set()  # any day's analysis at once
    assert needs["2024-03-05 north history"] == {"2024-03-05 north footage", "2024-03-04 north history"}
    assert needs["2024-03-06 north tables"] >= {"2024-03-06 north history", "2024-03-06 north footage"}
    assert not any("tables" in n or "south" in n for n in needs["2024-03-06 north tables"])  # days at once
    # the 30-day charts read the day's tables of every earlier day in the backfill
    assert {"2024-03-04 north tables", "2024-03-05 north tables"} <= needs["2024-03-06 north charts"]
    # the runs after the days wait for the phases that write what they read: the chain's day for each shop's
    # day tables, a shop's all-days tables and month report for its days' tables, never the 30-day charts
    assert needs["2024-03-05 chain"] == {"2024-03-05 north tables", "2024-03-05 south tables"}
    assert needs["north all-days tables"] == {f"{d} north {p}" for d in days for p in PHASES if p != "charts"}
    assert needs["2024-03 north report"] == {f"{d} north {p}" for d in days for p in ("history", "tables")}
    assert needs["2024-03 chain report"] == {f"{d} chain" for d in days}
    order = list(graph)
    assert all(order.index(n) < order.index(r) for r, after in graph.items() for n in after)  # a valid order
    whole = {r.label: {n.label for n in a} for r, a in plan_runs(days, ["north"], split=False).items()}
    assert whole["2024-03-06 north"] == {"2024-03-04 north", "2024-03-05 north"}  # one run per day, in order


def test_a_ready_history_run_starts_before_more_footage():
    from datetime import date

    from watershop_dagster.backfill import next_to_start, plan_runs, start_order

    days = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
    graph = plan_runs(days, ["north"], split=True)
    by_label = {r.label: r for r in graph}
    # the first two days analysed: a worker is free, the third day's footage and the first day's history wait
    done = {by_label["2024-03-04 north footage"], by_label["2024-03-05 north footage"]}
    waiting = [r for r in start_order(graph) if r not in done]
    # the history runs chain the days together: one left behind a long footage run holds up every later day
    assert [r.label for r in next_to_start(waiting, graph, done, 1)] == ["2024-03-04 north history"]
    assert [r.label for r in next_to_start(waiting, graph, done, 2)] == [
        "2024-03-04 north history", "2024-03-06 north footage",
    ]  # fmt: skip
    # with nothing done: the longest chains first, an earlier day's analysis before a later one's
    assert [r.label for r in next_to_start(start_order(graph), graph, set(), 3)] == [f"{d} north footage" for d in days]
