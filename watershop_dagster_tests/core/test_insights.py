"""Linking, shop hours, staffing, forecast: each on a hand-computed fixture."""

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from watershop_dagster.core.insights.forecast import forecast_next_week, hourly_footfall
from watershop_dagster.core.insights.shop_hours import detect_shop_hours
from watershop_dagster.core.insights.staffing import (
    StaffingTarget,
    erlang_c,
    prob_wait_longer,
    staff_needed,
    staffing_table,
)
from watershop_dagster.core.till.linking import link_summary, link_transactions


def T(hms: str) -> pd.Timestamp:
    return pd.Timestamp(f"2024-05-02 {hms}")


def visits(*rows):
    return pd.DataFrame(
        [
            {"visit_id": v, "customer_id": c, "entry_time": T(a), "exit_time": T(b), "is_staff": s}
            for v, c, a, b, s in rows
        ]
    )


def sales(*rows):
    return pd.DataFrame([{"transaction_id": t, "timestamp": T(ts), "customer_id": c} for t, ts, c in rows])


def test_sale_goes_to_the_customer_at_the_counter_never_to_staff():
    v = visits(
        ("V1", "CUST_0001", "09:00:00", "09:00:30", False),
        ("V2", "STAFF_a", "08:00:00", "12:00:00", True),
        ("V3", "CUST_0002", "09:05:00", "09:05:20", False),
    )
    links = link_transactions(sales(("t1", "09:00:20", None), ("t2", "09:05:50", "L9"), ("t3", "10:30:00", None)), v)
    got = links.set_index("transaction_id")
    assert (
        got.loc["t1", "visit_id"] == "V1"
        and got.loc["t1", "customer_id"] == "CUST_0001"
        and got.loc["t1", "confidence"] == 1.0
    )
    assert got.loc["t2", "visit_id"] == "V3" and got.loc["t2", "seconds_outside_visit"] == 30.0
    assert (
        got.loc["t2", "customer_id"] == "L9" and got.loc["t2", "camera_customer_id"] == "CUST_0002"
    )  # the till's ID is kept
    assert pd.isna(got.loc["t3", "visit_id"]) and got.loc["t3", "candidates"] == 0  # nobody there: unlinked, not forced
    s = link_summary(links)
    assert s["linked"] == 2 and s["transactions"] == 3


def frames_for(times_brightness):
    return pd.DataFrame(
        [{"time": T(t), "brightness": b, "motion_score": m, "faces": f} for t, b, m, f in times_brightness]
    )


def test_shop_hours_from_the_lighting_step():
    f = frames_for(
        [
            ("06:59:50", 12, 1.0, 0),
            ("06:59:55", 12, 0.0, 0),
            ("07:00:00", 150, 0.4, 0),
            ("07:00:05", 151, 0.0, 0),
            ("12:00:00", 149, 0.2, 1),
            ("20:59:55", 150, 0.0, 0),
            ("21:00:00", 11, 0.5, 0),
            ("21:00:05", 12, 0.0, 0),
        ]
    )
    h = detect_shop_hours(f)
    assert h.method == "lighting" and h.opening == T("07:00:00") and h.closing == T("21:00:00") and h.confidence > 0.8


def test_a_few_dark_seconds_at_each_end_of_a_day_of_lit_recordings_are_the_lighting_step():
    """A DVR recording on motion: 6 s of dark shop before the lights at opening and after them at closing,
    among hundreds of lit samples (fewer than 5% of the day's frames are dark). The clerk's face is not found
    at either end; the first and last customer come much later and earlier."""
    rows = [(f"06:54:{54 + k // 2}.{5 * (k % 2)}", 27, 0.0, 0) for k in range(12)]
    rows += [(f"06:55:0{k}", 95, 1.0 if k == 0 else 0.0, 0) for k in range(6)]
    rows += [(f"{h:02d}:{m:02d}:00", 94, 0.02, 1) for h in range(8, 19) for m in range(60)]
    rows += [(f"20:46:5{4 + k}", 95, 0.0, 0) for k in range(6)]
    rows += [(f"20:47:0{k // 2}.{5 * (k % 2)}", 27, 1.0 if k == 0 else 0.0, 0) for k in range(12)]
    f = frames_for(rows)
    assert (f["brightness"] < 50).mean() < 0.05
    h = detect_shop_hours(f)
    assert (h.method, h.opening, h.closing) == ("lighting", T("06:55:00"), T("20:47:00"))
    # one dark frame (a glitch) is not the lights
    assert detect_shop_hours(frames_for(rows[11:-11])).method == "activity"


def test_shop_hours_fall_back_to_activity_without_a_lighting_step():
    f = frames_for(
        [
            ("08:00:00", 150, 1.0, 0),
            ("08:00:05", 150, 0.0, 0),
            ("08:10:00", 151, 0.02, 1),
            ("19:40:00", 150, 0.03, 0),
            ("19:50:00", 150, 0.0, 0),
        ]
    )
    h = detect_shop_hours(f)
    assert (h.method, h.opening, h.closing, h.confidence) == ("activity", T("08:10:00"), T("19:40:00"), 0.5)
    assert detect_shop_hours(f.iloc[0:0]).method == "none"


def test_erlang_c_matches_textbook_values():
    # a = 2 Erlangs, 3 servers: C = 4/9 (Kleinrock); 1 server at a < 1 is the M/M/1 rho.
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-9)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 2.5) == 1.0  # overloaded: everybody waits
    # 20 customers an hour, 2 minutes each (a = 0.667): one person keeps 90% of waits under a minute?
    p1 = prob_wait_longer(1, 20, 120, 60)
    assert p1 == pytest.approx((20 * 120 / 3600) * np.exp(-(1 - 20 * 120 / 3600) * 60 / 120))
    assert staff_needed(20, 120, StaffingTarget(60, 0.9)) == 2 and staff_needed(5, 60, StaffingTarget(60, 0.9)) == 1
    assert staff_needed(0, 60, StaffingTarget()) == 0


def test_staffing_table_measures_arrivals_and_staff_present():
    day1, day2 = date(2024, 5, 6), date(2024, 5, 13)  # two Mondays
    rows = []
    for d in (day1, day2):
        base = datetime.combine(d, datetime.min.time())
        for k in range(10):
            e = base + timedelta(hours=8, minutes=5 * k)
            rows.append(
                {
                    "day": d,
                    "customer_id": f"C{k}",
                    "entry_time": e,
                    "exit_time": e + timedelta(seconds=90),
                    "duration_seconds": 90.0,
                    "is_staff": False,
                }
            )
        rows.append(
            {
                "day": d,
                "customer_id": "STAFF_a",
                "entry_time": base + timedelta(hours=7),
                "exit_time": base + timedelta(hours=20),
                "duration_seconds": 0.0,
                "is_staff": True,
            }
        )
    table = staffing_table(pd.DataFrame(rows))
    r = table[(table.weekday == 0) & (table.hour == 8)].iloc[0]
    assert r.arrivals_per_hour == 10 and r.mean_service_s == 90 and r.staff_present == 1 and r.weeks_observed == 2
    assert r.staff_needed == staff_needed(10, 90, StaffingTarget())


def test_forecast_repeats_a_weekly_pattern_and_beats_naive_in_backtest():
    days = [date(2024, 5, 1) + timedelta(days=i) for i in range(21)]
    rows = []
    for d in days:
        n = 6 if d.weekday() == 5 else 2  # Saturdays are busy
        for k in range(n):
            e = datetime.combine(d, datetime.min.time()) + timedelta(hours=9, minutes=k)
            rows.append({"day": d, "entry_time": e, "is_staff": False})
    v = pd.DataFrame(rows)
    fc, score = forecast_next_week(v, days)
    assert len(fc) == 7 * 24
    sat = fc[(fc["day"].dt.weekday == 5) & (fc["hour"] == 9)]["forecast_visits"].item()
    mon = fc[(fc["day"].dt.weekday == 0) & (fc["hour"] == 9)]["forecast_visits"].item()
    assert (sat, mon) == (6.0, 2.0)
    assert score["mae_per_hour"] == 0.0 and score["naive_mae_per_hour"] > 0
    assert hourly_footfall(v, days[:1])["visits"].sum() == 2
