"""SQL aggregates kept as files in dbt_like_sql/, one model per file.

A model is a SELECT with two Jinja helpers: `{{ ref('table') }}` names an upstream table (that is where the
lineage comes from: rendering the file records every ref) and `{{ day }}` is the partition day as a DATE
literal. `ref('t', window_days=30)` says the model reads the 30 days ending on its partition, so the Dagster
layer can give it the matching partition mapping. The header comment holds the description and
`-- partitioned: daily` or `-- partitioned: none`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jinja2

_HEADER_KEY = re.compile(r"^--\s*(partitioned)\s*:\s*(\w+)\s*$")
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class Ref:
    table: str
    window_days: int = 1

    @property
    def view(self) -> str:
        """The name the rendered SQL uses: the table's own, which the Dagster layer provides as a view cut to
        the declared days (so one model reads a table with one window)."""
        return self.table


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    description: str
    partitioned: bool
    refs: tuple[Ref, ...]
    template: str

    def render(self, day: date | None = None) -> str:
        if self.partitioned and day is None:
            raise ValueError(f"{self.name} is partitioned by day: render it with a day")
        return _ENV.from_string(self.template).render(
            ref=lambda table, window_days=1: f'"{Ref(table, int(window_days)).view}"',
            day=f"DATE '{day.isoformat()}'" if day else "NULL",
        )


def load_model(path: Path) -> SqlModel:
    text = path.read_text()
    description, partitioned = [], None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = _HEADER_KEY.match(line)
        if m:
            partitioned = m.group(2).lower()
        else:
            description.append(line.lstrip("-").strip())
    if partitioned not in ("daily", "none"):
        raise ValueError(f"{path}: header needs '-- partitioned: daily' or '-- partitioned: none'")

    refs: list[Ref] = []

    def record(table: str, window_days: int = 1) -> str:
        refs.append(Ref(table, int(window_days)))
        return f'"{table}"'

    _ENV.from_string(text).render(ref=record, day="DATE '2000-01-01'")
    unique = tuple(dict.fromkeys(refs))
    windows: dict[str, set[int]] = {}
    for r in unique:
        windows.setdefault(r.table, set()).add(r.window_days)
    mixed = sorted(t for t, w in windows.items() if len(w) > 1)
    if mixed:
        raise ValueError(f"{path}: reads {', '.join(mixed)} with different windows; use one window per table")
    if not unique:
        raise ValueError(f"{path}: a model must read at least one table through {{{{ ref('...') }}}}")
    return SqlModel(path.stem, path, " ".join(description), partitioned == "daily", unique, text)


def load_models(folder: Path) -> list[SqlModel]:
    if not folder.is_dir():
        raise FileNotFoundError(f"SQL model folder {folder} not found: the SQL aggregates live in dbt_like_sql/")
    models = [load_model(p) for p in sorted(folder.glob("*.sql"))]
    if not models:
        raise FileNotFoundError(f"no *.sql models in {folder}")
    for m in models:
        if any(r.table == m.name for r in m.refs):
            raise ValueError(f"{m.path}: a model cannot ref itself")
    return models


def default_sql_folder() -> Path:
    """dbt_like_sql/ at the repository root (beside the package)."""
    return Path(__file__).resolve().parents[3] / "dbt_like_sql"
