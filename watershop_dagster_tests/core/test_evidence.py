"""Evidence weighed across a face track: small faces count for less, a track needs enough of them."""

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.evidence import MIN_TRACK_EVIDENCE, identifiable, track_evidence
from watershop_dagster.core.footage.faces import QualityRules, sharpness_weight, size_weight


def test_size_weight_follows_the_roc_curve():
    assert size_weight(20) == 0.0  # below what the ROC supports: not embedded at all
    assert size_weight(24) == 0.66 and size_weight(56) == 1.0 and size_weight(200) == 1.0
    assert size_weight(24) < size_weight(28) < size_weight(36) < size_weight(40) < size_weight(56)
    assert QualityRules().min_face_px == 24.0


def test_sharpness_weight_follows_the_separation_by_sharpness():
    assert sharpness_weight(0) == sharpness_weight(7.5) == 0.32 and sharpness_weight(12.5) == 0.47
    assert sharpness_weight(20) == 0.68 and sharpness_weight(75) == 1.0 and sharpness_weight(500) == 1.0
    assert sharpness_weight(15) < sharpness_weight(30) < sharpness_weight(60) < 1.0
    assert QualityRules().min_sharpness == 15.0  # softer faces are not embedded (they look alike)


def _tracks(sizes_per_track, sharpness=200.0):
    det_rows, track_rows, vectors = [], [], {}
    for t, sizes in enumerate(sizes_per_track):
        ids = []
        for n, (size, embedded) in enumerate(sizes):
            did = f"t{t}/d{n}"
            ids.append(did)
            det_rows.append({"detection_id": did, "face_size": float(size), "sharpness": sharpness})
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
    assert out["weak"].tolist() == [False, False, True, True]  # weak: may confirm a known ID, never make one
    assert out["embedding"].notna().all()  # kept for that confirmation
    assert MIN_TRACK_EVIDENCE == 1.7


def test_soft_faces_count_for_less_so_a_track_of_them_needs_more_looks():
    """A soft face (sharpness 20: weight 0.68) is evidence, weaker than a sharp one: two sharp 36-px faces
    identify a track, two soft ones do not, five soft ones do; an unknown sharpness counts as the softest."""
    soft_tracks, soft_dets, soft_vectors = _tracks([[(36, True)] * 2, [(36, True)] * 5], sharpness=20.0)
    sharp_tracks, sharp_dets, sharp_vectors = _tracks([[(36, True)] * 2])
    evidence = track_evidence(soft_tracks, soft_dets, soft_vectors)
    assert np.allclose(evidence, [2 * size_weight(36) * 0.68, 5 * size_weight(36) * 0.68])
    unknown_tracks, unknown_dets, unknown_vectors = _tracks([[(36, True)] * 2], sharpness=float("nan"))
    assert track_evidence(unknown_tracks, unknown_dets, unknown_vectors) == [2 * size_weight(36) * 0.32]
    assert track_evidence(sharp_tracks, sharp_dets, sharp_vectors)[0] > MIN_TRACK_EVIDENCE
    assert evidence[0] < MIN_TRACK_EVIDENCE < evidence[1]


def test_tracks_stored_before_evidence_existed_are_kept():
    tracks = pd.DataFrame({"track_id": ["a", "b"], "embedding": [[1.0], [0.5]], "evidence": [None, 0.2]})
    assert identifiable(tracks)["weak"].tolist() == [False, True]
    assert identifiable(tracks.drop(columns="evidence"))["weak"].tolist() == [False, False]
