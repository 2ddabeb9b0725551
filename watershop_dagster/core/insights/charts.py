"""The owner's charts, as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import functools
import io

import pandas as pd

BLUE, ORANGE, GREEN, RED, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"


@functools.cache
def _pyplot():
    """matplotlib, imported on the first chart: importing it costs about a second, and every process that
    loads the code location (each run, each backfill worker) would pay it whether it draws or not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    _pyplot().close(fig)
    return buf.getvalue()


def _empty(ax, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def bar_chart(labels, values, title: str, ylabel: str, colour: str = BLUE, horizontal: bool = False) -> bytes:
    fig, ax = _pyplot().subplots(figsize=(6.4, 3.4))
    if len(values) == 0:
        _empty(ax, title)
        return _png(fig)
    labels = [str(x) for x in labels]
    (ax.barh if horizontal else ax.bar)(labels, values, color=colour)
    if horizontal:
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
    else:
        ax.set_ylabel(ylabel)
        if len(labels) > 12:
            ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    ax.set_title(title)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    return _png(fig)


def line_chart(x, series: dict[str, list], title: str, ylabel: str) -> bytes:
    fig, ax = _pyplot().subplots(figsize=(6.4, 3.4))
    if len(x) == 0:
        _empty(ax, title)
        return _png(fig)
    for (name, ys), colour in zip(series.items(), [BLUE, ORANGE, GREEN, RED]):
        ax.plot(list(x), ys, marker="o", label=name, color=colour)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.autofmt_xdate()
    return _png(fig)


def stacked_bars(x, series: dict[str, list], title: str, ylabel: str) -> bytes:
    fig, ax = _pyplot().subplots(figsize=(6.4, 3.4))
    if len(x) == 0:
        _empty(ax, title)
        return _png(fig)
    labels = [str(v) for v in x]
    bottom = [0] * len(labels)
    for (name, ys), colour in zip(series.items(), [BLUE, ORANGE, GREEN, RED]):
        ax.bar(labels, ys, bottom=bottom, label=name, color=colour)
        bottom = [b + y for b, y in zip(bottom, ys)]
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return _png(fig)


def owner_charts(d: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """The chart set for a report. `d` holds the frames named below (each may be empty)."""
    top = d["top_customers"]
    hourly = d["visits_per_hour"]
    trend = d["daily_trend"]
    nvr = d["new_vs_returning"]
    spend = d["spend_per_customer"]
    modes = d["payment_modes"]
    cans = d["cans_per_day"]
    unpaid = d["unpaid_trend"]
    hours = hourly[(hourly["visits"] > 0) | (hourly["transactions"] > 0)] if len(hourly) else hourly
    return {
        "top_customers": bar_chart(
            top["customer_id"], top["visits"], "Top customers by visits", "visits", horizontal=True
        ),
        "visits_per_hour": stacked_bars(
            hours["hour"],
            {"visits (camera)": list(hours["visits"]), "sales (till)": list(hours["transactions"])},
            "Footfall and sales per hour",
            "count",
        )
        if len(hours)
        else bar_chart([], [], "Footfall and sales per hour", ""),
        "daily_visit_trend": line_chart(
            trend["day"],
            {"visits": list(trend["visits"]), "customers": list(trend["customers"])},
            "Daily visits",
            "count",
        ),
        "new_vs_returning": stacked_bars(
            nvr["day"].astype(str).str[5:10],
            {"new": list(nvr["new_customers"]), "returning": list(nvr["returning_customers"])},
            "New vs returning customers",
            "customers",
        ),
        "spend_per_customer": bar_chart(
            spend["customer_id"], spend["billed_amount"], "Spend per customer (₹)", "₹", GREEN, horizontal=True
        ),
        "payment_modes": bar_chart(modes["payment_mode"], modes["amount"], "Money by payment mode (₹)", "₹", ORANGE),
        "cans_per_day": stacked_bars(*_cans_by_size(cans), "Cans sold per day", "cans"),
        "unpaid_over_time": line_chart(
            unpaid["day"],
            {"unpaid ₹": list(unpaid["unpaid_amount"]), "walk-outs": list(unpaid["walkouts"])},
            "Unpaid over time",
            "₹ / visits",
        ),
    }


def _cans_by_size(cans: pd.DataFrame) -> tuple[list[str], dict[str, list]]:
    if cans.empty:
        return [], {}
    p = cans.pivot_table(index="day", columns="can_size", values="cans", aggfunc="sum", fill_value=0).sort_index()
    return [str(d)[5:10] for d in p.index], {str(c): list(p[c]) for c in p.columns}
