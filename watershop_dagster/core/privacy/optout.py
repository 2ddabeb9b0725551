"""Opt-out beyond the single face: one face matching a photo of `data/optout/` stands for its whole track and
for every face track of the same body; and an ID given before the photo was added is found for the owner.

A face of a shop camera (28-40 px) does not always reach the opt-out threshold against a phone photo, so a
check face by face lets some of an opted-out person's faces through; these functions carry one match over
to everything that is the same person for certain within the day. `OptOutList` (core/footage/analysis.py)
makes the match. A photo acts on the days analysed after it is added: `ids_like_opted_out` finds the IDs
the person already had, whose centroids (the mean of many faces) reach the photo where single faces often
do not (bench/optout_centroids.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.tracking import build_tracks
from watershop_dagster.core.identities.matching import IdentityRules

OPTOUT_MATCH_COLUMNS = ["customer_id", "optout_name", "similarity"]


def _opted_out(detections: pd.DataFrame) -> set[str]:
    return set(detections.loc[detections["reject_reason"] == "opted_out", "detection_id"])


def opt_out_whole_tracks(
    detections: pd.DataFrame, embeddings: pd.DataFrame, opted_vectors: dict[str, np.ndarray] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's faces with every face of a track that holds an `opted_out` face opted out too: no embedding,
    no crop (the file deleted), no landmarks; an erased (`forgotten`) face keeps its reason. Tracks are built as
    `face_tracks` builds them, with the opted-out faces' vectors
    (`opted_vectors`, held in memory by the caller, never stored) so that an opted-out face passing someone
    who stands still is not taken for part of that person's track."""
    opted_vectors = opted_vectors or {}
    # a face both opted out and erased is stored as `forgotten`: it still stands for its track
    opted = _opted_out(detections) | set(opted_vectors)
    if not opted:
        return detections, embeddings
    vectors = {d: np.asarray(e, np.float32) for d, e in zip(embeddings["detection_id"], embeddings["embedding"])}
    vectors.update(opted_vectors)
    spread = {
        d
        for track in build_tracks(detections, vectors)
        if opted & set(track.detection_ids)
        for d in track.detection_ids
    } - opted
    if not spread:
        return detections, embeddings
    out = detections.copy()
    rows = out["detection_id"].isin(spread) & (out["reject_reason"] != "forgotten")  # an erased face stays so
    for crop in out.loc[rows, "crop_path"].dropna():
        Path(crop).unlink(missing_ok=True)
    out.loc[rows, "reject_reason"] = "opted_out"
    out.loc[rows, "usable"] = False
    out.loc[rows, "crop_path"] = None
    out.loc[rows, "landmarks"] = None
    return out, embeddings[~embeddings["detection_id"].isin(spread)].reset_index(drop=True)


def opted_out_face_tracks(tracks: pd.DataFrame, detections: pd.DataFrame, bodies_of: Mapping[str, str]) -> set[str]:
    """The day's face tracks that may identify nobody: each holding an opted-out face (however it was tracked:
    `face_tracks` tracks without the opted-out faces' vectors), and each joined to the same body as one of those
    (`bodies_of`: face track -> person track): a face lost and found again in one visit makes a second face
    track, which one match in the first stands for too."""
    opted = _opted_out(detections)
    if not opted or tracks.empty:
        return set()
    holding = {t for t, ids in zip(tracks["track_id"], tracks["detection_ids"]) if ids is not None and opted & set(ids)}
    bodies = {bodies_of[t] for t in holding if t in bodies_of}
    return holding | {t for t, body in bodies_of.items() if body in bodies}


def ids_like_opted_out(
    centroids: pd.DataFrame, gallery: Mapping[str, np.ndarray], threshold: float = IdentityRules.match_threshold
) -> pd.DataFrame:
    """The customer IDs whose centroid looks like a person of the opt-out list (`photo_gallery` of
    data/optout/: name -> photo embeddings), most alike first, one row each with the best-matching name: IDs
    enrolled before the person asked, or on a day none of their faces reached the opt-out threshold. The
    owner forgets them (`watershop forget`); nothing is erased here. centroids: customer_id, centroid (NULL
    once forgotten). The threshold is the one at which the registry gives a face track a known ID: the ID the
    photo itself would have been given (bench/optout_centroids.py: every report-half centroid reached its own
    person's photo at 0.30 and none another's)."""
    known = centroids[centroids["centroid"].notna()]
    if known.empty or not gallery:
        return pd.DataFrame(columns=OPTOUT_MATCH_COLUMNS)
    vectors = np.stack([np.asarray(c, np.float32) for c in known["centroid"]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = list(gallery)
    best = np.stack([(vectors @ np.asarray(gallery[n], np.float32).T).max(axis=1) for n in names], axis=1)
    who = best.argmax(axis=1)
    rows = [
        (cid, names[k], round(float(best[i, k]), 4))
        for i, (cid, k) in enumerate(zip(known["customer_id"], who))
        if best[i, k] >= threshold
    ]
    rows.sort(key=lambda r: (-r[2], r[0]))
    return pd.DataFrame(rows, columns=OPTOUT_MATCH_COLUMNS)
