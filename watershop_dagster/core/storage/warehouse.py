"""The DuckDB warehouse: one file, short-lived connections, one transaction per partition write.

DuckDB lets one process hold a database file for writing, so every connection here is opened for one unit of
work and closed straight after; a second process that finds the file locked waits and retries instead of
failing. That, together with a Dagster concurrency pool, is what lets backfills run several runs at once.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import random
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from watershop_dagster.core.storage.schemas import SCHEMAS, TableSchema

log = logging.getLogger(__name__)

CATALOG = "wh"


class WarehouseLockTimeout(RuntimeError):
    pass


def httpfs_extension_path() -> str:
    """The httpfs extension shipped on PyPI (duckdb-extension-httpfs): it carries the crypto that writing an
    encrypted database needs, and nothing may be downloaded at run time."""
    version = "v" + duckdb.__version__
    path = importlib.resources.files("duckdb_extension_httpfs") / "extensions" / version / "httpfs.duckdb_extension"
    if not Path(str(path)).exists():
        raise FileNotFoundError(
            f"httpfs extension for DuckDB {duckdb.__version__} not found at {path}; "
            f"install duckdb-extension-httpfs=={duckdb.__version__}"
        )
    return str(path)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_lock_error(exc: Exception) -> bool:
    msg = str(exc).lower()
    return "lock" in msg and ("conflict" in msg or "could not set" in msg or "resource temporarily" in msg)


class Warehouse:
    def __init__(self, path: str | Path, encryption_key: str | None = None, lock_timeout_s: float = 600.0):
        self.path = Path(path)
        self.encryption_key = encryption_key or None
        self.lock_timeout_s = lock_timeout_s

    # -- connections ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            raise FileNotFoundError(f"warehouse {self.path} does not exist yet: materialize something first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._open_with_retry(read_only)
        try:
            yield conn
        finally:
            conn.close()

    def _open_with_retry(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                return self._open(read_only)
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"warehouse {self.path} stayed locked by another process for {self.lock_timeout_s:.0f}s"
                    ) from exc
                time.sleep(delay + random.uniform(0, delay))
                delay = min(delay * 1.6, 2.0)

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(":memory:")
        try:
            options = []
            if self.encryption_key:
                conn.execute(f"LOAD {_sql_literal(httpfs_extension_path())}")
                options.append(f"ENCRYPTION_KEY {_sql_literal(self.encryption_key)}")
            if read_only:
                options.append("READ_ONLY")
            opts = f" ({', '.join(options)})" if options else ""
            conn.execute(f"ATTACH {_sql_literal(str(self.path))} AS {CATALOG}{opts}")
            conn.execute(f"USE {CATALOG}")
            return conn
        except Exception:
            conn.close()
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed if the block finishes, rolled back otherwise."""
        with self.connect() as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- reads ---------------------------------------------------------------------------------------------
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

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
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
        self, day: date | str, tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema] | None = None
    ) -> dict[str, int]:
        """Several tables' rows for one day, replaced together in one transaction."""
        day = _as_date(day)
        counts = {}
        with self.transaction() as conn:
            for table, rows in tables.items():
                schema = (schemas or {}).get(table) or SCHEMAS.get(table)
                rows = rows.copy()
                rows["day"] = day
                conn.register("incoming_rows", rows)
                self._ensure_table(conn, table, schema, source="incoming_rows")
                conn.execute(f'DELETE FROM "{table}" WHERE day = ?', [day])
                conn.execute(f'INSERT INTO "{table}" BY NAME {self._select_cast(conn, table, "incoming_rows")}')
                conn.unregister("incoming_rows")
                counts[table] = len(rows)
        return counts

    def replace_partition_from_sql(self, table: str, day: date | str, select_sql: str) -> int:
        """Same guarantees as replace_partition, for a SELECT evaluated inside the warehouse."""
        day = _as_date(day)
        with self.transaction() as conn:
            conn.execute(f"CREATE OR REPLACE TEMP TABLE incoming_rows AS {select_sql}")
            self._ensure_table(conn, table, None, source="incoming_rows")
            conn.execute(f'DELETE FROM "{table}" WHERE day = ?', [day])
            conn.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM incoming_rows WHERE day = ?', [day])
            n = conn.execute("SELECT count(*) FROM incoming_rows WHERE day = ?", [day]).fetchone()[0]
        return int(n)

    def replace_table(self, table: str, rows: pd.DataFrame, schema: TableSchema | None = None) -> int:
        """An all-days table recomputed as a whole, swapped in one transaction. With a schema, its columns are
        cast to the schema's types (pandas turns a nullable INTEGER into a float)."""
        with self.transaction() as conn:
            conn.register("incoming_rows", rows)
            columns = (
                ", ".join(f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in schema.columns) if schema else "*"
            )
            conn.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT {columns} FROM incoming_rows')
        return len(rows)

    def replace_table_from_sql(self, table: str, select_sql: str) -> int:
        with self.transaction() as conn:
            conn.execute(f'CREATE OR REPLACE TABLE "{table}" AS {select_sql}')
            n = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        return int(n)

    def execute(self, sql: str, params: list | None = None) -> None:
        with self.connect() as conn:
            conn.execute(sql, params or [])

    # -- schema --------------------------------------------------------------------------------------------
    def _ensure_table(self, conn, table: str, schema: TableSchema | None, source: str) -> None:
        """Create the table, or add the columns a newer version of the asset writes (schema evolution:
        old partitions get NULL in new columns, nothing is rewritten)."""
        incoming = conn.execute(f"DESCRIBE {source}").df()
        incoming_types = dict(zip(incoming["column_name"], incoming["column_type"]))
        wanted = {c.name: c.type for c in schema.columns} if schema else dict(incoming_types)
        for name, typ in incoming_types.items():
            wanted.setdefault(name, typ)
        if not self.table_exists(conn, table):
            cols = ", ".join(f'"{n}" {t}' for n, t in wanted.items())
            conn.execute(f'CREATE TABLE "{table}" ({cols})')
            return
        existing = set(conn.execute(f'DESCRIBE "{table}"').df()["column_name"])
        for name, typ in wanted.items():
            if name not in existing:
                conn.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {typ}')

    def _select_cast(self, conn, table: str, source: str) -> str:
        target = conn.execute(f'DESCRIBE "{table}"').df()
        target_types = dict(zip(target["column_name"], target["column_type"]))
        src_cols = list(conn.execute(f"DESCRIBE {source}").df()["column_name"])
        exprs = [f'CAST("{c}" AS {target_types[c]}) AS "{c}"' for c in src_cols if c in target_types]
        return f"SELECT {', '.join(exprs)} FROM {source}"


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(str(day))
