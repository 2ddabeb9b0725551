"""How many staff each hour of the week needs: Erlang C on measured arrivals and service times.

Customers arrive at rate lambda per hour (from the visit log) and each takes S seconds of a staff member's
time (measured visit durations). With c staff serving, the chance a customer waits longer than T seconds is
P(wait > T) = C(c, a) * exp(-(c - a) * T / S), a = lambda * S / 3600 (Erlang C). The staff needed is the
smallest c for which that chance is at most 1 - service_level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class StaffingTarget:
    max_wait_s: float = 60.0
    service_level: float = 0.9  # share of customers served within max_wait_s
    max_staff: int = 10


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arriving customer has to wait (load a = lambda * S, in Erlangs)."""
    if load <= 0:
        return 0.0
    if servers <= load:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    last = term * load / servers
    top = last * servers / (servers - load)
    return top / (total + top)


def prob_wait_longer(servers: int, arrivals_per_hour: float, service_s: float, wait_s: float) -> float:
    load = arrivals_per_hour * service_s / 3600.0
    if servers <= load:
        return 1.0
    return erlang_c(servers, load) * math.exp(-(servers - load) * wait_s / service_s)


def staff_needed(arrivals_per_hour: float, service_s: float, target: StaffingTarget) -> int:
    if arrivals_per_hour <= 0 or service_s <= 0:
        return 0
    for c in range(1, target.max_staff + 1):
        if prob_wait_longer(c, arrivals_per_hour, service_s, target.max_wait_s) <= 1 - target.service_level:
            return c
    return target.max_staff


def staffing_table(visits: pd.DataFrame, target: StaffingTarget | None = None) -> pd.DataFrame:
    """`visits`: day, entry_time, exit_time, duration_seconds, is_staff (all days). One row per weekday and
    hour that saw customers or staff."""
    target = target or StaffingTarget()
    cols = [
        "weekday",
        "weekday_name",
        "hour",
        "weeks_observed",
        "arrivals_per_hour",
        "mean_service_s",
        "staff_needed",
        "staff_present",
        "p_wait_over_target_with_present_staff",
    ]
    if visits.empty:
        return pd.DataFrame(columns=cols)
    v = visits.copy()
    v["entry_time"] = pd.to_datetime(v["entry_time"])
    v["exit_time"] = pd.to_datetime(v["exit_time"])
    v["day"] = pd.to_datetime(v["day"])
    days = v.groupby(v["day"].dt.weekday)["day"].nunique()  # how many of each weekday were observed
    cust = v[~v["is_staff"].astype(bool)]
    staff = v[v["is_staff"].astype(bool)]
    rows = []
    for (wd, hour), g in cust.groupby([cust["entry_time"].dt.weekday, cust["entry_time"].dt.hour]):
        n_days = int(days.get(wd, 1))
        lam = len(g) / n_days
        service = float(g["duration_seconds"].clip(lower=1).mean())
        present = _staff_present(staff, wd, hour, n_days)
        need = staff_needed(lam, service, target)
        p = prob_wait_longer(max(present, 0), lam, service, target.max_wait_s) if present >= 1 else 1.0
        rows.append(
            {
                "weekday": wd,
                "weekday_name": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][wd],
                "hour": hour,
                "weeks_observed": n_days,
                "arrivals_per_hour": round(lam, 3),
                "mean_service_s": round(service, 1),
                "staff_needed": need,
                "staff_present": present,
                "p_wait_over_target_with_present_staff": round(p, 4),
            }
        )
    return pd.DataFrame(rows, columns=cols).sort_values(["weekday", "hour"]).reset_index(drop=True)


def _staff_present(staff: pd.DataFrame, weekday: int, hour: int, n_days: int) -> int:
    """Distinct staff seen during that hour, averaged over the observed days (rounded)."""
    if staff.empty:
        return 0
    s = staff[staff["day"].dt.weekday == weekday]
    per_day = []
    for day, g in s.groupby("day"):
        start = day + pd.Timedelta(hours=hour)
        end = start + pd.Timedelta(hours=1)
        per_day.append(g[(g["entry_time"] < end) & (g["exit_time"] >= start)]["customer_id"].nunique())
    return int(round(sum(per_day) / max(n_days, 1))) if per_day else 0
