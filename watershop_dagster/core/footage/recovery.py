"""Recovering a recording cut off by a power failure.

A DVR writes an MP4 as it records: first the `mdat` box with the coded frames, and only when the file is closed
the `moov` box, the index that says where each frame is and what codec parameters decode it. When the power
fails, the file ends inside `mdat` and no player can open it. The frames are still there: in an MP4, H.264 and
HEVC samples are NAL units, each preceded by its length (`lengthSizeMinusOne + 1` bytes, usually 4). Like
repair tools such as untrunc, this module takes the missing parameters (codec, SPS/PPS in the avcC/hvcC record,
frame rate, size) from another, whole file of the same camera, walks the length-prefixed NAL units of `mdat`
until the first one that does not look like a NAL unit (the cut tail), groups them into frames, decodes them
once to learn their presentation order, and writes a new MP4 with the reference's parameters.

Limits: H.264 and HEVC only; the first frame must be a keyframe (a cut file starts with one); a file whose
`mdat` interleaves audio chunks is recovered up to the first audio chunk (the walk stops at the first bytes
that are not a NAL unit).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

RECOVERABLE_CODECS = ("h264", "hevc")
MAX_NAL_BYTES = 64 * 1024 * 1024  # a larger "length" is garbage, not a frame of a CCTV stream
MIN_DECODED_SHARE = 0.5  # fewer frames decode than this with a reference's parameters: the wrong reference


class RecoveryError(ValueError):
    """A cut file that cannot be recovered; the message names the file and the reason."""


@dataclass(frozen=True)
class Box:
    kind: str
    offset: int
    header_size: int
    size: int  # header included; clamped to the end of the file when the file was cut inside the box

    @property
    def payload(self) -> tuple[int, int]:
        return self.offset + self.header_size, self.offset + self.size


def top_level_boxes(path: Path) -> list[Box]:
    """The top-level MP4 boxes, read header by header (a DVR file can be gigabytes). A box whose declared size
    runs past the end of the file (a cut file) is clamped to the end; size 0 means "to the end of the file"."""
    boxes: list[Box] = []
    file_size = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= file_size:
            f.seek(offset)
            size, raw_kind = struct.unpack(">I4s", f.read(8))
            if not all(32 <= b < 127 for b in raw_kind):
                break  # not a box header: garbage after the last box
            header = 8
            if size == 1:
                (size,) = struct.unpack(">Q", f.read(8))
                header = 16
            if size == 0 or offset + size > file_size:
                size = file_size - offset
            if size < header:
                break
            boxes.append(Box(raw_kind.decode("ascii"), offset, header, size))
            offset += size
    return boxes


def is_power_cut_mp4(path: Path) -> bool:
    """An MP4/MOV with recorded data (`mdat`) but no index (`moov`): the shape a power failure leaves."""
    kinds = {b.kind for b in top_level_boxes(path)}
    return "mdat" in kinds and "moov" not in kinds


@dataclass(frozen=True)
class ReferenceStream:
    """What a whole file of the same camera says about how its video is coded."""

    path: Path
    codec: str
    extradata: bytes  # avcC / hvcC record: the SPS/PPS (and VPS) the cut file's frames need
    nal_length_size: int
    fps: Fraction
    width: int
    height: int
    bytes_per_second: float


def reference_stream(path: Path) -> ReferenceStream:
    """Reads the codec parameters of a whole file, or a RecoveryError saying why it cannot serve as reference."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise RecoveryError(f"{path.name}: reference has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx.name not in RECOVERABLE_CODECS:
            raise RecoveryError(f"{path.name}: reference codec {ctx.name} cannot be recovered (H.264/HEVC only)")
        extradata = bytes(ctx.extradata or b"")
        # avcC and hvcC both start with configurationVersion 1; Annex-B extradata (00 00 00 01) has no length size.
        if not extradata or extradata[0] != 1 or len(extradata) < (23 if ctx.name == "hevc" else 7):
            raise RecoveryError(f"{path.name}: reference has no avcC/hvcC record (cannot tell the NAL length size)")
        length_byte = extradata[21] if ctx.name == "hevc" else extradata[4]
        fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            raise RecoveryError(f"{path.name}: reference has no frame rate")
        if stream.duration:
            assert stream.time_base is not None  # a video stream always has one
            duration_s = float(stream.duration * stream.time_base)
        else:
            duration_s = stream.frames / float(fps)
        return ReferenceStream(
            path=path,
            codec=ctx.name,
            extradata=extradata,
            nal_length_size=(length_byte & 3) + 1,
            fps=fps,
            width=ctx.width,
            height=ctx.height,
            bytes_per_second=path.stat().st_size / duration_s if duration_s > 0 else 0.0,
        )


def nal_type(codec: str, header: int) -> int:
    return (header >> 1) & 0x3F if codec == "hevc" else header & 0x1F


def plausible_nal(codec: str, data, start: int, length: int) -> bool:
    """Whether `length` bytes at `start` look like one NAL unit: the forbidden bit is clear and the type is one
    a camera writes. The cut tail (zeros, half a length field, random bytes) fails this."""
    if codec == "hevc":
        if length < 3 or data[start] & 0x80:
            return False
        kind, temporal_id_plus1 = nal_type(codec, data[start]), data[start + 1] & 0x07
        layer_id = ((data[start] & 1) << 5) | (data[start + 1] >> 3)
        return temporal_id_plus1 != 0 and layer_id == 0 and (kind <= 9 or 16 <= kind <= 21 or 32 <= kind <= 40)
    if length < 2 or data[start] & 0x80:
        return False
    return 1 <= nal_type(codec, data[start]) <= 23


def starts_new_frame(codec: str, data, start: int, frame_has_slice: bool) -> bool:
    """Whether the NAL unit at `start` begins a new access unit (H.264 7.4.1.2.3, HEVC 7.4.2.4.4): an access unit
    delimiter, a parameter set or SEI after the frame's slices, or the first slice of the next picture."""
    kind = nal_type(codec, data[start])
    if codec == "hevc":
        if kind < 32:  # a slice: first_slice_segment_in_pic_flag is the first bit after the 2-byte header
            return frame_has_slice and bool(data[start + 2] & 0x80)
        return kind == 35 or (frame_has_slice and kind in (32, 33, 34, 39))
    if 1 <= kind <= 5:  # a slice: first_mb_in_slice == 0 (ue(v) coded as a single 1 bit) starts a picture
        return frame_has_slice and bool(data[start + 1] & 0x80)
    return kind == 9 or (frame_has_slice and kind in (6, 7, 8, 14, 15))


def is_keyframe_nal(codec: str, header: int) -> bool:
    kind = nal_type(codec, header)
    return 16 <= kind <= 21 if codec == "hevc" else kind == 5


def is_slice_nal(codec: str, header: int) -> bool:
    kind = nal_type(codec, header)
    return kind < 32 if codec == "hevc" else 1 <= kind <= 5


@dataclass
class AccessUnit:
    """One frame: its length-prefixed NAL units lie contiguously in the file from `start` to `end`."""

    start: int
    end: int
    keyframe: bool = False
    has_slice: bool = False


def access_units(data, begin: int, end: int, codec: str, length_size: int) -> tuple[list[AccessUnit], int]:
    """The frames in `data[begin:end]` (length-prefixed NAL units) and the offset where the walk stopped: `end`
    for a whole mdat, earlier where the bytes stop looking like NAL units (the cut tail)."""
    units: list[AccessUnit] = []
    pos = begin
    while pos + length_size <= end:
        length = int.from_bytes(data[pos : pos + length_size], "big")
        nal_start = pos + length_size
        if length > MAX_NAL_BYTES or nal_start + length > end or not plausible_nal(codec, data, nal_start, length):
            break
        if not units or starts_new_frame(codec, data, nal_start, units[-1].has_slice):
            units.append(AccessUnit(pos, pos))
        current = units[-1]
        current.has_slice = current.has_slice or is_slice_nal(codec, data[nal_start])
        current.keyframe = current.keyframe or is_keyframe_nal(codec, data[nal_start])
        current.end = pos = nal_start + length
    if units and not units[-1].has_slice:  # parameter sets only: the cut fell right after them
        pos = units.pop().start
    return units, pos


@dataclass(frozen=True)
class RecoveredVideo:
    path: Path
    frames: int  # frames written (each decoded once while recovering)
    frames_found: int  # frames found in mdat, before dropping undecodable ones
    bytes_used: int  # mdat bytes that held the written frames
    bytes_dropped: int  # bytes after the last whole NAL unit: the cut tail
    reference: Path


def presentation_order(units: list[AccessUnit], data, reference: ReferenceStream) -> list[int]:
    """Decodes the frames once and returns the indices (decode order) of the frames that decoded, in the order
    the decoder shows them: with B-frames that differs from the order in the file."""
    ctx = av.CodecContext.create(reference.codec, "r")
    ctx.extradata = reference.extradata
    shown: list[int] = []

    def drain(packet):
        with contextlib.suppress(av.error.FFmpegError):  # a damaged frame is dropped; its neighbours still decode
            shown.extend(int(frame.pts) for frame in ctx.decode(packet) if frame.pts is not None)

    for i, unit in enumerate(units):
        packet = av.Packet(bytes(data[unit.start : unit.end]))
        packet.pts = packet.dts = i
        drain(packet)
    drain(None)
    return shown


def write_mp4(out: Path, units: list[AccessUnit], data, shown: list[int], reference: ReferenceStream) -> None:
    """Muxes the decodable frames into a new MP4 whose stream is a copy of the reference's (same avcC/hvcC)."""
    rank = {index: position for position, index in enumerate(shown)}
    kept = sorted(rank)  # decode order
    delay = max((j - rank[i] for j, i in enumerate(kept)), default=0)  # dts must not run ahead of pts
    tmp = out.with_name(out.name + ".part")
    with av.open(str(reference.path)) as ref, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream_from_template(ref.streams.video[0])
        time_base = 1 / reference.fps
        for j, i in enumerate(kept):
            unit = units[i]
            packet = av.Packet(bytes(data[unit.start : unit.end]))
            packet.stream = stream
            packet.time_base = time_base
            packet.pts, packet.dts, packet.duration = rank[i], j - delay, 1
            packet.is_keyframe = unit.keyframe
            container.mux(packet)
    os.replace(tmp, out)  # a half-written copy is never taken for a finished one


def recover_power_cut(path: Path, reference: ReferenceStream, out: Path) -> RecoveredVideo:
    """Rebuilds a decodable MP4 at `out` from the `mdat` of a file without `moov`, with the reference's
    parameters; a RecoveryError names the file and says why it cannot be done."""
    boxes = top_level_boxes(path)
    kinds = [b.kind for b in boxes]
    if "moov" in kinds:
        raise RecoveryError(f"{path.name}: has its moov index, so it is not a power-cut file")
    mdat = next((b for b in boxes if b.kind == "mdat"), None)
    if mdat is None:
        raise RecoveryError(f"{path.name}: no mdat box, so no recorded frames to recover")
    begin, end = mdat.payload
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        units, stopped_at = access_units(data, begin, end, reference.codec, reference.nal_length_size)
        first_key = next((k for k, u in enumerate(units) if u.keyframe), None)
        if first_key is None:
            raise RecoveryError(
                f"{path.name}: no {reference.codec} keyframe found in mdat with the NAL length size of "
                f"{reference.path.name} (another codec, or not video)"
            )
        units = units[first_key:]  # frames before the first keyframe cannot be decoded
        shown = presentation_order(units, data, reference)
        if len(shown) < MIN_DECODED_SHARE * len(units):
            raise RecoveryError(
                f"{path.name}: only {len(shown)} of {len(units)} frames decode with the parameters of "
                f"{reference.path.name} (the camera's settings probably changed)"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        write_mp4(out, units, data, shown, reference)
        return RecoveredVideo(
            path=out,
            frames=len(shown),
            frames_found=len(units),
            bytes_used=units[-1].end - units[0].start,
            bytes_dropped=end - stopped_at,
            reference=reference.path,
        )
