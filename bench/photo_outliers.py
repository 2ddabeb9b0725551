"""Photos in ../shared/data/faces whose face is not like the same person's other photos (a label error, or a
face the detector took from someone else in the picture): the evaluation draws each visit's face from these
photos, so a customer shown one of them on one day is, to any recognizer, someone else that day.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/photo_outliers.py [--below 0.2]

Each photo's largest usable face at full size goes through the product's engine (SCRFD, alignment,
ArcFace); a photo is listed when the median cosine similarity of its face to the person's other photos is
under --below (the same person's photos at full size are typically 0.4-0.8 apart, different people's under
0.2). Prints one line per listed photo and a count; people with fewer than three usable photos are skipped.
"""

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.core.footage.faces import FaceEngine


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--below", type=float, default=0.2, help="median similarity to the person's other photos")
    args = p.parse_args()
    root = Path(os.environ.get("WATERSHOP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    by_person: dict[str, list[str]] = defaultdict(list)
    for row in csv.DictReader((root / "faces" / "manifest.csv").open()):
        by_person[row["identity"]].append(row["path"])
    engine = FaceEngine.from_models()
    listed = photos = 0
    for person, paths in sorted(by_person.items()):
        embeddings, kept = [], []
        for path in paths:
            image = cv2.imread(str(root / path))
            faces = [o for o in engine.observe(image) if o.usable] if image is not None else []
            if faces:
                embeddings.append(max(faces, key=lambda o: o.face.size).embedding)
                kept.append(path)
        photos += len(paths)
        if len(embeddings) < 3:
            continue
        similarity = np.stack(embeddings) @ np.stack(embeddings).T
        np.fill_diagonal(similarity, np.nan)
        for path, median in zip(kept, np.nanmedian(similarity, axis=1), strict=True):
            if median < args.below:
                listed += 1
                print(f"{path}: median similarity {median:.3f} to {len(kept) - 1} other photos of {person}")
    print(f"{listed} of {photos} photos of {len(by_person)} people listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
