"""deploy/dagster.yaml loaded into a real DagsterInstance against the CI Postgres (WATERSHOP_TEST_PG), in a
database of its own, and two partitions materialized at once by two processes through it."""

import multiprocessing as mp
import os
import shutil
import urllib.parse
import uuid
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pytest

from watershop_dagster_tests.support import REPO

PG = os.environ.get("WATERSHOP_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="WATERSHOP_TEST_PG unset: start one with `eval $(bash .ci/postgres.sh start)`"
)

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(partitions_def=DAYS, pool="warehouse")
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
        # Set the writer pool's slots once, as a deployment does (`dagster instance concurrency set warehouse 1`):
        # two runs that both find the pool unset race to create its row in Postgres, and one of them fails.
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)

    days = ["2024-01-01", "2024-01-02"]
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        assert list(pool.map(_materialize, [str(dagster_home)] * 2, days, timeout=90)) == [True, True]

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.is_success and r.tags["watershop/shop"] == "s1" for r in runs)
        assert instance.get_materialized_partitions(dg.AssetKey("shop_day")) == set(days)
