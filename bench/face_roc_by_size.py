"""ROC of the face pipeline by face size: what size of face still identifies a person?

Each labelled photo in ../shared/data/faces is scaled down so that its face is S pixels (shorter side of the
detector's box, S in --sizes), pasted into a grey 1280x720 frame as a 720p camera would record it, optionally
dimmed (--brightness) and JPEG-compressed (--jpeg, a stand-in for a low-bitrate encoder), and sent through
the product's own engine: SCRFD on the frame at the product's scale (640 px for the long side), 5-point
alignment (which upscales the small face to 112x112) and ArcFace. Pairs of photos are then scored as in
bench/face_roc.py, per size.

People are split in two halves by a hash of their name (fixed in code, no random state): thresholds and the
weight curve are chosen on the `tune` half and the figures printed for both, the `report` half being the
one to quote. A face the detector misses at a size counts as missed for that size (reported as a rate); its
pairs are left out of that size's ROC.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/face_roc_by_size.py [--people 120] [--photos 5]
        [--sizes 20,24,28,32,40,56,112] [--brightness 1.0] [--jpeg 0] [--refine-below-px 64]
"""

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.core.footage.faces import FaceEngine, QualityRules
from watershop_dagster.evaluation.split import half_of

THRESHOLDS = (0.25, 0.30, 0.32, 0.36, 0.40)
FRAME_W, FRAME_H = 1280, 720


def camera_frame(photo: np.ndarray, scale: float, brightness: float, jpeg: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo scaled by `scale` (INTER_AREA, as a lens and sensor average), centred in a grey 720p frame,
    dimmed and compressed; returns the frame and the photo's offset in it."""
    h, w = photo.shape[:2]
    small = cv2.resize(photo, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    small = small[:FRAME_H, :FRAME_W]
    frame: np.ndarray = np.full((FRAME_H, FRAME_W, 3), 110, np.uint8)
    sh, sw = small.shape[:2]
    oy, ox = (FRAME_H - sh) // 2, (FRAME_W - sw) // 2
    frame[oy : oy + sh, ox : ox + sw] = small
    if brightness != 1.0:
        frame = np.clip(frame.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        frame = frame if decoded is None else np.asarray(decoded, np.uint8)
    return frame, np.array([ox, oy], np.float32)


def labelled_people(root: Path) -> dict[str, list[Path]]:
    """identity -> its photos in ../shared/data/faces (root: the data folder), the people in a fixed order:
    sorted by a hash of the name (no alphabetical bias, no random state)."""
    by_person = defaultdict(list)
    for row in csv.DictReader((root / "faces" / "manifest.csv").open()):
        by_person[row["identity"]].append(root / row["path"])
    return {n: by_person[n] for n in sorted(by_person, key=lambda n: hashlib.md5(n.encode()).digest())}


def labelled_faces_root() -> Path | None:
    """The shared data folder (`WATERSHOP_SHARED_DATA`, else ../shared/data) when it holds the labelled faces;
    None, with the reason on stderr, when it does not."""
    root = Path(os.environ.get("WATERSHOP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if (root / "faces" / "manifest.csv").is_file():
        return root
    print(f"no labelled faces under {root}/faces: set WATERSHOP_SHARED_DATA", file=sys.stderr)
    return None


def photo_faces(engine: FaceEngine, paths: dict[str, list[Path]], people: list[str], photos: int) -> Iterator[tuple]:
    """(person, photo number, image, its largest face as found at full size) for the first `photos` photos of
    each of `people`; photos without a face (or unreadable) are skipped."""
    for person in people:
        for k, path in enumerate(paths[person][:photos]):
            img = cv2.imread(str(path))
            faces = engine.detector.detect(img) if img is not None else []
            if img is not None and faces:
                yield person, k, img, max(faces, key=lambda f: f.size)


def framed_faces_at_size(
    engine: FaceEngine, img: np.ndarray, face, size: int, brightness: float, jpeg: int
) -> tuple[np.ndarray, list]:
    """The camera frame (`camera_frame`) holding the photo scaled so its face (`face`, as found at full size) is
    `size` px, and what the engine finds there (not embedded)."""
    frame, offset = camera_frame(img, size / face.size, brightness, jpeg)
    centre = (face.box[:2] + face.box[2:]) / 2 * (size / face.size) + offset
    seen = [
        o for o in engine.observe(frame, embed=False) if abs(o.face.box[:2] + o.face.box[2:] - 2 * centre).max() < size
    ]
    return frame, seen


def embedded_at_size(engine: FaceEngine, img: np.ndarray, face, size: int, brightness: float, jpeg: int):
    """The largest face the engine finds where `framed_faces_at_size` puts the photo's face, embedded as the
    product embeds it (landmarks of a small face found again; its `embedding` None where the engine's gates
    refuse it); None where no face is found."""
    frame, seen = framed_faces_at_size(engine, img, face, size, brightness, jpeg)
    if not seen:
        return None
    obs = max(seen, key=lambda o: o.face.size)
    engine.embed([obs], frame)
    return obs


def embedded_at_sizes(engine: FaceEngine, img: np.ndarray, face, sizes, brightness: float, jpeg: int) -> list:
    """The photo's face embedded at each of `sizes` the photo has (never upscaled), as the product embeds it:
    the embeddings the engine's gates accept."""
    found = (embedded_at_size(engine, img, face, size, brightness, jpeg) for size in sizes if size <= face.size * 1.05)
    return [obs.embedding for obs in found if obs is not None and obs.embedding is not None]


def rates(embs: np.ndarray, labels: np.ndarray) -> dict:
    iu = np.triu_indices(len(labels), 1)
    sims, same = (embs @ embs.T)[iu], (labels[:, None] == labels[None, :])[iu]
    out: dict[str, object] = {"same_pairs": int(same.sum()), "different_pairs": int((~same).sum())}
    for th in THRESHOLDS:
        out[f"{th:.2f}"] = (
            round(float((sims[same] >= th).mean()), 4) if same.any() else None,
            round(float((sims[~same] >= th).mean()), 6) if (~same).any() else None,
        )
    out["mean_same"] = round(float(sims[same].mean()), 4) if same.any() else None
    out["mean_different"] = round(float(sims[~same].mean()), 4) if (~same).any() else None
    return out


def _cell(pair: tuple) -> str:
    same, different = pair
    return ("  -  " if same is None else f"{same:.3f}") + "/" + ("   -   " if different is None else f"{different:.5f}")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--people", type=int, default=120)
    p.add_argument("--photos", type=int, default=5)
    p.add_argument("--sizes", default="20,24,28,32,40,56,112")
    p.add_argument("--brightness", type=float, default=1.0)
    p.add_argument("--jpeg", type=int, default=0, help="JPEG quality of the frame (0: none)")
    p.add_argument("--json", default=None, help="also write the figures here")
    p.add_argument(
        "--refine-below-px",
        type=float,
        default=64.0,
        help="landmarks of smaller faces found again before embedding, as the product does (0: the first pass's)",
    )
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    root = labelled_faces_root()
    if root is None:
        return 2
    by_person = labelled_people(root)
    people = [p for p in by_person if len(by_person[p]) >= 2][: args.people]  # at least two photos each
    # every face kept for the ROC (no size cut-off): the ROC is what decides the cut-off
    engine = FaceEngine.from_models(
        rules=QualityRules(min_face_px=0.0, min_sharpness=0.0, min_score=0.0), refine_below_px=args.refine_below_px
    )
    engine.recognizer.min_feature_norm = None  # type: ignore[attr-defined]  # nor the feature-norm floor
    t0 = time.perf_counter()
    found: dict[int, list[tuple[str, np.ndarray, float]]] = {s: [] for s in sizes}
    tried = dict.fromkeys(sizes, 0)
    no_face = 0
    for person in people:
        for path in by_person[person][: args.photos]:
            img = cv2.imread(str(path))
            faces = engine.detector.detect(img) if img is not None else []
            if img is None or not faces:
                no_face += 1
                continue
            face = max(faces, key=lambda f: f.size)
            for s in sizes:
                if s > face.size * 1.05:  # never upscale the photo: a size the photo does not have is skipped
                    continue
                tried[s] += 1
                obs = embedded_at_size(engine, img, face, s, args.brightness, args.jpeg)
                if obs is None:
                    continue
                assert obs.embedding is not None
                found[s].append((person, obs.embedding, obs.quality))
    figures: dict = {
        "photos_without_a_face_at_full_size": no_face,
        "seconds": round(time.perf_counter() - t0, 1),
        "brightness": args.brightness,
        "jpeg": args.jpeg,
        "refine_below_px": args.refine_below_px,
    }
    print(f"{len(people)} people, up to {args.photos} photos each; brightness {args.brightness}, jpeg {args.jpeg}")
    print("size  half    detected  same/different accepted at " + "  ".join(f"{t:.2f}" for t in THRESHOLDS))
    for s in sizes:
        per_half = {}
        for half in ("tune", "report"):
            rows = [r for r in found[s] if half_of(r[0]) == half]
            if len(rows) < 3:
                continue
            embs = np.stack([r[1] for r in rows])
            labels = np.array([r[0] for r in rows])
            per_half[half] = {"faces": len(rows), **rates(embs, labels)}
            cells = "  ".join(_cell(per_half[half][f"{t:.2f}"]) for t in THRESHOLDS)
            print(f"{s:4d}  {half:6s}  {len(rows):4d}      {cells}")
        figures[str(s)] = {"tried": tried[s], "detected": len(found[s]), **per_half}
        print(f"      detection rate at {s}px: {len(found[s])}/{tried[s]}")
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
