"""Recovering a recording cut off by a power failure.

A DVR writes an MP4 as it records: first the `mdat` box with the coded frames, and only when the file is closed
the `moov` box, the index that says where each frame is and what codec parameters decode it. When the power
fails, the file ends inside `mdat` and no player can open it. The frames are still there: in an MP4, H.264 and
HEVC samples are NAL units, each preceded by its length (`lengthSizeMinusOne + 1` bytes, usually 4). Like
repair tools such as untrunc, this module takes the missing parameters (codec, SPS/PPS in the avcC/hvcC record,
frame rate, size) from another, whole file of the same camera, walks the length-prefixed NAL units of `mdat`
until the first one that does not look like a NAL unit (the cut tail), groups them into frames, decodes them
once to learn their presentation order, and writes a new MP4 with the reference's parameters.

A camera with a microphone interleaves audio chunks with the video in `mdat` (about one a second). Where the
walk meets bytes that are not a NAL unit, it looks ahead for the next video chunk, as untrunc does with what
the reference file teaches: the first offset where a NAL unit begins a frame the way the reference's frames
begin (`frame_signature`: header, slice type, parameter set) and is no larger than twice its largest frame (a
chunk always starts at a frame). Where none follows within `MAX_GAP_BYTES`, or only the cut tail is left,
the walk ends there.

Limits: H.264 and HEVC only; the first frame must be a keyframe (a cut file starts with one).
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RECOVERABLE_CODECS = ("h264", "hevc")
MAX_NAL_BYTES = 64 * 1024 * 1024  # a larger "length" is garbage, not a frame of a CCTV stream
# Another stream's chunk between two video chunks (audio, a camera's metadata) is a few kB; a gap larger than
# this is not a chunk but damage, and the walk ends there.
MAX_GAP_BYTES = 4 * 1024 * 1024
FRAME_SIZE_MARGIN = 4
REFERENCE_FRAMES = 3000  # frames of a reference read for their signatures and sizes: minutes, not a whole day
RESYNC_WINDOW = 1 << 16  # bytes screened at once while looking for the next video chunk
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
    # How the camera's frames begin and how large they get, from the reference's own packets: the look-ahead
    # past another stream's chunk (`next_chunk`) takes only a frame like these for the next video chunk.
    frame_signatures: frozenset[tuple] = frozenset()  # `frame_signature` of its frames but the first
    max_frame_bytes: int = MAX_NAL_BYTES

    @property
    def max_nal_bytes(self) -> int:
        """The largest NAL unit the walk takes for one of this camera's: FRAME_SIZE_MARGIN times its largest
        frame (a busier scene codes larger). Mono AAC bytes read as a length give about 20 MB."""
        return min(MAX_NAL_BYTES, FRAME_SIZE_MARGIN * self.max_frame_bytes)

    @property
    def max_chunk_start_bytes(self) -> int:
        """The most bytes (length field included) of the NAL unit the look-ahead takes to open a video chunk:
        twice the largest frame."""
        return 2 * self.max_frame_bytes

    @property
    def parameter_sets(self) -> frozenset[int]:
        """The picture parameter set ids its slices name."""
        return frozenset(sig[-2 if self.codec == "h264" else -1] for sig in self.frame_signatures if len(sig) > 2)

    @property
    def frame_headers(self) -> frozenset[int]:
        """The first byte of the NAL unit each frame begins with."""
        return frozenset(sig[0] for sig in self.frame_signatures)

    @functools.cached_property
    def chunk_start_headers(self) -> np.ndarray:
        """The header bytes a video chunk may open with (sorted): a frame's first byte, or any keyframe's (from
        0x20: an H.264 IDR's nal_ref_idc is never 0); every byte below 0x80 where the reference taught none."""
        if not self.frame_headers:
            return np.arange(128)
        keyframes = {b for b in range(0x20, 0x80) if is_keyframe_nal(self.codec, b)}
        return np.array(sorted(self.frame_headers | keyframes))


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
        signatures: list[tuple | None] = []
        largest, size = 0, (length_byte & 3) + 1  # the NAL length size
        for n, packet in enumerate(container.demux(stream)):
            if n >= REFERENCE_FRAMES:
                break
            raw = bytes(packet)
            if len(raw) > size + 2:
                signatures.append(frame_signature(ctx.name, raw, size))
                largest = max(largest, len(raw))
        # The first frame is the encoder's one-off (x264 writes its settings in an SEI there): not a pattern of
        # the camera's frames unless it recurs.
        learned = set(signatures[1:] or signatures)
        return ReferenceStream(
            frame_signatures=frozenset(sig for sig in learned if sig is not None),
            max_frame_bytes=largest or MAX_NAL_BYTES,
            path=path,
            codec=ctx.name,
            extradata=extradata,
            nal_length_size=size,
            fps=fps,
            width=ctx.width,
            height=ctx.height,
            bytes_per_second=path.stat().st_size / duration_s if duration_s > 0 else 0.0,
        )


def _exp_golomb(bits: str, at: int) -> tuple[int, int] | None:
    """An unsigned Exp-Golomb value (ue(v)) read from a string of bits at `at`, and where it ends."""
    zeros = 0
    while at + zeros < len(bits) and bits[at + zeros] == "0":
        zeros += 1
    if at + 2 * zeros + 1 > len(bits):
        return None
    return int(bits[at + zeros : at + 2 * zeros + 1], 2) - 1, at + 2 * zeros + 1


def frame_signature(codec: str, data, start: int) -> tuple | None:
    """How the NAL unit at `start` (its header) begins a frame: the header byte(s) and, for a slice, whether it is
    the picture's first, its slice type (H.264), its picture parameter set and, for an H.264 IDR picture, whether
    its frame_num starts at zero as an IDR's must. A camera's frames have a handful of signatures; another
    stream's bytes rarely hit one. None where the bits cannot be read."""
    head = data[start]
    bits = "".join(f"{b:08b}" for b in data[start + (2 if codec == "hevc" else 1) : start + 10])
    if codec == "hevc":
        kind = nal_type(codec, head)
        if kind >= 32:
            return (head, data[start + 1])
        at = 2 if 16 <= kind <= 23 else 1  # first_slice_segment_in_pic_flag, no_output_of_prior_pics_flag
        pps = _exp_golomb(bits, at)
        return None if pps is None else (head, data[start + 1], bits[0] == "1", pps[0])
    if not 1 <= nal_type(codec, head) <= 5:
        return (head,)
    first_mb = _exp_golomb(bits, 0)
    slice_type = first_mb and _exp_golomb(bits, first_mb[1])
    pps = slice_type and _exp_golomb(bits, slice_type[1])
    if not (first_mb and slice_type and pps):
        return None
    idr_from_zero = nal_type(codec, head) == 5 and bits[pps[1] : pps[1] + 4] == "0000"
    return (head, first_mb[0] == 0, slice_type[0], pps[0], idr_from_zero)


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


def _nal_at(data, pos: int, end: int, reference: ReferenceStream) -> int | None:
    """The end of the length-prefixed NAL unit at `pos`, or None where the bytes there are not one of the
    reference camera's (a length past `max_nal_bytes`, an impossible header)."""
    size = reference.nal_length_size
    if pos + size > end:
        return None
    length = int.from_bytes(data[pos : pos + size], "big")
    nal_start = pos + size
    if (
        length > reference.max_nal_bytes
        or nal_start + length > end
        or not plausible_nal(reference.codec, data, nal_start, length)
    ):
        return None
    return nal_start + length


def opens_keyframe(codec: str, signature: tuple | None, parameter_sets: frozenset[int]) -> bool:
    """Whether a `frame_signature` is the first slice of a keyframe on one of the reference's parameter sets: an
    H.264 IDR picture's I slice with frame_num 0, an HEVC IRAP picture's first slice. A reference shorter than
    a group of pictures, or whose only keyframe is its first frame, has not shown one of its own."""
    if signature is None or len(signature) < 3:
        return False
    if codec == "hevc":
        head, _, first, pps = signature
        return is_keyframe_nal(codec, head) and first and pps in parameter_sets
    head, first, slice_type, pps, from_zero = signature
    return is_keyframe_nal(codec, head) and first and slice_type in (2, 7) and from_zero and pps in parameter_sets


def _chunk_starts_at(data, pos: int, end: int, reference: ReferenceStream) -> bool:
    """Whether a video chunk starts at `pos`: a NAL unit of the camera's (`_nal_at`) that begins a frame the way
    the reference's frames begin (`frame_signature`), or a keyframe (`opens_keyframe`), no larger than twice
    the reference's largest frame."""
    codec, size = reference.codec, reference.nal_length_size
    following = _nal_at(data, pos, end, reference)
    if following is None or following - pos > reference.max_chunk_start_bytes:
        return False
    signature = frame_signature(codec, data, pos + size)
    known = signature in reference.frame_signatures or opens_keyframe(codec, signature, reference.parameter_sets)
    if reference.frame_signatures and not known:
        return False
    return starts_new_frame(codec, data, pos + size, True)


def next_chunk(data, pos: int, end: int, reference: ReferenceStream) -> int | None:
    """The offset of the next video chunk after the bytes at `pos` that are not a NAL unit (another stream's
    chunk), within MAX_GAP_BYTES; None where there is none (the cut tail). Offsets are screened in numpy
    windows (a length that fits, a header byte the reference's frames begin with) before the exact check."""
    size = reference.nal_length_size
    limit = min(end, pos + 1 + MAX_GAP_BYTES)
    headers = reference.chunk_start_headers
    start = pos + 1
    while start < limit:
        stop = min(limit, start + RESYNC_WINDOW)
        raw = np.frombuffer(data[start : min(end, stop + size + 1)], np.uint8)
        n = min(stop - start, len(raw) - size - 1)
        if n <= 0:
            return None
        lengths = np.zeros(n, np.int64)
        for k in range(size):
            lengths = (lengths << 8) | raw[k : k + n]
        offsets = np.arange(start, start + n)
        fits = (lengths >= 2) & (lengths <= np.minimum(end - offsets - size, reference.max_chunk_start_bytes))
        for q in offsets[fits & np.isin(raw[size : size + n], headers)].tolist():
            if _chunk_starts_at(data, q, end, reference):
                return q
        start = stop
    return None


@dataclass
class AccessUnit:
    """One frame: its length-prefixed NAL units lie contiguously in the file from `start` to `end`."""

    start: int
    end: int
    keyframe: bool = False
    has_slice: bool = False


def access_units(data, begin: int, end: int, reference: ReferenceStream) -> tuple[list[AccessUnit], int, int]:
    """The frames in `data[begin:end]` (length-prefixed NAL units), the offset where the walk stopped (`end` for
    a whole mdat, earlier where only bytes that are no NAL units are left: the cut tail), and the bytes skipped
    between video chunks (other streams' chunks: `next_chunk`)."""
    codec, length_size = reference.codec, reference.nal_length_size
    units: list[AccessUnit] = []
    pos, skipped, resumed = begin, 0, False
    while pos + length_size <= end:
        following = _nal_at(data, pos, end, reference)
        if following is None:
            chunk = next_chunk(data, pos, end, reference)
            if chunk is None:
                break
            skipped, pos, resumed = skipped + chunk - pos, chunk, True
            continue
        nal_start = pos + length_size
        if not units or resumed or starts_new_frame(codec, data, nal_start, units[-1].has_slice):
            units.append(AccessUnit(pos, pos))
        current = units[-1]
        current.has_slice = current.has_slice or is_slice_nal(codec, data[nal_start])
        current.keyframe = current.keyframe or is_keyframe_nal(codec, data[nal_start])
        current.end, pos, resumed = following, following, False
    if units and not units[-1].has_slice:  # parameter sets only: the cut fell right after them
        pos = units.pop().start
    return units, pos, skipped


@dataclass(frozen=True)
class RecoveredVideo:
    path: Path
    frames: int  # frames written (each decoded once while recovering)
    frames_found: int  # frames found in mdat, before dropping undecodable ones
    bytes_used: int  # mdat bytes that held the written frames
    bytes_dropped: int  # bytes after the last whole NAL unit: the cut tail
    bytes_skipped: int  # other streams' chunks between the video chunks (a camera's audio)
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
        units, stopped_at, skipped = access_units(data, begin, end, reference)
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
            bytes_used=sum(u.end - u.start for u in units),
            bytes_dropped=end - stopped_at,
            bytes_skipped=skipped,
            reference=reference.path,
        )
