"""Footage files: naming, probing, the day's manifest.

`footage/<YYYY-MM-DD>/<camera>_<HHMMSS>.<mp4|avi|mkv|mov>`: the folder is the shop day, HHMMSS the shop-local
start of the file. A file that cannot be used is recorded with its reason; the rest of the day still runs.
"""

from __future__ import annotations

import re
import struct
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import cv2
import pandas as pd

from watershop_dagster.core.storage.schemas import FOOTAGE_MANIFEST

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov")
_NAME = re.compile(r"^(?P<camera>[A-Za-z0-9][A-Za-z0-9-]*(?:_[A-Za-z0-9-]+)*?)_(?P<hms>\d{6})$")
MAX_FPS = 240.0


class FootageNameError(ValueError):
    pass


def parse_footage_name(path: Path, day: date) -> tuple[str, datetime]:
    m = _NAME.match(path.stem)
    if not m:
        raise FootageNameError(f"{path.name}: name is not <camera>_<HHMMSS>{path.suffix} (no start time)")
    hms = m.group("hms")
    try:
        start = time(int(hms[:2]), int(hms[2:4]), int(hms[4:]))
    except ValueError as exc:
        raise FootageNameError(f"{path.name}: {hms} is not a valid HHMMSS start time") from exc
    return m.group("camera"), datetime.combine(day, start)


def parse_day_folder(name: str) -> date:
    try:
        return date.fromisoformat(name)
    except ValueError as exc:
        raise FootageNameError(f"footage folder {name!r} is not a day (YYYY-MM-DD)") from exc


@dataclass
class ManifestRow:
    file: str
    camera: str | None
    start_time: datetime | None
    end_time: datetime | None
    fps: float | None
    frame_count: int | None
    width: int | None
    height: int | None
    size_bytes: int
    status: str
    error: str | None
    path: str  # absolute, for the sampler; not stored

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def avi_declared_fps(path: Path) -> float | None:
    """The frame rate an AVI's video stream header declares (dwRate / dwScale), read directly: when it is 0,
    OpenCV and ffmpeg silently substitute a 25 fps default and every timestamp would be wrong."""
    head = path.read_bytes()[:65536] if path.stat().st_size else b""
    i = head.find(b"strh")
    if i < 0 or head[i + 8 : i + 12] != b"vids":
        return None
    scale, rate = struct.unpack_from("<II", head, i + 28)
    return rate / scale if scale and rate else 0.0


def probe(path: Path) -> tuple[float, int, int, int]:
    """fps, frames, width, height, or a ValueError saying why the file is unusable."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file (0 bytes)")
    if path.suffix.lower() == ".avi" and avi_declared_fps(path) == 0.0:
        raise ValueError("metadata gives 0 fps (AVI stream header): cannot place frames in time")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(
                "cannot be opened as video (not a video, unsupported codec, or truncated before its index)"
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not (0 < fps <= MAX_FPS):
            raise ValueError(f"metadata gives {fps:g} fps: cannot place frames in time")
        ok, _ = cap.read()
        if not ok:
            raise ValueError("no decodable frame")
        if frames <= 0:
            raise ValueError("metadata gives no frame count")
        return fps, frames, width, height
    finally:
        cap.release()


def scan_day(folder: Path, day: date, relative_to: Path | None = None) -> list[ManifestRow]:
    rows: list[ManifestRow] = []
    if not folder.is_dir():
        return rows
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        rel = str(path.relative_to(relative_to)) if relative_to else path.name
        size = path.stat().st_size
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            rows.append(
                ManifestRow(
                    rel,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    size,
                    "error",
                    f"{path.name}: not a video extension ({', '.join(VIDEO_EXTENSIONS)})",
                    str(path),
                )
            )
            continue
        try:
            camera, start = parse_footage_name(path, day)
        except FootageNameError as exc:
            rows.append(ManifestRow(rel, None, None, None, None, None, None, None, size, "error", str(exc), str(path)))
            continue
        try:
            fps, frames, width, height = probe(path)
        except Exception as exc:  # every unusable file is recorded, none stops the day
            rows.append(
                ManifestRow(
                    rel, camera, start, None, None, None, None, None, size, "error", f"{path.name}: {exc}", str(path)
                )
            )
            continue
        end = start + timedelta(seconds=frames / fps)
        rows.append(ManifestRow(rel, camera, start, end, fps, frames, width, height, size, "ok", None, str(path)))
    return rows


def rows_from_manifest(table: pd.DataFrame, root: Path) -> list[ManifestRow]:
    """The stored manifest back as rows, so later steps use what was probed instead of probing again."""
    rows = []
    for r in table.itertuples(index=False):
        ok = r.status == "ok"
        rows.append(
            ManifestRow(
                r.file,
                r.camera,
                r.start_time,
                r.end_time,
                float(r.fps) if ok else None,
                int(r.frame_count) if ok else None,
                int(r.width) if ok else None,
                int(r.height) if ok else None,
                int(r.size_bytes),
                r.status,
                r.error,
                str(root / r.file),
            )
        )
    return rows


def manifest_frame(rows: list[ManifestRow]) -> pd.DataFrame:
    cols = [c for c in FOOTAGE_MANIFEST.column_names if c != "day"]
    return pd.DataFrame([{k: v for k, v in asdict(r).items() if k in cols} for r in rows], columns=cols)
