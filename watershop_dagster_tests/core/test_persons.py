"""Person detector, person tracks, face-to-body joining and person-only presences."""

import hashlib
import importlib.resources
import tomllib
from dataclasses import replace
from datetime import date, datetime, timedelta

import cv2
import numpy as np
import pandas as pd
import pytest

from watershop_dagster.core.footage.body_tracks import (
    PersonRules,
    PersonTrack,
    box_iou,
    build_person_tracks,
    person_detections_frame,
)
from watershop_dagster.core.footage.faces_on_bodies import (
    face_share,
    face_tracks_from_tables,
    frame_assignments,
    join_faces_to_persons,
    own_spans,
    person_only_presences,
    person_tracks_frame,
)
from watershop_dagster.core.footage.persons import (
    PersonBox,
    PersonDetector,
    anchor_grid,
    body_look,
    bundled_model_path,
    decode_persons,
    letterbox,
    look_distance,
)
from watershop_dagster.core.footage.tracking import Track
from watershop_dagster.core.storage.schemas import PERSON_DETECTIONS, PERSON_TRACKS
from watershop_dagster_tests.support import REPO, machine_zone

T0 = datetime(2024, 3, 4, 10, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def body(cx: float, top: float = 100.0, height: float = 300.0, width: float = 100.0) -> PersonBox:
    return PersonBox(cx - width / 2, top, cx + width / 2, top + height, 0.9)


@pytest.fixture(scope="module")
def detector():
    return PersonDetector.default()


# -- the shipped model ---------------------------------------------------------------------------------------


def test_the_model_ships_in_the_package_with_its_licence():
    path = bundled_model_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
    )
    assert "Apache License" in (path.parent / "LICENSE-Apache-2.0.txt").read_text()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data["watershop_dagster"]
    assert "models/person/*.onnx" in patterns and "models/person/*.txt" in patterns


# -- pre- and post-processing --------------------------------------------------------------------------------


def test_letterbox_scales_the_long_side_and_pads_bottom_right_with_grey_to_a_multiple_of_32():
    image = np.zeros((100, 200, 3), np.uint8)
    canvas, r = letterbox(image, 416)
    assert canvas.shape == (224, 416, 3) and r == pytest.approx(2.08)  # 208 rows, padded to 224
    assert (canvas[:208, :416] == 0).all()  # the frame sits at the top-left
    assert (canvas[208:] == 114).all()
    square, r = letterbox(image, 416, square=True)  # a model whose input is fixed
    assert square.shape == (416, 416, 3) and r == pytest.approx(2.08) and (square[208:] == 114).all()


def test_anchor_grid_is_three_row_major_grids_in_stride_order():
    cells, steps = anchor_grid(416)
    assert len(cells) == 52 * 52 + 26 * 26 + 13 * 13 == 3549
    assert cells[1].tolist() == [1, 0] and cells[52].tolist() == [0, 1]  # x runs fastest
    assert steps[2703, 0] == 8 and steps[2704, 0] == 16 and cells[2704].tolist() == [0, 0]
    assert steps[-1, 0] == 32 and cells[-1].tolist() == [12, 12]
    cells, steps = anchor_grid(256, 416)  # a 16:9 frame: 32 rows of 52 cells at stride 8
    assert len(cells) == 32 * 52 + 16 * 26 + 8 * 13
    assert cells[52].tolist() == [0, 1] and cells[32 * 52 - 1].tolist() == [51, 31]
    assert cells[-1].tolist() == [12, 7] and steps[-1, 0] == 32


def test_decoding_keeps_people_scores_obj_times_class_and_suppresses_duplicates():
    cells, steps = anchor_grid(416)
    out = np.zeros((1, len(cells), 85), np.float32)
    row = 2 * 52 + 3  # cell (3, 2) at stride 8
    out[0, row, :6] = [0.5, 0.5, np.log(4.0), np.log(4.0), 0.9, 0.8]
    out[0, row + 1, :6] = [0.0, 0.5, np.log(4.0), np.log(4.0), 0.9, 0.5]  # same person shifted 4 px: suppressed
    out[0, 3000, 4] = 0.99
    out[0, 3000, 5 + 2] = 0.99  # a confident car is not a person
    boxes = decode_persons(out, cells, steps, threshold=0.3, nms_iou=0.45)
    assert boxes.shape == (1, 5)
    assert boxes[0].tolist() == pytest.approx([12.0, 4.0, 44.0, 36.0, 0.72])


# -- the detector on real photos -----------------------------------------------------------------------------


def test_detector_finds_the_six_people_of_a_group_photo(detector):
    image = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    people = detector.detect(image)
    h, w = image.shape[:2]
    assert len(people) == 6
    assert all(0 <= p.x1 < p.x2 <= w and 0 <= p.y1 < p.y2 <= h for p in people)
    assert all(p.score >= 0.5 and p.height > 300 for p in people)  # all seated or standing at the table


def test_a_wide_frame_on_a_canvas_of_its_shape_finds_the_people_a_square_canvas_finds(detector):
    image = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    wide = image[: image.shape[1] * 9 // 16]  # cut to 16:9
    assert not detector.square
    free = detector.detect(wide)
    detector.square = True
    try:
        square = detector.detect(wide)
    finally:
        detector.square = False
    assert len(free) == len(square) >= 4
    for a in free:
        b = max(square, key=lambda b: box_iou(a, b))
        assert box_iou(a, b) > 0.9 and abs(a.score - b.score) < 0.1


def test_detector_in_a_region_reports_frame_pixels_and_only_what_is_inside(detector):
    image = cv2.imread(str(importlib.resources.files("insightface") / "data" / "images" / "t1.jpg"))
    w = image.shape[1]
    right = detector.detect(image, region=(w // 2, 0, w, image.shape[0]))
    everyone = detector.detect(image)
    assert 0 < len(right) < len(everyone)
    assert all(p.x1 >= w // 2 for p in right)
    # the rightmost person is found at the same place either way
    a, b = max(right, key=lambda p: p.x2), max(everyone, key=lambda p: p.x2)
    assert abs(a.x2 - b.x2) < 10 and abs(a.y1 - b.y1) < 10


def test_detector_finds_nobody_in_an_empty_frame(detector):
    assert detector.detect(np.full((360, 640, 3), 90, np.uint8)) == []
    assert detector.detect(np.zeros((360, 640, 3), np.uint8), region=(10, 10, 10, 50)) == []


# -- person tracks -------------------------------------------------------------------------------------------


def test_two_people_crossing_at_two_fps_keep_their_own_tracks():
    by_time = {}
    for i in range(11):  # 5 s: A walks left to right, B right to left, same size; their boxes coincide at 2.5 s
        # listed left to right, as a detector might: list order says nothing about who is who
        by_time[at(i * 0.5)] = sorted([body(100 + 60 * i), body(700 - 60 * i)], key=lambda b: b.x1)
    tracks = build_person_tracks(by_time, camera="cam", id_prefix="d/cam/")
    assert [t.track_id for t in tracks] == ["d/cam/P0001", "d/cam/P0002"]
    for tr in tracks:
        xs = [b.centre[0] for b in tr.boxes]
        assert len(xs) == 11 and (np.all(np.diff(xs) > 0) or np.all(np.diff(xs) < 0))


def test_a_short_miss_and_sparse_samples_of_a_still_room_do_not_split_a_track():
    by_time = {at(0): [body(300)], at(0.5): [body(305)]}
    by_time |= {at(0.5 + k * 0.5): [] for k in range(1, 7)}  # 3 s without a box (turned, occluded)
    by_time |= {at(4.0): [body(320)], at(10.0): [body(322)], at(16.0): [body(318)]}  # sampler waits 6 s
    tracks = build_person_tracks(by_time)
    assert len(tracks) == 1 and len(tracks[0].boxes) == 5 and tracks[0].duration_s == 16.0


def test_a_long_absence_starts_a_new_track():
    rules = PersonRules()
    # looked at in between and not there: gone
    by_time = {at(0): [body(300)], at(3.0): [], at(rules.max_gap_s + 0.5): [body(300)]}
    assert len(build_person_tracks(by_time, rules)) == 2


def test_a_long_wait_between_looks_is_no_absence():
    # A long-GOP file (a keyframe every 8 s, the same people at both ends: nothing decoded between them): a
    # faceless customer at the counter is seen once a keyframe and is one track, not pieces of one box each.
    by_time = {at(8.0 * k): [body(300 + k)] for k in range(5)}
    tracks = build_person_tracks(by_time)
    assert len(tracks) == 1 and tracks[0].duration_s == 32.0
    # but a gap between two recordings is not a wait: nobody watched
    rules = PersonRules()
    by_time = {at(0): [body(300)], at(rules.max_unlooked_s + 1.0): [body(300)]}
    assert len(build_person_tracks(by_time, rules)) == 2


def test_someone_leaving_by_one_side_is_not_the_next_one_coming_in():
    # walks right out of the view; 4 s later a new customer comes in from the left, as on the intel clip
    by_time = {at(i * 0.5): [body(300 + 80 * i)] for i in range(5)}
    by_time |= {at(6.0): [body(420)], at(6.5): [body(460)]}
    tracks = build_person_tracks(by_time)
    assert [len(t.boxes) for t in tracks] == [5, 2]


def test_a_walker_who_stops_beside_someone_standing_keeps_his_box():
    # Seed 137, day 3, 08:11:54-59 (boxes and looks as stored): B walks up to the counter beside A, who stands
    # still, and stops. At the next look only B's box is found (A behind him). Where B's walk would have taken
    # him it overlaps little; where he stopped it overlaps his last box, so it continues B, not A.
    a_look, b_look = (88.0, 141.0, 118.0), (73.0, 147.0, 121.0)
    a = {54.0: (766, 217, 925, 673), 54.4: (765, 217, 923, 673), 54.8: (761, 214, 922, 671), 55.4: (758, 219, 917, 670)}
    a |= {55.8: (753, 220, 912, 672), 56.4: (754, 219, 911, 671), 56.8: (759, 215, 911, 667)}
    b = {54.8: (126, 227, 281, 600), 55.4: (286, 222, 426, 599), 55.8: (390, 221, 532, 625)}
    b |= {56.4: (552, 220, 685, 657), 56.8: (605, 210, 776, 671), 57.8: (762, 224, 956, 663)}
    by_time: dict[datetime, list[PersonBox]] = {}
    for boxes, look in ((a, a_look), (b, b_look)):
        for s, xy in boxes.items():
            by_time.setdefault(at(s), []).append(PersonBox(*xy, 0.9, look))
    by_time[at(59.8)] = [PersonBox(770, 224, 968, 643, 0.9, (72.0, 146.0, 121.0))]
    tracks = build_person_tracks(dict(sorted(by_time.items())))
    walker = next(t for t in tracks if t.first_time == at(54.8))
    assert walker.last_time == at(59.8)


def test_a_box_of_very_different_size_is_someone_else():
    tracks = build_person_tracks({at(0): [body(300, height=300)], at(0.5): [body(300, height=100)]})
    assert len(tracks) == 2


RED, BLUE = (60.0, 170.0, 160.0), (45.0, 150.0, 80.0)  # CIELAB (8-bit) of a red and a blue shirt


def dressed(box: PersonBox, look: tuple[float, float, float]) -> PersonBox:
    return replace(box, look=look)


def test_a_body_looks_like_its_shirt_and_a_neighbour_covering_part_of_it_does_not_change_that():
    frame = np.full((400, 400, 3), 200, np.uint8)
    box = PersonBox(100, 50, 200, 350)
    frame[120:230, 120:180] = (40, 40, 200)  # a red shirt (BGR) over the middle of the body
    alone = body_look(frame, box)
    frame[120:230, 160:180] = (200, 60, 40)  # a blue neighbour's arm over a third of the patch
    beside = body_look(frame, box)
    assert alone is not None and beside is not None
    red = cv2.cvtColor(np.uint8([[[40, 40, 200]]]), cv2.COLOR_BGR2LAB)[0, 0]
    assert look_distance(alone, tuple(float(v) for v in red)) < 1.0
    assert look_distance(alone, beside) < 1.0
    assert body_look(frame, PersonBox(10, 10, 14, 14)) is None  # too small to say
    frame[120:230, 120:180] = 8
    assert body_look(frame, box) is None  # too dark for a colour
    assert look_distance(RED, BLUE) > PersonRules().look_max
    assert look_distance(RED, (RED[0] + 80, *RED[1:])) == 0.0  # lighter (the door's daylight), the same shirt


def test_two_people_side_by_side_keep_their_shirts_where_their_boxes_would_swap():
    # From a busy evaluation day: at the counter, one customer steps right as the other steps left. By boxes
    # alone each box continues the other person's track (the nearer centre); their shirts say who is who.
    by_time = {
        at(0.0): [dressed(body(200), RED), dressed(body(300), BLUE)],
        at(0.5): [dressed(body(210), RED), dressed(body(290), BLUE)],
        at(2.5): [dressed(body(290), RED), dressed(body(215), BLUE)],
        at(3.0): [dressed(body(300), RED), dressed(body(205), BLUE)],
    }
    for tr in build_person_tracks(by_time):
        assert len(tr.boxes) == 4 and len({b.look for b in tr.boxes}) == 1
    blind = PersonRules(look_weight=0.0, look_max=1e9)  # the same boxes without looks: swapped
    assert any(len({b.look for b in tr.boxes}) == 2 for tr in build_person_tracks(by_time, blind))


def test_someone_else_in_the_same_spot_is_a_new_track_and_one_odd_look_is_not():
    leaving = {at(i * 0.5): [dressed(body(300), RED)] for i in range(4)}
    # 3 s later someone in a blue shirt stands where the red one stood
    tracks = build_person_tracks(leaving | {at(4.5): [dressed(body(305), BLUE)], at(5.0): [dressed(body(305), BLUE)]})
    assert [len(t.boxes) for t in tracks] == [4, 2]
    # one box seen partly hidden (its look a quarter of the way to blue) is still the red one, and the track's
    # look stays its recent median: the next red box follows at no cost
    partly = tuple(r + (b - r) / 4 for r, b in zip(RED, BLUE))
    steady = leaving | {at(2.0): [dressed(body(300), partly)], at(2.5): [dressed(body(300), RED)]}
    (track,) = build_person_tracks(steady)
    assert len(track.boxes) == 6 and track.look(PersonRules().look_samples) == RED


def test_a_walk_from_the_door_to_the_counter_between_keyframes_4_s_apart_is_one_person_in_the_same_clothes():
    # From a DVR evaluation day (H.264, a keyframe every 4 s): a faceless customer seen at the door, then 4 s
    # later at the counter 1.1 box heights away; the next customer comes in at the door 2 s after that. By
    # boxes alone (at most 1.0 heights however long the wait) the walker is two tracks and the next customer
    # continues the first one, so two visits swapped their entries.
    tan, green = (142.0, 88.0, 143.0), (107.0, 138.0, 124.0)
    by_time = {
        at(0.0): [dressed(body(140, height=360), tan)],
        at(4.0): [dressed(body(535, height=360), tan)],
        at(5.8): [dressed(body(535, height=360), tan), dressed(body(232, height=360), green)],
        at(6.3): [dressed(body(535, height=360), tan), dressed(body(320, height=360), green)],
    }
    tracks = build_person_tracks(by_time)
    assert sorted((len(t.boxes), t.boxes[0].look) for t in tracks) == [(2, green), (4, tan)]
    # in other clothes the long step is someone else, as before
    other = {
        t: [replace(b, look=green if b.centre[0] > 500 else b.look) for b in boxes] for t, boxes in by_time.items()
    }
    assert len(build_person_tracks({at(0.0): other[at(0.0)], at(4.0): other[at(4.0)]})) == 2
    # and without looks the limit is 1.0 heights
    blind = {t: [replace(b, look=None) for b in boxes] for t, boxes in by_time.items()}
    assert len(build_person_tracks({at(0.0): blind[at(0.0)], at(4.0): blind[at(4.0)]})) == 2


GREY_A, GREY_B = (140.0, 96.0, 127.0), (140.0, 104.0, 131.0)  # two grey-beige shirts 9 apart: the tracker
# cannot tell them apart in one wide box (look_max 30), but before and after it can


def side_by_side(widen: float) -> dict:
    """A stands at the counter; B walks up beside A and for 30 s the detector sees one box `widen` times A's
    width (sampled every 2 s, a long group of pictures); then A walks out to the left and B stays on. From a
    DVR evaluation day (keyframes every 10 s), where both were faceless customers."""
    frames: dict = {}
    for i in range(9):  # A walks in and stands at 830
        frames[at(i * 0.5)] = [dressed(body(min(200 + 80 * i, 830), height=400, width=150), GREY_A)]
    for i, x in enumerate((200, 330, 460, 580, 700)):  # B walks in, A stands
        frames[at(4.5 + i * 0.5)] = [dressed(body(830, height=400, width=150), GREY_A),
                                     dressed(body(x, height=400, width=150), GREY_B)]  # fmt: skip
    mixed = tuple((a + b) / 2 for a, b in zip(GREY_A, GREY_B))
    for t in range(9, 39, 2):  # one box for both
        frames[at(t)] = [dressed(body(846, height=400, width=150 * widen), mixed)]
    for i, x in enumerate((780, 660, 540, 420, 300)):  # they part: A walks out, B stays
        frames[at(39 + i * 0.5)] = [dressed(body(x, height=400, width=150), GREY_A),
                                    dressed(body(890, height=400, width=125), GREY_B)]  # fmt: skip
    for t in range(42, 60, 2):
        frames[at(t)] = [dressed(body(890, height=400, width=125), GREY_B)]
    return frames


def test_two_people_seen_as_one_box_are_told_apart_again_when_they_part():
    tracks = build_person_tracks(side_by_side(widen=1.3))
    spans = sorted((t.first_time, t.last_time, t.boxes[0].look, t.boxes[-1].look) for t in tracks)
    assert spans == [(at(0), at(41), GREY_A, GREY_A), (at(4.5), at(58), GREY_B, GREY_B)]
    # Without it (no look margin is enough) the tracker's own tracks stand: B kept on A's track, and A's way
    # out and B's way in pieces of 2 s, too short to be visits.
    unlinked = build_person_tracks(side_by_side(widen=1.3), replace(PersonRules(), merge_look_margin=1e9))
    assert sorted((t.first_time, t.last_time) for t in unlinked) == [
        (at(0), at(58)),
        (at(4.5), at(6.5)),
        (at(39), at(41)),
    ]


def test_a_box_that_never_widened_held_one_person_and_pieces_beside_it_stay_apart():
    assert len(build_person_tracks(side_by_side(widen=1.0))) == 3
    # the width is what tells: asking for none, the same boxes are relinked
    assert len(build_person_tracks(side_by_side(widen=1.0), replace(PersonRules(), merge_min_widen=1.0))) == 2


STAFF_GREEN, HAIR = (150.0, 128.0, 140.0), (75.0, 133.0, 140.0)


def test_a_clerks_upper_body_found_apart_is_not_someone_who_walked_into_the_clerks_box():
    """From the footage matrix's busy day (keyframes every 6 s): behind the counter the detector also finds the
    clerk's head and shoulders as a second box, half the clerk's height, for a few seconds now and then; the
    clerk's box widens between (reaching for a can). Relinked as a person who walked into the clerk's box and
    out again, the pieces became a 50-s track holding the clerk's own boxes: a faceless visit nobody made."""
    frames: dict = {}
    for t in range(0, 61):
        clerk = dressed(body(900, top=100, height=330, width=260 if 20 <= t < 44 else 200), STAFF_GREEN)
        upper = [dressed(body(895, top=100, height=165, width=160), HAIR)] if 14 <= t < 20 or 44 <= t < 48 else []
        frames[at(t)] = [clerk, *upper]
    spans = sorted((t.first_time, t.last_time) for t in build_person_tracks(frames))
    assert spans == [(at(0), at(60)), (at(14), at(19)), (at(44), at(47))]
    # counted as a second person (never "part" of the clerk), the pieces are joined through the clerk's boxes
    relinked = build_person_tracks(frames, replace(PersonRules(), part_containment=1.01))
    assert sorted((t.first_time, t.last_time) for t in relinked) == [(at(0), at(60)), (at(14), at(47))]


def test_two_people_who_parted_after_one_box_held_both_keep_their_own_tracks():
    """From a door camera (seed 257, day 1, 17:31:43-51, boxes and looks as stored): a customer stands at the
    counter while another, who stood beside her, walks out in front of her. For two samples the detector
    finds one box for both; the tracker gives it to the one standing (its place) and misses the walker. When
    they part, the standing one's track goes on with the walker and the walker's track with the one standing:
    their shirts, 4.5 apart in colour, say the tails are swapped."""
    stands, walks = (126.0, 122.0, 153.0), (116.0, 120.0, 157.0)
    by_time: dict[datetime, list[PersonBox]] = {}
    for s in (43.4, 43.8, 44.8, 45.4, 45.8, 46.4):
        by_time[at(s)] = [PersonBox(470, 220, 608, 621, 0.9, stands), PersonBox(603, 211, 751, 671, 0.9, walks)]
    by_time[at(47.0)] = [PersonBox(465, 212, 659, 684, 0.9, walks)]  # one box for both, the walker in front
    by_time[at(47.4)] = [PersonBox(402, 203, 606, 675, 0.9, walks)]
    for s, walker_x in ((47.8, 336), (48.8, 144), (49.4, 55)):
        by_time[at(s)] = [PersonBox(walker_x, 205, walker_x + 180, 680, 0.9, walks)]
        by_time[at(s)].append(PersonBox(470, 219, 603, 630, 0.9, stands))
    for s, stander_x in ((49.8, 376), (50.4, 296), (50.8, 239), (51.4, 171)):
        by_time[at(s)] = [PersonBox(stander_x, 220, stander_x + 150, 622, 0.9, stands)]

    def own_clothes(track: PersonTrack) -> bool:
        looks = {b.look for t, b in zip(track.times, track.boxes) if t not in (at(47.0), at(47.4))}
        return len(looks) == 1

    tracks = build_person_tracks(by_time)
    assert len(tracks) == 2 and all(own_clothes(tr) for tr in tracks)
    stander = next(tr for tr in tracks if tr.boxes[0].look == stands)
    assert stander.last_time == at(51.4)
    # the tracker's own tracks, before the clothes are asked: each goes on as the other person
    swapped = build_person_tracks(by_time, replace(PersonRules(), merge_look_margin=1e9))
    assert len(swapped) == 2 and not any(own_clothes(tr) for tr in swapped)


# -- joining faces to bodies ---------------------------------------------------------------------------------


def face_at(cx: float, cy: float, size: float = 40.0) -> np.ndarray:
    return np.array([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], np.float32)


def two_bodies():
    """A at x=200, B at x=500, both standing from t=0 to 10 s, sampled every second."""
    by_time = {at(s): [body(200), body(500)] for s in range(11)}
    return build_person_tracks(by_time, camera="cam", id_prefix="P/")


def test_the_next_one_through_the_door_in_other_clothes_is_not_the_walker_before_them():
    # From a door camera (seed 229, day 3, 19:08:49): a customer walks in leftwards and out of sight behind
    # the counter; 2 s later the next one comes in at the door, 0.55 box heights behind where the first was
    # heading, in clothes 25 apart in colour (under look_max). Neither the place nor the clothes say it is the
    # first one again; in the first one's clothes, the same box would be.
    first, second = (101.0, 100.0, 150.0), (152.0, 110.0, 173.0)
    walk = {
        at(s): [replace(body(cx, 221, 430, 150), look=first)]
        for s, cx in ((0, 1097), (0.5, 1027), (1.67, 875), (3.5, 748))
    }
    for clothes, expected in ((second, 2), (first, 1)):
        by_time = {**walk, at(5.5): [replace(body(1009, 215, 463, 200), look=clothes)]}
        assert len(build_person_tracks(by_time, camera="door")) == expected


def test_a_walker_passing_in_front_of_someone_standing_keeps_their_own_track():
    # From a busy evaluation day (720p, samples 0.5-0.7 s apart): a customer stands at the counter (a small
    # box, further back) while a second walks in close to the camera (a tall box) and passes in front of her,
    # hiding her for one sample. That sample's one box overlaps her last box more than the walker's last box;
    # it continues the walker, who was heading there.
    still = PersonBox(470, 226, 595, 582, 0.9)
    by_time = {
        at(0.0): [still, PersonBox(84, 205, 294, 718, 0.9)],
        at(0.83): [still, PersonBox(245, 202, 442, 720, 0.9)],
        at(1.33): [PersonBox(486, 225, 604, 590, 0.9), PersonBox(322, 214, 550, 714, 0.9)],
        at(2.0): [PersonBox(474, 205, 650, 720, 0.9)],  # the walker, in front of her
        at(2.33): [PersonBox(501, 214, 735, 720, 0.9), PersonBox(480, 221, 583, 590, 0.9)],
        at(2.83): [PersonBox(614, 210, 795, 709, 0.9), PersonBox(479, 227, 604, 578, 0.9)],
    }
    tracks = build_person_tracks(by_time, camera="cam")
    assert len(tracks) == 2
    for track in tracks:
        heights = [b.height for b in track.boxes]
        assert max(heights) / min(heights) < 1.2, heights  # each track keeps one person's size


def test_each_face_joins_the_body_whose_head_it_is():
    persons = two_bodies()
    a_id, b_id = (p.track_id for p in sorted(persons, key=lambda p: p.boxes[0].x1))
    faces = {
        "fa": Track("cam", times=[at(2), at(3)], boxes=[face_at(205, 140), face_at(198, 142)]),
        "fb": Track("cam", times=[at(5.2)], boxes=[face_at(495, 135)]),
        "nobody": Track("cam", times=[at(4)], boxes=[face_at(350, 140)]),  # between the two bodies
        "low": Track("cam", times=[at(4)], boxes=[face_at(200, 330)]),  # at the belt: not a head
        "late": Track("cam", times=[at(30)], boxes=[face_at(200, 140)]),  # bodies gone by then
    }
    assert join_faces_to_persons(persons, faces) == {"fa": a_id, "fb": b_id}


def test_the_majority_of_shared_frames_decides_and_cameras_must_agree():
    persons = two_bodies()
    a_id = min(persons, key=lambda p: p.boxes[0].x1).track_id
    times = [at(s) for s in (1, 2, 3, 4)]
    mostly_a = Track("cam", times=times, boxes=[face_at(200, 140)] * 3 + [face_at(500, 140)])
    elsewhere = Track("door", times=times, boxes=[face_at(200, 140)] * 4)
    assert join_faces_to_persons(persons, {"m": mostly_a, "other camera": elsewhere}) == {"m": a_id}


def test_a_face_seen_once_in_each_of_two_bodies_joins_the_one_whose_head_it_sat_at():
    # From a door camera (seed 239, day 2): two people walk out one behind the other, the one in front with
    # her back to the camera. His face is seen twice: once at the edge of her box while his own body is hidden
    # behind her, once at the head of his own box after she has gone. One vote each; his head, not her side.
    hers = PersonTrack("door", "HER", times=[at(s) for s in range(9)], boxes=[body(300)] * 9)
    his = PersonTrack("door", "HIS", times=[*(at(s) for s in range(8)), at(9)], boxes=[body(200)] * 8 + [body(340)])
    face = Track("door", times=[at(8), at(9)], boxes=[face_at(340, 136), face_at(340, 136)])
    assert join_faces_to_persons([hers, his], {"f": face}) == {"f": "HIS"}


def test_two_faces_seen_together_on_one_body_do_not_both_join_it_but_faces_one_after_another_do():
    persons = two_bodies()
    a_id = min(persons, key=lambda p: p.boxes[0].x1).track_id
    faces = {
        "front": Track("cam", times=[at(1), at(2), at(3)], boxes=[face_at(200, 140)] * 3),
        "behind": Track("cam", times=[at(3), at(4)], boxes=[face_at(215, 180, 30)] * 2),  # a smaller face below it
        "again": Track("cam", times=[at(8), at(9)], boxes=[face_at(202, 141)] * 2),  # the first face, found again
    }
    assert join_faces_to_persons(persons, faces) == {"front": a_id, "again": a_id}


def test_two_customers_side_by_side_each_join_their_own_body_though_one_head_is_nearest_to_both():
    # A at x=200 and B at x=270 overlap; the right-hand face is 32 px from A's head and 38 px from B's, so
    # face by face both would choose A. In each frame the faces take distinct bodies.
    by_time = {at(s): [body(200), body(270)] for s in range(11)}
    persons = build_person_tracks(by_time, camera="cam", id_prefix="P/")
    a_id, b_id = (p.track_id for p in sorted(persons, key=lambda p: p.boxes[0].x1))
    times = [at(s) for s in range(2, 8)]
    faces = {
        "left": Track("cam", times=times, boxes=[face_at(205, 140)] * len(times)),
        "right": Track("cam", times=times, boxes=[face_at(232, 140)] * len(times)),
    }
    assert join_faces_to_persons(persons, faces) == {"left": a_id, "right": b_id}
    # alone in the frame, the right-hand face still goes to the nearest head
    assert join_faces_to_persons(persons, {"right": faces["right"]}) == {"right": a_id}


def test_a_body_that_followed_someone_else_first_gives_its_face_only_the_part_after():
    # The tracker followed X (face seen at x=200 until t=4) and went on with Y (face at x=500 from t=6): the
    # body's first seconds are X's, so Y's span starts after the longest break between X's last face and Y's
    # first (here every break is a second: the first sample after X's face).
    by_time = {at(s): [body(200 if s <= 4 else 500)] for s in range(11)}
    persons = build_person_tracks(by_time, camera="cam", id_prefix="P/")
    (swapped,) = persons
    x = Track("cam", times=[at(s) for s in range(5)], boxes=[face_at(200, 140)] * 5)
    y = Track("cam", times=[at(s) for s in range(6, 11)], boxes=[face_at(500, 140)] * 5)
    assert join_faces_to_persons(persons, {"y": y}) == {"y": swapped.track_id}
    assert own_spans(persons, {"y": swapped.track_id}, {"x": x, "y": y}) == {"y": (at(5), at(10))}
    # with no other face in it, the body's whole span is its person's (they came in with their back to us)
    assert own_spans(persons, {"y": swapped.track_id}, {"y": y}) == {"y": (at(0), at(10))}


def test_a_face_in_a_box_two_tracks_share_was_someone_else_for_both_of_them():
    # relink_merged gives both people of a merged box its samples: tracks M and N hold the same boxes 0-10 s,
    # where X's face is seen (the frame's assignment places it in one of them, M). N goes on alone and Y's
    # face shows in it from 16 s: N's first ten seconds were X's for N too, so Y's span starts after the
    # longest break in N between X's last face and Y's first (12 -> 15 s), not at N's first sample.
    shared = [body(300)] * 11
    times = [at(s) for s in range(11)]
    m = PersonTrack("cam", "M", times=[*times, at(11)], boxes=[*shared, body(300)])
    n = PersonTrack(
        "cam", "N", times=[*times, at(12), *(at(s) for s in range(15, 25))], boxes=[*shared] + [body(520)] * 11
    )
    x = Track("cam", times=[at(s) for s in range(2, 9)], boxes=[face_at(300, 140)] * 7)
    y = Track("cam", times=[at(s) for s in range(16, 24)], boxes=[face_at(520, 140)] * 8)
    held = frame_assignments([m, n], {"x": x, "y": y}, PersonRules())
    assert {body_id for _, face, body_id in held if face == "x"} == {"M"}  # placed in one of the two
    assert own_spans([m, n], {"x": "M", "y": "N"}, {"x": x, "y": y}, assignments=held) == {
        "x": (at(0), at(11)),
        "y": (at(15), at(24)),
    }


def test_a_track_holding_only_boxes_it_shares_with_a_named_body_is_not_a_visit_of_its_own():
    # N is made of the merged boxes it shares with M (relink_merged), where X's face is seen; the frame's
    # assignment places the face in M. The face is in N's boxes as much: N is no faceless customer.
    times = [at(s) for s in range(11)]
    m = PersonTrack("cam", "M", times=[*times, *(at(s) for s in range(11, 30))], boxes=[body(300)] * 30)
    n = PersonTrack("cam", "N", times=times, boxes=[body(300)] * 11)
    x = Track("cam", times=[at(s) for s in range(30)], boxes=[face_at(300, 140)] * 30)
    assert join_faces_to_persons([m, n], {"x": x}) == {"x": "M"}
    assert person_only_presences([m, n], {"x": "M"}, face_tracks={"x": x}) == []


def test_a_face_first_seen_in_another_body_does_not_take_the_earlier_part_of_its_own():
    # A faceless customer stands at x=800 from 0 s (body B). F walks in as body W, his face in it 3-6 s while
    # B stands apart; from 7 s the tracker goes on with F in B (the faceless one hidden behind him) and his
    # face joins B. B's first seven seconds were the faceless customer's: F's span starts at his first face.
    b = PersonTrack("cam", "B", times=[at(s) for s in range(21)], boxes=[body(800)] * 21)
    w = PersonTrack("cam", "W", times=[at(s) for s in range(3, 7)], boxes=[body(x) for x in (300, 450, 600, 700)])
    f = Track(
        "cam",
        times=[at(s) for s in range(3, 21)],
        boxes=[face_at(x, 140) for x in (300, 450, 600, 700)] + [face_at(800, 140)] * 14,
    )
    assert join_faces_to_persons([b, w], {"f": f}) == {"f": "B"}
    assert own_spans([b, w], {"f": "B"}, {"f": f}) == {"f": (at(3), at(20))}


def test_the_next_customer_in_the_same_spot_does_not_share_the_last_ones_span():
    # A stands at the counter 0-20 s (face until 19 s) and leaves; B steps into the same spot 4 s later
    # (22-40 s, face from 26 s). The tracker bridges the 4-s gap (one body 0-40 s) and both faces join it,
    # one after the other; each face keeps its side of the gap.
    by_time = {at(s): [body(300)] for s in [*range(0, 21), *range(24, 41)]}
    by_time.update({at(s): [] for s in range(21, 24)})
    (spot,) = build_person_tracks(by_time, camera="cam", id_prefix="P/")
    a = Track("cam", times=[at(s) for s in range(2, 20)], boxes=[face_at(300, 140)] * 18)
    b = Track("cam", times=[at(s) for s in range(26, 40)], boxes=[face_at(302, 141)] * 14)
    joined = join_faces_to_persons([spot], {"a": a, "b": b})
    assert joined == {"a": spot.track_id, "b": spot.track_id}
    assert own_spans([spot], joined, {"a": a, "b": b}) == {"a": (at(0), at(20)), "b": (at(24), at(40))}


def test_face_tracks_rebuilt_from_the_tables_join_like_the_live_ones():
    persons = two_bodies()
    b_id = max(persons, key=lambda p: p.boxes[0].x1).track_id
    detections = pd.DataFrame(
        [
            {"detection_id": "d2", "time": pd.Timestamp(at(3)), "x1": 480, "y1": 120, "x2": 520, "y2": 160},
            {"detection_id": "d1", "time": pd.Timestamp(at(2)), "x1": 482, "y1": 118, "x2": 522, "y2": 158},
            {"detection_id": "dx", "time": pd.Timestamp(at(2)), "x1": 0, "y1": 0, "x2": 10, "y2": 10},
        ]
    )
    tracks = pd.DataFrame([{"track_id": "T1", "camera": "cam", "detection_ids": ["d1", "d2"]}])
    faces = face_tracks_from_tables(tracks, detections)
    assert faces["T1"].times == [at(2), at(3)]
    assert join_faces_to_persons(persons, faces) == {"T1": b_id}


# -- person-only presences and the tables --------------------------------------------------------------------


def test_faceless_people_who_stay_are_presences_passers_by_and_far_people_are_not():
    by_time = {at(s): [body(200), body(500)] for s in range(11)}  # two stay 10 s
    by_time[at(20)] = [body(900, height=120)]  # a passer-by, seen 3 s
    by_time[at(23)] = [body(950, height=120)]
    tracks = build_person_tracks(by_time)
    a, b, passer = sorted(tracks, key=lambda t: (t.first_time, t.boxes[0].x1))
    presences = person_only_presences(tracks, {"face track of A": a.track_id})
    assert presences == [(at(0), at(10), b)]
    assert person_only_presences(tracks, {}, PersonRules(min_presence_s=2.0)) == [
        (at(0), at(10), a),
        (at(0), at(10), b),
        (at(20), at(23), passer),
    ]
    assert len(person_only_presences(tracks, {}, PersonRules(min_presence_s=2.0, min_box_height_px=200))) == 2


def test_track_rows_fit_their_schemas_and_the_warehouse(warehouse):
    persons = two_bodies()
    joined = {"f2": persons[0].track_id, "f1": persons[0].track_id}
    tracks = person_tracks_frame(date(2024, 3, 4), persons, joined)
    boxes = person_detections_frame(persons)
    assert list(tracks.columns) == PERSON_TRACKS.column_names[1:]
    assert list(boxes.columns) == PERSON_DETECTIONS.column_names[1:]
    assert len(boxes) == 22
    warehouse.replace_partition("person_tracks", date(2024, 3, 4), tracks, PERSON_TRACKS)
    stored = warehouse.read_partition("person_tracks", date(2024, 3, 4)).sort_values("track_id")
    assert [list(v) for v in stored["face_track_ids"]] == [["f1", "f2"], []]
    assert stored["duration_seconds"].tolist() == [10.0, 10.0]


# -- a real clip ---------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_people_walking_in_one_by_one_become_one_track_each(shared_data, detector):
    """intel_one_by_one_person_detection.mp4, first 50 s at 2 fps: a woman stands at the table (6.5-19 s),
    walks out to the right, and a man walks in from the bottom left (23-44.5 s); both have their backs to
    the camera, so no face track would ever see them."""
    cap = cv2.VideoCapture(str(shared_data / "videos" / "intel_one_by_one_person_detection.mp4"))
    by_time = {}
    for index in range(0, 500, 5):  # the clip runs at 10 fps
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        assert ok
        by_time[index / 10.0] = detector.detect(frame)
    presences = person_only_presences(build_person_tracks(by_time), {})
    assert [(round(entry), round(exit_)) for entry, exit_, _ in presences] == [(6, 19), (23, 44)]


def test_a_faceless_box_inside_a_seen_persons_body_is_not_another_visit():
    body = [PersonBox(100, 50, 200, 350, 0.9)] * 12
    upper_body = [PersonBox(110, 55, 190, 180, 0.6)] * 12  # wholly inside the body box, all the time
    stranger = [PersonBox(400, 60, 500, 360, 0.8)] * 12  # someone else, no face seen
    times = [i * 0.5 for i in range(12)]
    seen = PersonTrack("cam1", "P1", list(times), body)
    part = PersonTrack("cam1", "P2", list(times), upper_body)
    other = PersonTrack("cam1", "P3", list(times), stranger)
    presences = person_only_presences([seen, part, other], {"T1": "P1"}, PersonRules(min_presence_s=5.0))
    assert [tr.track_id for _, _, tr in presences] == ["P3"]


def test_a_shorter_box_inside_a_seen_persons_body_in_other_clothes_is_somebody_behind_him():
    # Seed 167, day 2, 18:14: a faceless customer stood just behind a named one at the counter, her legs hidden
    # by him: a shorter box inside his, in a shirt 54 apart in colour. His upper body would wear his shirt.
    his, hers, his_shirt = (114.0, 128.0, 111.0), (85.0, 174.0, 120.0), (112.0, 126.0, 113.0)
    times = [i * 0.5 for i in range(12)]
    seen = PersonTrack("cam1", "P1", list(times), [PersonBox(611, 205, 805, 670, 0.9, his)] * 12)
    behind = PersonTrack("cam1", "P2", list(times), [PersonBox(695, 223, 812, 580, 0.8, hers)] * 12)
    upper = PersonTrack("cam1", "P3", list(times), [PersonBox(640, 210, 790, 480, 0.6, his_shirt)] * 12)
    presences = person_only_presences([seen, behind, upper], {"T1": "P1"}, PersonRules(min_presence_s=5.0))
    assert [tr.track_id for _, _, tr in presences] == ["P2"]


def still_face(times: list[float]) -> Track:
    """A face standing still at the counter on cam1, seen at every one of `times`."""
    return Track("cam1", times=list(times), boxes=[np.array([535, 60, 565, 100], np.float32)] * len(times))


def test_a_body_found_again_under_a_face_that_went_on_is_not_another_visit():
    """The person tracker loses someone standing still between sparse samples and starts a new body track;
    their face track went on and joined the first body. The second body holds that face: not a new visit."""
    times = [i * 0.5 for i in range(40)]
    face = still_face(times)
    first = PersonTrack("cam1", "P1", times[:26], [PersonBox(500, 50, 600, 400, 0.9)] * 26)
    again = PersonTrack("cam1", "P2", times[28:], [PersonBox(502, 52, 602, 402, 0.8)] * 12)
    stranger = PersonTrack("cam1", "P3", times[28:], [PersonBox(800, 52, 900, 402, 0.8)] * 12)
    joined = join_faces_to_persons([first, again, stranger], {"F1": face})
    assert joined == {"F1": "P1"}
    rules = PersonRules(min_presence_s=5.0)
    presences = person_only_presences([first, again, stranger], joined, rules, {"F1": face})
    assert [tr.track_id for _, _, tr in presences] == ["P3"]
    # without the face tracks (as stored before), the second body is a presence of its own
    assert [tr.track_id for _, _, tr in person_only_presences([first, again, stranger], joined, rules)] == ["P2", "P3"]


def test_a_customer_standing_in_front_of_the_clerk_is_not_the_clerk_found_again():
    """Seed 397, day 1: the clerk behind the counter is boxed as an upper body (the face 0.16 of its height).
    A faceless customer stands in front of him, the detector loses the clerk's body, and his face shows over
    the customer's shoulder, in the upper part of the customer's box. On the customer's taller box the face is
    0.09 of the height, half its share on the clerk's own, and a fifth of the width in from its side (0.28 off
    the centre line): somebody nearer the camera, a visit of their own. A box of the clerk's own size holding
    the face is the clerk found again."""
    times = [i * 0.5 for i in range(40)]
    face = still_face(times)  # 40 px tall, centred at x 550
    clerk = PersonTrack("cam1", "P1", times[:26], [PersonBox(500, 50, 600, 300, 0.9)] * 26)
    customer = PersonTrack("cam1", "P2", times[26:], [PersonBox(513, 40, 683, 500, 0.6)] * 14)
    joined = join_faces_to_persons([clerk, customer], {"F1": face})
    assert joined == {"F1": "P1"}
    rules = PersonRules(min_presence_s=5.0)
    presences = person_only_presences([clerk, customer], joined, rules, {"F1": face})
    assert [tr.track_id for _, _, tr in presences] == ["P2"]
    assert face_share(face, clerk, rules) == pytest.approx(0.16)
    assert (
        person_only_presences([clerk, customer], joined, replace(rules, found_again_face_share=0.0), {"F1": face}) == []
    )
    clerk_again = PersonTrack("cam1", "P2", times[26:], [PersonBox(502, 48, 602, 302, 0.8)] * 14)
    assert person_only_presences([clerk, clerk_again], joined, rules, {"F1": face}) == []


def test_the_clerk_walking_out_from_behind_the_counter_is_the_clerk_found_again():
    """The clerk, boxed as an upper body behind the counter (the face 0.16 of its height), walks out to carry a
    customer's cans; the detector loses the post's box and finds the whole body, the face on its centre line
    at 0.09 of the height. A face that small on a box is one over somebody's shoulder only off the centre
    line: this is the clerk found again, not a faceless customer's visit."""
    times = [i * 0.5 for i in range(40)]
    face = still_face(times)  # centred at x 550
    clerk = PersonTrack("cam1", "P1", times[:26], [PersonBox(500, 50, 600, 300, 0.9)] * 26)
    walking_out = PersonTrack("cam1", "P2", times[26:], [PersonBox(460, 40, 630, 500, 0.8)] * 14)
    joined = join_faces_to_persons([clerk, walking_out], {"F1": face})
    assert joined == {"F1": "P1"}
    rules = PersonRules(min_presence_s=5.0)
    assert person_only_presences([clerk, walking_out], joined, rules, {"F1": face}) == []
    off_centre = replace(rules, over_shoulder_offset=0.0)  # a face this small anywhere: somebody in front
    assert [
        tr.track_id for _, _, tr in person_only_presences([clerk, walking_out], joined, off_centre, {"F1": face})
    ] == ["P2"]


def test_a_body_beside_the_face_s_own_body_is_somebody_else_however_well_the_face_sits_on_it():
    """A group at the counter (a fresh shopcam_all day): a faceless customer walks in and stands at the shoulder
    of a named one, their boxes overlapping, and the named customer's face sits on the newcomer's head region
    as well as on its own body's. While the face's own body is in view the newcomer is somebody else: a visit
    of their own. Where the own body is gone (the tracker lost it), the same body is that person found again."""
    times = [i * 0.5 for i in range(40)]
    face = still_face(times)
    named = PersonTrack("cam1", "P1", times, [PersonBox(500, 50, 600, 400, 0.9)] * 40)
    beside = PersonTrack("cam1", "P2", times[10:], [PersonBox(470, 48, 590, 402, 0.8)] * 30)
    joined = join_faces_to_persons([named, beside], {"F1": face})
    assert joined == {"F1": "P1"}
    rules = PersonRules(min_presence_s=5.0)
    presences = person_only_presences([named, beside], joined, rules, {"F1": face})
    assert [tr.track_id for _, _, tr in presences] == ["P2"]
    lost = PersonTrack("cam1", "P1", times[:10], [PersonBox(500, 50, 600, 400, 0.9)] * 10)
    assert person_only_presences([lost, beside], {"F1": "P1"}, rules, {"F1": face}) == []


def test_a_body_holding_an_identified_face_that_joined_no_body_is_that_person():
    """A clerk behind the counter: their face track runs all along, but the detector finds their body only in
    short pieces, none long enough for the face to join. A piece that holds the face is the clerk (whose face
    makes their visit), not an unidentified visit; a face too weak to identify leaves the body a visit."""
    times = [i * 0.5 for i in range(40)]
    face = still_face(times)
    piece = PersonTrack("cam1", "P1", times[10:30], [PersonBox(500, 50, 600, 250, 0.8)] * 20)
    stranger = PersonTrack("cam1", "P2", times[10:30], [PersonBox(800, 52, 900, 402, 0.8)] * 20)
    rules = PersonRules(min_presence_s=5.0, min_join_share=1.1)  # no face can join: the pieces case
    assert join_faces_to_persons([piece, stranger], {"F1": face}, rules) == {}
    presences = person_only_presences([piece, stranger], {}, rules, {"F1": face}, identifiable={"F1"})
    assert [tr.track_id for _, _, tr in presences] == ["P2"]
    weak = person_only_presences([piece, stranger], {}, rules, {"F1": face}, identifiable=set())
    assert [tr.track_id for _, _, tr in weak] == ["P1", "P2"]


def test_a_faceless_body_that_walked_in_and_stood_in_front_of_a_named_face_is_somebody_else():
    """From a busy evaluation day: a named customer waits at the counter (her face track all along, her body
    found only in pieces), and a customer with his back to the camera walks in from the door and stands in
    front of her, their two bodies one box with her face at its top. The body was seen at the door while her
    face was at the counter: it is not hers, and his visit stays."""
    times = [i * 0.5 for i in range(40)]
    face = still_face(times)  # at x 550, the counter
    walking_in = [PersonBox(100 + 80 * k, 60, 200 + 80 * k, 400, 0.8) for k in range(5)]
    in_front = [PersonBox(500, 60, 600, 400, 0.8)] * 25
    him = PersonTrack("cam1", "P1", times[10:40], walking_in + in_front)
    rules = PersonRules(min_presence_s=5.0, min_join_share=1.1)
    presences = person_only_presences([him], {}, rules, {"F1": face}, identifiable={"F1"})
    assert [tr.track_id for _, _, tr in presences] == ["P1"]
    # seen away from her face only twice (under apart_samples): taken for her body found again, as before
    brief = PersonTrack("cam1", "P1", times[13:40], walking_in[3:] + in_front)
    assert person_only_presences([brief], {}, rules, {"F1": face}, identifiable={"F1"}) == []


def test_a_box_the_tracker_passed_between_two_named_people_is_not_a_third_visit():
    """From the footage matrix's busy day: four customers at the counter, two of them one wide box or only a
    head box now and then. One body track went from one's head to the other's (away from each in turn, so
    neither face counts it as theirs), each face making its own visit; the box was nobody else's."""
    times = [i * 0.5 for i in range(40)]
    left = Track("cam1", times=times, boxes=[np.array([335, 60, 365, 100], np.float32)] * 40)
    right = Track("cam1", times=times, boxes=[np.array([535, 60, 565, 100], np.float32)] * 40)
    heads = [PersonBox(300, 50, 400, 220, 0.6)] * 20 + [PersonBox(500, 50, 600, 220, 0.6)] * 20
    box = PersonTrack("cam1", "P1", times, heads)
    # as on that day, where each face's frames were split among several boxes, neither face joins a body
    rules = PersonRules(min_presence_s=5.0, min_join_share=1.1)
    faces = {"F1": left, "F2": right}
    assert join_faces_to_persons([box], faces, rules) == {}
    assert person_only_presences([box], {}, rules, faces, identifiable={"F1", "F2"}) == []
    # given one person's face only, it may be somebody in front of them: still a visit
    one = PersonTrack("cam1", "P1", times, heads[:20] + [PersonBox(800, 50, 900, 220, 0.6)] * 20)
    assert len(person_only_presences([one], {}, rules, faces, identifiable={"F1", "F2"})) == 1


def test_a_body_found_again_under_a_face_whose_own_body_went_on_with_someone_else_is_not_another_visit():
    """From a busy day rendered for the footage matrix (seed 7): a named customer stands at the counter, her
    body track goes on with somebody else a few steps away, and the detector's next box on her starts a new
    track. Her face went on, joined to the first body, which is still in view: the new box holds her face in
    every sample, so it is her found again, not a faceless visit of 14 s."""
    times = list(range(30))
    face = Track("cam1", times=times, boxes=[np.array([535, 60, 565, 100], np.float32)] * 30)
    first = PersonTrack(
        "cam1", "P1", times, [PersonBox(500, 50, 600, 400, 0.9)] * 16 + [PersonBox(800, 50, 900, 400, 0.9)] * 14
    )
    again = PersonTrack("cam1", "P2", times[16:], [PersonBox(500, 50, 600, 400, 0.9)] * 14)
    rules = PersonRules(min_presence_s=5.0)
    joined = join_faces_to_persons([first, again], {"F1": face}, rules)
    assert joined == {"F1": "P1"}
    assert person_only_presences([first, again], joined, rules, {"F1": face}) == []


def test_the_upper_body_of_a_faceless_person_is_not_another_visit():
    """Someone with their back to the camera: the detector now and then also boxes their upper body alone, at
    times between the samples of the whole body. That part is inside a longer faceless track: one visit."""
    whole = PersonTrack("cam1", "P1", [i * 0.5 for i in range(0, 40, 2)], [PersonBox(460, 218, 615, 660, 0.9)] * 20)
    part = PersonTrack("cam1", "P2", [1.5, 6.5], [PersonBox(462, 216, 603, 356, 0.8)] * 2)
    beside = PersonTrack("cam1", "P3", [1.5, 6.5], [PersonBox(700, 216, 840, 356, 0.8)] * 2)
    presences = person_only_presences([whole, part, beside], {}, PersonRules(min_presence_s=5.0))
    assert [tr.track_id for _, _, tr in presences] == ["P1", "P3"]
    # Seed 353: the upper body tracked longer than the whole (a sample before and after it) is still its part;
    # a shorter body of its own (0.75 of the height) outlasting it is not.
    upper = PersonTrack("cam1", "P4", [-1.0, 1.5, 6.5, 12.0, 20.0], [PersonBox(462, 216, 603, 356, 0.8)] * 5)
    shorter = PersonTrack("cam1", "P5", [-1.0, 1.5, 6.5, 12.0, 20.0], [PersonBox(470, 330, 600, 660, 0.8)] * 5)
    presences = person_only_presences([whole, upper, shorter], {}, PersonRules(min_presence_s=5.0))
    assert [tr.track_id for _, _, tr in presences] == ["P5", "P1"]


def test_a_face_followed_across_a_split_body_joins_it_and_leaves_no_faceless_visit():
    """The person tracker split one walk-in into three bodies one after another; the face track went on
    through all three. No body holds half of its faces, but none of them competes with another: the face
    joins the body with most votes, and the other two, holding that face, are not faceless visits."""
    times = [i * 0.5 for i in range(44)]
    face = Track(camera="cam1")
    for t in times:
        face.times.append(t)
        face.boxes.append(np.array([535, 60, 565, 100], np.float32))
    box = PersonBox(500, 50, 600, 400, 0.9)
    first = PersonTrack("cam1", "P1", times[:16], [box] * 16)
    second = PersonTrack("cam1", "P2", times[18:30], [box] * 12)
    third = PersonTrack("cam1", "P3", times[32:], [box] * 12)
    bodies = [first, second, third]
    joined = join_faces_to_persons(bodies, {"F1": face})
    assert joined == {"F1": "P1"}
    assert person_only_presences(bodies, joined, PersonRules(min_presence_s=5.0), {"F1": face}) == []


def test_a_face_is_placed_in_its_body_across_a_clock_change_of_the_machine_s_zone():
    """Shop times are naive: the machine's own zone (here London, whose clocks go from 01:00 to 02:00 on 31
    March 2024, so that 01:59:59.9 read as local time lies an hour after 02:00:00.2) says nothing of how far
    apart two of them are."""
    with machine_zone("Europe/London"):
        before = datetime(2024, 3, 31, 1, 59, 59, 900000)
        whole = PersonTrack("cam", "P", times=[before], boxes=[body(300)])
        face = Track("cam", times=[before + timedelta(seconds=0.3)], boxes=[face_at(300, 140)])
        assert [(f, b) for _, f, b in frame_assignments([whole], {"x": face}, PersonRules())] == [("x", "P")]


def test_a_person_track_without_samples_is_no_body_at_any_moment():
    whole = PersonTrack("cam", "P", times=[at(0)], boxes=[body(300)])
    face = Track("cam", times=[at(0.2)], boxes=[face_at(300, 140)])
    empty = PersonTrack("cam", "E")
    assert [(f, b) for _, f, b in frame_assignments([empty, whole], {"x": face}, PersonRules())] == [("x", "P")]
