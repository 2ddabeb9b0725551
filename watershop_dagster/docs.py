"""Keeps the README's generated sections (asset graph, table reference) in step with the code.

.venv/bin/python -m watershop_dagster.docs          # rewrite README.md in place
.venv/bin/python -m watershop_dagster.docs --check  # exit 1 if README.md is stale (the tests run this)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from watershop_dagster.core.storage.schemas import markdown_reference
from watershop_dagster.core.storage.sql_models import default_sql_folder, load_models

README = Path(__file__).resolve().parents[1] / "README.md"


def asset_graph_mermaid() -> str:
    from watershop_dagster.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = ["```mermaid", "flowchart LR"]
    groups: dict[str, list[str]] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        groups.setdefault(node.group_name or "default", []).append(key.to_user_string())
    for group, names in groups.items():
        lines.append(f"  subgraph {group}")
        lines += [f"    {n}" for n in names]
        lines.append("  end")
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        for parent in sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string()):
            if parent != key:
                lines.append(f"  {parent.to_user_string()} --> {key.to_user_string()}")
    lines.append("```")
    return "\n".join(lines)


def sql_reference() -> str:
    rows = ["| model | partitioned | reads | what it holds |", "|---|---|---|---|"]
    for m in load_models(default_sql_folder()):
        reads = ", ".join(f"`{r.table}`" + (f" ({r.window_days} days)" if r.window_days > 1 else "") for r in m.refs)
        rows.append(
            f"| [`{m.name}`](dbt_like_sql/{m.path.name}) | {'daily' if m.partitioned else 'no (all days)'} "
            f"| {reads} | {m.description} |"
        )
    return "\n".join(rows)


def table_owners() -> str:
    """Every table (and report) with the asset that writes it and the assets that read it, from the
    declarations (defs/warehouse_asset.py): the one place to look."""
    import watershop_dagster.definitions  # noqa: F401  (building the definitions records every declaration)
    from watershop_dagster.defs.warehouse_asset import DECLARATIONS

    readers: dict[str, list[str]] = {}
    for name, declaration in DECLARATIONS.items():
        for read in declaration.reads:
            owner = declaration.asset or name
            if owner not in readers.setdefault(read.table, []):
                readers[read.table].append(owner)
    rows = ["| table or file | written by asset | read by assets |", "|---|---|---|"]
    for name in sorted(DECLARATIONS):
        declaration = DECLARATIONS[name]
        read_by = ", ".join(f"`{r}`" for r in sorted(readers.get(name, []))) or "–"
        rows.append(f"| `{name}` | `{declaration.asset or name}` | {read_by} |")
    return "\n".join(rows)


def _splicer(fn: Callable[[], str]) -> Callable[[re.Match[str]], str]:
    """Replacement for pattern.sub: keeps the two markers and puts fn()'s text between them."""

    def splice(m: re.Match[str]) -> str:
        return m.group(1) + fn() + "\n" + m.group(2)

    return splice


SECTIONS = {
    "graph": asset_graph_mermaid,
    "owners": table_owners,
    "tables": markdown_reference,
    "sql": sql_reference,
}


def render(text: str) -> str:
    for name, fn in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md lacks the <!-- {name}:start --> / <!-- {name}:end --> markers")
        text = pattern.sub(_splicer(fn), text)
    return text


def main(argv: list[str]) -> int:
    current = README.read_text()
    fresh = render(current)
    if "--check" in argv:
        if fresh != current:
            print("README.md is stale: run `.venv/bin/python -m watershop_dagster.docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
