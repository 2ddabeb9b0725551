"""Tracks -> anonymous identities that persist across days.

Day N is matched against the registry as it stood after day N-1. First the day's tracks are clustered among
themselves (average linkage on track-mean embeddings): several tracks of one person in a day agree with each
other far better than single frames do. Each cluster is then compared with the enrolled staff, then with
the registry's centroids; a cluster that matches nobody becomes a new customer. IDs are minted in order of
first appearance, so re-running a day with the same inputs gives the same IDs.

Thresholds come from the ROC on ../shared/data/faces (bench/face_roc.py): single photo pairs of the same
person score >= 0.30 in 97.7% of cases while different people do so in 0.01%; cluster and centroid means
are steadier still. bench/identity_sweep.py replays the identity stage on stored tracks to compare settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from watershop_dagster.core.footage.persons import same_clothes
from watershop_dagster.core.footage.tracking import stack_embeddings
from watershop_dagster.core.identities.corrections import IdentityConstraints


@dataclass(frozen=True)
class IdentityRules:
    match_threshold: float = 0.30  # cluster mean vs registry centroid
    cluster_threshold: float = 0.40  # average similarity to join tracks of one day (lower merges look-alike siblings)
    staff_threshold: float = 0.32
    min_usable_faces: int = 2  # a track with fewer embedded faces cannot be identified
    weight_cap: float = 50.0  # old evidence keeps at most this weight, so a face can age
    id_prefix: str = "CUST_"  # a chain sharing one registry gives each shop its own: CUST_<shop>_
    # Back the same day in the same clothes: a cluster that would get a new ID takes one given earlier that
    # day instead when their faces are at least this alike, the clothes of their bodies (`look_distance`, on
    # each camera both were seen by) within `same_clothes_max_colour`, and they were never in view of one
    # camera at the same time. At 28-40 px one person's clusters of one day were 0.16-0.27 alike, under
    # `match_threshold`, in the same clothes; different people of one day with clothes that close were under
    # 0.15 (docs/footage-rules.md, "Back the same day in the same clothes").
    same_clothes_min_similarity: float = 0.15
    same_clothes_max_colour: float = 5.0
    # ...and their lightness (CIELAB L*, 8-bit scale) within this: greys, black and white all sit at the
    # centre of a*b*, so colour alone took a light grey shirt for a dark grey one (seed 181, day 2: two people
    # 3.6 apart in colour, 45.5 in lightness, faces 0.19 alike, made one). One person's two visits of a day
    # were 0-1 apart in lightness on the evaluation days (the simulator's shirts are one colour); real light
    # varies more (docs/footage-rules.md, "Back the same day in the same clothes"), so the margin is wide.
    same_clothes_max_lightness: float = 30.0
    # A weak track (under evidence.MIN_TRACK_EVIDENCE: a few small or soft faces) never makes an ID or moves
    # one, but confirms an ID already known (from earlier days or a stronger track of today) when its faces are
    # at least this alike to it, no other customer or staff member is as alike, and no track of that ID was in
    # view with it. Seed 419, day 1: a customer's last visit showed 3 usable faces (evidence 1.49; the other 21
    # too soft), 0.62 alike to his ID and 0.15 to the next, and was an unidentified visit. Set on the tune half
    # (bench/weak_tracks.py: two ~28 px faces at 60% light and JPEG q40 against centroids of other photos): no
    # weak track came within 0.31 of someone else's centroid (4,914 pairs), and on the evaluation days
    # different people's tracks came within 0.28-0.35 of someone else's ID; 0.45 keeps 0.1 over both and
    # confirms 64% of the tune half's weak tracks (74% of the report half's, none wrongly). With landmarks
    # found again on small faces (faces.LandmarkRefiner) 70% and 77%, the closest other person 0.27 and 0.38.
    weak_match_threshold: float = 0.45
    # A track of a single embedded face (under min_usable_faces: it never makes an ID) confirms a known customer
    # as a weak track does, at least this alike. Seed 487, day 2: a returning customer's only track of the visit
    # had one face over the detector's score (the other five 0.50-0.54), 0.59 alike to his ID, the next
    # customer 0.14: an unidentified visit. bench/weak_tracks.py --weak-sizes 30 --people 200 --photos 10 (one
    # 30-px face at 60% light, JPEG q40, against centroids of other photos): confirms 0.625 of one-face tracks
    # at 0.50 (tune half; report 0.669; at 0.45 0.767 and 0.796); someone else's centroid at most 0.426 alike
    # on the report half (29,181 pairs), and once 0.558 on the tune half (1 of 15,096 pairs: a look-alike
    # politician's photo 0.14 alike to his own centroid), which no threshold under 0.56 keeps out.
    single_face_match_threshold: float = 0.5
    # A returning customer split across days: an ID minted today whose day's faces are at least this alike to a
    # known customer not seen today (under `match_threshold`) takes that customer's ID when each is the other's
    # most alike (the customer more alike to this ID than to any other ID minted today or known before). On the
    # 12 stored shop-camera evaluation runs of the twelfth session's code, the four splits' pairs read 0.254,
    # 0.271, 0.275 and 0.289, the one pair of different people never seen on one day that were each other's
    # most alike 0.258 (the next 0.201): 0.27 joins three splits and keeps a margin over that pair.
    # bench/split_centroids.py (day centroids of 1-3 photos at 28-40 px, 60% light, JPEG q40, shops of 14
    # returning and 6 new people) shows the rule's wrong joins per shop no higher at 0.24-0.28 than at 0.30
    # on the report half (0.0025), more below (0.010 at 0.22); docs/face-size.md, "Split across days".
    mutual_match_threshold: float = 0.27
    # ...and one at least `standout_match_threshold` alike when the pair also stands out: at least
    # `standout_margin` more alike than the ID is to its next known customer and than the customer is to
    # anyone else (another ID minted today or known before). docs/face-size.md, "The pair that stands out".
    standout_match_threshold: float = 0.25
    standout_margin: float = 0.08


def customer_id_of(number: int, prefix: str = "CUST_") -> str:
    return f"{prefix}{number:04d}"


@dataclass
class RegistryEntry:
    customer_id: str
    centroid: np.ndarray
    weight: float
    is_staff: bool
    first_seen: date
    visit_count: int
    best_crop_path: str | None = None


@dataclass
class Assignment:
    customer_id: str
    similarity: float | None  # to the registry identity; None for a new one
    is_staff: bool


@dataclass
class IdentityResult:
    assignments: dict[str, Assignment]  # track_id -> identity
    day_centroids: dict[str, tuple[np.ndarray, float, str | None]] = field(
        default_factory=dict
    )  # id -> (mean, weight, best crop)
    new_ids: list[str] = field(default_factory=list)
    unidentified_tracks: int = 0
    # IDs minted for a cluster that an owner's correction then gave an older ID: never handed out again.
    retired_ids: dict[str, str] = field(default_factory=dict)  # track_id -> the ID it was minted


def customer_number(customer_id: str) -> int:
    try:
        return int(customer_id.split("_")[-1]) if customer_id.startswith("CUST_") else 0
    except ValueError:
        return 0


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)


def cluster_tracks(embeddings: np.ndarray, threshold: float) -> np.ndarray:
    if len(embeddings) == 0:
        return np.zeros(0, int)
    if len(embeddings) == 1:
        return np.ones(1, int)
    sims = np.clip(embeddings @ embeddings.T, -1, 1)
    dist = 1.0 - sims[np.triu_indices(len(embeddings), 1)]
    from scipy.cluster.hierarchy import fcluster, linkage  # imported when needed: start-up of every process

    return fcluster(linkage(np.maximum(dist, 0), method="average"), t=1.0 - threshold, criterion="distance")


def _constrained_labels(labels: np.ndarray, track_ids: list[str], c: IdentityConstraints) -> np.ndarray:
    """The day's clusters after the owner's corrections: tracks kept apart leave their cluster. Clusters of one
    must-link group stay apart here and are given one ID in `assign_identities`, each first decided as the
    matcher would (so a number it would have minted is minted, and retired, and later IDs keep theirs)."""
    labels = labels.copy()
    position = {t: i for i, t in enumerate(track_ids)}
    next_label = int(labels.max()) + 1 if len(labels) else 1
    for side_a, side_b in c.apart:
        for label in set(labels.tolist()):
            members = {track_ids[i] for i in np.where(labels == label)[0]}
            if members & side_a and members & side_b:
                for t in members & side_b:
                    labels[position[t]] = next_label
                next_label += 1
    # A track ruled apart from an ID leaves a cluster whose other tracks are free to take that ID.
    for label in set(labels.tolist()):
        in_cluster = [track_ids[i] for i in np.where(labels == label)[0]]
        rules = {frozenset(c.forbidden.get(t, ())) for t in in_cluster}
        if len(rules) < 2:
            continue
        new_labels: dict[frozenset[str], int] = {}
        for t in in_cluster:
            rule = frozenset(c.forbidden.get(t, ()))
            if rule:
                if rule not in new_labels:
                    new_labels[rule] = next_label
                    next_label += 1
                labels[position[t]] = new_labels[rule]
    return labels


def assign_identities(
    tracks: pd.DataFrame,
    registry: list[RegistryEntry],
    staff: dict[str, np.ndarray],
    next_number: int,
    rules: IdentityRules | None = None,
    excluded_ids: set[str] | None = None,
    constraints: IdentityConstraints | None = None,
) -> IdentityResult:
    """`tracks` needs track_id, first_time, usable_faces, mean_quality, best_crop_path, embedding.
    `staff` maps a staff id to its enrolment embeddings (n, d). `excluded_ids` are forgotten identities
    that must never be matched again. `constraints` are the owner's corrections for this day
    (core/identities/corrections.py); without any, matching is purely automatic."""
    rules = rules or IdentityRules()
    c = constraints or IdentityConstraints()
    first_number = next_number
    embedded = tracks[(tracks["usable_faces"] >= 1) & tracks["embedding"].notna()]
    weak = embedded["weak"].astype(bool) if "weak" in embedded.columns else pd.Series(False, index=embedded.index)
    weak |= embedded["usable_faces"] < rules.min_usable_faces  # too few faces to make an ID: may confirm one
    usable = embedded[~weak].sort_values("first_time")
    result = IdentityResult({}, unidentified_tracks=len(tracks) - len(usable))
    # Customers the matcher may give; IDs the owner made staff (or ignored) stay matchable.
    customers = [
        e
        for e in registry
        if (not e.is_staff or c.staff.get(e.customer_id)) and e.customer_id not in (excluded_ids or set())
    ]
    if usable.empty:  # a day of weak tracks only: they may still confirm customers known before today
        return _confirmed_by_weak_tracks(result, usable, embedded[weak], customers, staff, rules, c)
    usable = usable.reset_index(drop=True)
    spans = _Spans.of(usable)
    embs = stack_embeddings(usable["embedding"])
    weights = (usable["usable_faces"].to_numpy() * usable["mean_quality"].to_numpy()).astype(np.float64) + 1e-3
    labels = cluster_tracks(embs, rules.cluster_threshold)
    track_ids = list(usable["track_id"])
    if not c.empty:
        labels = _constrained_labels(labels, track_ids, c)

    centroids = np.stack([e.centroid for e in customers]) if customers else np.zeros((0, embs.shape[1]), np.float32)
    group_assignment: dict[str, Assignment] = {}
    today: dict[str, list[int]] = {}  # customer ID given today -> its tracks (rows of `usable`)
    # Clusters in order of first appearance: new IDs are numbered the way the day unfolded.
    order = []
    for label in labels:
        if label not in order:
            order.append(label)
    for label in order:
        idx = np.where(labels == label)[0]
        members = [track_ids[i] for i in idx]
        forbidden = set().union(*(c.forbidden.get(t, set()) for t in members))
        mean = _unit((embs[idx] * weights[idx, None]).sum(axis=0))
        weight = float(weights[idx].sum())
        best_row = usable.iloc[idx[np.argmax(weights[idx])]]
        staff_id, staff_sim = (
            (None, -1.0) if any(t in c.no_staff_match for t in members) else _most_alike_staff(staff, mean, forbidden)
        )
        sims = centroids @ mean if len(centroids) else np.zeros(0)
        # An ID given today to someone in view of one camera with this cluster is someone else's (seed 199 in a
        # DVR's half-width mode: two men side by side at the counter, their faces 0.31 alike, made one).
        seen_with = {cid for cid, rows in today.items() if spans.in_view_together(idx, rows)}
        if (forbidden or seen_with) and len(sims):
            ruled_out = forbidden | seen_with
            sims = np.where([c.aliases.get(e.customer_id, e.customer_id) in ruled_out for e in customers], -1.0, sims)
        best = int(np.argmax(sims)) if len(sims) else -1
        best_sim = float(sims[best]) if best >= 0 else -1.0
        # Staff only when the face is more like the staff member than like any known customer: look-alikes
        # (siblings) exist, and a customer hidden as staff disappears from every figure.
        minted = None
        # IDs this cluster must not take by its clothes: the owner's word that its tracks are someone else
        given_today = {cid: [track_ids[i] for i in rows] for cid, rows in today.items()} if c.apart else {}
        not_theirs = forbidden | c.apart_from(members, given_today)
        if staff_id is not None and staff_sim >= rules.staff_threshold and staff_sim >= best_sim:
            assignment = Assignment(staff_id, staff_sim, True)
        elif best_sim >= rules.match_threshold:
            matched = customers[best].customer_id
            assignment = Assignment(c.aliases.get(matched, matched), best_sim, False)
        elif (back := _back_in_same_clothes(usable, spans, idx, mean, today, result, not_theirs, rules)) is not None:
            # similarity to the registry identity; None for one minted today, as for a new one
            known = next(
                (k for k, e in enumerate(customers) if e.customer_id == back and e.first_seen != date.min), None
            )
            assignment = Assignment(back, float(sims[known]) if known is not None else None, False)
        else:
            minted = customer_id_of(next_number, rules.id_prefix)
            next_number += 1
            assignment = Assignment(minted, None, False)
            # Later clusters of the same day are matched against it as against the registry: the day's
            # clustering is stricter (look-alikes), and one person must not get two IDs on their first day
            # when the second would have matched the first on any later day.
            customers.append(RegistryEntry(minted, mean, weight, False, date.min, 0))
            centroids = np.vstack([centroids, mean[None, :]])
        group = next((g for g in (c.group_of(t) for t in members) if g is not None), None)
        if group is not None:
            # The owner's word over the matcher's: the group's earlier ID, or what its first cluster got
            # (a split-off part: a fresh ID, never one the matcher would reuse).
            if group in c.group_target:
                target = c.group_target[group]
                pos = next((k for k, e in enumerate(customers) if e.customer_id == target), None)
                similarity = float(centroids[pos] @ mean) if pos is not None else None
                assignment = Assignment(target, similarity, target.startswith("STAFF_"))
            elif group in group_assignment:
                assignment = group_assignment[group]
            elif group in c.group_new and minted is None:
                minted = customer_id_of(next_number, rules.id_prefix)
                next_number += 1
                assignment = Assignment(minted, None, False)
                customers.append(RegistryEntry(minted, mean, weight, False, date.min, 0))
                centroids = np.vstack([centroids, mean[None, :]])
            group_assignment[group] = assignment
        if minted is not None and assignment.customer_id != minted:
            customers.pop()  # the minted entry, appended last
            centroids = centroids[:-1]
            for t in members:
                result.retired_ids[t] = minted
        elif minted is not None:
            result.new_ids.append(minted)
        if assignment.customer_id in c.staff:
            assignment = Assignment(assignment.customer_id, assignment.similarity, c.staff[assignment.customer_id])
        if not assignment.is_staff:
            today.setdefault(assignment.customer_id, []).extend(int(i) for i in idx)
        for t in members:
            a = assignment
            if t in c.track_staff and a.is_staff != c.track_staff[t]:
                a = Assignment(a.customer_id, a.similarity, c.track_staff[t])
            result.assignments[t] = a
        prev = result.day_centroids.get(assignment.customer_id)
        if prev is not None:
            merged = _unit(prev[0] * prev[1] + mean * weight)
            result.day_centroids[assignment.customer_id] = (merged, prev[1] + weight, prev[2])
        else:
            result.day_centroids[assignment.customer_id] = (mean, weight, best_row["best_crop_path"])
    before_today = [e for e in customers if e.first_seen != date.min]
    result = _known_by_the_whole_day(result, usable, spans, before_today, staff, first_number, rules, c)
    return _confirmed_by_weak_tracks(result, usable, embedded[weak], before_today, staff, rules, c)


def _most_alike_staff(
    staff: dict[str, np.ndarray], mean: np.ndarray, forbidden: set[str] | frozenset[str] = frozenset()
) -> tuple[str | None, float]:
    """The enrolled staff member whose gallery has the face most like `mean`, and how alike (None, -1: none)."""
    best: tuple[str | None, float] = (None, -1.0)
    for sid, gallery in staff.items():
        s = float((gallery @ mean).max())
        if s > best[1] and sid not in forbidden:
            best = (sid, s)
    return best


def renumbered(kept_new: list[str], first_number: int, retired: dict[str, str]) -> dict[str, str]:
    """The IDs minted today that are kept, numbered again from `first_number` in their order, as if those taken
    back had never been minted; none where an owner's correction retired a number today (numbers are never
    handed out twice). Each keeps its minted prefix (`CUST_<shop>_` where a chain shares one registry)."""
    if retired:
        return {}
    return {m: customer_id_of(first_number + k, m[: m.rindex("_") + 1]) for k, m in enumerate(kept_new)}


def _split_across_days(
    k: int, best: int, sims: np.ndarray, minted_means: np.ndarray, centroids: np.ndarray, rules: IdentityRules
) -> bool:
    """Whether minted ID `k` and known customer `best` (its most alike; `sims` = centroids @ its mean) are one
    person split across days: each the other's most alike, and at least `mutual_match_threshold` alike, or at
    least `standout_match_threshold` and standing out from each one's next most alike by `standout_margin`."""
    pair = float(sims[best])
    if pair < min(rules.mutual_match_threshold, rules.standout_match_threshold):
        return False
    to_minted, to_known = minted_means @ centroids[best], centroids @ centroids[best]
    to_known[best] = -1.0  # not itself
    others_of_known = max(float(np.delete(to_minted, k).max(initial=-1.0)), float(to_known.max(initial=-1.0)))
    if int(np.argmax(to_minted)) != k or pair <= others_of_known:
        return False  # not each other's most alike
    if pair >= rules.mutual_match_threshold:
        return True
    next_known = float(np.delete(sims, best).max(initial=-1.0))
    return pair - max(others_of_known, next_known) >= rules.standout_margin


def _known_by_the_whole_day(
    result: IdentityResult,
    usable: pd.DataFrame,
    spans: _Spans,
    known: list[RegistryEntry],
    staff: dict[str, np.ndarray],
    first_number: int,
    rules: IdentityRules,
    c: IdentityConstraints,
) -> IdentityResult:
    """IDs minted today whose whole day's faces match a known customer take that customer's ID.

    A cluster is matched on its own faces, in the order the day unfolded; a person's first cluster of the day
    can fall under `match_threshold` and be given a new ID that their later clusters of the day then match
    (seed 179, day 2: 0.285 at the first visit, 0.38 over the day's two, against the day-1 ID). The day's
    mean of a minted ID is what later days would be matched against, so it is held to the same threshold
    here: a minted ID whose most alike known customer is at least `match_threshold` alike takes that ID,
    unless their tracks of today were in view together (two people), an enrolled staff member is as alike
    and at `staff_threshold` (staff come first, as for a cluster), or a more alike minted ID takes it. So does
    one at least `mutual_match_threshold` alike to a customer not seen today when each is the other's most
    alike, or at least `standout_match_threshold` when the pair also stands out (a person split across days;
    `_split_across_days`), and one whose tracks are in the same clothes as a known customer's
    later tracks of today (`_back_in_same_clothes` asked the other way round). IDs the owner's corrections
    touch keep the matcher's first word. The IDs minted after are numbered again in
    order, as if the merged one had never been minted (unless a correction retired a number today: numbers
    are never handed out twice)."""
    if not result.new_ids or not known:
        return result
    anchored = c.corrected_tracks
    tracks_of: dict[str, list[str]] = {}
    for t, a in result.assignments.items():
        tracks_of.setdefault(a.customer_id, []).append(t)
    row_of = {t: i for i, t in enumerate(usable["track_id"])}
    rows_of = {cid: [row_of[t] for t in ts] for cid, ts in tracks_of.items()}
    centroids = np.stack([e.centroid for e in known])
    minted_means = np.stack([result.day_centroids[m][0] for m in result.new_ids])
    customers_known = {c.aliases.get(e.customer_id, e.customer_id) for e in known if not e.is_staff}
    known_today = [cid for cid in tracks_of if cid in customers_known and cid in result.day_centroids]
    pairs = []
    for k, minted in enumerate(result.new_ids):
        mine = set(tracks_of.get(minted, ()))
        if anchored & mine:
            continue
        mean = minted_means[k]
        sims = centroids @ mean
        best = int(np.argmax(sims))
        target = c.aliases.get(known[best].customer_id, known[best].customer_id)
        # Only the most alike customer, as a cluster is matched; and staff first, as there.
        _, staff_sim = _most_alike_staff(staff, mean)
        looks_like_staff = not (mine & c.no_staff_match) and staff_sim >= max(rules.staff_threshold, sims[best])
        if looks_like_staff:
            continue
        # The most alike customer, unless in view with this ID today (someone else): alike enough, or a
        # customer not seen today split across days.
        if not spans.in_view_together(rows_of[minted], rows_of.get(target, [])) and (
            sims[best] >= rules.match_threshold
            or (target not in tracks_of and _split_across_days(k, best, sims, minted_means, centroids, rules))
        ):
            pairs.append((float(sims[best]), minted, target))
            continue
        later = {cid: rows_of[cid] for cid in known_today if min(rows_of[cid]) > min(rows_of[minted])}
        if back := _back_in_same_clothes(usable, spans, np.asarray(rows_of[minted]), mean, later, result, set(), rules):
            # The same clothes asked the other way round: a known customer's later visit of today matched the
            # registry after this ID was minted for their first (clusters are decided in the order the day
            # unfolded). Seed 479, day 2: a man's visit at 09:29 0.295 alike to his ID, at 11:30 0.64.
            pairs.append((float(result.day_centroids[back][0] @ mean), minted, back))
    merged: dict[str, tuple[str, float]] = {}
    for sim, minted, target in sorted(pairs, reverse=True):
        if target not in {t for t, _ in merged.values()}:  # a more alike minted ID took it: this one stays new
            merged[minted] = (target, sim)
    if not merged:
        return result
    kept = [m for m in result.new_ids if m not in merged]
    rename = {m: target for m, (target, _) in merged.items()} | renumbered(kept, first_number, result.retired_ids)
    assignments = {
        t: Assignment(
            merged[a.customer_id][0], merged[a.customer_id][1], c.staff.get(merged[a.customer_id][0], a.is_staff)
        )
        if a.customer_id in merged
        else Assignment(rename.get(a.customer_id, a.customer_id), a.similarity, a.is_staff)
        for t, a in result.assignments.items()
    }
    centroids_today: dict[str, tuple[np.ndarray, float, str | None]] = {}
    for cid, (mean, weight, crop) in result.day_centroids.items():
        cid = rename.get(cid, cid)
        if cid in centroids_today:  # a known ID also given today: one day's mean of both
            prev_mean, prev_weight, prev_crop = centroids_today[cid]
            mean, weight, crop = _unit(prev_mean * prev_weight + mean * weight), prev_weight + weight, prev_crop
        centroids_today[cid] = (mean, weight, crop)
    return IdentityResult(
        assignments,
        centroids_today,
        [rename.get(m, m) for m in kept],
        result.unidentified_tracks,
        result.retired_ids,
    )


def _confirmed_by_weak_tracks(
    result: IdentityResult,
    usable: pd.DataFrame,
    weak: pd.DataFrame,
    known: list[RegistryEntry],
    staff: dict[str, np.ndarray],
    rules: IdentityRules,
    c: IdentityConstraints,
) -> IdentityResult:
    """Weak tracks that confirm a customer ID given before today or today (`IdentityRules.weak_match_threshold`;
    a track of fewer than `min_usable_faces` faces, `single_face_match_threshold`).

    Each is compared with every customer's registry centroid and day's mean (the more alike of the two) and
    with the enrolled staff: it takes the most alike customer when that one is at least the threshold alike,
    no other customer is, no staff member is as alike, and no track given that ID today was in view of the
    same camera at the same time. Likewise it takes the most alike staff member (their photos, stored days and
    today's mean) when at least the threshold alike, more than any customer, and no customer is that alike.
    Its faces change no centroid: an ID only confirmed today keeps its registry centroid (a day's mean of
    weight 0, so its row is written with the visit counted); a staff member confirmed only so gets no row.
    Tracks the owner's corrections mention are left to those corrections."""
    if weak.empty:
        return result
    weak = weak[~weak["track_id"].isin(c.corrected_tracks | c.no_staff_match)].sort_values("first_time")

    def a_customer(cid: str) -> bool:
        return not cid.startswith("STAFF_") and not c.staff.get(cid)

    vectors: dict[str, list[np.ndarray]] = {}
    registry_centroid: dict[str, tuple[np.ndarray, str | None]] = {}
    for e in known:
        cid = c.aliases.get(e.customer_id, e.customer_id)
        if not e.is_staff and a_customer(cid):
            vectors.setdefault(cid, []).append(e.centroid)
            registry_centroid.setdefault(cid, (e.centroid, e.best_crop_path))
    staff_today = {a.customer_id for a in result.assignments.values() if a.is_staff}
    # ...and the staff as the weak tracks meet them: their galleries, with the day's mean of those seen today.
    staff_now = dict(staff)
    for cid, (mean, _, _) in result.day_centroids.items():
        if cid not in staff_today and a_customer(cid):
            vectors.setdefault(cid, []).append(mean)
        elif cid in staff_today and cid in staff:
            staff_now[cid] = np.vstack([staff[cid], mean[None, :]])
    if weak.empty or not (vectors or staff_now):
        return result
    ids = list(vectors)
    pool = pd.concat([usable, weak], ignore_index=True)
    spans = _Spans.of(pool)
    row_of = {t: i for i, t in enumerate(pool["track_id"])}
    assignments = dict(result.assignments)
    day_centroids = dict(result.day_centroids)
    confirmed = 0

    def in_view_with(track_id: str, cid: str) -> bool:
        """Whether a track given `cid` today was in view of the same camera at the same time as this one."""
        theirs = [row_of[t] for t, a in assignments.items() if a.customer_id == cid and t in row_of]
        return spans.in_view_together([row_of[track_id]], theirs)

    for r in weak.itertuples(index=False):
        mean = _unit(np.asarray(r.embedding, np.float32))
        sims = np.array([max(float(v @ mean) for v in vectors[cid]) for cid in ids])
        order = np.argsort(-sims)
        best, best_sim = (ids[order[0]], float(sims[order[0]])) if ids else (None, -1.0)
        runner_up = float(sims[order[1]]) if len(ids) > 1 else -1.0
        staff_id, staff_sim = _most_alike_staff(staff_now, mean)
        threshold = (
            rules.weak_match_threshold
            if r.usable_faces >= rules.min_usable_faces
            else rules.single_face_match_threshold
        )
        if staff_id is not None and staff_sim >= threshold and staff_sim > best_sim and best_sim < threshold:
            # A clerk's few faces confirm the clerk, as a customer's confirm the customer: the body they joined is
            # then staff's, not a customer's visit (seed 503, day 2: the clerk at the till, his body found without
            # his recognised faces all day, and one face of his on a 32-s body, 0.51 alike to his photos).
            if not in_view_with(r.track_id, staff_id):
                assignments[r.track_id] = Assignment(staff_id, staff_sim, True)
                confirmed += 1
            continue
        # A face in one frame only confirms no customer: it says nothing of where it came from (seed 523, day 2:
        # the last frame of a recording cut by a power failure showed two customers' faces 37 and 23 s after
        # they had left, and confirmed, they kept both visits open). A clerk's may still name the clerk's body.
        one_frame = int(getattr(r, "faces", 2)) < 2
        if one_frame or best is None or best_sim < threshold or runner_up >= threshold or staff_sim >= best_sim:
            continue
        if in_view_with(r.track_id, best):
            continue
        assignments[r.track_id] = Assignment(best, best_sim, False)
        if best not in day_centroids and best in registry_centroid:
            centroid, crop = registry_centroid[best]
            day_centroids[best] = (centroid, 0.0, crop)
        confirmed += 1
    if not confirmed:
        return result
    return IdentityResult(
        assignments, day_centroids, result.new_ids, result.unidentified_tracks - confirmed, result.retired_ids
    )


def _back_in_same_clothes(
    usable: pd.DataFrame,
    spans: _Spans,
    idx: np.ndarray,
    mean: np.ndarray,
    today: dict[str, list[int]],
    result: IdentityResult,
    forbidden: set[str],
    rules: IdentityRules,
) -> str | None:
    """The customer ID given earlier today whose person this cluster's is, by clothes (see IdentityRules):
    the most alike face among those in the same clothes and never in view with it; None when there is none."""
    if "look" not in usable.columns:
        return None
    mine = _looks_by_camera(usable, idx)
    best, best_sim = None, rules.same_clothes_min_similarity
    for cid, rows in today.items():
        if cid in forbidden or cid not in result.day_centroids:
            continue
        sim = float(result.day_centroids[cid][0] @ mean)
        if sim < best_sim or spans.in_view_together(idx, rows):
            continue
        theirs = _looks_by_camera(usable, rows)
        common = mine.keys() & theirs.keys()
        if common and all(_same_clothes(mine[k], theirs[k], rules) for k in common):
            best, best_sim = cid, sim
    return best


def _same_clothes(a: tuple[float, float, float], b: tuple[float, float, float], rules: IdentityRules) -> bool:
    """Two looks (L*, a*, b*) of one camera alike in colour and in lightness (see IdentityRules)."""
    return same_clothes(a, b, rules.same_clothes_max_colour, rules.same_clothes_max_lightness)


def _looks_by_camera(usable: pd.DataFrame, rows) -> dict[str, tuple[float, float, float]]:
    """Per camera, the median clothes colour of some tracks (camera colours differ: compared camera by camera)."""
    by_camera: dict[str, list] = {}
    for r in usable.iloc[list(rows)].itertuples(index=False):
        if r.look is not None and not (isinstance(r.look, float) and np.isnan(r.look)):
            by_camera.setdefault(str(r.camera), []).append(r.look)
    medians = {k: np.median(np.array(looks, float), axis=0) for k, looks in by_camera.items()}
    return {k: (float(m[0]), float(m[1]), float(m[2])) for k, m in medians.items()}


@dataclass(frozen=True)
class _Spans:
    """The usable tracks' cameras and spans as arrays, taken once a day: whether two groups of tracks were in
    view together is asked of every cluster against every ID given earlier that day (rows of the day's tracks
    read through pandas cost about 4 ms a question; a busy day asks thousands)."""

    camera: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, usable: pd.DataFrame) -> _Spans:
        return cls(
            usable["camera"].to_numpy(object),
            usable["first_time"].to_numpy("datetime64[ns]"),
            usable["last_time"].to_numpy("datetime64[ns]"),
        )

    def in_view_together(self, a, b) -> bool:
        """Whether a track of `a` and one of `b` (rows) were seen by the same camera at the same time (two
        people)."""
        a, b = np.asarray(list(a), int), np.asarray(list(b), int)
        if not len(a) or not len(b):
            return False
        same_camera = self.camera[a][:, None] == self.camera[b][None, :]
        overlap = np.minimum.outer(self.last[a], self.last[b]) > np.maximum.outer(self.first[a], self.first[b])
        return bool((same_camera & overlap).any())


def updated_entry(
    old: RegistryEntry | None,
    customer_id: str,
    day: date,
    day_mean: np.ndarray,
    day_weight: float,
    visits_today: int,
    is_staff: bool,
    crop: str | None,
    rules: IdentityRules,
) -> RegistryEntry:
    if old is None:
        return RegistryEntry(
            customer_id, day_mean, min(day_weight, rules.weight_cap), is_staff, day, visits_today, crop
        )
    w_old = min(old.weight, rules.weight_cap)
    centroid = _unit(old.centroid * w_old + day_mean * day_weight)
    return RegistryEntry(
        customer_id,
        centroid,
        min(w_old + day_weight, rules.weight_cap),
        is_staff,
        old.first_seen,
        old.visit_count + visits_today,
        crop or old.best_crop_path,
    )
