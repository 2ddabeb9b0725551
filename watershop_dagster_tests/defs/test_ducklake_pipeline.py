"""The same assets on DuckLake as on the DuckDB file: two shops' till days, their all-days tables and the
chain, materialized into a lake (Postgres catalog, Parquet files) give the rows the file warehouse gives."""

import os
import uuid

import pandas as pd
import pytest

from watershop_dagster.definitions import build_definitions
from watershop_dagster.defs.resources import WarehouseResource
from watershop_dagster_tests.support import (
    ephemeral_instance,
    resources_for,
    run_shop_day,
    run_shop_job,
    till_only_world,
)

PG = os.environ.get("WATERSHOP_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="WATERSHOP_TEST_PG unset: start one with `eval $(bash .ci/postgres.sh start)`"
)
TABLES = ["transactions", "daily_revenue", "payment_summary", "monthly_revenue", "chain_daily", "transaction_links"]


def materialize(data_dir, resources):
    defs = build_definitions(resources)
    days = []
    for shop in ("north", "south"):
        days = till_only_world(data_dir / "shops" / shop, 2)
    with ephemeral_instance() as instance:
        for shop in ("north", "south"):
            for day in days:
                assert run_shop_day(defs, instance, day, shop).success
            assert run_shop_job(defs, instance, "cross_day_job", shop, shop).success
        for day in days:
            job = defs.resolve_job_def("chain_daily_job")
            assert job.execute_in_process(partition_key=day.isoformat(), instance=instance).success
    warehouse = resources["warehouse"].get()
    return {t: warehouse.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


def test_a_lake_holds_the_same_rows_as_the_file(tmp_path):
    on_file = materialize(tmp_path / "file" / "data", resources_for(tmp_path / "file" / "data"))
    lake_dir = tmp_path / "lake" / "data"
    resources = resources_for(lake_dir)
    resources["warehouse"] = WarehouseResource(
        data_dir=str(lake_dir),
        database=f"ducklake:postgres:{PG}",
        lake_data_path=str(tmp_path / "lake" / "parquet"),
        lake_metadata_schema=f"p_{uuid.uuid4().hex[:12]}",
    )
    on_lake = materialize(lake_dir, resources)
    for table in TABLES:
        pd.testing.assert_frame_equal(on_file[table], on_lake[table], check_dtype=False, obj=table)
