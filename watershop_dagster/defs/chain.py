"""The chain: every shop's day rolled up (`chain_daily`, `chain_hours`) and the chain's month report at
data/reports/chain/<YYYY-MM>.html. These assets are partitioned by day (or month) alone, so their views hold
every shop's rows of that day."""

import dagster as dg

import watershop_dagster.core.insights as insights_package
from watershop_dagster.core.insights.report import Report, render_html
from watershop_dagster.core.insights.report_data import month_span
from watershop_dagster.core.storage.named_sql import queries_beside
from watershop_dagster.core.storage.schemas import CHAIN_DAILY, CHAIN_HOURS
from watershop_dagster.defs.partitions import daily_partitions, monthly_partitions
from watershop_dagster.defs.resources import ShopDataResource
from watershop_dagster.defs.warehouse_asset import Read, TableReader, Write, Written, warehouse_asset

QUERIES = queries_beside(insights_package.__file__, "chain_queries.sql")
CHAIN = "chain"


@warehouse_asset(
    writes=[Write("chain_daily", CHAIN_DAILY.description), Write("chain_hours", CHAIN_HOURS.description)],
    reads=[Read.day("daily_revenue"), Read.day("daily_visits"), Read.day("repeat_defaulters"), Read.day("peak_hours")],
    group=CHAIN,
    partitions_def=daily_partitions,
)
def chain_day(context: dg.AssetExecutionContext, tables: TableReader) -> Written:
    """Every shop's day side by side: visits, customers, revenue, unpaid, defaulters; and their hours."""
    daily = tables.sql(QUERIES["chain_daily"])
    hours = tables.sql(QUERIES["chain_hours"])
    return Written(
        rows={"chain_daily": daily.drop(columns="day"), "chain_hours": hours.drop(columns="day")},
        metadata={
            "chain_daily": {"shops": len(daily), "revenue": float(daily["revenue"].sum()) if len(daily) else 0.0}
        },
    )


@warehouse_asset(
    writes=[Write("chain_report", "The chain's month across shops: data/reports/chain/{YYYY-MM}.html.", table=False)],
    reads=[Read.all("chain_daily"), Read.all("chain_hours")],
    group=CHAIN,
    partitions_def=monthly_partitions,
    kinds={"html"},
)
def chain_report(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """Revenue, visits and defaulters per shop for the month, and the best and worst hours across shops."""
    assert tables.day is not None
    start, end = month_span(tables.day)
    month = {"start": start, "end": end}
    with tables.connect() as conn:
        per_shop = conn.execute(QUERIES["month_per_shop"], month).df()
        hours = conn.execute(QUERIES["month_hours"], month).df()
        totals = conn.execute(QUERIES["month_totals"], month).df().iloc[0]
    kpis = [
        ("Shops", str(int(totals["shops"]))),
        ("Revenue (paid)", f"₹{float(totals['revenue']):,.0f}"),
        ("Unpaid", f"₹{float(totals['unpaid']):,.0f}"),
        ("Customer visits", str(int(totals["visits"]))),
        ("Best hour", f"{int(hours['hour'].iloc[0]):02d}:00" if len(hours) else "–"),
        ("Quietest hour", f"{int(hours['hour'].iloc[-1]):02d}:00" if len(hours) else "–"),
    ]
    tables_shown = [("Shops this month", per_shop), ("Hours across shops, busiest first", hours)]
    report = Report(f"Chain report — {start:%B %Y}", "watershop: every shop, one month", kpis, {}, tables_shown)
    path = shop.layout.reports_dir / "chain" / f"{start:%Y-%m}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report))
    return Written(metadata={"chain_report": {"path": dg.MetadataValue.path(str(path)), **dict(kpis)}})


chain_assets = [chain_day, chain_report]
