"""The fixed split of the labelled face photos' people into a `tune` half and a `report` half.

Thresholds and weights are set on the people of the tune half (bench/face_roc_by_size.py); figures that
claim accuracy are measured on the report half (bench/evaluate_visits.py --half report, its default). The
split is a hash of the person's name (the identity column of faces/manifest.csv): fixed in code, no random
state, the same on every machine.
"""

from __future__ import annotations

import hashlib

HALVES = ("tune", "report")


def half_of(person: str) -> str:
    """`tune` or `report`, from the first byte of the md5 of the name."""
    return "tune" if hashlib.md5(person.encode()).digest()[0] % 2 == 0 else "report"
