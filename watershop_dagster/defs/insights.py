"""What the owner acts on: sales linked to visits, shop hours, staffing, the forecast, charts and reports."""

import base64
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from watershop_dagster.core.insights import charts as owner_charts
from watershop_dagster.core.insights.forecast import forecast_next_week
from watershop_dagster.core.insights.report import Report, render_html
from watershop_dagster.core.insights.report_data import (
    CHART_TABLES,
    DAILY_REPORT_TABLES,
    MONTHLY_REPORT_TABLES,
    TREND_DAYS,
    daily_chart_frames,
    daily_report_data,
    monthly_report_data,
)
from watershop_dagster.core.insights.shop_hours import detect_shop_hours
from watershop_dagster.core.insights.staffing import StaffingTarget, staffing_table
from watershop_dagster.core.storage.schemas import SCHEMAS
from watershop_dagster.core.till.linking import LinkRules, link_stored_day, link_summary
from watershop_dagster.defs.partitions import shop_month_partitions, shop_partitions
from watershop_dagster.defs.resources import ShopDataResource
from watershop_dagster.defs.warehouse_asset import Read, TableReader, Write, Written, warehouse_asset

INSIGHTS, REPORTS = "insights", "reports"


class LinkConfig(dg.Config):
    tolerance_s: float = Field(
        default=LinkRules.tolerance_s, description="a sale this far outside a visit can still belong to it"
    )
    ambiguous_below: float = Field(
        default=LinkRules.ambiguous_below, description="links less sure than this are flagged ambiguous"
    )
    pay_to_exit_s: float = Field(
        default=LinkRules.pay_to_exit_s,
        description="this shop's habit: seconds from the till ringing to the payer leaving; the estimated clock "
        "offset puts the payers' gaps around it, so a shop whose customers linger longer sets it higher",
    )
    walk_to_counter_s: float = Field(
        default=LinkRules.walk_to_counter_s,
        description="seconds from coming in at the door to being served at a free counter, less the service: on "
        "a day with a queue the estimated clock offset puts such payers one walk and one service after coming in",
    )
    estimate_clock: bool = Field(
        default=LinkRules.estimate_clock, description="estimate the till/camera clock offset from the day's data"
    )
    min_clock_confidence: float = Field(
        default=LinkRules.min_clock_confidence, description="an estimated offset weaker than this is not applied"
    )
    weight_till_named: float = Field(
        default=LinkRules.weight_till_named,
        description="how much the till's ledger account counts when it names a customer in the shop (0: not at "
        "all, for a shop whose accounts are shared by families)",
    )
    weight_pace: float = Field(
        default=LinkRules.weight_pace,
        description="how much the counter's pace (read from the day: seconds per customer served while a queue "
        "waits) counts in telling who paid; it finds the customer at the head of a queue who bought nothing "
        "(0: off, for a shop with several tills serving at once)",
    )
    min_clock_sales: int = Field(
        default=LinkRules.min_clock_sales,
        description="a day with fewer sales than this gets no clock estimate of its own",
    )

    def rules(self) -> LinkRules:
        return LinkRules(
            tolerance_s=self.tolerance_s,
            ambiguous_below=self.ambiguous_below,
            pay_to_exit_s=self.pay_to_exit_s,
            walk_to_counter_s=self.walk_to_counter_s,
            estimate_clock=self.estimate_clock,
            min_clock_confidence=self.min_clock_confidence,
            weight_pace=self.weight_pace,
            min_clock_sales=self.min_clock_sales,
            weight_till_named=self.weight_till_named,
        )


@warehouse_asset(
    writes=[
        Write("transaction_links", SCHEMAS["transaction_links"].description),
        Write("clock_offsets", SCHEMAS["clock_offsets"].description),
        Write("counter_pace", SCHEMAS["counter_pace"].description),
    ],
    # Whether the camera agrees with the till's ledger IDs is judged on earlier days' links only.
    reads=[
        Read.day("transactions"),
        Read.day("visit_log"),
        Read.before("transaction_links"),
        Read.before("clock_offsets"),  # a day too unclear for its clock alone starts from the last one's
        Read.before("counter_pace"),  # the counter's pace: a quiet day leans on the days before
        Read.day("customer_registry"),  # the owner's labels: a camera ID is a till ledger account
    ],
    group=INSIGHTS,
)
def transaction_links(context: dg.AssetExecutionContext, tables: TableReader, config: LinkConfig) -> Written:
    """The day's sales assigned to the customer visits at the counter, all at once (one sale per visit unless
    the evidence says otherwise, first come first served, the till's ledger account where it names a customer
    in the shop), with the till/camera clock offset estimated from the day itself."""
    links, offset, pace_today = link_stored_day(
        tables.read("transactions", 'transaction_id, "timestamp", customer_id'),
        tables.read("visit_log"),
        config.rules(),
        tables.read("transaction_links", 'transaction_id, "timestamp", till_customer_id, camera_customer_id'),
        tables.read("clock_offsets", "day, offset_seconds, confidence, sales_used, method"),
        tables.read("counter_pace", "day, busy_gaps_s, first_sale_s"),
        tables.read("customer_registry", "customer_id, label"),
    )
    context.log.info(
        f"till clock offset: {offset.offset_seconds if offset.offset_seconds is not None else 'unknown'} s "
        f"({offset.method}, confidence {offset.confidence:.2f}, {offset.sales_used} sales)"
    )
    return Written(
        rows={
            "transaction_links": links,
            "clock_offsets": pd.DataFrame([offset.as_row()]),
            "counter_pace": pd.DataFrame([pace_today]),
        },
        metadata={
            "transaction_links": link_summary(links),
            "clock_offsets": {"offset_seconds": offset.offset_seconds, "method": offset.method},
            "counter_pace": {
                k: pace_today[k] for k in ("busy_gaps", "pace_s", "free_counter_sales", "arrival_to_sale_s")
            },
        },
    )


@warehouse_asset(
    writes=[Write("shop_hours", SCHEMAS["shop_hours"].description)],
    reads=[Read.day("frames"), Read.day("transactions")],
    group=INSIGHTS,
)
def shop_hours(context: dg.AssetExecutionContext, tables: TableReader) -> Written:
    """When the shop really opened and closed (lighting step, else first and last activity), beside the first and
    last sale."""
    hours = detect_shop_hours(tables.read("frames", "time, brightness, motion_score, faces"))
    sales = tables.read("transactions", '"timestamp"')
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
                "open_hours": (
                    round((hours.closing - hours.opening).total_seconds() / 3600, 2)
                    if hours.opening is not None and hours.closing is not None
                    else None
                ),
            }
        ]
    )
    times = ("open_time", "close_time", "first_sale", "last_sale")
    row = row.astype(dict.fromkeys(times, "datetime64[us]"))

    def clock(t) -> str:
        return t.strftime("%H:%M:%S") if t is not None and not pd.isna(t) else "unknown"

    return Written(
        rows={"shop_hours": row},
        metadata={
            "shop_hours": {
                "opened": clock(hours.opening),
                "closed": clock(hours.closing),
                "method": hours.method,
                "confidence": hours.confidence,
                "first_sale": clock(first_sale),
                "last_sale": clock(last_sale),
            }
        },
    )


class StaffingConfig(dg.Config):
    max_wait_s: float = Field(
        default=StaffingTarget.max_wait_s, description="a customer should wait no longer than this"
    )
    service_level: float = Field(
        default=StaffingTarget.service_level, description="share of customers served within max_wait_s"
    )


@warehouse_asset(
    writes=[Write("staffing", "Per hour of the week: staff needed (Erlang C) next to staff present.")],
    reads=[Read.all("visit_log")],
    group=INSIGHTS,
    partitions_def=shop_partitions,
)
def staffing(context: dg.AssetExecutionContext, tables: TableReader, config: StaffingConfig) -> Written:
    """Per hour of the week: staff needed (Erlang C on measured arrivals and visit durations) next to staff present."""
    table = staffing_table(tables.read("visit_log"), StaffingTarget(config.max_wait_s, config.service_level))
    short = table[table["staff_needed"] > table["staff_present"]] if len(table) else table
    columns = ["weekday_name", "hour", "arrivals_per_hour", "staff_needed", "staff_present"]
    return Written(
        rows={"staffing": table},
        metadata={
            "staffing": {
                "hours_understaffed": len(short),
                "understaffed": dg.MetadataValue.md(short[columns].to_markdown(index=False) if len(short) else "none"),
            }
        },
    )


@warehouse_asset(
    writes=[Write("footfall_forecast", "Footfall for the next 7 days by hour, with its backtest error.")],
    # frames: the days the camera recorded, so a recorded day with no visitors counts as a zero.
    reads=[Read.all("visit_log"), Read.all("frames")],
    group=INSIGHTS,
    partitions_def=shop_partitions,
)
def footfall_forecast(context: dg.AssetExecutionContext, tables: TableReader) -> Written:
    """Footfall for the next 7 days by hour (seasonal baseline), with its backtest error on the last 7 observed
    days."""
    visits = tables.read("visit_log")
    days = sorted({pd.Timestamp(d).date() for d in tables.read("frames", "DISTINCT day")["day"]})
    fc, score = forecast_next_week(visits, days)
    return Written(
        rows={"footfall_forecast": fc.assign(**dict(score.items()))},
        metadata={"footfall_forecast": {k: float(v) for k, v in score.items()}},
    )


def _chart_markdown(charts: dict[str, bytes]) -> str:
    return "\n\n".join(
        f"**{n.replace('_', ' ')}**\n\n![{n}](data:image/png;base64,{base64.b64encode(p).decode()})"
        for n, p in charts.items()
    )


def _write_charts(folder: Path, charts: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in charts.items():
        (folder / f"{name}.png").write_bytes(png)


@warehouse_asset(
    writes=[
        Write("daily_charts", "The owner's charts for the day, as PNGs under data/reports/charts/{day}/.", table=False)
    ],
    reads=[Read.window(t, TREND_DAYS) for t in CHART_TABLES],
    group=REPORTS,
    kinds={"matplotlib"},
)
def daily_charts(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """The owner's charts for the day (trends over the 30 days ending on it), as PNGs under
    data/reports/charts/{day}/."""
    day = tables.day
    assert day is not None
    charts = owner_charts.owner_charts(daily_chart_frames(tables, day))
    _write_charts(shop.layout_for(tables.shop).reports_dir / "charts" / day.isoformat(), charts)
    return Written(
        metadata={"daily_charts": {"charts": len(charts), "preview": dg.MetadataValue.md(_chart_markdown(charts))}}
    )


@warehouse_asset(
    writes=[
        Write("daily_report", "One self-contained HTML page for the day: data/reports/daily/{day}.html.", table=False)
    ],
    reads=[Read.files_of("daily_charts"), *(Read.day(t) for t in DAILY_REPORT_TABLES)],
    group=REPORTS,
    kinds={"html"},
)
def daily_report(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """One self-contained HTML page for the day under data/reports/daily/{day}.html, with the day's charts."""
    day = tables.day
    assert day is not None
    data = daily_report_data(tables, day)
    charts_dir = shop.layout_for(tables.shop).reports_dir / "charts" / day.isoformat()
    charts = {p.stem: p.read_bytes() for p in sorted(charts_dir.glob("*.png"))}
    path = shop.layout_for(tables.shop).reports_dir / "daily" / f"{day.isoformat()}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"Daily report — {day:%a %d %b %Y}"
    report = Report(title, "watershop: camera and till, one day", data.kpis, charts, data.tables, data.notes)
    path.write_text(render_html(report, data.crops))
    return Written(metadata={"daily_report": {"path": dg.MetadataValue.path(str(path)), **dict(data.kpis)}})


@warehouse_asset(
    writes=[Write("monthly_report", "One HTML page per month: data/reports/monthly/{YYYY-MM}.html.", table=False)],
    # The month's days, and the quarter so far before it: every day of these tables is in reach.
    reads=[Read.all(t) for t in MONTHLY_REPORT_TABLES],
    group=REPORTS,
    partitions_def=shop_month_partitions,
    kinds={"html"},
)
def monthly_report(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """One HTML page per month under data/reports/monthly/{YYYY-MM}.html, with the quarter so far."""
    month = tables.day
    assert month is not None
    data = monthly_report_data(tables, month)
    charts = owner_charts.owner_charts(data.chart_frames)
    path = shop.layout_for(tables.shop).reports_dir / "monthly" / f"{month:%Y-%m}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"Monthly report — {month:%B %Y}"
    report = Report(title, "watershop: camera and till, one month", data.kpis, charts, data.tables, data.notes)
    path.write_text(render_html(report, data.crops))
    return Written(
        metadata={
            "monthly_report": {
                "path": dg.MetadataValue.path(str(path)),
                **dict(data.kpis),
                "charts": dg.MetadataValue.md(_chart_markdown(charts)),
            }
        }
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
