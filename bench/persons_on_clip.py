"""Person detection where the sampler looks: added cost per analysed frame, and person tracks on a real clip.

    WATERSHOP_SHARED_DATA=../shared/data .venv/bin/python bench/persons_on_clip.py [clip name]

Runs the default coarse-to-fine sampler over the clip with the face stage plus YOLOX-Nano on every analysed
frame (the product's path), builds person tracks and joins face tracks to them, and prints the detector's
seconds per analysed frame, the tracks, and which of them have no face (unidentified visits).
"""

import json
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import pandas as pd

from watershop_dagster.core.footage.analysis import FaceStage, StageTimes
from watershop_dagster.core.footage.body_tracks import PersonRules, build_person_tracks
from watershop_dagster.core.footage.coarse_to_fine import CoarseToFineSampler
from watershop_dagster.core.footage.faces import FaceEngine
from watershop_dagster.core.footage.faces_on_bodies import person_only_presences
from watershop_dagster.core.footage.persons import PersonDetector


def main() -> int:
    root = Path(os.environ.get("WATERSHOP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    clip = root / "videos" / (sys.argv[1] if len(sys.argv) > 1 else "intel_one_by_one_person_detection.mp4")
    cap = cv2.VideoCapture(str(clip))
    fps, frames = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    times = StageTimes()
    stage = FaceStage(FaceEngine.from_models(), times, PersonDetector.default())
    t0, start = time.perf_counter(), datetime(2024, 1, 1, 9)
    by_time = {}
    for sample in CoarseToFineSampler().samples(clip, fps, frames, stage.look):
        if sample.analysed and sample.findings is not None:
            by_time[start + timedelta(seconds=sample.frame.offset_s)] = list(sample.findings.persons)  # type: ignore[attr-defined]
    wall = time.perf_counter() - t0
    tracks = build_person_tracks(by_time, PersonRules(), "cam", "")
    long_enough = person_only_presences(tracks, {}, PersonRules())
    print(
        json.dumps(
            {
                "clip": clip.name,
                "video_seconds": round(frames / fps, 1),
                "analysed_frames": stage.analysed,
                "wall_s": round(wall, 1),
                "stage_seconds": times.as_dict(),
                "person_ms_per_analysed_frame": round(1000 * times.persons / max(1, stage.analysed), 1),
                "face_detect_ms_per_analysed_frame": round(1000 * times.detection / max(1, stage.analysed), 1),
                "person_tracks": len(tracks),
                "tracks_of_5s_or_more": len(long_enough),
                "spans": [
                    (str(pd.Timestamp(a).time()), str(pd.Timestamp(b).time()), len(tr.boxes))
                    for a, b, tr in long_enough
                ],
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
