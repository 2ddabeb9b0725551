import importlib.resources
import os

import cv2
import numpy as np
import pytest

from watershop_dagster.core.footage.faces import (
    DetectedFace,
    FaceEngine,
    FaceObservation,
    LandmarkRefiner,
    ModelNotFoundError,
    ScrfdDetector,
    photo_gallery,
    resolve_models,
)


def test_bundled_models_resolve_without_network():
    det, rec = resolve_models()
    assert det.name == "scrfd_500m_bnkps.onnx" and rec.name == "w600k_mbf.onnx"


def test_missing_model_folder_says_how_to_fix(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_models(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="WATERSHOP_MODEL_DIR"):
        resolve_models(str(tmp_path))


def test_finds_the_six_people_of_t1_and_tells_them_apart(engine):
    img = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    obs = engine.observe(img)
    assert len(obs) == 6 and all(o.usable for o in obs)
    embs = np.stack([o.embedding for o in obs])
    assert np.allclose(np.linalg.norm(embs, axis=1), 1.0, atol=1e-4)
    sims = embs @ embs.T
    assert sims[~np.eye(6, dtype=bool)].max() < 0.3  # six different people


def test_small_and_blurred_faces_are_kept_but_marked(engine):
    img = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    tiny = engine.observe(cv2.resize(img, None, fx=0.16, fy=0.16))  # faces of ~16-20 px, under the 24-px floor
    assert len(tiny) >= 4 and all(o.reject_reason == "too_small" and o.embedding is None for o in tiny)
    blurred = engine.observe(cv2.GaussianBlur(img, (0, 0), 4))
    assert len(blurred) >= 4 and all(o.reject_reason == "too_blurred" and o.embedding is None for o in blurred)


def test_a_crop_with_little_of_a_face_to_the_recognizer_is_marked_and_never_embedded(engine):
    """What the detector takes for a face but the recognizer finds little of one in (the back of a head, a cap:
    a short raw feature) is kept, marked not_face_like and given no embedding; t1's six real faces all pass."""
    img = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    real = engine.observe(img)
    assert min(engine.recognizer.embed_with_norms([o.aligned for o in real])[1]) > engine.recognizer.min_feature_norm
    grey = np.full((112, 112, 3), 128, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    fakes = [FaceObservation(o.face, crop, 100.0, 0.5, True, None) for o, crop in zip(real, (grey, noise))]
    engine.embed(fakes)
    assert [(f.usable, f.reject_reason, f.embedding) for f in fakes] == [(False, "not_face_like", None)] * 2
    assert all(f.withheld is not None for f in fakes)  # kept apart, for the opt-out list only


def test_a_recognizer_without_a_norm_floor_embeds_every_usable_face():
    """The floor is the bundled model's (MIN_FEATURE_NORMS): another recognizer's norms are on another scale."""

    class PlainRecognizer:
        dim = 2

        def embed_aligned(self, crops):
            return np.tile([[0.6, 0.8]], (len(crops), 1)).astype(np.float32)

    engine = FaceEngine(detector=None, recognizer=PlainRecognizer())  # type: ignore[arg-type]
    obs = [FaceObservation(None, np.zeros((112, 112, 3), np.uint8), 100.0, 0.5, True, None) for _ in range(2)]  # type: ignore[arg-type]
    engine.embed(obs)
    assert all(o.usable and o.embedding is not None for o in obs)


def test_searching_a_region_finds_the_same_faces_as_the_whole_frame(engine):
    img = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    everywhere = engine.detector.detect(img)
    left_half = (0, 0, img.shape[1] // 2, img.shape[0])
    inside = engine.detector.detect(img, left_half)
    expected = [f for f in everywhere if f.box[2] < left_half[2] - 10]
    assert len(expected) >= 2 and len(inside) == len(expected)
    for f in expected:  # boxes come back in frame coordinates, within a pixel or two
        assert min(np.abs(g.box - f.box).max() for g in inside) < 3.0
        assert min(np.abs(g.landmarks - f.landmarks).max() for g in inside) < 3.0


def test_a_1080p_frame_is_searched_at_half_size_so_its_small_faces_are_found(engine):
    """The six faces of t1 at about 28 px in a 1920x1080 frame: searched at 640 px (a third of the frame) SCRFD
    sees them at 9 px and misses most; at half size (the 0.5 floor for camera frames) it finds them. A 720p
    frame is searched at half size either way."""
    img = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    sides = [min(f.box[2] - f.box[0], f.box[3] - f.box[1]) for f in engine.detector.detect(img)]
    small = cv2.resize(img, None, fx=28 / np.median(sides), fy=28 / np.median(sides), interpolation=cv2.INTER_AREA)
    frame = np.full((1080, 1920, 3), 110, np.uint8)
    frame[400 : 400 + small.shape[0], 600 : 600 + small.shape[1]] = small
    third = ScrfdDetector(resolve_models()[0], 640, 0.5, min_scale=0.0)
    assert len(engine.detector.detect(frame)) >= 5 > 2 >= len(third.detect(frame))
    hd_720 = cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_AREA)
    assert len(engine.detector.detect(hd_720)) == len(third.detect(hd_720))


def test_small_faces_get_their_landmarks_found_again_closer_to_where_they_are(engine):
    """t1's six faces at about 30 px in a 720p frame (searched at half size: 15 px to the detector). Their
    landmarks as found at full size, scaled down, are the truth: found again on a crop scaled up around each
    face (`LandmarkRefiner`) they are about half as far off; the boxes are the first pass's."""
    img = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    full = engine.detector.detect(img)
    scale = 30 / np.median([f.size for f in full])
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    frame[: small.shape[0], : small.shape[1]] = small
    first, refined = [], []
    for face in engine.detector.detect(frame):
        centre = (face.box[:2] + face.box[2:]) / 2
        truth = min(full, key=lambda g: np.linalg.norm((g.box[:2] + g.box[2:]) / 2 * scale - centre)).landmarks * scale
        again = engine.refiner.refine(frame, face)
        assert np.array_equal(again.box, face.box) and again.score == face.score
        first.append(np.linalg.norm(face.landmarks - truth, axis=1).mean() / face.size)
        refined.append(np.linalg.norm(again.landmarks - truth, axis=1).mean() / face.size)
    assert len(first) == 6
    assert np.mean(refined) < 0.6 * np.mean(first) and max(refined) < 0.07
    big = engine.detector.detect(img)[0]  # a face the first pass sees well enough is left as it is
    assert engine.refiner.refine(img, big) is big
    # Embedded from the landmarks found again, which the observation keeps; judged (sharpness, the reuse of an
    # embedding) on its first crop.
    observed = engine.observe(frame, embed=False)
    judged = [o.aligned.copy() for o in observed]
    engine.embed(observed, frame)
    for o, crop in zip(observed, judged, strict=True):
        assert o.embedding is not None and np.array_equal(o.aligned, crop)
        assert np.allclose(o.face.landmarks, engine.refiner.refine(frame, o.face).landmarks, atol=1e-3)


class _CropModel:
    """Stands in for SCRFD on the refiner's crop: the boxes and landmarks it is told to find there."""

    def __init__(self, boxes, kps):
        self.boxes, self.kps, self.sizes = np.asarray(boxes, np.float32).reshape(-1, 5), kps, []

    def detect(self, image, input_size):
        self.sizes.append((image.shape[1], image.shape[0], input_size))
        return self.boxes, self.kps


def _refined(boxes, kps, face):
    model = _CropModel(boxes, kps)
    detector = type("Detector", (), {"model": model})()
    return LandmarkRefiner(detector, face_px=64.0, context=4.0).refine(np.zeros((300, 300, 3), np.uint8), face), model


def test_the_refiner_maps_the_crop_back_to_the_frame_and_keeps_a_face_it_cannot_find():
    """Landmarks found on the scaled crop come back in frame pixels; a crop whose face is off the first face's
    centre (somebody beside it), is found less surely than in the first pass, or has none leaves the first
    landmarks."""
    face = DetectedFace(np.array([100, 100, 132, 132], np.float32), np.zeros((5, 2), np.float32), 0.8)
    # the crop is 4 faces wide around the centre (116, 116): from (52, 52), scaled by 64 / 32 = 2
    kps = np.array([[[128.0, 128.0]] * 5], np.float32)
    again, model = _refined([96, 96, 160, 160, 0.9], kps, face)
    assert np.allclose(again.landmarks, [[52 + 64, 52 + 64]] * 5) and again.box is face.box
    assert model.sizes == [(256, 256, (256, 256))]
    assert _refined([0, 0, 60, 60, 0.9], kps, face)[0] is face  # 30 frame px off the centre: someone else
    assert _refined([96, 96, 160, 160, 0.7], kps, face)[0] is face  # less sure than the first pass's 0.8
    assert _refined(np.zeros((0, 5)), np.zeros((0, 5, 2)), face)[0] is face


def test_sharpness_does_not_take_a_dim_shop_for_blur():
    from watershop_dagster.core.footage.faces import sharpness_of

    rng = np.random.default_rng(0)
    face = cv2.resize(rng.integers(30, 230, (28, 28, 3)).astype(np.uint8), (112, 112), interpolation=cv2.INTER_CUBIC)
    dim = cv2.convertScaleAbs(face, alpha=0.6)
    blurred = cv2.GaussianBlur(face, (0, 0), 3.0)
    assert sharpness_of(dim) == pytest.approx(sharpness_of(face), rel=0.1)
    assert sharpness_of(blurred) < 0.3 * sharpness_of(face)


def test_a_gallery_embeds_each_photo_once_until_the_photo_changes(engine, tmp_path, monkeypatch):
    """Staff and opt-out photos are read by every day's run: one process embeds each unchanged photo once."""
    t1 = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    person = tmp_path / "staff" / "asha"
    person.mkdir(parents=True)
    cv2.imwrite(str(person / "1.jpg"), t1)
    (person / "notes.txt").write_text("not a photo")
    embedded = []
    real = engine.embed_image
    monkeypatch.setattr(engine, "embed_image", lambda image: embedded.append(image.shape) or real(image))
    first = photo_gallery(engine, tmp_path / "staff")
    second = photo_gallery(engine, tmp_path / "staff")
    assert len(embedded) == 1 and first.keys() == second.keys() == {"asha"}
    assert np.array_equal(first["asha"], second["asha"]) and first["asha"].shape[0] == 1
    # a new photo in its place (another size) is embedded again, and the gallery says what it shows
    cv2.imwrite(str(person / "1.jpg"), cv2.flip(t1, 1)[:, :-40])
    third = photo_gallery(engine, tmp_path / "staff")
    assert len(embedded) == 2 and not np.array_equal(third["asha"], first["asha"])
    # another photo copied in with the same size and modification time (cp -p, rsync -a): seen all the same
    photo, before = person / "1.jpg", (person / "1.jpg").stat()
    other = cv2.imencode(".jpg", cv2.flip(t1, 0))[1].tobytes()
    size = max(before.st_size, len(other))
    other += bytes(size - len(other))  # a JPEG reader stops at its end marker: padding changes nothing
    photo.write_bytes(photo.read_bytes() + bytes(size - before.st_size))
    photo_gallery(engine, tmp_path / "staff")  # the padded photo, embedded once
    padded = photo.stat()
    photo.write_bytes(other)
    os.utime(photo, ns=(padded.st_atime_ns, padded.st_mtime_ns))
    assert photo.stat().st_size == padded.st_size and photo.stat().st_mtime_ns == padded.st_mtime_ns
    fourth = photo_gallery(engine, tmp_path / "staff")
    assert len(embedded) == 4 and not np.array_equal(fourth["asha"], third["asha"])
