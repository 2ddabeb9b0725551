"""Tracks -> anonymous identities that persist across days.

Day N is matched against the registry as it stood after day N-1. First the day's tracks are clustered among
themselves (average linkage on track-mean embeddings): several tracks of one person in a day agree with each
other far better than single frames do. Each cluster is then compared with the enrolled staff, then with
the registry's centroids; a cluster that matches nobody becomes a new customer. IDs are minted in order of
first appearance, so re-running a day with the same inputs gives the same IDs.

Thresholds come from the ROC on ../shared/data/faces (bench/face_roc.py): single photo pairs of the same
person score >= 0.30 in 97.7% of cases while different people do so in 0.01%; cluster and centroid means
are steadier still. bench/identity_sweep.py replays the identity stage on stored tracks to compare settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage

from watershop_dagster.core.footage.tracking import stack_embeddings


@dataclass(frozen=True)
class IdentityRules:
    match_threshold: float = 0.30  # cluster mean vs registry centroid
    cluster_threshold: float = 0.40  # average similarity to join tracks of one day (lower merges look-alike siblings)
    staff_threshold: float = 0.32
    min_usable_faces: int = 2  # a track with fewer embedded faces cannot be identified
    weight_cap: float = 50.0  # old evidence keeps at most this weight, so a face can age


@dataclass
class RegistryEntry:
    customer_id: str
    centroid: np.ndarray
    weight: float
    is_staff: bool
    first_seen: date
    visit_count: int
    best_crop_path: str | None = None


@dataclass
class Assignment:
    customer_id: str
    similarity: float | None  # to the registry identity; None for a new one
    is_staff: bool


@dataclass
class IdentityResult:
    assignments: dict[str, Assignment]  # track_id -> identity
    day_centroids: dict[str, tuple[np.ndarray, float, str | None]] = field(
        default_factory=dict
    )  # id -> (mean, weight, best crop)
    new_ids: list[str] = field(default_factory=list)
    unidentified_tracks: int = 0


def customer_number(customer_id: str) -> int:
    try:
        return int(customer_id.split("_")[-1]) if customer_id.startswith("CUST_") else 0
    except ValueError:
        return 0


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)


def cluster_tracks(embeddings: np.ndarray, threshold: float) -> np.ndarray:
    if len(embeddings) == 0:
        return np.zeros(0, int)
    if len(embeddings) == 1:
        return np.ones(1, int)
    sims = np.clip(embeddings @ embeddings.T, -1, 1)
    dist = 1.0 - sims[np.triu_indices(len(embeddings), 1)]
    return fcluster(linkage(np.maximum(dist, 0), method="average"), t=1.0 - threshold, criterion="distance")


def assign_identities(
    tracks: pd.DataFrame,
    registry: list[RegistryEntry],
    staff: dict[str, np.ndarray],
    next_number: int,
    rules: IdentityRules | None = None,
    excluded_ids: set[str] | None = None,
) -> IdentityResult:
    """`tracks` needs track_id, first_time, usable_faces, mean_quality, best_crop_path, embedding.
    `staff` maps a staff id to its enrolment embeddings (n, d). `excluded_ids` are forgotten identities
    that must never be matched again."""
    rules = rules or IdentityRules()
    usable = tracks[(tracks["usable_faces"] >= rules.min_usable_faces) & tracks["embedding"].notna()].sort_values(
        "first_time"
    )
    result = IdentityResult({}, unidentified_tracks=len(tracks) - len(usable))
    if usable.empty:
        return result
    embs = stack_embeddings(usable["embedding"])
    weights = (usable["usable_faces"].to_numpy() * usable["mean_quality"].to_numpy()).astype(np.float64) + 1e-3
    labels = cluster_tracks(embs, rules.cluster_threshold)

    customers = [e for e in registry if not e.is_staff and e.customer_id not in (excluded_ids or set())]
    centroids = np.stack([e.centroid for e in customers]) if customers else np.zeros((0, embs.shape[1]), np.float32)
    # Clusters in order of first appearance: new IDs are numbered the way the day unfolded.
    order = []
    for label in labels:
        if label not in order:
            order.append(label)
    for label in order:
        idx = np.where(labels == label)[0]
        mean = _unit((embs[idx] * weights[idx, None]).sum(axis=0))
        weight = float(weights[idx].sum())
        best_row = usable.iloc[idx[np.argmax(weights[idx])]]
        staff_id, staff_sim = None, -1.0
        for sid, gallery in staff.items():
            s = float((gallery @ mean).max())
            if s > staff_sim:
                staff_id, staff_sim = sid, s
        sims = centroids @ mean if len(centroids) else np.zeros(0)
        best = int(np.argmax(sims)) if len(sims) else -1
        best_sim = float(sims[best]) if best >= 0 else -1.0
        # Staff only when the face is more like the staff member than like any known customer: look-alikes
        # (siblings) exist, and a customer hidden as staff disappears from every figure.
        if staff_id is not None and staff_sim >= rules.staff_threshold and staff_sim >= best_sim:
            assignment = Assignment(staff_id, staff_sim, True)
        elif best_sim >= rules.match_threshold:
            assignment = Assignment(customers[best].customer_id, best_sim, False)
        else:
            new_id = f"CUST_{next_number:04d}"
            next_number += 1
            result.new_ids.append(new_id)
            assignment = Assignment(new_id, None, False)
            # Later clusters of the same day are matched against it as against the registry: the day's
            # clustering is stricter (look-alikes), and one person must not get two IDs on their first day
            # when the second would have matched the first on any later day.
            customers.append(RegistryEntry(new_id, mean, weight, False, date.min, 0))
            centroids = np.vstack([centroids, mean[None, :]])
        for i in idx:
            result.assignments[usable.iloc[i]["track_id"]] = assignment
        prev = result.day_centroids.get(assignment.customer_id)
        if prev is not None:
            merged = _unit(prev[0] * prev[1] + mean * weight)
            result.day_centroids[assignment.customer_id] = (merged, prev[1] + weight, prev[2])
        else:
            result.day_centroids[assignment.customer_id] = (mean, weight, best_row["best_crop_path"])
    return result


def updated_entry(
    old: RegistryEntry | None,
    customer_id: str,
    day: date,
    day_mean: np.ndarray,
    day_weight: float,
    visits_today: int,
    is_staff: bool,
    crop: str | None,
    rules: IdentityRules,
) -> RegistryEntry:
    if old is None:
        return RegistryEntry(
            customer_id, day_mean, min(day_weight, rules.weight_cap), is_staff, day, visits_today, crop
        )
    w_old = min(old.weight, rules.weight_cap)
    centroid = _unit(old.centroid * w_old + day_mean * day_weight)
    return RegistryEntry(
        customer_id,
        centroid,
        min(w_old + day_weight, rules.weight_cap),
        is_staff,
        old.first_seen,
        old.visit_count + visits_today,
        crop or old.best_crop_path,
    )
