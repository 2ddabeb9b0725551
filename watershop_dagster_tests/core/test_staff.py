"""Staff stay staff: a gallery grown from confirmed appearances, and presence for most of the day.
Exact fixtures: embeddings constructed here, no models."""

import dataclasses
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.body_tracks import PersonTrack
from watershop_dagster.core.footage.manifest import covered_seconds
from watershop_dagster.core.footage.persons import PersonBox
from watershop_dagster.core.identities.matching import (
    Assignment,
    IdentityRules,
    RegistryEntry,
    assign_identities,
    updated_entry,
)
from watershop_dagster.core.identities.registry import registry_rows
from watershop_dagster.core.identities.staff import (
    REASON_ENROLLED,
    StaffRules,
    at_staff_post,
    bodies_of_staff,
    closing_up_with_staff,
    footage_span_seconds,
    occupied_recordings,
    post_of,
    post_rows,
    remembered_posts,
    staff_by_post,
    staff_by_presence,
    staff_gallery,
    staff_posts,
    walks_in_and_out,
    where_staff_stood,
    with_staff_reasons,
)
from watershop_dagster.core.identities.visits import build_visits

DAY1, DAY2 = date(2024, 6, 1), date(2024, 6, 2)
OPEN = datetime(2024, 6, 1, 8, 0)


def unit(v):
    return (np.asarray(v, np.float64) / np.linalg.norm(v)).astype(np.float32)


def basis(i, dim=512):
    v = np.zeros(dim, np.float32)
    v[i] = 1.0
    return v


def tracks(rows, day=DAY1):
    """rows: (track_id, start_minute, end_minute, embedding)."""
    t0 = datetime(day.year, day.month, day.day, 8, 0)
    return pd.DataFrame(
        [
            {
                "track_id": tid,
                "camera": "cam1",
                "first_time": pd.Timestamp(t0 + timedelta(minutes=a)),
                "last_time": pd.Timestamp(t0 + timedelta(minutes=b)),
                "faces": 10,
                "usable_faces": 10,
                "mean_quality": 0.8,
                "best_crop_path": None,
                "embedding": np.asarray(e, np.float32).tolist(),
            }
            for tid, a, b, e in rows
        ]
    )


def test_a_staff_member_whose_look_drifts_is_still_recognised_through_the_grown_gallery():
    photo = basis(0)
    day1_look = unit(0.6 * basis(0) + 0.8 * basis(1))  # 0.60 to the photo: recognised on day 1
    day2_look = unit(0.25 * basis(0) + 0.6 * basis(1) + 0.76 * basis(2))  # 0.25 to the photo, 0.60 to day 1's
    assert float(photo @ day2_look) < IdentityRules.staff_threshold < float(day1_look @ day2_look)
    photos = {"STAFF_ravi": photo[None, :]}
    r1 = assign_identities(tracks([("t1", 0, 30, day1_look)]), [], photos, next_number=1)
    assert r1.assignments["t1"].customer_id == "STAFF_ravi"
    rows1 = registry_rows(
        DAY1, [], r1, build_visits(DAY1, tracks([("t1", 0, 30, day1_look)]), r1.assignments), IdentityRules()
    )
    stored = [(c, np.asarray(v, np.float32)) for c, v, s in zip(rows1.customer_id, rows1.centroid, rows1.is_staff) if s]
    day2 = tracks([("t2", 0, 30, day2_look)], DAY2)
    # photos alone: a customer
    assert not assign_identities(day2, [], photos, next_number=1).assignments["t2"].is_staff
    # photos and the stored day-1 centroid: staff
    r2 = assign_identities(day2, [], staff_gallery(photos, stored), next_number=1)
    assert r2.assignments["t2"].customer_id == "STAFF_ravi" and r2.new_ids == []


def test_gallery_keeps_the_photos_and_adds_one_row_per_stored_day():
    photos = {"STAFF_a": np.stack([basis(0), basis(1)])}
    g = staff_gallery(photos, [("STAFF_a", basis(2)), ("STAFF_a", basis(3)), ("STAFF_UNENROLLED_01", basis(4))])
    assert g["STAFF_a"].shape == (4, 512) and g["STAFF_UNENROLLED_01"].shape == (1, 512)
    assert photos["STAFF_a"].shape == (2, 512)  # the enrolment photos are not changed


def test_covered_seconds_is_the_union_of_intervals():
    t = [OPEN + timedelta(minutes=m) for m in range(0, 200)]
    assert covered_seconds([(t[0], t[10]), (t[5], t[20]), (t[30], t[40])]) == 30 * 60
    assert covered_seconds([]) == 0.0
    manifest = pd.DataFrame(
        {
            "status": ["ok", "ok", "error"],
            "start_time": [t[0], t[50], t[100]],
            "end_time": [t[60], t[120], t[150]],
        }
    )
    assert footage_span_seconds(manifest) == 120 * 60


def test_someone_present_most_of_the_day_is_staff_and_no_customer_is_minted_for_them():
    helper, a, b = basis(10), basis(11), basis(12)
    # 10 hours of footage; the helper is there 7 of them (70%) in two stretches, A and B are customers
    day = tracks(
        [
            ("a1", 0, 3, a),
            ("h1", 6, 246, helper),
            ("b1", 250, 255, b),
            ("h2", 260, 440, helper),
            ("a2", 500, 505, a),
        ]
    )
    result = assign_identities(day, [], {}, next_number=7)
    assert result.new_ids == ["CUST_0007", "CUST_0008", "CUST_0009"]  # a, helper, b
    visits = build_visits(DAY1, day, result.assignments)
    old = RegistryEntry("STAFF_UNENROLLED_01", basis(50), 5.0, True, DAY1, 3)
    p = staff_by_presence(result, visits, 600 * 60, [old], next_number=7)
    assert p.promoted == {"CUST_0008": "STAFF_UNENROLLED_02"}
    got = {t: (x.customer_id, x.is_staff) for t, x in p.result.assignments.items()}
    assert got == {
        "a1": ("CUST_0007", False),
        "a2": ("CUST_0007", False),
        "h1": ("STAFF_UNENROLLED_02", True),
        "h2": ("STAFF_UNENROLLED_02", True),
        "b1": ("CUST_0008", False),  # renumbered: no number is used up by the helper
    }
    assert p.result.new_ids == ["CUST_0007", "CUST_0008"]
    assert "70%" in p.reasons["STAFF_UNENROLLED_02"]
    # A number an owner's correction retired today stays retired, and no ID takes it: had the day started at
    # 6, with 6 minted for a cluster and retired, renumbering from 6 would hand it out again.
    retired = dataclasses.replace(result, retired_ids={"x1": "CUST_0006"})
    kept = staff_by_presence(retired, visits, 600 * 60, [old], next_number=6).result
    assert kept.new_ids == ["CUST_0007", "CUST_0009"] and kept.retired_ids == {"x1": "CUST_0006"}
    visits = with_staff_reasons(build_visits(DAY1, day, p.result.assignments), p.reasons)
    customers = visits[~visits["is_staff"].astype(bool)]
    assert sorted(customers["customer_id"]) == ["CUST_0007", "CUST_0007", "CUST_0008"]
    assert customers["staff_reason"].isna().all()
    staff = visits[visits["is_staff"].astype(bool)]
    assert len(staff) == 2 and staff["staff_reason"].str.startswith("present 70%").all()
    rows = registry_rows(DAY1, [old], p.result, visits, IdentityRules())
    assert rows.set_index("customer_id").loc["STAFF_UNENROLLED_02", "is_staff"]
    # From the next day on, the helper's stored centroid makes them staff even for a short appearance.
    stored = [(c, np.asarray(v, np.float32)) for c, v, s in zip(rows.customer_id, rows.centroid, rows.is_staff) if s]
    registry = [
        updated_entry(None, c, DAY1, np.asarray(v, np.float32), 10.0, 1, False, None, IdentityRules())
        for c, v, s in zip(rows.customer_id, rows.centroid, rows.is_staff)
        if not s
    ]
    r2 = assign_identities(tracks([("h3", 0, 10, helper)], DAY2), registry, staff_gallery({}, stored), next_number=9)
    assert r2.assignments["h3"].customer_id == "STAFF_UNENROLLED_02" and r2.assignments["h3"].is_staff


def test_customers_below_the_share_and_short_days_are_left_alone():
    a, b = basis(20), basis(21)
    day = tracks([("a1", 0, 300, a), ("b1", 10, 20, b)])  # A: 50% of 10 hours
    result = assign_identities(day, [], {}, next_number=1)
    visits = build_visits(DAY1, day, result.assignments)
    assert staff_by_presence(result, visits, 600 * 60, [], 1).promoted == {}
    # a 30-minute clip where one customer stays throughout says nothing about staff
    short = assign_identities(tracks([("a1", 0, 29, a)]), [], {}, next_number=1)
    short_visits = build_visits(DAY1, tracks([("a1", 0, 29, a)]), short.assignments)
    assert staff_by_presence(short, short_visits, 30 * 60, [], 1, StaffRules()).promoted == {}


def test_enrolled_staff_visits_say_why():
    photo = basis(30)
    day = tracks([("s1", 0, 600, photo)])
    result = assign_identities(day, [], {"STAFF_ravi": photo[None, :]}, next_number=1)
    visits = build_visits(DAY1, day, result.assignments)
    p = staff_by_presence(result, visits, 600 * 60, [], 1)
    assert p.promoted == {}  # already staff: nothing to promote
    out = with_staff_reasons(visits, p.reasons)
    assert out["staff_reason"].tolist() == [REASON_ENROLLED]


def test_a_continuous_recorders_shut_hours_do_not_hide_an_unenrolled_clerk():
    """A DVR recording all day in hourly files, 24 of them from midnight (tracks are timed from 08:00); the
    shop open 9 hours, its unenrolled clerk in view all of them, a regular twice. Over every file the clerk is
    in 36% of the footage and 9 of 24 recordings: under both shares, a customer. Over the files somebody is
    in, all of them: staff."""
    clerk, regular = basis(40), basis(41)
    midnight = datetime(DAY1.year, DAY1.month, DAY1.day)
    files = [(midnight + timedelta(hours=k), midnight + timedelta(hours=k + 1)) for k in range(24)]
    # open 09:00-18:00: the clerk's tracks cover each hour (minutes from 08:00)
    day = tracks([*((f"c{k}", 60 * k + 1, 60 * k + 59, clerk) for k in range(1, 10)), ("r1", 70, 72, regular)])
    day = pd.concat([day, tracks([("r2", 400, 402, regular)])], ignore_index=True)
    result = assign_identities(day, [], {}, next_number=1)
    visits = build_visits(DAY1, day, result.assignments)
    every = staff_by_presence(result, visits, covered_seconds(files), [], 1, StaffRules(), files)
    assert every.promoted == {}
    seen = list(zip(day["camera"], day["first_time"], day["last_time"], strict=True))
    occupied = occupied_recordings({"cam1": files}, seen)["cam1"]
    assert occupied == files[9:18]
    p = staff_by_presence(result, visits, covered_seconds(occupied), [], 1, StaffRules(), occupied)
    assert p.promoted == {result.assignments["c1"].customer_id: "STAFF_UNENROLLED_01"}
    assert result.assignments["r1"].customer_id not in p.promoted
    # another camera's bodies do not fill this camera's files
    assert occupied_recordings({"cam2": files}, seen) == {}


def test_someone_in_most_of_the_days_recordings_is_staff_however_short_their_visits():
    """A camera that records on motion: one file per burst of customers, each a few minutes. A staff member
    standing still behind the counter is seen briefly in most files; a regular only in their own."""
    clerk, regular, other = basis(40), basis(41), basis(42)
    t0 = datetime(DAY1.year, DAY1.month, DAY1.day, 8, 0)
    files = [(t0 + timedelta(minutes=60 * k), t0 + timedelta(minutes=60 * k + 4)) for k in range(8)]
    seen = [(f"c{k}", 60 * k, 60 * k + 1, clerk) for k in (0, 1, 2, 4, 5, 7)]  # 6 of 8 files, a minute each
    day = tracks([*seen, ("r1", 62, 64, regular), ("r2", 302, 304, regular), ("o1", 182, 184, other)])
    result = assign_identities(day, [], {}, next_number=1)
    visits = build_visits(DAY1, day, result.assignments)
    span = 8 * 4 * 60  # 32 minutes of footage: the share-of-footage rule does not judge such a day
    p = staff_by_presence(result, visits, span, [], 1, StaffRules(), files)
    clerk_id = result.assignments["c0"].customer_id
    assert p.promoted == {clerk_id: "STAFF_UNENROLLED_01"}
    assert p.reasons["STAFF_UNENROLLED_01"].startswith("seen in 6 of the day's 8 recordings")
    assert {p.result.assignments[t].customer_id for t in ("r1", "r2", "o1")} <= {"CUST_0001", "CUST_0002"}
    # seen in 3 recordings (of 4): a customer could come three times; not judged
    assert staff_by_presence(result, visits, span, [], 1, StaffRules(), files[:4]).promoted == {}
    # seen in 6 of 20 recordings: a regular can come that often; not judged either
    later = [(t0 + timedelta(hours=9 + k / 2), t0 + timedelta(hours=9 + k / 2, minutes=4)) for k in range(12)]
    assert staff_by_presence(result, visits, span, [], 1, StaffRules(), files + later).promoted == {}
    # the same six recordings, but each time walking in and out: a regular who refills that often
    walkers = {clerk_id}
    assert staff_by_presence(result, visits, span, [], 1, StaffRules(), files, walkers=walkers).promoted == {}


def test_an_identity_whose_bodies_walk_in_and_out_is_a_walker_and_a_clerk_standing_is_not():
    files, starts = _recordings(6)
    regular = [_body(f"R{k}", starts[k], starts[k] + 30, 300, 420, 400, walk_px=600) for k in range(5)]
    clerk = [_body(f"K{k}", starts[k], starts[k] + 30, 1150, 395, 280) for k in range(5)]
    people = pd.DataFrame([{"track_id": b.track_id, "face_track_ids": [f"f{b.track_id}"]} for b in [*regular, *clerk]])
    assignments = {f"fR{k}": Assignment("CUST_0001", 0.5, False) for k in range(5)}
    assignments |= {f"fK{k}": Assignment("CUST_0002", 0.5, False) for k in range(5)}
    assert walks_in_and_out(assignments, people, [*regular, *clerk]) == {"CUST_0001"}
    # two walks are too few to say
    assert walks_in_and_out(assignments, people.iloc[[0, 1]], regular) == set()


def _body(track_id, start_s, end_s, x, y, h, step_s=2.0, walk_px=0.0, camera="cam1", look=None):
    """A body track from start_s to end_s (seconds after OPEN), centre (x, y), box height h; walk_px moves the
    centre that far across the track; `look` its clothes (L*, a*, b*)."""
    tr = PersonTrack(camera, track_id)
    n = max(1, int((end_s - start_s) / step_s) + 1)
    for k in range(n):
        cx = x + walk_px * k / max(n - 1, 1)
        box = PersonBox(cx - h / 4, y - h / 2, cx + h / 4, y + h / 2, look=look)
        tr.add(OPEN + timedelta(seconds=start_s + k * step_s), box)
    return tr


def _recordings(n):
    """n recordings of 40 s, one an hour from OPEN; (start, end) and the start second of each."""
    starts = [3600 * k for k in range(n)]
    return [(OPEN + timedelta(seconds=s), OPEN + timedelta(seconds=s + 40)) for s in starts], starts


def test_the_staff_post_is_where_someone_stands_still_at_opening_and_in_many_recordings():
    """The clerk stands behind the counter (x 1150) when the shop opens, closes, and in 3 of the 6 recordings
    all told; customers walk in and out, and one stands still at the counter (x 540) in 3 recordings, but
    never at opening or closing."""
    files, starts = _recordings(6)
    clerk = [_body(f"K{k}", starts[k], starts[k] + 6, 1150, 395, 280) for k in (0, 2, 5)]
    payer = [_body(f"S{k}", starts[k] + 10, starts[k] + 16, 540, 390, 350) for k in (1, 2, 3)]
    walkers = [_body(f"W{k}", starts[k], starts[k] + 20, 300, 420, 400, walk_px=600) for k in range(6)]
    posts = staff_posts([*clerk, *payer, *walkers], files)
    assert [(p.camera, round(p.cx), round(p.cy), p.recordings_seen, p.recordings) for p in posts] == [
        ("cam1", 1150, 395, 3, 6)
    ]
    assert all(at_staff_post(b, posts) for b in clerk)
    assert not any(at_staff_post(b, posts) for b in [*payer, *walkers])
    # walking through the post is not standing at it
    assert not at_staff_post(_body("X", 100, 110, 1150, 395, 280, walk_px=300), posts)
    # seen at opening but only in 2 of 6 recordings: not a post
    assert staff_posts([clerk[0], clerk[2]], files) == []
    # in 3 recordings but not at opening or closing: not a post
    assert staff_posts(payer, files) == []


def test_where_recognised_staff_stood_is_a_post_though_nobody_was_seen_there_at_opening():
    """The clerk's body was not found at opening or closing (her face was named there, her body not seen),
    but stood behind the counter in 3 of 6 recordings (coming into view 5 s after each began), once with her
    face named on it: still a post. A payer who stood still at the counter in 3 recordings is no post, named
    or not."""
    files, starts = _recordings(6)
    clerk = [_body(f"K{k}", starts[k] + 5, starts[k] + 11, 1150, 395, 280) for k in (1, 2, 3)]
    payer = [_body(f"S{k}", starts[k] + 10, starts[k] + 16, 540, 390, 350) for k in (1, 2, 3)]
    assert staff_posts([*clerk, *payer], files) == []
    posts = staff_posts([*clerk, *payer], files, staff_bodies={"K2"})
    assert [(round(p.cx), p.recordings_seen) for p in posts] == [(1150, 3)]
    assert all(at_staff_post(b, posts) for b in clerk) and not any(at_staff_post(b, posts) for b in payer)
    people = pd.DataFrame([{"track_id": "K2", "face_track_ids": ["f2"]}, {"track_id": "S1", "face_track_ids": None}])
    assert bodies_of_staff({"f2": Assignment("STAFF_ana", 0.5, True)}, people) == {"K2"}
    assert bodies_of_staff({"f2": Assignment("CUST_0001", None, False)}, people) == set()


def test_where_recognised_staff_stood_in_few_of_many_recordings_is_still_a_post():
    """Seed 379, day 3: a busy day of 18 recordings from a motion-triggered door camera; the clerk stands still
    at her post in only 3 of them (hidden by the queue or away in the rest), twice with her face named. The
    third, faceless, is at the post: staff. Where staff stood still in only 2 recordings, no post."""
    files, starts = _recordings(18)
    clerk = [_body(f"K{k}", starts[k] + 5, starts[k] + 30, 130, 385, 290) for k in (7, 11, 12)]
    payer = [_body(f"S{k}", starts[k] + 10, starts[k] + 16, 540, 390, 350) for k in (1, 2, 3, 4)]
    assert staff_posts([*clerk, *payer], files) == []  # no staff named: too few of the day's recordings
    posts = staff_posts([*clerk, *payer], files, staff_bodies={"K7", "K11"})
    assert [(round(p.cx), p.recordings_seen, p.recordings) for p in posts] == [(130, 3, 18)]
    assert at_staff_post(clerk[2], posts) and not any(at_staff_post(b, posts) for b in payer)
    assert staff_posts([clerk[0], clerk[1], *payer], files, staff_bodies={"K7", "K11"}) == []


def test_customers_standing_where_staff_stood_once_make_no_post():
    """18 recordings. The clerk, recognised, stands still once at the card terminal (x 540); customers stand
    still there in 3 other recordings. Staff stood there in one recording only: no post, and the customers
    stay customers."""
    files, starts = _recordings(18)
    clerk = _body("K1", starts[1] + 5, starts[1] + 30, 540, 390, 350)
    payer = [_body(f"S{k}", starts[k] + 10, starts[k] + 16, 540, 390, 350) for k in (4, 9, 13)]
    assert staff_posts([clerk, *payer], files, staff_bodies={"K1"}) == []


def test_a_faceless_body_where_recognised_staff_stood_that_day_in_their_clothes_is_that_staff_member():
    """Seed 383 (regenerated), day 1: the second clerk stands beside the door, found as a body in two recordings
    only: named by face at 11:40, faceless at 19:12 in a queue. Too few recordings for a post, but the same
    place in the same clothes: staff, not a customer. Someone else standing there (other clothes, or the same
    colour much lighter: a light grey shirt is not a dark grey one), someone walking through in those clothes,
    or the same place on another camera, is not."""
    clerk_look = (82.0, 171.0, 106.0)
    files, starts = _recordings(9)
    named = _body("K1", starts[1] + 5, starts[1] + 20, 1725, 595, 415, look=clerk_look)
    faceless = _body("K7", starts[7] + 5, starts[7] + 40, 1727, 597, 417, look=(83.0, 171.0, 105.0))
    other = _body("C3", starts[3] + 5, starts[3] + 30, 1725, 595, 415, look=(120.0, 140.0, 150.0))
    lighter = _body("C4", starts[4] + 5, starts[4] + 30, 1725, 595, 415, look=(130.0, 171.0, 106.0))
    walker = _body("W5", starts[5], starts[5] + 20, 1400, 595, 415, walk_px=500, look=clerk_look)
    elsewhere = _body("D6", starts[6] + 5, starts[6] + 30, 1725, 595, 415, camera="door", look=clerk_look)
    assert staff_posts([named, faceless, walker, elsewhere], files, staff_bodies={"K1"}) == []  # two recordings
    everyone = [named, faceless, other, lighter, walker, elsewhere]
    assert where_staff_stood(everyone, {"K1"}) == {"K7"}
    assert where_staff_stood(everyone, set()) == set()  # nobody recognised: nothing said


def test_a_still_body_beside_recognised_staff_from_the_start_of_the_closing_recording_is_staff():
    """Seed 479, day 1: the second clerk, there since the afternoon, is in the day's last recording only, his
    face unusable; from its first frame he stands still (x 435) beside the named clerk (x 1150) and leaves view
    when she does. Staff, though one recording is too few for a post. Not staff: a customer who walks in after
    the closing recording began, someone standing still there after the clerk left view or leaving before
    her, the same still body in a recording of the middle of the day, and anyone on a day with no staff
    named."""
    files, starts = _recordings(5)
    last = starts[-1]
    named = _body("K1", last, last + 6, 1150, 395, 280)
    second = _body("K2", last, last + 6, 435, 400, 290)
    late = _body("C1", last + 3, last + 6, 700, 400, 300)
    stays = _body("C2", last, last + 20, 700, 400, 300)
    leaves = _body("C4", last, last + 2, 700, 400, 300)
    midday_named = _body("K3", starts[2], starts[2] + 6, 1150, 395, 280)
    midday = _body("C3", starts[2], starts[2] + 6, 435, 400, 290)
    everyone = [named, second, late, stays, leaves, midday_named, midday]
    spans = {"cam1": files}
    assert closing_up_with_staff(everyone, {"K1", "K3"}, spans) == {"K2"}
    assert closing_up_with_staff(everyone, set(), spans) == set()
    walking_in = _body("W1", last, last + 6, 435, 400, 290, walk_px=300)
    assert closing_up_with_staff([named, walking_in], {"K1"}, spans) == set()


def test_a_post_is_judged_by_its_own_cameras_recordings():
    """A recognised clerk's still body on the counter camera, 5 minutes long, overlaps three short clips of the
    door camera: one recording of the counter camera, too few for a post (the door camera's files say nothing
    of who stands at the counter)."""
    counter = [(OPEN, OPEN + timedelta(minutes=10))]
    door = [(OPEN + timedelta(seconds=60 * k), OPEN + timedelta(seconds=60 * k + 30)) for k in (1, 2, 3)]
    clerk = [_body("K1", 30, 330, 540, 390, 350), _body("K2", 3600, 3630, 540, 390, 350)]
    customer = _body("S1", 4 * 3600, 4 * 3600 + 30, 540, 390, 350)
    by_camera = {"cam1": counter, "cam2": door}
    assert staff_posts([*clerk, customer], by_camera, staff_bodies={"K1", "K2"}) == []
    # the same body in one list of every camera's files is seen in all four recordings: a post
    posts = staff_posts([*clerk, customer], counter + door, staff_bodies={"K1", "K2"})
    assert [p.recordings_seen for p in posts] == [4]


def test_a_body_there_from_the_first_frame_of_many_recordings_is_at_a_post():
    """Nobody at opening or closing, no face named: the clerk's still body is in view from the first frame of
    3 of 6 recordings (a camera recording on motion starts a file as a customer walks in, the clerk already
    there), a post. A payer standing still at the counter came in after the file began; a customer who
    happened to stand still from the start of 2 recordings is too few."""
    files, starts = _recordings(6)
    clerk = [_body(f"K{k}", starts[k], starts[k] + 30, 1150, 395, 280) for k in (1, 2, 4)]
    payer = [_body(f"S{k}", starts[k] + 10, starts[k] + 16, 540, 390, 350) for k in (1, 2, 3, 4)]
    posts = staff_posts([*clerk, *payer], files)
    assert [(round(p.cx), p.recordings_seen) for p in posts] == [(1150, 3)]
    assert not any(at_staff_post(b, posts) for b in payer)
    early = [_body(f"E{k}", starts[k], starts[k] + 20, 540, 390, 350) for k in (1, 3)]
    assert staff_posts([*early, *payer], files) == []


def test_a_post_recognised_staff_held_on_an_earlier_day_is_a_post_again_where_still_bodies_stand_there():
    """Seed 619, day 4: the clerk, in a new photo, is never named; her still body stands at the post of day 3
    (x 1150, where her face was named on it twice) in 2 of the day's 8 recordings, too few for a post of its own.
    The remembered post makes both staff; a customer standing still at the counter (x 540) is not. Not
    remembered: a place nobody recognised held, one seen in a single recording today, one on another camera,
    and one older than post_memory_days."""
    files, starts = _recordings(8)
    day3 = staff_posts(
        [_body(f"K{k}", starts[k] + 5, starts[k] + 30, 1152, 394, 288) for k in (1, 2, 3)],
        files,
        staff_bodies={"K1", "K2"},
    )
    assert [(p.held_by_staff, p.remembered_from) for p in day3] == [(True, None)]
    earlier = post_rows(day3).assign(day=DAY1)
    clerk = [_body(f"K{k}", starts[k] + 4, starts[k] + 39, 1151, 395, 291) for k in (2, 6)]
    payer = [_body(f"S{k}", starts[k] + 10, starts[k] + 16, 540, 390, 350) for k in (1, 2, 3)]
    spans = {"cam1": files}
    assert staff_posts([*clerk, *payer], spans) == []
    posts = remembered_posts(earlier, DAY2, [*clerk, *payer], spans)
    assert [(round(p.cx), p.recordings_seen, p.recordings, p.remembered_from) for p in posts] == [(1152, 2, 8, DAY1)]
    assert all(at_staff_post(b, posts) for b in clerk) and not any(at_staff_post(b, posts) for b in payer)
    assert posts[0].why() == "where recognised staff stood on 2024-06-01, and in 2 of the day's 8 recordings"
    assert post_rows(posts)["held_by_staff"].tolist() == [False]  # remembered again only if staff are named
    named = remembered_posts(earlier, DAY2, [*clerk, *payer], spans, staff_bodies={"K6"})
    assert [(p.held_by_staff, p.remembered_from) for p in named] == [(True, DAY1)]
    # the staff reason of an identity there names the remembered post, though another camera has a post of
    # its own today
    door = [_body(f"D{k}", starts[k], starts[k] + 6, 300, 400, 300, camera="door") for k in (0, 3, 5, 7)]
    today = staff_posts(door, {"cam1": files, "door": files})
    assert [p.camera for p in today] == ["door"]
    posts = today + remembered_posts(earlier, DAY2, clerk, spans, today)
    posts_of = {b.track_id: p for b in [*clerk, *door] if (p := post_of(b, posts))}
    people = pd.DataFrame([{"track_id": "K2", "face_track_ids": ["f2"]}, {"track_id": "K6", "face_track_ids": ["f6"]}])
    assignments = {"f2": Assignment("CUST_0003", None, False), "f6": Assignment("CUST_0003", None, False)}
    why = staff_by_post(assignments, people, set(posts_of), posts, posts_of=posts_of)
    assert why == {
        "CUST_0003": "stands at the staff post (2 of 2 bodies; where recognised staff stood on 2024-06-01, and in 2 "
        "of the day's 8 recordings)"
    }
    assert remembered_posts(earlier.assign(held_by_staff=False), DAY2, clerk, spans) == []
    assert remembered_posts(earlier, DAY2, clerk[:1], spans) == []
    assert remembered_posts(earlier.assign(camera="door"), DAY2, clerk, spans) == []
    assert remembered_posts(earlier, DAY1 + timedelta(days=15), clerk, spans) == []
    assert remembered_posts(earlier, DAY2, clerk, spans, today=day3) == []  # already a post today


def test_an_identity_seen_on_bodies_at_the_post_is_staff():
    """The clerk's face is named as a customer (small, dim, unenrolled); the bodies it joined stand at the staff
    post, so the identity is staff, and a customer whose body only passed by is not."""
    files, starts = _recordings(6)
    clerk = [_body(f"K{k}", starts[k], starts[k] + 6, 1150, 395, 280) for k in (0, 2, 5)]
    customer = _body("C1", starts[1], starts[1] + 20, 300, 420, 400, walk_px=600)
    posts = staff_posts([*clerk, customer], files)
    post_bodies = {b.track_id for b in [*clerk, customer] if at_staff_post(b, posts)}
    assert post_bodies == {"K0", "K2", "K5"}
    people = pd.DataFrame(
        [{"track_id": "K0", "face_track_ids": ["f0"]}, {"track_id": "K2", "face_track_ids": ["f2"]}]
        + [{"track_id": "C1", "face_track_ids": ["f9"]}]
    )
    assignments = {
        "f0": Assignment("CUST_0001", None, False),
        "f2": Assignment("CUST_0001", None, False),
        "f9": Assignment("CUST_0002", None, False),
    }
    why = staff_by_post(assignments, people, post_bodies, posts)
    assert list(why) == ["CUST_0001"]
    assert why["CUST_0001"].startswith("stands at the staff post (2 of 2 bodies;")
    # staff_by_presence makes it staff (and takes the customer ID back) with that reason
    day = tracks([("f0", 0, 1, basis(50)), ("f2", 120, 121, basis(50)), ("f9", 60, 61, basis(51))])
    result = assign_identities(day, [], {}, next_number=1)
    cid = result.assignments["f0"].customer_id
    why = staff_by_post(result.assignments, people, post_bodies, posts)
    visits = build_visits(DAY1, day, result.assignments)
    p = staff_by_presence(result, visits, 240.0, [], 1, StaffRules(), files, why)
    assert p.promoted == {cid: "STAFF_UNENROLLED_01"}
    assert p.reasons["STAFF_UNENROLLED_01"].startswith("stands at the staff post")
    assert p.result.assignments["f9"].customer_id == "CUST_0001"  # the customer keeps the first number
