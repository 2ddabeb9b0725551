"""The README's accuracy tables from bench/evaluate_visits.py reports (report.json in each --out folder).

    .venv/bin/python bench/accuracy_table.py bench/out/eval_*/report.json
    .venv/bin/python bench/accuracy_table.py --clock bench/out/clk_*/report.json

One row per report: the footage conditions, then the figures the issue sets targets for; with --clock, the
till clock the run was given, each day's error in the estimated offset and the sales figures.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path


def _f(x: float) -> str:
    return f"{x:.3f}"


def _seed(r: dict) -> str:
    """The generator's seed, where the report records it (reports before it was recorded do not)."""
    return f", seed {r['seed']}" if "seed" in r else ""


def row(r: dict) -> str:
    c = r["conditions"]
    faceless = f"{c['faceless_share']:.0%}"
    recall = f"{_f(r['recall_faced'])} / " + (_f(r["recall_faceless"]) if r["truth_faceless_visits"] else "–")
    ids = f"{r['predicted_customers']} / {r['truth_identifiable_customers']}"
    return " | ".join(
        [
            f"| `{r['condition']}`",
            c["camera"],
            faceless,
            str(c["max_waiting"]),
            "new photo daily" if c["staff_photo_per_day"] else "same photo",
            f"{r['days']} d{_seed(r)}, {r['truth_visits']} visits ({r['truth_faceless_visits']} faceless), "
            f"{c['half']} half",
            recall,
            _f(r["precision"]),
            _f(r["bcubed_f1"]),
            ids,
            f"{r['linked_to_right_person']}/{r['sales']} ({_f(r['link_accuracy'])})",
            f"{r['ambiguous_share']:.1%}",
            str(r["staff_visits_counted_as_customers"]) + " |",
        ]
    )


def clock_row(r: dict) -> str:
    c = r["conditions"]
    offset, drift = c.get("till_clock_offset_s", 0.0), c.get("till_clock_drift_s_per_day", 0.0)
    clock = "in step" if not (offset or drift) else f"{offset:+.0f} s, {drift:+.0f} s a day"
    errors = ", ".join(f"{e:+.1f}" for e in r["clock_offset_error_s"])
    return " | ".join(
        [
            f"| `{r['condition']}`",
            f"{r['days']} d{_seed(r)}",
            clock,
            errors,
            f"{r['linked_to_right_person']}/{r['sales']} ({_f(r['link_accuracy'])})",
            f"{r['ambiguous_share']:.1%} |",
        ]
    )


CLOCK_HEADER = [
    "condition",
    "run",
    "till clock (camera - till)",
    "offset error per day (s)",
    "sales linked right",
    "ambiguous",
]
HEADER = [
    "condition",
    "camera",
    "faceless",
    "max waiting",
    "staff",
    "run",
    "recall faced / faceless",
    "precision",
    "BCubed F1",
    "IDs / true (with a face)",
    "sales linked right",
    "ambiguous",
    "staff visits as customers",
]


def print_table(header: list[str], row_of: Callable[[dict], str], paths: list[str]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for path in paths:
        print(row_of(json.loads(Path(path).read_text())))


def main() -> int:
    if sys.argv[1:2] == ["--clock"]:
        print_table(CLOCK_HEADER, clock_row, sys.argv[2:])
    else:
        print_table(HEADER, row, sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
