"""Dagster's SQLite instance storage (the default of a local DAGSTER_HOME), each database's SQLAlchemy engine
made once per process and its connection kept open between transactions.

Dagster's stock SQLite run and event-log storages build a new engine for every connection, and open and close
the file every time (`NullPool`): for each of the some 300 events of a day's runs (each stored in its own
transaction, asset events twice), for each dynamic-partition lookup, for each run record read. Building the
engine was most of that cost (docs/performance.md: about 2-3 CPU s of a demo day's run); after it, opening,
committing and closing: in Dagster's WAL mode the last connection to close checkpoints the log into the
database and deletes it, and every commit waits for the disk (about 3-4 s of a 15-s day's run on this
machine, profiled).

So each database keeps one connection between transactions (`QueuePool` of one; a second thread at once gets
a connection of its own, closed after use) and commits without waiting for the disk (`synchronous=NORMAL`,
SQLite's recommended setting in WAL mode: a power cut may lose the last events, never the database). What
stays as Dagster's own: several processes share the files (SQLite's locks, as before; an idle connection
holds none), and the files and their layout are the stock ones, so a home written before works with either
class. A forked worker drops the engines it inherited without touching their connections, and a database file
replaced under a kept connection (a home deleted and made again at the same path) is opened anew. Selected
in the `dagster.yaml` that `watershop` writes by `WatershopInstance` (`instance_class:`, `cli.INSTANCE_YAML`),
whose default storage is this one under the instance's own folder: a home copied or moved elsewhere, or
opened by path without DAGSTER_HOME, uses its own files. A `storage:` set in that `dagster.yaml` still wins
(as in deploy/dagster.yaml, Postgres).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from watchdog.events import FileSystemEvent
from watchdog.observers import Observer

_ENGINES: OrderedDict[tuple[str, float | None], Engine] = OrderedDict()
_ENGINES_LOCK = threading.Lock()
MAX_ENGINES = 64  # a webserver reads many runs' databases: the least recent go (each open database holds ~3 files)


def engine_for(conn_string: str, busy_timeout_s: float | None = None) -> Engine:
    """The process's engine for one SQLite database, keeping one connection open between transactions."""
    key = (conn_string, busy_timeout_s)
    with _ENGINES_LOCK:  # a webserver's threads ask at once
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = _sqlite_engine(conn_string, busy_timeout_s)
            while len(_ENGINES) > MAX_ENGINES:
                _, oldest = _ENGINES.popitem(last=False)
                oldest.dispose()
        _ENGINES.move_to_end(key)
        return engine


def _sqlite_engine(conn_string: str, busy_timeout_s: float | None) -> Engine:
    connect_args: dict[str, Any] = {"check_same_thread": False}  # the pool hands a connection to one thread at a time
    if busy_timeout_s is not None:
        connect_args["timeout"] = busy_timeout_s
    engine = create_engine(conn_string, poolclass=QueuePool, pool_size=1, max_overflow=-1, connect_args=connect_args)
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "checkout", _on_checkout)
    return engine


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _on_connect(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    path = cursor.execute("PRAGMA database_list").fetchone()[2]
    cursor.close()
    record.info["file"] = (path, _file_id(path))


def _on_checkout(dbapi_conn: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    """A kept connection whose file was deleted or replaced since it opened would write where nobody reads:
    the pool drops it and opens the file again."""
    path, opened = record.info.get("file", (None, None))
    if path and _file_id(path) != opened:
        raise exc.DisconnectionError(f"{path} was replaced since its connection opened")


def kept_engines() -> list[Engine]:
    """The engines this process keeps, least recently used first."""
    return list(_ENGINES.values())


def forget_engines() -> None:
    """Drop every engine without closing its connections (a forked child: they belong to the parent)."""
    global _ENGINES_LOCK
    _ENGINES_LOCK = threading.Lock()  # another thread of the parent may have held it at the fork
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


os.register_at_fork(after_in_child=forget_engines)


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

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        """As the stock method (the webserver's live run log), with a watcher that also sees the run's write-ahead
        log change: with connections kept, a commit changes `<run>.db-wal` and `<run>.db` only at a checkpoint."""
        observer: Any = self._obs  # Dagster declares it None until the first watch
        if observer is None:
            observer = Observer()
            observer.start()
            self._obs = observer
        watcher = _RunLogWatcher(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watcher, observer.schedule(watcher, self._base_dir, recursive=True))

    def has_table(self, table_name: str) -> bool:
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))


class _RunLogWatcher(SqliteEventLogStorageWatchdog):
    """Dagster's watcher of one run's event database, told of changes to its write-ahead log too."""

    @property
    def patterns(self) -> list[str]:
        return [self._log_path, f"{self._log_path}-wal"]

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()


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
