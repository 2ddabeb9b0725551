"""Re-run only the identity stage on stored face_tracks with other thresholds, and score each setting.

.venv/bin/python bench/identity_sweep.py bench/out/eval/data
"""

import sys
from pathlib import Path

import pandas as pd

from watershop_dagster.core.footage.faces import FaceEngine, photo_gallery
from watershop_dagster.core.identities.matching import IdentityRules, assign_identities, updated_entry
from watershop_dagster.core.identities.visits import build_visits
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.evaluation.scoring import load_truth, score_visits


def replay(wh: Warehouse, staff: dict, rules: IdentityRules) -> pd.DataFrame:
    tracks_all = wh.query("SELECT * FROM face_tracks ORDER BY day, first_time")
    registry: dict[str, object] = {}
    next_number, visits = 1, []
    for day, tracks in tracks_all.groupby("day", sort=True):
        day = pd.Timestamp(day).date()
        res = assign_identities(tracks.drop(columns="day"), list(registry.values()), staff, next_number, rules)
        next_number += len(res.new_ids)
        v = build_visits(day, tracks, res.assignments)
        counts = v["customer_id"].value_counts().to_dict()
        for cid, (mean, weight, crop) in res.day_centroids.items():
            registry[cid] = updated_entry(
                registry.get(cid), cid, day, mean, weight, counts.get(cid, 0), cid.startswith("STAFF_"), crop, rules
            )
        visits.append(v.assign(day=day))
    return pd.concat(visits, ignore_index=True)


def main(data_dir: str) -> None:
    data = Path(data_dir)
    wh = Warehouse(data / "warehouse.duckdb")
    staff = {f"STAFF_{n}": e for n, e in photo_gallery(FaceEngine.from_models(), data / "staff").items()}
    truth = load_truth(data / "truth")
    for match in (0.26, 0.30, 0.33, 0.36):
        for cluster in (0.30, 0.34, 0.40):
            s = score_visits(truth, replay(wh, staff, IdentityRules(match_threshold=match, cluster_threshold=cluster)))
            print(
                f"match {match:.2f} cluster {cluster:.2f}: "
                f"bcubed P {s.bcubed_precision:.3f} R {s.bcubed_recall:.3f} F1 {s.bcubed_f1:.3f} "
                f"customers {s.predicted_customers}/{s.truth_customers} "
                f"visits R {s.recall:.3f} P {s.precision:.3f} as staff {s.customers_labelled_staff}"
            )


if __name__ == "__main__":
    main(sys.argv[1])
