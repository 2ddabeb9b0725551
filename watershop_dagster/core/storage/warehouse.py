"""The warehouse: an embedded DuckDB file by default, or a DuckLake (catalog in Postgres, data as Parquet) that
several machines write at once. The same code runs on both; only how the catalog is attached differs.

DuckDB lets one process hold a database file for writing, so every connection here is opened for one unit of
work and closed straight after; a second process waits for it on a lock beside the file (sleeping, not
retrying DuckDB's lock) instead of failing. That is what lets backfills run several runs at once.

DuckLake takes many writers: each transaction commits a new snapshot in the catalog, and two commits that touch
the same data (a table created twice, the same file deleted from twice) conflict. Such a unit of work is simply
run again after a pause, as the file backend does for its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.resources
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from watershop_dagster.core.storage.layout import MAIN_SHOP
from watershop_dagster.core.storage.schemas import SCHEMAS, TableSchema

log = logging.getLogger(__name__)

CATALOG = "wh"
LAKE_PREFIX = "ducklake:"
T = TypeVar("T")


class WarehouseLockTimeout(RuntimeError):
    """Another writer held the file, or kept winning DuckLake commits, for longer than lock_timeout_s."""


class _GateBusy(Exception):
    """Another process holds the warehouse file's gate."""


# Paths whose gate this process holds, with how many connections hold it: a nested connection of the same
# process gets DuckDB's own error at once (a file is attached once per process) instead of waiting for itself.
_HELD_GATES: dict[str, int] = {}


@contextlib.contextmanager
def _file_gate(database: Path, shared: bool) -> Iterator[None]:
    """An advisory lock (flock) on a file beside the DuckDB file, taken before DuckDB opens it and released
    after the connection closes: shared for readers, exclusive for a writer, as DuckDB's own lock is. Waiting
    for it costs a system call per try, where trying DuckDB's own lock costs opening a database (~10 ms of
    CPU): with several runs on one file, the waiters were burning a core. Raises _GateBusy at once."""
    key = str(database.resolve())
    if _HELD_GATES.get(key):
        _HELD_GATES[key] += 1
        try:
            yield
        finally:
            _HELD_GATES[key] -= 1
        return
    gate = database.with_name(database.name + ".gate")
    try:
        fd = os.open(gate, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a reader that may not create files beside the warehouse: DuckDB's lock alone
        yield
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise _GateBusy(f"{gate} is held by another process") from exc
        _HELD_GATES[key] = 1
        try:
            yield
        finally:
            del _HELD_GATES[key]
    finally:
        os.close(fd)  # releases the flock


def extension_path(package: str, name: str) -> str:
    """A DuckDB extension shipped on PyPI (duckdb-extension-NAME, same version as duckdb): nothing may be
    downloaded at run time, so extensions are LOADed from the wheel's file, never INSTALLed."""
    version = "v" + duckdb.__version__
    path = importlib.resources.files(package) / "extensions" / version / f"{name}.duckdb_extension"
    if not Path(str(path)).exists():
        wheel = package.replace("_", "-")
        raise FileNotFoundError(
            f"{name} extension for DuckDB {duckdb.__version__} not found at {path}; "
            f"install {wheel}=={duckdb.__version__}"
        )
    return str(path)


def httpfs_extension_path() -> str:
    """httpfs (duckdb-extension-httpfs) carries the crypto that writing an encrypted database needs."""
    return extension_path("duckdb_extension_httpfs", "httpfs")


def ducklake_extension_path() -> str:
    return extension_path("duckdb_extension_ducklake", "ducklake")


def postgres_extension_path() -> str:
    """postgres_scanner (duckdb-extension-postgres-scanner): DuckLake reaches a Postgres catalog through it."""
    return extension_path("duckdb_extension_postgres_scanner", "postgres_scanner")


def is_ducklake(location: str | Path) -> bool:
    return str(location).startswith(LAKE_PREFIX)


def scalar(row: tuple[Any, ...] | None) -> Any:
    """The first value of a fetchone() row from a query that always returns one (an aggregate such as count(*))."""
    assert row is not None, "an aggregate query returned no row"
    return row[0]


def sql_literal(text: str) -> str:
    """A string as a quoted SQL literal (for values DuckDB takes no parameters for: views, ATTACH, LOAD)."""
    return "'" + text.replace("'", "''") + "'"


def _is_lock_error(exc: Exception) -> bool:
    msg = str(exc).lower()
    return "lock" in msg and ("conflict" in msg or "could not set" in msg or "resource temporarily" in msg)


def _is_commit_conflict(exc: Exception) -> bool:
    """DuckLake lost a race for the next snapshot: a logical conflict it would not resolve itself, its own
    retries used up, or Postgres refusing the duplicate snapshot id / a catalog created twice at once (several
    processes attaching a new lake: the first creates its tables, the others' CREATE fails; attached again,
    they find the catalog)."""
    msg = str(exc).lower()
    if "failed to initialize ducklake" in msg and "already exists" in msg:
        return True
    return any(
        sign in msg
        for sign in (
            "conflict",
            "failed to commit",
            "duplicate key",
            "could not serialize",
            "deadlock detected",
            "retry count",
        )
    )


# Each thread's idle DuckDB instance for the file warehouse, by process and settings (Warehouse._file_instance).
_IDLE_INSTANCES = threading.local()

# This process's attached lakes, by process and settings (a forked worker attaches its own).
_ATTACHED_LAKES: dict[tuple, duckdb.DuckDBPyConnection] = {}


class Warehouse:
    """Where every asset's tables live.

    location: a DuckDB file path (the default, one machine), or ``ducklake:<catalog>`` such as
    ``ducklake:postgres:dbname=watershop host=127.0.0.1`` with lake_data_path the folder (or object-store
    URL) every machine reaches for the Parquet files (WATERSHOP_LAKE_DATA_PATH when not given).
    config: DuckDB settings for each connection (threads, memory_limit, ...).
    lake_metadata_schema: the Postgres schema holding the DuckLake catalog (several lakes in one database).
    """

    def __init__(
        self,
        location: str | Path,
        encryption_key: str | None = None,
        lock_timeout_s: float = 600.0,
        lake_data_path: str | Path | None = None,
        config: dict | None = None,
        lake_metadata_schema: str | None = None,
    ):
        self.location = str(location)
        self.is_lake = is_ducklake(self.location)
        self.path = None if self.is_lake else Path(location)
        self.encryption_key = encryption_key or None
        self.lock_timeout_s = lock_timeout_s
        self.config = dict(config or {})
        self.lake_metadata_schema = lake_metadata_schema or None
        self.lake_data_path = None
        if self.is_lake:
            data_path = str(lake_data_path or os.environ.get("WATERSHOP_LAKE_DATA_PATH", ""))
            if not data_path:
                raise ValueError(
                    f"{self.location!r} is a DuckLake: set WATERSHOP_LAKE_DATA_PATH (or lake_data_path) to the "
                    "folder every machine shares for its Parquet files"
                )
            self.lake_data_path = data_path

    def __repr__(self) -> str:
        # The DSN may carry a password: show the backend, never the connection string.
        where = f"ducklake data={self.lake_data_path}" if self.is_lake else str(self.path)
        return f"Warehouse({where})"

    # -- connections ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the warehouse attached as the default catalog, closed when the block ends."""
        if self.is_lake:
            assert self.lake_data_path is not None  # set in __init__ for every DuckLake
            if not _is_remote(self.lake_data_path):
                Path(self.lake_data_path).mkdir(parents=True, exist_ok=True)
            conn = self._lake_cursor(read_only)
            try:
                yield conn
            finally:
                conn.close()
            return
        path = self.path
        assert path is not None  # set in __init__ for every file warehouse
        if read_only and not path.exists():
            raise FileNotFoundError(f"warehouse {path} does not exist yet: materialize something first")
        path.parent.mkdir(parents=True, exist_ok=True)
        # The DuckDB instance is ready before the gate is taken (another run waiting for the gate need not wait
        # for it); only attaching the file happens behind the gate. The gate is released after the file is
        # closed (the stack unwinds in reverse).
        with contextlib.ExitStack() as held:
            instance = held.enter_context(self._file_instance())

            def gate_then_attach() -> None:
                with contextlib.ExitStack() as attempt:
                    attempt.enter_context(_file_gate(path, shared=read_only))
                    self._attach_file(instance, read_only)
                    attempt.callback(self._detach, instance)  # closes the file
                    held.push(attempt.pop_all())

            self._retrying(gate_then_attach)
            conn = instance.cursor()  # its own transaction, temp views and registrations, gone when closed
            held.callback(conn.close)
            conn.execute(f"USE {CATALOG}")
            yield conn

    @contextlib.contextmanager
    def _file_instance(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB instance with nothing attached, to attach the file to for one connection: this thread's idle
        one, else a new one. Making an instance costs about 14 ms and a day's run connects about a hundred times;
        the file is detached (closed, its WAL checkpointed) before the instance goes back, so no lock outlives
        the connection. A connection opened inside another gets an instance of its own."""
        key = (os.getpid(), self.encryption_key is not None, tuple(sorted(self.config.items())))
        idle: dict[tuple, duckdb.DuckDBPyConnection] = _IDLE_INSTANCES.__dict__.setdefault("by_key", {})
        instance = idle.pop(key, None) or self._instance()
        try:
            yield instance
        except BaseException:
            instance.close()
            raise
        if key in idle:  # a connection opened inside this one went back first
            instance.close()
        else:
            idle[key] = instance

    @staticmethod
    def _detach(instance: duckdb.DuckDBPyConnection) -> None:
        """Close the file attached to `instance`; if DuckDB will not detach it, close the whole instance, which
        closes the file too (the error then reaches _file_instance, which does not keep the instance)."""
        try:
            instance.execute(f"DETACH {CATALOG}")
        except duckdb.Error:
            instance.close()
            raise

    @contextlib.contextmanager
    def connect_to_read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reads only. On the DuckDB file, read-only once the file exists, so that runs
        reading at the same time share the file (a writer waits for them, and they for it); on a lake, the
        process's attached lake (DuckLake's snapshots already keep readers and writers apart)."""
        read_only = not self.is_lake and self.path is not None and self.path.exists()
        with self.connect(read_only=read_only) as conn:
            yield conn

    def _lake_cursor(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection of its own (transaction, temp views, `USE`) on this process's attached lake. Attaching
        costs about 0.4 s (the extensions, the Postgres catalog) and a day's run connects some 60 times; a
        cursor sees every other writer's commits from its next transaction on, as a fresh attachment would."""
        key = (os.getpid(), self.location, self.lake_data_path, read_only, self.encryption_key,
               self.lake_metadata_schema, tuple(sorted(self.config.items())))  # fmt: skip
        if key not in _ATTACHED_LAKES:
            _ATTACHED_LAKES[key] = self._open_lake(read_only)
        cursor = _ATTACHED_LAKES[key].cursor()
        cursor.execute(f"USE {CATALOG}")
        return cursor

    def _retrying(self, work: Callable[[], T]) -> T:
        """Run work, again after a jittered pause while another writer is in the way (the file's lock, a lost
        DuckLake commit); give up after lock_timeout_s. The file's lock is held for one step's short
        connection, so a waiter asks again every few milliseconds (a pause that grew to seconds made parallel
        runs wait far longer than the lock was held); a lost commit is retried after a growing pause."""
        deadline = time.monotonic() + self.lock_timeout_s
        delay, longest = (0.05, 2.0) if self.is_lake else (0.005, 0.02)
        while True:
            try:
                return work()
            except (duckdb.Error, _GateBusy) as exc:
                if not self._is_retryable(exc):
                    raise
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"{self!r}: another writer stayed in the way for {self.lock_timeout_s:.0f}s: {exc}"
                    ) from exc
                log.debug("%r busy (%s), retrying in %.2fs", self, exc, delay)
                time.sleep(delay + random.uniform(0, delay))
                delay = min(delay * 1.6, longest)

    def _is_retryable(self, exc: Exception) -> bool:
        if isinstance(exc, _GateBusy):
            return True
        return _is_commit_conflict(exc) if self.is_lake else _is_lock_error(exc)

    def _instance(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB with this warehouse's settings and extensions, nothing attached yet."""
        conn = duckdb.connect(":memory:", config=self.config)
        try:
            if self.encryption_key:
                conn.execute(f"LOAD {sql_literal(httpfs_extension_path())}")
        except Exception:
            conn.close()
            raise
        return conn

    def _open_lake(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        conn = self._instance()
        try:
            self._attach_lake(conn, read_only)
            conn.execute(f"USE {CATALOG}")
            return conn
        except Exception:
            conn.close()
            raise

    def _attach_file(self, conn: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        options = []
        if self.encryption_key:
            options.append(f"ENCRYPTION_KEY {sql_literal(self.encryption_key)}")
        if read_only:
            options.append("READ_ONLY")
        opts = f" ({', '.join(options)})" if options else ""
        conn.execute(f"ATTACH {sql_literal(str(self.path))} AS {CATALOG}{opts}")

    def _attach_lake(self, conn: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        catalog = self.location[len(LAKE_PREFIX) :]
        if catalog.startswith("postgres:"):
            conn.execute(f"LOAD {sql_literal(postgres_extension_path())}")
        conn.execute(f"LOAD {sql_literal(ducklake_extension_path())}")
        # No inlining: small writes would otherwise live as rows in the Postgres catalog; every row stays in a
        # Parquet file under the data path, which is what purge_history() cleans and what a backup copies.
        options = [f"DATA_PATH {sql_literal(str(self.lake_data_path))}", "DATA_INLINING_ROW_LIMIT 0"]
        if self.lake_metadata_schema:
            options.append(f"METADATA_SCHEMA {sql_literal(self.lake_metadata_schema)}")
        if self.encryption_key:
            # DuckLake encrypts each Parquet file with its own key, kept in the catalog.
            options.append("ENCRYPTED")
        if read_only:
            options.append("READ_ONLY")
        conn.execute(f"ATTACH {sql_literal(self.location)} AS {CATALOG} ({', '.join(options)})")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed if the block finishes, rolled back otherwise.
        A DuckLake commit conflict is raised, not retried (a with-block cannot run twice): writers that must
        not fail use run_in_transaction."""
        with self.connect() as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT has already ended the transaction; the ROLLBACK must not hide its error.
                with contextlib.suppress(duckdb.Error):
                    conn.execute("ROLLBACK")
                raise

    def run_in_transaction(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """work(conn) in one transaction, run again from the start when another writer wins the commit."""

        def attempt() -> T:
            with self.transaction() as conn:
                return work(conn)

        return self._retrying(attempt)

    # -- reads ---------------------------------------------------------------------------------------------
    def stored_columns(self, conn: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
        """Each table's column names as the warehouse holds them now."""
        out: dict[str, set[str]] = {}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = ?", [CATALOG]
        ).fetchall():
            out.setdefault(table, set()).add(column)
        return out

    def table_names(self, conn: duckdb.DuckDBPyConnection) -> set[str]:
        return {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?", [CATALOG]
            ).fetchall()
        }

    def table_exists(self, conn: duckdb.DuckDBPyConnection, table: str) -> bool:
        return table in self.table_names(conn)

    def has_table(self, table: str) -> bool:
        """table_exists on a short connection of its own."""
        with self.connect() as conn:
            return self.table_exists(conn, table)

    def query(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        with self.connect() as conn:
            return conn.execute(sql, params or []).df()

    def read_partition(self, table: str, day: date | str, columns: str = "*") -> pd.DataFrame:
        """A day's rows, or an empty frame with the table's columns when nothing is stored yet."""
        with self.connect() as conn:
            if not self.table_exists(conn, table):
                schema = SCHEMAS.get(table)
                return pd.DataFrame(columns=schema.column_names if schema else [])
            return conn.execute(f'SELECT {columns} FROM "{table}" WHERE day = ?', [_as_date(day)]).df()

    # -- writes --------------------------------------------------------------------------------------------
    def replace_partition(
        self, table: str, day: date | str, rows: pd.DataFrame, schema: TableSchema | None = None
    ) -> int:
        """Replace exactly one day's rows in one transaction: a crash leaves the old day or the new one,
        never an empty or doubled day."""
        return self.replace_partitions(day, {table: rows}, {table: schema} if schema else None)[table]

    def replace_partitions(
        self,
        day: date | str,
        tables: dict[str, pd.DataFrame],
        schemas: dict[str, TableSchema] | None = None,
        shop: str | None = None,
    ) -> dict[str, int]:
        """Several tables' rows for one day (of one shop, when given), replaced together in one transaction."""
        keys: dict[str, object] = {"day": _as_date(day)}
        if shop is not None:
            keys["shop"] = shop
        return self.replace_rows(keys, tables, schemas)

    def replace_rows(
        self,
        keys: Mapping[str, object],
        tables: dict[str, pd.DataFrame],
        schemas: dict[str, TableSchema] | None = None,
    ) -> dict[str, int]:
        """The rows matching `keys` (e.g. day and shop, or only shop for a shop's all-days table) replaced by
        `tables`' rows, which take those key values, in every table at once in one transaction: a crash
        leaves the old rows or the new, never a mix or nothing."""

        def work(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
            counts = {}
            for table, rows in tables.items():
                schema = (schemas or {}).get(table) or SCHEMAS.get(table)
                rows = rows.copy()
                for column, value in keys.items():
                    rows[column] = value
                conn.register("incoming_rows", rows)
                self._ensure_table(conn, table, schema, source="incoming_rows")
                where = " AND ".join(f'"{column}" = ?' for column in keys)
                conn.execute(f'DELETE FROM "{table}" WHERE {where}', list(keys.values()))
                conn.execute(f'INSERT INTO "{table}" BY NAME {self._select_cast(conn, table, "incoming_rows")}')
                conn.unregister("incoming_rows")
                counts[table] = len(rows)
            return counts

        return self.run_in_transaction(work)

    def replace_partition_from_sql(self, table: str, day: date | str, select_sql: str) -> int:
        """Same guarantees as replace_partition, for a SELECT evaluated inside the warehouse."""
        day = _as_date(day)

        def work(conn: duckdb.DuckDBPyConnection) -> int:
            conn.execute(f"CREATE OR REPLACE TEMP TABLE incoming_rows AS {select_sql}")
            self._ensure_table(conn, table, None, source="incoming_rows")
            conn.execute(f'DELETE FROM "{table}" WHERE day = ?', [day])
            select = self._select_cast(conn, table, "incoming_rows")
            conn.execute(f'INSERT INTO "{table}" BY NAME {select} WHERE day = ?', [day])
            return int(scalar(conn.execute("SELECT count(*) FROM incoming_rows WHERE day = ?", [day]).fetchone()))

        return self.run_in_transaction(work)

    def replace_table(self, table: str, rows: pd.DataFrame, schema: TableSchema | None = None) -> int:
        """An all-days table recomputed as a whole, swapped in one transaction. With a schema, columns take the
        schema's types (pandas turns a nullable INTEGER into a float)."""

        def work(conn: duckdb.DuckDBPyConnection) -> int:
            conn.register("incoming_rows", rows)
            self._swap_table(conn, table, "incoming_rows", schema)
            conn.unregister("incoming_rows")
            return len(rows)

        return self.run_in_transaction(work)

    def replace_table_from_sql(self, table: str, select_sql: str) -> int:
        def work(conn: duckdb.DuckDBPyConnection) -> int:
            conn.execute(f"CREATE OR REPLACE TEMP TABLE incoming_rows AS {select_sql}")
            self._swap_table(conn, table, "incoming_rows")
            return int(scalar(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()))

        return self.run_in_transaction(work)

    def execute(self, sql: str, params: list | None = None) -> None:
        """One statement in its own transaction, run again if a DuckLake commit conflicts."""

        def attempt() -> None:
            with self.connect() as conn:
                conn.execute(sql, params or [])

        self._retrying(attempt)

    # -- maintenance ---------------------------------------------------------------------------------------
    def purge_history(self, orphans_older_than: str = "1 hour") -> None:
        """Make deleted rows unrecoverable: after an erasure, no file the warehouse keeps holds them.

        DuckLake keeps old snapshots (time travel) and marks deletes in separate files, so a deleted row is
        still in its Parquet file: files with deletes are rewritten, every snapshot but the newest expired,
        the files they alone used removed, and files no snapshot ever committed (a crashed writer's) removed
        once older than orphans_older_than (younger ones may be a live writer's, about to commit).
        The DuckDB file keeps deleted rows in its old blocks until they are reused, and a CHECKPOINT or VACUUM
        does not overwrite them: the database is copied into a fresh file that replaces it."""
        if self.is_lake:
            self._purge_lake(orphans_older_than)
        else:
            self._purge_file()

    def maintain(self, snapshots_kept_days: int = 7, deleted_files_kept_days: int = 1) -> dict[str, int]:
        """Routine upkeep, safe beside running writers (run nightly: `warehouse_maintenance`).

        A lake: small files of one partition written by successive snapshots are merged; snapshots older
        than snapshots_kept_days are expired (time travel reaches that far back, no further), and the files
        only they used, with those merged away, are deleted once scheduled for deletion longer than
        deleted_files_kept_days (a reader that began before may still scan them). Every re-run of a day
        leaves its old files behind until this runs. A DuckDB file: a CHECKPOINT (DuckDB also runs them on
        its own). Returns what was done, as counts."""
        if not self.is_lake:
            self.execute("CHECKPOINT")
            return {}
        kept = f"now() - INTERVAL {sql_literal(f'{int(snapshots_kept_days)} days')}"
        grace = f"now() - INTERVAL {sql_literal(f'{int(deleted_files_kept_days)} days')}"
        done: dict[str, int] = {}

        def call(name: str, sql: str) -> None:
            def attempt() -> None:
                with self.connect() as conn:
                    done[name] = len(conn.execute(sql).fetchall())

            self._retrying(attempt)

        call("file_groups_merged", f"CALL ducklake_merge_adjacent_files('{CATALOG}')")
        call("snapshots_expired", f"CALL ducklake_expire_snapshots('{CATALOG}', older_than => {kept})")
        call("files_deleted", f"CALL ducklake_cleanup_old_files('{CATALOG}', older_than => {grace})")
        return done

    def _purge_lake(self, orphans_older_than: str) -> None:
        steps = [
            # A no-op with inlining off, kept for catalogs another client created with inlining on.
            f"CALL ducklake_flush_inlined_data('{CATALOG}')",
            # Any delete at all makes a file worth rewriting here (the default waits for 95 % deleted).
            f"CALL ducklake_rewrite_data_files('{CATALOG}', delete_threshold => 0.000000001)",
            f"CALL ducklake_expire_snapshots('{CATALOG}', older_than => now())",
            f"CALL ducklake_cleanup_old_files('{CATALOG}', cleanup_all => true)",
            f"CALL ducklake_delete_orphaned_files('{CATALOG}', older_than => now() - INTERVAL "
            f"{sql_literal(orphans_older_than)})",
        ]
        for step in steps:
            self.execute(step)

    def _purge_file(self) -> None:
        assert self.path is not None  # only file warehouses are purged this way
        if not self.path.exists():
            return
        fresh = self.path.with_name(self.path.name + ".purge")
        for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
            leftover.unlink(missing_ok=True)
        key = f" (ENCRYPTION_KEY {sql_literal(self.encryption_key)})" if self.encryption_key else ""
        with self.connect() as conn:
            # Everything committed into the file first, so the old file's WAL holds nothing the copy misses.
            conn.execute("CHECKPOINT")
            conn.execute(f"ATTACH {sql_literal(str(fresh))} AS purged{key}")
            conn.execute(f"COPY FROM DATABASE {CATALOG} TO purged")
            conn.execute("DETACH purged")
            # Swapped while this connection still holds the old file's lock: a writer waiting for it retries
            # by path and opens the fresh file, so no write can land in the old one after the copy.
            os.replace(fresh, self.path)

    # -- schema --------------------------------------------------------------------------------------------
    def _storable(self, column_type: str) -> str:
        """The type a column is stored as. DuckLake has no fixed-size arrays (FLOAT[512] becomes FLOAT[],
        same values, read back as lists) and no ENUMs (stored as VARCHAR)."""
        if not self.is_lake:
            return column_type
        if column_type.startswith("ENUM("):
            return "VARCHAR"
        return re.sub(r"\[\d+\]", "[]", column_type)

    def _ensure_table(self, conn, table: str, schema: TableSchema | None, source: str) -> None:
        """Create the table, or add the columns a newer version of the asset writes (schema evolution:
        old partitions get NULL in new columns, nothing is rewritten)."""
        incoming = conn.execute(f"DESCRIBE {source}").df()
        incoming_types = dict(zip(incoming["column_name"], incoming["column_type"]))
        wanted = {c.name: c.type for c in schema.stored_columns} if schema else dict(incoming_types)
        for name, typ in incoming_types.items():
            wanted.setdefault(name, typ)
        wanted = {name: self._storable(typ) for name, typ in wanted.items()}
        if not self.table_exists(conn, table):
            cols = ", ".join(f'"{n}" {t}' for n, t in wanted.items())
            conn.execute(f'CREATE TABLE "{table}" ({cols})')
            keys = [k for k in ("shop", "day") if k in wanted]
            if self.is_lake and keys:
                # One set of files per shop and day: writers of different partitions never delete from the same
                # file (which DuckLake would refuse as a conflict), and a rewrite touches its own files only.
                conn.execute(f'ALTER TABLE "{table}" SET PARTITIONED BY ({", ".join(keys)})')
            return
        existing = set(conn.execute(f'DESCRIBE "{table}"').df()["column_name"])
        for name, typ in wanted.items():
            if name not in existing:
                conn.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {typ}')
                if name == "shop":
                    # Rows written before shops existed are the single shop's, which is shop `main`.
                    conn.execute(f"UPDATE \"{table}\" SET shop = '{MAIN_SHOP}' WHERE shop IS NULL")

    def _select_cast(self, conn, table: str, source: str) -> str:
        target = conn.execute(f'DESCRIBE "{table}"').df()
        target_types = dict(zip(target["column_name"], target["column_type"]))
        src_cols = list(conn.execute(f"DESCRIBE {source}").df()["column_name"])
        exprs = [f'CAST("{c}" AS {target_types[c]}) AS "{c}"' for c in src_cols if c in target_types]
        return f"SELECT {', '.join(exprs)} FROM {source}"

    def _swap_table(self, conn, table: str, source: str, schema: TableSchema | None = None) -> None:
        """CREATE OR REPLACE the table from source, each column cast to its schema type (else its own type) as
        the backend stores it."""
        described = conn.execute(f"DESCRIBE {source}").df()
        wanted = {c.name: c.type for c in schema.stored_columns} if schema else {}
        exprs = [
            f'CAST("{c}" AS {self._storable(wanted.get(c, t))}) AS "{c}"'
            for c, t in zip(described["column_name"], described["column_type"], strict=True)
        ]
        conn.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT {", ".join(exprs)} FROM {source}')


def _is_remote(path: str) -> bool:
    return "://" in path


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(str(day))
