"""One shop's view of the warehouse, for tools that read it with plain SQL (the identity commands, the review
page): every table with a `shop` column is seen through a view of that shop's rows under the table's own
name, so `SELECT ... FROM visit_log WHERE customer_id = ?` means this shop's customer (IDs repeat across shops).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb
import pandas as pd

from watershop_dagster.core.storage.warehouse import CATALOG, Warehouse, sql_literal


class ShopWarehouse:
    """A read-only stand-in for `Warehouse` that sees one shop. Writes go through the assets, never here."""

    def __init__(self, warehouse: Warehouse, shop: str):
        self.warehouse, self.shop = warehouse, shop

    @contextlib.contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.warehouse.connect(read_only=read_only) as conn:
            with_shop = [table for table, columns in self.warehouse.stored_columns(conn).items() if "shop" in columns]
            for table in with_shop:
                # A temporary view shadows the catalog's table of the same name for every unqualified query.
                conn.execute(
                    f'CREATE OR REPLACE TEMP VIEW "{table}" AS '
                    f'SELECT * FROM {CATALOG}.main."{table}" WHERE shop = {sql_literal(self.shop)}'
                )
            yield conn

    def query(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        with self.connect() as conn:
            return conn.execute(sql, params or []).df()

    def table_names(self, conn: duckdb.DuckDBPyConnection) -> set[str]:
        return self.warehouse.table_names(conn)

    def table_exists(self, conn: duckdb.DuckDBPyConnection, table: str) -> bool:
        return self.warehouse.table_exists(conn, table)

    def has_table(self, table: str) -> bool:
        return self.warehouse.has_table(table)
