"""Named SQL queries kept in .sql files next to the code that runs them.

A file holds several queries, each introduced by a `-- name: <name>` line; the text up to the next such line
is the query. Parameters are DuckDB named parameters (`$day`, `$start`, `$end`). Loading fails, naming the
file and line, on a query without a name, a name used twice or an empty query; asking for a name the file
does not hold fails naming the file and the names it has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE)


def tables_named_in(sql: str) -> set[str]:
    """The tables a query names after FROM or JOIN (a derived table's parenthesis is not a name)."""
    return set(_TABLE.findall(sql))


class NamedQueryError(ValueError):
    pass


class NamedQueries(Mapping[str, str]):
    """The queries of one .sql file, by name."""

    def __init__(self, path: Path):
        self.path = path
        self._queries = _parse(path)

    def __getitem__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise NamedQueryError(
                f"{self.path.name} has no query named {name!r} (it has: {', '.join(sorted(self._queries))})"
            ) from None

    def __iter__(self):
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)


def _parse(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise NamedQueryError(f"SQL file {path} not found")
    queries: dict[str, str] = {}
    name, body, start = None, [], 0
    lines = path.read_text().splitlines()
    for number, line in enumerate([*lines, "-- name: _end_"], start=1):
        match = _NAME.match(line)
        if not match:
            if name is None and line.strip() and not line.lstrip().startswith("--"):
                raise NamedQueryError(f"{path.name} line {number}: SQL before the first '-- name:' line")
            body.append(line)
            continue
        if name is not None:
            text = "\n".join(body).strip()
            if not text:
                raise NamedQueryError(f"{path.name} line {start}: query {name!r} is empty")
            if name in queries:
                raise NamedQueryError(f"{path.name} line {start}: query name {name!r} is used twice")
            queries[name] = text
        name, body, start = match.group(1), [], number
    return queries


def queries_beside(module_file: str, file_name: str) -> NamedQueries:
    """The named queries of `file_name` in the folder of the module `module_file` (pass `__file__`)."""
    return NamedQueries(Path(module_file).with_name(file_name))
