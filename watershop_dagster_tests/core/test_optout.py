"""Opt-out holds for a whole track: one face matching the opt-out photo stands for every face of its track."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from watershop_dagster.core.privacy.optout import ids_like_opted_out, opt_out_whole_tracks, opted_out_face_tracks
from watershop_dagster.core.storage.schemas import FACE_DETECTIONS, FACE_EMBEDDINGS

T0 = datetime(2026, 3, 2, 9, 0, 0)


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return v / np.linalg.norm(v)


def _day(tmp_path, opted_frames: set[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two people over five frames half a second apart: `a` walking left to right (its faces in
    `opted_frames` matched the opt-out list: no embedding), `b` standing still far from `a`."""
    det_rows, emb_rows = [], []
    person_vectors = {"a": _unit(1), "b": _unit(2)}
    for i in range(5):
        when = T0 + timedelta(seconds=0.5 * i)
        for person, x in (("a", 100 + 8 * i), ("b", 900)):
            det_id = f"2026-03-02/cam1/f/{i}/{person}"
            crop = tmp_path / f"{person}{i}.jpg"
            opted = person == "a" and i in opted_frames
            if not opted:
                crop.write_bytes(b"jpeg")
            det_rows.append(
                {
                    "detection_id": det_id,
                    "file": "f.mp4",
                    "camera": "cam1",
                    "frame_index": i * 6,
                    "time": when,
                    "x1": float(x),
                    "y1": 200.0,
                    "x2": float(x + 36),
                    "y2": 240.0,
                    "landmarks": None if opted else [0.0] * 10,
                    "det_score": 0.8,
                    "face_size": 36.0,
                    "sharpness": 60.0,
                    "quality": 0.6,
                    "usable": not opted,
                    "reject_reason": "opted_out" if opted else None,
                    "crop_path": None if opted else str(crop),
                }
            )
            if not opted:
                vector = person_vectors[person] + 0.05 * _unit(10 * i + len(person))
                emb_rows.append(
                    {
                        "detection_id": det_id,
                        "time": when,
                        "camera": "cam1",
                        "quality": 0.6,
                        "embedding": (vector / np.linalg.norm(vector)).tolist(),
                    }
                )
    columns = [c for c in FACE_DETECTIONS.column_names if c != "day"]
    return pd.DataFrame(det_rows, columns=columns), pd.DataFrame(
        emb_rows, columns=[c for c in FACE_EMBEDDINGS.column_names if c != "day"]
    )


def test_one_opted_out_face_opts_out_its_whole_track_and_nobody_else(tmp_path):
    detections, embeddings = _day(tmp_path, opted_frames={2})
    out, kept = opt_out_whole_tracks(detections, embeddings)
    a = out[out["detection_id"].str.endswith("/a")]
    b = out[out["detection_id"].str.endswith("/b")]
    assert (a["reject_reason"] == "opted_out").all() and not a["usable"].any()
    assert a["crop_path"].isna().all() and a["landmarks"].isna().all()
    assert not any((tmp_path / f"a{i}.jpg").exists() for i in range(5))  # the crops already written are deleted
    assert b["usable"].all() and b["reject_reason"].isna().all() and b.equals(detections.loc[b.index])
    assert all((tmp_path / f"b{i}.jpg").exists() for i in range(5))
    assert sorted(kept["detection_id"]) == sorted(b["detection_id"])  # no vector of `a` is stored


def test_a_day_without_opted_out_faces_is_left_as_it_is(tmp_path):
    detections, embeddings = _day(tmp_path, opted_frames=set())
    out, kept = opt_out_whole_tracks(detections, embeddings)
    assert out is detections and kept is embeddings


def test_an_opted_out_face_passing_in_front_of_someone_does_not_opt_them_out(tmp_path):
    """Frame 2: `b`, standing still, is hidden by an opted-out person walking past in front of them, whose face
    is where b's was. Told apart by its vector (held in memory, never stored), b's track stays b's."""
    detections, embeddings = _day(tmp_path, opted_frames=set())
    hidden = detections["detection_id"] == "2026-03-02/cam1/f/2/b"
    detections.loc[hidden, ["detection_id", "x1", "x2", "usable", "reject_reason", "crop_path", "landmarks"]] = [
        "2026-03-02/cam1/f/2/c",
        905.0,
        941.0,
        False,
        "opted_out",
        None,
        None,
    ]
    embeddings = embeddings[embeddings["detection_id"] != "2026-03-02/cam1/f/2/b"].reset_index(drop=True)
    out, kept = opt_out_whole_tracks(detections, embeddings, {"2026-03-02/cam1/f/2/c": _unit(3)})
    b = out[out["detection_id"].str.endswith("/b")]
    assert len(b) == 4 and b["usable"].all() and len(kept) == len(embeddings)
    # without the passer's vector the tracker has only the boxes, and b goes with the passer
    out, _ = opt_out_whole_tracks(detections, embeddings)
    assert (out[out["detection_id"].str.endswith("/b")]["reject_reason"] == "opted_out").all()


def test_a_track_holding_an_opted_out_face_and_every_face_track_of_its_body_identify_nobody(tmp_path):
    """However `face_tracks` tracked them: T1 holds an opted-out face; T2 is the same body's face found again
    after a gap (no match of its own); T3, another body's, is untouched; T4 has no body."""
    detections, _ = _day(tmp_path, opted_frames={2})
    a_ids = list(detections.loc[detections["detection_id"].str.endswith("/a"), "detection_id"])
    b_ids = list(detections.loc[detections["detection_id"].str.endswith("/b"), "detection_id"])
    tracks = pd.DataFrame(
        {"track_id": ["T1", "T2", "T3", "T4"], "detection_ids": [a_ids[:3], a_ids[3:], b_ids[:3], b_ids[3:]]}
    )
    bodies_of = {"T1": "P1", "T2": "P1", "T3": "P2"}
    assert opted_out_face_tracks(tracks, detections, bodies_of) == {"T1", "T2"}
    clean, _ = _day(tmp_path, opted_frames=set())
    assert opted_out_face_tracks(tracks, clean, bodies_of) == set()


def test_an_erased_face_that_also_matches_the_opt_out_list_still_opts_out_its_track(tmp_path):
    """A face erased by `watershop forget` is stored as `forgotten` even when it matched the opt-out list too:
    its vector (in memory) still makes its track opted out, and it keeps its own reason."""
    detections, embeddings = _day(tmp_path, opted_frames={2})
    erased = detections["detection_id"] == "2026-03-02/cam1/f/2/a"
    detections.loc[erased, "reject_reason"] = "forgotten"
    out, _ = opt_out_whole_tracks(detections, embeddings, {"2026-03-02/cam1/f/2/a": _unit(1)})
    a = out[out["detection_id"].str.endswith("/a")]
    assert a["reject_reason"].tolist() == ["opted_out", "opted_out", "forgotten", "opted_out", "opted_out"]


def test_ids_whose_centroid_reaches_an_opt_out_photo_are_listed_with_the_closest_name():
    """The registry's own threshold (0.30): an ID at 0.35 to one photo is listed under it, one at 0.25 is not;
    a forgotten ID (no centroid) is never listed; several photos of one person: the closest counts."""
    a, b, c = _unit(11), _unit(12), _unit(13)

    def towards(v, target, cos):  # a unit vector at cosine `cos` to `target`
        ortho = v - (v @ target) * target
        return cos * target + np.sqrt(1 - cos**2) * ortho / np.linalg.norm(ortho)

    centroids = pd.DataFrame(
        {
            "customer_id": ["CUST_0001", "CUST_0002", "CUST_0003", "CUST_0004"],
            "centroid": [towards(_unit(21), a, 0.35), towards(_unit(22), b, 0.25), None, towards(_unit(23), c, 0.6)],
        }
    )
    gallery = {"asha": np.stack([_unit(31), a]), "bala": b[None], "chitra": c[None]}
    listed = ids_like_opted_out(centroids, gallery)
    assert listed["customer_id"].tolist() == ["CUST_0004", "CUST_0001"]
    assert listed["optout_name"].tolist() == ["chitra", "asha"]
    assert np.allclose(listed["similarity"], [0.6, 0.35], atol=0.02)
    assert ids_like_opted_out(centroids, {}).empty
