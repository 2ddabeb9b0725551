"""How face-like real faces look to the recognizer at shop sizes: the raw feature norm of each face.

The recognizer's unnormalised feature is long for a face and short for what only looks like one to the
detector (the back of a head, a cap): `faces.MIN_FEATURE_NORMS` keeps a floor per model. This prints the
norms of real faces of ../shared/data/faces, each photo scaled so its face is S px and pasted into a 720p
frame as `bench/face_roc_by_size.py` does, at full light and at 60% light with JPEG q40, through the product's
engine (detector, quality gate, and the crop it embeds: aligned on landmarks found again for a face under
64 px). The floor is set on the `tune` half (the default); the `report` half is the one to quote.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/face_norms.py [--half tune|report] [--people 60]
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_roc_by_size import framed_faces_at_size, labelled_faces_root, labelled_people, photo_faces

from watershop_dagster.core.footage.faces import FaceEngine
from watershop_dagster.evaluation.split import half_of

SIZES = (24, 28, 32, 40, 48)
CONDITIONS = ((1.0, 0), (0.6, 40))  # (light, JPEG quality; 0: none)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--half", default="tune", choices=["tune", "report"])
    p.add_argument("--people", type=int, default=60)
    p.add_argument("--photos", type=int, default=3)
    args = p.parse_args()
    root = labelled_faces_root()
    if root is None:
        return 2
    by_person = labelled_people(root)
    people = [n for n in by_person if half_of(n) == args.half][: args.people]
    engine = FaceEngine.from_models()
    norms: dict[tuple[int, float], list[float]] = defaultdict(list)
    for _person, _k, img, face in photo_faces(engine, by_person, people, args.photos):
        for size in SIZES:
            if size > face.size * 1.05:  # never upscale a photo
                continue
            for light, jpeg in CONDITIONS:
                frame, found = framed_faces_at_size(engine, img, face, size, light, jpeg)
                seen = [o for o in found if o.usable]
                if seen:  # the crop the product embeds (landmarks of a small face found again)
                    crop = engine.crop_to_embed(max(seen, key=lambda o: o.face.size), frame)
                    norms[(size, light)].append(float(engine.recognizer.embed_with_norms([crop])[1][0]))
    figures = {}
    for (size, light), values in sorted(norms.items()):
        v = np.array(values)
        figures[f"{size}px light {light:g}"] = {
            "faces": len(v),
            "min": round(float(v.min()), 2),
            "q01": round(float(np.quantile(v, 0.01)), 2),
            "median": round(float(np.median(v)), 2),
        }
    every = np.concatenate([np.array(v) for v in norms.values()])
    figures["all"] = {"faces": len(every), "min": round(float(every.min()), 2)}
    figures["floor"] = engine.recognizer.min_feature_norm
    figures["under_floor"] = int((every < (engine.recognizer.min_feature_norm or 0)).sum())
    print(json.dumps({"half": args.half, "people": len(people), **figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
