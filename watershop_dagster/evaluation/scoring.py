"""Scoring what the pipeline found against the generator's ground truth (data/truth/<day>.json).

Visits are matched one-to-one by temporal overlap (IoU of [entry, exit]); recall and precision count customer
visits only, and recall is also given apart for the visits whose person never showed a face (`faceless` in
the truth) and for the others. BCubed F1 then asks whether the matched visits with a face were grouped into
identities the way the truth groups them into people, across all days: one person split into two IDs costs
recall, two people merged into one ID costs precision. An unidentified visit (customer_id NULL) is a group of
its own. Faceless truth visits are left out of BCubed: nothing could identify them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd


@dataclass
class VisitScores:
    truth_visits: int
    predicted_visits: int
    matched: int
    recall: float
    precision: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    truth_customers: int
    predicted_customers: int
    truth_faced_visits: int
    truth_faceless_visits: int
    recall_faced: float
    recall_faceless: float
    truth_identifiable_customers: int  # people with at least one visit that showed a face
    faceless_visits_given_an_id: int  # faceless truth visits matched to a visit with a customer ID
    mean_entry_error_s: float
    mean_exit_error_s: float
    customers_labelled_staff: int

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _day_files(truth_dir: Path) -> list[Path]:
    """The truth folder's day files (`<YYYY-MM-DD>.json`), not what lies beside them (a footage matrix's
    `<day>.footage.json`)."""
    return sorted(truth_dir.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].json"))


def load_truth(truth_dir: Path, days: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for path in _day_files(truth_dir):
        payload = json.loads(path.read_text())
        if days and payload["day"] not in days:
            continue
        for v in payload["visits"]:
            rows.append(
                {
                    "day": payload["day"],
                    "person": v["person"],
                    "entry": datetime.fromisoformat(v["entry"]),
                    "exit": datetime.fromisoformat(v["exit"]),
                    "is_staff": v["is_staff"],
                    "transaction_id": v.get("transaction_id"),
                    "faceless": bool(v.get("faceless", False)),
                }
            )
    return pd.DataFrame(rows)


def _iou(a0, a1, b0, b1) -> float:
    inter = (min(a1, b1) - max(a0, b0)).total_seconds()
    if inter <= 0:
        return 0.0
    union = (max(a1, b1) - min(a0, b0)).total_seconds()
    return inter / union if union > 0 else 0.0


def match_visits(truth: pd.DataFrame, predicted: pd.DataFrame, min_iou: float = 0.3) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching by IoU, best pairs first. Returns (truth index, predicted index, iou)."""
    pairs = []
    for ti, t in truth.iterrows():
        for pi, p in predicted.iterrows():
            iou = _iou(t["entry"], t["exit"], p["entry_time"], p["exit_time"])
            if iou >= min_iou:
                pairs.append((iou, ti, pi))
    used_t, used_p, out = set(), set(), []
    for iou, ti, pi in sorted(pairs, reverse=True):
        if ti in used_t or pi in used_p:
            continue
        used_t.add(ti)
        used_p.add(pi)
        out.append((ti, pi, iou))
    return out


def match_customer_visits(
    truth_c: pd.DataFrame, predicted: pd.DataFrame, min_iou: float = 0.3
) -> list[tuple[int, int, float]]:
    """True customer visits (one day) matched to predicted customer visits first, and only the ones left over
    to predicted staff visits (a customer labelled staff). The staff member is in view through every recorded
    span, so a rightly named staff visit can overlap a customer's visit better than that customer's own
    predicted visit does (one cut short): it must not take the customer's match."""
    staff = predicted["is_staff"].astype(bool)
    first = match_visits(truth_c, predicted[~staff], min_iou)
    left = truth_c.drop(index=[ti for ti, _, _ in first])
    return first + match_visits(left, predicted[staff], min_iou)


def bcubed(truth_labels: list[str], predicted_labels: list[str]) -> tuple[float, float, float]:
    if not truth_labels:
        return 0.0, 0.0, 0.0
    pair = Counter(zip(truth_labels, predicted_labels))
    t_size, p_size = Counter(truth_labels), Counter(predicted_labels)
    n = len(truth_labels)
    precision = sum(pair[(t, p)] / p_size[p] for t, p in zip(truth_labels, predicted_labels)) / n
    recall = sum(pair[(t, p)] / t_size[t] for t, p in zip(truth_labels, predicted_labels)) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_visits(truth: pd.DataFrame, visit_log: pd.DataFrame, min_iou: float = 0.3) -> VisitScores:
    """`visit_log` as stored (all days). Customer visits are scored; predicted staff visits that match a
    customer visit count as customers labelled staff."""
    truth_c = truth[~truth["is_staff"]].reset_index(drop=True)
    pred = visit_log.copy()
    pred["day"] = pred["day"].astype(str)
    matches = []
    for day in sorted(set(truth_c["day"]) | set(pred["day"])):
        t_day = truth_c[truth_c["day"] == day]
        p_day = pred[pred["day"] == day]
        matches += match_customer_visits(t_day, p_day, min_iou)
    pred_customers = pred[~pred["is_staff"].astype(bool)]
    matched_customer = [(ti, pi, iou) for ti, pi, iou in matches if not bool(pred.loc[pi, "is_staff"])]
    labelled_staff = len(matches) - len(matched_customer)
    faceless = truth_c["faceless"].astype(bool) if "faceless" in truth_c else pd.Series(False, index=truth_c.index)
    faced_matches = [(ti, pi) for ti, pi, _ in matched_customer if not faceless[ti]]
    t_labels = [truth_c.loc[ti, "person"] for ti, _ in faced_matches]
    p_labels = [_label(pred.loc[pi, "customer_id"], pi) for _, pi in faced_matches]
    bp, br, bf = bcubed(t_labels, p_labels)
    n_faceless = int(faceless.sum())
    matched_faceless = [ti for ti, _, _ in matched_customer if faceless[ti]]
    given_id = sum(
        1 for ti, pi, _ in matched_customer if faceless[ti] and _label(pred.loc[pi, "customer_id"], pi)[0] != "~"
    )
    entry_err = [
        abs((pred.loc[pi, "entry_time"] - truth_c.loc[ti, "entry"]).total_seconds()) for ti, pi, _ in matched_customer
    ]
    exit_err = [
        abs((pred.loc[pi, "exit_time"] - truth_c.loc[ti, "exit"]).total_seconds()) for ti, pi, _ in matched_customer
    ]
    return VisitScores(
        truth_visits=len(truth_c),
        predicted_visits=len(pred_customers),
        matched=len(matched_customer),
        recall=len(matched_customer) / max(len(truth_c), 1),
        precision=len(matched_customer) / max(len(pred_customers), 1),
        bcubed_precision=bp,
        bcubed_recall=br,
        bcubed_f1=bf,
        truth_customers=truth_c["person"].nunique(),
        predicted_customers=pred_customers["customer_id"].nunique(),
        truth_faced_visits=len(truth_c) - n_faceless,
        truth_faceless_visits=n_faceless,
        recall_faced=len(faced_matches) / max(len(truth_c) - n_faceless, 1),
        recall_faceless=len(matched_faceless) / max(n_faceless, 1),
        truth_identifiable_customers=truth_c[~faceless]["person"].nunique(),
        faceless_visits_given_an_id=given_id,
        mean_entry_error_s=sum(entry_err) / max(len(entry_err), 1),
        mean_exit_error_s=sum(exit_err) / max(len(exit_err), 1),
        customers_labelled_staff=labelled_staff,
    )


def _label(customer_id, index) -> str:
    """A visit's identity for BCubed: its customer ID, or a group of its own when unidentified (NULL)."""
    if customer_id is None or (isinstance(customer_id, float) and pd.isna(customer_id)):
        return f"~unidentified/{index}"
    return str(customer_id)


def score_staff(truth_dir: Path, truth: pd.DataFrame, visit_log: pd.DataFrame, min_iou: float = 0.5) -> dict:
    """Staff counted as customers. The staff member is in view all through every recorded span (the truth's
    `recorded`); a predicted customer visit that matches no true customer visit but covers a recorded span
    (IoU >= min_iou) is the staff member counted as a customer. Also: predicted customer visits that match
    nothing (all false visits), and customer IDs none of whose visits matches a true customer visit."""
    truth_c = truth[~truth["is_staff"]].reset_index(drop=True)
    pred = visit_log.assign(day=visit_log["day"].astype(str))
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for path in _day_files(truth_dir):
        payload = json.loads(path.read_text())
        spans[payload["day"]] += [
            (datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in payload.get("recorded", [])
        ]
    matched: set = set()
    for day in sorted(set(pred["day"])):
        matched |= {pi for _, pi, _ in match_customer_visits(truth_c[truth_c["day"] == day], pred[pred["day"] == day])}
    customers = pred[~pred["is_staff"].astype(bool)]
    false_visits = customers[~customers.index.isin(matched)]
    staff_like = [
        pi
        for pi, r in false_visits.iterrows()
        if any(_iou(a, b, r["entry_time"], r["exit_time"]) >= min_iou for a, b in spans[r["day"]])
    ]
    ids = customers[customers["customer_id"].notna()]
    ghost_ids = sorted(str(cid) for cid, rows in ids.groupby("customer_id") if not rows.index.isin(matched).any())
    return {
        "false_customer_visits": len(false_visits),
        "staff_visits_counted_as_customers": len(staff_like),
        "customer_ids_matching_no_true_visit": ghost_ids,
    }


def persons_per_identity(truth: pd.DataFrame, visit_log: pd.DataFrame) -> dict[str, dict[str, int]]:
    """For reading failures: which true people ended up under each predicted ID."""
    truth_c = truth[~truth["is_staff"]].reset_index(drop=True)
    pred = visit_log.assign(day=visit_log["day"].astype(str))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for day in sorted(set(truth_c["day"])):
        t_day, p_day = truth_c[truth_c["day"] == day], pred[pred["day"] == day]
        for ti, pi, _ in match_customer_visits(t_day, p_day):
            cid, person = pred.loc[pi, "customer_id"], truth_c.loc[ti, "person"]
            if cid is None or (isinstance(cid, float) and pd.isna(cid)):
                continue  # unidentified visits are nobody's ID
            out[cid][person] = out[cid].get(person, 0) + 1
    return dict(out)


def score_suggestions(truth: pd.DataFrame, visit_log: pd.DataFrame, suggestions: pd.DataFrame) -> dict:
    """Where the owner finds the splits: each pair of IDs whose visits are mostly one true person, with its
    place in the suggested merges (1 = first; None: not suggested), and how many suggestions the owner reads,
    going down the list, before the last of them. suggestions: identity_suggestions, best first."""
    owner = {cid: max(people, key=people.__getitem__) for cid, people in persons_per_identity(truth, visit_log).items()}
    ids_of: dict[str, list[str]] = defaultdict(list)
    for cid, person in owner.items():
        ids_of[person].append(cid)
    split_pairs = {frozenset((a, b)) for ids in ids_of.values() for i, a in enumerate(ids) for b in ids[i + 1 :]}
    place = {
        frozenset((r.customer_id_a, r.customer_id_b)): k + 1
        for k, r in enumerate(suggestions[["customer_id_a", "customer_id_b"]].itertuples())
    }
    places = sorted((place.get(p) for p in split_pairs), key=lambda k: (k is None, k))
    found = [k for k in places if k is not None]
    return {
        "split_pairs": len(split_pairs),
        "split_pair_places": places,
        "suggestions_read_to_last_split": max(found) if found else 0,
    }


def score_links(truth: pd.DataFrame, visit_log: pd.DataFrame, links: pd.DataFrame) -> dict[str, float]:
    """Share of sales linked to the visit of the person who really made them."""
    truth_c = truth[~truth["is_staff"]].reset_index(drop=True)
    pred = visit_log.assign(day=visit_log["day"].astype(str))
    owner: dict[str, str] = {}  # predicted visit_id -> true person
    for day in sorted(set(truth_c["day"])):
        t_day, p_day = truth_c[truth_c["day"] == day], pred[pred["day"] == day]
        for ti, pi, _ in match_customer_visits(t_day, p_day):
            owner[pred.loc[pi, "visit_id"]] = truth_c.loc[ti, "person"]
    sale_person = {r.transaction_id: r.person for r in truth_c.itertuples() if isinstance(r.transaction_id, str)}
    judged = links[links["transaction_id"].isin(sale_person)]
    right = sum(
        1
        for r in judged.itertuples()
        if isinstance(r.visit_id, str) and owner.get(r.visit_id) == sale_person[r.transaction_id]
    )
    ambiguous = int(judged["ambiguous"].fillna(False).astype(bool).sum()) if "ambiguous" in judged else 0
    return {
        "sales": len(judged),
        "linked_to_right_person": right,
        "link_accuracy": round(right / max(len(judged), 1), 4),
        "ambiguous_links": ambiguous,
        "ambiguous_share": round(ambiguous / max(len(judged), 1), 4),
    }


def score_clock(truth_dir: Path, clock_offsets: pd.DataFrame) -> dict:
    """How far each day's estimated till-to-camera offset lies from the one the till was given (days whose
    truth records none had synchronised clocks: offset 0)."""
    errors, methods = [], []
    for path in _day_files(truth_dir):
        t = json.loads(path.read_text())
        row = clock_offsets[clock_offsets["day"].astype(str) == t["day"]]
        if row.empty:
            continue
        r = row.iloc[0]
        methods.append(str(r["method"]))
        if pd.notna(r["offset_seconds"]):
            errors.append(round(float(r["offset_seconds"]) - float(t.get("till_clock_offset_s", 0.0)), 1))
    return {
        "clock_offset_error_s": errors,
        "clock_offset_error_s_max": max((abs(e) for e in errors), default=float("nan")),
        "clock_methods": methods,
    }


def score_shop_hours(truth_dir: Path, shop_hours: pd.DataFrame) -> dict[str, float]:
    errors_open, errors_close = [], []
    for path in _day_files(truth_dir):
        t = json.loads(path.read_text())
        row = shop_hours[shop_hours["day"].astype(str) == t["day"]]
        if row.empty or not t.get("opening"):
            continue
        r = row.iloc[0]
        if pd.notna(r["open_time"]):
            errors_open.append(abs((pd.Timestamp(r["open_time"]) - pd.Timestamp(t["opening"])).total_seconds()))
        if pd.notna(r["close_time"]):
            errors_close.append(abs((pd.Timestamp(r["close_time"]) - pd.Timestamp(t["closing"])).total_seconds()))

    def mean(xs: list[float]) -> float:
        return round(sum(xs) / len(xs), 2) if xs else float("nan")

    return {
        "days_scored": len(errors_open),
        "opening_error_s_mean": mean(errors_open),
        "opening_error_s_max": max(errors_open, default=float("nan")),
        "closing_error_s_mean": mean(errors_close),
        "closing_error_s_max": max(errors_close, default=float("nan")),
    }
