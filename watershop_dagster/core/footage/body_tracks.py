"""Person tracks: body boxes of the sampled frames followed over time (`PersonTracker`), people who stood
as one box told apart again when they part (`relink_merged`), and the PERSON_DETECTIONS rows they are stored
as. `PersonRules` holds every threshold of tracking, of joining faces to bodies and of person-only presences.

Plain Python: no Dagster here. Times are datetimes (as in face tracks) or plain seconds; only differences
are taken.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.persons import PersonBox, look_distance, look_patch, median_look
from watershop_dagster.core.footage.tracking import SURVIVES_MISS_S, greedy_pairs
from watershop_dagster.core.storage.schemas import PERSON_DETECTIONS

Time = datetime | float


@dataclass(frozen=True)
class PersonRules:
    """Every threshold of person tracking, face joining and person-only presences, in one place.

    Shifts are in person-box heights, so the same rules hold for a near and a far camera."""

    max_gap_s: float = SURVIVES_MISS_S
    # ...and a track seen at the previous analysed frame survives the wait until the next one up to this long
    # (the sampler did not look between them: a long group of pictures, keyframes 8-20 s apart on DVRs set to
    # save disk). Longer is a gap between recordings, where nobody was watching.
    max_unlooked_s: float = 20.0
    min_iou: float = 0.2  # overlapping boxes of consecutive samples are the same person...
    min_shift: float = 0.35  # ...and so is a box whose centre moved at most this (detector jitter, bending)
    shift_per_s: float = 0.8  # plus this per second between samples (walking ~1.4 m/s ~ 0.8 heights/s)
    max_shift: float = 1.0  # but never more, however long the gap: a still room does not hide a walk
    # ...except in the same clothes (look within same_clothes): a customer walks from the door to the counter,
    # 1.1 box heights, between two keyframes 4 s apart; the next one to come in at the door is someone else.
    max_shift_same_clothes: float = 2.0
    same_clothes: float = 5.0
    max_height_ratio: float = 2.0  # a box twice as tall or half as tall is someone else (or a merged pair)
    predict_horizon_s: float = 1.0  # a walk is extrapolated this far at most (people stop, turn)
    # ...and a box overlapping the last one this much is also scored as the walker stopped there: on seed 137
    # (day 3, 08:11:59) a customer who walked up to the counter and stopped lost his box to the one standing
    # still beside him, whose track then went on as him.
    still_iou: float = 0.5
    # Clothes (`body_look`, `look_distance`): a box that looks unlike the track's recent boxes scores less, by up
    # to look_weight at look_scale, and one further than look_max is someone else (so is one in other clothes,
    # over same_clothes, whose place says less for it than its clothes say against it). Set on the tune half's
    # evaluation days (`bench/evaluate_visits.py --half tune --seed 5 --condition shopcam_all`, 3 days): a
    # track's box to its next box 98% under 2.2 (1.2% over 10, mostly the tracker switching people), two
    # people in one frame 12% under 20, 82% over 30; on the real walk-in clip one body moved up to 14.
    look_scale: float = 20.0
    look_weight: float = 1.0
    look_max: float = 30.0
    chain_look_max: float = 10.0  # faceless pieces chained into one person (`bodies._chains`) are dressed within this
    look_samples: int = 5  # a track's look is the median of its last this many looks (one occluded box is not it)
    join_max_dt_s: float = 0.5  # a face and a body box are "at the same time" within this
    face_top_share: float = 0.5  # the face centre lies in the top half of the body box (seated, from above)
    face_side_margin: float = 0.1  # ...and within its width, with this share of slack on each side
    min_join_share: float = 0.5  # the winning body must hold the face in at least this share of voting frames
    min_presence_s: float = 5.0  # a faceless person seen for less is a passer-by, not a visit
    min_box_height_px: float = 0.0  # a faceless person never taller than this is too far (0: no limit)
    part_containment: float = 0.8  # a box this much inside a larger box of someone whose face was seen...
    part_share: float = 0.5  # ...in this share of its samples is that person's upper body, found again
    # (also: a body holding a named face, or given two people's faces, in this share is not a visit of its own)
    # ...unless that face was seen away from the body's head in this many of the body's samples: then the body
    # is somebody else who stood in front of that person (a faceless customer walking in from the door to stand
    # before a named one at the counter, their two bodies one box)
    apart_samples: int = 3
    # ...nor is a body that face's person found again if the face is far smaller on it than on its own body
    # (face height over body height, `face_share`, under found_again_face_share of its own): it is someone
    # nearer the camera, in front of that person, the face showing over their shoulder. Seed 397, day 1: a
    # faceless customer at the counter in front of the clerk; the clerk's face was 0.088 of his box, 0.164 of
    # the clerk's own (0.54 of it), and the clerk's own later pieces 1.0. A whole body found where an upper
    # body was, 1.4 times as tall, is still 0.7.
    found_again_face_share: float = 0.7
    # ...and only where the face sits off the box's centre line by over this share of its width, as over a
    # shoulder (seed 397: 0.27-0.28 on the customer's box; 0.02-0.04 on the clerk's own). A clerk who walks
    # out from behind the counter to carry the cans is boxed whole, the face half its share on the post's
    # upper body, but on the centre line: the clerk found again.
    over_shoulder_offset: float = 0.2
    # ...if at most this share of the larger box's height: a whole body as tall as the box it stands in is the
    # next person in the queue, seen a moment earlier or later on the same path (0.96-0.98 on a busy day).
    part_max_height_share: float = 0.85
    # A faceless body is the upper body of a faceless person followed for longer (`person_only_presences`); it is
    # theirs however long either was followed if, at the moments both were seen, its box was at most this share
    # of theirs (the median; `upper_body_of`). Seed 353: an upper body tracked 5 s longer than its whole body.
    # Heights of the same moments: a customer walking in under a door camera is tallest there, and a faceless
    # customer in the queue before them is still a person of their own. Also how much of a staff body at the
    # post a box must stay under to be its upper body (`duplicate_bodies`).
    upper_body_height_share: float = 0.5
    # A body that ends at most continue_gap_s before an identified body starts (or starts that soon after it
    # ends), its last box within continue_shift heights of the other's first box (or the other way round), is
    # that person lost and found again by the tracker, not someone else: a newcomer walks in from the door.
    # A body mostly inside an identified body's box seen within part_max_dt_s (not only at the same frame): the
    # detector finds the whole body in some frames and only the upper body in the frames between.
    part_max_dt_s: float = 3.0
    continue_gap_s: float = 10.0
    # ...and one found again in the very place it was last seen (boxes overlapping by still_iou), in the same
    # clothes (same_clothes), up to still_gap_s later: someone standing still whom the detector lost for a
    # while (seed 397, day 1: a customer at the counter in front of the clerk, the two of them one shape the
    # detector found as neither for 20 s; the boxes before and after 0.99 alike).
    still_gap_s: float = 60.0
    # ...and one that walks back out to the door up to still_gap_s after a piece in the same clothes walked in
    # from it, no other body as close in clothes (`bodies.Doorways`). The door: where most bodies' first and last
    # boxes lie, within door_radius box heights of one another, door_min_ends of them at least.
    door_radius: float = 0.5
    door_min_ends: int = 6
    # A body walks in from the door (or out to it) when its far end lies more than this share of a box height
    # further from the door than its near end: one standing at the door, its box jittering, does not. Seed
    # 541's 0.8-s walk-in moved 0.22-0.24 box heights (on each of two cameras).
    door_walk_min: float = 0.1
    # ...and standing still there at the end or the start: the centre of the last (first) look_samples boxes
    # moved at most this share of their height. Someone walking out of the door and the next one walking in
    # where they were last seen, in clothes alike, are two people (seed 401, day 1: 0.61-0.76 both ways, 36 s
    # apart); the found-again pieces of seeds 379 and 397 stood still at one end (0.001-0.026).
    still_motion: float = 0.25
    # 0.35, not 0.5: on the real walk-in clip the next visitor, found 7 s after the last one left the standing
    # table, began 0.42 box heights from where the last one was last seen; a person re-found where they
    # stood moves less (the evaluation days' rows are the same at 0.35 and at 0.5).
    continue_shift: float = 0.35
    # Two people standing side by side come out of the detector as one wider box; the tracker follows it as one
    # of them, the other's track ends, and when they part the one that comes out of it starts a new track,
    # too short to be a visit (`relink_merged`). Such a pair is told apart again when they part, by their
    # clothes before and after, if they stood as one box at most merge_max_s and the box was at least
    # merge_min_widen times as wide as the host's own, and the clothes say which way round by merge_look_margin.
    merge_max_s: float = 180.0
    merge_min_widen: float = 1.15
    merge_look_margin: float = 4.0
    merge_touch: float = 0.25  # boxes this share of their height apart (or overlapping) touch


def seconds_between(a: Time, b: Time) -> float:
    """b - a in seconds, for datetimes or plain seconds."""
    if isinstance(a, datetime):
        assert isinstance(b, datetime), "both times are datetimes or both are seconds"
        return (b - a).total_seconds()
    assert not isinstance(b, datetime), "both times are datetimes or both are seconds"
    return float(b - a)


@dataclass
class PersonTrack:
    """One person's continuous presence on one camera: a box per sampled frame where the body was found."""

    camera: str = ""
    track_id: str = ""
    times: list[Any] = field(default_factory=list)
    boxes: list[PersonBox] = field(default_factory=list)

    @property
    def first_time(self) -> Time:
        return self.times[0]

    @property
    def last_time(self) -> Time:
        return self.times[-1]

    @property
    def duration_s(self) -> float:
        return seconds_between(self.times[0], self.times[-1])

    @property
    def max_height(self) -> float:
        return max(b.height for b in self.boxes)

    def add(self, t: Time, box: PersonBox) -> None:
        self.times.append(t)
        self.boxes.append(box)

    def look(self, samples: int) -> tuple[float, float, float] | None:
        """The median of the last `samples` looks (None when no box had one)."""
        return median_look(self.boxes[-samples:])

    def velocity(self, max_dt_s: float = 2.0) -> tuple[float, float]:
        """Centre speed (px/s) between the last two samples; zero when they are far apart in time (sparse
        samples of a still room say nothing about a walk)."""
        if len(self.boxes) < 2:
            return 0.0, 0.0
        dt = seconds_between(self.times[-2], self.times[-1])
        if not 0 < dt <= max_dt_s:
            return 0.0, 0.0
        (ax, ay), (bx, by) = self.boxes[-2].centre, self.boxes[-1].centre
        return (bx - ax) / dt, (by - ay) / dt

    def sample_near(self, t: Time, tolerance_s: float) -> tuple[Time, PersonBox] | None:
        """(time, box) of the sample nearest to t, if one lies within tolerance_s (times are kept sorted)."""
        i = bisect.bisect_left(self.times, t)
        best = None
        for j in (i - 1, i):
            if 0 <= j < len(self.times):
                dt = abs(seconds_between(self.times[j], t))
                if dt <= tolerance_s and (best is None or dt < best[0]):
                    best = (dt, j)
        return (self.times[best[1]], self.boxes[best[1]]) if best else None

    def within(self, t: Time, tolerance_s: float) -> list[int]:
        """The indices of the samples at most tolerance_s from t (times are kept sorted): found by bisection
        with a microsecond to spare, then held to the same test as `sample_near` (|t2 - t| <= tolerance_s)."""
        slack = tolerance_s + 1e-6
        if isinstance(t, datetime):
            lo, hi = t - timedelta(seconds=slack), t + timedelta(seconds=slack)
            first, last = bisect.bisect_left(self.times, lo), bisect.bisect_right(self.times, hi)
        else:
            first, last = bisect.bisect_left(self.times, t - slack), bisect.bisect_right(self.times, t + slack)
        return [j for j in range(first, last) if abs(seconds_between(self.times[j], t)) <= tolerance_s]

    def box_near(self, t: Time, tolerance_s: float) -> PersonBox | None:
        """The box of the sample nearest to t, if one lies within tolerance_s."""
        sample = self.sample_near(t, tolerance_s)
        return sample[1] if sample else None


def box_iou(a: PersonBox, b: PersonBox) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    inter = max(0.0, w) * max(0.0, h)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def match_score(
    last: PersonBox,
    box: PersonBox,
    dt_s: float,
    rules: PersonRules,
    velocity: tuple[float, float] = (0.0, 0.0),
    look: tuple[float, float, float] | None = None,
) -> float | None:
    """How well `box`, seen dt_s after `last`, continues the same person; None when it cannot.

    Overlap alone fails at 2 fps on a walk (boxes barely overlap) and centre distance alone lets neighbours
    swap; a box qualifies by either, of a plausible size, and the best-scoring pairs are taken first. The
    box and its centre are compared with where the last one was heading (velocity in px/s, for at most
    predict_horizon_s): someone who walked out of the side of the view must not become the next customer
    who walks in from the door a few seconds later. Where both the track (`look`) and the box have a look,
    the clothes count too: four people at a counter overlap each other's boxes, their shirts do not."""
    ratio = box.height / max(last.height, 1e-6)
    if not 1.0 / rules.max_height_ratio <= ratio <= rules.max_height_ratio:
        return None
    unlike = 0.0
    limit = rules.max_shift
    other_clothes = False
    if look is not None and box.look is not None:
        distance = look_distance(look, box.look)
        if distance > rules.look_max:
            return None
        unlike = rules.look_weight * min(1.0, distance / rules.look_scale)
        other_clothes = distance > rules.same_clothes
        if not other_clothes:
            limit = rules.max_shift_same_clothes
    ahead = min(max(dt_s, 0.0), rules.predict_horizon_s)
    allowed = min(limit, rules.min_shift + rules.shift_per_s * max(dt_s, 0.0)) * max(last.height, box.height)
    # Compared with where the box was heading (when a walker passes in front of someone standing still, the
    # walker's next box overlaps the still one's last box more than the walker's own last box), and with where
    # it was when it is mostly still there (still_iou): a walker who stopped at the counter, not where the walk
    # would have taken them. Only mostly: someone who walked out of the side is not the next one coming in.
    fits = [_placed(last, box, velocity[0] * ahead, velocity[1] * ahead, allowed, rules)]
    if velocity != (0.0, 0.0) and box_iou(last, box) >= rules.still_iou:
        fits.append(_placed(last, box, 0.0, 0.0, allowed, rules))
    placed = [fit for fit in fits if fit is not None]
    if not placed or (other_clothes and max(placed) < unlike):
        # Other clothes, and a place that says less for the box than the clothes say against it: the next
        # person along the same path (at a door, one walks in while the one before walks on out of sight).
        return None
    return max(placed) - unlike


def _placed(last: PersonBox, box: PersonBox, dx: float, dy: float, allowed: float, rules: PersonRules) -> float | None:
    """How well `box` sits where `last` moved by (dx, dy) would be: overlap plus closeness of the centres (None
    when it neither overlaps min_iou nor lies within `allowed` pixels)."""
    overlap = box_iou(PersonBox(last.x1 + dx, last.y1 + dy, last.x2 + dx, last.y2 + dy), box)
    shift = float(np.hypot(box.centre[0] - last.centre[0] - dx, box.centre[1] - last.centre[1] - dy))
    if overlap < rules.min_iou and shift > allowed:
        return None
    return overlap + max(0.0, 1.0 - shift / max(allowed, 1e-6))


class PersonTracker:
    """Feeds sampled frames in time order (one camera) and grows person tracks, greedy on match_score."""

    def __init__(self, rules: PersonRules | None = None, camera: str = ""):
        self.rules = rules or PersonRules()
        self.camera = camera
        self.active: list[PersonTrack] = []
        self.finished: list[PersonTrack] = []
        self.previous: Time | None = None  # the frame analysed before the one being fed

    def update(self, t: Time, boxes: Sequence[PersonBox]) -> None:
        """The people found in the frame sampled at t (an empty list is a frame with nobody: it ages tracks).

        A track survives a miss of `max_gap_s`, and a wait of up to `max_unlooked_s` from the analysed frame in
        which it was last seen to the next one: where the sampler did not look (a long group of pictures with
        the same people at both keyframes), nobody was missed. Ending those tracks cut faceless customers into
        pieces too short to be visits (keyframes every 8 s)."""
        still: list[PersonTrack] = []
        gaps: list[float] = []  # per track kept: seconds since it was last seen
        for tr in self.active:
            gap = seconds_between(tr.last_time, t)
            unlooked = self.previous is not None and tr.last_time == self.previous and gap <= self.rules.max_unlooked_s
            if unlooked or gap <= self.rules.max_gap_s:
                still.append(tr)
                gaps.append(gap)
            else:
                self.finished.append(tr)
        self.active = still
        self.previous = t
        candidates = []
        looks = [tr.look(self.rules.look_samples) for tr in self.active]
        for di, box in enumerate(boxes):
            for ti, tr in enumerate(self.active):
                score = match_score(tr.boxes[-1], box, gaps[ti], self.rules, tr.velocity(), looks[ti])
                if score is not None:
                    candidates.append((score, di, ti))
        pairs = greedy_pairs(candidates)
        used_d = {di for di, _ in pairs}
        for di, ti in pairs:
            self.active[ti].add(t, boxes[di])
        for di, box in enumerate(boxes):
            if di not in used_d:
                tr = PersonTrack(self.camera)
                tr.add(t, box)
                self.active.append(tr)

    def finish(self, id_prefix: str = "") -> list[PersonTrack]:
        """All tracks, ordered by first sighting and numbered `<id_prefix>P0001`, ...; the tracker is emptied."""
        tracks = numbered(self.finished + self.active, id_prefix)
        self.active, self.finished, self.previous = [], [], None
        return tracks


def build_person_tracks(
    detections_by_time: Mapping[Any, Sequence[PersonBox]],
    rules: PersonRules | None = None,
    camera: str = "",
    id_prefix: str = "",
) -> list[PersonTrack]:
    """time -> people found in the frame sampled then (one camera; include sampled frames with nobody, so that
    gaps are real) -> person tracks numbered by first sighting."""
    tracker = PersonTracker(rules, camera)
    for t in sorted(detections_by_time):
        tracker.update(t, detections_by_time[t])
    return numbered(relink_merged(unswap_merged(tracker.finish(), rules), rules), id_prefix)


def numbered(tracks: Sequence[PersonTrack], id_prefix: str = "") -> list[PersonTrack]:
    """The tracks ordered by first sighting and numbered `<id_prefix>P0001`, ..."""
    out = sorted(tracks, key=lambda tr: tr.times[0])
    for n, tr in enumerate(out, start=1):
        tr.track_id = f"{id_prefix}P{n:04d}"
    return out


def _touching(a: PersonBox, b: PersonBox, slack: float) -> bool:
    """Whether two boxes overlap or lie within `slack` of the taller one's height of each other."""
    gap = slack * max(a.height, b.height)
    return a.x1 - gap <= b.x2 and b.x1 - gap <= a.x2 and a.y1 - gap <= b.y2 and b.y1 - gap <= a.y2


def part_of_box(box: PersonBox, big: PersonBox, rules: PersonRules) -> bool:
    """Whether `box` is mostly inside `big` and clearly shorter: the detector's second box on one person (their
    upper body), not a second person. Not where both looks are read at about the same height (`_same_band`)
    and differ as someone else's clothes do (over look_max): a customer standing just behind
    another at the counter, her legs hidden by him, is a shorter box inside his (seed 167, day 2, 18:14: 0.8 of
    his height, 54 apart in colour; her faceless visit was lost as his upper body). A head-and-shoulders box
    reads its look higher up than the whole body's does (the chest, not the waist): not compared."""
    if box.height > rules.part_max_height_share * big.height:
        return False
    if (
        box.look is not None
        and big.look is not None
        and _same_band(box, big)
        and look_distance(box.look, big.look) > rules.look_max
    ):
        return False
    w = max(0.0, min(box.x2, big.x2) - max(box.x1, big.x1))
    h = max(0.0, min(box.y2, big.y2) - max(box.y1, big.y1))
    return w * h / max(box.width * box.height, 1e-6) >= rules.part_containment


def _same_band(a: PersonBox, b: PersonBox) -> bool:
    """Whether two boxes read their looks at about the same height in the frame: their look patches' rows
    overlap by at least half of the shorter patch (the same part of a body, whoever's it is)."""
    pa, pb = look_patch(a), look_patch(b)
    rows = min(pa[3], pb[3]) - max(pa[1], pb[1])
    return rows >= 0.5 * min(pa[3] - pa[1], pb[3] - pb[1])


def _track_of(camera: str, times: Sequence[Any], boxes: Sequence[PersonBox]) -> PersonTrack:
    return PersonTrack(camera, times=list(times), boxes=list(boxes))


def _widened(merged: Sequence[PersonBox], before: Sequence[PersonBox], rules: PersonRules) -> bool:
    """Whether the host's boxes while two people stood as one are merge_min_widen times as wide as its own before."""
    return bool(np.median([b.width for b in merged]) >= rules.merge_min_widen * np.median([b.width for b in before]))


def _which_way(
    host_before: Sequence[PersonBox],
    host_after: Sequence[PersonBox],
    other_before: Sequence[PersonBox],
    other_after: Sequence[PersonBox],
    rules: PersonRules,
) -> str | None:
    """What the clothes say of two people who stood as one box, from their boxes before the merge and after the
    split: "keep" if each came out as itself, "swap" if each came out as the other (by merge_look_margin);
    None when they do not say, or a look is missing."""
    looks = [median_look(boxes) for boxes in (host_before, host_after, other_before, other_after)]
    if any(look is None for look in looks):
        return None
    hb, ha, ob, oa = (look for look in looks if look is not None)
    keep = look_distance(hb, ha) + look_distance(ob, oa)
    swap = look_distance(hb, oa) + look_distance(ob, ha)
    if keep + rules.merge_look_margin <= swap:
        return "keep"
    if swap + rules.merge_look_margin <= keep:
        return "swap"
    return None


def _merge_split(
    ended: PersonTrack, host: PersonTrack, started: PersonTrack, rules: PersonRules
) -> tuple[PersonTrack, PersonTrack] | None:
    """If `ended` walked into `host`'s box (one wider box for both) and `started` walked out of it, the two
    people as tracks again, (host's person, ended's person), both holding the merged boxes; else None. The
    host's samples are found by bisection: a staff member's track holds a whole day of boxes."""
    k = rules.look_samples
    met = bisect.bisect_left(host.times, ended.last_time)  # the host's first sample from `ended`'s last on
    inside = bisect.bisect_right(host.times, ended.last_time)  # ...and first one after it: the merged box
    split = bisect.bisect_left(host.times, started.first_time)  # the host's first sample from the split on
    if not (met > 0 and inside < split < len(host.times)):
        return None
    if seconds_between(ended.last_time, host.times[met]) > rules.max_gap_s:
        return None
    touching = _touching(ended.boxes[-1], host.boxes[met], rules.merge_touch) and _touching(
        host.boxes[split - 1], started.boxes[0], rules.merge_touch
    )
    before, merged, after = host.boxes[max(0, met - k) : met], host.boxes[inside:split], host.boxes[split : split + k]
    if not touching or not _widened(merged, before, rules):
        return None
    # A piece that ends or starts inside the host's box, clearly shorter, is the host's own upper body found
    # apart (a clerk behind the counter), not somebody walking in or out of it.
    if part_of_box(ended.boxes[-1], host.boxes[met], rules) or part_of_box(started.boxes[0], host.boxes[split], rules):
        return None
    way = _which_way(before, after, ended.boxes[-k:], started.boxes[:k], rules)
    merged_times = host.times[inside:split]
    if way == "keep":  # the host came out as itself: `started` is `ended` again
        times = ended.times + merged_times + started.times
        return host, _track_of(host.camera, times, ended.boxes + merged + started.boxes)
    if way == "swap":  # the tracker kept the other one: each takes the other's way out
        host_person = _track_of(host.camera, host.times[:split] + started.times, host.boxes[:split] + started.boxes)
        times = ended.times + merged_times + host.times[split:]
        return host_person, _track_of(host.camera, times, ended.boxes + merged + host.boxes[split:])
    return None


def relink_merged(tracks: Sequence[PersonTrack], rules: PersonRules | None = None) -> list[PersonTrack]:
    """Person tracks with each merge and split of two people told apart again (`PersonRules.merge_max_s`).

    Side by side at a counter two people are often one box. The tracker follows that box as one of them (the
    host) and ends the other's track where they met; when they part, whoever comes out of the box starts a new
    track. Both pieces are short (a walk in, a walk out), and the person they belong to loses the visit. For a
    track that ended touching a host whose box then widened, and a track that started touching that host's box
    within merge_max_s while the host went on, the clothes decide: if the one who came out looks like the one
    who went in, the two pieces are one person through the merged boxes; if it looks like the host before the
    merge while the host after the split looks like the one who went in, the tracker kept the wrong person
    and each takes the other's way out. Otherwise nothing is changed."""
    rules = rules or PersonRules()
    out = list(tracks)
    changed = True
    while changed:
        changed = False
        for ended in sorted(out, key=lambda tr: tr.last_time):
            starts = sorted(
                (
                    tr
                    for tr in out
                    if tr is not ended
                    and tr.camera == ended.camera
                    and 0 < seconds_between(ended.last_time, tr.first_time) <= rules.merge_max_s
                ),
                key=lambda tr: tr.first_time,
            )
            if not starts:
                continue
            hosts = [
                tr
                for tr in out
                if tr is not ended
                and tr.camera == ended.camera
                and seconds_between(tr.first_time, ended.last_time) > 0  # there before `ended` was last seen
                and seconds_between(ended.last_time, tr.last_time) > 0  # and still there after
            ]
            for started in starts:
                found = next(
                    (
                        (host, pair)
                        for host in hosts
                        if host is not started
                        and seconds_between(started.first_time, host.last_time) > 0
                        and (pair := _merge_split(ended, host, started, rules)) is not None
                    ),
                    None,
                )
                if found is not None:
                    host, pair = found
                    out = [tr for tr in out if all(tr is not gone for gone in (ended, host, started))] + list(pair)
                    changed = True
                    break
            if changed:
                break
    return out


def _swap_at_merge(
    walker: PersonTrack, gap: int, host: PersonTrack, rules: PersonRules
) -> tuple[PersonTrack, PersonTrack] | None:
    """If `walker`, not found between its samples gap-1 and gap while `host`'s box widened over where it stood
    (both people as one box), went on after the merge as the host's person and the host's track as the walker's:
    both tracks with their tails swapped from the split on, (host's track, walker's track); else None."""
    k = rules.look_samples
    t1, t2 = walker.times[gap - 1], walker.times[gap]
    inside = bisect.bisect_right(host.times, t1)  # the host's first sample while the walker was not found
    split = bisect.bisect_left(host.times, t2)  # ...and its first one from the walker's return on
    if not 0 < inside < split < len(host.times):
        return None
    merged, before = host.boxes[inside:split], host.boxes[max(0, inside - k) : inside]
    if not (
        _touching(walker.boxes[gap - 1], merged[0], rules.merge_touch)
        and _touching(merged[-1], walker.boxes[gap], rules.merge_touch)
    ):
        return None
    if not _widened(merged, before, rules):
        return None
    if part_of_box(walker.boxes[gap - 1], merged[0], rules) or part_of_box(walker.boxes[gap], host.boxes[split], rules):
        return None  # the host's own upper body found apart, not somebody beside them
    walker_before, walker_after = walker.boxes[max(0, gap - k) : gap], walker.boxes[gap : gap + k]
    if _which_way(before, host.boxes[split : split + k], walker_before, walker_after, rules) != "swap":
        return None
    host_person = _track_of(
        host.camera, host.times[:split] + walker.times[gap:], host.boxes[:split] + walker.boxes[gap:]
    )
    walker_person = _track_of(
        host.camera, walker.times[:gap] + host.times[inside:], walker.boxes[:gap] + host.boxes[inside:]
    )
    return host_person, walker_person


def unswap_merged(tracks: Sequence[PersonTrack], rules: PersonRules | None = None) -> list[PersonTrack]:
    """Person tracks with each swap at a merge undone (`PersonRules.merge_max_s`).

    Two people side by side become one wider box when one passes in front of the other. The tracker gives that
    box to one of them (the host) and misses the other (the walker) while it lasts; when they part, each track
    may go on with the other person: the host's with whoever walks on, the walker's with whoever stays (seed
    257, day 1, 17:31: the customer who had stood at the counter walked out with the other's track, on both
    cameras). Where a track was not found at frames in which a track it touched was seen wider than before,
    and both go on after, the clothes decide as in `relink_merged`: if each track's clothes after the split
    are the other's before it, by merge_look_margin, the tails are swapped back; otherwise nothing changes.
    Unlike `relink_merged`, no track ends or starts here."""
    rules = rules or PersonRules()
    out = list(tracks)
    changed = True
    while changed:
        changed = False
        frames: dict[str, list[Any]] = {}  # per camera: the times at which anyone was found
        for tr in out:
            frames.setdefault(tr.camera, []).extend(tr.times)
        for camera in frames:
            frames[camera] = sorted(set(frames[camera]))
        for walker in sorted(out, key=lambda tr: tr.first_time):
            seen = frames[walker.camera]
            for gap in range(1, len(walker.times)):
                t1, t2 = walker.times[gap - 1], walker.times[gap]
                if bisect.bisect_left(seen, t2) - bisect.bisect_right(seen, t1) == 0:
                    continue  # nobody was found in between: the walker was not missed
                if seconds_between(t1, t2) > rules.merge_max_s:
                    continue
                found = next(
                    (
                        (host, pair)
                        for host in out
                        if host is not walker
                        and host.camera == walker.camera
                        and seconds_between(host.first_time, t1) >= 0
                        and seconds_between(t2, host.last_time) >= 0
                        and (pair := _swap_at_merge(walker, gap, host, rules)) is not None
                    ),
                    None,
                )
                if found is not None:
                    host, pair = found
                    out = [tr for tr in out if tr is not walker and tr is not host] + list(pair)
                    changed = True
                    break
            if changed:
                break
    return out


LOOK_COLUMNS = ("look_l", "look_a", "look_b")  # PERSON_DETECTIONS' columns for a box's look (CIELAB)


def person_detections_frame(tracks: Sequence[PersonTrack]) -> pd.DataFrame:
    """Rows of PERSON_DETECTIONS (without `day`): every body box, with the track it went to."""
    rows = [
        {
            "track_id": tr.track_id,
            "camera": tr.camera,
            "time": t,
            "x1": b.x1,
            "y1": b.y1,
            "x2": b.x2,
            "y2": b.y2,
            "score": b.score,
            **dict(zip(LOOK_COLUMNS, b.look or (None, None, None), strict=True)),
        }
        for tr in tracks
        for t, b in zip(tr.times, tr.boxes)
    ]
    return pd.DataFrame(rows, columns=[c for c in PERSON_DETECTIONS.column_names if c != "day"])


def person_tracks_from_rows(rows: pd.DataFrame) -> list[PersonTrack]:
    """PERSON_DETECTIONS rows -> the person tracks they were written from (boxes in time order), in track id
    order."""
    tracks: list[PersonTrack] = []
    if rows is None or rows.empty:
        return tracks
    ordered = rows.dropna(subset=["track_id"]).sort_values(["track_id", "time"])
    looks = ordered.reindex(columns=list(LOOK_COLUMNS)).astype(float).to_numpy()
    # One pass over the sorted rows, a track's rows as they come (a pandas group per track cost ~1 ms each).
    by_track = itertools.groupby(
        zip(ordered.itertuples(index=False), looks, strict=True), key=lambda rl: rl[0].track_id
    )
    for track_id, part in by_track:
        first_row = next(part)  # a group has a row: the camera is the first row's
        tr = PersonTrack(str(first_row[0].camera), str(track_id))
        for r, look in itertools.chain([first_row], part):
            t = r.time.to_pydatetime() if hasattr(r.time, "to_pydatetime") else r.time
            kept = None if np.isnan(look).any() else (float(look[0]), float(look[1]), float(look[2]))
            tr.add(t, PersonBox(float(r.x1), float(r.y1), float(r.x2), float(r.y2), float(r.score), kept))
        tracks.append(tr)
    return tracks
