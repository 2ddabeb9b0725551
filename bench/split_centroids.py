"""Could two IDs of one person, split across days, be joined without the owner? Day centroids of real faces.

On the shop-camera evaluation days a customer is sometimes given a second ID on a later day: at 28-40 px one
person's two days can read less alike than `IdentityRules.match_threshold`. The owner's first suggested merge
is then mostly that pair ("Correcting identities"). Joining such pairs automatically would need day centroids
of one person to stand out from those of two people, which single photo pairs (bench/face_roc_by_size.py) do
not show. This measures it on ../shared/data/faces as the evaluation days draw people: each visit shows one
photo of its person (drawn with replacement, as `sim/shop.py` does) at a face size drawn from 28-40 px, 60%
light, JPEG q40, through the product's own engine and gates; a "day" of a person is the normalised mean of
1-3 such visits (the registry's centroid is a mean of track means). For random shops of --shop-size people seen
on an earlier day, who come back on a later day with --newcomers people never seen before (each returning
person given a new ID: every one split, the worst case), it prints per threshold:
- the share of one person's two day centroids at or above it, and of two people's (per pair);
- what a rule "join a later ID to an earlier one when they are at least this alike and each is the other's
  most alike" would do in such a shop: the share of returning people joined to themselves, and wrong joins
  per shop (a newcomer or a returning person joined to someone else);
- the same rule as the product asks it (`matching._split_across_days`: the earlier ID's most alike looked for
  among the earlier IDs too) with a margin: the pair at least that much more alike than either one's next most
  alike (docs/face-size.md, "The pair that stands out").

Set on the `tune` half; the `report` half is the one to quote.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/split_centroids.py [--half tune|report]
        [--people 80] [--photos 6] [--shops 400] [--shop-size 14]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_roc_by_size import embedded_at_sizes, labelled_faces_root, labelled_people, photo_faces

from watershop_dagster.core.footage.faces import FaceEngine
from watershop_dagster.core.identities.matching import IdentityRules, _split_across_days
from watershop_dagster.evaluation.split import half_of

SIZES = (28, 32, 36, 40)
LIGHT, JPEG = 0.6, 40
THRESHOLDS = (0.18, 0.20, 0.22, 0.24, 0.26, 0.27, 0.28, 0.30)
# The rule with a margin: the pair also stands out from each one's next most alike by at least this much.
MARGIN_THRESHOLDS = (0.22, 0.24, 0.25, 0.26)
MARGINS = (0.0, 0.05, 0.08, 0.10, 0.12)


def visit_embeddings(engine: FaceEngine, root: Path, people: list[str], photos: int) -> dict[str, list[np.ndarray]]:
    """person -> one embedding per (photo, size) the product's gates accept: the faces a visit could show."""
    by_person = labelled_people(root)
    out: dict[str, list[np.ndarray]] = {}
    for person, _, img, face in photo_faces(engine, by_person, people, photos):
        embs = embedded_at_sizes(engine, img, face, SIZES, LIGHT, JPEG)
        out.setdefault(person, []).extend(np.asarray(e, np.float32) for e in embs)
    return {p: e for p, e in out.items() if len(e) >= 2}


def day_centroid(rng: np.random.Generator, faces: list[np.ndarray]) -> np.ndarray:
    picks = rng.choice(len(faces), size=int(rng.integers(1, 4)), replace=True)
    mean = np.mean([faces[i] for i in picks], axis=0)
    return mean / np.linalg.norm(mean)


def mutual_best_joins(a: np.ndarray, b: np.ndarray, threshold: float) -> tuple[int, int]:
    """Earlier IDs `a`, later IDs `b` whose first len(a) rows are the same people in the same order (the rest
    newcomers): (right joins, wrong joins) of the rule 'at least `threshold` alike and each the other's most
    alike'."""
    sims = b @ a.T
    right = wrong = 0
    for j in range(len(b)):
        i = int(np.argmax(sims[j]))
        if sims[j, i] >= threshold and int(np.argmax(sims[:, i])) == j:
            right, wrong = right + (i == j), wrong + (i != j)
    return right, wrong


def margin_joins(a: np.ndarray, b: np.ndarray, threshold: float, margin: float) -> tuple[int, int]:
    """As `mutual_best_joins`, through the product's own rule (`matching._split_across_days`, the mutual
    threshold off): the earlier ID's most alike is looked for among the later IDs and the other earlier ones,
    and the pair is at least `margin` more alike than either one's next most alike."""
    rules = IdentityRules(mutual_match_threshold=1.1, standout_match_threshold=threshold, standout_margin=margin)
    right = wrong = 0
    for j in range(len(b)):
        sims = a @ b[j]
        i = int(np.argmax(sims))
        if _split_across_days(j, i, sims, b, a, rules):
            right, wrong = right + (i == j), wrong + (i != j)
    return right, wrong


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--half", default="tune", choices=["tune", "report"])
    p.add_argument("--people", type=int, default=80)
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--shops", type=int, default=400)
    p.add_argument("--shop-size", type=int, default=14)
    p.add_argument("--newcomers", type=int, default=6)
    args = p.parse_args()
    root = labelled_faces_root()
    if root is None:
        return 2
    names = [n for n, paths in labelled_people(root).items() if half_of(n) == args.half and len(paths) >= 3]
    engine = FaceEngine.from_models()
    faces = visit_embeddings(engine, root, names[: args.people], args.photos)
    people = sorted(faces)
    rng = np.random.default_rng(0)
    same, other = [], []
    joined = {t: [0, 0] for t in THRESHOLDS}
    with_margin = {(t, m): [0, 0] for t in MARGIN_THRESHOLDS for m in MARGINS}
    for _ in range(args.shops):
        drawn = rng.choice(len(people), size=min(args.shop_size + args.newcomers, len(people)), replace=False)
        shop = drawn[: args.shop_size]
        a = np.stack([day_centroid(rng, faces[people[k]]) for k in shop])
        b = np.stack([day_centroid(rng, faces[people[k]]) for k in drawn])
        sims = b @ a.T
        same += list(np.diag(sims))
        other += list(sims[~np.eye(*sims.shape, dtype=bool)])
        for t in THRESHOLDS:
            r, w = mutual_best_joins(a, b, t)
            joined[t][0] += r
            joined[t][1] += w
        for (t, m), counts in with_margin.items():
            r, w = margin_joins(a, b, t, m)
            counts[0] += r
            counts[1] += w
    s, o = np.asarray(same), np.asarray(other)
    persons = args.shops * min(args.shop_size, len(people))
    figures = {
        "half": args.half,
        "people": len(people),
        "faces": sum(len(e) for e in faces.values()),
        "shops": args.shops,
        "shop_size": min(args.shop_size, len(people)),
        "newcomers": args.newcomers,
        "same_day_pairs_p5_p50": [round(float(np.percentile(s, 5)), 3), round(float(np.median(s)), 3)],
        "other_pairs_p99_p999_max": [
            round(float(np.percentile(o, 99)), 3),
            round(float(np.percentile(o, 99.9)), 3),
            round(float(o.max()), 3),
        ],
        "at_or_above": {
            f"{t:.2f}": {
                "same": round(float((s >= t).mean()), 4),
                "other": round(float((o >= t).mean()), 5),
                "joined_right": round(joined[t][0] / persons, 4),
                "wrong_joins_per_shop": round(joined[t][1] / args.shops, 4),
            }
            for t in THRESHOLDS
        },
    }
    figures["with_margin"] = {
        f"{t:.2f}+{m:.2f}": {
            "joined_right": round(c[0] / persons, 4),
            "wrong_joins_per_shop": round(c[1] / args.shops, 4),
        }
        for (t, m), c in with_margin.items()
    }
    shape = f"{args.shops} shops of {figures['shop_size']} + {args.newcomers} new"
    print(f"{len(people)} people ({args.half} half), {figures['faces']} faces, {shape}: own / other pairs; joins")
    for t, f in figures["at_or_above"].items():
        joins = f"joined {f['joined_right']:.3f}, wrong joins per shop {f['wrong_joins_per_shop']:.3f}"
        print(f"  {t}: {f['same']:.3f} / {f['other']:.5f}   {joins}")
    print("the rule as the product asks it, with a margin over each one's next most alike (threshold+margin):")
    for key, f in figures["with_margin"].items():
        print(f"  {key}: joined {f['joined_right']:.3f}, wrong joins per shop {f['wrong_joins_per_shop']:.4f}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
