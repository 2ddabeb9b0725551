"""Staff stay staff: a gallery that grows from their own confirmed appearances, and presence as evidence.

Two failure modes put a staff member among the customers, and a staff visit counted as a customer visit
inflates every figure the owner reads (footfall, customers, walk-outs):

1. **A changed look.** Enrolment photos are taken once; haircut, glasses, lighting, a new camera angle drift
   the face away from them. Each day a cluster is recognised as STAFF_x (above the staff threshold and more
   like the staff member than like any customer), that day's cluster mean is stored as the staff member's
   registry row, like a customer's centroid. `staff_gallery` adds every stored day's centroid of a staff ID
   to its enrolment photos, so the next day is compared with the photos AND with how they looked lately:
   drift a little each day and you are still recognised.
2. **Nobody enrolled them** (a new helper, a relative minding the till). A "customer" whose visits cover more
   than `max_customer_share` (60%) of the day's recorded footage is behind the counter, not buying water:
   no refill takes hours. `staff_by_presence` turns such identities into staff for that day
   (`STAFF_UNENROLLED_<n>`), does not mint a customer ID for them (the following new customers keep
   consecutive numbers), and says why in `staff_reason`. Their registry row is a staff row, so from the next
   day on their face is in the staff gallery and a short appearance is staff too. The same holds for an
   identity seen in at least `min_recordings_seen` (5) of the day's recordings and more than half of them:
   a camera that records on motion writes one file per burst of customers,
   and a staff member who stands still behind the counter is seen in every one of them for a few seconds
   (the sampler looks where something changes), which the share of footage misses.

Plain Python: no Dagster here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from watershop_dagster.core.identities.matching import Assignment, IdentityResult, RegistryEntry, customer_id_of

UNENROLLED_PREFIX = "STAFF_UNENROLLED_"
REASON_ENROLLED = "recognised as enrolled staff"


@dataclass(frozen=True)
class StaffRules:
    max_customer_share: float = 0.6  # visits covering more of the day's footage than this are staff-like
    min_span_s: float = 3600.0  # a day with less footage says nothing about who stays all day
    # Seen in at least min_recordings_seen of the day's recordings (files) and in more than half of them:
    # staff-like. A regular may refill four or five times a day (the simulator's regulars do), so a third of
    # the recordings, or four of them, can be a customer.
    max_customer_recordings: float = 0.5
    min_recordings_seen: int = 5


@dataclass
class PresenceResult:
    result: IdentityResult
    reasons: dict[str, str] = field(default_factory=dict)  # id -> why it is staff (both kinds)
    promoted: dict[str, str] = field(default_factory=dict)  # customer id as first assigned -> staff id given


def staff_gallery(
    photos: dict[str, np.ndarray], registry_staff: Iterable[tuple[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """staff id -> (n, d) gallery: its enrolment photos plus every stored day's centroid of that id (rows of
    the registry with is_staff). A staff ID that has no photos (STAFF_UNENROLLED_n) is recognised from its
    stored centroids alone."""
    out = {sid: np.asarray(g, np.float32) for sid, g in photos.items()}
    for sid, centroid in registry_staff:
        c = np.asarray(centroid, np.float32)[None, :]
        out[sid] = np.vstack([out[sid], c]) if sid in out else c
    return out


def covered_seconds(intervals: Sequence[tuple[datetime, datetime]]) -> float:
    """Length of the union of [start, end] intervals, in seconds."""
    total, end = 0.0, None
    start = None
    for a, b in sorted(intervals):
        if end is None or a > end:
            if end is not None and start is not None:
                total += (end - start).total_seconds()
            start, end = a, b
        else:
            end = max(end, b)
    if end is not None and start is not None:
        total += (end - start).total_seconds()
    return total


def recordings(manifest: pd.DataFrame) -> list[tuple[datetime, datetime]]:
    """(start, end) of each usable file of the day (footage_manifest rows with status ok)."""
    if manifest is None or manifest.empty:
        return []
    ok = manifest[(manifest["status"] == "ok") & manifest["start_time"].notna() & manifest["end_time"].notna()]
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(ok["start_time"], ok["end_time"])]


def footage_span_seconds(manifest: pd.DataFrame) -> float:
    """Seconds of the day recorded by at least one usable file."""
    return covered_seconds(recordings(manifest))


def recording_shares(visits: pd.DataFrame, spans: Sequence[tuple[datetime, datetime]]) -> dict[str, float]:
    """Non-staff identity -> share of the day's recordings in which it was seen (a visit overlapping them)."""
    if visits.empty or not spans:
        return {}
    shares = {}
    for cid, rows in visits[~visits["is_staff"].astype(bool) & visits["customer_id"].notna()].groupby("customer_id"):
        seen = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(rows["entry_time"], rows["exit_time"])]
        hit = sum(1 for start, end in spans if any(a <= end and b >= start for a, b in seen))
        shares[str(cid)] = hit / len(spans)
    return shares


def presence_shares(visits: pd.DataFrame, span_s: float) -> dict[str, float]:
    """Non-staff identity -> share of the day's footage its visits cover (union of its visits)."""
    if visits.empty or span_s <= 0:
        return {}
    shares = {}
    for cid, rows in visits[~visits["is_staff"].astype(bool) & visits["customer_id"].notna()].groupby("customer_id"):
        spans = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(rows["entry_time"], rows["exit_time"])]
        shares[str(cid)] = covered_seconds(spans) / span_s
    return shares


def staff_by_presence(
    result: IdentityResult,
    visits: pd.DataFrame,
    span_s: float,
    registry: Sequence[RegistryEntry],
    next_number: int,
    rules: StaffRules | None = None,
    spans: Sequence[tuple[datetime, datetime]] = (),
) -> PresenceResult:
    """The identity result with every identity present for more than max_customer_share of the footage made
    staff: its tracks get a `STAFF_UNENROLLED_<n>` id (numbered after those already in the registry), IDs
    minted today for such people are taken back, and the other IDs minted today are renumbered from
    `next_number` in the same order, as if the staff member had never been a customer. `visits` are the
    visits built from `result` (rebuild them from the returned result)."""
    rules = rules or StaffRules()
    reasons = {cid: REASON_ENROLLED for cid in result.day_centroids if cid.startswith("STAFF_")}
    why: dict[str, str] = {}
    if span_s >= rules.min_span_s:
        for c, share in presence_shares(visits, span_s).items():
            if share > rules.max_customer_share:
                why[c] = f"present {share:.0%} of the day's footage (more than {rules.max_customer_share:.0%})"
    for c, share in recording_shares(visits, spans).items():
        seen = round(share * len(spans))
        if seen >= rules.min_recordings_seen and share > rules.max_customer_recordings and c not in why:
            why[c] = (
                f"seen in {seen} of the day's {len(spans)} recordings (more than half: no customer comes that often)"
            )
    staff_like = sorted(why, key=_first_entry(visits))
    if not staff_like:
        return PresenceResult(result, reasons)
    taken = {e.customer_id for e in registry if e.customer_id.startswith(UNENROLLED_PREFIX)}
    numbers = [int(t[len(UNENROLLED_PREFIX) :]) for t in taken if t[len(UNENROLLED_PREFIX) :].isdigit()]
    n = 1 + max(numbers, default=0)
    rename: dict[str, str] = {}
    for cid in staff_like:
        rename[cid] = f"{UNENROLLED_PREFIX}{n:02d}"
        reasons[rename[cid]] = why[cid]
        n += 1
    kept_new = [c for c in result.new_ids if c not in rename]
    for k, cid in enumerate(kept_new):
        rename[cid] = customer_id_of(next_number + k, cid[: cid.rindex("_") + 1])  # the minted ID's prefix
    promoted = {c: rename[c] for c in staff_like}
    assignments = {}
    for track, a in result.assignments.items():
        if a.customer_id in promoted:
            assignments[track] = Assignment(promoted[a.customer_id], None, True)
        else:
            assignments[track] = Assignment(rename.get(a.customer_id, a.customer_id), a.similarity, a.is_staff)
    centroids = {rename.get(c, c): v for c, v in result.day_centroids.items()}
    new = IdentityResult(
        assignments, centroids, [rename[c] for c in kept_new], unidentified_tracks=result.unidentified_tracks
    )
    return PresenceResult(new, reasons, promoted)


def _first_entry(visits: pd.DataFrame):
    first = visits.groupby("customer_id")["entry_time"].min().to_dict() if len(visits) else {}
    return lambda cid: (first.get(cid), cid)


def with_staff_reasons(visits: pd.DataFrame, reasons: dict[str, str]) -> pd.DataFrame:
    """visit_log rows with `staff_reason` filled for staff visits (NULL for customers)."""
    out = visits.copy()
    out["staff_reason"] = (
        [reasons.get(str(c), REASON_ENROLLED) if bool(s) else None for c, s in zip(out["customer_id"], out["is_staff"])]
        if len(out)
        else pd.Series(dtype=object)
    )
    return out
