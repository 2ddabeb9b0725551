"""The Dagster instance `watershop` writes: Dagster's SQLite storage with each database's engine kept."""

import os
import shutil

import dagster as dg
import pytest

from watershop_dagster.cli import ensure_dagster_home
from watershop_dagster.instance_storage import (
    EventLogStorageKeepingEngines,
    RunStorageKeepingEngines,
    forget_engines,
    kept_engines,
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
        forget_engines()
        for _ in range(3):
            assert dg.materialize([counted], instance=instance).success
        assert len(instance.get_run_records()) == 3 and len(materializations(instance)) == 3
        # the runs' databases, the index and the runs database: one engine each, each with one kept connection
        # (however many transactions: a run stores some 15 events)
        engines = kept_engines()
        assert len(engines) == 3 + 2
        assert all(e.pool.checkedin() == 1 for e in engines)
        assert sum(e.pool.checkedin() + e.pool.checkedout() for e in engines) == 5
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


def test_a_home_deleted_and_made_again_at_the_same_path_gets_its_rows(home):
    """A kept connection to a deleted database file would write where nobody reads; it is opened anew."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize([counted], instance=instance).success
    shutil.rmtree(home)
    ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(materializations(instance)) == 0
        assert dg.materialize([counted], instance=instance).success
    forget_engines()  # what another process would see: the files alone
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_run_records()) == 1 and len(materializations(instance)) == 1


def test_a_forked_worker_opens_its_own_connections_and_its_runs_are_seen(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize([counted], instance=instance).success  # the parent holds kept connections
        pid = os.fork()
        if pid == 0:  # the child: the inherited engines are gone, it writes through its own
            ok = not kept_engines() and dg.materialize([counted], instance=instance).success
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's kept connections still work and see the child's run
        assert len(materializations(instance)) == 2
        assert dg.materialize([counted], instance=instance).success
        assert len(instance.get_run_records()) == 3


def test_engines_past_the_limit_are_let_go_and_their_databases_still_read(home, monkeypatch):
    monkeypatch.setattr("watershop_dagster.instance_storage.MAX_ENGINES", 2)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for _ in range(3):
            assert dg.materialize([counted], instance=instance).success
        assert len(kept_engines()) == 2
        assert len(instance.get_run_records()) == 3 and len(materializations(instance)) == 3


def test_the_live_run_log_sees_events_another_process_writes(home):
    """The webserver watches a run's database for new events; with connections kept, a commit changes only the
    write-ahead log beside it until a checkpoint."""
    import threading
    import time

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(dg.materialize([counted], instance=instance).run_id)
        assert run is not None
        seen, done = [], threading.Event()

        def on_event(entry, cursor):
            seen.append(entry)
            done.set()

        instance.event_log_storage.watch(run.run_id, None, on_event)
        instance.event_log_storage.get_records_for_run(run.run_id)  # the watcher's process holds a connection too
        pid = os.fork()
        if pid == 0:  # another process reports the run's events
            forget_engines()
            with dg.DagsterInstance.from_config(str(home)) as writer:
                writer.report_engine_event("an event from the run's process", run)
            os._exit(0)
        os.waitpid(pid, 0)
        deadline = time.monotonic() + 10
        while not any("an event from the run" in (e.message or "") for e in seen) and time.monotonic() < deadline:
            done.wait(0.2)
        instance.event_log_storage.end_watch(run.run_id, on_event)
        assert any("an event from the run's process" in (e.message or "") for e in seen)


def test_kept_connections_serve_other_threads_and_commit_without_waiting_for_the_disk(home):
    """A webserver's threads share the kept connections (one thread at a time); WAL with synchronous=NORMAL."""
    from concurrent.futures import ThreadPoolExecutor

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize([counted], instance=instance).success  # this thread opened the connections
        with ThreadPoolExecutor(1) as other:
            assert other.submit(lambda: dg.materialize([counted], instance=instance).success).result()
            assert other.submit(lambda: len(materializations(instance))).result() == 2
        for engine in kept_engines():
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
