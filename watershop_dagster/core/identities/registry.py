"""The registry's rows for one day: every identity seen, with its state after the day."""

from __future__ import annotations

from datetime import date

import pandas as pd

from watershop_dagster.core.identities.matching import IdentityResult, IdentityRules, RegistryEntry, updated_entry
from watershop_dagster.core.storage.schemas import CUSTOMER_REGISTRY

REGISTRY_COLUMNS = [c for c in CUSTOMER_REGISTRY.column_names if c != "day"]


def registry_rows(
    day: date,
    before: list[RegistryEntry],
    result: IdentityResult,
    visits: pd.DataFrame,
    rules: IdentityRules,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per identity seen on `day`: its centroid moved towards the day's faces, its visit count grown by
    the day's visits (counted from the visits already built, not built again)."""
    visits_per_id = visits["customer_id"].value_counts().to_dict() if len(visits) else {}
    previous = {e.customer_id: e for e in before}
    # Staff by enrolment, or because the owner said so (staff, ignored): left out of customer figures.
    staff_ids = {a.customer_id for a in result.assignments.values() if a.is_staff}
    rows = []
    for cid, (mean, weight, crop) in result.day_centroids.items():
        is_staff = cid.startswith("STAFF_") or cid in staff_ids
        today = int(visits_per_id.get(cid, 0))
        e = updated_entry(previous.get(cid), cid, day, mean, weight, today, is_staff, crop, rules)
        rows.append(
            {
                "customer_id": cid,
                "is_staff": is_staff,
                "is_new": cid not in previous,
                "first_seen": e.first_seen,
                "last_seen": day,
                "visit_count": e.visit_count,
                "visits_today": today,
                "weight": e.weight,
                "centroid": e.centroid.tolist(),
                "best_crop_path": e.best_crop_path,
                "label": (labels or {}).get(cid),
            }
        )
    return pd.DataFrame(rows, columns=REGISTRY_COLUMNS)
