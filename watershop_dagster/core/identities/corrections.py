"""The owner's corrections of identities: an append-only log under data/identity/corrections.jsonl.

Face recognition splits one person into two IDs, merges look-alikes, takes a relative for staff. Only a person
can settle that, and the settlement must outlast every re-run, backfill, threshold change and model swap. So a
correction never names the numbers a run produced as its evidence: it keeps **anchors**, the time spans
(day, camera, start, end) of the face tracks it was about, taken when the owner made it. Face tracks are
deterministic in time: a re-run, another threshold or another recognition model finds the same people at the
same moments even when it numbers tracks and IDs differently. Each day, the identity stage maps the anchors
onto that day's tracks (by overlap in time) and onto the IDs earlier days gave to anchored tracks (the
`identity_evidence` table), and hands `assign_identities` an explicit `IdentityConstraints`.

One JSON object per line: id, kind, who, when, why, session, ids (as the owner saw them, for reading),
anchors (role -> spans), text, target (for undo), undone_by (always null when written; the reader fills it
in from later undo lines, so the file is only ever appended to).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

KINDS = ("merge", "split", "not_same", "staff", "not_staff", "ignore", "label", "undo")
MIN_TIME_IOU = 0.5  # a track is an anchor's when their time spans overlap at least this much (intersection/union)
PAD_S = 0.5  # a one-frame track still has a span


def corrections_path(data_dir: Path) -> Path:
    return Path(data_dir) / "identity" / "corrections.jsonl"


@dataclass(frozen=True)
class Span:
    """Where and when a face track was: the evidence a correction is anchored to."""

    day: date
    camera: str
    start: datetime
    end: datetime

    def to_json(self) -> list[str]:
        return [self.day.isoformat(), self.camera, self.start.isoformat(), self.end.isoformat()]

    @classmethod
    def from_json(cls, v: list[str]) -> Span:
        return cls(date.fromisoformat(v[0]), v[1], datetime.fromisoformat(v[2]), datetime.fromisoformat(v[3]))


@dataclass
class Correction:
    id: str
    kind: str
    who: str
    when: str
    why: str = ""
    session: str = "cli"
    ids: list[str] = field(default_factory=list)
    anchors: dict[str, list[Span]] = field(default_factory=dict)
    text: str = ""
    target: str = ""  # undo: the correction it undoes
    undone_by: str | None = None

    @property
    def days(self) -> set[date]:
        return {s.day for spans in self.anchors.values() for s in spans}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["anchors"] = {role: [s.to_json() for s in spans] for role, spans in self.anchors.items()}
        d["undone_by"] = None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Correction:
        d = dict(d)
        d["anchors"] = {role: [Span.from_json(s) for s in spans] for role, spans in d.get("anchors", {}).items()}
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class CorrectionLog:
    """The file, read whole (it is small: one line per click) and appended to under an exclusive lock."""

    def __init__(self, data_dir: Path):
        self.path = corrections_path(data_dir)

    def read(self) -> list[Correction]:
        if not self.path.exists():
            return []
        out = [Correction.from_json(json.loads(line)) for line in self.path.read_text().splitlines() if line.strip()]
        by_id = {c.id: c for c in out}
        for c in out:
            if c.kind == "undo" and c.target in by_id:
                by_id[c.target].undone_by = c.id
        return out

    def active(self) -> list[Correction]:
        return [c for c in self.read() if c.kind != "undo" and c.undone_by is None]

    def append(self, correction: Correction) -> Correction:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            n = sum(1 for line in f if line.strip())
            correction.id = f"C{n + 1:04d}"
            f.seek(0, os.SEEK_END)
            f.write(json.dumps(correction.to_json(), sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return correction

    def digest(self) -> str:
        import hashlib

        return hashlib.sha1(self.path.read_bytes()).hexdigest()[:16] if self.path.exists() else "empty"


def new_correction(
    kind: str,
    anchors: dict[str, list[Span]],
    ids: Iterable[str] = (),
    who: str = "",
    why: str = "",
    session: str = "cli",
    text: str = "",
    target: str = "",
) -> Correction:
    if kind not in KINDS:
        raise ValueError(f"unknown correction {kind!r}: one of {', '.join(KINDS)}")
    when = datetime.now().replace(microsecond=0).isoformat()
    return Correction(
        "", kind, who or os.environ.get("USER", "owner"), when, why, session, list(ids), anchors, text, target
    )


def spans_of(tracks: pd.DataFrame) -> list[Span]:
    """Anchors from face_tracks rows (day, camera, first_time, last_time)."""
    return [
        Span(
            pd.Timestamp(r.day).date(),
            str(r.camera),
            pd.Timestamp(r.first_time).to_pydatetime(),
            pd.Timestamp(r.last_time).to_pydatetime(),
        )
        for r in tracks.itertuples()
    ]


def _iou(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    # Seconds from a0, not timestamp(): that reads a naive shop time in the machine's zone, whose clock change
    # would stretch a span by an hour.
    def at(t: datetime) -> float:
        return (t - a0).total_seconds()

    a0t, a1t = at(a0) - PAD_S, at(a1) + PAD_S
    b0t, b1t = at(b0) - PAD_S, at(b1) + PAD_S
    inter = min(a1t, b1t) - max(a0t, b0t)
    if inter <= 0:
        return 0.0
    return inter / (max(a1t, b1t) - min(a0t, b0t))


def match_spans(spans: list[Span], tracks: pd.DataFrame) -> set[str]:
    """Track ids (of `tracks`: track_id, day?, camera, first_time, last_time) that an anchor's spans cover."""
    if not spans or tracks.empty:
        return set()
    by_key: dict[tuple[date, str], list[Span]] = defaultdict(list)
    for s in spans:
        by_key[(s.day, s.camera)].append(s)
    out = set()
    for r in tracks.itertuples():
        day = pd.Timestamp(r.first_time).date() if not hasattr(r, "day") else pd.Timestamp(r.day).date()
        candidates = by_key.get((day, str(r.camera)))
        if not candidates:
            continue
        t0, t1 = pd.Timestamp(r.first_time).to_pydatetime(), pd.Timestamp(r.last_time).to_pydatetime()
        if max(_iou(s.start, s.end, t0, t1) for s in candidates) >= MIN_TIME_IOU:
            out.add(r.track_id)
    return out


@dataclass
class IdentityConstraints:
    """What the owner's corrections mean for one day's matching, in the day's own track ids and the IDs that
    earlier days gave. Built by `constraints_for_day`; `assign_identities` only reads it.

    - `groups`: must-link groups of the day's tracks; `group_target[g]` is the ID the group must get (an
      earlier day's ID), or absent: the group's first cluster decides, and the rest follow;
      `group_new` groups get a fresh ID when they have no target (a split-off part);
    - `forbidden`: track -> IDs it must not get (not the same person; the part a split left);
    - `apart`: pairs of the day's track sets that must not share an ID (split apart in clustering);
    - `aliases`: an ID merged away -> the ID that now holds its history;
    - `staff`: ID -> forced staff flag (True: staff or ignored; False: not staff); `track_staff` the same for
      the day's anchored tracks whatever ID they end up with;
    - `labels`: ID -> the owner's name or ledger account."""

    groups: dict[str, set[str]] = field(default_factory=dict)
    group_target: dict[str, str] = field(default_factory=dict)
    group_new: set[str] = field(default_factory=set)
    forbidden: dict[str, set[str]] = field(default_factory=dict)
    apart: list[tuple[set[str], set[str]]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    staff: dict[str, bool] = field(default_factory=dict)
    track_staff: dict[str, bool] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    no_staff_match: set[str] = field(default_factory=set)  # tracks that must not be matched to enrolled staff

    @property
    def empty(self) -> bool:
        return not (self.groups or self.forbidden or self.apart or self.aliases or self.staff or self.track_staff)

    @property
    def corrected_tracks(self) -> set[str]:
        """The day's tracks a correction names: in a must-link group, ruled off an ID, made staff or not, or
        kept apart from others."""
        return set().union(*self.groups.values(), self.forbidden, self.track_staff, *(a | b for a, b in self.apart))

    def apart_from(self, tracks: Iterable[str], given: dict[str, list[str]]) -> set[str]:
        """The IDs of `given` (ID -> its tracks) whose tracks the owner kept apart from `tracks`."""
        mine = set(tracks)
        return {
            cid
            for cid, theirs in given.items()
            for side_a, side_b in self.apart
            if (mine & side_a and set(theirs) & side_b) or (mine & side_b and set(theirs) & side_a)
        }

    def group_of(self, track_id: str) -> str | None:
        for g, tracks in self.groups.items():
            if track_id in tracks:
                return g
        return None


def _older(ids: Iterable[str]) -> str:
    from watershop_dagster.core.identities.matching import customer_number

    ids = sorted(set(ids))
    customers = [i for i in ids if i.startswith("CUST_")]
    return min(customers, key=customer_number) if customers else ids[0]


def resolve_ids(spans: list[Span], evidence: pd.DataFrame) -> list[str]:
    """The IDs earlier days gave to an anchor's tracks (evidence: track_id, day, camera, first_time, last_time,
    customer_id), most tracks first."""
    if not spans or evidence.empty:
        return []
    hit = evidence[evidence["track_id"].isin(match_spans(spans, evidence))]
    return list(hit["customer_id"].value_counts().index)


def constraints_for_day(
    corrections: list[Correction], tracks: pd.DataFrame, evidence_before: pd.DataFrame
) -> IdentityConstraints:
    """Active corrections mapped onto one day's tracks (track_id, camera, first_time, last_time) and onto the
    IDs earlier days gave (evidence_before)."""
    c = IdentityConstraints()
    if not corrections:
        return c
    day_tracks = tracks[["track_id", "camera", "first_time", "last_time"]] if len(tracks) else tracks
    # Union-find over the day's tracks and earlier IDs ("id:<ID>"): merges join, splits start a new part.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    new_parts: set[str] = set()
    cannot: list[tuple[set[str], set[str]]] = []  # node sets kept apart

    def nodes(spans: list[Span]) -> set[str]:
        return set(match_spans(spans, day_tracks)) | {f"id:{i}" for i in resolve_ids(spans, evidence_before)[:1]}

    for corr in corrections:
        a = corr.anchors
        if corr.kind == "merge":
            both = sorted(nodes(a.get("keep", [])) | nodes(a.get("other", [])))
            for n in both[1:]:
                union(n, both[0])
        elif corr.kind == "split":
            rest = nodes(a.get("rest", []))
            moved = set(match_spans(a.get("moved", []), day_tracks))
            if a.get("to"):
                moved |= {f"id:{i}" for i in resolve_ids(a["to"], evidence_before)[:1]}
            else:
                # A new part: its own ID once an earlier day gave it one (the split-off visits' days).
                rest_ids = {n[3:] for n in rest if n.startswith("id:")}
                earlier = [i for i in resolve_ids(a.get("moved", []), evidence_before) if i not in rest_ids]
                moved |= {f"id:{i}" for i in earlier[:1]} | {f"split:{corr.id}"}
                new_parts.add(f"split:{corr.id}")
            ordered = sorted(moved)
            for n in ordered[1:]:
                union(n, ordered[0])
            cannot.append((moved, rest - moved))
        elif corr.kind == "not_same":
            cannot.append((nodes(a.get("a", [])), nodes(a.get("b", []))))
        elif corr.kind in ("staff", "not_staff", "ignore"):
            flag = corr.kind != "not_staff"
            for n in nodes(a.get("id", [])):
                if n.startswith("id:"):
                    c.staff[n[3:]] = flag
                else:
                    c.track_staff[n] = flag
                    if not flag:
                        c.no_staff_match.add(n)
        elif corr.kind == "label":
            for i in resolve_ids(a.get("id", []), evidence_before)[:1]:
                c.labels[i] = corr.text
    components: dict[str, set[str]] = defaultdict(set)
    for n in list(parent):
        components[find(n)].add(n)
    for members in components.values():
        ids = [m[3:] for m in members if m.startswith("id:")]
        tracks_in = {m for m in members if not m.startswith(("id:", "split:"))}
        if ids:
            target = _older(ids)
            for i in ids:
                if i != target:
                    c.aliases[i] = target
        if not tracks_in:
            continue
        g = f"g{len(c.groups) + 1}"
        c.groups[g] = tracks_in
        if ids:
            c.group_target[g] = _older(ids)
        elif any(m in new_parts for m in members):
            c.group_new.add(g)
    for side_a, side_b in cannot:
        a_tracks = {n for n in side_a if not n.startswith(("id:", "split:"))}
        b_tracks = {n for n in side_b if not n.startswith(("id:", "split:"))}
        a_ids = {c.aliases.get(n[3:], n[3:]) for n in side_a if n.startswith("id:")}
        b_ids = {c.aliases.get(n[3:], n[3:]) for n in side_b if n.startswith("id:")}
        if a_tracks and b_tracks:
            c.apart.append((a_tracks, b_tracks))
        for t in a_tracks:
            c.forbidden.setdefault(t, set()).update(b_ids - a_ids)
        for t in b_tracks:
            c.forbidden.setdefault(t, set()).update(a_ids - b_ids)
    return c


def cannot_link_pairs(corrections: list[Correction], evidence: pd.DataFrame) -> set[frozenset[str]]:
    """Pairs of current IDs the owner said are different people (not-same, the two parts of a split)."""
    out: set[frozenset[str]] = set()
    for corr in corrections:
        roles = {"not_same": ("a", "b"), "split": ("moved", "rest")}.get(corr.kind)
        if not roles:
            continue
        a = set(resolve_ids(corr.anchors.get(roles[0], []), evidence)[:1])
        b = set(resolve_ids(corr.anchors.get(roles[1], []), evidence)[:1])
        out |= {frozenset((x, y)) for x in a for y in b if x != y}
    return out
