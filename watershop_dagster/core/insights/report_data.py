"""The numbers behind the daily and monthly reports, read from the warehouse."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd

TREND_DAYS = 30
# The tables each report reads: the Dagster layer declares them, and a test checks they are what is queried.
CHART_TABLES = (
    "cans_per_day",
    "daily_revenue",
    "daily_visits",
    "new_vs_returning",
    "payment_summary",
    "peak_hours",
    "transaction_links",
    "transactions",
    "unpaid_visits",
    "visit_log",
)
DAILY_REPORT_TABLES = (
    "daily_revenue",
    "daily_visits",
    "new_vs_returning",
    "payment_summary",
    "peak_hours",
    "repeat_defaulters",
    "shop_hours",
    "unpaid_visits",
)
MONTHLY_REPORT_TABLES = tuple(sorted({*CHART_TABLES, "repeat_defaulters"}))


class TableSource(Protocol):
    """Where the report's tables come from: anything with a `connect()` that yields a DuckDB-like connection
    (the Warehouse itself, or the Dagster layer's reader that sees only an asset's declared tables)."""

    def connect(self) -> AbstractContextManager: ...


@dataclass
class ReportData:
    kpis: list[tuple[str, str]]
    tables: list[tuple[str, pd.DataFrame]]
    notes: list[str] = field(default_factory=list)
    crops: dict[str, bytes] = field(default_factory=dict)
    chart_frames: dict[str, pd.DataFrame] = field(
        default_factory=dict
    )  # monthly only: the daily charts are their own asset


def _q(conn, sql: str, params: list, columns: list[str]) -> pd.DataFrame:
    """A query's rows (`columns` documents what the caller expects). A table that was never written is an
    error raised before this point, not an empty report."""
    return conn.execute(sql, params).df()


def _money(v) -> str:
    return f"₹{0 if v is None or pd.isna(v) else v:,.0f}"


def _time(v) -> str:
    return "–" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%H:%M")


def _crops(paths) -> dict[str, bytes]:
    out = {}
    for p in paths:
        if isinstance(p, str) and Path(p).exists():
            out[p] = Path(p).read_bytes()
    return out


def chart_frames(conn, start: date, end: date, hourly_day: date | None) -> dict[str, pd.DataFrame]:
    rng = [start, end]
    hourly_sql = (
        ("SELECT hour, visits, transactions FROM peak_hours WHERE day = ? ORDER BY hour", [hourly_day])
        if hourly_day
        else (
            "SELECT hour, sum(visits) AS visits, sum(transactions) AS transactions FROM peak_hours "
            "WHERE day BETWEEN ? AND ? GROUP BY hour ORDER BY hour",
            rng,
        )
    )
    return {
        "top_customers": _q(
            conn,
            """SELECT customer_id, count(*) AS visits FROM visit_log
               WHERE NOT is_staff AND customer_id IS NOT NULL AND day BETWEEN ? AND ?
               GROUP BY 1 ORDER BY visits DESC, customer_id LIMIT 10""",
            rng,
            ["customer_id", "visits"],
        ),
        "visits_per_hour": _q(conn, *hourly_sql, ["hour", "visits", "transactions"]),
        "daily_trend": _q(
            conn,
            "SELECT day, visits, customers FROM daily_visits WHERE day BETWEEN ? AND ? ORDER BY day",
            rng,
            ["day", "visits", "customers"],
        ),
        "new_vs_returning": _q(
            conn,
            "SELECT day, new_customers, returning_customers FROM new_vs_returning "
            "WHERE day BETWEEN ? AND ? ORDER BY day",
            rng,
            ["day", "new_customers", "returning_customers"],
        ),
        "spend_per_customer": _q(
            conn,
            """SELECT coalesce(l.customer_id, t.customer_id) AS customer_id, sum(t.amount) AS billed_amount
               FROM transactions t LEFT JOIN transaction_links l USING (day, transaction_id)
               WHERE t.day BETWEEN ? AND ? AND coalesce(l.customer_id, t.customer_id) IS NOT NULL
               GROUP BY 1 ORDER BY 2 DESC LIMIT 10""",
            rng,
            ["customer_id", "billed_amount"],
        ),
        "payment_modes": _q(
            conn,
            "SELECT payment_mode, sum(amount) AS amount FROM payment_summary "
            "WHERE day BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
            [hourly_day or start, hourly_day or end],
            ["payment_mode", "amount"],
        ),
        "cans_per_day": _q(
            conn,
            "SELECT day, can_size, cans FROM cans_per_day WHERE day BETWEEN ? AND ? ORDER BY day",
            rng,
            ["day", "can_size", "cans"],
        ),
        "unpaid_trend": _q(
            conn,
            """SELECT r.day, r.unpaid_amount, coalesce(w.walkouts, 0) AS walkouts FROM daily_revenue r
               LEFT JOIN (SELECT day, count(*) AS walkouts FROM unpaid_visits
                          WHERE kind LIKE 'walk-out%' GROUP BY day) w USING (day)
               WHERE r.day BETWEEN ? AND ? ORDER BY r.day""",
            rng,
            ["day", "unpaid_amount", "walkouts"],
        ),
    }


def daily_chart_frames(wh: TableSource, day: date) -> dict[str, pd.DataFrame]:
    """The day's chart data; trends cover the TREND_DAYS ending on it."""
    with wh.connect() as conn:
        return chart_frames(conn, day - timedelta(days=TREND_DAYS - 1), day, day)


def daily_report_data(wh: TableSource, day: date) -> ReportData:
    with wh.connect() as conn:
        rev = _q(
            conn,
            "SELECT * FROM daily_revenue WHERE day = ?",
            [day],
            ["revenue", "billed_amount", "unpaid_amount", "transactions", "cans", "litres"],
        )
        vis = _q(conn, "SELECT * FROM daily_visits WHERE day = ?", [day], ["visits", "customers"])
        nvr = _q(conn, "SELECT * FROM new_vs_returning WHERE day = ?", [day], ["new_customers", "returning_customers"])
        hours = _q(
            conn,
            "SELECT * FROM shop_hours WHERE day = ?",
            [day],
            ["open_time", "close_time", "first_sale", "last_sale", "method", "confidence"],
        )
        peak = _q(
            conn,
            "SELECT hour, visits, transactions, amount, is_peak, is_idle FROM peak_hours WHERE day = ? ORDER BY hour",
            [day],
            ["hour", "visits", "transactions", "amount", "is_peak", "is_idle"],
        )
        unpaid = _q(
            conn,
            """SELECT kind, coalesce(customer_id, 'unidentified (no face seen)') AS customer_id,
                      strftime(entry_time, '%H:%M') AS at, transaction_id, amount, best_crop_path AS photo
               FROM unpaid_visits WHERE day = ? ORDER BY entry_time""",
            [day],
            ["kind", "customer_id", "at", "transaction_id", "amount", "photo"],
        )
        defaulters = _q(
            conn,
            """SELECT customer_id, unpaid_count, amount_owed, strftime(last_unpaid, '%Y-%m-%d') AS last_unpaid,
                      best_crop_path AS photo
               FROM repeat_defaulters WHERE day = ? ORDER BY amount_owed DESC""",
            [day],
            ["customer_id", "unpaid_count", "amount_owed", "last_unpaid", "photo"],
        )
        modes = _q(
            conn,
            "SELECT payment_mode, transactions, amount, unpaid_amount FROM payment_summary "
            "WHERE day = ? ORDER BY amount DESC",
            [day],
            ["payment_mode", "transactions", "amount", "unpaid_amount"],
        )
    r = rev.iloc[0] if len(rev) else pd.Series(dtype=object)
    v = vis.iloc[0] if len(vis) else pd.Series(dtype=object)
    n = nvr.iloc[0] if len(nvr) else pd.Series(dtype=object)
    h = hours.iloc[0] if len(hours) else pd.Series(dtype=object)
    peak_hours = peak[peak["is_peak"].astype(bool)]["hour"].tolist() if len(peak) else []
    idle = peak[peak["is_idle"].astype(bool)]["hour"].tolist() if len(peak) else []
    walkouts = int((unpaid["kind"].str.startswith("walk-out")).sum()) if len(unpaid) else 0
    kpis = [
        ("Revenue (paid)", _money(r.get("revenue"))),
        ("Unpaid", _money(r.get("unpaid_amount"))),
        ("Sales", str(int(r.get("transactions", 0) or 0))),
        ("Cans sold", str(int(r.get("cans", 0) or 0))),
        ("Litres", f"{int(r.get('litres', 0) or 0):,}"),
        ("Customer visits", str(int(v.get("visits", 0) or 0))),
        ("Customers", str(int(v.get("customers", 0) or 0))),
        ("New customers", str(int(n.get("new_customers", 0) or 0))),
        ("Returning", str(int(n.get("returning_customers", 0) or 0))),
        ("Walk-outs", str(walkouts)),
        ("Opened (camera)", _time(h.get("open_time"))),
        ("Closed (camera)", _time(h.get("close_time"))),
        ("First sale", _time(h.get("first_sale"))),
        ("Last sale", _time(h.get("last_sale"))),
        ("Peak hour", ", ".join(f"{x:02d}:00" for x in peak_hours) or "–"),
        ("Repeat defaulters", str(len(defaulters))),
    ]
    notes = [
        f"Repeat defaulter: {d.customer_id} owes {_money(d.amount_owed)} ({d.unpaid_count} unpaid sales)"
        for d in defaulters.itertuples()
    ]
    active = peak[(peak["visits"] > 0) | (peak["transactions"] > 0)] if len(peak) else peak
    tables = [
        ("Unpaid visits and walk-outs", unpaid),
        ("Repeat defaulters (30 days)", defaulters),
        ("Payments by mode", modes),
        ("Hours with customers", active[["hour", "visits", "transactions", "amount"]] if len(active) else active),
        ("Idle hours (open, nobody came)", pd.DataFrame({"hour": [f"{x:02d}:00" for x in idle]})),
    ]
    return ReportData(kpis, tables, notes, _crops(list(unpaid.get("photo", [])) + list(defaulters.get("photo", []))))


def monthly_report_data(wh: TableSource, month: date) -> ReportData:
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    q_start = start.replace(month=3 * ((start.month - 1) // 3) + 1)
    with wh.connect() as conn:
        rev = _q(
            conn,
            """SELECT coalesce(sum(revenue), 0) revenue, coalesce(sum(unpaid_amount), 0) unpaid,
                      coalesce(sum(transactions), 0) tx, coalesce(sum(cans), 0) cans, coalesce(sum(litres), 0) litres,
                      count(*) FILTER (WHERE transactions > 0) trading_days
               FROM daily_revenue WHERE day BETWEEN ? AND ?""",
            [start, end],
            ["revenue", "unpaid", "tx", "cans", "litres", "trading_days"],
        )
        qtd = _q(
            conn,
            "SELECT coalesce(sum(revenue), 0) revenue FROM daily_revenue WHERE day BETWEEN ? AND ?",
            [q_start, end],
            ["revenue"],
        )
        vis = _q(
            conn,
            """SELECT count(*) visits, count(DISTINCT customer_id) customers FROM visit_log
               WHERE NOT is_staff AND day BETWEEN ? AND ?""",
            [start, end],
            ["visits", "customers"],
        )
        new = _q(
            conn,
            "SELECT coalesce(sum(new_customers), 0) n FROM new_vs_returning WHERE day BETWEEN ? AND ?",
            [start, end],
            ["n"],
        )
        hours = _q(
            conn,
            """SELECT hour, round(avg(visits), 2) AS visits_per_day, round(avg(transactions), 2) AS sales_per_day
               FROM peak_hours WHERE day BETWEEN ? AND ? GROUP BY hour
               HAVING sum(visits) + sum(transactions) > 0 ORDER BY hour""",
            [start, end],
            ["hour", "visits_per_day", "sales_per_day"],
        )
        defaulters = _q(
            conn,
            """SELECT customer_id, max(unpaid_count) AS unpaid_count, max(amount_owed) AS amount_owed,
                      arg_max(best_crop_path, day) AS photo
               FROM repeat_defaulters WHERE day BETWEEN ? AND ? GROUP BY 1 ORDER BY amount_owed DESC""",
            [start, end],
            ["customer_id", "unpaid_count", "amount_owed", "photo"],
        )
        per_day = _q(
            conn,
            """SELECT r.day, r.transactions, r.revenue, r.unpaid_amount, v.visits, v.customers FROM daily_revenue r
                              LEFT JOIN daily_visits v USING (day) WHERE r.day BETWEEN ? AND ? ORDER BY r.day""",
            [start, end],
            ["day", "transactions", "revenue", "unpaid_amount", "visits", "customers"],
        )
        frames = chart_frames(conn, start, end, None)
    r = rev.iloc[0] if len(rev) else pd.Series(dtype=object)
    v = vis.iloc[0] if len(vis) else pd.Series(dtype=object)
    busiest = hours.sort_values("visits_per_day", ascending=False)["hour"].head(1).tolist() if len(hours) else []
    kpis = [
        ("Revenue (paid)", _money(r.get("revenue"))),
        ("Quarter to date", _money(qtd["revenue"].iloc[0] if len(qtd) else 0)),
        ("Unpaid", _money(r.get("unpaid"))),
        ("Sales", str(int(r.get("tx", 0) or 0))),
        ("Cans sold", str(int(r.get("cans", 0) or 0))),
        ("Trading days", str(int(r.get("trading_days", 0) or 0))),
        ("Customer visits", str(int(v.get("visits", 0) or 0))),
        ("Customers", str(int(v.get("customers", 0) or 0))),
        ("New customers", str(int(new["n"].iloc[0]) if len(new) else 0)),
        ("Busiest hour", ", ".join(f"{x:02d}:00" for x in busiest) or "–"),
        ("Repeat defaulters", str(len(defaulters))),
    ]
    tables = [("Day by day", per_day), ("Repeat defaulters", defaulters), ("Average day by hour", hours)]
    return ReportData(kpis, tables, [], _crops(defaulters.get("photo", [])), frames)
