"""Footfall for the next 7 days, by hour: a seasonal baseline with its backtest error.

The baseline for a weekday and hour is the mean footfall of the same weekday and hour over the last
`weeks` weeks that were observed; where a weekday has not been seen yet, the mean of that hour over all
days. The backtest forecasts the last observed 7 days from the days before them and reports the mean
absolute error per hour, next to that of the naive forecast (the same hour yesterday) for scale.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd


def hourly_footfall(visits: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """Customer arrivals per day and hour, zeros included, for the given days."""
    grid = pd.MultiIndex.from_product([pd.to_datetime(days), range(24)], names=["day", "hour"])
    if visits.empty:
        return pd.DataFrame(index=grid, data={"visits": 0}).reset_index()
    v = visits[~visits["is_staff"].astype(bool)]
    counts = v.groupby([pd.to_datetime(v["day"]), pd.to_datetime(v["entry_time"]).dt.hour]).size()
    counts.index.names = ["day", "hour"]
    return counts.reindex(grid, fill_value=0).rename("visits").reset_index()


def seasonal_baseline(history: pd.DataFrame, target_days: list[date], weeks: int = 4) -> pd.DataFrame:
    h = history.copy()
    h["weekday"] = h["day"].dt.weekday
    rows = []
    for d in target_days:
        wd = pd.Timestamp(d).weekday()
        same = h[h["weekday"] == wd]
        recent_days = sorted(same["day"].unique())[-weeks:]
        src = same[same["day"].isin(recent_days)] if len(recent_days) else h
        means = src.groupby("hour")["visits"].mean().reindex(range(24), fill_value=0.0)
        for hour in range(24):
            rows.append(
                {
                    "day": pd.Timestamp(d),
                    "hour": hour,
                    "forecast_visits": round(float(means[hour]), 3),
                    "basis": "same weekday" if len(recent_days) else "all days",
                }
            )
    return pd.DataFrame(rows)


def backtest(footfall: pd.DataFrame, horizon: int = 7, weeks: int = 4) -> dict[str, float]:
    days = sorted(footfall["day"].unique())
    if len(days) < horizon + 1:
        return {"backtest_days": 0, "mae_per_hour": float("nan"), "naive_mae_per_hour": float("nan")}
    test_days, train = days[-horizon:], footfall[footfall["day"].isin(days[:-horizon])]
    fc = seasonal_baseline(train, [pd.Timestamp(d).date() for d in test_days], weeks)
    actual = footfall[footfall["day"].isin(test_days)].merge(fc, on=["day", "hour"])
    mae = float(np.abs(actual["visits"] - actual["forecast_visits"]).mean())
    prev = footfall.assign(day=footfall["day"] + pd.Timedelta(days=1)).rename(columns={"visits": "naive"})
    naive = footfall[footfall["day"].isin(test_days)].merge(prev, on=["day", "hour"])
    naive_mae = float(np.abs(naive["visits"] - naive["naive"]).mean()) if len(naive) else float("nan")
    return {"backtest_days": horizon, "mae_per_hour": round(mae, 4), "naive_mae_per_hour": round(naive_mae, 4)}


def forecast_next_week(
    visits: pd.DataFrame, observed_days: list[date], start: date | None = None, weeks: int = 4
) -> tuple[pd.DataFrame, dict]:
    if not observed_days:
        return pd.DataFrame(columns=["day", "hour", "forecast_visits", "basis"]), {"backtest_days": 0}
    footfall = hourly_footfall(visits, observed_days)
    start = start or max(observed_days) + timedelta(days=1)
    fc = seasonal_baseline(footfall, [start + timedelta(days=i) for i in range(7)], weeks)
    return fc, backtest(footfall, 7, weeks)
