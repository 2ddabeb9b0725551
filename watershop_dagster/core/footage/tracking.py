"""Faces in consecutive analysed frames -> tracks (one person's continuous appearance on one camera).

Association uses box overlap and, where both faces have an embedding, their similarity: overlap alone
swaps people who pass each other, similarity alone fails on faces too small to embed. A track's identity
vector is the quality-weighted mean of its faces' embeddings, which is far steadier than any single frame.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

import numpy as np
import pandas as pd

from watershop_dagster.core.storage.schemas import EMBEDDING_DIM, FACE_TRACKS

# A track (of a face or of a body) survives a miss this long: more than the longest the sampler waits between
# looks (CoarseToFineSampler.probe_interval_s, 6 s in a still room) and the frame its look lands on (a still
# customer close to the camera was looked at 6.006 s apart at 29.97 fps: four one-face tracks at 6.0 s).
SURVIVES_MISS_S = 7.0


@dataclass(frozen=True)
class TrackingRules:
    max_gap_s: float = SURVIVES_MISS_S
    min_iou: float = 0.15  # with the last box, or with where it was heading:
    # a walk is extrapolated from the last two faces (at most velocity_max_dt_s apart) for at most
    # predict_horizon_s, as the body tracker does (PersonRules): a face crossing the room at 130 px/s moves two
    # of its widths between samples, and a blurred face has no embedding to be matched by
    predict_horizon_s: float = 1.0
    velocity_max_dt_s: float = 2.0
    min_similarity_with_overlap: float = 0.2  # overlapping boxes must not be clearly different people
    min_similarity_alone: float = 0.5  # no overlap (fast move, missed frames): the face must match


@dataclass
class Track:
    camera: str
    detection_ids: list[str] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    qualities: list[float] = field(default_factory=list)
    crops: list[str | None] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    @property
    def last_box(self) -> np.ndarray:
        return self.boxes[-1]

    @property
    def last_time(self) -> datetime:
        return self.times[-1]

    def heading_box(self, now: datetime, rules: TrackingRules) -> np.ndarray:
        """The last box moved on at the speed of the last two, for min(now - last, horizon) seconds; the last
        box itself when those two are far apart in time (sparse samples of a still room say nothing of a walk)."""
        if len(self.boxes) < 2:
            return self.last_box
        dt = (self.times[-1] - self.times[-2]).total_seconds()
        if not 0 < dt <= rules.velocity_max_dt_s:
            return self.last_box
        ahead = min(max((now - self.times[-1]).total_seconds(), 0.0), rules.predict_horizon_s)
        return self.last_box + (self.boxes[-1] - self.boxes[-2]) / dt * ahead

    def recent_embedding(self) -> np.ndarray | None:
        if not self.embeddings:
            return None
        v = np.mean(self.embeddings[-5:], axis=0)
        return v / max(np.linalg.norm(v), 1e-9)

    def mean_embedding(self) -> np.ndarray | None:
        if not self.embeddings:
            return None
        w = np.asarray(self.weights) + 1e-6
        v = (np.asarray(self.embeddings) * w[:, None]).sum(axis=0)
        return (v / max(np.linalg.norm(v), 1e-9)).astype(np.float32)

    def add(self, det_id, t, box, quality, crop, embedding) -> None:
        self.detection_ids.append(det_id)
        self.times.append(t)
        self.boxes.append(box)
        self.qualities.append(quality)
        self.crops.append(crop)
        if embedding is not None:
            self.embeddings.append(embedding)
            self.weights.append(quality)


def _extend(track: Track, d, now: datetime, embeddings: dict) -> None:
    """Add one detection row (and its embedding, if it has one) to a track."""
    box = np.array([d.x1, d.y1, d.x2, d.y2], np.float32)
    track.add(d.detection_id, now, box, d.quality, d.crop_path, embeddings.get(d.detection_id))


def greedy_pairs(candidates: list[tuple[float, int, int]]) -> list[tuple[int, int]]:
    """(detection, track) pairs from (score, detection, track) candidates, best score first, each detection and
    each track used once: the association step of both the face and the body trackers."""
    used_d: set[int] = set()
    used_t: set[int] = set()
    pairs = []
    for _, di, ti in sorted(candidates, reverse=True):
        if di in used_d or ti in used_t:
            continue
        used_d.add(di)
        used_t.add(ti)
        pairs.append((di, ti))
    return pairs


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def build_tracks(
    detections: pd.DataFrame, embeddings: dict[str, np.ndarray], rules: TrackingRules | None = None
) -> list[Track]:
    """`detections` needs detection_id, camera, file, frame_index, time, x1..y2, quality, crop_path."""
    rules = rules or TrackingRules()
    finished: list[Track] = []
    if detections.empty:
        return finished
    keys = ["camera", "time", "file", "frame_index"]
    # Rows once, in frame order, grouped by frame as they come (a pandas group per frame cost 1 ms a face).
    rows = detections.dropna(subset=keys).sort_values(keys).itertuples(index=False)
    for camera, per_camera in itertools.groupby(rows, key=attrgetter("camera")):
        active: list[Track] = []
        for (time, _, _), frame in itertools.groupby(per_camera, key=attrgetter("time", "file", "frame_index")):
            now = time.to_pydatetime()
            still: list[Track] = []
            for tr in active:
                (still if (now - tr.last_time).total_seconds() <= rules.max_gap_s else finished).append(tr)
            active = still
            dets = list(frame)
            # per track, once a frame: where it was and where it was heading, and its recent look
            heading = [(tr.last_box, tr.heading_box(now, rules)) for tr in active]
            recent = [tr.recent_embedding() for tr in active]
            candidates = []
            for di, d in enumerate(dets):
                box = np.array([d.x1, d.y1, d.x2, d.y2], np.float32)
                emb = embeddings.get(d.detection_id)
                for ti, ((last, ahead), ref) in enumerate(zip(heading, recent, strict=True)):
                    overlap = max(iou(box, last), iou(box, ahead))
                    sim = float(ref @ emb) if (ref is not None and emb is not None) else None
                    if overlap >= rules.min_iou and (sim is None or sim >= rules.min_similarity_with_overlap):
                        candidates.append((overlap + (sim or 0.0), di, ti))
                    elif sim is not None and sim >= rules.min_similarity_alone:
                        candidates.append((sim, di, ti))
            pairs = greedy_pairs(candidates)
            used_d = {di for di, _ in pairs}
            for di, ti in pairs:
                _extend(active[ti], dets[di], now, embeddings)
            for di, d in enumerate(dets):
                if di not in used_d:
                    tr = Track(str(camera))
                    _extend(tr, d, now, embeddings)
                    active.append(tr)
        finished.extend(active)
    finished.sort(key=lambda t: (t.times[0], t.camera))
    return finished


def tracks_frame(day, tracks: list[Track]) -> pd.DataFrame:
    rows = []
    for n, tr in enumerate(tracks, start=1):
        best = int(np.argmax(tr.qualities))
        emb = tr.mean_embedding()
        rows.append(
            {
                "track_id": f"{day.isoformat()}/{tr.camera}/T{n:04d}",
                "camera": tr.camera,
                "first_time": tr.times[0],
                "last_time": tr.times[-1],
                "faces": len(tr.detection_ids),
                "usable_faces": len(tr.embeddings),
                "mean_quality": float(np.mean(tr.qualities)),
                "best_detection_id": tr.detection_ids[best],
                "best_crop_path": tr.crops[best],
                "detection_ids": list(tr.detection_ids),
                "embedding": emb.tolist() if emb is not None else None,
            }
        )
    cols = [c for c in FACE_TRACKS.column_names if c != "day"]
    return pd.DataFrame(rows, columns=cols)


def stack_embeddings(series: pd.Series) -> np.ndarray:
    if len(series) == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return np.stack([np.asarray(v, np.float32) for v in series])
