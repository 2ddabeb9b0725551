"""`watershop sql`: one read-only query against whichever warehouse is configured, answered as CSV.

The file backend is opened READ_ONLY and DuckLake is attached READ_ONLY; on top of that the statement is parsed
first and anything but a query is refused, so that `watershop sql` is safe to hand to anyone who may read the
warehouse, on any backend, and a refusal says why instead of surfacing as a catalog error.
"""

from __future__ import annotations

import re

import duckdb

from watershop_dagster.core.storage.warehouse import Warehouse

# DESCRIBE, SHOW, SUMMARIZE, PRAGMA show_tables and FROM-first queries all parse as SELECT.
_READ_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(ANALYZE\s+)?", re.IGNORECASE)


class WriteRefused(ValueError):
    """The SQL given to `watershop sql` is not a read-only query."""


def check_read_only(sql: str) -> list[str]:
    """The statements of sql, each a query; WriteRefused names the first that is not one."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise WriteRefused(f"not valid SQL: {exc}") from exc
    if not statements:
        raise WriteRefused("no SQL statement given")
    texts = []
    for statement in statements:
        _refuse_unless_query(statement)
        texts.append(statement.query)
    return texts


def _refuse_unless_query(statement) -> None:
    if statement.type not in _READ_TYPES:
        raise WriteRefused(f"only read-only queries are allowed, got {statement.type.name}: {statement.query.strip()}")
    if statement.type == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs the statement it explains: the explained statement must be a query too.
        explained = duckdb.extract_statements(_EXPLAIN.sub("", statement.query, count=1))
        for inner in explained:
            _refuse_unless_query(inner)


def run_readonly_query(warehouse: Warehouse, sql: str) -> str:
    """The last statement's result as CSV with a header row (earlier statements run, their rows dropped)."""
    statements = check_read_only(sql)
    with warehouse.connect(read_only=True) as conn:
        for statement in statements[:-1]:
            conn.execute(statement)
        frame = conn.execute(statements[-1]).df()
    return frame.to_csv(index=False)
