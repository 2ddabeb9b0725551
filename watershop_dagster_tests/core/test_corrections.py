"""The owner's corrections: the log, anchors to time spans, undo, and matching that honours them. Synthetic
embeddings: exact, fast, no models."""

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from watershop_dagster.core.identities.corrections import (
    CorrectionLog,
    Span,
    cannot_link_pairs,
    constraints_for_day,
    match_spans,
    new_correction,
)
from watershop_dagster.core.identities.matching import IdentityRules, RegistryEntry, assign_identities
from watershop_dagster.core.identities.suggestions import in_rank_order, seen_together, suggest_merges, till_accounts
from watershop_dagster_tests.support import machine_zone

DAY = date(2024, 6, 2)
T0 = datetime(2024, 6, 2, 9, 0, 0)
rng = np.random.default_rng(7)


def unit(v):
    return (v / np.linalg.norm(v)).astype(np.float32)


PEOPLE = {name: unit(rng.normal(size=512)) for name in "ABCD"}


def face(name, noise=0.5):
    return unit(PEOPLE[name] + rng.normal(size=512) * noise / np.sqrt(512))


def tracks(script, day=DAY):
    """script: (track number, person, start minute, minutes)."""
    rows = []
    for n, person, start, minutes in script:
        t0 = datetime.combine(day, T0.time()) + timedelta(minutes=start)
        rows.append(
            {
                "track_id": f"{day}/cam1/T{n}",
                "camera": "cam1",
                "day": day,
                "first_time": pd.Timestamp(t0),
                "last_time": pd.Timestamp(t0 + timedelta(minutes=minutes)),
                "faces": 10,
                "usable_faces": 10,
                "mean_quality": 0.8,
                "best_crop_path": None,
                "embedding": face(person),
            }
        )
    return pd.DataFrame(rows)


def span(frame, n):
    r = frame[frame["track_id"].str.endswith(f"/T{n}")].iloc[0]
    return Span(r.day, r.camera, r.first_time.to_pydatetime(), r.last_time.to_pydatetime())


def evidence(frame, ids):
    """What earlier days gave: track -> ID."""
    e = frame[["track_id", "day", "camera", "first_time", "last_time"]].copy()
    e["customer_id"] = [ids[t] for t in e["track_id"]]
    return e


def entry(cid, person):
    return RegistryEntry(cid, PEOPLE[person], 10.0, False, DAY - timedelta(days=1), 1)


def test_log_appends_numbers_and_undo_marks_without_rewriting(tmp_path):
    log = CorrectionLog(tmp_path)
    s = Span(DAY, "cam1", T0, T0 + timedelta(minutes=1))
    first = log.append(new_correction("merge", {"keep": [s], "other": [s]}, ["CUST_0001", "CUST_0002"], "asha", "x"))
    log.append(new_correction("undo", {}, [first.id], "asha", "oops", target=first.id))
    lines = log.path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["C0001", "C0002"]
    assert all(json.loads(line)["undone_by"] is None for line in lines)  # append-only: never rewritten
    read = log.read()
    assert read[0].undone_by == "C0002" and read[0].who == "asha" and read[0].anchors["keep"] == [s]
    assert log.active() == []
    with pytest.raises(ValueError):
        new_correction("rename", {})


def test_anchor_spans_find_renumbered_tracks_by_time_only():
    day = tracks([(1, "A", 0, 2), (2, "B", 1, 3), (3, "C", 10, 1)])
    anchor = [span(day, 1), span(day, 3)]
    # A re-run that numbers tracks differently and cuts them a few seconds differently.
    rerun = day.copy()
    rerun["track_id"] = ["X9", "X7", "X8"]
    rerun["first_time"] += pd.Timedelta(seconds=3)
    assert match_spans(anchor, rerun) == {"X9", "X8"}
    # B overlaps A in time but not enough to be taken for A.
    assert "X7" not in match_spans([span(day, 1)], rerun)


def test_without_corrections_matching_is_unchanged():
    day = tracks([(1, "A", 0, 1), (2, "B", 5, 1), (3, "C", 9, 1)])
    registry = [entry("CUST_0001", "A")]
    plain = assign_identities(day, registry, {}, 2)
    with_empty = assign_identities(day, registry, {}, 2, constraints=constraints_for_day([], day, pd.DataFrame()))
    assert {t: a.customer_id for t, a in plain.assignments.items()} == {
        t: a.customer_id for t, a in with_empty.assignments.items()
    }


def test_merge_gives_both_sides_the_older_id_and_later_days_follow():
    # Forced: every cluster new, a split left for the owner (both split rules off).
    rules = IdentityRules(match_threshold=0.99, mutual_match_threshold=1.1, standout_match_threshold=1.1)
    day1 = tracks([(1, "A", 0, 1), (2, "B", 5, 1)], DAY)
    day2 = tracks([(1, "A", 0, 1), (2, "B", 5, 1)], DAY + timedelta(days=1))
    r1 = assign_identities(day1, [], {}, 1, rules)
    ids1 = {t: a.customer_id for t, a in r1.assignments.items()}
    assert sorted(ids1.values()) == ["CUST_0001", "CUST_0002"]
    # Day 2 split A into CUST_0003; the owner merges CUST_0001 and CUST_0003.
    merge = new_correction("merge", {"keep": [span(day1, 1)], "other": [span(day2, 1)]}, ["CUST_0001", "CUST_0003"])
    merge.id = "C0001"
    c = constraints_for_day([merge], day2, evidence(day1, ids1))
    registry = [entry("CUST_0001", "A"), entry("CUST_0002", "B")]
    r2 = assign_identities(day2, registry, {}, 3, rules, constraints=c)
    got = {t[-2:]: a.customer_id for t, a in r2.assignments.items()}
    assert got == {"T1": "CUST_0001", "T2": "CUST_0004"}  # A under the older ID; B, split as before
    assert r2.retired_ids == {f"{DAY + timedelta(days=1)}/cam1/T1": "CUST_0003"}  # its number is not reused


def test_not_same_keeps_two_look_alikes_apart_in_clustering_and_against_the_registry():
    day1 = tracks([(1, "A", 0, 1)], DAY)
    ids1 = {f"{DAY}/cam1/T1": "CUST_0001"}
    day2 = tracks([(1, "A", 0, 1), (2, "A", 5, 1)], DAY + timedelta(days=1))  # one face, two people (twins)
    rule = new_correction("not_same", {"a": [span(day1, 1)], "b": [span(day2, 2)]}, ["CUST_0001", "V"])
    rule.id = "C0001"
    c = constraints_for_day([rule], day2, evidence(day1, ids1))
    r = assign_identities(day2, [entry("CUST_0001", "A")], {}, 2, constraints=c)
    got = {t[-2:]: a.customer_id for t, a in r.assignments.items()}
    assert got == {"T1": "CUST_0001", "T2": "CUST_0002"}
    both = pd.concat([evidence(day1, ids1), evidence(day2, {t: a.customer_id for t, a in r.assignments.items()})])
    assert cannot_link_pairs([rule], both) == {frozenset(("CUST_0001", "CUST_0002"))}


def test_split_moves_visits_to_a_new_id_kept_apart_from_the_rest():
    day = tracks([(1, "A", 0, 1), (2, "A", 30, 1), (3, "A", 60, 1)])
    split = new_correction("split", {"moved": [span(day, 2)], "rest": [span(day, 1), span(day, 3)]}, ["CUST_0001"])
    split.id = "C0001"
    c = constraints_for_day([split], day, pd.DataFrame())
    r = assign_identities(day, [], {}, 1, constraints=c)
    got = {t[-2:]: a.customer_id for t, a in r.assignments.items()}
    assert got == {"T1": "CUST_0001", "T2": "CUST_0002", "T3": "CUST_0001"}


def test_staff_and_ignore_flag_the_whole_id_and_keep_it_matchable():
    day1 = tracks([(1, "C", 0, 1)], DAY)
    ids1 = {f"{DAY}/cam1/T1": "CUST_0001"}
    day2 = tracks([(1, "C", 0, 1), (2, "D", 3, 1)], DAY + timedelta(days=1))
    staff = new_correction("staff", {"id": [span(day1, 1)]}, ["CUST_0001"])
    c = constraints_for_day([staff], day2, evidence(day1, ids1))
    registry = [RegistryEntry("CUST_0001", PEOPLE["C"], 10.0, True, DAY, 1)]  # already flagged staff
    r = assign_identities(day2, registry, {}, 2, constraints=c)
    a = {t[-2:]: (x.customer_id, x.is_staff) for t, x in r.assignments.items()}
    assert a == {"T1": ("CUST_0001", True), "T2": ("CUST_0002", False)}


def test_not_staff_keeps_a_relative_off_the_staff_member():
    staff_gallery = {"STAFF_ravi": np.stack([PEOPLE["D"]])}
    day = tracks([(1, "D", 0, 1)])
    relative = new_correction("not_staff", {"id": [span(day, 1)]}, ["CUST_0009"])
    c = constraints_for_day([relative], day, pd.DataFrame())
    r = assign_identities(day, [], staff_gallery, 1, constraints=c)
    (a,) = r.assignments.values()
    assert a.customer_id == "CUST_0001" and not a.is_staff
    (plain,) = assign_identities(day, [], staff_gallery, 1).assignments.values()
    assert plain.customer_id == "STAFF_ravi"


def test_suggestions_rank_alike_ids_never_seen_together_and_skip_ruled_apart_pairs():
    registry = pd.DataFrame(
        {
            "customer_id": ["CUST_0001", "CUST_0002", "CUST_0003", "CUST_0004"],
            "is_staff": [False] * 4,
            "centroid": [face("A", 0.3), face("A", 0.3), face("B", 0.3), face("B", 0.3)],
        }
    )
    visits = pd.DataFrame(
        {
            "day": [DAY] * 2,
            "customer_id": ["CUST_0003", "CUST_0004"],
            "entry_time": [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=1))],
            "exit_time": [pd.Timestamp(T0 + timedelta(minutes=5)), pd.Timestamp(T0 + timedelta(minutes=6))],
        }
    )
    assert seen_together(visits) == {frozenset(("CUST_0003", "CUST_0004"))}
    table = suggest_merges(registry, visits, set())
    assert table[["customer_id_a", "customer_id_b"]].values.tolist() == [["CUST_0001", "CUST_0002"]]
    assert suggest_merges(registry, visits, {frozenset(("CUST_0001", "CUST_0002"))}).empty


def test_suggestions_put_ids_never_seen_on_one_day_before_ids_seen_on_one_day_at_different_times():
    """A day's faces are clustered before IDs are minted, so one person's visits of a day share an ID: two IDs
    of one day (not at the same time) are mostly two people, however alike, and come after a pair of days."""
    registry = pd.DataFrame(
        {
            "customer_id": ["CUST_0001", "CUST_0002", "CUST_0003", "CUST_0004"],
            "is_staff": [False] * 4,
            "centroid": [face("A", 0.1), face("A", 0.1), face("B", 0.6), face("B", 0.6)],
        }
    )
    at = [pd.Timestamp(T0 + timedelta(minutes=m)) for m in (0, 30, 60)]
    visits = pd.DataFrame(
        {
            "day": [DAY, DAY, DAY, DAY + timedelta(days=1), None],
            "customer_id": ["CUST_0001", "CUST_0002", "CUST_0003", "CUST_0004", None],
            "entry_time": [at[0], at[1], at[2], at[0], at[0]],
            "exit_time": [t + timedelta(minutes=5) for t in (at[0], at[1], at[2], at[0], at[0])],
        }
    )
    table = suggest_merges(registry, visits, set())
    assert table[["customer_id_a", "customer_id_b", "same_day", "rank"]].values.tolist() == [
        ["CUST_0003", "CUST_0004", False, 1],
        ["CUST_0001", "CUST_0002", True, 2],
    ]
    assert table["score"].tolist()[0] < table["score"].tolist()[1]


def test_suggestions_put_ids_that_paid_on_one_ledger_account_first_and_different_accounts_last():
    """Three pairs of IDs never seen together: the most alike pair paid on different accounts, the least alike
    on one account (a regular whose two days' faces read differently); an ambiguous link counts for nothing."""
    ids = [f"CUST_{n:04d}" for n in range(1, 7)]
    registry = pd.DataFrame(
        {
            "customer_id": ids,
            "is_staff": [False] * 6,
            "centroid": [
                face("A", 0.6),
                face("A", 0.6),
                face("B", 0.3),
                face("B", 0.3),
                face("C", 0.1),
                face("C", 0.1),
            ],
        }
    )
    no_visits = pd.DataFrame(columns=["day", "customer_id", "entry_time", "exit_time"])
    links = pd.DataFrame(
        {
            # the last: a till that books the camera's own IDs names an identity, not an account
            "camera_customer_id": [
                "CUST_0001",
                "CUST_0001",
                "CUST_0002",
                "CUST_0003",
                "CUST_0004",
                "CUST_0005",
                None,
                "CUST_0006",
            ],
            "till_customer_id": ["L001", None, "L001", "L002", "L002", "L009", "L010", "CUST_0006"],
            "ambiguous": [False, False, False, True, False, False, False, False],
        }
    )
    accounts = till_accounts(links)
    assert accounts == {"CUST_0001": {"L001"}, "CUST_0002": {"L001"}, "CUST_0004": {"L002"}, "CUST_0005": {"L009"}}
    pairs = ["customer_id_a", "customer_id_b"]
    by_score = suggest_merges(registry, no_visits, set())
    assert by_score[pairs].values.tolist() == [
        ["CUST_0005", "CUST_0006"],
        ["CUST_0003", "CUST_0004"],
        ["CUST_0001", "CUST_0002"],
    ]
    assert by_score["shared_account"].isna().all() and not by_score["other_accounts"].any()
    table = suggest_merges(registry, no_visits, set(), {**accounts, "CUST_0006": {"L010"}})
    assert table[[*pairs, "shared_account", "other_accounts", "rank"]].values.tolist() == [
        ["CUST_0001", "CUST_0002", "L001", False, 1],
        ["CUST_0003", "CUST_0004", None, False, 2],
        ["CUST_0005", "CUST_0006", None, True, 3],
    ]
    # stored before ranks existed: by score
    assert in_rank_order(table.drop(columns=["rank"]))["customer_id_a"].tolist() == [
        "CUST_0005",
        "CUST_0003",
        "CUST_0001",
    ]


def test_a_correction_finds_its_track_across_a_clock_change_of_the_machine_s_zone():
    """Shop times are naive: London's clocks going from 01:00 to 02:00 on 31 March 2024 (01:59:55 read as local
    time lies an hour after 02:00:05) does not turn a ten-second span around."""
    from watershop_dagster.core.identities.corrections import Span, match_spans

    with machine_zone("Europe/London"):
        start, end = datetime(2024, 3, 31, 1, 59, 55), datetime(2024, 3, 31, 2, 0, 5)
        tracks = pd.DataFrame([{"track_id": "T1", "camera": "cam1", "first_time": start, "last_time": end}])
        assert match_spans([Span(date(2024, 3, 31), "cam1", start, end)], tracks) == {"T1"}
