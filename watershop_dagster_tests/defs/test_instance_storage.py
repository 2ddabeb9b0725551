"""The Dagster instance `watershop` writes: Dagster's SQLite storage with each database's engine kept."""

import os
import shutil

import dagster as dg
import pytest

from watershop_dagster.cli import ensure_dagster_home
from watershop_dagster.instance_storage import (
    EventLogStorageKeepingEngines,
    RunStorageKeepingEngines,
    engine_for,
)


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return ensure_dagster_home()


def materializations(instance: dg.DagsterInstance) -> list:
    return instance.fetch_materializations(counted.key, limit=10).records


def test_the_written_home_keeps_engines_and_its_files_are_dagsters_own(home, monkeypatch):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, RunStorageKeepingEngines)
        assert isinstance(instance.event_log_storage, EventLogStorageKeepingEngines)
        engine_for.cache_clear()
        for _ in range(3):
            assert dg.materialize([counted], instance=instance).success
        assert len(instance.get_run_records()) == 3 and len(materializations(instance)) == 3
        # the runs' databases, the index and the runs database: one engine each, however many connections
        engines = engine_for.cache_info()
        assert engines.currsize == 3 + 2 and engines.hits > 20 * engines.currsize
    # a copy of the home, opened by its path alone (no DAGSTER_HOME), uses its own files
    copy = home.parent / "copied_home"
    shutil.copytree(home, copy)
    monkeypatch.delenv("DAGSTER_HOME")
    with dg.DagsterInstance.from_config(str(copy)) as copied:
        assert isinstance(copied.run_storage, RunStorageKeepingEngines)
        assert dg.materialize([counted], instance=copied).success
        assert len(materializations(copied)) == 4
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(materializations(instance)) == 3
    # Dagster's stock storage reads the same files (a home written before this storage, or without it)
    os.remove(home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert type(stock.run_storage).__name__ == "SqliteRunStorage"
        assert len(stock.get_run_records()) == 3 and len(materializations(stock)) == 3
        assert dg.materialize([counted], instance=stock).success
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(materializations(instance)) == 4
