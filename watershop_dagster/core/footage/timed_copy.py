"""A raw H.264/H.265 stream, copied into a container with frame times, so it is sampled as a recording is.

A raw stream (a DVR's `.h264` / `.265` export) carries no frame times and no index: FFmpeg cannot seek in
it, so the coarse-to-fine sampler, which seeks from keyframe to keyframe, would have to decode it whole. Its
frames come in decode order; where that is also their display order (no B-frames, as DVRs record) the n-th
frame is shown at n / fps. The copy gives each packet that time and stores the stream in Matroska, bits
unchanged, where FFmpeg can seek to any keyframe. Copying reads and writes the file once, without decoding
(a few hundred milliseconds for minutes of 720p). A stream whose decoder reorders frames (B-frames) has no
such times to give, and is not copied.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

TIME_BASE = Fraction(1, 90_000)  # the usual video clock: n / fps to well under a millisecond
REORDER_CHECK_PACKETS = 120  # packets decoded to see whether the decoder reorders frames: a few GOPs


def has_packet_times(path: str | Path) -> bool:
    """Whether the first packet of the video stream that holds data has a time (every container's do; a raw
    stream's do not)."""
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                return packet.pts is not None or packet.dts is not None
    return False


def reorders_frames(path: str | Path, packets: int = REORDER_CHECK_PACKETS) -> bool:
    """Whether the decoder shows frames in another order than the stream stores them (B-frames), from its
    first `packets` packets: each is stamped with its position, and the frames must come out in that order."""
    shown: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.time_base = TIME_BASE
        for position, packet in enumerate(p for p in container.demux(stream) if p.size):
            if position == packets:
                break
            packet.pts = packet.dts = position
            shown += [frame.pts for frame in stream.codec_context.decode(packet) if frame.pts is not None]
        shown += [frame.pts for frame in stream.codec_context.decode(None) if frame.pts is not None]
    return any(b <= a for a, b in zip(shown, shown[1:]))


def timed_copy(path: str | Path, fps: float, folder: Path) -> Path | None:
    """`path`'s video stream copied into `folder` as Matroska, the n-th frame at n / fps (from 0), or None where
    the decoder reorders its frames. OSError (a full disk) and av.FFmpegError pass on to the caller."""
    if reorders_frames(path):
        return None
    copy = folder / f"{Path(path).stem}.mkv"
    step = round(float(1 / TIME_BASE) / fps)  # whole ticks: the times stay exact multiples of one frame
    with av.open(str(path)) as source, av.open(str(copy), "w", format="matroska") as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(stream)
        out.time_base = TIME_BASE
        position = 0
        for packet in source.demux(stream):
            if not packet.size:
                continue
            packet.pts = packet.dts = round(position * float(1 / TIME_BASE) / fps)
            packet.duration, packet.time_base, packet.stream = step, TIME_BASE, out
            target.mux(packet)
            position += 1
    return copy
