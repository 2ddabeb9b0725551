"""A simulated counter day for measuring sales linking: one server, customers served first come first served.

Not product code: `bench/linking_bench.py` and the linking tests build days with it, so they know who really
paid for each sale. A day has a quiet trickle and two peaks where the queue grows to several people; each
customer is served in arrival order, pays at the end of service (the till rings, with a little jitter) and
leaves shortly after. The camera sees a visit from a little after entry to a little before leaving; now and
then it misses a customer (the sale then belongs to no visit). Some visits buy nothing, a few buy twice
(a second purchase much later in a long stay), some sales are unpaid. The till clock runs `clock_offset_s`
behind the camera clock: camera time = till time + offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CounterRules:
    open_hour: float = 7.0
    close_hour: float = 21.0
    base_rate_per_hour: float = 14.0
    # (start hour, end hour, arrivals per hour): the peaks bring the server (~60/h) near its capacity.
    peaks: tuple[tuple[float, float, float], ...] = ((8.0, 9.0, 50.0), (18.0, 19.0, 54.0))
    service_s: tuple[float, float] = (35.0, 85.0)  # uniform service time
    pay_jitter_s: float = 4.0  # till rung this much before/after the end of service (normal sd)
    leave_after_pay_s: tuple[float, float] = (8.0, 30.0)  # uniform: picks up the cans and goes
    camera_lag_s: float = 4.0  # first face up to this late, last face up to this early (uniform)
    no_purchase_share: float = 0.08  # visits that buy nothing (asked, browsed)
    second_purchase_share: float = 0.03  # visits that buy again after staying a while
    missed_by_camera_share: float = 0.03  # customers the camera never saw
    unpaid_share: float = 0.06
    people: int = 120  # the neighbourhood: the same people come back across days
    ledger_share: float = 0.3  # people with a till ledger account (customer_id L<n>)


@dataclass
class CounterDay:
    """What the linker sees (`transactions` on the till clock, `visits`) and the truth (`truth`: per sale the
    true visit_id or None, the person, and how many customers were present when the till rang)."""

    transactions: pd.DataFrame
    visits: pd.DataFrame
    truth: pd.DataFrame
    clock_offset_s: float
    served: list[dict] = field(default_factory=list)


def _arrivals(rng: np.random.Generator, rules: CounterRules, day: pd.Timestamp) -> list[pd.Timestamp]:
    """Non-homogeneous Poisson arrivals by thinning: base rate all day, higher in the peaks."""
    top = max([rules.base_rate_per_hour] + [p[2] for p in rules.peaks])
    t = rules.open_hour
    out: list[pd.Timestamp] = []
    while True:
        t += rng.exponential(1.0 / top)
        if t >= rules.close_hour - 0.1:
            return out
        rate = max([rules.base_rate_per_hour] + [p[2] for p in rules.peaks if p[0] <= t < p[1]])
        if rng.random() < rate / top:
            out.append(day + pd.Timedelta(hours=t))


def simulate_counter_day(
    seed: int, clock_offset_s: float = 0.0, rules: CounterRules | None = None, day: str = "2024-05-02"
) -> CounterDay:
    """One day at the counter; the same seed gives the same day."""
    rules = rules or CounterRules()
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(day)
    ledger = {p: f"L{p:03d}" for p in range(rules.people) if (p * 7919) % 100 < rules.ledger_share * 100}
    served, server_free = [], start
    for n, arrival in enumerate(_arrivals(rng, rules, start)):
        person = int(rng.integers(rules.people))
        service_start = max(arrival, server_free)
        pay = service_start + pd.Timedelta(seconds=rng.uniform(*rules.service_s))
        server_free = pay
        buys = rng.random() >= rules.no_purchase_share
        sale_times = [pay + pd.Timedelta(seconds=rng.normal(0, rules.pay_jitter_s))] if buys else []
        leave = pay + pd.Timedelta(seconds=rng.uniform(*rules.leave_after_pay_s))
        if buys and rng.random() < rules.second_purchase_share:
            # Stays on (talks, waits for a second can to be filled) and buys again a few minutes later.
            second = leave + pd.Timedelta(seconds=rng.uniform(180, 420))
            sale_times.append(second)
            leave = second + pd.Timedelta(seconds=rng.uniform(*rules.leave_after_pay_s))
        served.append(
            {
                "visit_id": f"V{n:04d}",
                "person": f"CUST_{person:04d}",
                "ledger_id": ledger.get(person),
                "entry_time": arrival + pd.Timedelta(seconds=rng.uniform(0, rules.camera_lag_s)),
                "exit_time": leave - pd.Timedelta(seconds=rng.uniform(0, rules.camera_lag_s)),
                "seen": rng.random() >= rules.missed_by_camera_share,
                "sale_times": sale_times,
            }
        )
    staff = {"visit_id": "S0001", "customer_id": "STAFF_ravi", "entry_time": start + pd.Timedelta(hours=6.9)}
    staff.update({"exit_time": start + pd.Timedelta(hours=21.1), "is_staff": True})
    visits = pd.DataFrame(
        [
            {
                "visit_id": v["visit_id"],
                "customer_id": v["person"],
                "entry_time": v["entry_time"],
                "exit_time": v["exit_time"],
                "is_staff": False,
            }
            for v in served
            if v["seen"]
        ]
        + [staff]
    )
    sales, truth = [], []
    for v in served:
        for k, ts in enumerate(v["sale_times"]):
            tid = f"T{v['visit_id'][1:]}{'b' if k else ''}"
            present = sum(1 for o in served if o["seen"] and o["entry_time"] <= ts <= o["exit_time"])
            unpaid = rng.random() < rules.unpaid_share
            sales.append(
                {
                    "transaction_id": tid,
                    # The till's clock is behind the camera's by the offset.
                    "timestamp": ts - pd.Timedelta(seconds=clock_offset_s),
                    "customer_id": v["ledger_id"],
                    "payment_status": "Unpaid" if unpaid else "Paid",
                }
            )
            truth.append(
                {
                    "transaction_id": tid,
                    "visit_id": v["visit_id"] if v["seen"] else None,
                    "person": v["person"],
                    "present": present,
                    "second_purchase": k > 0,
                }
            )
    order = np.argsort([s["timestamp"] for s in sales], kind="stable")
    transactions = pd.DataFrame([sales[i] for i in order])
    return CounterDay(transactions, visits, pd.DataFrame([truth[i] for i in order]), clock_offset_s, served)


@dataclass(frozen=True)
class QueueRules:
    """Busy days as the shop simulator plans them (`sim/shop.py`, `ShopSimulator._plan_groups`): customers come
    in groups of 1..max_waiting a few seconds apart, are served first come, first served (at the counter
    `walk_s` after arriving, `service_s` each), pay at the end of service and leave `leave_after_pay_s` later.
    A walk-out is served like anyone else and buys nothing."""

    groups: int = 40
    max_waiting: int = 4
    arrival_gap_s: tuple[float, float] = (3.0, 8.0)
    walk_s: float = 4.0
    service_s: tuple[float, float] = (8.0, 14.0)
    leave_after_pay_s: tuple[float, float] = CounterRules.leave_after_pay_s
    walkout_share: float = 0.05
    camera_lag_sd_s: float = 0.6  # the camera's entry late and exit early by |N(0, sd)|
    quiet_s: tuple[float, float] = (60.0, 1200.0)  # between one group's last exit and the next group


def simulate_queue_day(seed: int, rules: QueueRules | None = None, day: str = "2024-05-02") -> CounterDay:
    """One busy day of queues; truth also says, per sale, whether a walk-out was in its queue and how many
    customers the queue had (`queue`)."""
    rules = rules or QueueRules()
    rng = np.random.default_rng(seed)
    t = pd.Timestamp(day) + pd.Timedelta(hours=8)
    visits, sales, truth, n = [], [], [], 0
    for _ in range(rules.groups):
        t += pd.Timedelta(seconds=rng.uniform(*rules.quiet_s))
        size = int(rng.integers(1, rules.max_waiting + 1))
        arrivals = [t]
        for _k in range(size - 1):
            arrivals.append(arrivals[-1] + pd.Timedelta(seconds=rng.uniform(*rules.arrival_gap_s)))
        server_free, members = t, []
        for arrival in arrivals:
            pay = max(arrival + pd.Timedelta(seconds=rules.walk_s), server_free)
            pay += pd.Timedelta(seconds=rng.uniform(*rules.service_s))
            server_free = pay
            leave = pay + pd.Timedelta(seconds=rng.uniform(*rules.leave_after_pay_s))
            lag_in, lag_out = np.abs(rng.normal(0, rules.camera_lag_sd_s, 2))
            visit_id = f"V{n:04d}"
            n += 1
            visits.append(
                {
                    "visit_id": visit_id,
                    "customer_id": f"CUST_{visit_id}",
                    "entry_time": arrival + pd.Timedelta(seconds=lag_in),
                    "exit_time": leave - pd.Timedelta(seconds=lag_out),
                    "is_staff": False,
                }
            )
            members.append((visit_id, pay, rng.random() < rules.walkout_share))
        walkout = any(w for _v, _p, w in members)
        for visit_id, pay, walked_out in members:
            if walked_out:
                continue
            tid = f"T{visit_id[1:]}"
            sales.append(
                {"transaction_id": tid, "timestamp": pay.floor("s"), "customer_id": None, "payment_status": "Paid"}
            )
            truth.append(
                {
                    "transaction_id": tid,
                    "visit_id": visit_id,
                    "person": f"CUST_{visit_id}",
                    "present": size,
                    "queue": size,
                    "walkout_in_queue": walkout,
                    "second_purchase": False,
                }
            )
        t = max(v["exit_time"] for v in visits[-size:]) + pd.Timedelta(seconds=20)
    return CounterDay(pd.DataFrame(sales), pd.DataFrame(visits), pd.DataFrame(truth), 0.0)
