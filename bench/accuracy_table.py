"""The README's accuracy table from bench/evaluate_visits.py reports (report.json in each --out folder).

    .venv/bin/python bench/accuracy_table.py bench/out/eval_*/report.json

One row per report: the footage conditions, then the figures the issue sets targets for.
"""

import json
import sys
from pathlib import Path


def _f(x: float) -> str:
    return f"{x:.3f}"


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
            f"{r['days']} d, {r['truth_visits']} visits ({r['truth_faceless_visits']} faceless), {c['half']} half",
            recall,
            _f(r["precision"]),
            _f(r["bcubed_f1"]),
            ids,
            f"{r['linked_to_right_person']}/{r['sales']} ({_f(r['link_accuracy'])})",
            f"{r['ambiguous_share']:.1%}",
            str(r["staff_visits_counted_as_customers"]) + " |",
        ]
    )


def main() -> int:
    print(
        "| condition | camera | faceless | max waiting | staff | run | recall faced / faceless | precision "
        "| BCubed F1 | IDs / true (with a face) | sales linked right | ambiguous | staff visits as customers |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        print(row(json.loads(Path(path).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
