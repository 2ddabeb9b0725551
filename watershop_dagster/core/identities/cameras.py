"""One person, several cameras: one visit.

A shop with a door camera and a counter camera sees most people on both. A face names them on both only
where both saw the face: the visits of one identity are already built across cameras (`visits.py`). A body
without a face is a visit of its own camera (`bodies.py`), and without this step the same customer would be
counted once per camera that saw them without a face: a faceless customer twice, a customer whose face only the
counter camera saw once with an ID and once more, unidentified, from the door camera's body.

The cameras are not calibrated to one another, so "the same person" is read from time alone: an unidentified
visit of camera C is matched one to one (an assignment, largest shared time first) to the visits camera C did
not see, and folded into its partner when the two share most of the shorter one's time. One to one keeps the
count right in a queue: two people in view of both cameras at once are two pairs, not one visit.

Plain Python: no Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CAMERA_SEPARATOR = ","


@dataclass(frozen=True)
class CameraRules:
    # Share of the shorter visit's time that an unidentified visit and its partner on other cameras must
    # share to be one person. Half: a camera that sees a person only part of their stay (the door camera as
    # they come in) still joins, and a customer's own visit is never folded into a neighbour's mere passing.
    min_shared: float = 0.5


def cameras_of(value: object) -> frozenset[str]:
    """The cameras of a visit_log row's `cameras` value (comma-separated; empty or NULL for rows stored before
    the column)."""
    if not isinstance(value, str) or not value:
        return frozenset()
    return frozenset(value.split(CAMERA_SEPARATOR))


def camera_list(cameras: frozenset[str] | set[str]) -> str:
    return CAMERA_SEPARATOR.join(sorted(cameras))


def _seconds(t: pd.Series) -> np.ndarray:
    return (pd.to_datetime(t).astype("int64") / 1e9).to_numpy(dtype=float)


def _shared_time(entry_a, exit_a, entry_b, exit_b) -> tuple[np.ndarray, np.ndarray]:
    """Seconds shared and the shorter span's seconds, for every pair (rows: a, columns: b)."""
    shared = np.minimum(exit_a[:, None], exit_b[None, :]) - np.maximum(entry_a[:, None], entry_b[None, :])
    shorter = np.minimum((exit_a - entry_a)[:, None], (exit_b - entry_b)[None, :])
    return np.clip(shared, 0.0, None), np.maximum(shorter, 1e-6)


def one_visit_per_person(visits: pd.DataFrame, rules: CameraRules | None = None) -> pd.DataFrame:
    """`visits`: visit_log rows (identified and unidentified, without visit_id) with `cameras`. Each unidentified
    visit seen by one camera only is folded into the visit of other cameras it is matched to (module
    docstring): the partner keeps its identity, takes the earlier entry and later exit, and adds the camera.
    Rows are returned in their order, folded ones dropped."""
    rules = rules or CameraRules()
    if visits.empty or "cameras" not in visits:
        return visits
    out = visits.copy().reset_index(drop=True)
    cams = [cameras_of(c) for c in out["cameras"]]
    if len(set().union(*cams)) < 2:
        return out
    identified = out["identified"].fillna(True).astype(bool).to_numpy()
    entry, exit_ = _seconds(out["entry_time"]), _seconds(out["exit_time"])
    dropped: set[int] = set()
    from scipy.optimize import linear_sum_assignment  # imported when needed: a second of start-up

    for camera in sorted(set().union(*cams)):
        own = [i for i in range(len(out)) if i not in dropped and not identified[i] and cams[i] == {camera}]
        others = [i for i in range(len(out)) if i not in dropped and camera not in cams[i] and cams[i]]
        if not own or not others:
            continue
        a, b = np.array(own), np.array(others)
        shared, shorter = _shared_time(entry[a], exit_[a], entry[b], exit_[b])
        union = (exit_[a] - entry[a])[:, None] + (exit_[b] - entry[b])[None, :] - shared
        iou = shared / np.maximum(union, 1e-6)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if shared[r, c] / shorter[r, c] < rules.min_shared:
                continue
            i, j = int(a[r]), int(b[c])
            entry[j], exit_[j] = min(entry[j], entry[i]), max(exit_[j], exit_[i])
            out.at[j, "entry_time"] = min(out.at[j, "entry_time"], out.at[i, "entry_time"])
            out.at[j, "exit_time"] = max(out.at[j, "exit_time"], out.at[i, "exit_time"])
            cams[j] = cams[j] | {camera}
            out.at[j, "cameras"] = camera_list(cams[j])
            dropped.add(i)
    return out.drop(index=sorted(dropped)).reset_index(drop=True)
