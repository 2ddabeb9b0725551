"""Footage as DVRs write it: their file names, a start from the container, files cut off by a power failure."""

import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest

from watershop_dagster.core.footage.coarse_to_fine import CoarseToFineSampler
from watershop_dagster.core.footage.manifest import (
    FOOTAGE_NAME_PATTERNS,
    FootageNameError,
    manifest_frame,
    pixel_aspect,
    read_footage_name,
    rows_from_manifest,
    scan_day,
)
from watershop_dagster.core.footage.recovery import ReferenceStream, access_units, recover_power_cut, reference_stream
from watershop_dagster.core.footage.sampling import DenseSampler
from watershop_dagster.core.footage.watch import look
from watershop_dagster.sim.dvr import cut_by_power_failure, cut_stream_by_power_failure, write_dav, write_program_stream

DAY = date(2026, 3, 2)


def moving_box(i: int) -> np.ndarray:
    """Frame i of a box moving across a 160x120 grey room."""
    img = np.full((120, 160, 3), 90, np.uint8)
    img[30:80, i % 130 : i % 130 + 30] = (200, 50, 50)
    return img


def encode_h264(
    path: Path,
    frames: int = 60,
    fps: int = 10,
    creation_time: str | None = None,
    options: dict | None = None,
    gop: int | None = None,
    scene: Callable[[int], np.ndarray] = moving_box,
    b_frames: bool = True,
) -> Path:
    """A small H.264 file (libx264 defaults, B-frames included) of `scene` (frame i as RGB; the size of its
    first frame), in the container its suffix names (`options`: the muxer's, e.g. a fragmented MP4's
    movflags)."""
    with av.open(str(path), "w", options=options or {}) as container:
        if creation_time:
            container.metadata["creation_time"] = creation_time
        codec_options = {"g": str(gop)} if gop else {}
        if not b_frames:  # as Dahua-made DVRs record
            codec_options["bf"] = "0"
        stream = container.add_stream("libx264", rate=fps, options=codec_options or None)
        height, width = scene(0).shape[:2]
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(scene(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded_frames(path: str) -> list[np.ndarray]:
    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize(
    ("name", "camera", "start", "end"),
    [
        ("cam1_081500.mp4", "cam1", datetime(2026, 3, 2, 8, 15), None),
        ("ch01_20260302085500_20260302090000.mp4", "ch01", datetime(2026, 3, 2, 8, 55), datetime(2026, 3, 2, 9)),
        ("NVR_ch1_main_20260302085500_20260302090000.mp4", "ch01", datetime(2026, 3, 2, 8, 55), datetime(2026, 3, 2, 9)),
        ("192.168.1.108_CH2_sub_20260302235500_20260303000500.mp4", "ch02", datetime(2026, 3, 2, 23, 55),
         datetime(2026, 3, 3, 0, 5)),
        ("2026-03-02_08-55-00_cam1.mkv", "cam1", datetime(2026, 3, 2, 8, 55), None),
        ("cam1_2026-03-02_08-55-00.mp4", "cam1", datetime(2026, 3, 2, 8, 55), None),
        ("20260302085500_cam1.mp4", "cam1", datetime(2026, 3, 2, 8, 55), None),
        ("front_door_20260302_085500.mp4", "front_door", datetime(2026, 3, 2, 8, 55), None),
        ("192.168.1.64_01_20260302085500123_TIMING.mp4", "192.168.1.64_01", datetime(2026, 3, 2, 8, 55, 0, 123000),
         None),
        ("10.0.0.7_2_20260302085500.mp4", "10.0.0.7_2", datetime(2026, 3, 2, 8, 55), None),
        ("cam1 2026-03-02 08.55.00.mp4", "cam1", datetime(2026, 3, 2, 8, 55), None),
        ("2026-03-02T08-55-00 cam1.mp4", "cam1", datetime(2026, 3, 2, 8, 55), None),
        ("lobby.mp4", "lobby", None, None),
    ],
)  # fmt: skip
def test_dvr_names(name, camera, start, end):
    parsed = read_footage_name(Path(name), DAY)
    assert (parsed.camera, parsed.start, parsed.end) == (camera, start, end)


def test_every_pattern_reads_its_own_example():
    for pattern in FOOTAGE_NAME_PATTERNS:
        assert pattern.regex.match(Path(pattern.example).stem), pattern.layout
        assert read_footage_name(Path(pattern.example), DAY).camera


def test_a_name_dated_another_day_or_impossible_is_rejected_naming_the_file():
    with pytest.raises(FootageNameError, match=r"ch01_20260303085500\.mp4: the name says 2026-03-03.*2026-03-02"):
        read_footage_name(Path("ch01_20260303085500.mp4"), DAY)
    with pytest.raises(FootageNameError, match=r"cam1_20261302085500\.mp4: 20261302085500 is not a valid"):
        read_footage_name(Path("cam1_20261302085500.mp4"), DAY)
    with pytest.raises(FootageNameError, match=r"odd name!\.mp4: name fits no footage name pattern"):
        read_footage_name(Path("odd name!.mp4"), DAY)


def test_start_from_creation_time_and_end_stamp_cross_check(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "lobby.mp4", frames=50, creation_time="2026-03-02T08:55:00.000000Z")
    encode_h264(folder / "yard.mp4", creation_time="2026-03-05T08:55:00.000000Z")
    encode_h264(folder / "hall.mp4")  # no creation_time at all
    encode_h264(folder / "ch03_20260302100000_20260302100500.mp4", frames=50)  # 5 s, not the 5 min named
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    lobby = rows["lobby.mp4"]
    assert lobby.ok and (lobby.start_time, lobby.end_time) == (
        datetime(2026, 3, 2, 8, 55),
        datetime(2026, 3, 2, 8, 55, 5),
    )
    assert "creation_time" in lobby.notes
    assert rows["yard.mp4"].status == "error" and "yard.mp4" in rows["yard.mp4"].error
    assert "not on day folder 2026-03-02" in rows["yard.mp4"].error
    assert rows["hall.mp4"].status == "error" and "hall.mp4: no start time" in rows["hall.mp4"].error
    named = rows["ch03_20260302100000_20260302100500.mp4"]
    assert named.ok and named.camera == "ch03" and "end stamp 10:05:00 is 295 s after" in named.notes
    assert named.missing_minutes == pytest.approx(295 / 60, abs=0.01)  # the name promised more than was recorded


def test_transport_streams_and_fragmented_mp4_as_recorders_export_them(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "ch01_20260302080000_20260302080006.ts", frames=60)
    fragmented = {"movflags": "frag_keyframe+empty_moov"}  # how streaming NVRs write MP4: no index up front
    encode_h264(folder / "ch02_20260302080000_20260302080006.mp4", frames=60, options=fragmented)
    whole = encode_h264(tmp_path / "fragments.mp4", frames=120, options=fragmented, gop=20)
    (folder / "ch03_20260302090000.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    for name in ("ch01_20260302080000_20260302080006.ts", "ch02_20260302080000_20260302080006.mp4"):
        row = rows[name]
        assert row.ok and row.fps == 10.0 and row.frame_count == 60 and row.notes is None, row
        assert (row.start_time, row.end_time) == (datetime(2026, 3, 2, 8), datetime(2026, 3, 2, 8, 0, 6))
        assert len(decoded_frames(row.path)) == 60
    # A fragmented MP4 cut short keeps its whole fragments: read as it is, not taken for a lost index. Its
    # count comes from the fragments' headers, so the last, partly written fragment (one keyframe interval,
    # here 20 frames) may be counted but not decodable.
    cut = rows["ch03_20260302090000.mp4"]
    assert cut.ok and cut.recovered_file is None and 0 < cut.frame_count < 120
    capture, readable = cv2.VideoCapture(cut.path), 0
    while capture.read()[0]:
        readable += 1
    assert cut.frame_count - 20 <= readable <= cut.frame_count


def test_a_sub_stream_exported_beside_its_main_stream_is_analysed_once(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    main, sub = "NVR_ch1_main_20260302080000_20260302080006.mp4", "NVR_ch1_sub_20260302080000_20260302080006.mp4"
    encode_h264(folder / main, frames=60)
    small = encode_h264(tmp_path / "small.mp4", frames=60)  # 160x120, the sub stream at a quarter of the pixels
    with av.open(str(small)) as src, av.open(str(folder / sub), "w") as dst:
        out = dst.add_stream("libx264", rate=10)
        out.width, out.height, out.pix_fmt = 80, 60, "yuv420p"
        for frame in src.decode(video=0):
            for packet in out.encode(frame.reformat(width=80, height=60)):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    encode_h264(folder / "ch01_20260302080003_20260302080009.mp4", frames=60)  # half new minutes: kept
    encode_h264(folder / "ch02_20260302080000_20260302080006.mp4", frames=60)  # another camera: kept
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    assert [n for n, r in rows.items() if r.ok] == sorted(
        [main, "ch01_20260302080003_20260302080009.mp4", "ch02_20260302080000_20260302080006.mp4"]
    )
    duplicate = rows[sub]
    assert duplicate.status == "duplicate" and duplicate.missing_minutes == 0.0
    assert duplicate.error == (
        f"{sub}: the same minutes of camera ch01 as {main} (160x120, kept; this copy 80x60): not analysed twice"
    )
    assert all(r.missing_minutes == 0.0 for r in rows.values())  # nothing lost: every minute is in a kept file
    stored = rows_from_manifest(manifest_frame(list(rows.values())), tmp_path)
    assert {Path(r.file).name for r in stored if r.ok} == {n for n, r in rows.items() if r.ok}


def test_a_link_to_a_missing_file_is_a_row_with_its_reason_not_skipped(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "cam1_090000.mp4", frames=20)
    (folder / "cam1_100000.mp4").symlink_to(tmp_path / "nas" / "cam1_100000.mp4")  # the share is not mounted
    (folder / "cam1_110000.mp4").symlink_to(folder / "cam1_090000.mp4")  # a link that works is a file
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    assert rows["cam1_090000.mp4"].ok and rows["cam1_110000.mp4"].ok
    broken = rows["cam1_100000.mp4"]
    assert broken.status == "error" and broken.size_bytes == 0
    assert broken.error == f"cam1_100000.mp4: a link to {tmp_path / 'nas' / 'cam1_100000.mp4'}, which does not exist"


def test_power_cut_file_is_recovered_from_another_file_of_its_camera(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "ch01_20260302080000_20260302080003.mp4", frames=30)
    whole = encode_h264(tmp_path / "whole.mp4", frames=120)
    cut = cut_by_power_failure(whole, folder / "ch01_20260302090000_20260302090012.mp4")
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    row = rows[cut.name]
    assert row.ok and row.status == "ok" and row.error is None
    assert row.recovered_file == f"footage_recovered/{DAY}/{cut.stem}.mp4" and row.path == str(
        tmp_path / row.recovered_file
    )
    assert row.start_time == datetime(2026, 3, 2, 9)
    assert 110 <= row.frame_count < 120 and row.fps == 10.0  # the cut tail loses the last frame or two
    assert row.end_time == datetime(2026, 3, 2, 9) + timedelta(seconds=row.frame_count / 10.0)
    assert "recovered" in row.notes and "ch01_20260302080000_20260302080003.mp4" in row.notes
    original, recovered = decoded_frames(str(whole)), decoded_frames(row.path)
    assert len(recovered) == row.frame_count
    # The same pictures in the same order (B-frames reordered as in the original), bit for bit.
    assert all(np.array_equal(a, b) for a, b in zip(original, recovered))
    # The stored manifest gives the analysis the decodable copy.
    again = {Path(r.file).name: r for r in rows_from_manifest(manifest_frame(list(rows.values())), tmp_path)}
    assert again[cut.name].ok and again[cut.name].path == row.path and again[cut.name].frame_count == row.frame_count


def encode_with_audio(path: Path, frames: int, fps: int = 10, codec: str = "libx264") -> Path:
    """A camera with a microphone: `frames` of the moving box and AAC sound (room noise), muxed as an MP4 whose
    mdat interleaves audio chunks with the video, as such a camera records."""
    rng = np.random.default_rng(5)
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps, options={"g": "20"})
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = container.add_stream("aac", rate=8000)
        audio.layout = "mono"
        samples = 0
        for i in range(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(moving_box(i), format="rgb24")):
                container.mux(packet)
            while samples < (i + 1) * 8000 // fps:
                noise = (rng.normal(0, 0.05, (1, 1024))).astype(np.float32)
                sound = av.AudioFrame.from_ndarray(noise, format="fltp", layout="mono")
                sound.sample_rate, sound.pts = 8000, samples
                samples += 1024
                for packet in audio.encode(sound):
                    container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_power_cut_file_with_sound_is_recovered_past_the_audio_chunks(tmp_path, codec):
    """The audio chunks between the video chunks are skipped (the walk looks ahead for the next frame that
    begins as the reference's frames do): every picture comes back, in order, bit for bit; before, the walk
    ended at the first audio chunk."""
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_with_audio(folder / "cam1_080000.mp4", frames=40, codec=codec)
    whole = encode_with_audio(tmp_path / "whole.mp4", frames=150, codec=codec)
    cut = cut_by_power_failure(whole, folder / "cam1_090000.mp4")
    row = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}[cut.name]
    assert row.ok and row.recovered_file is not None
    assert "bytes of other streams (audio) skipped" in row.notes
    original, recovered = decoded_frames(str(whole)), decoded_frames(row.path)
    assert len(recovered) == row.frame_count >= 145
    assert all(np.array_equal(a, b) for a, b in zip(original, recovered))


def test_a_reference_shorter_than_a_group_of_pictures_still_shows_where_keyframes_begin(tmp_path):
    """A 15-frame reference has one keyframe, its first frame, which is not learned as a pattern (the encoder's
    one-off settings ride on it). A keyframe that opens a video chunk after the audio is still taken (an IDR's
    I slice from frame_num 0 on the reference's parameter set): every frame back, none concealed garbage."""
    reference = reference_stream(encode_with_audio(tmp_path / "ref.mp4", frames=15))
    whole = encode_with_audio(tmp_path / "whole.mp4", frames=150)
    recovered = recover_power_cut(cut_by_power_failure(whole, tmp_path / "cut.mp4"), reference, tmp_path / "out.mp4")
    original, frames = decoded_frames(str(whole)), decoded_frames(str(recovered.path))
    assert len(frames) >= 145 and all(np.array_equal(a, b) for a, b in zip(original, frames))


def test_audio_bytes_that_read_as_a_huge_length_are_not_a_frame():
    """Mono AAC chunks begin 01 2x: read as a NAL length, about 20 MB. The walk takes no unit larger than
    FRAME_SIZE_MARGIN times the reference's largest frame."""
    reference = ReferenceStream(Path("ref.mp4"), "h264", b"", 4, Fraction(10), 160, 120, 1e4, max_frame_bytes=5000)
    aac_like = bytes([0x01, 0x32, 0x41, 0x9A]) + bytes(0x01324_19A)
    assert reference.max_nal_bytes == 20_000
    assert access_units(aac_like, 0, len(aac_like), reference)[0] == []


def test_power_cut_file_without_a_reference_is_rejected_with_its_missing_minutes(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "cam1_080000.mp4", frames=30)  # another camera: gives the day's bitrate
    whole = encode_h264(tmp_path / "whole.mp4", frames=120)
    cut_by_power_failure(whole, folder / "cam2_090000.mp4")
    cut_by_power_failure(whole, folder / "ch05_20260302100000_20260302103000.mp4")
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    for name in ("cam2_090000.mp4", "ch05_20260302100000_20260302103000.mp4"):
        row = rows[name]
        assert row.status == "error" and not row.ok and row.recovered_file is None
        assert row.error.startswith(f"{name}: cut off before its index") and "no whole file of camera" in row.error
        assert row.missing_minutes > 0
    assert 0 < rows["cam2_090000.mp4"].missing_minutes < 0.5  # 12 s recorded; estimated at cam1's bitrate
    assert rows["ch05_20260302100000_20260302103000.mp4"].missing_minutes == 30.0  # from its end stamp
    assert not (tmp_path / "footage_recovered" / DAY.isoformat() / "cam2_090000.mp4").exists()


def test_missing_minutes_count_gaps_only_where_a_camera_records_continuously(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    # cam1 splits its recording every 3 s (files meet) and misses a minute once; cam2 records on motion.
    for name in ("cam1_080000.mp4", "cam1_080003.mp4", "cam1_080006.mp4", "cam1_080109.mp4", "cam1_080112.mp4"):
        encode_h264(folder / name, frames=30)
    encode_h264(folder / "cam2_120000.mp4", frames=30)
    encode_h264(folder / "cam2_130000.mp4", frames=30)  # an hour later: nothing moved, not lost
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    assert {n: r.missing_minutes for n, r in rows.items()} == {
        "cam1_080000.mp4": 0,
        "cam1_080003.mp4": 0,
        "cam1_080006.mp4": 0,
        "cam1_080109.mp4": 1,
        "cam1_080112.mp4": 0,
        "cam2_120000.mp4": 0,
        "cam2_130000.mp4": 0,
    }


def test_an_ip_camera_s_and_a_pc_export_s_names_make_manifest_rows_with_their_starts(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "192.168.1.64_01_20260302085500123_TIMING.mp4", frames=20)
    encode_h264(folder / "cam1 2026-03-02 09.10.00.mp4", frames=20)
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    assert {n: (r.status, r.camera, r.start_time) for n, r in rows.items()} == {
        "192.168.1.64_01_20260302085500123_TIMING.mp4": (
            "ok",
            "192.168.1.64_01",
            datetime(2026, 3, 2, 8, 55, 0, 123000),
        ),
        "cam1 2026-03-02 09.10.00.mp4": ("ok", "cam1", datetime(2026, 3, 2, 9, 10)),
    }


def test_sensor_look_accepts_dvr_names_and_reports_misdated_ones(tmp_path):
    folder = tmp_path / DAY.isoformat()
    folder.mkdir()
    for name in ("NVR_ch1_main_20260302085500_20260302090000.mp4", "lobby.mp4", "ch01_20260301085500.mp4"):
        (folder / name).write_bytes(b"x")
    first = look(tmp_path, {}, {DAY.isoformat()})
    second = look(tmp_path, first.seen, {DAY.isoformat()})
    assert sorted(Path(f.path).name for f in second.settled[DAY]) == [
        "NVR_ch1_main_20260302085500_20260302090000.mp4",
        "lobby.mp4",
    ]
    assert len(second.problems) == 1 and "ch01_20260301085500.mp4: the name says 2026-03-01" in second.problems[0]


@pytest.mark.parametrize(
    ("sar", "size", "aspect"),
    [
        ((16, 11), (704, 576), 16 / 11),  # a D1 camera showing 16:9, as its stream says
        ((0, 1), (960, 1080), 2.0),  # 1080N / "lite": half the width, and the file says nothing
        ((1, 1), (640, 720), 2.0),  # 720N, the file claiming square pixels
        ((0, 1), (1280, 720), 1.0),
        ((1, 1), (1080, 1920), 1.0),  # a corridor-mode camera turned on its side is square
    ],
)
def test_pixel_aspect_from_the_stream_or_a_half_width_shape(sar, size, aspect):
    assert pixel_aspect(*sar, *size) == pytest.approx(aspect)


def half_width_room(i: int) -> np.ndarray:
    """Frame i of a 1080N-like recording: a 192x108 room stored at 96x108 (an 8:9 frame, no aspect ratio in the
    stream), with a 24x24 white square in it that the storing squeezed to 12x24."""
    shown = np.full((108, 192, 3), 90, np.uint8)
    shown[40:64, 60 + i : 84 + i] = 255
    return cv2.resize(shown, (96, 108), interpolation=cv2.INTER_AREA)


def test_a_half_width_recording_is_analysed_in_square_pixels(tmp_path):
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    encode_h264(folder / "ch01_20260302085500.mp4", frames=40, gop=20, scene=half_width_room)
    (row,) = scan_day(folder, DAY)
    assert row.ok and (row.width, row.height, row.pixel_aspect) == (96, 108, 2.0)
    assert "analysed as 192x108" in row.notes
    assert rows_from_manifest(manifest_frame([row]).assign(status="ok"), tmp_path)[0].pixel_aspect == 2.0

    seen: list = []

    def white_square(frame):
        """The face stage's stand-in: what the white square looks like in the frame handed over."""
        ys, xs = np.nonzero(frame.image.min(axis=2) > 200)
        seen.append((frame.image.shape, xs.max() - xs.min() + 1, ys.max() - ys.min() + 1, frame.whole(96)[0].shape))
        return SimpleNamespace(sightings=[])

    for sampler in (CoarseToFineSampler(2.0), DenseSampler(2.0, analyse_every=True)):
        seen.clear()
        list(sampler.samples(row.path, row.fps, row.frame_count, white_square, pixel_aspect=row.pixel_aspect))
        assert seen, type(sampler).__name__
        for shape, width, height, whole in seen:
            assert shape == (108, 192, 3) and whole == (54, 96, 3)
            assert abs(width - 24) <= 3 and abs(height - 24) <= 2  # square again, not 12 wide


def test_raw_h264_streams_are_timed_from_their_name_else_their_own_timing(tmp_path):
    """A raw stream (a DVR's USB backup) has no frame times and no frame count: the frames are counted, and
    the rate comes from the name's start and end stamps, else from the stream's SPS; a file that is no stream
    is a row with its reason."""
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    # 60 frames at 10 fps, named as lasting 5 s: the stamps win over the stream's own 10 fps
    encode_h264(folder / "ch01_20260302080000_20260302080005.h264", frames=60)
    encode_h264(folder / "cam2_081500.264", frames=45, fps=15)
    # cut short: 60 frames at 10 fps (its SPS) in a file named as a minute: the stamps would stretch it sixfold
    encode_h264(folder / "ch04_20260302080000_20260302080100.h264", frames=60)
    (folder / "cam3_090000.h265").write_bytes(b"\x00\x00\x01" + bytes(range(256)) * 20)
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    named = rows["ch01_20260302080000_20260302080005.h264"]
    assert named.ok and named.frame_count == 60 and named.fps == 12.0, named
    assert named.end_time == datetime(2026, 3, 2, 8, 0, 5) and "start and end stamps" in named.notes
    own = rows["cam2_081500.264"]
    assert own.ok and own.frame_count == 45 and own.fps == 15.0 and "SPS" in own.notes, own
    assert own.end_time == datetime(2026, 3, 2, 8, 15, 3)
    assert (own.width, own.height) == (160, 120)
    cut = rows["ch04_20260302080000_20260302080100.h264"]
    assert cut.ok and cut.fps == 10.0 and cut.end_time == datetime(2026, 3, 2, 8, 0, 6), cut
    assert "the name spans 60 s but its 60 frames last 6.0 s" in cut.notes
    bad = rows["cam3_090000.h265"]
    assert not bad.ok and bad.error.startswith("cam3_090000.h265: ") and bad.camera == "cam3", bad
    # the samplers read it as they read a container: the same frames, each at its own index
    stream, mp4 = folder / "cam2_081500.264", encode_h264(tmp_path / "cam2.mp4", frames=45, fps=15)
    assert len(decoded_frames(str(stream))) == 45
    from_stream = list(DenseSampler(5.0).frames(str(stream), 15.0, 45))
    from_mp4 = list(DenseSampler(5.0).frames(str(mp4), 15.0, 45))
    assert [(f.index, f.offset_s) for f in from_stream] == [(f.index, f.offset_s) for f in from_mp4]
    assert len(from_stream) == 15 and all(np.array_equal(a.image, b.image) for a, b in zip(from_stream, from_mp4))


def test_dahua_dav_recordings_are_timed_by_their_name_else_the_dvr_clock_in_their_frames(tmp_path):
    """A .dav (Dahua's own format) has no frame count and no index: the frames are counted, the rate is the
    name's stamps' or the recording's own, the start the name's or the DVR clock stamped in the first frame."""
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    mp4 = encode_h264(tmp_path / "source.mp4", frames=60, gop=10, b_frames=False)
    write_dav(mp4, folder / "NVR_ch1_main_20260302080000_20260302080006.dav", datetime(2026, 3, 2, 8, 0, 0))
    write_dav(mp4, folder / "lobby.dav", datetime(2026, 3, 2, 8, 15, 0))
    write_dav(mp4, folder / "door.dav", datetime(2026, 3, 1, 23, 59, 0))  # the DVR's clock says yesterday
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    named = rows["NVR_ch1_main_20260302080000_20260302080006.dav"]
    assert named.ok and named.camera == "ch01" and (named.fps, named.frame_count) == (10.0, 60), named
    assert (named.start_time, named.end_time) == (datetime(2026, 3, 2, 8), datetime(2026, 3, 2, 8, 0, 6))
    clock = rows["lobby.dav"]
    assert clock.ok and (clock.fps, clock.frame_count) == (10.0, 60), clock
    assert (
        clock.start_time == datetime(2026, 3, 2, 8, 15) and "DVR clock" in clock.notes and ".dav header" in clock.notes
    )
    wrong_day = rows["door.dav"]
    assert not wrong_day.ok and "2026-03-01 23:59:00, is not on day folder 2026-03-02" in wrong_day.error

    # FFmpeg cannot seek a .dav back into its first group of pictures: the sampler never does (it learns the
    # empty room in a container of its own), so it samples the .dav as it samples the same frames in MP4
    def sampled(path):
        sampler = CoarseToFineSampler(2.0)
        samples = list(sampler.samples(str(path), 10.0, 60, lambda frame: SimpleNamespace(sightings=[])))
        assert sampler.report.error is None and not sampler.report.detail.get("whole_file")
        return [(s.frame.index, s.analysed) for s in samples], sampler.report.frames_decoded

    assert sampled(named.path) == sampled(mp4)
    assert len(decoded_frames(named.path)) == 60


def _timestamp(b: bytes, prefix: int) -> int:
    """A 33-bit PES time from its five bytes, its prefix and marker bits checked."""
    assert b[0] >> 4 == prefix and b[0] & 1 and b[2] & 1 and b[4] & 1, b.hex()
    return (b[0] >> 1 & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def program_stream_units(data: bytes) -> list[tuple[int, int, int | None]]:
    """(start code, offset, value) of each unit of an MPEG program stream after a 40-byte IMKH header: a pack
    header's system clock reference (base), a PES packet's presentation time (None on a continuation), a
    stream map's first stream type; read by the standard's layout, independently of the writer."""
    assert data[:4] == b"IMKH" and data[40:44] == b"\x00\x00\x01\xba"
    units, at = [], 40
    while at < len(data):
        assert data[at : at + 3] == b"\x00\x00\x01", f"no start code at {at}"
        code = data[at + 3]
        if code == 0xB9:  # program end code: no length field, nothing after it
            units.append((code, at, None))
            break
        if code == 0xBA:  # MPEG-2 pack header: '01' marker, SCR with markers, mux rate, stuffing
            h = data[at + 4 : at + 14]
            assert h[0] >> 6 == 1 and h[0] & 4 and h[2] & 4 and h[4] & 4 and h[5] & 1 and h[8] & 3 == 3
            base = (h[0] >> 3 & 7) << 30 | (h[0] & 3) << 28 | h[1] << 20 | (h[2] >> 3) << 15
            base |= (h[2] & 3) << 13 | h[3] << 5 | h[4] >> 3
            units.append((code, at, base))
            at += 14 + (h[9] & 7)
            continue
        length = int.from_bytes(data[at + 4 : at + 6], "big")
        body = data[at + 6 : at + 6 + length]
        if code == 0xE0:
            assert body[0] >> 6 == 2 and body[2] + 3 <= len(body)  # MPEG-2 PES header
            pts_flag = body[1] >> 7  # with a DTS too (flags 11) the PTS prefix is 3
            units.append((code, at, _timestamp(body[3:8], 3 if body[1] >> 6 == 3 else 2) if pts_flag else None))
        elif code == 0xBC:  # stream map: its elementary stream entries after the program info
            info = int.from_bytes(body[2:4], "big")
            units.append((code, at, body[6 + info]))
        else:
            units.append((code, at, None))
        at += 6 + length
    return units


def test_a_hikvision_export_is_a_program_stream_named_mp4_read_as_the_same_frames(tmp_path):
    """Hikvision names its exports .mp4 but writes an MPEG program stream (no index, no moov): the manifest
    reads its rate, frames and span from the stream, a cut-off one is not taken for a power-cut MP4 to rebuild
    (its frames read up to the cut), and the sampler samples it as it samples the same frames in MP4."""
    folder = tmp_path / "footage" / DAY.isoformat()
    folder.mkdir(parents=True)
    mp4 = encode_h264(tmp_path / "source.mp4", frames=60, gop=10, b_frames=False)
    whole = write_program_stream(mp4, folder / "ch01_20260302080000_20260302080006.mp4")
    cut = write_program_stream(mp4, folder / "ch01_20260302080100_20260302080106.mp4")
    cut_stream_by_power_failure(cut, cut.stat().st_size // 3)
    with av.open(str(whole)) as f:
        assert f.format.name == "mpeg" and f.streams.video[0].codec_context.name == "h264"
    # the bytes as ISO 13818-1 lays them out: every frame a pack whose clock is its presentation time, the map
    # on keyframes naming H.264, PES packets within their 16-bit length
    units = program_stream_units(whole.read_bytes())
    packs = [u for u in units if u[0] == 0xBA]
    stamps = [u[2] for u in units if u[0] == 0xE0 and u[2] is not None]
    assert len(packs) == len(stamps) == 60 and [u[2] for u in packs] == stamps == [i * 9000 for i in range(60)]
    assert [u[2] for u in units if u[0] == 0xBC] == [0x1B] * 6  # a map on each of the 6 keyframes (gop 10)
    rows = {Path(r.file).name: r for r in scan_day(folder, DAY, tmp_path)}
    read = rows[whole.name]
    assert read.ok and (read.camera, read.fps, read.frame_count) == ("ch01", 10.0, 60), read
    assert (read.start_time, read.end_time) == (datetime(2026, 3, 2, 8), datetime(2026, 3, 2, 8, 0, 6)), read
    short = rows[cut.name]
    assert short.ok and short.recovered_file is None and 25 <= short.frame_count < 55, short
    assert "end stamp 08:01:06" in short.notes, short
    # the frame cut mid-way may be counted but not decode
    assert short.frame_count - 1 <= len(decoded_frames(str(cut))) <= short.frame_count

    def sampled(path):
        sampler = CoarseToFineSampler(2.0)
        samples = list(sampler.samples(str(path), 10.0, 60, lambda frame: SimpleNamespace(sightings=[])))
        assert sampler.report.error is None and not sampler.report.detail.get("whole_file")
        return [(s.frame.index, s.analysed) for s in samples], sampler.report.frames_decoded

    assert sampled(whole) == sampled(mp4)
    frames_ps, frames_mp4 = decoded_frames(str(whole)), decoded_frames(str(mp4))
    assert len(frames_ps) == 60 and all(np.array_equal(a, b) for a, b in zip(frames_ps, frames_mp4))


def sampled_by_coarse_to_fine(path: Path, fps: float, frames: int) -> tuple[list[tuple[int, bool]], dict]:
    """(index, analysed) of each sample the default sampler yields over an empty scene's file, and its report's
    detail; the sampler must report no error."""
    sampler = CoarseToFineSampler(2.0)
    samples = list(sampler.samples(str(path), fps, frames, lambda frame: SimpleNamespace(sightings=[])))
    assert sampler.report.error is None, sampler.report
    return [(s.frame.index, s.analysed) for s in samples], sampler.report.detail


@pytest.mark.parametrize("fps", [10, 12])  # 12: frame times that Matroska's milliseconds round
def test_a_raw_stream_is_sampled_from_a_timed_copy_unless_its_frames_are_reordered(tmp_path, monkeypatch, fps):
    """A raw stream has no frame times, so FFmpeg cannot seek in it: without B-frames (as DVRs record) it is
    copied into a container with the times its rate gives and sampled as its MP4 is, keyframe to keyframe; with
    B-frames its display times are unknown without decoding it, and it is read whole."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    frames = 8 * fps
    raw = encode_h264(tmp_path / "ch01.h264", frames=frames, fps=fps, gop=fps, b_frames=False)
    mp4 = encode_h264(tmp_path / "ch01.mp4", frames=frames, fps=fps, gop=fps, b_frames=False)
    from_raw, detail = sampled_by_coarse_to_fine(raw, fps, frames)
    from_mp4, _ = sampled_by_coarse_to_fine(mp4, fps, frames)
    assert from_raw == from_mp4 and detail.get("timed_copy") and not detail.get("whole_file"), detail
    assert not list(temporary.iterdir())  # the copy's folder is removed after

    reordered = encode_h264(tmp_path / "ch02.h264", frames=frames, fps=fps, gop=fps)  # libx264's defaults: B-frames
    from_reordered, detail = sampled_by_coarse_to_fine(reordered, fps, frames)
    assert detail.get("whole_file") and "B-frames" in detail["untimed_read_whole"], detail
    assert [i for i, _ in from_reordered] == list(range(0, frames, fps // 2))  # every 2-per-second frame, in order
