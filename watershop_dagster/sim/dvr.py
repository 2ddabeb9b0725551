"""What a shop DVR does to its recordings, for the simulator: the clock it burns into the picture, the names it
gives its files, and what a power failure leaves of the one it was writing.

Not product code: the evaluation days (`bench/evaluate_visits.py --file-names --clock-overlay --power-cut`),
the footage matrix (`bench/shop_footage.py`) and the tests build DVR exports with it, so the product's readers
(`core/footage/manifest.py`, `core/footage/recovery.py`) meet them as they come from a shop.
"""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.core.footage.recovery import top_level_boxes

# How DVRs and NVRs name an export (each one a pattern `core/footage/manifest.py` reads): `camera` is the
# simulator's own `<camera>_<HHMMSS>`; the others carry the channel and the start (and end) stamps.
FILE_NAME_STYLES = ("camera", "dvr", "nvr", "dated")


def recording_name(style: str, camera: str, start: datetime, end: datetime, channel: int = 1) -> str:
    """The file name a recorder of this `style` gives a recording of `camera` (channel `channel`)."""
    stamp, end_stamp = start.strftime("%Y%m%d%H%M%S"), end.strftime("%Y%m%d%H%M%S")
    if style == "camera":
        return f"{camera}_{start.strftime('%H%M%S')}.mp4"
    if style == "dvr":
        return f"ch{channel:02d}_{stamp}_{end_stamp}.mp4"
    if style == "nvr":
        return f"NVR_ch{channel}_main_{stamp}_{end_stamp}.mp4"
    if style == "dated":
        return f"{start.strftime('%Y-%m-%d_%H-%M-%S')}_{camera}.mp4"
    raise ValueError(f"unknown file name style {style!r}; one of {', '.join(FILE_NAME_STYLES)}")


def burn_in_clock(frame: np.ndarray, t: datetime, label: str) -> None:
    """The DVR's on-screen display, drawn in place after the sensor: date and time top left (changing every
    second) and the camera's label bottom right, white with a thin dark edge, about 4% of the frame height."""
    height, width = frame.shape[:2]
    scale = height / 720 * 1.1
    thick = max(2, int(round(height / 300)))
    text = t.strftime("%Y-%m-%d %a %H:%M:%S")
    for colour, line in (((30, 30, 30), thick + 2), ((255, 255, 255), thick)):
        cv2.putText(frame, text, (int(width * 0.02), int(height * 0.06)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, line)
        cv2.putText(
            frame, label, (int(width * 0.78), int(height * 0.95)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, line
        )


def cut_by_power_failure(whole: Path, path: Path, tail_bytes: int = 50) -> Path:
    """The file as a power failure leaves it: mdat first (as a DVR writes), cut `tail_bytes` before the end of
    mdat, no moov, and the mdat size never patched (0: "to the end of the file"). `path` may be `whole`."""
    boxes = {b.kind: b for b in top_level_boxes(whole)}
    if boxes["mdat"].offset > boxes["moov"].offset:
        raise ValueError(f"{whole.name}: its index comes before the frames; a DVR writes the frames first")
    data = bytearray(whole.read_bytes()[: max(boxes["mdat"].offset + 16, boxes["moov"].offset - tail_bytes)])
    struct.pack_into(">I", data, boxes["mdat"].offset, 0)
    path.write_bytes(bytes(data))
    return path
