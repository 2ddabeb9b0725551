"""One pass over a day's footage: sample, detect, judge, embed, crop.

One decode serves three tables (frames, face_detections, face_embeddings): decoding is the expensive part,
so the pipeline never decodes a file twice. The sampler drives: it asks the face stage (`FaceStage.look`)
about the frames it chooses and yields samples with the findings; this module turns samples into rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pandas as pd

from watershop_dagster.core.footage.coarse_to_fine import CoarseToFineSampler
from watershop_dagster.core.footage.faces import FaceEngine, FaceObservation
from watershop_dagster.core.footage.manifest import ManifestRow
from watershop_dagster.core.footage.persons import PersonBox, PersonDetector, body_look
from watershop_dagster.core.footage.sampling import DecodedFrame, FrameSource, Sighting
from watershop_dagster.core.footage.tracking import iou
from watershop_dagster.core.privacy.erasure import ErasedFaces
from watershop_dagster.core.privacy.optout import opt_out_whole_tracks
from watershop_dagster.core.storage.schemas import FACE_DETECTIONS, FACE_EMBEDDINGS, FRAMES


@dataclass
class StageTimes:
    """Seconds spent per stage. `sampling` is everything the sampler does between samples (demuxing,
    decoding, measuring motion), so the stages but `persons` add up to the analysis wall time."""

    sampling: float = 0.0
    detection: float = 0.0
    embedding: float = 0.0
    crops: float = 0.0
    # the body detector (YOLOX-Nano), on analysed frames only, on a thread of its own beside detection and
    # embedding: not part of the sum; what the face stage then waited for it is
    persons: float = 0.0
    waiting_for_persons: float = 0.0

    @property
    def face_stage(self) -> float:
        """The sampler's wait for the face stage: detection, embedding and what was left of the bodies."""
        return self.detection + self.embedding + self.waiting_for_persons

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


@dataclass
class DayAnalysis:
    frames: pd.DataFrame
    detections: pd.DataFrame
    embeddings: pd.DataFrame
    times: StageTimes
    video_seconds: float
    file_errors: dict[str, str] = field(default_factory=dict)
    sampler_detail: dict[str, dict] = field(default_factory=dict)  # per file: what the sampler decoded
    # camera -> time of every analysed frame -> the bodies found in it (empty list: nobody), when persons are
    # detected; analysed frames with nobody are kept so that person tracks see real gaps
    persons: dict[str, dict[datetime, list[PersonBox]]] = field(default_factory=dict)


def _crop_stem(camera: str | None, file: str) -> str:
    """A face crop's name starts with the camera and the recording: the file's own name where it already names
    the camera (`cam1_081500`, `ch01_2026...`), else the camera before it (`ch01_NVR_ch1_main_...`). Spaces
    (a PC export's `cam1 2026-03-02 08.55.00`) become `_`: crops are linked from the reports' pages."""
    stem = "_".join(Path(file).stem.split())
    return stem if not camera or stem.lower().startswith(camera.lower()) else f"{camera}_{stem}"


def _crop_for_audit(image: np.ndarray, box: np.ndarray, margin: float = 0.35) -> np.ndarray:
    x1, y1, x2, y2 = box
    mw, mh = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = image.shape[:2]
    xa, ya, xb, yb = int(max(0, x1 - mw)), int(max(0, y1 - mh)), int(min(w, x2 + mw)), int(min(h, y2 + mh))
    return image[ya:yb, xa:xb]


class StillFaceCache:
    """Embed a face when it is new to its place, or clearly better than the face its embedding came from;
    otherwise reuse that embedding. A face reuses the embedding of the face it overlaps in the previous
    analysed frame when
    - its aligned crop is unchanged (staff at the till), or
    - it is still much the same picture as the face the embedding was computed from (a 28-px grey thumbnail of
      the aligned face, where camera noise and a little sway average out but another person does not; compared
      with the source, not with the previous look, so that small steps cannot add up to another face), in
      about the same place, the vector is at most `reuse_for_s` old, and the face is not `better_by` more
      in quality than its source (a customer turning towards the camera gets a fresh, better embedding).
    Frames of the fine grid (entries, exits) follow the same rule: a face new to its place has no partner and
    is embedded, and someone stepping into another's place fails the thumbnail test. Embedding every face of
    every fine frame cost most of a busy day's embedding time for vectors identical to the look's."""

    def __init__(
        self,
        min_iou: float = 0.85,
        max_pixel_diff: float = 4.0,
        steady_iou: float = 0.5,
        max_thumb_diff: float = 12.0,
        reuse_for_s: float = 20.0,
        better_by: float = 0.15,
    ):
        self.min_iou, self.max_pixel_diff = min_iou, max_pixel_diff
        self.steady_iou, self.max_thumb_diff, self.reuse_for_s = steady_iou, max_thumb_diff, reuse_for_s
        self.better_by = better_by
        # the previous frame's embedded faces, each with the thumbnail and quality of its embedding's source
        self.previous: list[tuple[FaceObservation, np.ndarray, float]] = []
        self._sources: dict[int, tuple[np.ndarray, float]] = {}  # id(observation) -> source, for reused ones
        self.reused = 0

    @staticmethod
    def _thumb(obs: FaceObservation) -> np.ndarray:
        grey = cv2.cvtColor(obs.aligned, cv2.COLOR_BGR2GRAY) if obs.aligned.ndim == 3 else obs.aligned
        return cv2.resize(grey, (28, 28), interpolation=cv2.INTER_AREA)

    def fill(self, observations: list[FaceObservation], t: float | None = None, fine: bool = False) -> None:
        """Give each usable face the embedding it may reuse. `fine` is accepted for callers that mark the fine
        grid; it no longer changes the rule."""
        self._sources = {}
        for obs in observations:
            if not obs.usable:
                continue
            thumb = None
            for prev, source_thumb, source_quality in self.previous:
                if prev.embedding is None:
                    continue
                overlap = iou(obs.face.box, prev.face.box)
                if (
                    overlap >= self.min_iou
                    and float(cv2.absdiff(obs.aligned, prev.aligned).mean()) <= self.max_pixel_diff
                ):
                    reuse = True
                elif (
                    t is None
                    or prev.embedded_at is None
                    or overlap < self.steady_iou
                    or t - prev.embedded_at > self.reuse_for_s
                    or obs.quality > source_quality + self.better_by
                ):
                    reuse = False
                else:
                    thumb = self._thumb(obs) if thumb is None else thumb
                    reuse = float(cv2.absdiff(thumb, source_thumb).mean()) <= self.max_thumb_diff
                if reuse:
                    obs.embedding, obs.embedded_at = prev.embedding, prev.embedded_at
                    self._sources[id(obs)] = (source_thumb, source_quality)
                    self.reused += 1
                    break

    def remember(self, observations: list[FaceObservation], t: float | None = None) -> None:
        previous = []
        for obs in observations:
            if obs.embedding is None:
                continue
            if obs.embedded_at is None:
                obs.embedded_at = t  # embedded from this frame's pixels
            source = self._sources.get(id(obs))
            previous.append((obs, *(source if source is not None else (self._thumb(obs), obs.quality))))
        self.previous, self._sources = previous, {}


class OptOutList:
    """Faces of people who asked not to be recognised: dropped at detection, never embedded or enrolled."""

    def __init__(self, embeddings: np.ndarray | None = None, threshold: float = 0.4):
        self.embeddings = embeddings if embeddings is not None and len(embeddings) else None
        self.threshold = threshold

    def matches(self, embedding: np.ndarray) -> bool:
        return self.embeddings is not None and float((self.embeddings @ embedding).max()) >= self.threshold


@dataclass(frozen=True)
class FrameFindings:
    """What the face stage saw in one frame: the observations for the tables, sightings for the sampler."""

    observations: list[FaceObservation]
    persons: tuple[PersonBox, ...] = ()

    @property
    def sightings(self) -> list[Sighting]:
        """Faces, and bodies as sightings without an embedding: someone who enters or leaves with their back
        to the camera changes what the sampler sees, so their entry and exit get the fine grid too."""
        return [Sighting(o.face.box, o.embedding) for o in self.observations] + [
            Sighting(p.as_array(), None) for p in self.persons
        ]


class FaceStage:
    """Detect and embed faces in the frames a sampler asks about, embedding a still face only once per file
    (StillFaceCache). One per file: the cache must not carry a face from one file into the next; `close` it
    after the file.

    The body detector runs on its own thread beside the face models (onnxruntime lets go of the GIL while a
    model runs): on two cores the two networks of one frame take about as long as the slower of them, where
    one after the other they took both."""

    def __init__(self, engine: FaceEngine, times: StageTimes, persons: PersonDetector | None = None):
        self.engine, self.times, self.still = engine, times, StillFaceCache()
        self.persons = persons
        self.analysed = 0
        self._beside = ThreadPoolExecutor(1, thread_name_prefix="bodies") if persons is not None else None

    def look(self, frame: DecodedFrame) -> FrameFindings:
        self.analysed += 1
        pending = None
        if self.persons is not None and self._beside is not None:
            # Bodies on the whole frame at the detector's own scale, not in the region: a region enlarged to
            # the network's input shows people larger than in training (shaded figures seen from behind were
            # missed there, found in the whole frame), and a customer who stands still may lie outside it.
            # The face stage's copy first: a whole frame converted for it is then scaled from that copy, as
            # when the two ran one after the other (the decoder's own scaler finds other boxes: 407 against
            # 375 on a busy 3-minute day).
            frame.image  # noqa: B018 (converts)
            pending = self._beside.submit(self._bodies, *frame.whole(self.persons.input_size))
        started = time.perf_counter()
        observations = self.engine.observe(frame.image, embed=False, region=frame.region)
        embedding = time.perf_counter()
        self.times.detection += embedding - started
        self.still.fill(observations, frame.offset_s, fine=frame.fine)
        self.engine.embed(observations, frame.image)
        self.still.remember(observations, frame.offset_s)
        self.times.embedding += time.perf_counter() - embedding
        waited = time.perf_counter()
        bodies = pending.result() if pending is not None else ()
        self.times.waiting_for_persons += time.perf_counter() - waited
        return FrameFindings(observations, bodies)

    def _bodies(self, whole: np.ndarray, scale: float) -> tuple[PersonBox, ...]:
        assert self.persons is not None
        started = time.perf_counter()
        found = tuple(replace(b, look=body_look(whole, b)).scaled(1.0 / scale) for b in self.persons.detect(whole))
        self.times.persons += time.perf_counter() - started
        return found

    def close(self) -> None:
        if self._beside is not None:
            self._beside.shutdown()


def analyse_day(
    day: date,
    files: list[ManifestRow],
    engine: FaceEngine,
    crops_dir: Path | None,
    sampler_factory: Callable[[], FrameSource] = CoarseToFineSampler,
    optout: OptOutList | None = None,
    progress: Callable[[str], None] = lambda msg: None,
    persons: PersonDetector | None = None,
    erased: ErasedFaces | None = None,
) -> DayAnalysis:
    """Every usable file of the day through a fresh sampler and face stage; rows for the three tables."""
    times = StageTimes()
    frame_rows, det_rows, emb_rows = [], [], []
    opted_vectors: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    details: dict[str, dict] = {}
    video_seconds = 0.0
    bodies: dict[str, dict[datetime, list[PersonBox]]] = {}
    optout = optout or OptOutList()
    if crops_dir:
        crops_dir.mkdir(parents=True, exist_ok=True)
    for f in (f for f in files if f.ok):
        assert f.start_time is not None and f.fps is not None and f.frame_count is not None  # as on every ok row
        sampler, stage = sampler_factory(), FaceStage(engine, times, persons)
        started = time.perf_counter()
        faces_found = 0
        t0, looked = time.perf_counter(), times.face_stage
        for sample in sampler.samples(f.path, f.fps, f.frame_count, stage.look, pixel_aspect=f.pixel_aspect):
            # The sampler's own time: the span since the last sample, less the face stage it called.
            times.sampling += time.perf_counter() - t0 - (times.face_stage - looked)
            frame = sample.frame
            when = f.start_time + timedelta(seconds=frame.offset_s)
            # The sampler hands back what stage.look returned; its type only promises the Findings protocol.
            findings = cast("FrameFindings | None", sample.findings)
            observations = findings.observations if findings is not None else []
            if persons is not None and sample.analysed:
                bodies.setdefault(f.camera or "", {})[when] = list(findings.persons) if findings is not None else []
            frame_rows.append(
                (
                    f.file,
                    f.camera,
                    frame.index,
                    when,
                    sample.motion,
                    sample.brightness,
                    sample.analysed,
                    len(observations),
                )
            )
            t_crop = time.perf_counter()
            for n, obs in enumerate(observations):
                det_id = f"{day.isoformat()}/{f.camera}/{Path(f.file).stem}/{frame.index}/{n}"
                reason = obs.reject_reason
                embedding = obs.embedding
                vector = embedding if embedding is not None else obs.withheld  # a not_face_like face's too
                if vector is not None and optout.matches(vector):
                    reason, embedding = "opted_out", None
                    opted_vectors[det_id] = vector  # in memory only: to tell whose track it is, never stored
                if erased and erased.match(f.camera or "", when, tuple(float(v) for v in obs.face.box)):
                    reason, embedding = "forgotten", None  # `watershop forget` erased this face: it stays erased
                crop_path = None
                if crops_dir is not None and reason not in ("opted_out", "forgotten"):
                    crop_file = crops_dir / f"{_crop_stem(f.camera, f.file)}_{frame.index:07d}_{n}.jpg"
                    cv2.imwrite(
                        str(crop_file), _crop_for_audit(frame.image, obs.face.box), [cv2.IMWRITE_JPEG_QUALITY, 85]
                    )
                    crop_path = str(crop_file)
                box = obs.face.box
                det_rows.append(
                    {
                        "detection_id": det_id,
                        "file": f.file,
                        "camera": f.camera,
                        "frame_index": frame.index,
                        "time": when,
                        "x1": float(box[0]),
                        "y1": float(box[1]),
                        "x2": float(box[2]),
                        "y2": float(box[3]),
                        "landmarks": None
                        if reason in ("opted_out", "forgotten")
                        else obs.face.landmarks.reshape(-1).astype(np.float32).tolist(),
                        "det_score": obs.face.score,
                        "face_size": obs.face.size,
                        "sharpness": obs.sharpness,
                        "quality": obs.quality,
                        "usable": embedding is not None,
                        "reject_reason": reason if embedding is None else None,
                        "crop_path": crop_path,
                    }
                )
                if embedding is not None:
                    faces_found += 1
                    emb_rows.append(
                        {
                            "detection_id": det_id,
                            "time": when,
                            "camera": f.camera,
                            "quality": obs.quality,
                            "embedding": embedding.tolist(),
                        }
                    )
            times.crops += time.perf_counter() - t_crop
            t0, looked = time.perf_counter(), times.face_stage
        stage.close()
        report = sampler.report
        details[f.file] = {"frames_read": report.frames_read, "frames_decoded": report.frames_decoded, **report.detail}
        if report.error:
            errors[f.file] = report.error
        seconds = f.frame_count / f.fps if not report.truncated_at else report.truncated_at / f.fps
        video_seconds += seconds
        wall = time.perf_counter() - started
        progress(
            f"{f.file}: {report.frames_read} frames read, {report.frames_decoded} decoded, {stage.analysed} analysed, "
            f"{faces_found} usable faces, {seconds:.0f}s of video in {wall:.1f}s "
            f"({seconds / max(wall, 1e-6):.1f}x real time), {stage.still.reused} faces of still people not re-embedded"
            + (f"; {report.detail}" if report.detail else "")
            + (f"; {report.error}" if report.error else "")
        )
    frames = pd.DataFrame(frame_rows, columns=[c for c in FRAMES.column_names if c != "day"])
    frames = frames.sort_values(["time", "camera", "file", "frame_index"], ignore_index=True)
    detections = pd.DataFrame(det_rows, columns=[c for c in FACE_DETECTIONS.column_names if c != "day"])
    detections = detections.sort_values(["time", "camera", "detection_id"], ignore_index=True)
    embeddings = pd.DataFrame(emb_rows, columns=[c for c in FACE_EMBEDDINGS.column_names if c != "day"])
    embeddings = embeddings.sort_values(["time", "camera", "detection_id"], ignore_index=True)
    detections, embeddings = opt_out_whole_tracks(detections, embeddings, opted_vectors)
    return DayAnalysis(frames, detections, embeddings, times, video_seconds, errors, details, bodies)
