"""Whether an ID enrolled before its person opted out can be found afterwards: centroid against opt-out photo.

Adding a photo to `data/optout/<name>/` acts on the days analysed after it; the ID the person was given before
stays. `core/privacy/optout.ids_like_opted_out` compares each customer's centroid with the opt-out photos and
lists the IDs that look like them for the owner to forget (`optout_matches`, the review page). This measures
the threshold it needs on real faces of ../shared/data/faces: for each person, the faces of all photos but the
last as a shop camera records them (28, 32 and 40 px in a 720p frame, 60% light, JPEG q40, the product's own
engine and gates), their normalised mean standing for the registry centroid (the product's is the mean of
track means); the last photo, at full size, is the opt-out photo (embedded as `photo_gallery` embeds it). It
prints, per threshold, how often a centroid reaches its own person's photo and how often another person's,
and the same for single faces (the opt-out check at detection, `OptOutList`). Set on the `tune` half; the
`report` half is the one to quote.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/optout_centroids.py [--half tune|report] [--people 60]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_roc_by_size import embedded_at_sizes, labelled_faces_root, labelled_people, photo_faces

from watershop_dagster.core.footage.faces import FaceEngine, embed_photo
from watershop_dagster.evaluation.split import half_of

SIZES = (28, 32, 40)
LIGHT, JPEG = 0.6, 40
THRESHOLDS = (0.25, 0.30, 0.35, 0.40, 0.45)


def rates(same: list[float], other: list[float]) -> dict[str, list[float]]:
    """threshold -> [share of own-person pairs at or above it, share of other-person pairs]."""
    s, o = np.asarray(same), np.asarray(other)
    return {f"{t:.2f}": [round(float((s >= t).mean()), 4), round(float((o >= t).mean()), 5)] for t in THRESHOLDS}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--half", default="tune", choices=["tune", "report"])
    p.add_argument("--people", type=int, default=60)
    p.add_argument("--photos", type=int, default=5, help="photos per person: all but the last make the centroid")
    args = p.parse_args()
    root = labelled_faces_root()
    if root is None:
        return 2
    by_person = labelled_people(root)
    people = [n for n in by_person if half_of(n) == args.half and len(by_person[n]) >= 3][: args.people]
    engine = FaceEngine.from_models()
    centroids, photos, faces = {}, {}, []
    for person in people:
        paths = by_person[person][: args.photos]
        photo = embed_photo(engine, paths[-1])
        if photo is None:
            continue
        embs = []
        for _, _, img, face in photo_faces(engine, {person: paths[:-1]}, [person], len(paths) - 1):
            embs += embedded_at_sizes(engine, img, face, SIZES, LIGHT, JPEG)  # the product's gates refuse some
        if embs:
            mean = np.mean(embs, axis=0)
            centroids[person], photos[person] = mean / np.linalg.norm(mean), photo
            faces += [(person, e) for e in embs]
    names = sorted(centroids)
    c_same = [float(centroids[n] @ photos[n]) for n in names]
    c_other = [float(centroids[a] @ photos[b]) for a in names for b in names if a != b]
    f_same = [float(e @ photos[n]) for n, e in faces]
    f_other = [float(e @ photos[b]) for n, e in faces for b in names if b != n]
    figures = {
        "half": args.half,
        "people": len(names),
        "faces": len(faces),
        "centroid_vs_photo": rates(c_same, c_other),
        "centroid_same_min_median": [round(min(c_same), 3), round(float(np.median(c_same)), 3)],
        "centroid_other_max": round(max(c_other), 3),
        "face_vs_photo": rates(f_same, f_other),
    }
    print(f"{len(names)} people ({args.half} half), {len(faces)} shop-camera faces; own/other share at or above")
    for t in THRESHOLDS:
        c, f = figures["centroid_vs_photo"][f"{t:.2f}"], figures["face_vs_photo"][f"{t:.2f}"]
        print(f"  {t:.2f}: centroid {c[0]:.3f} / {c[1]:.5f}   single face {f[0]:.3f} / {f[1]:.5f}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
