"""deploy/dagster.yaml loaded into a real DagsterInstance against the CI Postgres (WATERSHOP_TEST_PG), in a
database of its own: two partitions materialized at once by two processes through it, and a two-shop backfill
whose runs overlap, writing into a DuckLake whose catalog is in the same database."""

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pandas as pd
import pytest

from watershop_dagster.backfill import PHASES
from watershop_dagster_tests.support import REPO, till_only_world

PG = os.environ.get("WATERSHOP_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="WATERSHOP_TEST_PG unset: start one with `eval $(bash .ci/postgres.sh start)`"
)

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(partitions_def=DAYS)
def shop_day(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"day": context.partition_key})


def _dsn_parts() -> dict:
    return dict(part.split("=", 1) for part in PG.split())


def _pg_url(dbname: str) -> str:
    p = _dsn_parts()
    return f"postgresql+psycopg2://{p['user']}:{urllib.parse.quote(p.get('password', ''))}@{p['host']}:{p.get('port', 5432)}/{dbname}"


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    import psycopg2

    dbname = f"dagster_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("WATERSHOP_TEST_DB", dbname)
    conn = psycopg2.connect(PG)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {dbname}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", _pg_url(dbname))  # inherited by the worker processes
    yield home
    conn.cursor().execute(f"DROP DATABASE {dbname} WITH (FORCE)")
    conn.close()


def _materialize(home: str, day: str) -> bool:
    with dg.DagsterInstance.from_config(home) as instance:
        result = dg.materialize([shop_day], partition_key=day, instance=instance, tags={"watershop/shop": "s1"})
        return result.success


def test_production_instance_runs_partitions_concurrently_on_postgres(dagster_home):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.run_monitoring_enabled
        limits = instance.get_concurrency_config().run_queue_config
        assert limits.max_concurrent_runs == 16
        assert {
            "key": "watershop/shop",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 2,
        } in limits.tag_concurrency_limits
        refresh = {"key": "watershop/identity_refresh", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        assert refresh in limits.tag_concurrency_limits

    days = ["2024-01-01", "2024-01-02"]
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        assert list(pool.map(_materialize, [str(dagster_home)] * 2, days, timeout=90)) == [True, True]

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.is_success and r.tags["watershop/shop"] == "s1" for r in runs)
        assert instance.get_materialized_partitions(dg.AssetKey("shop_day")) == set(days)


def _watershop(data, home, *args, **variables) -> subprocess.CompletedProcess:
    env = {**os.environ, "WATERSHOP_DATA_DIR": str(data), "DAGSTER_HOME": str(home), "WATERSHOP_LOG_LEVEL": "ERROR"}
    env.pop("WATERSHOP_WAREHOUSE", None)
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "watershop_dagster.cli", *args], env=env, capture_output=True, text=True, cwd=REPO
    )


def _two_shops(root):
    data = root / "data"
    days = []
    for shop in ("north", "south"):
        days = till_only_world(data / "shops" / shop, 2)
    return data, days


TABLES = ["transactions", "daily_revenue", "transaction_links", "chain_daily", "monthly_revenue"]


def test_a_two_shop_backfill_runs_concurrently_through_postgres_into_a_lake(dagster_home, tmp_path):
    data, days = _two_shops(tmp_path / "lake")
    span = ("materialize", "--from", str(days[0]), "--to", str(days[-1]))
    lake = {
        "WATERSHOP_WAREHOUSE": f"ducklake:postgres:{PG.replace(_dsn_parts()['dbname'], os.environ['WATERSHOP_TEST_DB'])}",
        "WATERSHOP_LAKE_DATA_PATH": str(tmp_path / "lake" / "parquet"),
    }
    out = _watershop(data, dagster_home, *span, "--workers", "2", **lake)
    assert out.returncode == 0, out.stdout + out.stderr

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records()
        assert records and all(r.dagster_run.is_success for r in records)
        # 2 shops x 2 days x 4 phases, 2 all-days and 2 month runs, 2 chain days, 1 chain month
        assert len(records) == 16 + 4 + 3
        spans = sorted((r.start_time, r.end_time) for r in records)
        assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)), "no two runs overlapped"
        assert {r.dagster_run.tags.get("watershop/kind") for r in records} == {*PHASES, None}
    lake_rows = {t: _csv(_watershop(data, dagster_home, "sql", _select(t), **lake)) for t in TABLES}

    serial, _ = _two_shops(tmp_path / "serial")
    out = _watershop(serial, tmp_path / "serial" / "dagster_home", *span)
    assert out.returncode == 0, out.stdout + out.stderr
    for table in TABLES:
        on_file = _csv(_watershop(serial, tmp_path / "serial" / "dagster_home", "sql", _select(table)))
        pd.testing.assert_frame_equal(lake_rows[table], on_file, check_dtype=False, obj=table)


def _select(table: str) -> str:
    return f"SELECT * FROM {table} ORDER BY ALL"


def _csv(out: subprocess.CompletedProcess) -> pd.DataFrame:
    import io

    assert out.returncode == 0, out.stdout + out.stderr
    return pd.read_csv(io.StringIO(out.stdout))
