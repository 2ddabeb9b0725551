"""Evidence weighed across a face track: small faces count for less, a track needs enough of them."""

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.evidence import MIN_TRACK_EVIDENCE, identifiable, track_evidence
from watershop_dagster.core.footage.faces import QualityRules, size_weight


def test_size_weight_follows_the_roc_curve():
    assert size_weight(20) == 0.0  # below what the ROC supports: not embedded at all
    assert size_weight(24) == 0.66 and size_weight(56) == 1.0 and size_weight(200) == 1.0
    assert size_weight(24) < size_weight(28) < size_weight(36) < size_weight(40) < size_weight(56)
    assert QualityRules().min_face_px == 24.0


def _tracks(sizes_per_track):
    det_rows, track_rows, vectors = [], [], {}
    for t, sizes in enumerate(sizes_per_track):
        ids = []
        for n, (size, embedded) in enumerate(sizes):
            did = f"t{t}/d{n}"
            ids.append(did)
            det_rows.append({"detection_id": did, "face_size": float(size)})
            if embedded:
                vectors[did] = np.ones(4, np.float32)
        track_rows.append({"track_id": f"T{t}", "detection_ids": ids, "embedding": [1.0, 0.0, 0.0, 0.0]})
    return pd.DataFrame(track_rows), pd.DataFrame(det_rows), vectors


def test_a_track_needs_enough_weighted_faces_not_one_big_face():
    tracks, dets, vectors = _tracks(
        [
            [(36, True), (36, True)],  # the old rule's weakest identified track: 1.74
            [(24, True), (24, True), (24, True)],  # three small faces: 1.98
            [(28, True), (28, True)],  # two small faces: 1.54, not enough
            [(80, True), (80, False), (20, False)],  # one big embedded face: 1.0
        ]
    )
    tracks["evidence"] = track_evidence(tracks, dets, vectors)
    assert np.allclose(tracks["evidence"], [2 * size_weight(36), 1.98, 1.54, 1.0])
    out = identifiable(tracks)
    assert [e is not None for e in out["embedding"]] == [True, True, False, False]
    assert MIN_TRACK_EVIDENCE == 1.7


def test_tracks_stored_before_evidence_existed_are_kept():
    tracks = pd.DataFrame({"track_id": ["a", "b"], "embedding": [[1.0], [0.5]], "evidence": [None, 0.2]})
    out = identifiable(tracks)
    assert out["embedding"].tolist() == [[1.0], None]
    assert identifiable(tracks.drop(columns="evidence"))["embedding"].tolist() == [[1.0], [0.5]]
