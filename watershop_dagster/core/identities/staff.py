"""Staff stay staff: a gallery that grows from their own confirmed appearances, and presence as evidence.

Two failure modes put a staff member among the customers, and a staff visit counted as a customer visit
inflates every figure the owner reads (footfall, customers, walk-outs):

1. **A changed look.** Enrolment photos are taken once; haircut, glasses, lighting, a new camera angle drift
   the face away from them. Each day a cluster is recognised as STAFF_x (above the staff threshold and more
   like the staff member than like any customer), that day's cluster mean is stored as the staff member's
   registry row, like a customer's centroid. `staff_gallery` adds every stored day's centroid of a staff ID
   to its enrolment photos, so the next day is compared with the photos AND with how they looked lately:
   drift a little each day and you are still recognised.
2. **Nobody enrolled them** (a new helper, a relative minding the till). A "customer" whose visits cover more
   than `max_customer_share` (60%) of the day's recorded footage is behind the counter, not buying water:
   no refill takes hours. `staff_by_presence` turns such identities into staff for that day
   (`STAFF_UNENROLLED_<n>`), does not mint a customer ID for them (the following new customers keep
   consecutive numbers), and says why in `staff_reason`. Their registry row is a staff row, so from the next
   day on their face is in the staff gallery and a short appearance is staff too. The same holds for an
   identity seen in at least `min_recordings_seen` (5) of the day's recordings and more than half of them:
   a camera that records on motion writes one file per burst of customers,
   and a staff member who stands still behind the counter is seen in every one of them for a few seconds
   (the sampler looks where something changes), which the share of footage misses.

Plain Python: no Dagster here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.body_tracks import PersonTrack
from watershop_dagster.core.footage.manifest import covered_seconds
from watershop_dagster.core.footage.persons import median_look, same_clothes
from watershop_dagster.core.identities.matching import (
    Assignment,
    IdentityResult,
    IdentityRules,
    RegistryEntry,
    renumbered,
)

UNENROLLED_PREFIX = "STAFF_UNENROLLED_"
REASON_ENROLLED = "recognised as enrolled staff"


@dataclass(frozen=True)
class StaffRules:
    max_customer_share: float = 0.6  # visits covering more of the day's footage than this are staff-like
    min_span_s: float = 3600.0  # a day with less footage says nothing about who stays all day
    # Seen in at least min_recordings_seen of the day's recordings (files) and in more than half of them:
    # staff-like. A regular may refill four or five times a day (the simulator's regulars do), so a third of
    # the recordings, or four of them, can be a customer.
    max_customer_recordings: float = 0.5
    min_recordings_seen: int = 5
    # The staff post: a place where a body stands still (its centre moves less than post_still_share of its
    # height over the track) at the day's first or last recording (whoever opens or closes the shop) and in at
    # least post_min_share (and post_min_recordings) of the day's recordings. Still bodies there are staff,
    # whether or not a face says who they are. Places are compared in box heights (post_radius_share, centres;
    # post_height_ratio, heights), so a near and a far camera are judged alike.
    post_still_share: float = 0.25
    post_radius_share: float = 0.5
    post_height_ratio: float = 1.25
    post_min_share: float = 0.4
    post_min_recordings: int = 3
    # ...or, where recognised staff stood still (their face named on the body) in post_min_staff_recordings of
    # them, post_min_recordings alone (customers standing at the same spot do not make it a post).
    post_min_staff_recordings: int = 2
    post_min_body_share: float = 0.5  # an identity with at least this share of its bodies at a post is staff
    # ...or where a still body was already in view when the recording began (its track starting within
    # post_start_s of the file's start) in post_min_share (and post_min_recordings) of the day's recordings: a
    # camera that records on motion starts a file when a customer walks in, and finds the clerk already there.
    # (Seed 191, day 4: the clerk's face, in that day's photo, was found only at opening, where her body was
    # not, and in one 1-s glimpse; her body stood at the till from the first frame of 7 of 9 recordings and
    # made 7 faceless customer visits.)
    post_start_s: float = 2.0
    # A faceless body standing still where a body of recognised staff stood still that day (the same place,
    # `_same_place`), in the same clothes (the identity stage's same-clothes rule: colour and lightness), is
    # that staff member, post or no post. Seed 383 (regenerated 2026-12-04), day 1: the second clerk, beside the
    # door, was found as a body in two recordings only, named by face at 11:40 and faceless at 19:12 in a queue
    # of four: too few recordings for a post, and the faceless one was counted as a customer.
    clothes_max_colour: float = IdentityRules.same_clothes_max_colour
    clothes_max_lightness: float = IdentityRules.same_clothes_max_lightness
    # A post where recognised staff stood on one of the post_memory_days before is a post today wherever still
    # bodies stand there in post_remembered_min_recordings of today's recordings, face or no face: the counter
    # does not move overnight. (Seed 619, day 4: the clerk, in a new photo, was never named; her body stood at
    # the post of days 3 and 5 in 2 of the day's 8 recordings, too few for a post of its own, and made two
    # faceless customer visits.)
    post_memory_days: int = 14
    post_remembered_min_recordings: int = 2


@dataclass
class PresenceResult:
    result: IdentityResult
    reasons: dict[str, str] = field(default_factory=dict)  # id -> why it is staff (both kinds)
    promoted: dict[str, str] = field(default_factory=dict)  # customer id as first assigned -> staff id given


def staff_gallery(
    photos: dict[str, np.ndarray], registry_staff: Iterable[tuple[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """staff id -> (n, d) gallery: its enrolment photos plus every stored day's centroid of that id (rows of
    the registry with is_staff). A staff ID that has no photos (STAFF_UNENROLLED_n) is recognised from its
    stored centroids alone."""
    out = {sid: np.asarray(g, np.float32) for sid, g in photos.items()}
    for sid, centroid in registry_staff:
        c = np.asarray(centroid, np.float32)[None, :]
        out[sid] = np.vstack([out[sid], c]) if sid in out else c
    return out


def recordings(manifest: pd.DataFrame) -> list[tuple[datetime, datetime]]:
    """(start, end) of each usable file of the day (footage_manifest rows with status ok)."""
    ok = _usable(manifest)
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(ok["start_time"], ok["end_time"])]


def _usable(manifest: pd.DataFrame) -> pd.DataFrame:
    if manifest is None or manifest.empty:
        return pd.DataFrame(columns=["camera", "start_time", "end_time"])
    return manifest[(manifest["status"] == "ok") & manifest["start_time"].notna() & manifest["end_time"].notna()]


def camera_recordings(manifest: pd.DataFrame) -> dict[str, list[tuple[datetime, datetime]]]:
    """Camera -> (start, end) of each of its usable files of the day, in time order."""
    ok = _usable(manifest)
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for camera, a, b in zip(ok["camera"], ok["start_time"], ok["end_time"]):
        out.setdefault(str(camera), []).append((pd.Timestamp(a), pd.Timestamp(b)))
    return {camera: sorted(spans) for camera, spans in out.items()}


def occupied_recordings(
    by_camera: Mapping[str, Sequence[tuple[datetime, datetime]]], seen: Iterable[tuple[str, Any, Any]]
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each camera's recordings in which somebody was seen (`seen`: camera, first and last time of each face or
    body track). A recording with nobody in it says nothing of who is there often: a DVR that records all the
    time writes the night's and the shut shop's files too (a shop open 9 hours of a day of 24 hourly files
    would have its clerk in 9 of 24, under every share the staff rules ask for). The staff rules count the
    recordings somebody is in, and the footage seconds of those; a camera that records on motion has somebody
    in nearly all of them."""
    spans_seen: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for camera, first, last in seen:
        spans_seen.setdefault(str(camera), []).append((pd.Timestamp(first), pd.Timestamp(last)))
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for camera, spans in by_camera.items():
        there = spans_seen.get(camera, [])
        kept = [span for span in spans if _meets(there, pd.Timestamp(span[0]), pd.Timestamp(span[1]))]
        if kept:
            out[camera] = kept
    return out


def _meets(spans: Iterable[tuple[pd.Timestamp, pd.Timestamp]], a: pd.Timestamp, b: pd.Timestamp) -> bool:
    """Whether any of `spans` shares a moment with [a, b]."""
    return any(first <= b and last >= a for first, last in spans)


def footage_span_seconds(manifest: pd.DataFrame) -> float:
    """Seconds of the day recorded by at least one usable file."""
    return covered_seconds(recordings(manifest))


def recording_shares(visits: pd.DataFrame, spans: Sequence[tuple[datetime, datetime]]) -> dict[str, float]:
    """Non-staff identity -> share of the day's recordings in which it was seen (a visit overlapping them)."""
    if visits.empty or not spans:
        return {}
    shares = {}
    for cid, rows in visits[~visits["is_staff"].astype(bool) & visits["customer_id"].notna()].groupby("customer_id"):
        seen = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(rows["entry_time"], rows["exit_time"])]
        hit = sum(1 for start, end in spans if any(a <= end and b >= start for a, b in seen))
        shares[str(cid)] = hit / len(spans)
    return shares


def presence_shares(visits: pd.DataFrame, span_s: float) -> dict[str, float]:
    """Non-staff identity -> share of the day's footage its visits cover (union of its visits)."""
    if visits.empty or span_s <= 0:
        return {}
    shares = {}
    for cid, rows in visits[~visits["is_staff"].astype(bool) & visits["customer_id"].notna()].groupby("customer_id"):
        spans = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(rows["entry_time"], rows["exit_time"])]
        shares[str(cid)] = covered_seconds(spans) / span_s
    return shares


def staff_by_presence(
    result: IdentityResult,
    visits: pd.DataFrame,
    span_s: float,
    registry: Sequence[RegistryEntry],
    next_number: int,
    rules: StaffRules | None = None,
    spans: Sequence[tuple[datetime, datetime]] = (),
    at_post: dict[str, str] | None = None,
    walkers: Collection[str] = (),
) -> PresenceResult:
    """The identity result with every identity present for more than max_customer_share of the footage made
    staff: its tracks get a `STAFF_UNENROLLED_<n>` id (numbered after those already in the registry), IDs
    minted today for such people are taken back, and the other IDs minted today are renumbered from
    `next_number` in the same order, as if the staff member had never been a customer (unless an owner's
    correction retired a number today: those are never handed out again). `visits` are the
    visits built from `result` (rebuild them from the returned result). `at_post`: identities found standing
    at the staff post (`staff_by_post`), with the reason, staff too. `walkers`: identities whose bodies walk in
    and out (`walks_in_and_out`), which the recordings rule leaves customers: a regular who refills eight times
    on a quiet day is seen in more than half of its recordings too."""
    rules = rules or StaffRules()
    reasons = {cid: REASON_ENROLLED for cid in result.day_centroids if cid.startswith("STAFF_")}
    why: dict[str, str] = {}
    if span_s >= rules.min_span_s:
        for c, share in presence_shares(visits, span_s).items():
            if share > rules.max_customer_share:
                why[c] = f"present {share:.0%} of the day's footage (more than {rules.max_customer_share:.0%})"
    for c, share in recording_shares(visits, spans).items():
        seen = round(share * len(spans))
        if (
            seen >= rules.min_recordings_seen
            and share > rules.max_customer_recordings
            and c not in why
            and c not in walkers
        ):
            why[c] = (
                f"seen in {seen} of the day's {len(spans)} recordings (more than half: no customer comes that often)"
            )
    for c, reason in (at_post or {}).items():
        if c not in why and c in result.day_centroids and not c.startswith("STAFF_"):
            why[c] = reason
    staff_like = sorted(why, key=_first_entry(visits))
    if not staff_like:
        return PresenceResult(result, reasons)
    taken = {e.customer_id for e in registry if e.customer_id.startswith(UNENROLLED_PREFIX)}
    numbers = [int(t[len(UNENROLLED_PREFIX) :]) for t in taken if t[len(UNENROLLED_PREFIX) :].isdigit()]
    n = 1 + max(numbers, default=0)
    rename: dict[str, str] = {}
    for cid in staff_like:
        rename[cid] = f"{UNENROLLED_PREFIX}{n:02d}"
        reasons[rename[cid]] = why[cid]
        n += 1
    kept_new = [c for c in result.new_ids if c not in rename]
    rename |= renumbered(kept_new, next_number, result.retired_ids)
    promoted = {c: rename[c] for c in staff_like}
    assignments = {}
    for track, a in result.assignments.items():
        if a.customer_id in promoted:
            assignments[track] = Assignment(promoted[a.customer_id], None, True)
        else:
            assignments[track] = Assignment(rename.get(a.customer_id, a.customer_id), a.similarity, a.is_staff)
    centroids = {rename.get(c, c): v for c, v in result.day_centroids.items()}
    new = IdentityResult(
        assignments,
        centroids,
        [rename.get(c, c) for c in kept_new],
        unidentified_tracks=result.unidentified_tracks,
        retired_ids=result.retired_ids,
    )
    return PresenceResult(new, reasons, promoted)


def _first_entry(visits: pd.DataFrame):
    first = visits.groupby("customer_id")["entry_time"].min().to_dict() if len(visits) else {}
    return lambda cid: (first.get(cid), cid)


def with_staff_reasons(visits: pd.DataFrame, reasons: dict[str, str]) -> pd.DataFrame:
    """visit_log rows with `staff_reason` filled for staff visits (NULL for customers)."""
    out = visits.copy()
    out["staff_reason"] = (
        [reasons.get(str(c), REASON_ENROLLED) if bool(s) else None for c, s in zip(out["customer_id"], out["is_staff"])]
        if len(out)
        else pd.Series(dtype=object)
    )
    return out


@dataclass(frozen=True)
class StaffPost:
    """A place on one camera where staff stand: centre and box height of the still bodies found there, in how
    many of the camera's recordings of the day; whether recognised staff stood there that day; and, for a post
    found again from an earlier day's, the last day staff were recognised there."""

    camera: str
    cx: float
    cy: float
    height: float
    recordings_seen: int
    recordings: int
    held_by_staff: bool = False
    remembered_from: date | None = None

    @property
    def place(self) -> tuple[float, float, float]:
        return self.cx, self.cy, self.height

    def why(self) -> str:
        """Why it is a post, in the owner's words (the staff reason of the people standing there)."""
        seen = f"in {self.recordings_seen} of the day's {self.recordings} recordings"
        if self.remembered_from is not None:
            return f"where recognised staff stood on {self.remembered_from.isoformat()}, and {seen}"
        return f"someone stands there at opening or closing and {seen}"


def _centre(track: PersonTrack) -> tuple[float, float, float]:
    xs = [(b.x1 + b.x2) / 2 for b in track.boxes]
    ys = [(b.y1 + b.y2) / 2 for b in track.boxes]
    return float(np.median(xs)), float(np.median(ys)), float(np.median([b.height for b in track.boxes]))


def is_still(track: PersonTrack, rules: StaffRules | None = None) -> bool:
    """Whether a body stood still over its whole track (centre spread under post_still_share of its height):
    someone behind the counter, not a customer walking in, paying and walking out."""
    rules = rules or StaffRules()
    if not track.boxes:
        return False
    xs = [(b.x1 + b.x2) / 2 for b in track.boxes]
    ys = [(b.y1 + b.y2) / 2 for b in track.boxes]
    h = float(np.median([b.height for b in track.boxes]))
    return max(np.ptp(xs), np.ptp(ys)) <= rules.post_still_share * h


def _same_place(a: tuple[float, float, float], b: tuple[float, float, float], rules: StaffRules) -> bool:
    h = max(a[2], b[2])
    return (
        abs(a[0] - b[0]) <= rules.post_radius_share * h
        and abs(a[1] - b[1]) <= rules.post_radius_share * h
        and max(a[2], b[2]) <= rules.post_height_ratio * max(min(a[2], b[2]), 1e-6)
    )


def _seen_in(tracks: Sequence[PersonTrack], span: tuple[datetime, datetime]) -> bool:
    spans = ((pd.Timestamp(t.first_time), pd.Timestamp(t.last_time)) for t in tracks)
    return _meets(spans, pd.Timestamp(span[0]), pd.Timestamp(span[1]))


def _there_from_start(tracks: Sequence[PersonTrack], span: tuple[datetime, datetime], rules: StaffRules) -> bool:
    """Whether one of these tracks was in view from the recording's start (within post_start_s of it)."""
    a = pd.Timestamp(span[0])
    return any(abs((pd.Timestamp(t.first_time) - a).total_seconds()) <= rules.post_start_s for t in tracks)


def staff_posts(
    tracks: Sequence[PersonTrack],
    spans: Mapping[str, Sequence[tuple[datetime, datetime]]] | Sequence[tuple[datetime, datetime]],
    rules: StaffRules | None = None,
    staff_bodies: Collection[str] = (),
) -> list[StaffPost]:
    """The day's staff posts: places where a body stands still at the first or last recording of the day (the
    shop being opened or closed), or where a body of recognised staff (`staff_bodies`, track ids) stood still,
    or where a still body was in view from the start of many recordings (`post_start_s`), and in at least
    post_min_share and post_min_recordings of the recordings (where recognised staff stood still in
    post_min_staff_recordings of them, post_min_recordings alone). `spans`: each camera's recordings
    (`camera_recordings`; a place is judged by its own camera's files), or one list for every camera. A
    motion-triggered camera records
    every customer, and the clerk standing behind the counter is in those recordings too, often without a face
    the recogniser can use (small, turned, dim); customers walk in and out, and a spot where they stand still is
    not occupied when the shop opens or closes, nor where the clerk's face was recognised on the body standing
    there. (Seed 157, day 1: the clerk's face was named at opening but her body not found then; three of her
    faceless bodies at the post were counted as customers.)"""
    rules = rules or StaffRules()
    if isinstance(spans, Mapping):
        by_camera = {camera: sorted(s) for camera, s in spans.items()}
    else:
        every = sorted(spans)
        by_camera = {t.camera: every for t in tracks}
    still = [t for t in tracks if is_still(t, rules) and by_camera.get(t.camera)]
    places: list[list[PersonTrack]] = []
    keys: list[tuple[str, tuple[float, float, float]]] = []
    for t in sorted(still, key=lambda t: -len(t.boxes)):  # the longest still body founds its place
        c = _centre(t)
        for k, (camera, ref) in enumerate(keys):
            if camera == t.camera and _same_place(ref, c, rules):
                places[k].append(t)
                break
        else:
            keys.append((t.camera, c))
            places.append([t])

    posts = []
    for (camera, ref), members in zip(keys, places, strict=True):
        files = by_camera[camera]
        seen = sum(1 for span in files if _seen_in(members, span))
        at_ends = _seen_in(members, files[0]) or _seen_in(members, files[-1])
        staff_there = [m for m in members if m.track_id in staff_bodies]
        from_start = _enough(sum(1 for span in files if _there_from_start(members, span, rules)), len(files), rules)
        # Where recognised staff stood still in a few recordings, post_min_recordings suffice, not a share of
        # the day's: on a busy day a motion-triggered door camera writes many recordings in which the clerk is
        # hidden behind the queue or off the post (seed 379, day 3: the clerk still at the door camera's post in
        # 3 of 18, two of them named by face; the third, faceless, was counted as a customer).
        staff_there_enough = (
            sum(1 for span in files if _seen_in(staff_there, span)) >= rules.post_min_staff_recordings
            and seen >= rules.post_min_recordings
        )
        if ((at_ends or staff_there or from_start) and _enough(seen, len(files), rules)) or staff_there_enough:
            posts.append(StaffPost(camera, ref[0], ref[1], ref[2], seen, len(files), bool(staff_there)))
    return posts


def remembered_posts(
    earlier: pd.DataFrame,
    day: date,
    tracks: Sequence[PersonTrack],
    spans: Mapping[str, Sequence[tuple[datetime, datetime]]],
    today: Sequence[StaffPost] = (),
    rules: StaffRules | None = None,
    staff_bodies: Collection[str] = (),
) -> list[StaffPost]:
    """Earlier days' posts where recognised staff stood (`earlier`: staff_posts rows of the days before, as
    `post_rows` writes them), within post_memory_days of `day`, found again today: still bodies stand at the
    place, on its camera, in at least post_remembered_min_recordings of that camera's recordings (`spans`). A
    place already among `today`'s posts is not repeated. A remembered post is held by staff today where a body
    of recognised staff (`staff_bodies`, track ids) stands still there; one that is not is not remembered
    further: staff must be recognised there again within post_memory_days."""
    rules = rules or StaffRules()
    if earlier is None or earlier.empty:
        return []
    days = pd.to_datetime(earlier["day"]).dt.date
    recent = (days >= day - timedelta(days=rules.post_memory_days)) & (days < day)
    held = earlier[recent & earlier["held_by_staff"].eq(True)]  # NULL (an older write) is no
    still = [(t, _centre(t)) for t in tracks if is_still(t, rules)]  # each body's place, once for every post
    out: list[StaffPost] = []
    for r in held.sort_values("day", ascending=False).itertuples(index=False):
        camera, place = str(r.camera), (float(r.cx), float(r.cy), float(r.height))
        files = spans.get(camera)
        if not files or any(p.camera == camera and _same_place(p.place, place, rules) for p in [*today, *out]):
            continue
        there = [t for t, c in still if t.camera == camera and _same_place(place, c, rules)]
        seen = sum(1 for span in files if _seen_in(there, span))
        if seen >= rules.post_remembered_min_recordings:
            held = any(t.track_id in staff_bodies for t in there)
            out.append(StaffPost(camera, *place, seen, len(files), held, pd.Timestamp(r.day).date()))
    return out


def post_rows(posts: Sequence[StaffPost]) -> pd.DataFrame:
    """The day's staff_posts rows, a column per StaffPost field (day and shop are the partition's)."""
    return pd.DataFrame([astuple(p) for p in posts], columns=[f.name for f in fields(StaffPost)])


def _enough(recordings: int, of: int, rules: StaffRules) -> bool:
    """Whether a place seen in `recordings` of a camera's `of` recordings was seen in enough of them."""
    return recordings >= rules.post_min_recordings and recordings >= rules.post_min_share * of


def joined_bodies(assignments: dict[str, Assignment], person_tracks: pd.DataFrame, staff: bool) -> dict[str, set[str]]:
    """Identity -> person track ids of the bodies its face tracks joined, for the staff identities (`staff`)
    or for the customers."""
    out: dict[str, set[str]] = {}
    if person_tracks is None or person_tracks.empty:
        return out
    for p in person_tracks.itertuples(index=False):
        for face in p.face_track_ids if p.face_track_ids is not None else []:
            a = assignments.get(face)
            if a is not None and a.is_staff == staff:
                out.setdefault(a.customer_id, set()).add(p.track_id)
    return out


def bodies_of_staff(assignments: dict[str, Assignment], person_tracks: pd.DataFrame) -> set[str]:
    """Person track ids of the bodies joined to a face track that the identity stage named staff."""
    return set().union(*joined_bodies(assignments, person_tracks, staff=True).values())


def walks_in_and_out(
    assignments: dict[str, Assignment],
    person_tracks: pd.DataFrame,
    bodies: Sequence[PersonTrack],
    rules: StaffRules | None = None,
) -> set[str]:
    """Customer IDs most of whose joined bodies (at least post_min_recordings of them) moved over their track
    (`is_still` false): people who come in, pay and leave, not a clerk standing behind the counter. (The demo
    week's most frequent customer, 8 visits in a day's 15 recordings, was made staff by the recordings rule.)"""
    rules = rules or StaffRules()
    by_id = {b.track_id: b for b in bodies}
    out = set()
    for cid, ids in joined_bodies(assignments, person_tracks, staff=False).items():
        walked = [not is_still(by_id[t], rules) for t in ids if t in by_id]
        if len(walked) >= rules.post_min_recordings and sum(walked) > len(walked) / 2:
            out.add(cid)
    return out


def where_staff_stood(
    tracks: Sequence[PersonTrack], staff_bodies: Collection[str], rules: StaffRules | None = None
) -> set[str]:
    """Track ids of the still bodies, not themselves `staff_bodies`, that stood where a still body of recognised
    staff stood on the same camera that day, in the same clothes (`StaffRules.clothes_max_colour` and
    `clothes_max_lightness`): that staff member found again without a face."""
    rules = rules or StaffRules()
    still = [t for t in tracks if is_still(t, rules)]
    staff = [
        (t.camera, _centre(t), look) for t in still if t.track_id in staff_bodies and (look := median_look(t.boxes))
    ]
    out = set()
    for t in still:
        look = median_look(t.boxes)
        if t.track_id in staff_bodies or look is None:
            continue
        c = _centre(t)
        if any(
            camera == t.camera
            and _same_place(where, c, rules)
            and same_clothes(look, theirs, rules.clothes_max_colour, rules.clothes_max_lightness)
            for camera, where, theirs in staff
        ):
            out.add(t.track_id)
    return out


def closing_up_with_staff(
    tracks: Sequence[PersonTrack],
    staff_bodies: Collection[str],
    spans: Mapping[str, Sequence[tuple[datetime, datetime]]],
    rules: StaffRules | None = None,
) -> set[str]:
    """Track ids of the still bodies, not themselves `staff_bodies`, in their camera's first or last recording
    of the day (the shop being opened or closed), in view from that recording's start (`post_start_s`) and
    over the same seconds as a body of recognised staff (in view after it came and leaving view when it did,
    give or take `post_start_s`): a second clerk closing up beside the first. A customer who comes in at
    closing time walks in after the recording began, and leaves before the clerk; a clerk seen there once has
    too few recordings for a post. (Seed 479, day 1: the second clerk,
    there from 14:06, was in the closing recording only, his face 26 px and unusable; his body on both
    cameras, still beside the named clerk over the same 6 s, was counted as a customer visit.)"""
    rules = rules or StaffRules()
    slack = pd.Timedelta(seconds=rules.post_start_s)
    staff = [t for t in tracks if t.track_id in staff_bodies]
    out = set()
    for t in tracks:
        files = spans.get(t.camera)
        if not files or t.track_id in staff_bodies or not is_still(t, rules):
            continue
        first, last = pd.Timestamp(t.first_time), pd.Timestamp(t.last_time)
        at_ends = [span for span in (files[0], files[-1]) if _meets([(first, last)], *map(pd.Timestamp, span))]
        if not any(abs(first - pd.Timestamp(span[0])) <= slack for span in at_ends):
            continue
        if any(
            s.camera == t.camera
            and pd.Timestamp(s.first_time) - slack <= first
            and abs(last - pd.Timestamp(s.last_time)) <= slack
            for s in staff
        ):
            out.add(t.track_id)
    return out


def post_of(track: PersonTrack, posts: Sequence[StaffPost], rules: StaffRules | None = None) -> StaffPost | None:
    """The day's staff post a body stands still at, if any."""
    rules = rules or StaffRules()
    if not posts or not is_still(track, rules):
        return None
    c = _centre(track)
    return next((p for p in posts if p.camera == track.camera and _same_place(p.place, c, rules)), None)


def at_staff_post(track: PersonTrack, posts: Sequence[StaffPost], rules: StaffRules | None = None) -> bool:
    """Whether a body stands still at one of the day's staff posts."""
    return post_of(track, posts, rules) is not None


def staff_by_post(
    assignments: dict[str, Assignment],
    person_tracks: pd.DataFrame,
    post_bodies: Collection[str],
    posts: Sequence[StaffPost],
    rules: StaffRules | None = None,
    posts_of: Mapping[str, StaffPost] | None = None,
) -> dict[str, str]:
    """Customer IDs whose faces were mostly seen on bodies standing at a staff post (at least
    post_min_body_share of the bodies their face tracks joined), with the reason: the clerk, whom her face
    (small, dim, unenrolled) did not name, is where the clerk stands. `posts_of`: body track id -> the post it
    stood at (`post_of`), so that the reason says why that post is one (else the day's first post's)."""
    rules = rules or StaffRules()
    if person_tracks is None or person_tracks.empty or not posts:
        return {}
    posts_of = posts_of or {}
    out = {}
    for cid, ids in joined_bodies(assignments, person_tracks, staff=False).items():
        held = [t for t in sorted(ids) if t in post_bodies]
        if held and len(held) >= rules.post_min_body_share * len(ids):
            post = next((posts_of[t] for t in held if t in posts_of), posts[0])
            out[cid] = f"stands at the staff post ({len(held)} of {len(ids)} bodies; {post.why()})"
    return out
