"""A raw H.264/H.265 stream, copied into a container with frame times, so it is sampled as a recording is.

A raw stream (a DVR's `.h264` / `.265` export) carries no frame times and no index: FFmpeg cannot seek in
it, so the coarse-to-fine sampler, which seeks from keyframe to keyframe, would have to decode it whole. Its
frames come in decode order; where that is also their display order (no B-frames, as DVRs record) the n-th
frame is shown at n / fps. The copy gives each packet that time and stores the stream in Matroska, where
FFmpeg can seek to any keyframe; the coded frames are unchanged (the muxer only writes their start codes as
length prefixes). Copying reads and writes the file once, without decoding (a few hundred milliseconds for
minutes of 720p). A stream whose decoder reorders frames (B-frames) has no such times to give, and is not
copied.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

RAW_FORMATS = ("h264", "hevc")  # FFmpeg's demuxers of raw Annex B streams: what it found, whatever the suffix
TIME_BASE = Fraction(1, 90_000)  # the usual video clock (Matroska then stores milliseconds)
# The frames decoded to see whether the decoder reorders them: a few groups of pictures of a DVR's stream.
# Decoding stops there, or after MAX_CHECK_PACKETS packets (a stream that starts mid-group decodes nothing
# until its first keyframe). A stream whose encoder settings change after these frames is not caught.
REORDER_CHECK_FRAMES = 60
MAX_CHECK_PACKETS = 1_000


def is_raw_stream(path: str | Path) -> bool:
    """Whether FFmpeg reads the file as a raw H.264/H.265 stream (no container, no frame times)."""
    with av.open(str(path)) as container:
        return container.format.name in RAW_FORMATS


def reorders_frames(path: str | Path) -> bool:
    """Whether the decoder shows frames in another order than the stream stores them (B-frames): each packet
    is stamped with its position, and the first REORDER_CHECK_FRAMES frames must come out in that order.
    Where fewer come out of the first MAX_CHECK_PACKETS packets, the order is unknown: taken as reordered."""
    shown: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.time_base = TIME_BASE
        packets = (p for p in container.demux(stream) if p.size)
        for position, packet in enumerate(packets):
            if position == MAX_CHECK_PACKETS or len(shown) >= REORDER_CHECK_FRAMES:
                break
            packet.pts = packet.dts = position
            shown += [frame.pts for frame in stream.codec_context.decode(packet) if frame.pts is not None]
        shown += [frame.pts for frame in stream.codec_context.decode(None) if frame.pts is not None]
    if len(shown) < 2:  # nothing to compare
        return True
    return any(b <= a for a, b in zip(shown, shown[1:]))


def timed_copy(path: str | Path, fps: float, folder: Path) -> Path | None:
    """`path`'s video stream copied into `folder` as Matroska, the n-th frame at n / fps (from 0), or None where
    the decoder reorders its frames. OSError (a full disk) and av.FFmpegError pass on to the caller."""
    if reorders_frames(path):
        return None
    copy = folder / f"{Path(path).stem}.mkv"
    frame_ticks = TIME_BASE.denominator / fps
    with av.open(str(path)) as source, av.open(str(copy), "w", format="matroska") as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(stream)
        out.time_base = TIME_BASE
        position = 0
        for packet in source.demux(stream):
            if not packet.size:
                continue
            # Each time rounded on its own, so rounding never adds up along the file.
            packet.pts = packet.dts = round(position * frame_ticks)
            packet.duration, packet.time_base, packet.stream = round(frame_ticks), TIME_BASE, out
            target.mux(packet)
            position += 1
    return copy
