"""Link a stored evaluation run's sales again from its own visits and till, with changed linking rules.

    .venv/bin/python bench/relink_days.py bench/out/dvr137 [--rule weight_pace=0] [--rule ...]

Reads the run's warehouse (nothing is written to it): per day, in day order, the till's sales and the
`visit_log` the run stored, and does the `transaction_links` asset's work on them (`link_day` with the
earlier days' links as history, the last applied clock offset, the counter's pace of the days before,
the owner's labels) under `LinkRules` with
the given overrides. The footage stages are not run: the visits are the run's own. Prints, for the links the
run stored and for the relinked ones, the sales linked to the right person and the ambiguous share
(`evaluation.scoring.score_links`), and each day's clock offset error.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd

from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.core.till.linking import LinkRules, link_stored_day
from watershop_dagster.evaluation.scoring import load_truth, score_clock, score_links


def parse_rule(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    kinds = {f.name: f.type for f in fields(LinkRules)}
    if name not in kinds:
        raise SystemExit(f"--rule {text}: LinkRules has no field {name!r}")
    kind = str(kinds[name])
    parsed: object = (
        value.lower() in ("1", "true", "yes") if kind == "bool" else (int if kind == "int" else float)(value)
    )
    return name, parsed


def relink(wh: Warehouse, rules: LinkRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every day's links and clock offsets under `rules`, day after day as the asset makes them."""
    sales = wh.query('SELECT day, transaction_id, "timestamp", customer_id FROM transactions')
    visits = wh.query("SELECT * FROM visit_log")
    registry = wh.query("SELECT customer_id, label FROM customer_registry")
    links: list[pd.DataFrame] = []
    offsets: list[dict] = []
    paces: list[dict] = []
    for day in sorted(set(sales["day"].astype(str)) | set(visits["day"].astype(str))):
        day_links, offset, pace = link_stored_day(
            sales[sales["day"].astype(str) == day].drop(columns="day"),
            visits[visits["day"].astype(str) == day],
            rules,
            pd.concat(links, ignore_index=True) if links else None,
            pd.DataFrame(offsets) if offsets else None,
            pd.DataFrame(paces) if paces else None,
            registry,
        )
        links.append(day_links.assign(day=day))
        offsets.append({**offset.as_row(), "day": day})
        paces.append({**pace, "day": day})
    return pd.concat(links, ignore_index=True), pd.DataFrame(offsets)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="an evaluate_visits.py --out folder")
    p.add_argument("--rule", action="append", default=[], help="NAME=VALUE, a LinkRules field (repeatable)")
    args = p.parse_args(argv)
    rules = replace(LinkRules(), **dict(parse_rule(r) for r in args.rule))
    data = args.run / "data"
    wh = Warehouse(data / "warehouse.duckdb")
    truth, visits = load_truth(data / "truth"), wh.query("SELECT * FROM visit_log")
    stored = score_links(truth, visits, wh.query("SELECT * FROM transaction_links"))
    links, offsets = relink(wh, rules)
    again = score_links(truth, visits, links)
    clock = score_clock(data / "truth", offsets)["clock_offset_error_s"]
    print(json.dumps({"run": str(args.run), "rules": args.rule, "stored": stored, "relinked": again,
                      "clock_offset_error_s": clock}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
