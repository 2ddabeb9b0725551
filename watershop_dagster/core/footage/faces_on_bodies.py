"""Which face track belongs to which person track, the part of a body's track that is its face's own
visit, and the person tracks that are visits without any face (unidentified visits).

Plain Python: no Dagster here. Times are datetimes (as in face tracks) or plain seconds; only differences
are taken.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.body_tracks import PersonRules, PersonTrack, part_of_box, seconds_between
from watershop_dagster.core.footage.persons import PersonBox
from watershop_dagster.core.storage.schemas import PERSON_TRACKS


class FaceTrackLike(Protocol):
    """What joining needs of a face track: `tracking.Track` has it (times, boxes as x1, y1, x2, y2 arrays,
    camera); so has FaceTrackBoxes, rebuilt from the face_tracks and face_detections tables."""

    times: list[Any]
    boxes: list[Any]


@dataclass
class FaceTrackBoxes:
    """A stored face track's faces: their times and boxes (x1, y1, x2, y2), in time order."""

    camera: str
    times: list[Any] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)


def face_tracks_from_tables(face_tracks: pd.DataFrame, face_detections: pd.DataFrame) -> dict[str, FaceTrackBoxes]:
    """face_tracks rows (track_id, camera, detection_ids) + face_detections rows (detection_id, time,
    x1..y2) -> track_id -> its faces' boxes, the shape join_faces_to_persons takes."""
    by_id = face_detections.set_index("detection_id")
    out = {}
    for row in face_tracks.itertuples(index=False):
        ids = [d for d in (row.detection_ids if row.detection_ids is not None else []) if d in by_id.index]
        faces = by_id.loc[ids].sort_values("time")
        out[row.track_id] = FaceTrackBoxes(
            str(row.camera),
            [t.to_pydatetime() if hasattr(t, "to_pydatetime") else t for t in faces["time"]],
            [np.array(b, np.float32) for b in faces[["x1", "y1", "x2", "y2"]].to_numpy()],
        )
    return out


def face_fits_body(face: Sequence[float], body: PersonBox, rules: PersonRules) -> float | None:
    """How close a face box sits to where a head is in a body box (smaller is better); None when it is not in
    the body's upper part. A face taller than the body is not its face (a close face over a far body)."""
    fx, fy = (face[0] + face[2]) / 2.0, (face[1] + face[3]) / 2.0
    margin = rules.face_side_margin * body.width
    if not body.x1 - margin <= fx <= body.x2 + margin:
        return None
    # the head may stick out a little above a tight body box
    if not body.y1 - 0.05 * body.height <= fy <= body.y1 + rules.face_top_share * body.height:
        return None
    if face[3] - face[1] > body.height:
        return None
    head_x, head_y = body.centre[0], body.y1 + 0.12 * body.height
    return float(np.hypot(fx - head_x, fy - head_y) / max(body.height, 1e-6))


def join_faces_to_persons(
    person_tracks: Sequence[PersonTrack],
    face_tracks: Mapping[str, FaceTrackLike],
    rules: PersonRules | None = None,
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> dict[str, str]:
    """face track id -> person track id. Each face votes, at its time, for a body on the same camera whose
    upper part holds it (`frame_votes`); the track goes to the body with most votes (of equal votes, the one
    whose head it sat nearer on average) if it won at least min_join_share of the frames that voted for it or
    for a body seen at the same time as it (votes for bodies before or after it are the same person's body,
    split by the person tracker). Several face tracks
    may join one body one after another (a face lost and found again), but not at the same time: one body has
    one face, so of face tracks seen together on one body only the one with most votes joins it. A face track
    whose body was never detected joins none. `assignments`: frame_assignments of the same tracks, if the
    caller has them already."""
    rules = rules or PersonRules()
    if assignments is None:
        assignments = frame_assignments(person_tracks, face_tracks, rules)
    by_id = {p.track_id: p for p in person_tracks}
    fits = _mean_fits(by_id, face_tracks, assignments, rules)
    winners = []  # (votes, face id, body id)
    for face_id, votes in frame_votes(face_tracks, assignments).items():
        if votes:
            # Equal votes go to the body whose head the face sat nearer: at a door two people walk out one
            # behind the other, and the face is seen once in each box while the other body is hidden.
            winner = max(votes, key=lambda pid: (votes[pid], -fits[(face_id, pid)]))
            n = votes[winner]
            # Only bodies seen at the same time as the winner compete with it: bodies before or after it are
            # the same person's body lost and found again (the person tracker split it), not rivals.
            competing = sum(
                v for pid, v in votes.items() if pid != winner and _overlap_in_time(by_id[pid], by_id[winner])
            )
            if n / (n + competing) >= rules.min_join_share:
                winners.append((n, face_id, winner))
    joined: dict[str, str] = {}
    for _, face_id, person_id in sorted(winners, key=lambda w: (-w[0], w[1])):
        rivals = [face_tracks[f].times for f, p in joined.items() if p == person_id]
        if not any(_seen_together(face_tracks[face_id].times, other, rules.join_max_dt_s) for other in rivals):
            joined[face_id] = person_id
    return joined


def frame_assignments(
    person_tracks: Sequence[PersonTrack], face_tracks: Mapping[str, FaceTrackLike], rules: PersonRules
) -> list[tuple[Any, str, str]]:
    """(time, face track id, body id) for every face placed in a body. The faces of one frame are given to
    distinct bodies, the assignment with the best total fit that places the most faces: two customers side
    by side each get the body they stand in, not both the body whose head is nearest to either of them."""
    frames: dict[tuple[str, Any], list[tuple[str, Any]]] = defaultdict(list)  # (camera, time) -> (face id, box)
    for face_id, ft in face_tracks.items():
        for t, box in zip(ft.times, ft.boxes):
            frames[(getattr(ft, "camera", ""), t)].append((face_id, box))
    out = []
    in_view = _TracksByTime(person_tracks, rules.join_max_dt_s)
    for (camera, t), faces in frames.items():
        bodies = [
            (p.track_id, box)
            for p in in_view.around(t)
            if (not (camera and p.camera) or p.camera == camera)
            and (box := p.box_near(t, rules.join_max_dt_s)) is not None
        ]
        fits = np.full((len(faces), len(bodies)), np.inf)
        for i, (_, face) in enumerate(faces):
            for j, (_, body) in enumerate(bodies):
                fit = face_fits_body(face, body, rules)
                if fit is not None:
                    fits[i, j] = fit
        out += [(t, faces[i][0], bodies[j][0]) for i, j in _assign(fits)]
    return out


def _mean_fits(
    bodies: Mapping[str, PersonTrack],
    face_tracks: Mapping[str, FaceTrackLike],
    assignments: Sequence[tuple[Any, str, str]],
    rules: PersonRules,
) -> dict[tuple[str, str], float]:
    """(face track id, body id) -> the mean `face_fits_body` of the frames the assignment placed the face there
    (`bodies`: body id -> track)."""
    box_at = {(face_id, t): box for face_id, ft in face_tracks.items() for t, box in zip(ft.times, ft.boxes)}
    fits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for t, face_id, body_id in assignments:
        body = bodies[body_id].box_near(t, rules.join_max_dt_s)
        fit = face_fits_body(box_at[(face_id, t)], body, rules) if body is not None else None
        if fit is not None:
            fits[(face_id, body_id)].append(fit)
    return defaultdict(lambda: np.inf, {key: float(np.mean(v)) for key, v in fits.items()})


def frame_votes(
    face_tracks: Mapping[str, FaceTrackLike], assignments: Sequence[tuple[Any, str, str]]
) -> dict[str, Counter[str]]:
    """face track id -> body id -> frames in which that body held the face (from `frame_assignments`)."""
    votes: dict[str, Counter[str]] = {face_id: Counter() for face_id in face_tracks}
    for _, face_id, body_id in assignments:
        votes[face_id][body_id] += 1
    return votes


def own_spans(
    person_tracks: Sequence[PersonTrack],
    joined: Mapping[str, str],
    face_tracks: Mapping[str, FaceTrackLike],
    rules: PersonRules | None = None,
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """face track id -> (first, last) time of the part of its joined body's track that is the face's person.

    The person tracker can follow one person and go on with another: two people crossing, or the next customer
    stepping into the spot the last one left a few seconds before. A body that held another face (any face
    track but this one, `frame_assignments`, also in a box it shares with another track: `_in_shared_boxes`)
    before this face was first seen was someone else until then: the face's part starts after the longest
    break in the body's samples between the two (the spot stood empty, or the people swapped), and likewise
    after this face was last seen. So was a body while this face sat in another body and it stood elsewhere,
    before it first held the face (`apart_samples` such frames): the face's part starts at its first sighting.
    A face lost and found on one body splits the body between its two tracks; both get one ID, and their
    visits join again. `assignments`: frame_assignments of the same tracks, if the caller has them already."""
    rules = rules or PersonRules()
    if assignments is None:
        assignments = frame_assignments(person_tracks, face_tracks, rules)
    bodies = {p.track_id: p for p in person_tracks}
    held: dict[str, list[tuple[Any, str]]] = defaultdict(list)  # body id -> (time, face id) it held
    holders: dict[str, list[tuple[Any, str]]] = defaultdict(list)  # face id -> (time, body id) holding it
    for t, face_id, body_id in _in_shared_boxes(person_tracks, assignments, rules):
        held[body_id].append((t, face_id))
        holders[face_id].append((t, body_id))
    out = {}
    for face_id, body_id in joined.items():
        body, face = bodies.get(body_id), face_tracks.get(face_id)
        if body is None or face is None or not face.times:
            continue
        first, last = face.times[0], face.times[-1]
        other = [t for t, f in held[body_id] if f != face_id]
        before = [t for t in other if t < first]
        after = [t for t in other if t > last]
        start, end = body.first_time, body.last_time
        if before:
            start = (_longest_break(body.times, max(before), first) or (None, first))[1]
        if after:
            end = (_longest_break(body.times, last, min(after)) or (last, None))[0]
        # The face seen in another body while this one stood elsewhere, before this one first held it: this
        # body was somebody else until then (the tracker went on with the face's person after the two met).
        mine = {t for t, b in holders[face_id] if b == body_id}
        away = {t for t, _ in holders[face_id] if t not in mine and body.box_near(t, rules.join_max_dt_s) is not None}
        if mine:
            came, went = min(mine), max(mine)
            if len([t for t in away if t < came]) >= rules.apart_samples:
                start = first
            if len([t for t in away if t > went]) >= rules.apart_samples:
                end = last
        out[face_id] = (min(start, first), max(end, last))
    return out


class _TracksByTime:
    """The person tracks whose span of samples, widened by `pad_s`, reaches a moment: a superset of those with
    a box near it (`box_near`), in their given order, from buckets of `bucket_s` seconds. Each frame with
    faces then asks only those tracks, not every track of the day."""

    def __init__(self, tracks: Sequence[PersonTrack], pad_s: float, bucket_s: float = 60.0):
        self._tracks, self._bucket_s = tracks, bucket_s
        self._buckets: dict[int, list[int]] = defaultdict(list)
        for i, p in enumerate(tracks):
            if not p.times:  # a track without samples has no box near any moment
                continue
            first, last = _seconds_of(p.first_time) - pad_s - 1.0, _seconds_of(p.last_time) + pad_s + 1.0
            for bucket in range(int(first // bucket_s), int(last // bucket_s) + 1):
                self._buckets[bucket].append(i)

    def around(self, t: Any) -> list[PersonTrack]:
        return [self._tracks[i] for i in self._buckets.get(int(_seconds_of(t) // self._bucket_s), ())]


def _seconds_of(t: Any) -> float:
    """Seconds on one scale for buckets: a naive time read as UTC (not the machine's zone, whose clock change
    would put two moments a second apart an hour apart)."""
    if isinstance(t, datetime):
        return (t.replace(tzinfo=UTC) if t.tzinfo is None else t).timestamp()
    return float(t)


def _in_shared_boxes(
    person_tracks: Sequence[PersonTrack], assignments: Sequence[tuple[Any, str, str]], rules: PersonRules
) -> list[tuple[Any, str, str]]:
    """`assignments` (time, face id, body id), each repeated for every other track holding the same box then.
    A box that two tracks share (relink_merged gives both people of a merged box its samples) holds the face
    for both: the face is in that box, whichever of the two tracks the frame's assignment placed it in."""
    bodies = {p.track_id: p for p in person_tracks}
    sharing: dict[tuple[str, Any, PersonBox], list[str]] = defaultdict(list)  # (camera, time, box) -> bodies
    for body in person_tracks:
        for t, box in zip(body.times, body.boxes):
            sharing[(body.camera, t, box)].append(body.track_id)
    out = []
    for t, face_id, body_id in assignments:
        holder = bodies.get(body_id)
        sample = holder.sample_near(t, rules.join_max_dt_s) if holder is not None else None
        owners = sharing[(holder.camera, *sample)] if holder is not None and sample else [body_id]
        out += [(t, face_id, owner) for owner in owners]
    return out


def _longest_break(times: Sequence[Any], lo: Any, hi: Any) -> tuple[Any, Any] | None:
    """The two consecutive samples in [lo, hi] with the longest gap between them (None with fewer than two)."""
    inside = [t for t in times if lo <= t <= hi]
    pairs = list(zip(inside, inside[1:]))
    return max(pairs, key=lambda ab: seconds_between(*ab)) if pairs else None


def _assign(costs: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) pairs of finite cost, each row and column used once: most pairs first, then least cost."""
    finite = np.isfinite(costs)
    if not finite.any():
        return []
    if costs.shape[0] == 1:  # one face in the frame, the common case: its best body
        j = int(np.argmin(costs[0]))
        return [(0, j)]
    from scipy.optimize import linear_sum_assignment  # imported when needed: a second of start-up

    # an unplaced face costs more than any placed one, so the assignment places as many as it can
    rows, cols = linear_sum_assignment(np.where(finite, costs, 1e6))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if finite[i, j]]


def _overlap_in_time(a: PersonTrack, b: PersonTrack) -> bool:
    """Whether two tracks were seen over overlapping spans of time."""
    return _spans_meet(a.times, b.times, 0.0)


def _spans_meet(a: Sequence[Any], b: Sequence[Any], pad_s: float) -> bool:
    """Whether the spans of two sorted time lists, each widened by pad_s, overlap (False if either is empty)."""
    return bool(a and b) and seconds_between(a[-1], b[0]) <= pad_s and seconds_between(b[-1], a[0]) <= pad_s


def _seen_together(a: Sequence[Any], b: Sequence[Any], tolerance_s: float) -> bool:
    """Whether two sorted time lists have a pair of times within tolerance_s of each other."""
    i = j = 0
    while i < len(a) and j < len(b):
        d = seconds_between(a[i], b[j])  # b - a
        if abs(d) <= tolerance_s:
            return True
        if d > 0:
            i += 1
        else:
            j += 1
    return False


def person_only_presences(
    person_tracks: Sequence[PersonTrack],
    joined: Mapping[str, str],
    rules: PersonRules | None = None,
    face_tracks: Mapping[str, FaceTrackLike] | None = None,
    identifiable: Collection[str] = (),
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> list[tuple[Any, Any, PersonTrack]]:
    """(entry, exit, track) for every person track no face joined: candidates for unidentified visits.
    Passers-by (shorter than min_presence_s) and people never taller than min_box_height_px are left out, and
    so is a body mostly inside the larger box of someone whose face was seen or of a faceless person followed
    for longer or at least twice as tall (upper_body_height_share: its upper body, found again), and a body
    that holds, in at least part_share of its samples, the face of a face track joined to another body
    (`face_tracks`): the person tracker lost that person for a moment (standing still between sparse samples,
    half hidden) and found them again as a new track, while their face track went on. The same holds for the
    face of an `identifiable` face track that joined no body (its body was only ever found in pieces, e.g. a
    clerk behind the counter): that face makes its person's
    visit, and a body holding it is that person, not somebody else. Nor is a body a visit of its own that the
    frame-by-frame assignment (`frame_assignments`, one face per body) gave such faces of two or more people,
    in at least part_share of its samples together: in a tight group at the counter the tracker hands one box
    from person to person (each face's own body may be in view beside it, or never found alone). A faceless
    customer standing in front of one named one, their bodies one box, is given that one face only and keeps
    the visit. And a body the assignment gave the face of a face track joined to another body, in at least
    part_share of its samples, is that person found again, whether that body was in view then or not (the
    face sat better on this one: the tracker's body for the face had gone on with someone else). A faceless
    customer at a named one's shoulder is not given the face, which sits better on its own body.
    `assignments`: frame_assignments of the same tracks, if the caller has them already."""
    rules = rules or PersonRules()
    with_face = set(joined.values())
    named_faces = set(joined) | set(identifiable)
    if assignments is None:
        assignments = frame_assignments(person_tracks, face_tracks, rules) if face_tracks else []
    body = {tr.track_id: tr for tr in person_tracks}
    own_share = {  # a joined face's height over its own body's, where it sat on it
        fid: face_share(ft, body[joined[fid]], rules)
        for fid, ft in (face_tracks or {}).items()
        if joined.get(fid) in body
    }
    face_at = {(fid, t): box for fid, ft in (face_tracks or {}).items() for t, box in zip(ft.times, ft.boxes)}
    given: dict[str, dict[Any, str]] = defaultdict(dict)  # body id -> time -> the named face it was given
    for t, face_id, body_id in _in_shared_boxes(person_tracks, assignments, rules):
        held_box = body[body_id].box_near(t, rules.join_max_dt_s) if body_id in body else None
        face = face_at.get((face_id, t))
        if face_id in named_faces and (
            held_box is None or face is None or _could_be_its_own(face, held_box, own_share.get(face_id), rules)
        ):
            given[body_id][t] = face_id
    faced = [tr for tr in person_tracks if tr.track_id in with_face]
    joined_faces = [
        (ft, body.get(joined.get(fid, "")), own_share.get(fid))
        for fid, ft in (face_tracks or {}).items()
        if fid in joined or fid in identifiable
    ]
    out = []
    for tr in person_tracks:
        if (
            tr.track_id in with_face
            or tr.duration_s < rules.min_presence_s
            or tr.max_height < rules.min_box_height_px
            or _passed_between_faces(given[tr.track_id], len(tr.boxes), rules)
            or _found_again(given[tr.track_id], joined, len(tr.boxes), rules)
            or _holds_a_joined_face(tr, joined_faces, rules)
        ):
            continue
        # the upper body of someone whose face was seen, or of a faceless person followed for longer or far taller
        # where both were seen (the heights of one moment: a walker is tallest under the camera, not in a queue)
        longer = [
            o
            for o in person_tracks
            if o.track_id not in with_face and (o.duration_s > tr.duration_s or upper_body_of(tr, o, rules))
        ]
        if part_of_someone(tr, faced + longer, rules):
            continue
        out.append((tr.first_time, tr.last_time, tr))
    return sorted(out, key=lambda x: x[0])


def _passed_between_faces(given: Mapping[Any, str], samples: int, rules: PersonRules) -> bool:
    """Whether a body given named faces (time -> face track) held two or more people's faces in at least
    part_share of its samples: one box the tracker passed between people in a group."""
    return len(set(given.values())) >= 2 and len(given) >= rules.part_share * samples


def _found_again(given: Mapping[Any, str], joined: Mapping[str, str], samples: int, rules: PersonRules) -> bool:
    """Whether a body no face joined was given (time -> face track) the faces of face tracks joined to other
    bodies in at least part_share of its samples: that person found again, their own body gone on with someone
    else or out of view."""
    return sum(face_id in joined for face_id in given.values()) >= rules.part_share * samples


def _holds_a_joined_face(
    track: PersonTrack,
    faces: Sequence[tuple[FaceTrackLike, PersonTrack | None, float | None]],
    rules: PersonRules,
) -> bool:
    """Whether, in at least part_share of a body track's samples, a face of an already joined face track sits
    where its head is (face_fits_body) at the same time, while the body that face joined is out of view.
    `faces`: each face track with the body it joined (None for none) and its height's share of that body's
    (`face_share`). One person is one body at a time: a body seen beside the face's own body is somebody
    else, however well the face sits on it (a customer at another's shoulder in a group at the counter, the two
    boxes overlapping), not that person found again; and so is a body seen elsewhere than that face while both
    were in view (apart_samples), which later stood in front of that person, and a body on which the face is
    far smaller than on its own and off its centre line (`_could_be_its_own`): one nearer the camera, the face
    over its shoulder."""
    if not faces:
        return False
    fits: list[set[int]] = [set() for _ in faces]  # per face: the body's samples where it sits on its head
    apart = [0] * len(faces)  # ...and where it was seen away from it
    dt = rules.join_max_dt_s
    around = [  # only face tracks seen around the body's time can be near one of its samples
        (f, ft, own, share) for f, (ft, own, share) in enumerate(faces) if _spans_meet(track.times, ft.times, dt)
    ]
    for k, (t, box) in enumerate(zip(track.times, track.boxes, strict=True)):
        for f, ft, own, share in around:
            camera = getattr(ft, "camera", "")
            if camera and track.camera and camera != track.camera:
                continue
            if own is not None and own is not track and own.box_near(t, rules.join_max_dt_s) is not None:
                continue  # that face's own body is in view at this moment: this body is somebody else
            i = bisect.bisect_left(ft.times, t)
            near = [
                ft.boxes[j]
                for j in (i - 1, i)
                if 0 <= j < len(ft.times) and abs(seconds_between(ft.times[j], t)) <= rules.join_max_dt_s
            ]
            if any(
                face_fits_body(face, box, rules) is not None and _could_be_its_own(face, box, share, rules)
                for face in near
            ):
                fits[f].add(k)
            elif near:
                apart[f] += 1
    held = set().union(*(fits[f] for f in range(len(faces)) if apart[f] < rules.apart_samples))
    return len(held) >= rules.part_share * len(track.boxes)


def face_share(face: FaceTrackLike, body: PersonTrack, rules: PersonRules) -> float | None:
    """The median height of a face track's faces over the height of a body's box at the same moments, where
    the face sat on its head (face_fits_body); None where it never did. The same person's face keeps its
    share however near the camera they stand (a whole body, about 0.1; an upper body behind a counter, more)."""
    shares = []
    for t, box in zip(face.times, face.boxes):
        held = body.box_near(t, rules.join_max_dt_s)
        if held is not None and face_fits_body(box, held, rules) is not None:
            shares.append(float(box[3] - box[1]) / max(held.height, 1e-6))
    return float(np.median(shares)) if shares else None


def _could_be_its_own(face: Sequence[float], box: PersonBox, own: float | None, rules: PersonRules) -> bool:
    """Whether a face that sits on this body box's head could be that body's own: not both far smaller on it than
    on its own body (under found_again_face_share of `face_share`; unknown is not smaller) and off the box's
    centre line (over_shoulder_offset of its width), as a face over the shoulder of someone nearer the camera."""
    if own is None or float(face[3] - face[1]) / max(box.height, 1e-6) >= rules.found_again_face_share * own:
        return True
    return abs((face[0] + face[2]) / 2.0 - box.centre[0]) <= rules.over_shoulder_offset * box.width


def height_share(track: PersonTrack, other: PersonTrack, tolerance_s: float) -> float | None:
    """The median, over the track's samples with one of `other`'s within tolerance_s, of the track's box height
    over the other's nearest box height; None where they were never seen together (or on two cameras)."""
    if track.camera != other.camera or not _spans_meet(track.times, other.times, tolerance_s):
        return None
    shares = []
    for t, box in zip(track.times, track.boxes, strict=True):
        near = other.within(t, tolerance_s)
        if near:
            j = min(near, key=lambda j: abs(seconds_between(other.times[j], t)))
            shares.append(box.height / max(other.boxes[j].height, 1e-6))
    return float(np.median(shares)) if shares else None


def upper_body_of(track: PersonTrack, other: PersonTrack, rules: PersonRules) -> bool:
    """Whether the track's boxes were at most upper_body_height_share of the other's at the same moments
    (join_max_dt_s): its upper body, whatever either was at other times."""
    share = height_share(track, other, rules.join_max_dt_s)
    return share is not None and share <= rules.upper_body_height_share


def part_of_someone(track: PersonTrack, faced: Sequence[PersonTrack], rules: PersonRules) -> bool:
    """Whether a faceless track is mostly a smaller box inside the body of someone whose face was seen, at the
    same times: the detector found that person's upper body as well (NMS keeps it, the overlap being small).
    Judged over the track, not per frame, and only for boxes clearly shorter than the body they lie in, so
    two real people standing close, or one walking the other's path a moment apart, are kept apart."""
    if not track.times:
        return True  # what the count below gives for no boxes (0 of 0): nothing of its own
    dt = rules.join_max_dt_s
    others = [  # the same camera's tracks seen around the same time
        other for other in faced if other.camera == track.camera and _spans_meet(track.times, other.times, dt)
    ]
    inside = 0
    for t, box in zip(track.times, track.boxes, strict=True):
        # Only the samples within join_max_dt_s of t (each track's times are sorted): a day's long tracks
        # would otherwise be scanned whole for every box of every faceless track.
        if any(part_of_box(box, other.boxes[j], rules) for other in others for j in other.within(t, dt)):
            inside += 1
    return inside >= rules.part_share * len(track.boxes)


def person_tracks_frame(
    day: date,
    tracks: Sequence[PersonTrack],
    joined: Mapping[str, str],
    rules: PersonRules | None = None,
    face_tracks: Mapping[str, FaceTrackLike] | None = None,
    identifiable: Collection[str] = (),
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> pd.DataFrame:
    """Rows of PERSON_TRACKS (without the partition column `day`), each marked whether it is an unidentified
    visit (person_only_presences)."""
    presences = {
        tr.track_id for _, _, tr in person_only_presences(tracks, joined, rules, face_tracks, identifiable, assignments)
    }
    faces_of: dict[str, list[str]] = {}
    for face_id, person_id in sorted(joined.items()):
        faces_of.setdefault(person_id, []).append(face_id)
    rows = [
        {
            "track_id": tr.track_id,
            "camera": tr.camera,
            "first_time": tr.first_time,
            "last_time": tr.last_time,
            "duration_seconds": tr.duration_s,
            "detections": len(tr.boxes),
            "max_box_height": tr.max_height,
            "mean_score": float(np.mean([b.score for b in tr.boxes])),
            "face_track_ids": faces_of.get(tr.track_id, []),
            "unidentified_presence": tr.track_id in presences,
        }
        for tr in tracks
    ]
    return pd.DataFrame(rows, columns=[c for c in PERSON_TRACKS.column_names if c != "day"])
