"""What a shop DVR does to its recordings, for the simulator: the clock it burns into the picture, the names it
gives its files, and what a power failure leaves of the one it was writing.

Not product code: the evaluation days (`bench/evaluate_visits.py --file-names --clock-overlay --power-cut`),
the footage matrix (`bench/shop_footage.py`) and the tests build DVR exports with it, so the product's readers
(`core/footage/manifest.py`, `core/footage/recovery.py`) meet them as they come from a shop.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.core.footage.recovery import top_level_boxes

# How DVRs and NVRs name an export (each one a pattern `core/footage/manifest.py` reads): `camera` is the
# simulator's own `<camera>_<HHMMSS>`; the others carry the channel and the start (and end) stamps.
FILE_NAME_STYLES = ("camera", "dvr", "nvr", "dated")
# What the recorder exports (each one a kind the manifest reads): an MP4, the raw stream of a USB backup
# (`write_raw_stream`: Annex B, no container, no frame times), a Dahua recording (`write_dav`), or a Hikvision
# export (`write_program_stream`: an MPEG program stream in a file named .mp4). The last three come from DVRs
# that record without B-frames.
EXPORTS = ("mp4", "raw", "dav", "ps")
RAW_SUFFIXES = {"h264": ".h264", "hevc": ".265"}


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


# Dahua's recording format (.dav; also CP Plus and other Dahua-made DVRs), as FFmpeg's `dhav` demuxer reads it:
# each frame a chunk of a 24-byte "DHAV" header, extension fields, the frame's Annex B bytes and an 8-byte
# "dhav" trailer. Header: type (0xfd keyframe, 0xfc other frame), subtype, channel, sub-number, frame number,
# chunk length, the wall-clock second packed into 32 bits, a millisecond counter, extension length, checksum.
_DAV_CODECS = {"h264": 0x08, "hevc": 0x0C}


def _dav_date(t: datetime) -> int:
    return t.second | t.minute << 6 | t.hour << 12 | t.day << 17 | t.month << 22 | (t.year - 2000) << 26


def _dav_chunk(
    frame: bytes, number: int, key: bool, t: datetime, ms: int, keyframe_fields: bytes, channel: int
) -> bytes:
    ext = keyframe_fields if key else b""
    length = 24 + len(ext) + len(frame) + 8
    kind = 0xFD if key else 0xFC
    header = struct.pack(
        "<4sBBBBIIIHBB", b"DHAV", kind, 0, channel - 1, 0, number, length, _dav_date(t), ms, len(ext), 0
    )
    return header + ext + frame + b"dhav" + struct.pack("<I", length)


def _annex_b_units(container, stream):
    """The stream's coded frames as Annex B access units (start codes, parameter sets in the stream), with
    their times, as the raw exports of these DVRs carry them."""
    import av

    annexb = av.bitstream.BitStreamFilterContext(f"{stream.codec_context.name}_mp4toannexb", stream)
    for packet in container.demux(stream):
        yield from annexb.filter(packet if packet.size else None)


def write_raw_stream(source: Path, path: Path) -> Path:
    """`source`'s video stream as a raw Annex B stream (`.h264` / `.265`: no container, no frame times), as a
    DVR's USB backup writes it: the same coded frames, with the parameter sets in the stream."""
    import av

    with av.open(str(source)) as container, path.open("wb") as out:
        for unit in _annex_b_units(container, container.streams.video[0]):
            out.write(bytes(unit))
    return path


def cut_stream_by_power_failure(path: Path, tail_bytes: int) -> Path:
    """A raw stream, .dav or program stream as a power failure leaves it: its last `tail_bytes` never written
    (it has no index to lose)."""
    data = path.read_bytes()
    path.write_bytes(data[: max(0, len(data) - tail_bytes)])
    return path


def write_dav(source: Path, path: Path, start: datetime, channel: int = 1) -> Path:
    """`source` (an H.264 or HEVC file without B-frames, as these DVRs record) as a .dav recording that began at
    `start` (its burned-in clock's time): the same frames, each stamped with its second and a millisecond
    counter, keyframes with the size, codec and frame rate."""
    import av

    out = bytearray()
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        fps = round(float(stream.average_rate or 25))
        width, height = stream.codec_context.width, stream.codec_context.height
        keyframe_fields = struct.pack("<BBHHHBBBB", 0x82, 0, 0, width, height, 0x81, 0, _DAV_CODECS[codec], fps)
        tb = float(stream.time_base or 0)
        for number, unit in enumerate(_annex_b_units(container, stream)):
            seconds = (unit.pts or 0) * tb
            ms = int(round(seconds * 1000)) & 0xFFFF
            t = start + timedelta(seconds=seconds)
            out += _dav_chunk(bytes(unit), number, unit.is_keyframe, t, ms, keyframe_fields, channel)
    path.write_bytes(bytes(out))
    return path


# Hikvision's export (and that of DVRs built on its SDK): an MPEG-2 program stream under the name `.mp4`, after a
# 40-byte "IMKH" media header. Each frame: a pack header (its system clock reference), on keyframes the system
# header and the program stream map (stream 0xE0's type: 0x1B H.264, 0x24 HEVC), then PES packets of at most
# 64 KB, the first carrying the frame's presentation time (90 kHz). FFmpeg's `mpeg` demuxer finds the pack
# header after the media header, whose fields (codec, audio, version) it does not read: zeros here.
_PS_STREAM_TYPES = {"h264": 0x1B, "hevc": 0x24}
_PS_CLOCK = 90_000
_PS_MUX_RATE = 50_000  # in 50 bytes/s: 20 Mbit/s, above any DVR stream
_PES_PAYLOAD = 65_000


def _ps_timestamp(prefix: int, t: int) -> bytes:
    """A 33-bit PES time in its five bytes (4-bit prefix, three marker bits)."""
    t &= (1 << 33) - 1
    return bytes(
        [
            prefix << 4 | (t >> 29) & 0x0E | 1,
            (t >> 22) & 0xFF,
            (t >> 14) & 0xFE | 1,
            (t >> 7) & 0xFF,
            (t << 1) & 0xFE | 1,
        ]
    )


def _ps_pack_header(scr: int) -> bytes:
    """An MPEG-2 pack header: the system clock reference (33-bit base, extension 0), the mux rate, no stuffing."""
    base = scr & ((1 << 33) - 1)
    return b"\x00\x00\x01\xba" + bytes(
        [
            0x44 | (base >> 27) & 0x38 | (base >> 28) & 0x03,
            (base >> 20) & 0xFF,
            (base >> 12) & 0xF8 | 0x04 | (base >> 13) & 0x03,
            (base >> 5) & 0xFF,
            (base << 3) & 0xF8 | 0x04,
            0x01,
            (_PS_MUX_RATE >> 14) & 0xFF,
            (_PS_MUX_RATE >> 6) & 0xFF,
            (_PS_MUX_RATE << 2) & 0xFC | 0x03,
            0xF8,
        ]
    )


def _ps_keyframe_headers(codec: str) -> bytes:
    """The system header (one video stream) and the program stream map naming its codec, as a keyframe's pack
    carries them."""
    rate = _PS_MUX_RATE
    system = bytes([0x80 | (rate >> 15) & 0x7F, (rate >> 7) & 0xFF, (rate << 1) & 0xFE | 1, 0x04, 0xE1, 0xFF])
    system += bytes([0xE0, 0xE3, 0xFF])  # stream 0xE0's decoder buffer bound
    es = bytes([_PS_STREAM_TYPES[codec], 0xE0]) + struct.pack(">H", 0)
    psm = bytes([0x81, 0x01]) + struct.pack(">HH", 0, len(es)) + es + bytes(4)  # CRC unchecked by readers
    return (
        b"\x00\x00\x01\xbb" + struct.pack(">H", len(system)) + system
        + b"\x00\x00\x01\xbc" + struct.pack(">H", len(psm)) + psm
    )  # fmt: skip


def _pes_packets(frame: bytes, pts: int) -> bytes:
    """A frame as video PES packets, the first with its presentation time."""
    out = bytearray()
    for offset in range(0, len(frame), _PES_PAYLOAD):
        first = offset == 0
        header = bytes([0x80, 0x80, 5]) + _ps_timestamp(0x2, pts) if first else bytes([0x80, 0x00, 0])
        payload = frame[offset : offset + _PES_PAYLOAD]
        out += b"\x00\x00\x01\xe0" + struct.pack(">H", len(header) + len(payload)) + header + payload
    return bytes(out)


def write_program_stream(source: Path, path: Path) -> Path:
    """`source` (an H.264 or HEVC file without B-frames) as a Hikvision export: the same frames in an MPEG program
    stream after the IMKH media header, written to `path` (which may be named .mp4, as the DVR names it)."""
    import av

    out = bytearray(b"IMKH" + bytes(36))
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        tb = float(stream.time_base or 0)
        for unit in _annex_b_units(container, stream):
            pts = int(round((unit.pts or 0) * tb * _PS_CLOCK))
            out += _ps_pack_header(pts)
            if unit.is_keyframe:
                out += _ps_keyframe_headers(codec)
            out += _pes_packets(bytes(unit), pts)
    path.write_bytes(bytes(out))
    return path
