"""What the review page shows, read from the warehouse in a few aggregate queries (no Starlette here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from watershop_dagster.core.identities.matching import IdentityRules
from watershop_dagster.core.identities.suggestions import in_rank_order
from watershop_dagster.core.storage.shop_scope import ShopWarehouse
from watershop_dagster.core.storage.warehouse import Warehouse

CROPS_PER_ID = 4
STAFF_LIKE_SHARE = 0.5  # a "customer" present for more than this share of a day's open hours
BAD_FIT_MARGIN = 0.05  # a returning visit matched within this of the threshold fits its ID badly


@dataclass
class Suggestion:
    a: str
    b: str
    score: float
    crops_a: list[str]
    crops_b: list[str]
    days_a: int
    days_b: int
    shared_account: str | None = None  # a ledger account the till booked both IDs' sales to
    other_accounts: bool = False  # both paid on accounts, never the same one
    same_day: bool = False  # both seen on one day (at different times): mostly two people


@dataclass
class CustomerRow:
    customer_id: str
    is_staff: bool
    visits: int
    days: int
    first_seen: str
    last_seen: str
    spend: float
    owed: float
    crops: list[str] = field(default_factory=list)
    label: str = ""


@dataclass
class OptedOutLookalike:
    """An ID that looks like someone on the opt-out list (table optout_matches), not forgotten yet."""

    customer_id: str
    optout_name: str
    similarity: float
    crops: list[str]


@dataclass
class Page:
    suggestions: list[Suggestion]
    bad_fits: pd.DataFrame
    self_overlaps: pd.DataFrame
    staff_like: pd.DataFrame
    customers: list[CustomerRow]
    totals: dict[str, int]
    opted_out: list[OptedOutLookalike] = field(default_factory=list)


def _tables(wh: Warehouse | ShopWarehouse) -> set[str]:
    with wh.connect(read_only=True) as conn:
        return wh.table_names(conn)


def crop_url(path: str | None, data_dir: Path) -> str | None:
    if not path:
        return None
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path(data_dir).resolve())
        except ValueError:
            # A data folder that was moved or copied: the crop's place under its crops/ folder still holds.
            if "crops" not in p.parts:
                return None
            p = Path(*p.parts[len(p.parts) - 1 - p.parts[::-1].index("crops") :])
    return f"/files/{p.as_posix()}"


def load_page(
    wh: Warehouse | ShopWarehouse, data_dir: Path, labels: dict[str, str], suggestions_limit: int = 20
) -> Page:
    tables = _tables(wh)
    if "visit_log" not in tables:
        return Page(
            [],
            pd.DataFrame(),
            pd.DataFrame(),
            pd.DataFrame(),
            [],
            {"customers": 0, "visits": 0, "unidentified_visits": 0},
        )
    crops = wh.query(
        f"""SELECT customer_id, list(best_crop_path ORDER BY day, entry_time)[1:{CROPS_PER_ID}] AS crops,
                   count(DISTINCT day) AS days
            FROM visit_log WHERE best_crop_path IS NOT NULL GROUP BY customer_id"""
    )
    crop_map = {r.customer_id: [crop_url(c, data_dir) for c in r.crops] for r in crops.itertuples()}
    days_map = dict(zip(crops["customer_id"], crops["days"]))
    suggestions = []
    if "identity_suggestions" in tables:
        stored = in_rank_order(wh.query("SELECT * FROM identity_suggestions")).head(suggestions_limit)
        for r in stored.itertuples():
            suggestions.append(
                Suggestion(
                    r.customer_id_a,
                    r.customer_id_b,
                    float(r.score),
                    [c for c in crop_map.get(r.customer_id_a, []) if c][:3],
                    [c for c in crop_map.get(r.customer_id_b, []) if c][:3],
                    int(days_map.get(r.customer_id_a, 0)),
                    int(days_map.get(r.customer_id_b, 0)),
                    account if isinstance(account := getattr(r, "shared_account", None), str) else None,
                    bool(other) if pd.notna(other := getattr(r, "other_accounts", False)) else False,
                    bool(same) if pd.notna(same := getattr(r, "same_day", False)) else False,
                )
            )
    threshold = IdentityRules.match_threshold + BAD_FIT_MARGIN
    bad_fits = wh.query(
        """SELECT visit_id, customer_id, round(match_similarity, 3) AS similarity, entry_time
           FROM visit_log WHERE NOT is_staff AND match_similarity IS NOT NULL AND match_similarity < ?
           ORDER BY match_similarity LIMIT 20""",
        [threshold],
    )
    self_overlaps = wh.query(
        """SELECT a.customer_id, a.visit_id AS visit_a, b.visit_id AS visit_b FROM visit_log a
           JOIN visit_log b ON a.day = b.day AND a.customer_id = b.customer_id AND a.visit_id < b.visit_id
             AND a.entry_time < b.exit_time AND b.entry_time < a.exit_time
           WHERE NOT a.is_staff LIMIT 20"""
    )
    staff_like = pd.DataFrame(columns=["customer_id", "day", "share"])
    if "shop_hours" in tables:
        staff_like = wh.query(
            """SELECT v.customer_id, v.day, round(sum(v.duration_seconds)
                      / greatest(any_value(h.open_hours) * 3600, 1), 2) AS share
               FROM visit_log v JOIN shop_hours h USING (day)
               WHERE NOT v.is_staff AND v.customer_id IS NOT NULL AND h.open_hours > 0
               GROUP BY v.customer_id, v.day HAVING share > ? ORDER BY share DESC LIMIT 20""",
            [STAFF_LIKE_SHARE],
        )
    spend = "SELECT NULL::VARCHAR AS customer_id, 0.0 AS billed_amount, 0.0 AS amount_owed WHERE false"
    if "total_spent" in tables:
        spend = "SELECT customer_id, billed_amount, amount_owed FROM total_spent"
    rows = wh.query(
        f"""WITH v AS (SELECT customer_id, bool_or(is_staff) AS is_staff, count(*) AS visits,
                              count(DISTINCT day) AS days, min(day) AS first_seen, max(day) AS last_seen
                       FROM visit_log WHERE customer_id IS NOT NULL GROUP BY customer_id)
            SELECT v.*, coalesce(s.billed_amount, 0) AS spend, coalesce(s.amount_owed, 0) AS owed
            FROM v LEFT JOIN ({spend}) s USING (customer_id)
            ORDER BY v.is_staff, v.visits DESC, v.customer_id"""
    )
    customers = [
        CustomerRow(
            r.customer_id,
            bool(r.is_staff),
            int(r.visits),
            int(r.days),
            str(r.first_seen),
            str(r.last_seen),
            float(r.spend),
            float(r.owed),
            [c for c in crop_map.get(r.customer_id, []) if c],
            labels.get(r.customer_id, ""),
        )
        for r in rows.itertuples()
    ]
    # Visits of bodies without a usable face (no ID): counted in the shop's figures, nobody's to correct.
    unidentified = wh.query("SELECT count(*) AS n FROM visit_log WHERE customer_id IS NULL AND NOT is_staff")
    totals = {
        "customers": sum(1 for c in customers if not c.is_staff),
        "visits": sum(c.visits for c in customers if not c.is_staff),
        "unidentified_visits": int(unidentified["n"][0]),
    }
    opted_out = []
    if "optout_matches" in tables:
        forgotten = "SELECT customer_id FROM forgotten_customers" if "forgotten_customers" in tables else "SELECT ''"
        for r in wh.query(
            f"""SELECT customer_id, optout_name, similarity FROM optout_matches
                WHERE customer_id NOT IN ({forgotten}) ORDER BY similarity DESC, customer_id"""
        ).itertuples():
            crops_of = [c for c in crop_map.get(r.customer_id, []) if c][:3]
            opted_out.append(OptedOutLookalike(r.customer_id, r.optout_name, float(r.similarity), crops_of))
    return Page(suggestions, bad_fits, self_overlaps, staff_like, customers, totals, opted_out)


def customer_visits(wh: Warehouse | ShopWarehouse, data_dir: Path, customer_id: str) -> list[dict]:
    rows = wh.query(
        """SELECT visit_id, day, entry_time, exit_time, round(duration_seconds) AS seconds,
                  round(match_similarity, 3) AS similarity, best_crop_path
           FROM visit_log WHERE customer_id = ? ORDER BY entry_time""",
        [customer_id],
    )
    return [{**r._asdict(), "crop": crop_url(r.best_crop_path, data_dir)} for r in rows.itertuples(index=False)]
