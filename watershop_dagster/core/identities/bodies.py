"""Visits from people, identities from faces.

Person tracks (bodies found by YOLOX-Nano on the analysed frames, core/footage/persons.py, followed over time in
body_tracks.py) are joined to face tracks (faces_on_bodies.py). A face track whose body was seen longer (the
person came in with their back to the camera, or turned away before leaving) takes the body's entry and exit.
A person track that no face joined is still a presence: an **unidentified visit** (`customer_id` NULL,
`identified` false, never staff), counted in
footfall, peak hours, walk-outs and sale links, but not as a customer.

Plain Python: no Dagster here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.body_tracks import PersonRules, PersonTrack, box_iou, seconds_between
from watershop_dagster.core.footage.faces_on_bodies import part_of_someone, upper_body_of
from watershop_dagster.core.footage.persons import PersonBox, look_distance, median_look
from watershop_dagster.core.identities.cameras import CAMERA_SPANS, CameraRules, one_visit_per_person
from watershop_dagster.core.storage.schemas import VISIT_LOG


def _body_of_faces(person_tracks: pd.DataFrame | None) -> dict:
    """face track id -> the person_tracks row of the body it was joined to."""
    if person_tracks is None or person_tracks.empty:
        return {}
    return {
        face_id: p
        for p in person_tracks.itertuples(index=False)
        for face_id in (p.face_track_ids if p.face_track_ids is not None else [])
    }


def extend_by_bodies(tracks: pd.DataFrame, person_tracks: pd.DataFrame) -> pd.DataFrame:
    """face_tracks rows with first_time/last_time widened to the part of the joined body that is the face's
    person (body_first_time, body_last_time); rows stored before those columns take the whole body's span
    from person_tracks. The face's own span stays as face_first_time/face_last_time."""
    if tracks.empty:
        return tracks.assign(face_first_time=tracks["first_time"], face_last_time=tracks["last_time"])
    span = {face_id: (p.first_time, p.last_time) for face_id, p in _body_of_faces(person_tracks).items()}
    out = tracks.copy()
    out["face_first_time"], out["face_last_time"] = out["first_time"], out["last_time"]
    own = zip(
        out.get("body_first_time", pd.Series(None, index=out.index)),
        out.get("body_last_time", pd.Series(None, index=out.index)),
        strict=True,
    )
    firsts, lasts = [], []
    for tid, a, b, (own_a, own_b) in zip(out["track_id"], out["first_time"], out["last_time"], own, strict=True):
        body = (own_a, own_b) if pd.notna(own_a) and pd.notna(own_b) else span.get(tid)
        firsts.append(min(a, body[0]) if body else a)
        lasts.append(max(b, body[1]) if body else b)
    out["first_time"], out["last_time"] = firsts, lasts
    return out


def with_looks(tracks: pd.DataFrame, person_tracks: pd.DataFrame, bodies: Sequence[PersonTrack]) -> pd.DataFrame:
    """face_tracks rows (after `extend_by_bodies`) with a `look` column: the median clothes colour
    (`body_look`) of the joined body's boxes within the track's own span, the part of the body that is this
    face's person; None without a body or where no box had a look."""
    out = tracks.copy()
    if tracks.empty:
        out["look"] = pd.Series(dtype=object)
        return out
    body_of = {face_id: p.track_id for face_id, p in _body_of_faces(person_tracks).items()}
    by_id = {b.track_id: b for b in bodies}
    looks: list[tuple[float, float, float] | None] = []
    for tid, first, last in zip(out["track_id"], out["first_time"], out["last_time"], strict=True):
        body = by_id.get(body_of.get(tid, ""))
        if body is None:
            looks.append(None)
            continue
        # the boxes in the face track's span, found by bisection: a staff member's body can hold a day of boxes
        lo, hi = bisect_left(body.times, first), bisect_right(body.times, last)
        looks.append(median_look(body.boxes[lo:hi]))
    out["look"] = looks
    return out


def faceless_visits(
    person_tracks: pd.DataFrame,
    rules: PersonRules | None = None,
    identified_tracks: set[str] | None = None,
    not_visits: Collection[str] = (),
) -> pd.DataFrame:
    """visit_log rows (without day and visit_id) for the person tracks marked as unidentified presences (no face
    joined, long enough, tall enough, not a seen person's upper body); rows stored before that mark existed are
    judged by face, duration and height alone.

    With `identified_tracks` (the face tracks the identity stage gave an ID), a body whose joined faces were all
    left unidentified (too few, too small, too blurred to say who it is: a small face in a dim shop) is an
    unidentified visit too, if it was seen for min_presence_s: someone was there even if no face says who.

    `not_visits`: person tracks that are nobody's visit of their own (staff at their post, a body that is a
    part or the continuation of an identified one: `duplicate_bodies`)."""
    rules = rules or PersonRules()
    cols = [c for c in VISIT_LOG.column_names if c not in ("day", "visit_id")] + [CAMERA_SPANS]
    if person_tracks is None or person_tracks.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for p in person_tracks.itertuples(index=False):
        if p.track_id in not_visits:
            continue
        marked = getattr(p, "unidentified_presence", None)
        faces = list(p.face_track_ids) if p.face_track_ids is not None else []
        if identified_tracks is not None and faces and not (set(faces) & identified_tracks):
            if p.duration_seconds < rules.min_presence_s or p.max_box_height < rules.min_box_height_px:
                continue
        elif marked is not None and not pd.isna(marked):
            if not marked:
                continue
        elif (
            (p.face_track_ids is not None and len(p.face_track_ids))
            or p.duration_seconds < rules.min_presence_s
            or p.max_box_height < rules.min_box_height_px
        ):
            continue
        rows.append(
            {
                "customer_id": None,
                "entry_time": p.first_time,
                "exit_time": p.last_time,
                "faces_seen": 0,
                "tracks": 0,
                "match_similarity": None,
                "best_crop_path": None,
                "is_staff": False,
                "staff_reason": None,
                "identified": False,
                "person_track_id": p.track_id,
                "cameras": getattr(p, "camera", None),
                CAMERA_SPANS: {p.camera: [(p.first_time, p.last_time)]} if hasattr(p, "camera") else {},
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _near(a: PersonBox, b: PersonBox, rules: PersonRules) -> bool:
    h = max(a.height, b.height)
    (ax, ay), (bx, by) = a.centre, b.centre
    return (
        abs(ax - bx) <= rules.continue_shift * h
        and abs(ay - by) <= rules.continue_shift * h
        and _alike_in_height(a, b, rules)
    )


def _alike_in_height(a: PersonBox, b: PersonBox, rules: PersonRules) -> bool:
    """Neither box more than max_height_ratio times as tall as the other (else someone else, or a merged pair)."""
    return max(a.height, b.height) <= rules.max_height_ratio * max(min(a.height, b.height), 1e-6)


def _clothes_apart(first: PersonTrack, then: PersonTrack, rules: PersonRules) -> float | None:
    """How far the clothes at the end of `first` are from those at the start of `then` (`look_distance`; None
    where either is unknown)."""
    before, after = first.look(rules.look_samples), median_look(then.boxes[: rules.look_samples])
    return None if before is None or after is None else look_distance(before, after)


def _in_order(a: PersonTrack, b: PersonTrack) -> tuple[PersonTrack, PersonTrack]:
    """The two bodies, the one first seen first."""
    return (a, b) if seconds_between(a.first_time, b.first_time) >= 0 else (b, a)


def _stands_still(boxes: Sequence[PersonBox], rules: PersonRules) -> bool:
    """Whether these boxes (two at least) are one person standing: their centres within still_motion of the
    median height."""
    if len(boxes) < 2:
        return False
    xs, ys = zip(*(b.centre for b in boxes), strict=True)
    height = sorted(b.height for b in boxes)[len(boxes) // 2]
    return max(max(xs) - min(xs), max(ys) - min(ys)) <= rules.still_motion * height


def continues(a: PersonTrack, b: PersonTrack, rules: PersonRules | None = None) -> bool:
    """Whether body b picks up where body a left off (or a where b left off): the gap between them at most
    continue_gap_s and the last box of the earlier one near the first box of the later one; or at most
    still_gap_s, in the same place (still_iou) and the same clothes (same_clothes), standing still at the end
    of the one or the start of the other (still_motion)."""
    rules = rules or PersonRules()
    if a.camera != b.camera or not a.boxes or not b.boxes:
        return False
    first, then = _in_order(a, b)
    gap = seconds_between(first.last_time, then.first_time)
    if 0 <= gap <= rules.continue_gap_s and _near(first.boxes[-1], then.boxes[0], rules):
        return True
    apart = _clothes_apart(first, then, rules)
    return (
        0 <= gap <= rules.still_gap_s
        and box_iou(first.boxes[-1], then.boxes[0]) >= rules.still_iou
        and apart is not None
        and apart <= rules.same_clothes
        and (
            _stands_still(first.boxes[-rules.look_samples :], rules)
            or _stands_still(then.boxes[: rules.look_samples], rules)
        )
    )


def dressed_alike(a: PersonTrack, b: PersonTrack, rules: PersonRules | None = None) -> bool:
    """Whether the end of one body and the start of the other wear clothes the tracker would not call someone
    else's (within look_max; unknown clothes do not say no)."""
    rules = rules or PersonRules()
    apart = _clothes_apart(*_in_order(a, b), rules)
    return apart is None or apart <= rules.look_max


def duplicate_bodies(
    tracks: Sequence[PersonTrack],
    identified: Collection[str],
    rules: PersonRules | None = None,
    staff: Collection[str] = (),
) -> set[str]:
    """Track IDs of the bodies that are not a person of their own, among those not `identified` (joined to a
    face the identity stage named) nor `staff` (standing at the staff post): a smaller box mostly inside an
    identified body at the same times or within part_max_dt_s of them (its upper body, found again), or the
    continuation of an identified body (`continues`: the tracker lost that person for a moment, the new
    track's face too small or turned to name them). A staff body is held to more: it stands at the counter
    all day, and a customer across the counter can stand inside its box, or where it was last seen. Its upper
    body is a box inside it at the same moments and at most upper_body_height_share of its height there
    (`upper_body_of`), its continuation one in the same clothes (`dressed_alike`). (Seed 353, day 2: the
    clerk at the post, faceless, was found as a whole body and as an upper body in its box, which was tracked
    a few seconds longer and counted as a customer.)"""
    rules = rules or PersonRules()
    named = [t for t in tracks if t.track_id in identified]
    at_post = [t for t in tracks if t.track_id in staff and t.track_id not in identified]
    nearby = replace(rules, join_max_dt_s=max(rules.join_max_dt_s, rules.part_max_dt_s))
    out = set()
    for t in tracks:
        if t.track_id in identified or t.track_id in staff:
            continue
        of_named = part_of_someone(t, named, nearby) or any(continues(t, o, rules) for o in named)
        of_staff = any(
            (upper_body_of(t, o, rules) and part_of_someone(t, [o], rules))
            or (continues(t, o, rules) and dressed_alike(t, o, rules))
            for o in at_post
        )
        if of_named or of_staff:
            out.add(t.track_id)
    return out


def chain_fragments(
    person_tracks: pd.DataFrame,
    tracks: Sequence[PersonTrack],
    named: Collection[str],
    not_visits: Collection[str] = (),
    rules: PersonRules | None = None,
) -> tuple[pd.DataFrame, set[str]]:
    """One faceless person standing still at the counter between sparse samples, the detector finding the whole
    body in one frame and nothing or the upper body in the next, comes out as a string of short tracks; each
    alone may be shorter than min_presence_s, and the visit they make is cut short. Bodies not `named` (and not
    in `not_visits`) that go on from one another are chained (`_chains`): the chain's first marked presence
    takes the whole chain's span, and the others are returned as bodies that are no visit of their own. A chain
    none of whose pieces is a presence (`unidentified_presence`) is left alone, but for one whose first piece
    walked in from the door and last walked back out to it, at least min_presence_s apart (`Doorways.walks_in`,
    `walks_out`). Returns (person_tracks with the spans widened, those bodies)."""
    rules = rules or PersonRules()
    if person_tracks is None or person_tracks.empty:
        return person_tracks, set()
    free = sorted(
        (t for t in tracks if t.track_id not in named and t.track_id not in not_visits and t.boxes),
        key=lambda t: t.first_time,
    )
    doorways = Doorways([t for t in tracks if t.track_id not in not_visits], rules)
    chains = _chains(free, rules, doorways)
    out = person_tracks.copy()
    row = {tid: i for i, tid in zip(out.index, out["track_id"], strict=True)}
    marked = out["unidentified_presence"] if "unidentified_presence" in out else pd.Series(None, index=out.index)
    absorbed: set[str] = set()
    for chain in chains:
        ids = [t.track_id for t in chain if t.track_id in row]
        if len(ids) < 2:
            continue
        flagged = [i for i in ids if pd.notna(marked.loc[row[i]]) and bool(marked.loc[row[i]])]
        if not flagged:
            # Pieces none of which is a presence (parts, passers-by) make none together, unless the chain walked
            # in from the door and back out to it, long enough apart for a visit: somebody came in and left.
            in_and_out = doorways.walks_in(chain[0]) and doorways.walks_out(chain[-1])
            if not (in_and_out and seconds_between(chain[0].first_time, chain[-1].last_time) >= rules.min_presence_s):
                continue
            flagged = ids[:1]
            out.loc[row[ids[0]], "unidentified_presence"] = True
        head = flagged[0]
        first = min(out.loc[row[i], "first_time"] for i in ids)
        last = max(out.loc[row[i], "last_time"] for i in ids)
        out.loc[row[head], "first_time"], out.loc[row[head], "last_time"] = first, last
        out.loc[row[head], "duration_seconds"] = (pd.Timestamp(last) - pd.Timestamp(first)).total_seconds()
        absorbed |= set(ids) - {head}
    return out, absorbed


def _walked_on(first: PersonTrack, then: PersonTrack, rules: PersonRules) -> bool:
    """Whether `then` is `first` found again further along its walk: within continue_gap_s, at most
    max_shift_same_clothes heights on (the tracker's own reach for the same clothes), the way `first` was
    walking (within 60 degrees), and in the same clothes (same_clothes). On the real walk-in clip two visitors
    6 s apart were 2.8 apart in colour (backs in dark clothes): the next one came in behind where the last one
    walked out, not on from it."""
    gap = seconds_between(first.last_time, then.first_time)
    if first.camera != then.camera or len(first.boxes) < 2 or not 0 <= gap <= rules.continue_gap_s:
        return False  # two cameras' boxes are not one picture (seed 563: a door-camera piece went on as a counter one)
    a, b = first.boxes[-1], then.boxes[0]
    walk = np.subtract(a.centre, first.boxes[-2].centre)
    step = np.subtract(b.centre, a.centre)
    if float(walk @ step) <= 0.5 * float(np.hypot(*walk) * np.hypot(*step)):
        return False
    apart = _clothes_apart(first, then, rules)
    return (
        float(np.abs(step).max()) <= rules.max_shift_same_clothes * max(a.height, b.height)
        and _alike_in_height(a, b, rules)
        and apart is not None
        and apart <= rules.same_clothes
    )


class Doorways:
    """Per camera, where people come in and go out, and every body it saw that may be a visit (named or not).

    The door: the place (a box centre) with the most of the bodies' first and last boxes within door_radius of a
    box height of it, door_min_ends of them at least. Every visit begins and ends at the door; bodies lost and
    found at the counter spread over its places."""

    def __init__(self, tracks: Sequence[PersonTrack], rules: PersonRules):
        self.rules = rules
        self.bodies: dict[str, list[PersonTrack]] = {}
        for t in tracks:
            if len(t.boxes) >= 2:
                self.bodies.setdefault(t.camera, []).append(t)
        self.door: dict[str, np.ndarray] = {}
        for camera, bodies in self.bodies.items():
            ends = [box for t in bodies for box in (t.boxes[0], t.boxes[-1])]
            centres = np.array([box.centre for box in ends])
            near = [int((np.hypot(*(centres - box.centre).T) <= rules.door_radius * box.height).sum()) for box in ends]
            best = int(np.argmax(near))
            if near[best] >= rules.door_min_ends:
                self.door[camera] = centres[best]

    @staticmethod
    def _from_door(box: PersonBox, door: np.ndarray) -> float:
        return float(np.hypot(*np.subtract(box.centre, door)))

    def _walks(self, track: PersonTrack, inward: bool) -> bool:
        """Whether the body walks in from its camera's door (`inward`: its first box at the door, its last further
        from it by more than door_walk_min of a box height) or out to it (the other way round); standing at the
        door is neither."""
        door = self.door.get(track.camera)
        if door is None or len(track.boxes) < 2:
            return False
        at, away = (track.boxes[0], track.boxes[-1]) if inward else (track.boxes[-1], track.boxes[0])
        near, far = self._from_door(at, door), self._from_door(away, door)
        return near <= self.rules.door_radius * at.height and far - near > self.rules.door_walk_min * at.height

    def walks_in(self, track: PersonTrack) -> bool:
        return self._walks(track, inward=True)

    def walks_out(self, track: PersonTrack) -> bool:
        return self._walks(track, inward=False)

    def in_and_out(self, first: PersonTrack, then: PersonTrack) -> bool:
        """Whether `first` walks in from the door and `then`, up to still_gap_s later, walks back out to it in the
        same clothes (same_clothes): one customer the detector lost between, standing at the counter in front of
        the clerk (seed 541, day 1: 25 s, the pieces 0.5 apart in colour). The door tells this from one customer
        walking out and the next walking in where she was last seen (seed 401): the same pair, read backwards.
        Only if no other body of the camera, named ones too, is as close a match in clothes for either: one that
        began in that time for `first`, one that ended in it for `then` (seed 563: a named customer's first
        seconds under the door camera, his face found on a later body, went out as another customer 2.2 apart in
        colour, while his own named body, 0.0 apart, walked out)."""
        rules = self.rules
        if first.camera != then.camera or not (self.walks_in(first) and self.walks_out(then)):
            return False
        if not 0 <= seconds_between(first.last_time, then.first_time) <= rules.still_gap_s:
            return False
        apart = _clothes_apart(first, then, rules)
        if apart is None or apart > rules.same_clothes:
            return False
        for other in self.bodies[first.camera]:
            if other is first or other is then:
                continue
            if 0 <= seconds_between(first.last_time, other.first_time) <= rules.still_gap_s:
                rival = _clothes_apart(first, other, rules)
                if rival is not None and rival <= apart:
                    return False
            if 0 <= seconds_between(other.last_time, then.first_time) <= rules.still_gap_s:
                rival = _clothes_apart(other, then, rules)
                if rival is not None and rival <= apart:
                    return False
        return True


def _chains(
    pieces: Sequence[PersonTrack], rules: PersonRules, doorways: Doorways | None = None
) -> list[list[PersonTrack]]:
    """The pieces (in order of first sight) strung into chains of one person each: a piece goes on from one
    that ended before it began where it `continues` it or walked on from it (`_walked_on`), in clothes within
    `chain_look_max` (the next customer walking in from the door where a customer was last seen, before that
    one walked on to the counter, is another person; a piece that continues a named body, in
    `duplicate_bodies`, keeps `continues` alone, the named body's clothes may have been measured on a box it
    shared with someone). Where several could go on from one piece, or one from several, the closest clothes
    win: a customer lost as she walked from the door to the counter, and the next customer walking in at the
    door where she was last seen, are both near enough to go on from her, but only one wears her clothes (seed
    541, day 2: 0.5 against 25.3; before, the first found won). Given each camera's door (`doorways`), a piece
    that walked in from it also goes on as one in the same clothes that walks back out to it (`Doorways.in_and_out`)."""
    links = []
    for i, a in enumerate(pieces):
        for b in pieces[i + 1 :]:
            gap = seconds_between(a.last_time, b.first_time)
            if gap > max(rules.still_gap_s, rules.continue_gap_s):
                break  # pieces come in order of first sight: every later one is further still
            if gap < 0 or seconds_between(a.first_time, b.first_time) <= 0:
                continue
            if not (
                continues(a, b, rules)
                or _walked_on(a, b, rules)
                or (doorways is not None and doorways.in_and_out(a, b))  # asked last: the costliest
            ):
                continue
            apart = _clothes_apart(a, b, rules)
            cost = rules.chain_look_max if apart is None else apart
            if cost <= rules.chain_look_max:
                links.append((cost, gap, a.track_id, b.track_id))
    after_of: dict[str, str] = {}
    before_of: dict[str, str] = {}
    for _, _, a_id, b_id in sorted(links):
        if a_id not in after_of and b_id not in before_of:
            after_of[a_id], before_of[b_id] = b_id, a_id
    by_id = {t.track_id: t for t in pieces}
    chains = []
    for t in pieces:
        if t.track_id in before_of:
            continue
        chain = [t]
        while chain[-1].track_id in after_of:
            chain.append(by_id[after_of[chain[-1].track_id]])
        chains.append(chain)
    return chains


def unidentified_visits(
    person_tracks: pd.DataFrame,
    tracks: Sequence[PersonTrack],
    named: Collection[str],
    staff_bodies: Collection[str] = (),
    rules: PersonRules | None = None,
) -> pd.DataFrame:
    """visit_log rows (without day and visit_id) of the people no face named. `person_tracks` are the day's
    rows, `tracks` the same bodies with their boxes, `named` the face tracks the identity stage gave an ID and
    `staff_bodies` the bodies of staff at their post. A body is nobody's visit of its own when it is staff, a
    part or continuation of a named body or of a staff body (`duplicate_bodies`), or a later piece of one
    faceless person (`chain_fragments`). (Seed 353, day 2: the clerk at the post, faceless, was found as a whole
    body and as an upper body in its box; the whole body was staff, and its upper body, tracked a few seconds
    longer, was counted twice as a customer's visit.)"""
    named_bodies = (
        {
            p.track_id
            for p in person_tracks.itertuples(index=False)
            if p.face_track_ids is not None and set(p.face_track_ids) & set(named)
        }
        if person_tracks is not None and len(person_tracks)
        else set()
    )
    not_visits = set(staff_bodies) | duplicate_bodies(tracks, named_bodies, rules, staff=staff_bodies)
    pieces, absorbed = chain_fragments(person_tracks, tracks, named_bodies, not_visits, rules)
    return faceless_visits(pieces, rules, identified_tracks=set(named), not_visits=not_visits | absorbed)


def with_faceless_visits(
    day: date, visits: pd.DataFrame, faceless: pd.DataFrame, camera_rules: CameraRules | None = None
) -> pd.DataFrame:
    """Face visits (identified) and faceless ones in one table, one visit per person across the shop's cameras
    (`cameras.one_visit_per_person`), numbered <day>/V<n> by entry time."""
    cols = [c for c in VISIT_LOG.column_names if c != "day"]
    face = visits.copy()
    face["identified"] = True
    parts = [x for x in (face, faceless) if len(x)]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = one_visit_per_person(pd.concat([p.astype(object) for p in parts], ignore_index=True), camera_rules)
    out["_sort"] = out["customer_id"].fillna("~")
    out = out.sort_values(["entry_time", "_sort"], kind="stable", ignore_index=True).drop(columns="_sort")
    out["visit_id"] = [f"{day.isoformat()}/V{n:04d}" for n in range(1, len(out) + 1)]
    out["duration_seconds"] = [(b - a).total_seconds() for a, b in zip(out["entry_time"], out["exit_time"])]
    return out[cols]
