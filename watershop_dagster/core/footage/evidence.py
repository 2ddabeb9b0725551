"""Evidence weighed across a face track instead of a per-face size cut-off.

A 24-28 px face is embedded (faces.QualityRules.min_face_px = 24) but says less than a 56 px one, and a soft
face less than a sharp one: each embedded face counts with its `faces.size_weight` (the ROC by face size,
bench/face_roc_by_size.py) times its `faces.sharpness_weight` (bench/face_sharpness.py), and a track is
identified only when the sum over its embedded faces reaches `MIN_TRACK_EVIDENCE`; a weaker track may only
confirm an ID already known (`IdentityRules.weak_match_threshold`), never make one.

MIN_TRACK_EVIDENCE = 1.7 is the old rule's weakest identified track expressed in the new unit: two faces of
36 px (the old per-face cut-off) weigh 2 x 0.87 = 1.74. So a track of two 40 px faces (1.82) or three 24 px
faces (1.98) is identified, two 28 px faces (1.54) are not: far customers need more looks, not a bigger face.
(`IdentityRules.min_usable_faces`, two embedded faces, still applies.) The sharpness weight is 1 from a
sharpness of 75, 0.93 at 37.5 and 0.54 at the gate (15); the faces of the shop-camera evaluation days are
mostly above 30, so the rule's unit is nearly unchanged for them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.faces import sharpness_weight, size_weight

MIN_TRACK_EVIDENCE = 1.7


def track_evidence(tracks: pd.DataFrame, detections: pd.DataFrame, embedded: Mapping[str, np.ndarray]) -> list[float]:
    """Per face_tracks row: the sum of size_weight x sharpness_weight over its faces that have an embedding."""
    weights = (
        {
            # an unknown sharpness (NaN) counts as the softest, never as no evidence at all
            d: size_weight(float(size)) * sharpness_weight(float(np.nan_to_num(sharp, nan=0.0)))
            for d, size, sharp in zip(
                detections["detection_id"], detections["face_size"], detections["sharpness"], strict=True
            )
        }
        if len(detections)
        else {}
    )
    return [
        float(sum(weights[d] for d in (ids if ids is not None else []) if d in embedded))
        for ids in (tracks["detection_ids"] if len(tracks) else [])
    ]


def identifiable(tracks: pd.DataFrame, min_evidence: float = MIN_TRACK_EVIDENCE) -> pd.DataFrame:
    """face_tracks rows with a `weak` column: True for tracks under `min_evidence`. A weak track never makes or
    moves an identity; it may only confirm one already known, by a stricter match
    (`IdentityRules.weak_match_threshold`); otherwise it stays a track counted as unidentified. Rows written
    before evidence was stored (NULL) are not weak."""
    out = tracks.copy()
    out["weak"] = (out["evidence"].notna() & (out["evidence"] < min_evidence)) if "evidence" in out.columns else False
    return out
