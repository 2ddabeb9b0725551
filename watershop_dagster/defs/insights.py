"""What the owner acts on: sales linked to visits, shop hours, staffing, the forecast, charts and reports."""

import base64
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from watershop_dagster.core.insights import charts as owner_charts
from watershop_dagster.core.insights.forecast import forecast_next_week
from watershop_dagster.core.insights.report import Report, render_html
from watershop_dagster.core.insights.report_data import daily_chart_frames, daily_report_data, monthly_report_data
from watershop_dagster.core.insights.shop_hours import detect_shop_hours
from watershop_dagster.core.insights.staffing import StaffingTarget, staffing_table
from watershop_dagster.core.till.linking import LinkRules, link_summary, link_transactions
from watershop_dagster.defs.partitions import daily_partitions, partition_day
from watershop_dagster.defs.resources import WAREHOUSE_POOL, ShopDataResource, WarehouseResource

INSIGHTS, REPORTS = "insights", "reports"
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=daily_partitions.start.strftime("%Y-%m-01"), end_offset=1
)


class LinkConfig(dg.Config):
    tolerance_s: float = Field(
        default=LinkRules.tolerance_s, description="a sale this far outside a visit can still belong to it"
    )
    ambiguous_below: float = Field(default=LinkRules.ambiguous_below)


@dg.asset(
    partitions_def=daily_partitions,
    group_name=INSIGHTS,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["transactions", "visit_log"],
)
def transaction_links(
    context: dg.AssetExecutionContext, config: LinkConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every sale linked to the customer visit at the counter at its time, with confidence and an ambiguous flag."""
    day, wh = partition_day(context), warehouse.get()
    sales = wh.read_partition("transactions", day, 'transaction_id, "timestamp", customer_id')
    visits = wh.read_partition("visit_log", day)
    history = (
        wh.query("SELECT till_customer_id, camera_customer_id FROM transaction_links WHERE day <> ?", [day])
        if wh.has_table("transaction_links")
        else None
    )
    links = link_transactions(sales, visits, LinkRules(config.tolerance_s, config.ambiguous_below), history)
    wh.replace_partition("transaction_links", day, links)
    summary = link_summary(links)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(links), **summary})


@dg.asset(
    partitions_def=daily_partitions,
    group_name=INSIGHTS,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["frames", "transactions"],
)
def shop_hours(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """When the shop really opened and closed (lighting step, else first and last activity), beside the first and last sale."""
    day, wh = partition_day(context), warehouse.get()
    hours = detect_shop_hours(wh.read_partition("frames", day, "time, brightness, motion_score, faces"))
    sales = wh.read_partition("transactions", day, '"timestamp"')
    first_sale = sales["timestamp"].min() if len(sales) else None
    last_sale = sales["timestamp"].max() if len(sales) else None
    row = pd.DataFrame(
        [
            {
                "open_time": hours.opening,
                "close_time": hours.closing,
                "method": hours.method,
                "confidence": hours.confidence,
                "first_sale": first_sale,
                "last_sale": last_sale,
                "open_hours": round((hours.closing - hours.opening).total_seconds() / 3600, 2)
                if hours.opening is not None and hours.closing is not None
                else None,
            }
        ]
    )
    row = row.astype(
        {
            "open_time": "datetime64[us]",
            "close_time": "datetime64[us]",
            "first_sale": "datetime64[us]",
            "last_sale": "datetime64[us]",
        }
    )
    wh.replace_partition("shop_hours", day, row)
    fmt = lambda t: t.strftime("%H:%M:%S") if t is not None and not pd.isna(t) else "unknown"
    return dg.MaterializeResult(
        metadata={
            "opened": fmt(hours.opening),
            "closed": fmt(hours.closing),
            "method": hours.method,
            "confidence": hours.confidence,
            "first_sale": fmt(first_sale),
            "last_sale": fmt(last_sale),
        }
    )


class StaffingConfig(dg.Config):
    max_wait_s: float = Field(
        default=StaffingTarget.max_wait_s, description="a customer should wait no longer than this"
    )
    service_level: float = Field(
        default=StaffingTarget.service_level, description="share of customers served within max_wait_s"
    )


@dg.asset(group_name=INSIGHTS, kinds={"duckdb"}, pool=WAREHOUSE_POOL, deps=["visit_log"])
def staffing(config: StaffingConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per hour of the week: staff needed (Erlang C on measured arrivals and visit durations) next to staff present."""
    wh = warehouse.get()
    table = staffing_table(
        wh.query("SELECT * FROM visit_log") if wh.has_table("visit_log") else pd.DataFrame(),
        StaffingTarget(config.max_wait_s, config.service_level),
    )
    wh.replace_table("staffing", table)
    short = table[table["staff_needed"] > table["staff_present"]] if len(table) else table
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "hours_understaffed": len(short),
            "understaffed": dg.MetadataValue.md(
                short[["weekday_name", "hour", "arrivals_per_hour", "staff_needed", "staff_present"]].to_markdown(
                    index=False
                )
                if len(short)
                else "none"
            ),
        }
    )


@dg.asset(group_name=INSIGHTS, kinds={"duckdb"}, pool=WAREHOUSE_POOL, deps=["visit_log"])
def footfall_forecast(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Footfall for the next 7 days by hour (seasonal baseline), with its backtest error on the last 7 observed days."""
    wh = warehouse.get()
    visits = wh.query("SELECT * FROM visit_log") if wh.has_table("visit_log") else pd.DataFrame()
    days = (
        sorted({pd.Timestamp(d).date() for d in wh.query("SELECT DISTINCT day FROM frames")["day"]})
        if wh.has_table("frames")
        else []
    )
    fc, score = forecast_next_week(visits, days)
    wh.replace_table("footfall_forecast", fc.assign(**dict(score.items())))
    return dg.MaterializeResult(metadata={"dagster/row_count": len(fc), **{k: float(v) for k, v in score.items()}})


def _chart_markdown(charts: dict[str, bytes]) -> str:
    return "\n\n".join(
        f"**{n.replace('_', ' ')}**\n\n![{n}](data:image/png;base64,{base64.b64encode(p).decode()})"
        for n, p in charts.items()
    )


def _write_charts(folder: Path, charts: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in charts.items():
        (folder / f"{name}.png").write_bytes(png)


REPORT_DEPS = [
    "daily_revenue",
    "payment_summary",
    "cans_per_day",
    "unpaid_visits",
    "repeat_defaulters",
    "new_vs_returning",
    "daily_visits",
    "visits_per_hour",
    "traffic_per_hour",
    "shop_hours",
    "peak_hours",
    "customer_registry",
]


@dg.asset(
    partitions_def=daily_partitions, group_name=REPORTS, kinds={"matplotlib"}, deps=REPORT_DEPS, pool=WAREHOUSE_POOL
)
def daily_charts(
    context: dg.AssetExecutionContext, shop: ShopDataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The owner's charts for the day (trends over the 30 days ending on it), as PNGs under data/reports/charts/<day>/."""
    day = partition_day(context)
    charts = owner_charts.owner_charts(daily_chart_frames(warehouse.get(), day))
    _write_charts(shop.layout.reports_dir / "charts" / day.isoformat(), charts)
    return dg.MaterializeResult(
        metadata={"charts": len(charts), "preview": dg.MetadataValue.md(_chart_markdown(charts))}
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name=REPORTS,
    kinds={"html"},
    deps=["daily_charts", *REPORT_DEPS],
    pool=WAREHOUSE_POOL,
)
def daily_report(
    context: dg.AssetExecutionContext, shop: ShopDataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One self-contained HTML page for the day under data/reports/daily/<day>.html."""
    day = partition_day(context)
    data = daily_report_data(warehouse.get(), day)
    charts_dir = shop.layout.reports_dir / "charts" / day.isoformat()
    charts = {p.stem: p.read_bytes() for p in sorted(charts_dir.glob("*.png"))}
    path = shop.layout.reports_dir / "daily" / f"{day.isoformat()}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = Report(
        f"Daily report — {day:%a %d %b %Y}",
        "watershop: camera and till, one day",
        data.kpis,
        charts,
        data.tables,
        data.notes,
    )
    path.write_text(render_html(report, data.crops))
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)), **dict(data.kpis)})


@dg.asset(
    partitions_def=monthly_partitions,
    group_name=REPORTS,
    kinds={"html"},
    pool=WAREHOUSE_POOL,
    deps=[
        dg.AssetDep(k)
        for k in (
            "daily_revenue",
            "daily_visits",
            "new_vs_returning",
            "payment_summary",
            "cans_per_day",
            "repeat_defaulters",
            "unpaid_visits",
            "peak_hours",
        )
    ],
)
def monthly_report(
    context: dg.AssetExecutionContext, shop: ShopDataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One HTML page per month under data/reports/monthly/<YYYY-MM>.html, with the quarter so far."""
    month = date.fromisoformat(context.partition_key)
    data = monthly_report_data(warehouse.get(), month)
    charts = owner_charts.owner_charts(data.chart_frames)
    path = shop.layout.reports_dir / "monthly" / f"{month:%Y-%m}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = Report(
        f"Monthly report — {month:%B %Y}",
        "watershop: camera and till, one month",
        data.kpis,
        charts,
        data.tables,
        data.notes,
    )
    path.write_text(render_html(report, data.crops))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            **dict(data.kpis),
            "charts": dg.MetadataValue.md(_chart_markdown(charts)),
        }
    )


@dg.asset_check(
    asset="repeat_defaulters", description="Warns, naming them, when customers become repeat defaulters on the day"
)
def new_repeat_defaulters(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    day = context.run.tags.get("dagster/partition") or str(wh.query("SELECT max(day) d FROM repeat_defaulters")["d"][0])
    new = wh.query(
        """SELECT customer_id, unpaid_count, amount_owed FROM repeat_defaulters r
           WHERE day = ?::DATE AND NOT EXISTS (SELECT 1 FROM repeat_defaulters p WHERE p.day = ?::DATE - 1 AND p.customer_id = r.customer_id)""",
        [day, day],
    )
    if len(new):
        context.log.warning(
            f"new repeat defaulters on {day}: "
            + ", ".join(f"{r.customer_id} owes ₹{r.amount_owed:g}" for r in new.itertuples())
        )
    return dg.AssetCheckResult(
        passed=new.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "day": str(day),
            "new_defaulters": len(new),
            "who": dg.MetadataValue.md(new.to_markdown(index=False) if len(new) else "none"),
        },
    )


insight_assets = [
    transaction_links,
    shop_hours,
    staffing,
    footfall_forecast,
    daily_charts,
    daily_report,
    monthly_report,
]
insight_checks = [new_repeat_defaulters]
