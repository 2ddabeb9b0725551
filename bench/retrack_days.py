"""Track a stored run's bodies again with this code, and redo everything after the tracker, day by day.

    .venv/bin/python bench/retrack_days.py bench/out/dvr137 /tmp/dvr137-retracked
    .venv/bin/python bench/retrack_days.py bench/out/matrix/10fps-720p-busy-g6 /tmp/g6-retracked

RUN is an `evaluate_visits.py --out` folder (data/, dagster_home/) or a `footage_matrix.py` row folder
(full/, homes/full/). Its data folder and Dagster home are copied to OUT (footage, crops and reports left
behind: nothing of RUN is written). In the copy, each day's `person_detections` is rebuilt from the boxes
the run stored (every box of every analysed frame, with its look; the frames analysed with nobody in them
from `frames`) by this code's person tracker (`build_person_tracks`), and `face_tracks` with every asset
downstream of it (the face-to-body join, identities, visits, links, the day's tables) is materialized
again for the day, in day order. The footage is not decoded again: the sampler and the detectors are the
run's own, so a change to the tracker, the join or what follows is measured on exactly the frames and boxes
the run saw. Prints the visit scores (`evaluation.scoring`) of the stored run and of the copy, and the
customer visits that differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd


def run_folders(run: Path) -> tuple[Path, Path]:
    """(data folder, Dagster home) of an evaluation run or a footage-matrix row."""
    if (run / "data").is_dir():
        return run / "data", run / "dagster_home"
    return run / "full", run / "homes" / "full"


def copy_run(run: Path, out: Path) -> tuple[Path, Path]:
    data, home = run_folders(run)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(data, out / "data", ignore=shutil.ignore_patterns("crops", "footage*", "reports", "*.gate"))
    shutil.copytree(home, out / "dagster_home")
    return out / "data", out / "dagster_home"


def retrack_day(wh, day: str) -> int:
    """The day's person_detections rebuilt by this code's tracker from the boxes stored; the rows written."""
    from watershop_dagster.core.footage.body_tracks import PersonRules, build_person_tracks, person_detections_frame
    from watershop_dagster.core.footage.persons import PersonBox

    analysed = wh.query("SELECT DISTINCT shop, camera, time FROM frames WHERE day = ? AND analysed", [day])
    boxes = wh.query(
        "SELECT DISTINCT shop, camera, time, x1, y1, x2, y2, score, look_l, look_a, look_b "
        "FROM person_detections WHERE day = ?",
        [day],
    )
    by_camera: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(list))
    for row in analysed.itertuples():
        by_camera[(row.shop, row.camera)][row.time.to_pydatetime()]  # a frame with nobody ages the tracks
    for row in boxes.itertuples():
        look = None if pd.isna(row.look_l) else (row.look_l, row.look_a, row.look_b)
        box = PersonBox(row.x1, row.y1, row.x2, row.y2, row.score, look)
        by_camera[(row.shop, row.camera)][row.time.to_pydatetime()].append(box)
    written = 0
    for shop in sorted({shop for shop, _ in by_camera}):
        tracks = [
            track
            for (s, camera), by_time in sorted(by_camera.items())
            if s == shop
            for track in build_person_tracks(by_time, PersonRules(), camera, f"{day}/{camera}/")
        ]
        written += wh.replace_partitions(day, {"person_detections": person_detections_frame(tracks)}, shop=shop)[
            "person_detections"
        ]
    return written


def rematerialize_day(day: str) -> bool:
    """face_tracks and everything downstream of it, for every shop's partition of the day."""
    import dagster as dg

    from watershop_dagster.backfill import process_instance
    from watershop_dagster.definitions import defs

    job = defs.resolve_job_def("daily_job")
    graph = defs.resolve_asset_graph()
    after = dg.AssetSelection.assets("face_tracks", "person_tracks").downstream().resolve(graph)
    in_job = set(job.asset_layer.asset_graph.get_all_asset_keys())
    ok = True
    for shop in process_instance().get_dynamic_partitions("shops") or ["main"]:
        result = job.execute_in_process(
            partition_key=dg.MultiPartitionKey({"day": day, "shop": shop}),
            instance=process_instance(),
            asset_selection=sorted(after & in_job),
            raise_on_error=False,
        )
        ok = ok and result.success
    return ok


def visits(wh) -> pd.DataFrame:
    return wh.query(
        "SELECT customer_id, identified, entry_time, exit_time FROM visit_log WHERE NOT is_staff "
        "ORDER BY entry_time, customer_id"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="an evaluate_visits.py --out folder or a footage_matrix.py row folder")
    p.add_argument("out", type=Path, help="where the copy goes (replaced)")
    args = p.parse_args(argv)
    data, home = copy_run(args.run, args.out)
    # The code location reads these when it loads: set before the definitions are imported.
    os.environ["WATERSHOP_DATA_DIR"], os.environ["DAGSTER_HOME"] = str(data.resolve()), str(home.resolve())

    from watershop_dagster.core.storage.warehouse import Warehouse
    from watershop_dagster.evaluation.scoring import load_truth, score_visits

    stored_wh, wh = Warehouse(run_folders(args.run)[0] / "warehouse.duckdb"), Warehouse(data / "warehouse.duckdb")
    days = [str(d)[:10] for d in wh.query("SELECT DISTINCT day FROM frames ORDER BY day")["day"]]
    for day in days:
        boxes = retrack_day(wh, day)
        print(f"{day}: {boxes} boxes re-tracked, materialized again: {rematerialize_day(day)}")
    truth = load_truth(data / "truth")
    before, after = visits(stored_wh), visits(wh)
    scores = {
        "stored": score_visits(truth, stored_wh.query("SELECT * FROM visit_log")).as_dict(),
        "retracked": score_visits(truth, wh.query("SELECT * FROM visit_log")).as_dict(),
    }
    print(json.dumps({"run": str(args.run), **scores}, indent=1, default=str))
    changed = before.merge(after, how="outer", indicator="version").query("version != 'both'")
    changed["version"] = changed["version"].map({"left_only": "stored", "right_only": "re-tracked"})
    print("customer visits that differ:")
    print(changed.to_string(index=False) if len(changed) else "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
