"""The owner's identity corrections, shared by `watershop identity ...`, the review page and the Dagster job.

`make_correction` turns what the owner named (IDs, visit IDs) into a correction anchored to evidence (the
time spans of the face tracks involved); `correct` appends it to data/identity/corrections.jsonl and, unless
told not to, brings the warehouse up to date at once by running `identity_refresh_job` (the identity assets
and everything downstream, no footage decoding) for every day from the first one it touches, then the
cross-day tables and the month reports.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from watershop_dagster.core.identities.corrections import (
    Correction,
    CorrectionLog,
    Span,
    cannot_link_pairs,
    new_correction,
    resolve_ids,
    spans_of,
)
from watershop_dagster.core.identities.suggestions import in_rank_order
from watershop_dagster.core.storage.layout import MAIN_SHOP, shop_layout
from watershop_dagster.core.storage.shop_scope import ShopWarehouse
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.defs.partitions import shop_day_key, shop_month_key


class CorrectionRefused(ValueError):
    """What the owner asked cannot be done (unknown ID, contradicts another correction)."""


def _q(wh: Warehouse | ShopWarehouse, sql: str, params: list | None = None) -> pd.DataFrame:
    return wh.query(sql, params or [])


def id_spans(wh: Warehouse | ShopWarehouse, customer_id: str) -> list[Span]:
    tracks = _q(
        wh,
        """SELECT t.day, t.camera, t.first_time, t.last_time FROM face_tracks t
           JOIN track_identities i ON i.day = t.day AND i.track_id = t.track_id
           WHERE i.customer_id = ? ORDER BY t.first_time""",
        [customer_id],
    )
    if tracks.empty:
        raise CorrectionRefused(f"{customer_id}: no face tracks have this ID (see `watershop identity log`)")
    return spans_of(tracks)


def visit_spans(wh: Warehouse | ShopWarehouse, visit_id: str) -> tuple[str, list[Span]]:
    """The visit's customer and the spans of the face tracks it was made of."""
    visit = _q(wh, "SELECT day, customer_id, entry_time, exit_time FROM visit_log WHERE visit_id = ?", [visit_id])
    if visit.empty:
        raise CorrectionRefused(f"no visit {visit_id}")
    v = visit.iloc[0]
    tracks = _q(
        wh,
        """SELECT t.day, t.camera, t.first_time, t.last_time FROM face_tracks t
           JOIN track_identities i ON i.day = t.day AND i.track_id = t.track_id
           WHERE i.customer_id = ? AND t.day = ? AND t.first_time >= ? AND t.last_time <= ?""",
        [v.customer_id, v.day, v.entry_time, v.exit_time],
    )
    return str(v.customer_id), spans_of(tracks)


def _evidence(wh: Warehouse | ShopWarehouse) -> pd.DataFrame:
    with wh.connect() as conn:
        if "identity_evidence" not in wh.table_names(conn):
            return pd.DataFrame(columns=["track_id", "day", "camera", "first_time", "last_time", "customer_id"])
    return _q(wh, "SELECT * FROM identity_evidence")


def _anchor(wh: Warehouse | ShopWarehouse, ref: str) -> list[Span]:
    return visit_spans(wh, ref)[1] if "/" in ref else id_spans(wh, ref)


def make_correction(
    wh: Warehouse | ShopWarehouse,
    log: CorrectionLog,
    kind: str,
    ids: list[str],
    visits: list[str] | None = None,
    text: str = "",
    who: str = "",
    why: str = "",
    session: str = "cli",
) -> Correction:
    """A correction anchored to the evidence as the warehouse holds it now."""
    kind = kind.replace("-", "_")
    visits = visits or []
    need = {"merge": 2, "not_same": 2, "split": 1, "staff": 1, "not_staff": 1, "ignore": 1, "label": 1, "undo": 1}
    if kind not in need:
        raise CorrectionRefused(f"unknown correction {kind!r}: one of {', '.join(need)}")
    if len(ids) < need[kind] or (kind == "split" and len(ids) > 2) or (kind != "split" and len(ids) != need[kind]):
        raise CorrectionRefused(f"{kind} takes {need[kind]} ID(s), got {ids}")
    if kind == "undo":
        target = next((c for c in log.read() if c.id == ids[0]), None)
        if target is None or target.kind == "undo":
            raise CorrectionRefused(f"no correction {ids[0]} to undo (see `watershop identity log`)")
        if target.undone_by:
            raise CorrectionRefused(f"{ids[0]} was already undone by {target.undone_by}")
        return new_correction("undo", {}, [ids[0]], who, why, session, target=ids[0])
    if kind in ("merge", "not_same"):
        if ids[0] == ids[1]:
            raise CorrectionRefused(f"{kind} needs two different IDs")
        if kind == "merge" and (ids[0].startswith("STAFF_") or ids[1].startswith("STAFF_")):
            raise CorrectionRefused("staff IDs are not merged: mark the customer ID as staff instead")
        apart = cannot_link_pairs(log.active(), _evidence(wh))
        if kind == "merge" and frozenset(ids) in apart:
            raise CorrectionRefused(f"{ids[0]} and {ids[1]} were ruled different people: undo that correction first")
        roles = ("keep", "other") if kind == "merge" else ("a", "b")
        return new_correction(
            kind, {roles[0]: _anchor(wh, ids[0]), roles[1]: _anchor(wh, ids[1])}, ids, who, why, session
        )
    if kind == "split":
        if not visits:
            raise CorrectionRefused("split needs --visits VISIT_ID[,VISIT_ID...]")
        moved: list[Span] = []
        for v in visits:
            owner, spans = visit_spans(wh, v)
            if owner != ids[0]:
                raise CorrectionRefused(f"visit {v} is {owner}'s, not {ids[0]}'s")
            moved += spans
        rest = [s for s in id_spans(wh, ids[0]) if s not in set(moved)]
        if not rest:
            raise CorrectionRefused(f"those are all of {ids[0]}'s visits: nothing would be left")
        anchors = {"moved": moved, "rest": rest}
        if len(ids) == 2:
            anchors["to"] = id_spans(wh, ids[1])
        return new_correction("split", anchors, [ids[0], *ids[1:], *visits], who, why, session)
    if kind == "not_staff" and ids[0].startswith("STAFF_"):
        raise CorrectionRefused(
            f"{ids[0]} is an enrolled staff member: split the relative's visits off it (split {ids[0]} --visits ...)"
        )
    if kind == "label" and not text:
        raise CorrectionRefused("label needs a TEXT (a name or the till's ledger account, e.g. L002)")
    return new_correction(kind, {"id": _anchor(wh, ids[0])}, ids, who, why, session, text=text)


def touched_days(log: CorrectionLog, correction: Correction) -> set[date]:
    if correction.kind == "undo":
        target = next((c for c in log.read() if c.id == correction.target), None)
        return target.days if target else set()
    return correction.days


def days_from(wh: Warehouse | ShopWarehouse, first: date) -> list[date]:
    """Every day with face tracks from `first` on: the registry of day N reads day N-1, so a change on one
    day reaches every later one."""
    days = _q(wh, "SELECT DISTINCT day FROM face_tracks WHERE day >= ? ORDER BY day", [first])
    return [pd.Timestamp(d).date() for d in days["day"]]


def refresh(
    defs,
    instance,
    days: list[date],
    log: Callable[[str], None] = print,
    run_config: dict | None = None,
    shop: str = MAIN_SHOP,
) -> bool:
    """Runs the identity assets and everything downstream (no footage) for each day in order, then the
    cross-day tables and the month reports, in process and recorded in the Dagster instance."""
    ok = True
    job = defs.resolve_job_def("identity_refresh_job")
    for d in days:
        result = job.execute_in_process(
            partition_key=shop_day_key(d, shop), instance=instance, raise_on_error=False, run_config=run_config
        )
        log(f"{d}: identities and downstream {'ok' if result.success else 'FAILED'}")
        ok &= result.success
    cross_day = defs.resolve_job_def("cross_day_job")
    result = cross_day.execute_in_process(partition_key=shop, instance=instance, raise_on_error=False)
    log(f"cross-day tables: {'ok' if result.success else 'FAILED'}")
    ok &= result.success
    monthly = defs.resolve_job_def("monthly_job")
    for month in sorted({d.replace(day=1) for d in days}):
        key = shop_month_key(month, shop)
        result = monthly.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
        ok &= result.success
    return ok


@dataclass
class Applied:
    correction: Correction
    days: list[date]
    ok: bool
    new_id: str | None = None  # a split: the ID the moved visits have now


def correct(
    wh: Warehouse | ShopWarehouse,
    data_dir: Path,
    defs,
    instance,
    kind: str,
    ids: list[str],
    visits: list[str] | None = None,
    text: str = "",
    who: str = "",
    why: str = "",
    session: str = "cli",
    apply: bool = True,
    log: Callable[[str], None] = print,
    run_config: dict | None = None,
    shop: str = MAIN_SHOP,
) -> Applied:
    """Record a correction and (apply=True) bring the warehouse up to date before returning."""
    corrections = CorrectionLog(data_dir)
    correction = corrections.append(make_correction(wh, corrections, kind, ids, visits, text, who, why, session))
    days: list[date] = []
    ok = True
    touched = touched_days(corrections, correction)
    if apply and touched:
        days = days_from(wh, min(touched))
        ok = refresh(defs, instance, days, log, run_config, shop)
    applied = Applied(correction, days, ok)
    if correction.kind == "split" and apply:
        now = resolve_ids(correction.anchors["moved"], _evidence(wh))
        applied.new_id = now[0] if now else None
    return applied


# ---- the command line ---------------------------------------------------------------------------------------


def _context(shop: str = MAIN_SHOP):
    """The shop's view of the warehouse, its data folder, the definitions and the instance."""
    import dagster as dg

    from watershop_dagster.cli import ensure_dagster_home
    from watershop_dagster.definitions import build_definitions
    from watershop_dagster.defs.resources import default_resources

    ensure_dagster_home()
    resources = default_resources()  # read from the environment now, as `watershop materialize` does
    defs = build_definitions(resources)
    wh = ShopWarehouse(resources["warehouse"].process_config_and_initialize().get(), shop)
    data_dir = shop_layout(Path(resources["shop"].process_config_and_initialize().layout.root), shop).root
    return wh, Path(data_dir), defs, dg.DagsterInstance.get()


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_identity(args) -> int:
    wh, data_dir, defs, instance = _context(args.shop)
    corrections = CorrectionLog(data_dir)
    action = args.action
    if action == "suggest":
        table = in_rank_order(_q(wh, "SELECT * FROM identity_suggestions"))
        for r in table.itertuples():
            print(f"{r.customer_id_a} {r.customer_id_b} {r.score:.4f}")  # a contract: scripts read these lines
        return 0
    if action == "log":
        for c in corrections.read():
            undone = f" [undone by {c.undone_by}]" if c.undone_by else ""
            text = f" {c.text!r}" if c.text else ""
            print(
                f"{c.id} {c.when} {c.kind} {' '.join(c.ids)}{text} by={c.who} why={c.why!r} session={c.session}{undone}"
            )
        return 0
    kind = {"not-same": "not_same"}.get(action, action)
    if action == "staff" and args.not_:
        kind = "not_staff"
    ids = {
        "merge": lambda: [args.keep, args.other],
        "split": lambda: [args.id, *([args.to] if args.to else [])],
        "not_same": lambda: [args.a, args.b],
        "undo": lambda: [args.correction_id],
    }.get(kind, lambda: [args.id])()
    visits = [v for v in (getattr(args, "visits", "") or "").split(",") if v]
    try:
        applied = correct(
            wh,
            data_dir,
            defs,
            instance,
            kind,
            ids,
            visits,
            getattr(args, "text", "") or "",
            args.by,
            args.reason,
            "cli",
            apply=not args.no_apply,
            log=_err,
        )
    except CorrectionRefused as exc:
        _err(f"error: {exc}")
        return 2
    c = applied.correction
    if c.kind == "split":
        print(applied.new_id or "(applied on the next run)")
    else:
        _err(f"{c.id}: {c.kind} {' '.join(c.ids)} recorded; {len(applied.days)} day(s) brought up to date")
    return 0 if applied.ok else 1


def add_identity_parser(sub) -> None:
    import os

    p = sub.add_parser("identity", help="correct who is who: merge, split, not-same, staff, ignore, label, undo")
    p.add_argument("--shop", default=MAIN_SHOP, help="the shop whose IDs these are (default: main)")
    acts = p.add_subparsers(dest="action", required=True)

    def common(q):
        q.add_argument("--by", default=os.environ.get("USER", "owner"), help="who made the correction (log)")
        q.add_argument("--reason", default="", help="why (log)")
        q.add_argument("--no-apply", action="store_true", help="only record it; the sensor applies it later")
        return q

    q = common(acts.add_parser("merge", help="one person: OTHER's history becomes KEEP's"))
    q.add_argument("keep")
    q.add_argument("other")
    q = common(acts.add_parser("split", help="move visits to a new ID (printed) or to --to ID"))
    q.add_argument("id")
    q.add_argument("--visits", required=True, help="VISIT_ID[,VISIT_ID...]")
    q.add_argument("--to", help="an existing ID to move them to")
    q = common(acts.add_parser("not-same", help="two IDs (or a visit and an ID) are different people, for good"))
    q.add_argument("a")
    q.add_argument("b")
    q = common(acts.add_parser("staff", help="this ID is staff (--not: is not)"))
    q.add_argument("id")
    q.add_argument("--not", dest="not_", action="store_true")
    q = common(acts.add_parser("ignore", help="delivery, family: out of customer figures, remembered"))
    q.add_argument("id")
    q = common(acts.add_parser("label", help="a name or the till's ledger account (e.g. L002)"))
    q.add_argument("id")
    q.add_argument("text")
    q = common(acts.add_parser("undo", help="undo a correction (ids from `watershop identity log`)"))
    q.add_argument("correction_id")
    acts.add_parser("suggest", help="suggested merges, best first: A B score")
    acts.add_parser("log", help="every correction with its id")
    p.set_defaults(func=cmd_identity)


def cmd_review(args) -> int:
    import uvicorn

    from watershop_dagster.review.app import create_app, hash_password

    host, password_hash = "127.0.0.1", None
    if args.lan:
        if not args.password_file:
            _err("error: --lan needs --password-file FILE (the owner's password, hashed before use)")
            return 2
        password_hash = hash_password(Path(args.password_file).read_text().strip())
        host = "0.0.0.0"
    wh, data_dir, defs, instance = _context(args.shop)
    app = create_app(data_dir, wh, password_hash=password_hash, defs=defs, instance=instance, shop=args.shop)
    _err(f"review page on http://{host}:{args.port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=args.port, log_level="warning")
    return 0


def add_review_parser(sub) -> None:
    p = sub.add_parser("review", help="the review page (127.0.0.1; --lan for the owner's phone, with a password)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--lan", action="store_true", help="listen on the shop's network (needs --password-file)")
    p.add_argument("--password-file", help="a file holding the owner's password")
    p.add_argument("--shop", default=MAIN_SHOP, help="the shop to review (default: main)")
    p.set_defaults(func=cmd_review)
