"""Identified tracks -> visits: one person's continuous presence in the shop.

A person's tracks are merged while the gap between them is short: turning away from the camera, being
hidden behind another customer or the detector missing a few frames must not split a visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from watershop_dagster.core.identities.cameras import CAMERA_SPANS, FACE_SPANS, camera_list
from watershop_dagster.core.identities.matching import Assignment
from watershop_dagster.core.storage.schemas import VISIT_LOG


@dataclass(frozen=True)
class VisitRules:
    max_gap_s: float = 60.0


def build_visits(
    day: date, tracks: pd.DataFrame, assignments: dict[str, Assignment], rules: VisitRules | None = None
) -> pd.DataFrame:
    """`tracks` needs track_id, first_time, last_time, faces, mean_quality, best_crop_path (camera where there is
    one). Besides visit_log's columns, `camera_spans` (not stored): each camera's track spans behind a visit;
    and `face_spans`: where the tracks carry face_first_time/face_last_time (`bodies.extend_by_bodies`), the
    spans in which each camera saw the face itself."""
    rules = rules or VisitRules()
    cols = [c for c in VISIT_LOG.column_names if c != "day"]
    known = tracks[tracks["track_id"].isin(assignments)].copy()
    if known.empty:
        return pd.DataFrame(columns=[*cols, CAMERA_SPANS, FACE_SPANS])
    known["customer_id"] = known["track_id"].map(lambda t: assignments[t].customer_id)
    visits = []
    for customer_id, rows in known.sort_values("first_time").groupby("customer_id", sort=False):
        current = None
        for r in rows.itertuples(index=False):
            if current is not None and (r.first_time - current["exit_time"]).total_seconds() <= rules.max_gap_s:
                current["exit_time"] = max(current["exit_time"], r.last_time)
                current["faces_seen"] += int(r.faces)
                current["tracks"] += 1
                current[CAMERA_SPANS].setdefault(getattr(r, "camera", None), []).append((r.first_time, r.last_time))
                if (face := _face_span(r)) is not None:
                    current[FACE_SPANS].setdefault(getattr(r, "camera", None), []).append(face)
                if r.mean_quality > current["_best_q"]:
                    current["_best_q"], current["best_crop_path"] = r.mean_quality, r.best_crop_path
                continue
            a = assignments[r.track_id]
            current = {
                "customer_id": customer_id,
                "entry_time": r.first_time,
                "exit_time": r.last_time,
                "faces_seen": int(r.faces),
                "tracks": 1,
                "match_similarity": a.similarity,
                "best_crop_path": r.best_crop_path,
                "is_staff": a.is_staff,
                "_best_q": r.mean_quality,
                CAMERA_SPANS: {getattr(r, "camera", None): [(r.first_time, r.last_time)]},
                FACE_SPANS: {getattr(r, "camera", None): [face]} if (face := _face_span(r)) is not None else {},
            }
            visits.append(current)
    visits.sort(key=lambda v: (v["entry_time"], v["customer_id"]))
    for n, v in enumerate(visits, start=1):
        v["visit_id"] = f"{day.isoformat()}/V{n:04d}"
        v["duration_seconds"] = (v["exit_time"] - v["entry_time"]).total_seconds()
        v.pop("_best_q")
        v[CAMERA_SPANS] = {c: spans for c, spans in v[CAMERA_SPANS].items() if isinstance(c, str)}
        v[FACE_SPANS] = {c: spans for c, spans in v[FACE_SPANS].items() if isinstance(c, str)}
        v["cameras"] = camera_list(set(v[CAMERA_SPANS]))
    return pd.DataFrame(visits, columns=[*cols, CAMERA_SPANS, FACE_SPANS])


def _face_span(track) -> tuple | None:
    """(first, last) time the track's face itself was seen, where the row says (face_first_time)."""
    first, last = getattr(track, "face_first_time", None), getattr(track, "face_last_time", None)
    return (first, last) if first is not None and last is not None and pd.notna(first) and pd.notna(last) else None
