"""Coarse to fine: look at a keyframe every couple of seconds, and at every sampled frame only where it matters.

A shop camera films an empty room most of the day, and while someone is there the scene changes slowly. A
keyframe decodes on its own, without the frames before it, so keyframes are the cheap way to look at the
footage; everything else costs a decode from the keyframe before it. The sampler therefore:

1. reads the packets once (no decoding) and keeps only those since the last keyframe it looked at;
2. in an empty, still room decodes one keyframe every `probe_interval_s` and compares it, small and grey,
   with the empty room (the median of keyframes spread over the file, learnt again when lights or furniture
   change) and with the previous one;
3. where something differs, decodes every keyframe about `coarse_interval_s` apart (going back for the one it
   skipped; `steady_interval_s` while the same people stay) and has them analysed for faces, in the part of
   the frame that changed;
4. where the faces differ between two analysed keyframes (someone came, left, or turned away), decodes the
   packets between them (without non-reference frames) and yields every frame of the `sample_fps` grid,
   analysing them by bisection until each change lies between two neighbouring grid frames, so entry and exit
   times are as exact as analysing every sampled frame would make them.

The sampler asks the face stage (`FaceLook`) about each frame it wants analysed and decides step 4 from the
answers; samples therefore come out mostly, not strictly, in time order.
Files whose keyframes are too far apart for this (a long GOP) go group of pictures by group (`_scan_gops`):
every keyframe is looked at, and a group is decoded only where the people at its two keyframes differ. Files
with fewer than two keyframes are decoded whole by `fallback`, and so are raw streams (no frame times) that
cannot be given times (`timed_copy`: B-frames); the others are sampled from a timed copy.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from watershop_dagster.core.footage.sampling import (
    DecodedFrame,
    DecodeReport,
    DenseSampler,
    FaceLook,
    Findings,
    FrameSource,
    Sample,
    Sighting,
    changed_mask,
    changed_share,
    small_grey_of,
    square_width,
)
from watershop_dagster.core.footage.timed_copy import is_raw_stream, timed_copy
from watershop_dagster.core.footage.tracking import SURVIVES_MISS_S, iou

Region = tuple[int, int, int, int]


def faces_differ(
    before: list[Sighting] | None, after: list[Sighting] | None, min_iou: float = 0.2, same_person: float = 0.3
) -> bool:
    """Two analysed frames show different faces when the counts differ or a face in `after` has no partner
    in `before`. A partner overlaps it and, where both have an embedding, looks like the same person (one
    customer stepping into the place another just left is a change); or, without overlap, has a clearly
    similar embedding (someone who moved). A sighting without an embedding (a body, a face too small to embed)
    that moved needs no partner while as many of them are in view as before: someone walking about (the staff
    member behind the counter) is not someone coming or going, and refining every step they take cost the fine
    grid over most of a busy day."""
    before, after = _without_bodies_of_faces(before or []), _without_bodies_of_faces(after or [])
    if len(before) != len(after):
        return True
    anonymous_same = sum(a.embedding is None for a in after) == sum(b.embedding is None for b in before)

    def partners(box, emb, b, e) -> bool:
        similar = None if emb is None or e is None else float(emb @ e)
        if iou(box, b) >= min_iou:
            return similar is None or similar >= same_person
        if emb is None and e is None:
            return anonymous_same
        return similar is not None and similar >= 0.5

    return not all(any(partners(a.box, a.embedding, b.box, b.embedding) for b in before) for a in after)


def _without_bodies_of_faces(seen: list[Sighting]) -> list[Sighting]:
    """Sightings that stand for a person each: an embedded face, or a box without an embedding (a body, a face
    too small to embed) that holds no embedded face. A body under a face is the same person, and the body
    detector's boxes come and go (two boxes for one person, none for another) where the faces do not: counted
    as people they made the faces 'differ' at almost every look of a busy day."""
    faces = [s.box for s in seen if s.embedding is not None]

    def holds_a_face(box) -> bool:
        height = box[3] - box[1]
        return any(
            box[0] <= (f[0] + f[2]) / 2 <= box[2] and box[1] - 0.6 * height <= (f[1] + f[3]) / 2 <= box[3]
            for f in faces
        )

    return [s for s in seen if s.embedding is not None or not holds_a_face(s.box)]


class EmptyRoom:
    """What the camera sees with nobody there, as a small blurred grey image. Starts as the per-pixel median
    of keyframes spread over the file (the room is empty most of the day); follows slow light changes; and
    adopts a new look that has stayed still, with no face in it, for `adopt_after` looks (lights switched
    on, cans moved), so one change does not keep the whole rest of the day 'active'."""

    def __init__(self, greys: list[np.ndarray], pixel_threshold: int = 14, min_samples: int = 8, adopt_after: int = 15):
        self.image = np.median(np.stack(greys), axis=0).astype(np.uint8) if len(greys) >= min_samples else None
        self.pixel_threshold, self.adopt_after = pixel_threshold, adopt_after
        self._steady = 0

    def changed_share(self, grey: np.ndarray) -> float:
        if self.image is None:
            return 1.0  # too short to know the empty room: treat everything as worth a look
        return float(self.changed_mask(grey).mean())

    def changed_mask(self, grey: np.ndarray) -> np.ndarray:
        assert self.image is not None, "no empty room learnt yet: check .image first"
        return changed_mask(grey, self.image, self.pixel_threshold)

    def learn(self, grey: np.ndarray, differs: bool, moved: bool, faces: int) -> None:
        if self.image is None:
            return
        if not differs:
            self.image = cv2.addWeighted(self.image, 0.9, grey, 0.1, 0)  # daylight drifts slowly
            self._steady = 0
        elif not moved and faces == 0:
            self._steady += 1
            if self._steady >= self.adopt_after:
                self.image, self._steady = grey.copy(), 0
        else:
            self._steady = 0


class PacketSizes:
    """A free hint between looks: in a still room a camera's encoder spends few bits on each frame; when
    someone walks in, the frames grow several times larger. Sizes seen while the room is still form the
    baseline: its 90th percentile, not its median, because with B-frames (and sensor noise) every P-frame of a
    still room is many times the size of the B-frames around it, and a median of mostly B-frames made every
    P-frame look like a change. (With a constant-bitrate camera the rate control spreads sizes widely whatever
    happens, the hint never fires and the probe interval alone decides.)"""

    def __init__(self, factor: float = 3.0, min_bytes: int = 400, window: int = 250):
        self.factor, self.min_bytes = factor, min_bytes
        self.sizes: deque[int] = deque(maxlen=window)
        self._limit: float | None = None
        self._seen = 0

    def stirred(self, size: int) -> bool:
        if self._limit is not None and size > self._limit:
            return True
        self.sizes.append(size)
        self._seen += 1
        if self._seen % 25 == 0:  # the median moves slowly: refresh it now and then, not per packet
            self._limit = self.factor * float(np.percentile(self.sizes, 90)) + self.min_bytes
        return False


class _CannotSeek(Exception):
    """The container cannot seek ahead to a keyframe (the sampler then reads the file whole)."""


@dataclass
class _Look:
    """A decoded keyframe and what became of it."""

    frame: DecodedFrame
    grey: np.ndarray
    packet_at: int  # its position in the packet buffer
    motion: float = 1.0  # share of the small image changed since the look before
    seen: list[Sighting] | None = None  # what the face stage saw; None when it was not asked
    findings: Findings | None = None  # the face stage's whole answer, where a long-GOP group kept it

    @property
    def analysed(self) -> bool:
        return self.seen is not None

    def sample(self, findings=None) -> Sample:
        return Sample(self.frame, self.motion, float(self.grey.mean()), findings)


@dataclass
class CoarseToFineSampler:
    sample_fps: float = 2.0  # the grid that refinement fills in (the same grid a dense analysis uses)
    coarse_interval_s: float = 2.0  # keyframes looked at while something moves or faces change
    steady_interval_s: float = 4.0  # ... while someone is there but nothing changes
    probe_interval_s: float = 6.0  # ... in an empty, still room
    max_keyframe_gap_s: float = 4.5  # beyond this, keyframes are too rare to look every 2 s: go group by group
    change_threshold: float = 0.003  # share of the small image that must differ for a look to be analysed
    busy_threshold: float = 0.01  # share that must change between looks to keep looking every 2 s (sway is less)
    pixel_threshold: int = 14
    scan_width: int = 160
    room_samples: int = 24
    region_margin: float = 0.12  # widen the changed area by this share of the frame on each side
    # The decoder's frame threads. Fewer where the process has fewer cores to itself (a backfill worker):
    # frame threads beside a busy core wait for each other (measured in the README's "Scaling out").
    decoder_threads: int = 2
    fallback: Callable[[float], FrameSource] = DenseSampler
    report: DecodeReport = field(default_factory=DecodeReport)

    def samples(
        self, path: str, fps: float, frame_count: int, look: FaceLook, *, pixel_aspect: float = 1.0
    ) -> Iterator[Sample]:
        import av

        self._ask, self._pixel_aspect = look, pixel_aspect
        self.report = DecodeReport()
        self.report.detail = {"keyframes_decoded": 0, "refined_spans": 0, "refined_frames": 0}
        try:
            raw = is_raw_stream(path)
        except av.FFmpegError as exc:
            self.report.error = f"cannot read packets: {exc}"
            return
        yield from (self._untimed(path, fps, frame_count) if raw else self._timed(path, fps, frame_count))

    def _timed(self, path: str, fps: float, frame_count: int) -> Iterator[Sample]:
        """A file whose packets carry their times: keyframe to keyframe, or group by group for long GOPs."""
        import av

        try:
            keyframe_times, last_t = self._index(path)
        except av.FFmpegError as exc:
            self.report.error = f"cannot read packets: {exc}"
            return
        if len(keyframe_times) < 2:
            yield from self._whole_file(path, fps, frame_count)
            return
        long_gops = float(np.median(np.diff(keyframe_times))) > self.max_keyframe_gap_s
        expected_end = frame_count / fps if fps else last_t
        if frame_count and last_t * fps < frame_count * 0.98 - 1:
            self.report.truncated_at = int(last_t * fps) + 1
            self.report.error = f"truncated: packets end at {last_t:.1f}s of {expected_end:.1f}s"
        try:
            room = self._open(path, fps, keyframe_times)
            if long_gops:
                self.report.detail.update(long_gops=True, gops=0, gops_decoded=0)
                yield from self._scan_gops(path, room)
            else:
                yield from self._scan(path, room)
        except _CannotSeek:  # learning the room seeks ahead to keyframes: a container that cannot is read whole
            yield from self._whole_file(path, fps, frame_count)
        except av.FFmpegError as exc:
            self.report.error = f"decode error: {exc}"

    # -- passes -----------------------------------------------------------------------------------------

    def _index(self, path: str) -> tuple[list[float], float]:
        """Keyframe times and the last packet time, from the container alone (no decoding)."""
        import av

        times, last = [], 0.0
        with av.open(path) as container:
            stream = container.streams.video[0]
            assert stream.time_base is not None  # a video stream always has one
            tb, origin = float(stream.time_base), float(stream.start_time or 0) * float(stream.time_base)
            for packet in container.demux(stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or packet.size == 0:
                    continue
                t = ts * tb - origin
                last = max(last, t)
                if packet.is_keyframe:
                    times.append(t)
        return times, last

    def _untimed(self, path: str, fps: float, frame_count: int) -> Iterator[Sample]:
        """A raw H.264/H.265 stream (no frame times): sampled from a copy that has them (`timed_copy`), in the
        system's temporary folder (TMPDIR), where its frames come in display order; else, or where the copy
        cannot be written (a full disk), read whole."""
        import av

        with tempfile.TemporaryDirectory(prefix="watershop-timed-") as folder:
            try:
                copy, why_not = timed_copy(path, fps, Path(folder)), "its decoder reorders frames (B-frames)"
            except (OSError, av.FFmpegError) as exc:
                copy, why_not = None, f"no timed copy ({exc})"
            if copy is None:
                yield from self._whole_file(path, fps, frame_count)
                self.report.detail["untimed_read_whole"] = why_not
                return
            self.report.detail["timed_copy"] = True
            yield from self._timed(str(copy), fps, frame_count)

    def _whole_file(self, path: str, fps: float, frame_count: int) -> Iterator[Sample]:
        sampler = self.fallback(self.sample_fps)
        yield from sampler.samples(path, fps, frame_count, self._ask, pixel_aspect=self._pixel_aspect)
        detail = self.report.detail
        self.report = sampler.report
        self.report.detail = {**detail, "whole_file": True}

    def _timed_packets(self, container, stream) -> Iterator[tuple[Any, float]]:
        """The stream's packets that hold a frame, each with its time in seconds from the file's start
        (counted in the report as read)."""
        for packet in container.demux(stream):
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None or packet.size == 0:
                continue
            self.report.frames_read += 1
            yield packet, ts * self._tb - self._origin

    def _scan(self, path: str, room: EmptyRoom) -> Iterator[Sample]:
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            buffer: list = []  # packets since the last keyframe looked at
            passed: list[tuple[int, float]] = []  # keyframes passed over since then: buffer position, time
            last: _Look | None = None  # the last keyframe looked at
            pace = self.coarse_interval_s
            refine_next = False  # faces just vanished: look closely at the next stretch too
            bits = PacketSizes()
            for packet, t in self._timed_packets(container, stream):
                if not packet.is_keyframe and pace >= self.probe_interval_s and bits.stirred(packet.size):
                    pace = self.coarse_interval_s  # the encoder spent bits on a change: look at the next keyframe
                since = t - (passed[-1][1] if passed else last.frame.offset_s) if last is not None else np.inf
                if not packet.is_keyframe or since < self.coarse_interval_s - 0.05:
                    buffer.append(packet)
                    continue
                if last is not None and t - last.frame.offset_s < pace - 0.05:
                    passed.append((len(buffer), t))
                    buffer.append(packet)
                    continue
                look = self._look(packet, len(buffer))
                if look is None:  # an undecodable keyframe: keep its packets, try the next one
                    buffer.append(packet)
                    continue
                differs = room.changed_share(look.grey) >= self.change_threshold
                look.motion = 1.0 if last is None else self._moved(last.grey, look.grey)
                moved = look.motion >= self.change_threshold
                # Keyframes are passed over only once there is a last look.
                if (differs or moved) and passed and last is not None and not last.analysed:
                    # Something appeared in a still room: go back for the keyframes passed over, so the
                    # fine grid is needed only over the last couple of seconds before it.
                    for position, _ in passed:
                        back = self._look(buffer[position], position)
                        if back is None:
                            continue
                        back.motion = self._moved(last.grey, back.grey)
                        yield from self._analyse(back, last, buffer, room, refine_next)
                        refine_next, last = self._faces_vanished(last, back), back
                passed = []
                faces_changed = False
                if differs or moved or bool(last and last.seen):
                    faces_changed = yield from self._analyse(look, last, buffer, room, refine_next)
                    refine_next = self._faces_vanished(last, look)
                else:
                    yield look.sample()  # a quiet look: measured, not analysed
                    refine_next = False
                if faces_changed or (look.motion >= self.busy_threshold and not look.seen):
                    # people came or left, or something moves where nobody is seen yet: look again soon
                    pace = self.coarse_interval_s
                elif differs or look.seen:
                    # the same people as at the last look, still or moving about (staff walking behind the
                    # counter, customers shifting in the queue): looked at less often
                    pace = self.steady_interval_s
                else:
                    pace = self.probe_interval_s
                room.learn(look.grey, differs, moved, len(look.seen or []))
                buffer = buffer[look.packet_at :]
                look.packet_at = 0
                last = look
                buffer.append(packet)
            if last is not None and last.analysed and pace < self.probe_interval_s:
                # Something was going on at the last look: the stretch after it, to the end, gets the fine grid.
                yield from self._refine(buffer, last, None, room)

    def _open(self, path: str, fps: float, keyframe_times: list[float]) -> EmptyRoom:
        """Read the stream's settings and learn the empty room, in a container of its own: the passes then read
        from the start of theirs, with no seek back (FFmpeg cannot seek a .dav back into its first group)."""
        import av

        with av.open(path) as container:
            return self._settings_and_room(container, container.streams.video[0], fps, keyframe_times)

    def _settings_and_room(self, container, stream, fps: float, keyframe_times: list[float]) -> EmptyRoom:
        import av

        self._fps = fps
        self._codec, self._extradata = stream.codec_context.name, stream.codec_context.extradata
        self._decoder: av.VideoCodecContext | None = None
        self._keyframe_decoder: av.VideoCodecContext | None = None
        assert stream.time_base is not None  # a video stream always has one
        self._tb = float(stream.time_base)
        self._origin = float(stream.start_time or 0) * self._tb
        # Regions and the motion picture in square pixels, as the frames handed on are (`DecodedFrame`).
        self._width = square_width(stream.codec_context.width, self._pixel_aspect)
        self._height = stream.codec_context.height
        self._scan_height = max(1, int(self._height * self.scan_width / max(self._width, 1)))
        return EmptyRoom(self._room_samples(container, stream, keyframe_times), self.pixel_threshold)

    def _scan_gops(self, path: str, room: EmptyRoom) -> Iterator[Sample]:
        """Keyframes too far apart to look at every couple of seconds (a long GOP: many DVRs and x264's
        default). Every keyframe is decoded and compared with the empty room and the keyframe before; a group
        of pictures (keyframe to keyframe) is decoded only where something happens: either keyframe differs
        from the empty room, the two differ from each other, a face was seen at either, or the encoder spent
        bits on a change inside it (packet sizes). Such a group is decoded without its non-reference frames
        (B-frames nothing else is predicted from: the decoder skips them for free), the frames nearest the
        sample grid are kept, and the face stage looks at one every `coarse_interval_s`, then by bisection
        between looks whose faces differ (as `_refine`). A quiet group costs one keyframe decode."""
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            gop: list = []  # the packets of the group after `look`, from its keyframe
            look: _Look | None = None  # the keyframe that opened the group in `gop`, not yet yielded
            stirred = False
            bits = PacketSizes()
            for packet, _t in self._timed_packets(container, stream):
                if packet.is_keyframe and gop:
                    after = self._look(packet, 0)
                    if after is None:  # an undecodable keyframe: the group runs on to the next one
                        gop.append(packet)
                        continue
                    if look is not None:
                        yield from self._group(look, gop, after, stirred, room)
                    look, gop, stirred = after, [], False
                elif not packet.is_keyframe and bits.stirred(packet.size):
                    stirred = True
                elif packet.is_keyframe and look is None:
                    look = self._look(packet, 0)
                gop.append(packet)
            if look is not None:
                yield from self._group(look, gop, None, stirred, room)

    def _group(
        self, start: _Look, packets: list, end: _Look | None, stirred: bool, room: EmptyRoom
    ) -> Iterator[Sample]:
        """One group of pictures of a long-GOP file: yields `start` (the keyframe that opens it) and, where
        people come or go, the sample grid inside it; analyses `end` (the next keyframe) when needed, so that
        it is ready as the next group's start. Both keyframes are analysed where either differs from the empty
        room, they differ from each other, packet sizes stirred, or someone was seen at `start`. The group
        itself is decoded only where the faces at its two keyframes differ (someone came, left or was
        replaced), or something moved with nobody seen at either: the same people at both ends (a queue
        waiting, staff at work) cost two keyframes, not the pictures between. (A visit that begins and ends
        between two keyframes while the same people are at both is not seen: at most `max_keyframe_gap_s`
        to the keyframe interval, 6-10 s, far shorter than buying a can.) Keyframes further apart than a
        track survives a miss (`SURVIVES_MISS_S`) with people at both are looked inside every
        `steady_interval_s`."""
        self.report.detail["gops"] += 1
        differs = room.changed_share(start.grey) >= self.change_threshold
        end_differs = end is not None and room.changed_share(end.grey) >= self.change_threshold
        motion = self._moved(start.grey, end.grey) if end is not None else 0.0
        moved = motion >= self.change_threshold
        if end is not None:
            end.motion = motion
        if not (differs or end_differs or moved or stirred or start.seen):
            yield start.sample(start.findings)  # a quiet look: measured (analysed only if a group before asked)
            room.learn(start.grey, False, False, 0)
            return
        if not start.analysed:
            start.frame.region = self._region(start.grey, None, room)
            start.findings = self._ask(start.frame)
            start.seen = list(start.findings.sightings)
        yield start.sample(start.findings)
        room.learn(start.grey, differs, moved, len(start.seen or []))
        waiting = False  # the same people at both keyframes, too far apart to leave unlooked
        if end is not None:
            end.frame.region = self._region(end.grey, start.grey, room)
            end.findings = self._ask(end.frame)
            end.seen = list(end.findings.sightings)
            nobody = not start.seen and not end.seen
            if not faces_differ(start.seen, end.seen) and not (nobody and (moved or stirred)):
                # Keyframes further apart than a track survives a miss (8-10 s on many DVRs): the trackers
                # would see the people gone between them, and someone leaving as another takes their place
                # would go unseen for the whole group. Look inside every steady_interval_s, as a file with
                # frequent keyframes is looked at while the same people wait.
                if nobody or end.frame.offset_s - start.frame.offset_s <= SURVIVES_MISS_S:
                    return  # the same people at both keyframes
                waiting = True
        self.report.detail["gops_decoded"] += 1
        grid = self._grid(packets, start, end, room)
        # looks every coarse_interval_s inside the group (steady_interval_s while the same people wait), then
        # bisection between neighbouring looks
        pace = self.steady_interval_s if waiting else self.coarse_interval_s
        every = max(1, int(round(pace * self.sample_fps)))
        if end is None:  # no keyframe after it to compare with: every grid frame
            yield from self._settle(grid, list(range(len(grid))), start.seen, None)
        else:
            yield from self._settle(grid, list(range(every - 1, len(grid), every)), start.seen, end.seen)

    def _grid(
        self, packets: list, start: _Look, end: _Look | None, room: EmptyRoom
    ) -> list[tuple[DecodedFrame, float, float]]:
        """The frames of one group nearest the sample grid, strictly between its two keyframes, decoded
        without non-reference frames: frame, motion since the one before, brightness."""
        self.report.detail["refined_spans"] += 1
        half = 0.5 / self.sample_fps
        hi = end.frame.offset_s if end is not None else np.inf
        slots: dict[int, object] = {}
        for frame in self._frames(packets, skip_nonref=True):
            t = self._time(frame)
            slot = int(round(t * self.sample_fps))
            if t <= start.frame.offset_s + half or t >= hi - half or slot in slots:
                continue
            if abs(t - slot / self.sample_fps) <= half:
                slots[slot] = frame
        grid = []
        previous = start.grey
        for slot in sorted(slots):
            frame = slots[slot]
            t = self._time(frame)
            grey = self._grey(frame)
            out = DecodedFrame(
                int(round(t * self._fps)), t, av_frame=frame, small_grey=grey, pixel_aspect=self._pixel_aspect
            )
            out.fine = True
            out.region = self._region(grey, previous, room)
            grid.append((out, self._moved(previous, grey), float(grey.mean())))
            previous = grey
        return grid

    def _room_samples(self, container, stream, keyframe_times: list[float]) -> list[np.ndarray]:
        import av

        picks = sorted(
            {
                keyframe_times[int(i)]
                for i in np.linspace(0, len(keyframe_times) - 1, min(self.room_samples, len(keyframe_times)))
            }
        )
        greys = []
        for t in picks:
            if t > keyframe_times[0]:  # the first is where the container starts
                try:
                    container.seek(int((t + self._origin) / self._tb), stream=stream, backward=True, any_frame=False)
                except av.FFmpegError as exc:
                    raise _CannotSeek(str(exc)) from exc
            for packet in container.demux(stream):
                if packet.size and packet.is_keyframe:
                    frame = self._decode_keyframe(packet)
                    if frame is not None:
                        greys.append(self._grey(frame))
                    break
        return greys

    # -- steps ------------------------------------------------------------------------------------------

    def _analyse(self, look: _Look, before: _Look | None, buffer: list, room: EmptyRoom, refine_next: bool):
        """Ask the face stage about the look and yield it, then the fine grid since `before` if the faces
        changed; returns whether they did."""
        look.frame.region = self._region(look.grey, before.grey if before else None, room)
        findings = self._ask(look.frame)
        look.seen = list(findings.sightings)
        yield look.sample(findings)
        changed = before is not None and faces_differ(before.seen, look.seen)
        if before is not None and (changed or refine_next):
            yield from self._refine(buffer[before.packet_at : look.packet_at], before, look, room)
        return changed

    def _refine(self, packets: list, start: _Look, end: _Look | None, room: EmptyRoom) -> Iterator[Sample]:
        """The frames of the sample grid strictly between two looks, decoded from the packets between them
        without non-reference frames (the decoded frame nearest each grid time stands for it: at most a frame
        away). Between two analysed looks the face stage is asked by bisection (`_settle`): a frame is
        analysed where the faces at the two nearest analysed frames around it differ, until every change lies
        between two neighbouring grid frames, so each entry or exit is timed as analysing every grid frame
        would time it, at about log2 of the cost. The rest of the grid is measured, not analysed. After the
        last look (no end to compare with) every grid frame is analysed."""
        grid = self._grid(packets, start, end, room)
        if end is None:
            yield from self._settle(grid, list(range(len(grid))), start.seen, None)
        else:
            # A span refined although its ends agree (faces just vanished): look at its middle, and on from there.
            yield from self._settle(grid, [], start.seen, end.seen, forced=not faces_differ(start.seen, end.seen))

    def _settle(
        self,
        grid: list[tuple[DecodedFrame, float, float]],
        looks: list[int],
        before: list[Sighting] | None,
        after: list[Sighting] | None,
        forced: bool = False,
    ) -> Iterator[Sample]:
        """Ask the face stage about the grid frames at `looks`, then, between neighbouring analysed frames
        (and the analysed frames `before` and `after` the grid) whose faces differ, about the frame halfway,
        until every change lies between two neighbouring grid frames; yield those samples, then the rest of
        the grid measured only. With `forced`, the middle of the whole grid is looked at even if its ends
        agree. `after` None: nothing after the grid to compare with (pass every frame as a look)."""
        seen: dict[int, list[Sighting] | None] = {-1: before, len(grid): after}
        analysed: set[int] = set()

        def ask(i: int) -> Sample:
            out, motion, brightness = grid[i]
            self.report.detail["refined_frames"] += 1
            findings = self._ask(out)
            seen[i] = list(findings.sightings)
            analysed.add(i)
            return Sample(out, motion, brightness, findings)

        def bisect(a: int, b: int, force: bool = False) -> Iterator[Sample]:
            if b - a <= 1 or not (force or faces_differ(seen[a], seen[b])):
                return
            mid = (a + b) // 2
            yield ask(mid)
            yield from bisect(a, mid)
            yield from bisect(mid, b)

        for i in looks:
            yield ask(i)
        bounds = [-1, *looks] + ([len(grid)] if after is not None or not looks else [])
        for a, b in zip(bounds, bounds[1:]):
            yield from bisect(a, b, forced and not looks)
        for i, (out, motion, brightness) in enumerate(grid):
            if i not in analysed:
                yield Sample(out, motion, brightness)

    def _look(self, packet, packet_at: int) -> _Look | None:
        frame = self._decode_keyframe(packet)
        if frame is None:
            return None
        t = self._time(frame)
        grey = self._grey(frame)
        self.report.detail["keyframes_decoded"] += 1
        out = DecodedFrame(
            int(round(t * self._fps)), t, av_frame=frame, small_grey=grey, pixel_aspect=self._pixel_aspect
        )
        return _Look(out, grey, packet_at)

    @staticmethod
    def _faces_vanished(before: _Look | None, after: _Look) -> bool:
        return bool(before and before.seen) and not after.seen

    # -- small helpers ----------------------------------------------------------------------------------

    def _decode_keyframe(self, packet):
        """One keyframe decoded on its own, on a decoder of its own with slice threads: frame threads cannot
        share out a single frame (and their hand-over made a lone keyframe slower than one thread: 10.4 against
        9.5 ms at 720p), where slice threads split it wherever the encoder cut it into slices or, in HEVC,
        wavefront rows (x264's sliced threads, x265's default: 4.8-5.5 ms). The frames are the same whatever the
        threads."""
        import av

        if self._keyframe_decoder is None:
            self._keyframe_decoder = self._new_decoder("SLICE")
        try:
            frames = self._keyframe_decoder.decode(packet) + self._keyframe_decoder.decode(None)
        except av.InvalidDataError as exc:
            self.report.error = f"corrupt data: {exc}"
            frames = []
        finally:
            self._keyframe_decoder.flush_buffers()
        self.report.frames_decoded += len(frames)
        return frames[0] if frames else None

    def _new_decoder(self, thread_type: str):
        import av

        # The codec name comes from the file, so av's stubs cannot tell it is a video decoder.
        decoder = cast("av.VideoCodecContext", av.CodecContext.create(self._codec, "r"))
        decoder.extradata = self._extradata
        decoder.thread_type = thread_type
        decoder.thread_count = self.decoder_threads
        return decoder

    def _frames(self, packets: list, skip_nonref: bool = False) -> Iterator:
        """Decode a run of packets that starts at a keyframe, so nothing before it is needed, yielding the
        frames as they come (a caller keeps only those it needs: a span of 1080p frames held at once cost
        hundreds of MB). The decoder is drained at the end (frames held back for reordering come out too) and
        reset for the next run: one decoder per file, as creating one per keyframe cost a third more time.
        With `skip_nonref` the decoder drops frames no other frame is predicted from (most B-frames)."""
        import av

        if not packets:
            return
        if self._decoder is None:
            # Frame threads, as the plain-decode baseline gets: refined spans and long-GOP groups decode tens of
            # frames in a row (measured on a 2-s-GOP 720p file, loaded machine: the same CPU time, 2.1-2.5 s
            # wall against 3.4 s with slice threads, which x264's one-slice frames cannot use).
            self._decoder = self._new_decoder("AUTO")
        self._decoder.skip_frame = "NONREF" if skip_nonref else "DEFAULT"
        try:
            for packet in packets + [None]:
                try:
                    frames = self._decoder.decode(packet)
                except av.InvalidDataError as exc:
                    self.report.error = f"corrupt data: {exc}"
                    continue
                self.report.frames_decoded += len(frames)
                yield from frames
        finally:
            self._decoder.flush_buffers()

    def _time(self, frame) -> float:
        ts = frame.pts if frame.pts is not None else frame.dts
        return (ts or 0) * self._tb - self._origin

    def _grey(self, frame) -> np.ndarray:
        if frame.format.name in ("yuv420p", "yuvj420p", "nv12", "yuv422p", "yuv444p"):
            # The luma plane is the grey picture already: shrink it directly (cheaper than a full reformat).
            plane = frame.planes[0]
            luma = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]
            small = cv2.resize(luma, (self.scan_width, self._scan_height), interpolation=cv2.INTER_AREA)
            return cv2.GaussianBlur(small, (5, 5), 0)
        return small_grey_of(frame, self.scan_width, self._scan_height)

    def _moved(self, a: np.ndarray, b: np.ndarray) -> float:
        return changed_share(a, b, self.pixel_threshold)

    def _region(self, grey: np.ndarray, previous: np.ndarray | None, room: EmptyRoom) -> Region | None:
        """The part of the frame worth searching for faces: what differs from the empty room or from the
        previous look, widened by a margin. None (the whole frame) when that is most of it anyway."""
        if room.image is None:
            return None
        mask = room.changed_mask(grey)
        if previous is not None:
            mask |= changed_mask(grey, previous, self.pixel_threshold)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            return None
        sx, sy = self._width / grey.shape[1], self._height / grey.shape[0]
        mx, my = self.region_margin * self._width, self.region_margin * self._height
        x1, x2 = max(0, int(xs.min() * sx - mx)), min(self._width, int((xs.max() + 1) * sx + mx))
        y1, y2 = max(0, int(ys.min() * sy - my)), min(self._height, int((ys.max() + 1) * sy + my))
        if (x2 - x1) * (y2 - y1) > 0.7 * self._width * self._height:
            return None
        return x1, y1, x2, y2
