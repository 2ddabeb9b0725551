"""One person, several cameras: one visit.

A shop with a door camera and a counter camera sees most people on both. A face names them on both only
where both saw the face: the visits of one identity are already built across cameras (`visits.py`). A body
without a face is a visit of its own camera (`bodies.py`), and without this step the same customer would be
counted once per camera that saw them without a face: a faceless customer twice, a customer whose face only the
counter camera saw once with an ID and once more, unidentified, from the door camera's body.

The cameras are not calibrated to one another, so "the same person" is read from time alone. Camera by
camera, each unidentified visit seen by that camera only is matched one to one (an assignment maximising the
summed overlap, shared time over the two stays' union, a named partner preferred) to the visits that camera
did not see at that time (a camera sees a person once: its named face on the way out does not make the back
it saw while the person waited someone else), and folded into its partner when they share at least half of
the shorter stay and a quarter of the longer one, or half of the shorter and begin or end at the same moment
(the door camera sees the person come in or go out). One to one keeps a queue right: two people in view of both
cameras at once are two pairs, not one visit. Both sides keep a person only one camera saw: someone in and
out by the door while a customer waits at the counter stays a visit of their own. Staff visits take nobody in.

A visit's cameras can disagree on when the person came: a person tracker goes on from one person to the next
in a queue (the body that held the newcomer's face had been the customer before them since that customer
came in). Where the shop's cameras see people arrive together (the day's named visits seen by both begin
within `same_moment_s` of each other, as a rule), a camera that saw this person arrive more than
`handed_over_s` before the others did, at the moment another camera saw somebody else arrive (somebody it
saw beside this person), saw that somebody: the visit begins when the others saw this person
(`_handed_over`). Likewise for leaving.

Plain Python: no Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CAMERA_SEPARATOR = ","
# An in-memory column of visits (not stored): camera -> the (first, last) times of the tracks behind the visit
# on that camera. A camera that saw someone's face only on the way out still did not see them while they waited.
CAMERA_SPANS = "camera_spans"
# ...and camera -> the (first, last) times its face was seen (within those spans, which the body widens). A
# camera that saw the person's face arrive (leave) was following this person then, whatever another camera saw.
FACE_SPANS = "face_spans"


@dataclass(frozen=True)
class CameraRules:
    # Shared time, as a share of the shorter and of the longer of the two stays, at which an unidentified
    # visit and its partner on other cameras are one person. The shorter side lets a camera that sees a person
    # for part of their stay join (the door camera loses them at the counter); the longer side keeps a door
    # camera's brief passer-by from vanishing into a long stay at the counter.
    min_shared_of_shorter: float = 0.5
    min_shared_of_longer: float = 0.25
    # ...or, for a stay inside the other (min_shared_of_shorter), one that starts or ends within this of it: the
    # door camera seeing a customer come in, or go out, at the moment the counter camera's stay begins or ends
    # (seed 443, day 1: a faceless customer 39.5 s at the counter, 6.5 s on the door camera on her way out,
    # both ending on the same analysed frame, made two visits). Someone in and out by the door while a customer
    # waits leaves at another moment.
    same_moment_s: float = 1.0
    # Added to the overlap (shared over union) of a named partner in the assignment.
    named_bonus: float = 0.25
    # Each stay widened by this much either side before the overlap is taken: a visit of one analysed frame
    # (no length) inside another is shared time, not none.
    pad_s: float = 0.5
    # A camera that saw a person arrive (or leave) more than this before (after) the visit's other cameras, at the
    # moment (same_moment_s) another camera saw somebody else arrive (leave), was following that somebody then
    # (module docstring). Seed 421, day 1: a faceless customer's counter body had been the customer before her
    # for 12.7 s; seed 443, day 2: a named customer's door-camera body, 5 s. Both took the sale of the person
    # they had followed (first come, first served). Disagreements within it are left alone.
    handed_over_s: float = 2.0
    # ...judged only where the day's named visits seen by both cameras (at least this many) begin, and end,
    # within same_moment_s of each other (the median): a door camera that sees everyone come in seconds
    # before the counter camera does is no sign of a hand-over.
    min_named_for_usual_gap: int = 3
    # Two sightings of one camera are of two people when it saw them at the same time, but not when one only
    # hands off to the other for less than this: the tracker loses a customer's back as she turns and her
    # face shows (seed 479, day 3: a back lost 0.75 s after the face showed on the counter camera was read as
    # somebody else, the named visit cut to 1.5 s and her back counted as a second customer; seed 241, day 4:
    # 0.67 s apart).
    glimpse_s: float = 1.0


def cameras_of(value: object) -> frozenset[str]:
    """The cameras of a visit_log row's `cameras` value (comma-separated; empty or NULL for rows stored before
    the column)."""
    if not isinstance(value, str) or not value:
        return frozenset()
    return frozenset(value.split(CAMERA_SEPARATOR))


def camera_list(cameras: frozenset[str] | set[str]) -> str:
    return CAMERA_SEPARATOR.join(sorted(cameras))


_EPOCH, _SECOND = pd.Timestamp(0), pd.Timedelta(seconds=1)


def _seconds(t) -> np.ndarray:
    """Timestamps as seconds since the epoch, whatever their unit (ns, us) or dtype (object after a concat)."""
    return np.asarray((pd.to_datetime(pd.Series(t)) - _EPOCH) / _SECOND, dtype=float)


def _flag(values: pd.Series, missing: bool) -> np.ndarray:
    return np.array([missing if v is None or pd.isna(v) else bool(v) for v in values], dtype=bool)


def _seen_by_camera(
    visits: pd.DataFrame, cams: list[frozenset[str]], entry: np.ndarray, exit_: np.ndarray
) -> list[dict]:
    """Per visit, camera -> the (first, last) seconds it saw the visit's person; without CAMERA_SPANS (rows
    stored before it), each of the visit's cameras for the visit's `entry` and `exit_`."""
    spans = visits[CAMERA_SPANS] if CAMERA_SPANS in visits else [None] * len(visits)
    out = []
    for k, (given, cameras) in enumerate(zip(spans, cams, strict=True)):
        if isinstance(given, dict) and given:
            out.append({camera: _in_seconds(pairs) for camera, pairs in given.items()})
        else:
            out.append({camera: [(entry[k], exit_[k])] for camera in cameras})
    return out


def _in_seconds(pairs) -> list[tuple[float, float]]:
    firsts, lasts = _seconds([a for a, _ in pairs]), _seconds([b for _, b in pairs])
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


def _overlaps(spans, first: float, last: float, glimpse_s: float = 0.0) -> bool:
    """Whether a camera's spans and [first, last] share a moment (a frame at the very end of one counts), less
    a hand-off shorter than `glimpse_s`: one begins before the other and ends less than that after the other
    began (a body lost as the person turns and their face shows)."""
    for a, b in spans:
        if a > last or first > b:
            continue
        handing_off = (a < first and b < last) or (first < a and last < b)
        if not handing_off or min(b, last) - max(a, first) >= glimpse_s:
            return True
    return False


def _usual_gaps(seen: list[dict], named: np.ndarray, rules: CameraRules) -> dict[tuple[str, str], tuple[float, float]]:
    """(camera a, camera b) -> the median of (b's first sight - a's) and of (b's last - a's) over the named
    visits both cameras saw, where there are at least min_named_for_usual_gap of them."""
    gaps: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for k, spans in enumerate(seen):
        if not named[k]:
            continue
        for a in spans:
            for b in spans:
                if a != b:
                    gaps.setdefault((a, b), []).append(
                        (_first(spans[b]) - _first(spans[a]), _last(spans[b]) - _last(spans[a]))
                    )
    return {
        pair: (float(np.median([g for g, _ in pairs])), float(np.median([g for _, g in pairs])))
        for pair, pairs in gaps.items()
        if len(pairs) >= rules.min_named_for_usual_gap
    }


def _first(spans) -> float:
    return min(a for a, _ in spans)


def _last(spans) -> float:
    return max(b for _, b in spans)


def _faces_seen(visits: pd.DataFrame) -> list[dict]:
    """Per visit, camera -> the (first, last) seconds its face was seen there (FACE_SPANS); {} without."""
    given = visits[FACE_SPANS] if FACE_SPANS in visits else [None] * len(visits)
    return [
        {camera: _in_seconds(pairs) for camera, pairs in g.items() if pairs} if isinstance(g, dict) else {}
        for g in given
    ]


def _handed_over(
    k: int,
    seen: list[dict],
    dropped: set[int],
    gaps: dict[tuple[str, str], tuple[float, float]],
    rules: CameraRules,
    faces: list[dict],
) -> bool:
    """Clips `seen[k]` where one of its cameras saw the person arrive (leave) more than handed_over_s before
    (after) the rest did, at the moment another of its cameras saw somebody else arrive (leave): a visit not
    `dropped` (folded) whom it saw at the same time as this person, on cameras that usually see people arrive
    (leave) together (`_usual_gaps`). That camera was following the other person then (module docstring),
    unless it saw this person's face then (`faces`, FACE_SPANS: within same_moment_s): then the other camera's
    body was the one that changed people. Whether anything was clipped."""
    spans = seen[k]
    if len(spans) < 2:
        return False
    clipped = False
    for leaving in (False, True):
        sign = -1.0 if leaving else 1.0  # leaving: the same reading with time reversed

        def sighting(camera_spans, sign=sign, leaving=leaving) -> float:
            return sign * (_last(camera_spans) if leaving else _first(camera_spans))

        moment = {c: sighting(s) for c, s in spans.items()}
        early = min(moment, key=lambda c: moment[c])
        rest = {c: m for c, m in moment.items() if c != early}
        late = min(rest, key=lambda c: rest[c])
        usual = gaps.get((early, late))
        if (
            usual is None
            or abs(usual[1 if leaving else 0]) > rules.same_moment_s
            or rest[late] - moment[early] <= rules.handed_over_s
        ):
            continue
        # Seed 491, day 1: the counter camera saw a customer's face from her arrival; the door camera's bodies of
        # her and the customer behind her swapped while they waited. Her face says the counter camera was right.
        own_face = faces[k].get(early)
        if own_face and abs(sighting(own_face) - moment[early]) <= rules.same_moment_s:
            continue
        # Somebody else: the late camera saw them at the same time as this person (a camera sees a person once),
        # not this person's own back before their face showed.
        somebody_else = any(
            late in seen[w]
            and abs(sighting(seen[w][late]) - moment[early]) <= rules.same_moment_s
            and any(_overlaps(seen[w][late], a, b, rules.glimpse_s) for a, b in spans[late])
            for w in range(len(seen))
            if w != k and w not in dropped
        )
        if somebody_else:
            bound = sign * rest[late]
            spans[early] = [
                (max(a, bound), max(b, bound)) if not leaving else (min(a, bound), min(b, bound))
                for a, b in spans[early]
            ]
            clipped = True
    return clipped


def _timestamp(seconds: float) -> pd.Timestamp:
    return _EPOCH + pd.Timedelta(microseconds=round(seconds * 1e6))


def one_visit_per_person(visits: pd.DataFrame, rules: CameraRules | None = None) -> pd.DataFrame:
    """`visits`: visit_log rows (identified and unidentified, without visit_id) with `cameras`. Each unidentified
    visit seen by one camera only is folded into the visit of other cameras it is matched to (module
    docstring): the partner keeps its identity and person track, takes the earlier entry and later exit, and
    adds the camera. A camera that was following somebody else when it first (last) saw the person gives no
    entry (exit) (`_handed_over`). Rows are returned in their order, folded ones dropped."""
    rules = rules or CameraRules()
    if visits.empty or "cameras" not in visits:
        return visits
    out = visits.copy().reset_index(drop=True)
    cams = [cameras_of(c) for c in out["cameras"]]
    every_camera = sorted(set().union(*cams))
    if len(every_camera) < 2:
        return out
    identified = _flag(out["identified"], missing=True)
    staff = _flag(out["is_staff"], missing=False) if "is_staff" in out else np.zeros(len(out), bool)
    start, end = _seconds(out["entry_time"]), _seconds(out["exit_time"])
    seen = _seen_by_camera(out, cams, start, end)
    faces = _faces_seen(out)
    dropped: set[int] = set()
    gaps = _usual_gaps(seen, identified & ~staff, rules)

    def take_back_handed_over(k: int) -> None:
        """A visit's entry and exit as its cameras saw them after `_handed_over`."""
        if staff[k] or not _handed_over(k, seen, dropped, gaps, rules, faces):
            return
        first, last = min(map(_first, seen[k].values())), max(map(_last, seen[k].values()))
        if first > start[k] + 1e-3:  # clipped, not a float's rounding
            start[k], out.at[k, "entry_time"] = first, _timestamp(first)
        if last < end[k] - 1e-3:
            end[k], out.at[k, "exit_time"] = last, _timestamp(last)

    # Named visits first: a faceless body is folded into a visit by the times it keeps after this.
    for k in np.flatnonzero(identified):
        take_back_handed_over(int(k))
    from scipy.optimize import linear_sum_assignment  # imported when needed: a second of start-up

    for camera in every_camera:
        alive = [i for i in range(len(out)) if i not in dropped]
        own = [i for i in alive if not identified[i] and cams[i] == {camera}]
        partners = [j for j in alive if cams[j] and not staff[j]]
        if own and partners:
            a, b = np.array(own), np.array(partners)
            # The overlap is taken on stays widened by pad_s; seen at the same time is read from the times as
            # they are (a body lost at the door 0.7 s before the person's face shows there was not seen beside it).
            entry, exit_ = start - rules.pad_s, end + rules.pad_s
            shared = np.clip(
                np.minimum(exit_[a][:, None], exit_[b][None, :]) - np.maximum(entry[a][:, None], entry[b][None, :]),
                0.0,
                None,
            )
            length_a, length_b = (exit_[a] - entry[a])[:, None], (exit_[b] - entry[b])[None, :]
            shorter, longer = np.minimum(length_a, length_b), np.maximum(length_a, length_b)
            union = length_a + length_b - shared
            # Someone this camera saw at the same time as the body is someone else: a camera sees a person once.
            apart = np.array(
                [[not _overlaps(seen[j].get(camera, ()), start[i], end[i], rules.glimpse_s) for j in b] for i in a]
            )
            together = (np.abs(start[a][:, None] - start[b][None, :]) <= rules.same_moment_s) | (
                np.abs(end[a][:, None] - end[b][None, :]) <= rules.same_moment_s
            )
            same = (
                apart
                & (shared >= rules.min_shared_of_shorter * shorter)
                & ((shared >= rules.min_shared_of_longer * longer) | together)
            )
            # A named partner is preferred at equal overlap: matched body to body first, two bodies of two named
            # people seen by each other's camera make a third visit that no name can take any more.
            weight = (shared / union + rules.named_bonus * identified[b][None, :]) * same
            rows, cols = linear_sum_assignment(-weight)
            for r, c in zip(rows, cols, strict=True):
                if not same[r, c]:
                    continue
                i, j = int(a[r]), int(b[c])
                start[j], end[j] = min(start[j], start[i]), max(end[j], end[i])
                out.at[j, "entry_time"] = min(out.at[j, "entry_time"], out.at[i, "entry_time"])
                out.at[j, "exit_time"] = max(out.at[j, "exit_time"], out.at[i, "exit_time"])
                cams[j] = cams[j] | {camera}
                out.at[j, "cameras"] = camera_list(cams[j])
                seen[j].setdefault(camera, []).append((start[i], end[i]))
                dropped.add(i)
                take_back_handed_over(j)
    return out.drop(index=sorted(dropped)).reset_index(drop=True)
