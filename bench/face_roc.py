"""ROC of the face recognizer on labelled photos: how often the same person and different people pass a
cosine-similarity threshold. The identity thresholds in core/identities/matching.py come from here.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/face_roc.py [--people 120] [--photos 6]
"""

import argparse
import csv
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.core.footage.faces import FaceEngine


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--people", type=int, default=120)
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--model-dir", default=None)
    args = p.parse_args()
    root = Path(os.environ.get("WATERSHOP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    by_person = defaultdict(list)
    for row in csv.DictReader((root / "faces" / "manifest.csv").open()):
        by_person[row["identity"]].append(root / row["path"])
    people = sorted(by_person)
    random.Random(0).shuffle(people)
    engine = FaceEngine.from_models(args.model_dir)
    embs, labels, missed, t0 = [], [], 0, time.perf_counter()
    for person in people[: args.people]:
        for path in by_person[person][: args.photos]:
            img = cv2.imread(str(path))
            e = engine.embed_image(img) if img is not None else None
            if e is None:
                missed += 1
                continue
            embs.append(e)
            labels.append(person)
    E, L = np.stack(embs), np.array(labels)
    iu = np.triu_indices(len(L), 1)
    sims, same = (E @ E.T)[iu], (L[:, None] == L[None, :])[iu]
    print(
        f"{len(E)} photos with a usable face of {len(set(labels))} people ({missed} without one) "
        f"in {time.perf_counter() - t0:.0f}s"
    )
    print(f"{same.sum()} same-person pairs, {(~same).sum()} different-person pairs")
    print("threshold  same-person accepted  different-person accepted")
    for th in (0.20, 0.25, 0.30, 0.35, 0.36, 0.40, 0.45, 0.50):
        print(f"  {th:.2f}      {(sims[same] >= th).mean():.4f}               {(sims[~same] >= th).mean():.5f}")
    order = np.argsort(-sims)
    tpr = np.cumsum(same[order]) / same.sum()
    fpr = np.cumsum(~same[order]) / (~same).sum()
    print(f"AUC {np.trapezoid(tpr, fpr):.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
