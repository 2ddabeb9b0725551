"""Dagster's SQLite instance storage (the default of a local DAGSTER_HOME), each database's SQLAlchemy engine
made once per process instead of once per connection.

Dagster's stock SQLite run and event-log storages build a new engine for every connection: for each of the
some 230 events of a shop day's run (each stored in its own transaction, asset events twice), for each
dynamic-partition lookup, for each run record read. Building the engine, not opening the file, is most of
that cost (README, "Performance": about 2-3 CPU s of a demo day's run).

Nothing else changes: connections are still opened and closed every time (`NullPool`, as Dagster's own),
so several processes share the files as before and a forked worker inherits no open connection; the files
and their layout are the stock ones, so a home written before works with either class. Selected in the
`dagster.yaml` that `watershop` writes by `WatershopInstance` (`instance_class:`, `cli.INSTANCE_YAML`), whose
default storage is this one under the instance's own folder: a home copied or moved elsewhere, or opened by
path without DAGSTER_HOME, uses its own files. A `storage:` set in that `dagster.yaml` still wins (as in
deploy/dagster.yaml, Postgres).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool


@functools.lru_cache(maxsize=256)  # a webserver reads many runs' databases: the least recent are let go
def engine_for(conn_string: str, busy_timeout_s: float | None = None) -> Engine:
    """The process's engine for one SQLite database (no pooled connections: each connect opens the file)."""
    connect_args = {} if busy_timeout_s is None else {"timeout": busy_timeout_s}
    return create_engine(conn_string, poolclass=NullPool, connect_args=connect_args)


class EventLogStorageKeepingEngines(SqliteEventLogStorage):
    """`SqliteEventLogStorage` (one database per run plus an index) with `engine_for`'s engines."""

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> EventLogStorageKeepingEngines:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        return engine_for(self.conn_string_for_shard(shard), SQLITE_BUSY_TIMEOUT_SECONDS)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:  # as the stock method: a run's database is made on its first connection
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))


class RunStorageKeepingEngines(SqliteRunStorage):
    """`SqliteRunStorage` with `engine_for`'s engine."""

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> RunStorageKeepingEngines:
        return cls.from_local(inst_data=inst_data, **config_value)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with engine_for(self._conn_string).connect() as conn, conn.begin():
            yield conn


class SqliteStorageKeepingEngines(DagsterSqliteStorage):
    """`DagsterSqliteStorage` (runs, event logs and schedules under `base_dir`, laid out as Dagster's default
    local instance) with the run and event-log storages above."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self.base_dir = base_dir
        self._run_storage = RunStorageKeepingEngines.from_local(os.path.join(base_dir, "history", ""))
        self._event_log_storage = EventLogStorageKeepingEngines(os.path.join(base_dir, "history", "runs", ""))
        self._schedule_storage = SqliteScheduleStorage.from_local(os.path.join(base_dir, "schedules"))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()  # the storages above, not the stock ones

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> SqliteStorageKeepingEngines:
        return cls.from_local(inst_data=inst_data, **config_value)


class WatershopInstance(DagsterInstance):
    """Dagster's instance, whose default storage (no `storage:` in its dagster.yaml) is
    `SqliteStorageKeepingEngines` under the instance's folder, where Dagster's default is `DagsterSqliteStorage`."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @classmethod
    def config_defaults(cls, base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        storage = ConfigurableClassData(
            __name__, SqliteStorageKeepingEngines.__name__, yaml.dump({"base_dir": base_dir}, default_flow_style=False)
        )
        return {**InstanceRef.config_defaults(base_dir), "storage": storage}
