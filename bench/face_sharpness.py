"""What a face's sharpness says about whether it still identifies: the sharpness gate's evidence.

`faces.QualityRules.min_sharpness` rejects a face whose sharpness (variance of the Laplacian of the aligned
face, scaled to mean grey 128: `faces.sharpness_of`) is under it. Sharpness also depends on the face itself: a
bald head, smooth skin and a plain background have little fine detail. This puts real faces of
../shared/data/faces into a 720p frame at shop sizes, as `bench/face_roc_by_size.py` does, at 60% light with
JPEG q40, sharp and behind a Gaussian blur (sigma 1 and 2 px of the frame: a soft lens, a moving customer),
embeds every face with all gates off, and prints per sharpness band: how many faces fall in it; against the
sharp faces of the other photos (same size), how often it matches its own person (cosine >= 0.30, the
registry's threshold) and someone else, and the separation (mean same-person minus mean other-person cosine,
the quantity `faces.SIZE_WEIGHTS` is made from); and against the other faces of its own band, how often it
matches its own person and someone else (blur makes people look alike: two soft faces of different people
match far more often than a soft and a sharp one). Set on the `tune` half (the default); the `report` half is
the one to quote.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/face_sharpness.py [--half tune|report] [--people 60]
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_roc_by_size import embedded_at_size, labelled_faces_root, labelled_people, photo_faces

from watershop_dagster.core.footage.faces import FaceEngine, QualityRules
from watershop_dagster.evaluation.split import half_of

SIZES = (28, 32, 40)
BLURS = (0.0, 1.0, 2.0)  # Gaussian sigma in pixels of the frame, applied at the face's camera size
LIGHT, JPEG = 0.6, 40
BANDS = (0.0, 5.0, 10.0, 15.0, 25.0, 50.0, float("inf"))
MATCH = 0.30


def blurred_at_size(img: np.ndarray, face, size: int, sigma: float) -> tuple[np.ndarray, object]:
    """The photo as a camera `sigma` px out of focus would see it at `size` px: blurred at that scale, then
    scaled back up so `framed_faces_at_size` scales it down to the same size again."""
    if sigma == 0:
        return img, face
    scale = size / face.size
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma)
    return cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_CUBIC), face


def soft_against_soft(seen: list, lo: float, hi: float) -> dict[str, float | int | None]:
    """Faces of the band against each other (other photos, the same size): blur makes everyone look alike, so
    two soft faces of different people match far more often than a soft face and a sharp one do."""
    band = [s for s in seen if lo <= s[4] < hi]
    same, other = [], []
    for i, (person, k, size, _, _, emb) in enumerate(band):
        for r_person, r_k, r_size, _, _, r_emb in band[i + 1 :]:
            if r_size == size and not (r_person == person and r_k == k):
                (same if r_person == person else other).append(float(emb @ r_emb))
    return {
        "band_vs_band_same_match": round(float(np.mean(np.array(same) >= MATCH)), 3) if same else None,
        "band_vs_band_other_match": round(float(np.mean(np.array(other) >= MATCH)), 5) if other else None,
        "band_vs_band_other_pairs": len(other),
        "band_vs_band_other_mean": round(float(np.mean(other)), 3) if other else None,
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--half", default="tune", choices=["tune", "report"])
    p.add_argument("--people", type=int, default=60)
    p.add_argument("--photos", type=int, default=4)
    args = p.parse_args()
    root = labelled_faces_root()
    if root is None:
        return 2
    by_person = labelled_people(root)
    people = [n for n in by_person if half_of(n) == args.half and len(by_person[n]) >= 2][: args.people]
    engine = FaceEngine.from_models(rules=QualityRules(min_face_px=0.0, min_sharpness=0.0, min_score=0.0))
    engine.recognizer.min_feature_norm = None  # type: ignore[attr-defined]  # every face embedded
    # (person, photo, size, blur, sharpness, embedding)
    seen: list[tuple[str, int, int, float, float, np.ndarray]] = []
    for person, k, img, face in photo_faces(engine, by_person, people, args.photos):
        for size in SIZES:
            if size > face.size * 1.05:  # never upscale a photo
                continue
            for sigma in BLURS:
                shown, at = blurred_at_size(img, face, size, sigma)
                obs = embedded_at_size(engine, shown, at, size, LIGHT, JPEG)
                if obs is not None and obs.embedding is not None:
                    seen.append((person, k, size, sigma, obs.sharpness, obs.embedding))
    # Each face against the sharp faces of the same size of every other photo: the same person's (a match is
    # found) and other people's (a false match).
    refs = [s for s in seen if s[3] == 0.0]
    figures: dict[str, dict] = {}
    for lo, hi in zip(BANDS, BANDS[1:]):
        same_hits, same_pairs, other_hits, other_pairs, faces = 0, 0, 0, 0, 0
        same_sims: list[float] = []
        other_sims: list[float] = []
        for person, k, size, _sigma, sharp, emb in seen:
            if not lo <= sharp < hi:
                continue
            faces += 1
            for r_person, r_k, r_size, _, _, r_emb in refs:
                if r_size != size or (r_person == person and r_k == k):
                    continue
                sim = float(emb @ r_emb)
                (same_sims if r_person == person else other_sims).append(sim)
                if r_person == person:
                    same_pairs, same_hits = same_pairs + 1, same_hits + (sim >= MATCH)
                else:
                    other_pairs, other_hits = other_pairs + 1, other_hits + (sim >= MATCH)
        figures[f"{lo:g}-{hi:g}"] = {
            "faces": faces,
            "same_person_match": round(same_hits / same_pairs, 3) if same_pairs else None,
            "same_pairs": same_pairs,
            "other_person_match": round(other_hits / other_pairs, 5) if other_pairs else None,
            "other_pairs": other_pairs,
            # mean same-person minus mean other-person cosine: what faces.SIZE_WEIGHTS are made from
            "separation": round(float(np.mean(same_sims) - np.mean(other_sims)), 3) if same_sims else None,
            **soft_against_soft(seen, lo, hi),
        }
    by_blur = {
        f"sigma {sigma:g}": [
            round(float(np.quantile([s[4] for s in seen if s[3] == sigma], q)), 1) for q in (0.1, 0.5, 0.9)
        ]
        for sigma in BLURS
    }
    print(
        json.dumps(
            {
                "half": args.half,
                "people": len(people),
                "condition": f"light {LIGHT:g}, JPEG q{JPEG}, sizes {SIZES}",
                "sharpness_q10_median_q90_by_blur": by_blur,
                "by_sharpness": figures,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
