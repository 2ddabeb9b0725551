"""Sales <-> visits: which customer was at the counter when the till rang.

A sale is linked to a non-staff visit whose presence, widened by a tolerance (till clocks drift, people
pay on the way out), covers the sale time. Where several customers are present, each candidate is scored by
how far the sale lies inside the visit (a sale in the middle of someone's stay beats one at the edge of
another's), and the link carries a confidence and an `ambiguous` flag. The till's own customer_id, where it
gave one, is kept; whether the camera agrees is reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

LINK_COLUMNS = [
    "transaction_id",
    "timestamp",
    "till_customer_id",
    "visit_id",
    "camera_customer_id",
    "customer_id",
    "confidence",
    "ambiguous",
    "candidates",
    "seconds_outside_visit",
    "agrees_with_till",
]


@dataclass(frozen=True)
class LinkRules:
    tolerance_s: float = 60.0
    ambiguous_below: float = 0.75  # confidence under which a link is flagged ambiguous


def _score(ts: pd.Timestamp, entry: pd.Timestamp, exit_: pd.Timestamp, tolerance: float) -> tuple[float, float]:
    """(score, seconds outside the visit). Inside: 1 at the middle, 0.5 at the edges; outside: falls to 0
    at the tolerance."""
    if entry <= ts <= exit_:
        half = max((exit_ - entry).total_seconds() / 2, 1e-6)
        centre = entry + (exit_ - entry) / 2
        return 1.0 - 0.5 * abs((ts - centre).total_seconds()) / half, 0.0
    outside = (entry - ts).total_seconds() if ts < entry else (ts - exit_).total_seconds()
    return max(0.0, 0.5 * (1 - outside / tolerance)), outside


def link_transactions(
    transactions: pd.DataFrame,
    visits: pd.DataFrame,
    rules: LinkRules | None = None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`transactions`: transaction_id, timestamp, customer_id. `visits`: visit_id, customer_id, entry_time,
    exit_time, is_staff. `history`: earlier days' links (till_customer_id, camera_customer_id), for judging
    whether the camera agrees with the till's ledger IDs."""
    rules = rules or LinkRules()
    customers = visits[~visits["is_staff"].astype(bool)] if len(visits) else visits
    rows = []
    for t in transactions.sort_values("timestamp").itertuples(index=False):
        ts = pd.Timestamp(t.timestamp)
        scored = []
        for v in customers.itertuples(index=False):
            s, outside = _score(ts, pd.Timestamp(v.entry_time), pd.Timestamp(v.exit_time), rules.tolerance_s)
            if s > 0:
                scored.append((s, outside, v.visit_id, v.customer_id))
        till_id = t.customer_id if isinstance(t.customer_id, str) and t.customer_id else None
        if scored:
            scored.sort(reverse=True)
            best = scored[0]
            confidence = best[0] / sum(s[0] for s in scored)
            visit_id, camera_id, outside = best[2], best[3], best[1]
            ambiguous = len(scored) > 1 and confidence < rules.ambiguous_below
        else:
            confidence, visit_id, camera_id, outside, ambiguous = 0.0, None, None, None, False
        rows.append(
            {
                "transaction_id": t.transaction_id,
                "timestamp": ts,
                "till_customer_id": till_id,
                "visit_id": visit_id,
                "camera_customer_id": camera_id,
                "customer_id": till_id or camera_id,
                "confidence": round(confidence, 4),
                "ambiguous": ambiguous,
                "candidates": len(scored),
                "seconds_outside_visit": outside,
                "agrees_with_till": None,
            }
        )
    return mark_agreement(pd.DataFrame(rows, columns=LINK_COLUMNS), history)


def mark_agreement(links: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Does the camera agree with the till's customer_id? Where the till uses the camera's own IDs
    (CUST_...), agreement is equality; where it keeps its own ledger IDs, a ledger ID agrees when its sale
    went to the camera identity that most of that ledger ID's sales go to (`history`: earlier links)."""
    links = links.copy()
    pool = pd.concat([history, links]) if history is not None and len(history) else links
    both = pool.dropna(subset=["till_customer_id", "camera_customer_id"])
    majority: dict[str, str] = {}
    counts: dict[str, Counter] = defaultdict(Counter)
    for till_id, cam_id in zip(both["till_customer_id"], both["camera_customer_id"]):
        counts[till_id][cam_id] += 1
    for till_id, c in counts.items():
        majority[till_id] = c.most_common(1)[0][0]

    def agrees(r):
        if not isinstance(r.till_customer_id, str) or not isinstance(r.camera_customer_id, str):
            return None
        if r.till_customer_id.startswith("CUST_"):
            return r.till_customer_id == r.camera_customer_id
        return majority.get(r.till_customer_id) == r.camera_customer_id

    links["agrees_with_till"] = (
        [agrees(r) for r in links.itertuples(index=False)] if len(links) else pd.Series(dtype=object)
    )
    return links


def link_summary(links: pd.DataFrame) -> dict[str, float]:
    n = len(links)
    linked = int(links["visit_id"].notna().sum()) if n else 0
    checked = links["agrees_with_till"].dropna() if n else pd.Series(dtype=bool)
    return {
        "transactions": n,
        "linked": linked,
        "linked_share": round(linked / n, 4) if n else 0.0,
        "ambiguous": int(links["ambiguous"].sum()) if n else 0,
        "mean_confidence": round(float(np.mean(links["confidence"])), 4) if n else 0.0,
        "till_ids_checked": len(checked),
        "till_camera_agreement": round(float(checked.astype(bool).mean()), 4) if len(checked) else 0.0,
    }
