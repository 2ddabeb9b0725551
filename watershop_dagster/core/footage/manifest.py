"""Footage files: naming, probing, the day's manifest.

`footage/<YYYY-MM-DD>/<name>.<mp4|avi|mkv|mov|ts|mts|m4v>`, a raw H.264/H.265 stream
(`.h264|.264|.h265|.265|.hevc`) or a Dahua `.dav` (both timed by `probe_counting_frames`); a Hikvision
export's `.mp4` is an MPEG program stream, read by its content as any container: the folder is the shop day.
The name gives the camera and, in most layouts, the shop-local start of the file; `FOOTAGE_NAME_PATTERNS` is
the one table of accepted names, tried in this order (first match wins):

- `[<device>_]ch<N>[_main|_sub]_<YYYYMMDDhhmmss>[_<YYYYMMDDhhmmss>]`, as Hikvision/Dahua-like DVRs export:
  `ch01_20260302085500_20260302090000.mp4`, `NVR_ch1_main_20260302085500_20260302090000.mp4`
- `<camera IP>_<NN>_<YYYYMMDDhhmmss>[<ms>][_<event>]`, as an IP camera records to its card or a NAS:
  `192.168.1.64_01_20260302085500123_TIMING.mp4` (camera `192.168.1.64_01`, start to the millisecond)
- `<camera>_<YYYYMMDD>[_]<hhmmss>[_<end stamp>]`: `cam1_20260302085500.mp4`, `cam1_20260302_085500.mp4`
- `<camera>_<YYYY-MM-DD>_<hh-mm-ss>`: `cam1_2026-03-02_08-55-00.mp4`
- `<YYYY-MM-DD>_<hh-mm-ss>_<camera>`: `2026-03-02_08-55-00_cam1.mkv`
  (in these two, a space may stand for either `_`, a `T` for the one between date and time, and dots for the
  dashes of the time: `cam1 2026-03-02 08.55.00.mp4`, as PC and phone exports write them)
- `<YYYYMMDD>[_]<hhmmss>_<camera>`: `20260302085500_cam1.mp4`
- `<camera>_<HHMMSS>` (the date is the folder's): `cam1_081500.mp4`, `front_door_235959.mkv`
- `<camera>` alone: `lobby.mp4`; the start is the container's `creation_time`, its wall clock taken as the
  shop's (DVRs stamp their local clock; the shop has no other time zone)

A camera named `ch<N>` is a DVR channel and is normalised to two digits, `ch<NN>` (`ch1`, `CH01` -> `ch01`), so
one channel is one camera whichever layout named the file; the device prefix and the main/sub stream are
dropped (one DVR per shop). A date in the name must be the folder's day (an end stamp may run past midnight);
an end stamp is a cross-check for the probed duration: a disagreement is noted, the file kept.

A file that cannot be used is recorded with its reason (naming the file) and the rest of the day still runs. An
MP4 cut off by a power failure (frames in `mdat`, no `moov` index) is rebuilt from another file of the same
camera (`recovery.py`) into `footage_recovered/<day>/`; the manifest row is then `ok` with `recovered_file`
pointing at the copy. `missing_minutes` says how much of each camera's day is lost (gaps between its files plus
the estimated length of unusable ones). `pixel_aspect` says how much wider than tall a stored pixel is
shown (a D1 camera, a DVR's half-width 960x1080 mode): the samplers stretch frames to square pixels.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import av
import cv2
import pandas as pd

from watershop_dagster.core.footage.recovery import RecoveryError, is_power_cut_mp4, recover_power_cut, reference_stream
from watershop_dagster.core.storage.schemas import FOOTAGE_MANIFEST

# Containers as recorders export them: MPEG-TS (.ts, and AVCHD's .mts) from NVR backups and streaming
# recorders, .m4v from some exports; a fragmented MP4 (moof boxes, no index up front) is an ordinary .mp4.
# A raw H.264/H.265 stream (Annex B, no container) is what many DVRs' USB backups and phone apps write: the
# frames carry no times, so `probe_counting_frames` counts them and takes the rate from the name's start and end
# stamps, else from the stream's own timing (the SPS), else rejects the file with how to fix it.
RAW_STREAM_EXTENSIONS = (".h264", ".264", ".h265", ".265", ".hevc")
# Dahua's own recording format (also CP Plus and other Dahua-made DVRs; FFmpeg's `dhav` demuxer): each frame
# stamped with the DVR's clock and the keyframes with the frame rate, but no frame count and no index.
DAV_EXTENSION = ".dav"
COUNTED_EXTENSIONS = (*RAW_STREAM_EXTENSIONS, DAV_EXTENSION)  # frames counted by `probe_counting_frames`
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".ts", ".mts", ".m4v", *COUNTED_EXTENSIONS)
MAX_FPS = 240.0
END_STAMP_TOLERANCE_S = 2.0  # names are stamped to the second and may count the last frame or not
# A file whose minutes other files of its camera already cover this much is a second copy of them (an NVR's
# sub stream exported beside its main stream, the same export twice): analysed once, from the sharper copy.
DUPLICATE_COVERED_SHARE = 0.9
REFERENCES_TRIED = 3  # a camera whose settings changed during the day: try the nearest whole files


class FootageNameError(ValueError):
    pass


@dataclass(frozen=True)
class NamePattern:
    regex: re.Pattern[str]
    example: str
    layout: str


_CAMERA = r"(?P<camera>[A-Za-z0-9][A-Za-z0-9-]*(?:_[A-Za-z0-9-]+)*?)"
_CHANNEL = r"(?:[A-Za-z0-9.-]+_)?(?P<camera>[Cc][Hh]\d{1,3})(?:_(?:[Mm]ain|[Ss]ub))?"
_STAMP = r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})_?(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})"
_END_STAMP = r"(?:_(?P<ey>\d{4})(?P<emo>\d{2})(?P<ed>\d{2})_?(?P<eh>\d{2})(?P<emi>\d{2})(?P<es>\d{2}))?"
# Exports from PC software and phone apps use a space or a T between date and time, and dots in the time.
_DASHED = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[_ T](?P<h>\d{2})[-.](?P<mi>\d{2})[-.](?P<s>\d{2})"
# An IP camera recording to its own card or a NAS (Hikvision's layout): its address and channel, the start
# to the millisecond, and what triggered the recording.
_IP_CAMERA = r"(?P<camera>\d{1,3}(?:\.\d{1,3}){3}_\d{1,3})"
_EVENT = r"(?:_[A-Za-z]+(?:_[A-Za-z]+)*)?"

# Order matters: the dated layouts come before `<camera>_<HHMMSS>`, whose lazy camera would otherwise swallow
# a date (`cam1_20260302_085500` is not camera `cam1_20260302` at 08:55).
FOOTAGE_NAME_PATTERNS: tuple[NamePattern, ...] = (
    NamePattern(
        re.compile(rf"^{_CHANNEL}_{_STAMP}{_END_STAMP}$"),
        "NVR_ch1_main_20260302085500_20260302090000.mp4",
        "[<device>_]ch<N>[_main|_sub]_<YYYYMMDDhhmmss>[_<YYYYMMDDhhmmss>]",
    ),
    NamePattern(
        re.compile(rf"^{_IP_CAMERA}_{_STAMP}(?P<ms>\d{{3}})?{_EVENT}$"),
        "192.168.1.64_01_20260302085500123_TIMING.mp4",
        "<camera IP>_<NN>_<YYYYMMDDhhmmss>[<ms>][_<event>]",
    ),
    NamePattern(
        re.compile(rf"^{_CAMERA}_{_STAMP}{_END_STAMP}$"),
        "cam1_20260302085500_20260302090000.mp4",
        "<camera>_<YYYYMMDD>[_]<hhmmss>[_<YYYYMMDDhhmmss>]",
    ),
    NamePattern(
        re.compile(rf"^{_CAMERA}[_ ]{_DASHED}$"), "cam1_2026-03-02_08-55-00.mp4", "<camera>_<YYYY-MM-DD>_<hh-mm-ss>"
    ),
    NamePattern(
        re.compile(rf"^{_DASHED}[_ ]{_CAMERA}$"), "2026-03-02_08-55-00_cam1.mkv", "<YYYY-MM-DD>_<hh-mm-ss>_<camera>"
    ),
    NamePattern(re.compile(rf"^{_STAMP}_{_CAMERA}$"), "20260302085500_cam1.mp4", "<YYYYMMDD>[_]<hhmmss>_<camera>"),
    NamePattern(
        re.compile(rf"^{_CAMERA}_(?P<h>\d{{2}})(?P<mi>\d{{2}})(?P<s>\d{{2}})$"), "cam1_081500.mp4", "<camera>_<HHMMSS>"
    ),
    NamePattern(
        re.compile(r"^(?P<camera>[A-Za-z0-9][A-Za-z0-9_-]*)$"),
        "lobby.mp4",
        "<camera> (start from the container's creation_time)",
    ),
)
_CHANNEL_NAME = re.compile(r"^[Cc][Hh](\d+)$")


@dataclass(frozen=True)
class FootageName:
    """What a file name says: the camera, and the start and end stamps when it carries them."""

    camera: str
    start: datetime | None
    end: datetime | None
    layout: str


def camera_name(raw: str) -> str:
    """A DVR channel (`ch1`, `CH01`, `ch001`) becomes `ch01`, so one channel is one camera in every layout."""
    m = _CHANNEL_NAME.match(raw)
    return f"ch{int(m.group(1)):02d}" if m else raw


def _stamp(m: re.Match[str], prefix: str, day: date, path: Path) -> datetime | None:
    """The date and time in the groups named `<prefix>y`, `<prefix>h`, ..., or None when the pattern has none;
    the folder's day stands in for a missing date."""
    groups = m.groupdict()
    if groups.get(f"{prefix}h") is None:
        return None
    text = "".join(groups.get(f"{prefix}{k}") or "" for k in ("y", "mo", "d", "h", "mi", "s"))
    ms = int(groups.get(f"{prefix}ms") or 0)
    try:
        when = time(int(groups[f"{prefix}h"]), int(groups[f"{prefix}mi"]), int(groups[f"{prefix}s"]), ms * 1000)
        on = (
            date(int(groups[f"{prefix}y"]), int(groups[f"{prefix}mo"]), int(groups[f"{prefix}d"]))
            if groups.get(f"{prefix}y")
            else day
        )
    except ValueError as exc:
        what = "date and time" if groups.get(f"{prefix}y") else "HHMMSS start time"
        raise FootageNameError(f"{path.name}: {text} is not a valid {what}") from exc
    return datetime.combine(on, when)


def read_footage_name(path: Path, day: date) -> FootageName:
    """Camera, start and end stamps from a file name (start None when the name has none: the container may
    know), or a FootageNameError naming the file: no pattern fits, an impossible stamp, or a date that is not
    the folder's day."""
    for pattern in FOOTAGE_NAME_PATTERNS:
        m = pattern.regex.match(path.stem)
        if m:
            break
    else:
        raise FootageNameError(
            f"{path.name}: name fits no footage name pattern (no camera, no start time), e.g. cam1_081500{path.suffix}"
        )
    start, end = _stamp(m, "", day, path), _stamp(m, "e", day, path)
    if start is not None and start.date() != day:
        raise FootageNameError(f"{path.name}: the name says {start.date()}, but the file is in day folder {day}")
    return FootageName(camera_name(m.group("camera")), start, end, pattern.layout)


def parse_footage_name(path: Path, day: date) -> tuple[str, datetime]:
    """Camera and start from the name alone; a FootageNameError when the name carries no start time."""
    name = read_footage_name(path, day)
    if name.start is None:
        raise FootageNameError(
            f"{path.name}: name is not <camera>_<HHMMSS>{path.suffix} or a dated layout (no start time)"
        )
    return name.camera, name.start


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
    path: str  # absolute, for the sampler; not stored (the recovered copy for a recovered file)
    notes: str | None = None
    recovered_file: str | None = None
    missing_minutes: float | None = None
    pixel_aspect: float = 1.0  # the stored pixel's width over its height as shown (`pixel_aspect`)

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


# A frame of this shape (width / height = 8:9, within 3%) is a DVR's half-width recording mode ("1080N"/"lite":
# 960x1080 and 640x720, shown at 16:9), whose files often do not say their pixels are twice as wide as tall.
HALF_WIDTH_SHAPE = 8 / 9
HALF_WIDTH_TOLERANCE = 0.03


def pixel_aspect(sar_num: float, sar_den: float, width: int, height: int) -> float:
    """How many times wider than tall one stored pixel is shown: the stream's sample aspect ratio where it gives
    one (a D1 704x576 camera showing 16:9 says 16:11), 2 for a half-width DVR frame that says nothing (or
    1:1), else 1. Faces and bodies are searched in frames stretched by this to square pixels: a face squeezed
    to half its width loses a tenth of its detections and half of its similarity to the same person
    (README, "DVR exports as they come")."""
    if sar_num > 0 and sar_den > 0 and abs(sar_num / sar_den - 1.0) > 1e-3:
        return float(sar_num / sar_den)
    if width > 0 and height > 0 and abs(width / height / HALF_WIDTH_SHAPE - 1.0) <= HALF_WIDTH_TOLERANCE:
        return 2.0
    return 1.0


def probe(path: Path) -> tuple[float, int, int, int, float]:
    """fps, frames, width, height, pixel aspect (`pixel_aspect`), or a ValueError saying why the file is
    unusable."""
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
        sar = cap.get(cv2.CAP_PROP_SAR_NUM), cap.get(cv2.CAP_PROP_SAR_DEN)
        return fps, frames, width, height, pixel_aspect(*sar, width, height)
    finally:
        cap.release()


def probe_counting_frames(path: Path, named_seconds: float | None) -> tuple[float, int, int, int, float, str]:
    """fps, frames, width, height, pixel aspect and how the rate was found, for a file with no frame count: a
    raw H.264/H.265 stream (no container, no frame times) or a Dahua .dav. The frames are counted from the
    stream's access units (no decoding); the rate is frames over the seconds between the name's start and end
    stamps, else the file's own (a .dav's keyframe headers; a raw stream's SPS timing); a ValueError says why
    the file is unusable."""
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    dav = path.suffix.lower() == DAV_EXTENSION
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for packet in container.demux(stream) if packet.size)
            width, height = stream.codec_context.width, stream.codec_context.height
            own_rate = stream.average_rate if dav else stream.codec_context.framerate
            sar = stream.codec_context.sample_aspect_ratio
        with av.open(str(path)) as container:
            if next(container.decode(video=0), None) is None:
                raise ValueError("no decodable frame")
    except (av.error.FFmpegError, IndexError) as exc:
        kind = "a Dahua .dav recording" if dav else "a raw H.264/H.265 stream"
        raise ValueError(f"cannot be read as {kind} ({exc})") from exc
    if frames == 0:
        raise ValueError("no frames in the stream")
    own = "the recording's frame rate (.dav header)" if dav else "the stream's own timing (SPS)"
    own_fps = float(own_rate) if own_rate is not None and own_rate.denominator and float(own_rate) > 0 else None
    if named_seconds is not None and named_seconds > 0:
        fps, how = frames / named_seconds, "fps from the name's start and end stamps"
        # A file cut short (a partial copy, a power cut) still reads, and its name's span would stretch it:
        # where the file's own rate puts its frames well inside that span, the own rate wins.
        if own_fps and abs(frames / own_fps - named_seconds) > END_STAMP_TOLERANCE_S:
            fps, how = (
                own_fps,
                (
                    f"fps from {own}: the name spans {named_seconds:g} s but its {frames} frames last "
                    f"{frames / own_fps:.1f} s at that rate (cut short?)"
                ),
            )
    elif own_fps:
        fps, how = own_fps, f"fps from {own}"
    else:
        raise ValueError(
            f"no frame rate: the name has no end stamp and {own} gives none: name it with its start and end "
            f"(ch01_<YYYYMMDDhhmmss>_<YYYYMMDDhhmmss>{path.suffix}) or remux it with its frame rate "
            "(ffmpeg -r <fps> -i FILE -c copy FILE.mp4)"
        )
    if not dav:
        how += " (a raw stream has no frame times)"
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"{fps:g} fps ({how}): cannot place frames in time")
    aspect = pixel_aspect(sar.numerator if sar else 0, sar.denominator if sar else 0, width, height)
    return fps, frames, width, height, aspect, how


def dav_start_time(path: Path) -> datetime | None:
    """The DVR clock's reading at a .dav file's first frame (each frame carries it; FFmpeg hands it on as
    milliseconds since 1970 on that clock), or None when unreadable or before 2000 (an unset clock)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            first = next((p for p in container.demux(stream) if p.size and p.pts is not None), None)
            if first is None or first.pts is None or stream.time_base is None:
                return None
            when = datetime(1970, 1, 1) + timedelta(seconds=float(first.pts * stream.time_base))
    except (av.error.FFmpegError, IndexError, OverflowError):
        return None
    return when if when.year >= 2000 else None


def container_creation_time(path: Path) -> datetime | None:
    """The container's (else the video stream's) creation_time, its wall clock taken as shop-local; None when
    absent, unreadable, or a placeholder before 2000 (DVRs with an unset clock write 1970 or 1904)."""
    try:
        with av.open(str(path)) as container:
            streams = list(container.streams.video[:1])
            stamp = container.metadata.get("creation_time") or next(
                (s.metadata.get("creation_time") for s in streams if s.metadata.get("creation_time")), None
            )
    except (av.error.FFmpegError, OSError):
        return None
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None
    return when if when.year >= 2000 else None


@dataclass
class _Examined:
    """A manifest row with what the later passes need: the name's stamps, and whether it is a power-cut MP4."""

    row: ManifestRow
    name: FootageName | None = None
    power_cut: bool = False


def _start(row: ManifestRow) -> datetime:
    """The start time of a row known to have one (every ok row, and the rows the later passes pick)."""
    assert row.start_time is not None, f"{row.file}: no start time"
    return row.start_time


def _end(row: ManifestRow) -> datetime:
    """The end time of a row known to have one (every ok row)."""
    assert row.end_time is not None, f"{row.file}: no end time"
    return row.end_time


def end_stamp_note(name: FootageName | None, end: datetime) -> str | None:
    """A note when the name's end stamp disagrees with start + probed duration (the file is kept)."""
    if name is None or name.end is None:
        return None
    off = (name.end - end).total_seconds()
    if abs(off) <= END_STAMP_TOLERANCE_S:
        return None
    return (
        f"the name's end stamp {name.end:%H:%M:%S} is {abs(off):.0f} s {'after' if off > 0 else 'before'} "
        f"start + probed duration ({end:%H:%M:%S})"
    )


def aspect_note(width: int, height: int, aspect: float) -> str | None:
    """A note when the file's pixels are not square: analysed stretched to the shape it is shown at."""
    if aspect == 1.0:
        return None
    return f"pixels {aspect:.3g} times as wide as tall: {width}x{height} analysed as {round(width * aspect)}x{height}"


def _join(*parts: str | None) -> str | None:
    return "; ".join(p for p in parts if p) or None


def error_row(rel: str, path: Path, reason: str, name: FootageName | None = None) -> ManifestRow:
    """The row of a file that cannot be used: its reason, and the camera and start when the name gave them."""
    camera, start = (name.camera, name.start) if name else (None, None)
    size = path.stat().st_size if path.exists() else 0
    return ManifestRow(rel, camera, start, None, None, None, None, None, size, "error", reason, str(path))


def examine_file(path: Path, day: date, rel: str) -> _Examined:
    """One file's manifest row from its name and a probe; a power-cut MP4 is marked for recovery."""
    if not path.exists():  # a link whose target is gone (an unmounted NAS share, a moved export)
        return _Examined(error_row(rel, path, f"{path.name}: a link to {path.readlink()}, which does not exist"))
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        return _Examined(error_row(rel, path, f"{path.name}: not a video extension ({', '.join(VIDEO_EXTENSIONS)})"))
    try:
        name = read_footage_name(path, day)
    except FootageNameError as exc:
        return _Examined(error_row(rel, path, str(exc)))
    raw_timing = None
    try:
        if path.suffix.lower() in COUNTED_EXTENSIONS:
            named = (name.end - name.start).total_seconds() if name.start and name.end else None
            fps, frames, width, height, aspect, raw_timing = probe_counting_frames(path, named)
        else:
            fps, frames, width, height, aspect = probe(path)
    except Exception as exc:  # every unusable file is recorded, none stops the day
        power_cut = path.suffix.lower() in (".mp4", ".mov") and path.stat().st_size > 0 and is_power_cut_mp4(path)
        return _Examined(error_row(rel, path, f"{path.name}: {exc}", name), name, power_cut)
    start, notes = name.start, raw_timing
    if start is None:
        dav = path.suffix.lower() == DAV_EXTENSION
        start = dav_start_time(path) if dav else container_creation_time(path)
        source = "the DVR clock stamped in its frames" if dav else "the container's creation_time"
        if start is None:
            reason = (
                f"{path.name}: no start time: the name fits no dated layout ({name.layout}) and "
                f"{'its frames carry no DVR clock' if dav else 'the container has no creation_time'}"
            )
            return _Examined(error_row(rel, path, reason, name), name)
        if start.date() != day:
            reason = f"{path.name}: {source}, {start}, is not on day folder {day}"
            return _Examined(error_row(rel, path, reason, name), name)
        notes = _join(f"start from {source} (the name has none)", notes)
    end = start + timedelta(seconds=frames / fps)
    size = path.stat().st_size
    row = ManifestRow(
        rel, name.camera, start, end, fps, frames, width, height, size, "ok", None, str(path), pixel_aspect=aspect
    )
    row.notes = _join(notes, end_stamp_note(name, end), aspect_note(width, height, aspect))
    return _Examined(row, name)


def recover_file(item: _Examined, references: list[ManifestRow], out_dir: Path, relative_to: Path | None) -> None:
    """Rebuilds a power-cut file from the nearest whole files of its camera; the row becomes ok with the copy as
    its path, or keeps its error with why recovery failed."""
    row, path = item.row, Path(item.row.path)
    cut = f"{path.name}: cut off before its index (moov) was written, a power failure"
    if row.start_time is None:
        row.error = f"{cut}; no start time in its name and such a file has no creation_time"
        return
    if not references:
        row.error = (
            f"{cut}; cannot be recovered: no whole file of camera {row.camera} this day to take codec parameters from"
        )
        return
    reasons = []
    start = row.start_time
    for ref in sorted(references, key=lambda r: abs(_start(r) - start))[:REFERENCES_TRIED]:
        try:
            recovered = recover_power_cut(path, reference_stream(Path(ref.path)), out_dir / f"{path.stem}.mp4")
            fps, frames, width, height, aspect = probe(recovered.path)
        except (RecoveryError, ValueError, av.error.FFmpegError) as exc:
            reasons.append(str(exc))
            continue
        end = row.start_time + timedelta(seconds=frames / fps)
        row.end_time, row.fps, row.frame_count, row.width, row.height = end, fps, frames, width, height
        row.pixel_aspect = aspect
        row.status, row.error, row.path = "ok", None, str(recovered.path)
        row.recovered_file = str(recovered.path.relative_to(relative_to)) if relative_to else str(recovered.path)
        row.notes = _join(
            f"recovered {frames} of {recovered.frames_found} frames ({frames / fps:.0f} s) from the mdat of a file "
            f"cut off before its index, with the codec parameters of {Path(ref.path).name}; "
            f"{recovered.bytes_dropped} bytes of cut tail dropped"
            + (
                f", {recovered.bytes_skipped} bytes of other streams (audio) skipped" if recovered.bytes_skipped else ""
            ),
            end_stamp_note(item.name, end),
            aspect_note(width, height, aspect),
        )
        return
    row.error = f"{cut}; cannot be recovered: " + "; ".join(reasons)


def bytes_per_second(rows: list[ManifestRow]) -> float | None:
    """Bytes per second of video over whole files (recovered copies excluded: their size is not the file's)."""
    whole = [r for r in rows if r.ok and r.recovered_file is None and r.end_time and r.end_time > _start(r)]
    seconds = sum((_end(r) - _start(r)).total_seconds() for r in whole)
    return sum(r.size_bytes for r in whole) / seconds if seconds else None


def estimated_end(item: _Examined, rate: float | None) -> tuple[datetime, str | None]:
    """Where an unusable file's recording likely ended: its name's end stamp, else its size at the camera's
    bitrate; its start when neither is known."""
    row, start = item.row, _start(item.row)
    if item.name is not None and item.name.end is not None and item.name.end > start:
        return item.name.end, "from the name's end stamp"
    if rate:
        return start + timedelta(seconds=row.size_bytes / rate), f"from its size at {rate * 8 / 1000:.0f} kbit/s"
    return start, None


def records_continuously(starts: list[datetime], ends: list[datetime]) -> bool:
    """Whether a camera records all the time (each file starting where the one before ended, as DVRs that split
    hourly write) rather than on motion (files with the quiet stretches between them left out): at least half
    of its consecutive files meet. A camera with one file has no gap either way."""
    pairs = list(zip(ends[:-1], starts[1:], strict=True))
    meet = sum(1 for end, start in pairs if abs((start - end).total_seconds()) <= END_STAMP_TOLERANCE_S)
    return bool(pairs) and 2 * meet >= len(pairs)


def covered_seconds(intervals: Sequence[tuple[datetime, datetime]]) -> float:
    """Length of the union of [start, end] intervals, in seconds."""
    total, end = 0.0, None
    start = None
    for a, b in sorted(intervals):
        if end is None or a > end:
            if end is not None and start is not None:
                total += (end - start).total_seconds()
            start, end = a, b
        else:
            end = max(end, b)
    if end is not None and start is not None:
        total += (end - start).total_seconds()
    return total


def mark_duplicate_streams(rows: list[ManifestRow]) -> None:
    """Per camera, a usable file whose minutes (at least DUPLICATE_COVERED_SHARE of them) sharper or larger
    files of the same camera already cover becomes `duplicate`, naming the file kept: the same minutes are
    analysed once (twice would double the faces and the work), from the most pixels."""
    usable = [r for r in rows if r.ok and r.camera is not None]
    for camera in {r.camera for r in usable}:
        sharpest_first = sorted(
            (r for r in usable if r.camera == camera),
            key=lambda r: (-(r.width or 0) * (r.height or 0), -r.size_bytes, r.file),
        )
        kept: list[ManifestRow] = []
        for row in sharpest_first:
            start, end = _start(row), _end(row)
            overlapping = [k for k in kept if _start(k) < end and _end(k) > start]
            inside = covered_seconds([(max(_start(k), start), min(_end(k), end)) for k in overlapping])
            length = (end - start).total_seconds()
            if length > 0 and inside >= DUPLICATE_COVERED_SHARE * length:
                other = max(overlapping, key=lambda k: _overlap(k, row))
                row.status = "duplicate"
                row.error = (
                    f"{Path(row.file).name}: the same minutes of camera {camera} as {Path(other.file).name} "
                    f"({other.width}x{other.height}, kept; this copy {row.width}x{row.height}): not analysed twice"
                )
                row.missing_minutes = 0.0
            else:
                kept.append(row)


def _overlap(a: ManifestRow, b: ManifestRow) -> float:
    return (min(_end(a), _end(b)) - max(_start(a), _start(b))).total_seconds()


def fill_missing_minutes(items: list[_Examined]) -> None:
    """Per row, the minutes of its camera's day lost before and in it: the gap since the camera's previous file
    ended where the camera records continuously (one that records on motion leaves quiet stretches out on
    purpose), plus, for an unusable file, its estimated length and, for a usable one, what its name's end stamp
    promised beyond what it holds. The sum over a camera's rows is its day's loss."""
    items = [i for i in items if i.row.status != "duplicate"]  # its minutes are another file's
    rows = [i.row for i in items]
    day_rate = bytes_per_second(rows)
    for camera in {r.camera for r in rows if r.camera is not None}:
        mine = sorted((i for i in items if i.row.camera == camera and i.row.start_time), key=lambda i: _start(i.row))
        camera_rate = bytes_per_second([i.row for i in mine])
        whole = [i.row for i in mine if i.row.ok and not i.power_cut]
        continuous = records_continuously([_start(r) for r in whole], [_end(r) for r in whole])
        covered_until: datetime | None = None
        for item in mine:
            row = item.row
            gap = max(0.0, (_start(row) - covered_until).total_seconds()) if covered_until and continuous else 0.0
            if row.ok:
                named_end = item.name.end if item.name is not None and item.name.end else _end(row)
                end, lost = max(_end(row), named_end), max(0.0, (named_end - _end(row)).total_seconds())
                lost = lost if lost > END_STAMP_TOLERANCE_S else 0.0  # the name promised more than was recorded
            else:
                end, basis = estimated_end(item, camera_rate or day_rate)
                lost = (end - _start(row)).total_seconds()
                if basis and camera_rate is None and basis.startswith("from its size"):
                    basis += " (the day's other cameras)"
                row.notes = _join(row.notes, f"about {lost / 60:.1f} min lost, {basis}" if basis else "length unknown")
            row.missing_minutes = round((gap + lost) / 60, 2)
            covered_until = max(covered_until, end) if covered_until else end


def scan_day(
    folder: Path, day: date, relative_to: Path | None = None, recovered_dir: Path | None = None
) -> list[ManifestRow]:
    """The day's manifest: every file probed, power-cut MP4s rebuilt into `recovered_dir` (default
    `<folder>/../../footage_recovered/<day>`, i.e. `data/footage_recovered/<day>`), missing minutes per camera."""
    if not folder.is_dir():
        return []
    recovered_dir = recovered_dir or folder.parent.parent / "footage_recovered" / folder.name
    items = [
        examine_file(path, day, str(path.relative_to(relative_to)) if relative_to else path.name)
        for path in sorted(p for p in folder.iterdir() if _footage_entry(p))
    ]
    for item in (i for i in items if i.power_cut):
        references = [
            r.row
            for r in items
            if r.row.ok and r.row.camera == item.row.camera and r.row.recovered_file is None
            and Path(r.row.path).suffix.lower() in (".mp4", ".mov")
        ]  # fmt: skip
        recover_file(item, references, recovered_dir, relative_to)
    mark_duplicate_streams([i.row for i in items])
    fill_missing_minutes(items)
    return [i.row for i in items]


def _footage_entry(path: Path) -> bool:
    """A file of the day's folder, or a link whose target is missing (recorded with that reason, not skipped)."""
    return not path.name.startswith(".") and (path.is_file() or (path.is_symlink() and not path.exists()))


def _stored(value):
    """A stored value, or None for SQL NULL (NaN/NaT/None) and for columns older partitions lack."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def rows_from_manifest(table: pd.DataFrame, root: Path) -> list[ManifestRow]:
    """The stored manifest back as rows, so later steps use what was probed instead of probing again. A
    recovered file's path is its decodable copy."""
    rows = []
    for r in table.itertuples(index=False):
        ok = r.status == "ok"
        recovered = _stored(getattr(r, "recovered_file", None))
        missing = _stored(getattr(r, "missing_minutes", None))
        aspect = _stored(getattr(r, "pixel_aspect", None))
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
                str(root / (recovered or r.file)),
                notes=_stored(getattr(r, "notes", None)),
                recovered_file=recovered,
                missing_minutes=float(missing) if missing is not None else None,
                pixel_aspect=float(aspect) if aspect is not None else 1.0,
            )
        )
    return rows


def manifest_frame(rows: list[ManifestRow]) -> pd.DataFrame:
    cols = [c for c in FOOTAGE_MANIFEST.column_names if c != "day"]
    return pd.DataFrame([{k: v for k, v in asdict(r).items() if k in cols} for r in rows], columns=cols)
