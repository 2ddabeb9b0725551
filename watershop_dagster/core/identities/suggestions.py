"""Suggested merges: pairs of customer IDs that are probably one person, for the owner to confirm.

A person split in two leaves two IDs whose centroids are alike and who are never in the shop at the same
time; look-alikes the owner has ruled apart (not the same person, a split) are never suggested again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from watershop_dagster.core.identities.matching import customer_number

SUGGESTION_FLOOR = 0.15  # below this, two centroids are different people (bench/face_roc.py: impostors ~0.0)
COLUMNS = ["customer_id_a", "customer_id_b", "score"]


def seen_together(visits: pd.DataFrame) -> set[frozenset[str]]:
    """Pairs of IDs with overlapping visits on the same day: two people, whatever their faces say."""
    out: set[frozenset[str]] = set()
    if visits.empty:
        return out
    for _, day in visits.sort_values("entry_time").groupby("day"):
        open_: list[tuple[pd.Timestamp, str]] = []
        for r in day.itertuples():
            open_ = [(end, cid) for end, cid in open_ if end >= r.entry_time]
            out |= {frozenset((cid, r.customer_id)) for _, cid in open_ if cid != r.customer_id}
            open_.append((r.exit_time, r.customer_id))
    return out


def suggest_merges(
    registry: pd.DataFrame,
    visits: pd.DataFrame,
    ruled_apart: set[frozenset[str]],
    floor: float = SUGGESTION_FLOOR,
    limit: int = 500,
) -> pd.DataFrame:
    """registry: the current registry (customer_id, is_staff, centroid); visits: visit_log (day, customer_id,
    entry_time, exit_time). Pairs (older, newer, similarity), best first."""
    current = registry[~registry["is_staff"].astype(bool) & registry["centroid"].notna()]
    current = current[current["customer_id"].str.startswith("CUST_")]
    if len(current) < 2:
        return pd.DataFrame(columns=COLUMNS)
    ids = list(current["customer_id"])
    emb = np.stack([np.asarray(c, np.float32) for c in current["centroid"]])
    sims = emb @ emb.T
    together = seen_together(visits)
    ii, jj = np.where(np.triu(sims >= floor, 1))
    rows = []
    for i, j in zip(ii, jj):
        pair = frozenset((ids[i], ids[j]))
        if pair in ruled_apart or pair in together:
            continue
        a, b = sorted((ids[i], ids[j]), key=customer_number)
        rows.append((a, b, round(float(sims[i, j]), 4)))
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return pd.DataFrame(rows[:limit], columns=COLUMNS)
