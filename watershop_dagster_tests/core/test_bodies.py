"""Visits from people, identities from faces: face tracks take their body's span, faceless bodies are
unidentified visits. Exact fixtures, no models."""

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.body_tracks import (
    PersonRules,
    PersonTrack,
    build_person_tracks,
    person_detections_frame,
    person_tracks_from_rows,
)
from watershop_dagster.core.footage.faces_on_bodies import person_only_presences
from watershop_dagster.core.footage.persons import PersonBox
from watershop_dagster.core.identities.bodies import (
    chain_fragments,
    continues,
    dressed_alike,
    duplicate_bodies,
    extend_by_bodies,
    faceless_visits,
    unidentified_visits,
    with_faceless_visits,
    with_looks,
)
from watershop_dagster.core.identities.matching import Assignment
from watershop_dagster.core.identities.visits import build_visits

DAY = date(2024, 6, 1)
T0 = datetime(2024, 6, 1, 9, 0)


def at(s):
    return pd.Timestamp(T0 + timedelta(seconds=s))


def person_tracks(rows):
    """rows: (track_id, first s, last s, face track ids)."""
    return pd.DataFrame(
        [
            {
                "track_id": t,
                "camera": "cam1",
                "first_time": at(a),
                "last_time": at(b),
                "duration_seconds": float(b - a),
                "detections": 10,
                "max_box_height": 300.0,
                "mean_score": 0.8,
                "face_track_ids": faces,
            }
            for t, a, b, faces in rows
        ]
    )


def face_tracks(rows):
    return pd.DataFrame(
        [
            {
                "track_id": t,
                "first_time": at(a),
                "last_time": at(b),
                "faces": 5,
                "mean_quality": 0.7,
                "best_crop_path": None,
            }
            for t, a, b in rows
        ]
    )


def test_a_face_visit_takes_the_entry_and_exit_of_its_body():
    faces = face_tracks([("F1", 20, 40), ("F2", 100, 110)])
    bodies = person_tracks([("P1", 5, 70, ["F1"]), ("P2", 95, 108, ["F2"])])
    out = extend_by_bodies(faces, bodies)
    assert out["first_time"].tolist() == [at(5), at(95)]
    assert out["last_time"].tolist() == [at(70), at(110)]  # the face outlasted its body on F2: kept
    assert faces["first_time"].tolist() == [at(20), at(100)]  # input untouched


def test_only_the_part_of_a_body_that_is_the_faces_person_widens_the_face_track():
    faces = face_tracks([("F1", 20, 40)])
    faces["body_first_time"], faces["body_last_time"] = [at(12)], [at(70)]  # the body's 5-12 s: someone else
    bodies = person_tracks([("P1", 5, 70, ["F1"])])
    out = extend_by_bodies(faces, bodies)
    assert (out["first_time"].iloc[0], out["last_time"].iloc[0]) == (at(12), at(70))


def test_a_body_without_a_face_is_an_unidentified_visit_counted_with_the_others():
    faces = face_tracks([("F1", 20, 40)])
    bodies = person_tracks([("P1", 5, 70, ["F1"]), ("P2", 30, 90, []), ("P3", 200, 202, [])])
    visits = build_visits(DAY, extend_by_bodies(faces, bodies), {"F1": Assignment("CUST_0001", None, False)})
    faceless = faceless_visits(bodies)
    assert len(faceless) == 1  # P3 (2 s) is a passer-by
    out = with_faceless_visits(DAY, visits, faceless)
    assert out["visit_id"].tolist() == [f"{DAY}/V0001", f"{DAY}/V0002"]
    assert out["customer_id"].tolist() == ["CUST_0001", None]
    assert out["identified"].tolist() == [True, False]
    assert out["is_staff"].tolist() == [False, False]
    assert out["entry_time"].tolist() == [at(5), at(30)] and out["duration_seconds"].tolist() == [65.0, 60.0]
    assert out["person_track_id"].tolist()[1] == "P2"
    # customers are counted by id (NULL is nobody), visits by row
    assert out["customer_id"].nunique() == 1 and len(out) == 2


def test_person_tracks_round_trip_through_their_rows():
    # Clothes measured on most boxes; one box without (a patch too dark to tell) stays without.
    look = (120.0, 150.5, 110.25)
    boxes = {
        T0 + timedelta(seconds=s): [PersonBox(100 + 10 * s, 50, 200 + 10 * s, 350, 0.9, None if s == 2 else look)]
        if s < 6
        else []
        for s in range(10)
    }
    tracks = build_person_tracks(boxes, camera="cam1", id_prefix=f"{DAY}/cam1/")
    assert len(tracks) == 1
    back = person_tracks_from_rows(person_detections_frame(tracks))
    assert [t.track_id for t in back] == [tracks[0].track_id]
    assert back[0].times == tracks[0].times
    assert np.allclose([b.as_array() for b in back[0].boxes], [b.as_array() for b in tracks[0].boxes])
    assert [b.look for b in back[0].boxes] == [look, look, None, look, look, look]
    assert person_tracks_from_rows(pd.DataFrame()) == []


def test_a_body_whose_faces_said_nobody_is_still_an_unidentified_visit():
    """Small faces in a dim shop: the body was joined to face tracks, but none of them was identified. Someone
    was there: an unidentified visit, as long as the body was seen long enough and unless a face got an ID."""
    bodies = person_tracks([("P1", 5, 30, ["F1", "F2"]), ("P2", 40, 43, ["F3"]), ("P3", 50, 80, ["F4"])])
    bodies["unidentified_presence"] = False  # all have a face joined
    out = faceless_visits(bodies, identified_tracks={"F4"})
    assert out["person_track_id"].tolist() == ["P1"]  # P2 is a passer-by (3 s), P3's face was identified
    assert out["customer_id"].tolist() == [None] and out["identified"].tolist() == [False]
    assert faceless_visits(bodies).empty  # without the identity stage's answer: as before


def _track(track_id, samples):
    """samples: (second, x1, y1, x2, y2)."""
    tr = PersonTrack("cam1", track_id)
    for s, x1, y1, x2, y2 in samples:
        tr.add(T0 + timedelta(seconds=s), PersonBox(x1, y1, x2, y2, 0.8))
    return tr


def test_an_upper_body_found_between_the_frames_of_the_whole_body_is_not_a_visit():
    """The detector finds a customer's whole body in some frames and only the upper body in the frames
    between (never both in one frame): the upper body is that customer, even 1.5 s from the nearest whole box."""
    whole = _track("P1", [(s, 470, 228, 606, 595) for s in (0.0, 2.0, 3.5, 6.5, 9.0)])
    upper = _track("P2", [(s, 468, 231, 598, 360) for s in (0.5, 5.0, 8.0)])
    assert duplicate_bodies([whole, upper], {"P1"}) == {"P2"}
    # the same-frame rule alone (join_max_dt_s) misses it
    assert duplicate_bodies([whole, upper], {"P1"}, PersonRules(part_max_dt_s=0.0)) == set()
    # a person of their own beside the customer is kept
    beside = _track("P3", [(s, 700, 231, 830, 600) for s in (0.5, 5.0, 8.0)])
    assert duplicate_bodies([whole, beside], {"P1"}) == set()
    # and a body whose face was named is never a duplicate
    assert duplicate_bodies([whole, upper], {"P1", "P2"}) == set()


def test_the_next_customer_walking_the_same_path_a_moment_earlier_is_a_visit_of_their_own():
    """A faceless customer walks from the door to the counter 2 s ahead of a named one, on the same path and
    as tall: each of her boxes lies inside one of his within the 3 s an upper body is looked for, but a
    whole body as tall as the box around it is somebody else (measured on a busy day: 410-423 px in 420-429)."""
    path = [(0.0, 60), (1.0, 200), (2.0, 330), (3.0, 460), (4.0, 470), (6.0, 470), (8.0, 470)]
    ahead = _track("P1", [(s, x, 219, x + 150, 632) for s, x in path])  # 413 px tall
    named = _track("P2", [(s + 2.0, x - 5, 212, x + 155, 632) for s, x in path])  # 420 px tall, 2 s behind
    assert duplicate_bodies([ahead, named], {"P2"}) == set()


def test_a_body_that_picks_up_where_a_named_body_left_off_is_that_person():
    """The tracker loses a customer standing at the counter for 8 s and finds them again; the first piece's
    face was too small to name. A newcomer walks in from the door, a different place."""
    first = _track("P1", [(s, 480, 230, 600, 590) for s in (0, 4, 10)])
    named = _track("P2", [(s, 470, 232, 600, 588) for s in (18, 25, 40)])
    assert continues(first, named) and continues(named, first)
    assert duplicate_bodies([first, named], {"P2"}) == {"P1"}
    newcomer = _track("P3", [(s, 60, 220, 200, 600) for s in (44, 50)])  # at the door, 4 s after P2 left
    assert not continues(named, newcomer)
    later = _track("P4", [(s, 480, 230, 600, 590) for s in (55, 60)])  # the same place, 15 s later
    assert not continues(named, later)
    assert duplicate_bodies([first, named, newcomer, later], {"P2"}) == {"P1"}
    # faceless_visits leaves out the bodies it is told are nobody's visit of their own
    bodies = person_tracks([("P1", 0, 10, ["F9"]), ("P2", 18, 40, ["F1"]), ("P4", 55, 62, [])])
    out = faceless_visits(bodies, identified_tracks={"F1"}, not_visits={"P1"})
    assert out["person_track_id"].tolist() == ["P4"]
    assert faceless_visits(bodies, identified_tracks={"F1"})["person_track_id"].tolist() == ["P1", "P4"]


def test_the_next_customer_at_the_door_in_other_clothes_does_not_continue_the_last_one():
    """A customer seen once at the door (a keyframe) is found 4 s later at the counter as another track; the
    next customer comes in at the same door 2 s after that, near the first box. Their clothes are far apart:
    not the same person picked up again."""
    door = _track("P1", [(0.0, 79, 221, 201, 579)])
    door.boxes[0] = replace(door.boxes[0], look=(142.0, 88.0, 143.0))
    nxt = _track("P2", [(5.8, 144, 212, 321, 690), (6.3, 231, 218, 423, 697)])
    nxt.boxes[:] = [replace(b, look=(107.0, 138.0, 124.0)) for b in nxt.boxes]
    assert continues(door, nxt) and not dressed_alike(door, nxt)
    rows = person_tracks([("P1", 0.0, 0.0, []), ("P2", 5.8, 6.3, [])])
    rows["unidentified_presence"] = [False, True]
    assert chain_fragments(rows, [door, nxt], named=set())[1] == set()  # not chained
    nxt.boxes[:] = [replace(b, look=(140.0, 90.0, 141.0)) for b in nxt.boxes]  # the same shirt: picked up again
    assert dressed_alike(door, nxt) and chain_fragments(rows, [door, nxt], named=set())[1] == {"P1"}


def test_of_two_pieces_that_could_go_on_from_a_lost_walker_the_one_in_her_clothes_does():
    """Seed 541, day 2: a faceless customer is lost 0.8 s after walking in at the door and found 7 s later on
    her way to the counter, 1.5 box heights on; the next customer walks in at the door at that moment, where she
    was last seen, in other clothes. She goes on as the piece in her clothes; the newcomer is a visit of his own
    (the first piece found used to win, and her entry became his). With no piece in her clothes within reach,
    one in other clothes (look 18) is not her either."""
    shirt, other = (142.0, 88.0, 143.0), (124.0, 105.0, 148.0)
    walk_in = dressed_as(_track("P14", [(0.0, 66, 213, 216, 637), (0.8, 161, 221, 327, 643)]), shirt)
    on_her_way = dressed_as(_track("P15", [(8.0, 461, 220, 607, 636), (26.8, 80, 217, 242, 640)]), shirt)
    newcomer = dressed_as(_track("P16", [(8.0, 78, 216, 227, 633), (49.8, 113, 215, 286, 634)]), other)
    assert continues(walk_in, newcomer) and dressed_alike(walk_in, newcomer)  # near enough, clothes not too far
    rows = person_tracks([("P14", 0.0, 0.8, []), ("P15", 8.0, 26.8, []), ("P16", 8.0, 49.8, [])])
    rows["unidentified_presence"] = [False, True, True]
    for order in ([walk_in, newcomer, on_her_way], [walk_in, on_her_way, newcomer]):
        out, absorbed = chain_fragments(rows, order, named=set())
        assert absorbed == {"P14"}
        spans = {r.track_id: (r.first_time, r.last_time) for r in out.itertuples()}
        assert spans["P15"] == (at(0.0), at(26.8)) and spans["P16"] == (at(8.0), at(49.8))
    rows = rows[rows["track_id"] != "P15"]
    assert chain_fragments(rows, [walk_in, newcomer], named=set())[1] == set()
    # seed 563: the same walk seen by another camera is not in the same picture, and does not go on from hers
    elsewhere = dressed_as(_track("P15", [(8.0, 461, 220, 607, 636), (26.8, 80, 217, 242, 640)]), shirt)
    elsewhere.camera = "cam2"
    rows = person_tracks([("P14", 0.0, 0.8, []), ("P15", 8.0, 26.8, [])])
    rows["unidentified_presence"] = [False, True]
    assert chain_fragments(rows, [walk_in, elsewhere], named=set())[1] == set()


def test_the_next_visitor_in_the_same_clothes_behind_where_the_last_walked_out_is_someone_else():
    """The real walk-in clip: a visitor walks away to the right and out of view; 6 s later the next one, in
    clothes 2.8 apart (backs in dark clothes), is found 0.8 box heights behind where the last was last seen.
    Not the last one walked on: two visits. Found ahead of her, the way she was walking, she is picked up."""
    jacket = (109.0, 130.0, 124.0)
    leaving = dressed_as(
        _track("P6", [(0.0, 450, 48, 748, 406), (1.0, 512, 56, 686, 406), (2.0, 664, 72, 802, 430)]), jacket
    )
    behind = dressed_as(_track("P7", [(8.2, 335, 157, 515, 427), (9.0, 358, 26, 538, 396)]), jacket)
    ahead = dressed_as(_track("P8", [(8.2, 900, 80, 1040, 440), (9.0, 950, 80, 1090, 440)]), jacket)
    rows = person_tracks([("P6", 0.0, 2.0, []), ("P7", 8.2, 9.0, []), ("P8", 8.2, 9.0, [])])
    rows["unidentified_presence"] = True
    assert chain_fragments(rows[rows["track_id"] != "P8"], [leaving, behind], named=set())[1] == set()
    assert chain_fragments(rows[rows["track_id"] != "P7"], [leaving, ahead], named=set())[1] == {"P8"}


def _walk(track_id, start, xs, look, step=0.4):
    """A body walking through x centres `xs` (box 150 wide, 420 tall), one box every `step` seconds."""
    return dressed_as(_track(track_id, [(start + i * step, x - 75, 215, x + 75, 635) for i, x in enumerate(xs)]), look)


def test_a_faceless_customer_lost_between_walking_in_and_walking_out_is_one_visit():
    """Seed 541, day 1: a faceless customer alone in a recording was found walking in from the door (0.8 s) and
    walking back out to it (2.2 s), in the same clothes, and not at all in the 25 s between, when she stood in
    front of the clerk. Neither piece is long enough to be a presence; together, in at the door and out to it,
    they are one visit. Read backwards (one customer walks out, the next walks in where she was last seen:
    seed 401) they are two people; and with no door known, nothing is joined."""
    shirt = (142.0, 88.0, 143.0)
    # three named customers before her, each in at the door (x 140) and out to it: where the door is
    others = [_walk(f"N{i}", 100.0 * i, [140, 300, 500, 500, 300, 140], (60.0 + i, 60.0, 60.0)) for i in range(3)]
    walk_in = _walk("P7", 400.0, [142, 244], shirt, step=0.8)
    walk_out = _walk("P8", 425.8, [485, 351, 196], shirt, step=1.1)
    rows = person_tracks([("P7", 400.0, 400.8, []), ("P8", 425.8, 428.0, [])])
    rows["unidentified_presence"] = False
    named = {t.track_id for t in others}
    out, absorbed = chain_fragments(rows, [*others, walk_in, walk_out], named=named)
    assert absorbed == {"P8"}
    visit = faceless_visits(out, not_visits=absorbed)
    assert (visit["entry_time"].iloc[0], visit["exit_time"].iloc[0]) == (at(400.0), at(428.0))
    assert chain_fragments(rows, [walk_in, walk_out], named=set())[1] == set()  # no door known
    walk_out_first = _walk("P7", 400.0, [485, 351, 196], shirt, step=1.1)
    walk_in_later = _walk("P8", 425.8, [142, 244], shirt, step=0.8)
    assert chain_fragments(rows, [*others, walk_out_first, walk_in_later], named=named)[1] == set()


def test_a_walk_in_goes_out_as_no_one_when_a_named_body_wears_its_clothes():
    """Seed 563: a named customer's first seconds under the door camera (his face came on a later body) walked
    in; another, faceless, customer walked out 2.2 apart in colour, while his own named body, 0.0 apart, walked
    out too. The walk-in is his, not hers: a door pair holds only if no other body, named or not, is closer in
    clothes to either piece."""
    shirt, coat = (142.0, 88.0, 143.0), (142.0, 90.0, 145.0)
    others = [_walk(f"N{i}", 70.0 * i, [140, 300, 500, 500, 300, 140], (60.0 + i, 60.0, 60.0)) for i in range(5)]
    walk_in = _walk("P7", 400.0, [142, 244], shirt, step=0.8)
    his_own = _walk("N9", 405.0, [500, 500, 500, 300, 140], shirt)
    hers = _walk("P8", 425.8, [485, 351, 196], coat, step=1.1)
    rows = person_tracks([("P7", 400.0, 400.8, []), ("P8", 425.8, 428.0, [])])
    rows["unidentified_presence"] = False
    named = {t.track_id for t in [*others, his_own]}
    assert chain_fragments(rows, [*others, walk_in, hers], named=named - {"N9"})[1] == {"P8"}
    assert chain_fragments(rows, [*others, his_own, walk_in, hers], named=named)[1] == set()


def test_a_door_pair_needs_a_walk_each_way_and_no_rival_at_the_walk_out():
    """The door rule at its edges: a named body as close to either piece's clothes (a tie), one that began
    after the walk-in or one that ended before the walk-out, keeps the pair apart; two pieces that only stood at the door, their
    boxes jittering, walked neither in nor out; and a walk-in, a piece found at the counter, and a walk-out in
    one chain are one visit though no two neighbours are a door pair."""
    shirt = (142.0, 88.0, 143.0)
    others = [_walk(f"N{i}", 70.0 * i, [140, 300, 500, 500, 300, 140], (60.0 + i, 60.0, 60.0)) for i in range(5)]
    named = {t.track_id for t in others}
    walk_in = _walk("P7", 400.0, [142, 244], shirt, step=0.8)
    walk_out = _walk("P8", 425.8, [485, 351, 196], shirt, step=1.1)
    rows = person_tracks([("P7", 400.0, 400.8, []), ("P8", 425.8, 428.0, [])])
    rows["unidentified_presence"] = False
    twin = _walk("N9", 402.0, [140, 300, 500], shirt)  # came in after her, dressed as she is, named
    assert chain_fragments(rows, [*others, twin, walk_in, walk_out], named=named | {"N9"})[1] == set()
    # ...and one in her clothes, in before her, last seen at the counter before the walk-out: that may be theirs
    lost_before = _walk("N9", 390.0, [140, 300, 500, 500], shirt, step=10.0)
    assert chain_fragments(rows, [*others, lost_before, walk_in, walk_out], named=named | {"N9"})[1] == set()
    assert chain_fragments(rows, [*others, walk_in, walk_out], named=named)[1] == {"P8"}
    standing_in = _walk("P7", 400.0, [140, 141], shirt, step=0.8)
    standing_out = _walk("P8", 425.8, [141, 140, 140], shirt, step=1.1)
    assert chain_fragments(rows, [*others, standing_in, standing_out], named=named)[1] == set()
    at_counter = _walk("P9", 408.0, [500, 500, 500], shirt, step=2.0)  # found standing still between
    rows3 = person_tracks([("P7", 400.0, 400.8, []), ("P9", 408.0, 412.0, []), ("P8", 425.8, 428.0, [])])
    rows3["unidentified_presence"] = False
    out, absorbed = chain_fragments(rows3, [*others, walk_in, at_counter, walk_out], named=named)
    assert absorbed == {"P8", "P9"}


def test_the_next_visitor_to_the_same_table_is_not_the_last_one_found_again():
    """On the real walk-in clip (camera high behind the visitors, 768x432) one visitor leaves the standing
    table and the next is found 7 s later 0.42 box heights away: two visits, not one person re-found."""
    last = _track("P1", [(24.0, 385, 3, 547, 371), (42.0, 384, 4, 546, 372), (43.8, 431, 14, 674, 402)])
    next_one = _track("P2", [(50.9, 275, 121, 502, 431), (52.0, 393, 5, 558, 407), (54.0, 379, 0, 554, 390)])
    assert not continues(last, next_one)
    refound = _track("P3", [(50.9, 470, 40, 700, 420), (54.0, 470, 40, 700, 420)])  # 0.2 heights from her last box
    assert continues(last, refound)


def dressed_as(track, look):
    track.boxes[:] = [replace(b, look=look) for b in track.boxes]
    return track


def test_someone_standing_still_whom_the_detector_lost_for_a_while_is_found_again_in_the_same_place_and_clothes():
    """Seed 397, day 1: a faceless customer at the counter stands in front of the clerk, and for 20 s the
    detector finds neither of them. The pieces before and after lie in one place in the same clothes: one
    person, one visit. A step away, in other clothes or after a minute, it is somebody else."""
    before = dressed_as(_track("P1", [(s, 368, 194, 662, 716) for s in (0.0, 3.75)]), (105.0, 98.0, 141.0))
    after = dressed_as(_track("P2", [(s, 368, 194, 662, 716) for s in (24.0, 27.75, 32.5)]), (104.0, 99.0, 140.0))
    assert continues(before, after)
    assert not continues(before, after, PersonRules(still_gap_s=0.0))  # 20 s is over continue_gap_s
    rows = person_tracks([("P1", 0.0, 3.75, []), ("P2", 24.0, 32.5, [])])
    rows["unidentified_presence"] = [False, True]
    out, absorbed = chain_fragments(rows, [before, after], named=set())
    assert absorbed == {"P1"}
    visit = faceless_visits(out, not_visits=absorbed)
    assert (visit["entry_time"].iloc[0], visit["exit_time"].iloc[0]) == (at(0.0), at(32.5))
    step_away = dressed_as(_track("P3", [(24.0, 560, 194, 854, 716)]), (104.0, 99.0, 140.0))
    other_clothes = dressed_as(_track("P4", [(24.0, 368, 194, 662, 716)]), (104.0, 120.0, 150.0))
    a_minute_later = dressed_as(_track("P5", [(64.0, 368, 194, 662, 716)]), (104.0, 99.0, 140.0))
    assert not any(continues(before, t) for t in (step_away, other_clothes, a_minute_later))
    assert not continues(_track("P6", [(0.0, 368, 194, 662, 716)]), after)  # clothes unknown: not the same


def test_someone_walking_out_and_the_next_one_walking_in_where_they_left_are_two_people():
    """Seed 401, day 1: a customer walked out of the door and, 36 s later, a faceless one in clothes alike
    walked in there; the two tracks' end and start boxes overlap. Neither stood still where the other was
    seen: the newcomer is a visit of their own, not the one who left found again."""
    look = (105.0, 98.0, 141.0)
    walk_out = dressed_as(_track("P1", [(s, 77 + 60 * (3 - s), 206, 252 + 60 * (3 - s), 703) for s in range(4)]), look)
    walk_in = dressed_as(_track("P2", [(36 + s, 77 + 60 * s, 206, 252 + 60 * s, 703) for s in range(4)]), look)
    assert not continues(walk_out, walk_in)
    assert continues(walk_out, walk_in, PersonRules(still_motion=1.5))  # the rule that tells them apart
    # found standing where the other walked out of sight: the one who left, come back into view
    standing = dressed_as(_track("P3", [(36 + s, 77, 206, 252, 703) for s in range(4)]), look)
    assert continues(walk_out, standing)


def test_a_faceless_person_found_in_pieces_is_one_visit_as_long_as_all_of_them():
    """A faceless customer walks in (8 s, a presence), stands still at the counter found once 8 s later, and
    walks out 8 s after that: one visit from the first piece's entry to the last piece's exit. Two upper-body
    pieces at the same place (neither a presence) make no visit together."""
    walk_in = _track("P1", [(s, 378 + 12 * s, 220, 522 + 12 * s, 582) for s in (0, 2, 4, 8)])
    still = _track("P2", [(16, 469, 226, 597, 591)])
    walk_out = _track("P3", [(24, 341, 222, 474, 590), (25.5, 101, 220, 244, 598)])
    upper = [_track("U1", [(40, 470, 220, 601, 373)]), _track("U2", [(48, 474, 222, 600, 355)])]
    rows = person_tracks([("P1", 0, 8, []), ("P2", 16, 16, []), ("P3", 24, 25.5, []), ("U1", 40, 40, [])])
    rows = pd.concat([rows, person_tracks([("U2", 48, 48, [])])], ignore_index=True)
    rows["unidentified_presence"] = [True, False, False, False, False]
    out, absorbed = chain_fragments(rows, [walk_in, still, walk_out, *upper], named=set())
    assert absorbed == {"P2", "P3"}
    visits = faceless_visits(out, not_visits=absorbed)
    assert visits["person_track_id"].tolist() == ["P1"]
    assert (visits["entry_time"].iloc[0], visits["exit_time"].iloc[0]) == (at(0), at(25.5))
    assert rows["last_time"].iloc[0] == at(8)  # input untouched
    # a named body is never part of a chain
    assert chain_fragments(rows, [walk_in, still, walk_out], named={"P2"})[1] == set()


def test_a_face_track_wears_the_clothes_its_body_wore_while_it_was_that_person():
    """The staff member's body held a customer for its first 10 s (the tracker followed the wrong person): the
    face track of 20-30 s takes the look of the body's boxes in its own span, not the body's whole median."""
    red, blue = (60.0, 170.0, 160.0), (45.0, 150.0, 80.0)
    body = _track("P1", [(float(s), 470, 230, 600, 590) for s in range(0, 41, 2)])
    body.boxes[:] = [replace(b, look=red if t < at(10) else blue) for t, b in zip(body.times, body.boxes)]
    assert sum(b.look == red for b in body.boxes) == 5  # a quarter of its boxes: the median alone says blue
    rows = person_tracks([("P1", 0, 40, ["F1", "F2"]), ("P2", 0, 40, [])])
    looks = with_looks(face_tracks([("F1", 0, 8), ("F2", 20, 30), ("F3", 0, 40)]), rows, [body])
    assert looks["look"].tolist() == [red, blue, None]  # F3 joined no body


def test_a_track_s_samples_near_a_moment_are_found_by_time_bounds_included():
    tr = _track("P1", [(s, 0, 0, 10, 10) for s in (0.0, 1.0, 2.5, 4.0)])
    assert list(tr.within(T0 + timedelta(seconds=1.5), 1.0)) == [1, 2]  # 0.5 and 1.0 s away, bounds included
    assert list(tr.within(T0 + timedelta(seconds=9.0), 1.0)) == []
    seconds = PersonTrack("cam1", "P2")
    for s in (0.0, 1.0, 2.5):
        seconds.add(s, PersonBox(0, 0, 10, 10, 0.8))
    assert list(seconds.within(2.0, 1.0)) == [1, 2]


def test_an_upper_body_inside_a_day_long_body_is_found_at_its_own_moment_only():
    """A named person's body followed all day (a sample every 2 s for 8 hours) and two short faceless tracks in
    the same place: one while that body was there (its upper body), one at a moment that body was not seen (a
    gap of a minute in its samples): only the first is a part of someone."""
    samples = [(s, 470, 228, 606, 595) for s in range(0, 8 * 3600, 2) if not 3000 <= s <= 3060]
    whole = _track("P1", samples)
    upper = _track("P2", [(s, 468, 231, 598, 360) for s in (1000.5, 1002.5, 1004.5)])
    in_the_gap = _track("P3", [(s, 468, 231, 598, 360) for s in (3020.0, 3022.0, 3024.0)])
    assert duplicate_bodies([whole, upper, in_the_gap], {"P1"}, PersonRules(part_max_dt_s=0.0)) == {"P2"}


def test_the_upper_body_of_a_faceless_clerk_at_the_post_is_no_customer_visit():
    """Seed 353, day 2: the clerk at her post, no face named, found as a whole body (staff: at the post) and as
    an upper body inside its box, the upper body tracked a few seconds longer than the whole. The upper body is
    the clerk too; a customer at the counter in front of her stays a visit."""
    whole = _track("P1", [(s, 1060, 241, 1245, 533) for s in range(3, 31, 3)])  # both boxed in the same frames
    upper = _track("P2", [(s, 1106, 243, 1193, 345) for s in range(0, 43, 3)])
    customer = _track("P3", [(s, 300 + 5 * s, 220, 450 + 5 * s, 640) for s in range(0, 41, 2)])
    rows = person_tracks([("P1", 3, 30, []), ("P2", 0, 42, []), ("P3", 0, 40, [])])
    rows["max_box_height"] = [292.0, 102.0, 420.0]
    rows["unidentified_presence"] = True  # as stored on seed 353: both the whole and the upper body
    out = unidentified_visits(rows, [whole, upper, customer], named=set(), staff_bodies={"P1"})
    assert out["person_track_id"].tolist() == ["P3"]
    # Without the post, the whole body is one visit: its upper body is no presence of its own.
    presences = {tr.track_id for *_, tr in person_only_presences([whole, upper, customer], {})}
    assert presences == {"P1", "P3"}
    rows["unidentified_presence"] = rows["track_id"].isin(presences)
    assert sorted(unidentified_visits(rows, [whole, upper, customer], set())["person_track_id"]) == ["P1", "P3"]


def test_a_customer_across_the_counter_inside_the_clerks_box_stays_a_visit():
    """The camera behind the till: the faceless clerk at the post (292 px) stands before a customer across the
    counter (180 px, inside the clerk's box, 0.62 of its height). The customer is nobody's upper body, and
    the customer's next piece, starting where the clerk's track ended but in other clothes, is no
    continuation of the clerk."""
    clerk = _track("P1", [(s, 1060, 241, 1245, 533) for s in range(0, 31, 3)])
    customer = _track("P2", [(s, 1100, 300, 1190, 480) for s in range(6, 55, 3)])
    rows = person_tracks([("P1", 0, 30, []), ("P2", 6, 54, [])])
    rows["max_box_height"] = [292.0, 180.0]
    rows["unidentified_presence"] = True
    out = unidentified_visits(rows, [clerk, customer], named=set(), staff_bodies={"P1"})
    assert out["person_track_id"].tolist() == ["P2"]
    # as an upper body (102 px, 0.35 of the clerk's height at the same moments) it would be the clerk's
    upper = _track("P3", [(s, 1106, 243, 1193, 345) for s in range(0, 31, 3)])
    assert duplicate_bodies([clerk, upper], set(), staff={"P1"}) == {"P3"}


def test_a_faceless_walker_tall_under_the_door_camera_does_not_swallow_the_customer_queueing_before_them():
    """Both faceless. B stands at the counter for 60 s (170 px). A walks in under the camera (620 px), then
    queues behind B for 40 s (320 px), B's box inside A's. A is followed for less time than B, and was much
    taller than B only while walking in: at the moments both were seen B was 0.53 of A's height. Two people."""
    b = _track("PB", [(s, 600, 300, 700, 470) for s in range(0, 61, 2)])
    walk_in = [(s, 450, 0, 760, 620) for s in (10, 12, 14)]
    a = _track("PA", walk_in + [(s, 560, 200, 740, 520) for s in range(16, 57, 2)])
    presences = {tr.track_id for *_, tr in person_only_presences([a, b], {})}
    assert presences == {"PA", "PB"}
