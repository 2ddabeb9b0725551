"""The numbers behind the daily and monthly reports, read from the warehouse."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd

from watershop_dagster.core.storage.named_sql import queries_beside, tables_named_in

TREND_DAYS = 30


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


QUERIES = queries_beside(__file__, "report_queries.sql")
CHART_QUERIES = (
    "top_customers",
    "visits_per_hour_of_day",
    "visits_per_hour_of_period",
    "daily_trend",
    "new_vs_returning_trend",
    "spend_per_customer",
    "payment_modes",
    "cans_per_day",
    "unpaid_trend",
)
DAILY_REPORT_QUERIES = tuple(name for name in QUERIES if name.startswith("day_"))
MONTHLY_REPORT_QUERIES = (*CHART_QUERIES, *(name for name in QUERIES if name.startswith("period_")))


def _tables(names) -> tuple[str, ...]:
    return tuple(sorted(set().union(*(tables_named_in(QUERIES[n]) for n in names))))


# The tables each report reads, from its queries: the Dagster layer declares exactly these.
CHART_TABLES = _tables(CHART_QUERIES)
DAILY_REPORT_TABLES = _tables(DAILY_REPORT_QUERIES)
MONTHLY_REPORT_TABLES = _tables(MONTHLY_REPORT_QUERIES)


def _q(conn, name: str, **params) -> pd.DataFrame:
    """A named query's rows. A table that was never written is an error raised before this point, not an
    empty report."""
    return conn.execute(QUERIES[name], params).df()


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
    """The charts' data for the days start..end; the hourly chart and payment modes are for `hourly_day` alone
    when one is given (a daily report), else for the whole period."""
    period = {"start": start, "end": end}
    hourly = (
        _q(conn, "visits_per_hour_of_day", day=hourly_day)
        if hourly_day
        else _q(conn, "visits_per_hour_of_period", **period)
    )
    modes_period = {"start": hourly_day, "end": hourly_day} if hourly_day else period
    return {
        "top_customers": _q(conn, "top_customers", **period),
        "visits_per_hour": hourly,
        "daily_trend": _q(conn, "daily_trend", **period),
        "new_vs_returning": _q(conn, "new_vs_returning_trend", **period),
        "spend_per_customer": _q(conn, "spend_per_customer", **period),
        "payment_modes": _q(conn, "payment_modes", **modes_period),
        "cans_per_day": _q(conn, "cans_per_day", **period),
        "unpaid_trend": _q(conn, "unpaid_trend", **period),
    }


def daily_chart_frames(wh: TableSource, day: date) -> dict[str, pd.DataFrame]:
    """The day's chart data; trends cover the TREND_DAYS ending on it."""
    with wh.connect() as conn:
        return chart_frames(conn, day - timedelta(days=TREND_DAYS - 1), day, day)


def daily_report_data(wh: TableSource, day: date) -> ReportData:
    with wh.connect() as conn:
        rev = _q(conn, "day_revenue", day=day)
        vis = _q(conn, "day_visits", day=day)
        nvr = _q(conn, "day_new_vs_returning", day=day)
        hours = _q(conn, "day_shop_hours", day=day)
        peak = _q(conn, "day_peak_hours", day=day)
        unpaid = _q(conn, "day_unpaid", day=day)
        defaulters = _q(conn, "day_defaulters", day=day)
        modes = _q(conn, "day_payment_modes", day=day)
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


def month_span(day: date) -> tuple[date, date]:
    """The first and the last day of the month that holds `day`."""
    start = day.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def monthly_report_data(wh: TableSource, month: date) -> ReportData:
    start, end = month_span(month)
    q_start = start.replace(month=3 * ((start.month - 1) // 3) + 1)
    month_days = {"start": start, "end": end}
    with wh.connect() as conn:
        rev = _q(conn, "period_revenue", **month_days)
        qtd = _q(conn, "period_paid_revenue", start=q_start, end=end)
        vis = _q(conn, "period_visits", **month_days)
        new = _q(conn, "period_new_customers", **month_days)
        hours = _q(conn, "period_hours", **month_days)
        defaulters = _q(conn, "period_defaulters", **month_days)
        per_day = _q(conn, "period_per_day", **month_days)
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
