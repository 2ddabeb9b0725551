"""Weak face tracks against known customers: the evidence for `IdentityRules.weak_match_threshold`.

A face track under the evidence bar (`evidence.MIN_TRACK_EVIDENCE`: two or three small or soft faces) may
confirm a customer already known, never make one. This puts real faces of ../shared/data/faces into a 720p
frame as `bench/face_roc_by_size.py` does, at 60% light with JPEG q40 (the shop-camera evaluation days'
conditions), and for each photo of each person builds:
- a weak track: the photo's face at 26 and at 30 px, embedded through the product's gates, averaged (two
  faces of about 28 px weigh 1.5, under the bar of 1.7);
- that person's registry centroid: the average of their other photos' faces at 36 and 40 px (an identity made
  on other days from stronger tracks).
It prints, per half and per threshold, how often a weak track is confirmed as its own person (its own
centroid the most alike, at least the threshold, no other at the threshold), and how often a weak track of
someone the registry does not know (a newcomer) would be confirmed as somebody else: its most alike other
person's centroid at the threshold or above, with no second one there. People are split by a hash of their
name (`evaluation.split.half_of`); set on the `tune` half, the `report` half is the one to quote.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/weak_tracks.py [--people 120] [--photos 5]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_roc_by_size import embedded_at_size, labelled_faces_root, labelled_people, photo_faces

from watershop_dagster.core.footage.faces import FaceEngine
from watershop_dagster.evaluation.split import half_of

WEAK_SIZES = (26, 30)
CENTROID_SIZES = (36, 40)
THRESHOLDS = (0.35, 0.40, 0.45, 0.50, 0.55, 0.60)
LIGHT, JPEG = 0.6, 40


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def embedded_mean(engine: FaceEngine, img, face, sizes) -> np.ndarray | None:
    """The average of the photo's face embedded at each size (through the product's gates); None unless every
    size gave an embedded face."""
    vectors = []
    for size in sizes:
        if size > face.size * 1.05:  # never upscale a photo
            return None
        obs = embedded_at_size(engine, img, face, size, LIGHT, JPEG)
        if obs is None or obs.embedding is None:
            return None
        vectors.append(obs.embedding)
    return unit(np.mean(vectors, axis=0))


def figures_for(weak: dict[str, list[np.ndarray]], strong: dict[str, list[np.ndarray]]) -> dict:
    people = [p for p in weak if len(strong.get(p, [])) >= 2]  # a centroid from another photo of the same person
    centroids = {p: unit(np.mean(strong[p], axis=0)) for p in strong}
    own_sims, own_ok, newcomer_wrong = [], dict.fromkeys(THRESHOLDS, 0), dict.fromkeys(THRESHOLDS, 0)
    other_max, other_all = [], []
    tracks = 0
    for p in people:
        for k, w in enumerate(weak[p]):
            mine = [v for j, v in enumerate(strong[p]) if j != k]  # photo k is the weak track's own: left out
            own = float(unit(np.mean(mine, axis=0)) @ w)
            others = np.array([float(centroids[q] @ w) for q in centroids if q != p])
            tracks += 1
            own_sims.append(own)
            top = np.sort(others)[::-1]
            other_max.append(float(top[0]))
            other_all.extend(others.tolist())
            for t in THRESHOLDS:
                own_ok[t] += own >= t and top[0] < t
                newcomer_wrong[t] += top[0] >= t and (len(top) < 2 or top[1] < t)
    return {
        "people": len(people),
        "weak_tracks": tracks,
        "own_similarity_p5_p25_p50": [round(float(x), 3) for x in np.percentile(own_sims, [5, 25, 50])]
        if own_sims
        else None,
        "most_alike_other_p50_p95_max": [round(float(x), 3) for x in np.percentile(other_max, [50, 95, 100])]
        if other_max
        else None,
        # per (weak track, someone else's centroid) pair: a newcomer's chance of a wrong confirmation grows with
        # the registry, about this times the number of customers it holds
        "other_pairs": len(other_all),
        "other_pairs_at_threshold": {f"{t:.2f}": float(np.mean(np.array(other_all) >= t)) for t in THRESHOLDS}
        if other_all
        else None,
        "confirmed_as_own": {f"{t:.2f}": round(own_ok[t] / max(tracks, 1), 3) for t in THRESHOLDS},
        "newcomer_confirmed_as_someone_else": {
            f"{t:.2f}": round(newcomer_wrong[t] / max(tracks, 1), 4) for t in THRESHOLDS
        },
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--people", type=int, default=120)
    p.add_argument("--photos", type=int, default=5)
    p.add_argument(
        "--weak-sizes",
        default=",".join(map(str, WEAK_SIZES)),
        help="face sizes (px) averaged into a weak track: '30' is a track of one usable face",
    )
    args = p.parse_args()
    weak_sizes = tuple(int(x) for x in args.weak_sizes.split(","))
    root = labelled_faces_root()
    if root is None:
        return 2
    by_person = labelled_people(root)
    people = [n for n in by_person if len(by_person[n]) >= 2][: args.people]
    engine = FaceEngine.from_models()
    weak: dict[str, dict[str, list[np.ndarray]]] = {"tune": {}, "report": {}}
    strong: dict[str, dict[str, list[np.ndarray]]] = {"tune": {}, "report": {}}
    for person, _, img, face in photo_faces(engine, by_person, people, args.photos):
        w, s = embedded_mean(engine, img, face, weak_sizes), embedded_mean(engine, img, face, CENTROID_SIZES)
        if w is None or s is None:  # a photo is used only where both its weak track and its centroid face exist
            continue
        half = half_of(person)
        weak[half].setdefault(person, []).append(w)
        strong[half].setdefault(person, []).append(s)
    out = {half: figures_for(weak[half], strong[half]) for half in ("tune", "report")}
    out["conditions"] = (
        f"720p frame, light {LIGHT}, JPEG q{JPEG}; weak track {weak_sizes} px, centroid {CENTROID_SIZES} px"
    )
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
