"""Suggested merges: pairs of customer IDs that are probably one person, for the owner to confirm.

A person split in two leaves two IDs whose centroids are alike and who are never in the shop at the same
time; look-alikes the owner has ruled apart (not the same person, a split) are never suggested again.

The till says more where regulars pay on a ledger account (its `customer_id`): two IDs whose clear sales were
booked to the same account are probably one person whose faces read differently on different days (at 28-40
px a person's two days can be less alike than two people's), and two IDs each booked only to accounts of its
own are probably two. So pairs that share an account come first, pairs on different accounts last, and the
rest by similarity between them. An account a family shares joins its members too: the owner decides.

Within those, pairs never seen on the same day come before pairs that were (at different times): a day's
faces are clustered together before any ID is minted, so one person's visits of a day mostly share one ID,
and a person split in two is split across days. Two IDs of one day are mostly two people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from watershop_dagster.core.identities.matching import customer_number

SUGGESTION_FLOOR = 0.15  # below this, two centroids are different people (bench/face_roc.py: impostors ~0.0)
COLUMNS = ["customer_id_a", "customer_id_b", "score", "shared_account", "other_accounts", "same_day", "rank"]


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


def till_accounts(links: pd.DataFrame) -> dict[str, set[str]]:
    """ID -> the ledger accounts the till booked its clearly linked sales to. links: transaction_links
    (camera_customer_id, till_customer_id, ambiguous); an ambiguous link says nothing about who paid, and a
    camera ID in the till's column is not an account."""
    clear = links[~links["ambiguous"].fillna(True).astype(bool)]
    clear = clear[clear["camera_customer_id"].notna() & clear["till_customer_id"].notna()]
    # a till that books the camera's own IDs (CUST_...) names identities, not accounts: no evidence here
    clear = clear[~clear["till_customer_id"].astype(str).str.startswith(("CUST_", "STAFF_"))]
    accounts: dict[str, set[str]] = {}
    for cid, account in zip(clear["camera_customer_id"], clear["till_customer_id"]):
        accounts.setdefault(str(cid), set()).add(str(account))
    return accounts


def suggest_merges(
    registry: pd.DataFrame,
    visits: pd.DataFrame,
    ruled_apart: set[frozenset[str]],
    accounts: dict[str, set[str]] | None = None,
    floor: float = SUGGESTION_FLOOR,
    limit: int = 500,
) -> pd.DataFrame:
    """registry: the current registry (customer_id, is_staff, centroid); visits: visit_log (day, customer_id,
    entry_time, exit_time); accounts: `till_accounts`. Pairs (older, newer, similarity, an account both paid
    on, whether they paid on different accounts only, whether both were seen on one day, rank), best first."""
    accounts = accounts or {}
    current = registry[~registry["is_staff"].astype(bool) & registry["centroid"].notna()]
    current = current[current["customer_id"].str.startswith("CUST_")]
    if len(current) < 2:
        return pd.DataFrame(columns=COLUMNS)
    ids = list(current["customer_id"])
    emb = np.stack([np.asarray(c, np.float32) for c in current["centroid"]])
    sims = emb @ emb.T
    together = seen_together(visits)
    seen = visits[visits["customer_id"].notna()]
    days_of = {cid: set(days) for cid, days in seen.groupby("customer_id")["day"]}
    ii, jj = np.where(np.triu(sims >= floor, 1))
    rows = []
    for i, j in zip(ii, jj):
        pair = frozenset((ids[i], ids[j]))
        if pair in ruled_apart or pair in together:
            continue
        a, b = sorted((ids[i], ids[j]), key=customer_number)
        on_a, on_b = accounts.get(a, set()), accounts.get(b, set())
        shared = min(on_a & on_b) if on_a & on_b else None
        same_day = bool(days_of.get(a, set()) & days_of.get(b, set()))
        rows.append((a, b, round(float(sims[i, j]), 4), shared, bool(on_a and on_b and not shared), same_day))
    rows.sort(key=lambda r: (r[3] is None, r[4], r[5], -r[2], r[0], r[1]))
    return pd.DataFrame([(*r, k + 1) for k, r in enumerate(rows[:limit])], columns=COLUMNS)


def in_rank_order(table: pd.DataFrame) -> pd.DataFrame:
    """The stored suggestions best first; a warehouse written before ranks existed is ordered by score."""
    if "rank" in table and table["rank"].notna().all():
        return table.sort_values("rank", kind="stable")
    return table.sort_values(["score", "customer_id_a", "customer_id_b"], ascending=[False, True, True])
