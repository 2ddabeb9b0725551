"""The whole pipeline on the real clips of ../shared/data/videos, next to what a person counts by looking.

    WATERSHOP_SHARED_DATA=../shared/data PYTHONPATH=. .venv/bin/python bench/real_clips.py

Each day below puts real clips into one shop's footage folder (linked, not copied), named as a DVR names
them (`cam1_<HHMMSS>`), and `watershop materialize` runs every asset of those days, identities carried from
day to day as in a shop. Printed per day: the visits in `visit_log` (with a face / unidentified), the
distinct customer IDs, and the counts by eye, which were made by looking at frames of each clip (a tile of
one frame every 2-6 s) and are written down here.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ClipDay:
    day: str
    clips: tuple[str, ...]  # recorded one hour apart, from 09:00
    visits_by_eye: int
    people_by_eye: int
    seen: str  # what a person sees in the clips


DAYS = (
    ClipDay(
        "2024-02-05",
        ("intel_one_by_one_person_detection.mp4",),
        6,
        6,
        "139 s, 768x432, camera high behind the visitors: six people walk in one after another to a standing "
        "table, stay 10-20 s with their backs to the camera and leave; a face is seen only in passing",
    ),
    ClipDay(
        "2024-02-06",
        ("pyfeat_single_face.mp4", "pyfeat_face_then_noface.mov", "pyfeat_noface_then_face.mov"),
        3,
        1,
        "three short clips (2-6 s) of one man facing the camera, one of them starting without a face",
    ),
    ClipDay(
        "2024-02-07",
        ("pexels_wolfganglanger_woman_expressions.mp4",),
        1,
        1,
        "20 s, one woman close to the camera pulling faces",
    ),
    ClipDay(
        "2024-02-08",
        ("office_reception_fisheye_cctv.mp4",),
        11,
        11,
        "21 s, 640x360, a fisheye ceiling camera over a reception desk, the nearest thing to a shop camera here: "
        "in the room the whole clip, two receptionists seated, three visitors at the desk, a man standing behind "
        "them, a woman in pink and two men in suits walking across, two people seated in the lounge (11); 4-6 "
        "more walk past behind a glass wall; faces about 18 px high (SOURCES.md), none named",
    ),
)


def materialize(data: Path, day: str) -> str:
    env = {
        **os.environ,
        "WATERSHOP_DATA_DIR": str(data),
        "DAGSTER_HOME": str(data.parent / "dagster_home"),
        "WATERSHOP_START_DATE": DAYS[0].day,
        "WATERSHOP_LOG_LEVEL": "ERROR",
    }
    env.pop("WATERSHOP_WAREHOUSE", None)
    out = subprocess.run(
        [sys.executable, "-m", "watershop_dagster.cli", "materialize", "--day", day],
        env=env, capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    return "ok" if out.returncode == 0 else f"FAILED: {out.stdout[-800:]}"


def main() -> int:
    shared = Path(os.environ.get("WATERSHOP_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
    if not (shared / "videos").is_dir():
        print(f"no clips under {shared}/videos: set WATERSHOP_SHARED_DATA", file=sys.stderr)
        return 2
    out = REPO / "bench" / "out" / "real_clips"
    shutil.rmtree(out, ignore_errors=True)
    data = out / "data"
    for d in DAYS:
        folder = data / "footage" / d.day
        folder.mkdir(parents=True)
        for hour, clip in enumerate(d.clips):
            (folder / f"cam1_{9 + hour:02d}0000{Path(clip).suffix}").symlink_to(shared / "videos" / clip)
    rows = []
    for d in DAYS:
        status = materialize(data, d.day)
        with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as conn:
            visits = conn.execute(
                "SELECT customer_id, identified, is_staff, entry_time, exit_time FROM visit_log WHERE day = ?",
                [d.day],
            ).fetchall()
            known = conn.execute(
                "SELECT count(DISTINCT customer_id) FROM visit_log WHERE day <= ? AND identified AND NOT is_staff",
                [d.day],
            ).fetchone()
        customers = {v[0] for v in visits if v[1] and not v[2]}
        rows.append(
            {
                "day": d.day,
                "clips": list(d.clips),
                "run": status,
                "visits": len(visits),
                "with_a_face": sum(1 for v in visits if v[1]),
                "unidentified": sum(1 for v in visits if not v[1]),
                "customers_that_day": len(customers),
                "customers_so_far": known[0] if known else 0,
                "visits_by_eye": d.visits_by_eye,
                "people_by_eye": d.people_by_eye,
                "spans": [f"{v[3]:%H:%M:%S}-{v[4]:%H:%M:%S} {v[0] or 'unidentified'}" for v in visits],
                "seen_by_eye": d.seen,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print("| clips | seen by eye | visits by eye / found (with a face + unidentified) | people by eye / IDs found |")
    print("|---|---|---|---|")
    for r in rows:
        found = f"{r['visits']} ({r['with_a_face']} + {r['unidentified']})"
        print(
            f"| {', '.join(r['clips'])} | {r['seen_by_eye']} | {r['visits_by_eye']} / {found} "
            f"| {r['people_by_eye']} / {r['customers_that_day']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
