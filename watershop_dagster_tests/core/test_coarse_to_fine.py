"""The coarse-to-fine sampler must find the same first and last sightings as analysing every sampled frame,
while decoding only a small part of the file. A bright block stands in for a face: the fake face stage below
'sees' it wherever it is in the decoded image, so wrong frames or wrong times would show."""

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from watershop_dagster.core.footage.coarse_to_fine import CoarseToFineSampler, EmptyRoom, faces_differ
from watershop_dagster.core.footage.sampling import DenseSampler, Sighting
from watershop_dagster.core.footage.tracking import SURVIVES_MISS_S

FPS = 10.0
SIZE = (320, 180)
PRESENT = [(31.3, 47.7), (75.2, 77.9)]  # seconds with a 'face' in view


def scene(t: float, present=PRESENT) -> np.ndarray:
    img = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    cv2.rectangle(img, (200, 20), (300, 60), (40, 120, 200), -1)  # shelves: part of the empty room
    for a, b in present:
        if a <= t <= b:
            x = 20 + int(min(t - a, 3.0) * 30)  # walks in, then waits
            cv2.rectangle(img, (x, 60), (x + 40, 110), (250, 250, 250), -1)
    return img


def write_h264(path, seconds=100, gop_s=2.0, bframes=False, present=PRESENT):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        g = str(int(gop_s * FPS))
        stream.options = {"preset": "veryfast", "g": g, "keyint_min": g, "sc_threshold": "0"}
        if bframes:
            stream.options = {**stream.options, "bf": "3"}  # with b-pyramid: some B-frames are not references
        for i in range(int(seconds * FPS)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(scene(i / FPS, present), format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_mp4v(path, seconds=100):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for i in range(int(seconds * FPS)):
        w.write(scene(i / FPS))
    w.release()
    return path


@dataclass(frozen=True)
class BlockFindings:
    sightings: list


def see_block(frame) -> BlockFindings:
    """The fake face stage: the bright block, wherever it is."""
    ys, xs = np.nonzero(frame.image.min(axis=2) > 230)
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32) if len(xs) else None
    return BlockFindings([Sighting(box, None)] if box is not None else [])


def consume(sampler, path, seconds=100):
    """What the sampler hands on: the sighting times and all samples (in time order)."""
    samples = sorted(sampler.samples(str(path), FPS, int(seconds * FPS), see_block), key=lambda s: s.frame.offset_s)
    seen_at = [s.frame.offset_s for s in samples if s.findings is not None and s.findings.sightings]
    return sorted(seen_at), samples


def visits(times, gap=10.0):
    out = []
    for t in times:
        if out and t - out[-1][1] <= gap:
            out[-1][1] = t
        else:
            out.append([t, t])
    return out


@pytest.mark.parametrize("writer", [write_h264, write_mp4v])
def test_same_entries_and_exits_as_every_sampled_frame_for_a_fraction_of_the_decoding(tmp_path, writer):
    path = writer(tmp_path / "cam1_080000.mp4")
    dense_times, _ = consume(DenseSampler(2.0, analyse_every=True), path)
    sampler = CoarseToFineSampler(2.0)
    times, frames = consume(sampler, path)
    dense, fast = visits(dense_times), visits(times)
    assert len(fast) == len(dense) == 2
    for (a, b), (c, d) in zip(fast, dense):
        assert abs(a - c) <= 0.5 and abs(b - d) <= 0.5  # the fine grid is the dense grid
    assert sampler.report.frames_decoded < 0.5 * 1000  # less than half the frames decoded
    assert sampler.report.detail["refined_spans"] >= 4  # every entry and exit was looked at closely
    fine = [s for s in frames if s.frame.fine]
    # the fine grid is analysed by bisection (2 of 3 frames in a 2-s span, 3 of 7 in 4 s), the rest measured only
    assert 0 < sum(s.analysed for s in fine) < 0.7 * len(fine)
    quiet = [s.frame.offset_s for s in frames if not s.analysed and not s.frame.fine]
    assert quiet and all(b - a >= 1.9 for a, b in zip(quiet, quiet[1:]))  # empty room: keyframes seconds apart
    assert not [t for t in quiet if any(a <= t <= b for a, b in PRESENT)]  # never quiet with someone there


def test_a_decoder_on_one_thread_gives_the_same_samples(tmp_path):
    """A backfill worker decodes on one thread (its share of the cores): frame threads only change when the
    decoder hands frames out, never which frames or their times."""
    path = write_h264(tmp_path / "cam1_080000.mp4", bframes=True)
    one = CoarseToFineSampler(2.0, decoder_threads=1)
    threaded, threaded_samples = consume(CoarseToFineSampler(2.0), path)
    single, single_samples = consume(one, path)
    assert one._decoder is not None and one._decoder.thread_count == 1

    def sampled(samples):
        return [(s.frame.offset_s, s.analysed, s.frame.fine) for s in samples]

    assert sampled(single_samples) == sampled(threaded_samples)
    assert single == threaded and len(visits(single)) == 2


def test_faces_are_searched_only_where_the_picture_changed(tmp_path):
    path = write_h264(tmp_path / "cam1_080000.mp4")
    regions = [
        s.frame.region
        for s in CoarseToFineSampler(2.0).samples(str(path), FPS, 1000, see_block)
        if s.analysed and 35 <= s.frame.offset_s <= 45
    ]
    assert regions and all(r is not None for r in regions)
    for x1, y1, x2, y2 in regions:  # the block waits at x 110..150, y 60..110
        assert x1 <= 110 and x2 >= 150 and y1 <= 60 and y2 >= 110
        assert (x2 - x1) * (y2 - y1) < 0.6 * SIZE[0] * SIZE[1]


@pytest.mark.parametrize("gop_s", [6.0, 10.0])
def test_long_gops_decode_only_the_groups_where_something_happens(tmp_path, gop_s):
    """Keyframes 6 or 10 s apart: the same entries and exits as analysing every sampled frame, while the
    groups of pictures of the empty room, and those with the same person at both keyframes, are not decoded. Each visit shows in at least one
    keyframe (a visit shorter than the keyframe interval that no keyframe shows is found only where packet
    sizes give it away: too few bits for that in this small, noiseless picture)."""
    present = [(31.3, 47.7), (73.2, 81.9)]
    path = write_h264(tmp_path / "cam1_080000.mp4", gop_s=gop_s, bframes=True, present=present)
    dense_times, _ = consume(DenseSampler(2.0, analyse_every=True), path)
    sampler = CoarseToFineSampler(2.0)
    times, samples = consume(sampler, path)
    detail = sampler.report.detail
    assert detail["long_gops"] and not detail.get("whole_file")
    dense, fast = visits(dense_times), visits(times)
    assert len(fast) == len(dense) == 2
    for (a, b), (c, d) in zip(fast, dense):
        assert abs(a - c) <= 1.0 and abs(b - d) <= 1.0
    # only the four groups with an entry or an exit: not the empty room, not the one the customer waits through
    assert detail["gops_decoded"] == 4 and detail["gops"] == -(-100 // gop_s)
    assert sampler.report.frames_decoded < 0.5 * 1000  # skipped groups and non-reference frames
    assert sum(s.analysed for s in samples) < 0.5 * len(samples)


def test_keyframes_further_apart_than_a_track_survives_are_looked_inside_while_people_wait(tmp_path):
    """Keyframes every 10 s, a customer waiting through two whole groups (at the keyframes at 40, 50 and 60 s):
    those groups are looked inside, so no two sightings of her are further apart than a track survives a
    miss; the empty room's groups are still not decoded."""
    present = [(31.3, 67.7)]
    path = write_h264(tmp_path / "cam1_080000.mp4", gop_s=10.0, bframes=True, present=present)
    sampler = CoarseToFineSampler(2.0)
    times, _ = consume(sampler, path)
    assert sampler.report.detail["gops_decoded"] == 4  # her entry, the two she waits through, her exit
    assert max(np.diff(times)) < SURVIVES_MISS_S
    assert abs(times[0] - 31.3) <= 1.0 and abs(times[-1] - 67.7) <= 1.0


def test_a_file_with_one_keyframe_is_decoded_whole(tmp_path):
    path = write_h264(tmp_path / "cam1_080000.mp4", seconds=20, gop_s=30.0)
    sampler = CoarseToFineSampler(2.0)
    frames = list(sampler.samples(str(path), FPS, 200, see_block))
    assert sampler.report.detail.get("whole_file") and len(frames) == 40 and sampler.report.frames_read == 200


def test_truncated_stream_is_reported_with_what_was_read(tmp_path):
    path = write_h264(tmp_path / "cam1_080000.mp4", seconds=20)
    sampler = CoarseToFineSampler(2.0)
    frames = list(sampler.samples(str(path), FPS, 400, see_block))  # the manifest promised 40 s
    assert frames and "truncated" in sampler.report.error and sampler.report.truncated_at <= 200


def test_faces_differ():
    box = np.array([10, 10, 50, 50], np.float32)
    a, b = np.eye(512, dtype=np.float32)[0], np.eye(512, dtype=np.float32)[1]
    s = Sighting
    assert not faces_differ([s(box, a)], [s(box + 3, a)])
    assert faces_differ([], [s(box, None)]) and faces_differ([s(box, None)], [])
    assert faces_differ([s(box, a)], [s(box, b)])  # someone else stepped into the same place
    assert not faces_differ([s(box, a)], [s(box + 200, a)])  # the same person moved
    assert not faces_differ([s(box, None)], [s(box + 200, None)])  # a body walked: nobody came or went
    assert faces_differ([s(box, a), s(box, None)], [s(box, a), s(box + 200, b)])  # a body left, a face came
    body = np.array([0, 40, 60, 160], np.float32)  # below and around the face at 10..50
    assert not faces_differ([s(box, a)], [s(box, a), s(body, None)])  # the face's own body: no one new
    assert faces_differ([s(box, a)], [s(box, a), s(body + 300, None)])  # a body with no face came in


def test_empty_room_learns_a_lasting_change_but_not_a_waiting_customer():
    room_img = np.full((90, 160), 100, np.uint8)
    room = EmptyRoom([room_img] * 10, adopt_after=3)
    lit = room_img + 40
    for _ in range(3):
        assert room.changed_share(lit) == 1.0
        room.learn(lit, differs=True, moved=False, faces=1)  # someone is there: never absorbed
    assert room.changed_share(lit) == 1.0
    for _ in range(3):
        room.learn(lit, differs=True, moved=False, faces=0)
    assert room.changed_share(lit) == 0.0
    assert EmptyRoom([room_img] * 3).changed_share(room_img) == 1.0  # too few looks to know the room


def test_only_the_region_is_converted_to_colour_and_it_matches_a_full_conversion(tmp_path):
    import av

    from watershop_dagster.core.footage.sampling import DecodedFrame

    path = write_h264(tmp_path / "cam1_080000.mp4", seconds=40)
    with av.open(str(path)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= 35.0)
        full = frame.to_ndarray(format="bgr24")
        decoded = DecodedFrame(350, 35.0, av_frame=frame)
        decoded.region = (101, 50, 170, 121)
        part = decoded.image
    assert part.shape == full.shape
    inside = (slice(52, 120), slice(104, 168))
    assert np.abs(part[inside].astype(int) - full[inside].astype(int)).max() <= 4
    assert part[:40, :80].max() == 0  # outside the region nothing was converted
    # The person detector still sees the whole scene, at its own scale (at most 160 px wide here)
    small, scale = decoded.whole(160)
    assert small.shape == (90, 160, 3) and scale == 0.5
    expected = cv2.resize(full, (160, 90), interpolation=cv2.INTER_LINEAR)
    assert np.abs(small.astype(int) - expected.astype(int)).mean() < 3
    assert small[:20, :40].min() > 60  # the room outside the region: grey 90, not the unconverted black


def write_empty_room_with_clock(path, seconds=60, size=(640, 360)):
    """A still, empty room with sensor noise and a DVR's burned-in clock (white text about 4% of the frame
    height, changing every second) and camera name."""
    from datetime import datetime, timedelta

    import av

    w, h = size
    room = np.full((h, w, 3), 150, np.uint8)
    cv2.rectangle(room, (int(w * 0.6), int(h * 0.1)), (int(w * 0.95), int(h * 0.4)), (40, 120, 200), -1)
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "g": "20", "keyint_min": "20", "sc_threshold": "0"}
        for i in range(int(seconds * FPS)):
            noisy = np.clip(room.astype(np.int16) + rng.normal(0, 2.5, room.shape), 0, 255).astype(np.uint8)
            clock = (datetime(2024, 6, 3, 9, 0, 0) + timedelta(seconds=i / FPS)).strftime("%Y-%m-%d %a %H:%M:%S")
            for colour, width in (((30, 30, 30), 4), ((255, 255, 255), 2)):
                for text, x, y in ((clock, 0.02, 0.06), ("CAM1 COUNTER", 0.78, 0.95)):
                    at = (int(w * x), int(h * y))
                    cv2.putText(noisy, text, at, cv2.FONT_HERSHEY_SIMPLEX, h / 720 * 1.1, colour, width)
            for packet in stream.encode(av.VideoFrame.from_ndarray(noisy, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_an_empty_room_with_a_ticking_clock_stays_empty(tmp_path):
    """The clock changes every second, but at the sampler's scale (160 px, blurred, 14 grey levels) it is no
    change: nothing is analysed, and no motion score reaches the shop-hours activity threshold."""
    from watershop_dagster.core.insights.shop_hours import ShopHoursRules

    path = write_empty_room_with_clock(tmp_path / "cam1_090000.mp4")
    asked = []

    def look(frame):
        asked.append(frame.offset_s)
        return BlockFindings([])

    sampler = CoarseToFineSampler(2.0)
    samples = list(sampler.samples(str(path), FPS, 600, look))
    assert samples and asked in ([], [0.0])  # the first look only: it has nothing to compare with
    asked.clear()
    threshold = ShopHoursRules().motion_threshold
    assert all(s.motion < threshold for s in samples[1:])  # the first look has nothing to compare with
    dense = list(DenseSampler(2.0).samples(str(path), FPS, 600, look))
    assert all(s.motion < threshold for s in dense[1:])
    assert len(asked) <= 6  # the dense gate's idle looks only (one every 10 s)
