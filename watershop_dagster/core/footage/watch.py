"""What the footage sensor sees: which day folders hold settled video files, and what is wrong with the rest.

A DVR may still be writing a file: a file counts only once its size and modification time are the same as
at the previous look (the sensor's cursor keeps that previous look). A name in any layout of
`FOOTAGE_NAME_PATTERNS` counts, even one without a start time (the manifest reads the container's creation_time);
a name that fits none, has an impossible stamp, or is dated another day than its folder is a problem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from watershop_dagster.core.footage.manifest import (
    VIDEO_EXTENSIONS,
    FootageNameError,
    parse_day_folder,
    read_footage_name,
)


@dataclass(frozen=True)
class FileState:
    path: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        return f"{self.path}:{self.size}:{self.mtime_ns}"


@dataclass
class WatchResult:
    settled: dict[date, list[FileState]]  # day -> files unchanged since the last look
    growing: list[str]
    problems: list[str]
    seen: dict[str, list[int]]  # path -> [size, mtime_ns] for the next look


def look(footage_dir: Path, previous: dict[str, list[int]], valid_days: set[str]) -> WatchResult:
    settled: dict[date, list[FileState]] = {}
    growing: list[str] = []
    problems: list[str] = []
    seen: dict[str, list[int]] = {}
    if not footage_dir.is_dir():
        return WatchResult(settled, growing, [f"footage folder {footage_dir} does not exist"], seen)
    for folder in sorted(p for p in footage_dir.iterdir() if p.is_dir()):
        try:
            day = parse_day_folder(folder.name)
        except FootageNameError as exc:
            problems.append(str(exc))
            continue
        if day.isoformat() not in valid_days:
            problems.append(
                f"footage folder {folder.name} is outside the partition range (WATERSHOP_START_DATE .. today)"
            )
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            if path.suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            try:
                read_footage_name(path, day)
            except FootageNameError as exc:
                problems.append(f"{folder.name}/{exc}")
                continue
            st = path.stat()
            rel = f"{folder.name}/{path.name}"
            seen[rel] = [st.st_size, st.st_mtime_ns]
            if previous.get(rel) == [st.st_size, st.st_mtime_ns] and st.st_size > 0:
                settled.setdefault(day, []).append(FileState(rel, st.st_size, st.st_mtime_ns))
            else:
                growing.append(rel)
    return WatchResult(settled, growing, problems, seen)
