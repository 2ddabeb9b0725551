"""A synthetic shop: who comes when, what they buy, whether they pay.

One plan per day drives both the till export and the footage (sim/scene.py), so the two agree the way a
real shop's do, and the plan is written out as ground truth for evaluation. Hours run 07:00-21:00 with a
morning and an evening peak; a few regulars come most days and keep a ledger account at the till; some
customers take cans without paying; a couple of malformed till rows exercise the rejects path.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from watershop_dagster.core.till.records import write_till_csv
from watershop_dagster.sim.counter import CounterRules

OPEN, CLOSE = time(7, 0), time(21, 0)
LEAVE_AFTER_PAY_S = CounterRules.leave_after_pay_s  # busy days: seconds from paying to leaving (uniform)
# Relative arrival intensity per hour 7..20: morning peak 8-9, evening peak 18-19.
HOURLY_WEIGHT = {
    7: 1.2,
    8: 2.5,
    9: 2.0,
    10: 1.0,
    11: 0.8,
    12: 0.6,
    13: 0.5,
    14: 0.5,
    15: 0.6,
    16: 0.8,
    17: 1.4,
    18: 2.4,
    19: 2.0,
    20: 1.0,
}


@dataclass(frozen=True)
class Person:
    name: str
    images: tuple[str, ...]  # face photos; a visit uses one of them
    regular: bool = False
    ledger_id: str | None = None  # regulars' account at the till


@dataclass
class Sale:
    transaction_id: str
    timestamp: datetime
    can_size: str
    number_of_cans: int
    amount: float
    payment_mode: str
    payment_status: str
    customer_id: str | None


@dataclass
class PlannedVisit:
    person: str
    entry: datetime
    exit: datetime
    image: str
    is_staff: bool = False
    sale: Sale | None = None
    faceless: bool = False  # never shows a face (back to the camera, cap): a body with the back of a head
    slot: int = 0  # where at the counter they wait (0: in front of the till; busy days use 1, 2, 3 beside it)


@dataclass
class DayPlan:
    day: date
    visits: list[PlannedVisit] = field(default_factory=list)
    opening: datetime | None = None
    closing: datetime | None = None

    @property
    def sales(self) -> list[Sale]:
        return sorted((v.sale for v in self.visits if v.sale), key=lambda s: s.timestamp)


@dataclass
class ShopSimulator:
    customers: list[Person]
    staff: list[Person]
    seed: int = 7
    visits_per_day: int = 16
    unpaid_share: float = 0.08
    walkout_share: float = 0.05
    dwell_seconds: tuple[int, int] = (12, 30)
    newcomers_per_day: int = 2
    faceless_share: float = 0.0  # share of customer visits that never show a face
    max_waiting: int = 1  # up to this many customers at the counter at once (1: one at a time)
    staff_photo_per_day: bool = False  # staff drawn from a different photo each day (their images in turn)
    prices: dict = field(default_factory=lambda: {"10L": 10.0, "20L": 20.0})
    # When the shutter goes up and down (each day a few minutes either way). A shorter day packs the same
    # visits_per_day into fewer hours: evaluation days recorded continuously stay cheap to draw.
    hours: tuple[time, time] = (OPEN, CLOSE)

    def plan_day(self, day: date, day_index: int = 0) -> DayPlan:
        rng = random.Random(f"{self.seed}/{day.isoformat()}")
        plan = DayPlan(day)
        plan.opening = datetime.combine(day, self.hours[0]) + timedelta(minutes=rng.randint(-10, 15))
        plan.closing = datetime.combine(day, self.hours[1]) + timedelta(minutes=rng.randint(-15, 10))
        # People who may come today: regulars always, others appear as the days go on (new customers).
        pool = [p for p in self.customers if p.regular]
        others = [p for p in self.customers if not p.regular]
        newcomers = others[: min(len(others), self.newcomers_per_day * (day_index + 1))]
        pool += newcomers
        weights = [4.0 if p.regular else 1.0 for p in pool]
        first, last = self.hours[0].hour, max(self.hours[1].hour, self.hours[0].hour + 1)
        hours = [h for h in HOURLY_WEIGHT if first <= h < last]
        n = max(1, int(rng.gauss(self.visits_per_day, self.visits_per_day * 0.15)))
        if self.max_waiting > 1:
            self._plan_groups(plan, rng, pool, weights, hours, n)
        else:
            self._plan_singles(plan, rng, pool, weights, hours, n)
        plan.visits.sort(key=lambda v: v.entry)
        # Separate streams: the faceless draw and the staff photo leave the rest of the plan as it was.
        look = random.Random(f"{self.seed}/{day.isoformat()}/faceless")
        for v in plan.visits:
            v.faceless = look.random() < self.faceless_share
        for k, s in enumerate(self.staff):
            image = s.images[day_index % len(s.images)] if self.staff_photo_per_day else s.images[0]
            # A second staff member is the evening's helper: in from the middle of the open hours to closing.
            start = plan.opening if k == 0 else plan.opening + (plan.closing - plan.opening) / 2
            plan.visits.append(PlannedVisit(s.name, start, plan.closing, image, is_staff=True))
        return plan

    def _plan_singles(self, plan, rng, pool, weights, hours, n) -> None:
        day = plan.day
        taken: list[tuple[datetime, datetime]] = []
        counter = 0
        for _ in range(n * 3):
            if len(plan.visits) >= n:
                break
            person = rng.choices(pool, weights)[0]
            entry = self._draw_start(rng, plan, hours, 3599)
            hour = entry.hour
            assert plan.opening is not None and plan.closing is not None
            entry = max(entry, plan.opening + timedelta(minutes=2))
            exit_ = entry + timedelta(seconds=rng.randint(*self.dwell_seconds))
            if exit_ > plan.closing - timedelta(minutes=2):
                continue
            # The counter serves one customer at a time: keep visits apart so each sale has one owner.
            if any(entry < b + timedelta(seconds=20) and exit_ > a - timedelta(seconds=20) for a, b in taken):
                continue
            if any(v.person == person.name and v.entry.hour == hour for v in plan.visits):
                continue
            taken.append((entry, exit_))
            visit = PlannedVisit(person.name, entry, exit_, rng.choice(person.images))
            if rng.random() >= self.walkout_share:
                counter += 1
                visit.sale = self._sale(rng, day, counter, person, entry, exit_)
            plan.visits.append(visit)

    def _plan_groups(self, plan, rng, pool, weights, hours, n) -> None:
        """Busy days: customers come in groups of 1..max_waiting a few seconds apart and are served first come,
        first served; each pays at the end of their service (8-14 s) and leaves 8-30 s later (picks up the
        cans and goes: the counter model of sim/counter.py, whose typical pay-to-exit gap the till linking
        assumes), so up to max_waiting customers wait at the counter at once, each at their own place."""
        day = plan.day
        assert plan.opening is not None and plan.closing is not None
        taken: list[tuple[datetime, datetime]] = []
        counter = 0
        for _ in range(n * 3):
            if len(plan.visits) >= n:
                break
            k = min(rng.randint(1, self.max_waiting), n - len(plan.visits))
            people: list[Person] = []
            for person in rng.sample(pool, len(pool)):
                if len(people) == k:
                    break
                people.append(person)
            t0 = self._draw_start(rng, plan, hours, 3500)
            hour = t0.hour
            t0 = max(t0, plan.opening + timedelta(minutes=2))
            arrivals = [t0]
            for _p in people[1:]:
                arrivals.append(arrivals[-1] + timedelta(seconds=rng.uniform(3, 8)))
            server_free = t0
            group = []
            for slot, (person, arrival) in enumerate(zip(people, arrivals)):
                start = max(arrival + timedelta(seconds=4), server_free)
                pay = start + timedelta(seconds=rng.uniform(8, 14))
                server_free = pay
                exit_ = pay + timedelta(seconds=rng.uniform(*LEAVE_AFTER_PAY_S))
                group.append((person, slot, arrival, pay, exit_))
            a, b = group[0][2], max(g[4] for g in group)
            if b > plan.closing - timedelta(minutes=2):
                continue
            if any(a < y + timedelta(seconds=20) and b > x - timedelta(seconds=20) for x, y in taken):
                continue
            if any(v.person in {p.name for p in people} and v.entry.hour == hour for v in plan.visits):
                continue
            taken.append((a, b))
            for person, slot, arrival, pay, exit_ in group:
                visit = PlannedVisit(person.name, arrival, exit_, rng.choice(person.images), slot=slot)
                if rng.random() >= self.walkout_share:
                    counter += 1
                    visit.sale = self._sale(rng, day, counter, person, arrival, exit_, pay_time=pay)
                plan.visits.append(visit)

    def _draw_start(self, rng: random.Random, plan: DayPlan, hours: list[int], spread_s: int) -> datetime:
        """When a visit (or a group) begins: an hour by its weight, then a second in it. A short day
        (`hours` other than the default) spreads the same draw over its whole open time instead, leaving the
        last minutes for the visit: its hours are cut by opening and closing. The default day draws as it always
        has, so stored evaluation seeds generate the same days."""
        hour = rng.choices(hours, [HOURLY_WEIGHT[h] for h in hours])[0]
        offset = rng.randint(0, spread_s)
        if self.hours == (OPEN, CLOSE) or plan.opening is None or plan.closing is None:
            return datetime.combine(plan.day, time(hour)) + timedelta(seconds=offset)
        first, last = plan.opening + timedelta(minutes=2), plan.closing - timedelta(minutes=4)
        return first + (last - first) * (offset / spread_s)

    def _sale(self, rng, day, counter, person, entry, exit_, pay_time: datetime | None = None) -> Sale:
        size = rng.choices(["20L", "10L"], [0.7, 0.3])[0]
        cans = rng.choices([1, 2, 3], [0.7, 0.22, 0.08])[0]
        unpaid = rng.random() < (self.unpaid_share * (2.5 if person.regular else 0.5))
        mode = rng.choices(["Cash", "UPI", "Coins"], [0.45, 0.45, 0.10])[0]
        drawn = entry + (exit_ - entry) * rng.uniform(0.5, 0.8)
        pay_time = pay_time or drawn
        return Sale(
            transaction_id=f"T{day.strftime('%Y%m%d')}-{counter:03d}",
            timestamp=pay_time.replace(microsecond=0),
            can_size=size,
            number_of_cans=cans,
            amount=self.prices[size] * cans,
            payment_mode=mode,
            payment_status="Unpaid" if unpaid else "Paid",
            customer_id=person.ledger_id if (person.ledger_id and (unpaid or rng.random() < 0.6)) else None,
        )


def till_rows(plan: DayPlan, malformed: int = 0, seed: int = 0) -> list[dict]:
    rows = [
        {
            "transaction_id": s.transaction_id,
            "timestamp": s.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            "customer_id": s.customer_id or "",
            "payment_mode": s.payment_mode,
            "can_size": s.can_size,
            "number_of_cans": s.number_of_cans,
            "amount": f"{s.amount:g}",
            "payment_status": s.payment_status,
        }
        for s in plan.sales
    ]
    rng = random.Random(f"malformed/{seed}/{plan.day}")
    broken = [
        lambda r: {**r, "timestamp": r["timestamp"].replace(":", "-", 1) + "x"},
        lambda r: {**r, "amount": str(float(r["amount"]) + 5)},
        lambda r: {**r, "payment_mode": "Cheque"},
        lambda r: {**r, "number_of_cans": "0"},
    ]
    originals = list(rows)  # break clean rows only, so each malformed row shows its own reason
    for i in range(malformed):
        base = dict(rng.choice(originals)) if originals else None
        if base:
            base["transaction_id"] = f"{base['transaction_id']}-X{i}"
            rows.append(broken[i % len(broken)](base))
    return rows


def write_truth(plan: DayPlan, folder: Path, recorded: list[tuple[datetime, datetime]] | None = None) -> Path:
    """The plan as truth: every visit (with whether it was faceless), its sale, opening and closing, and the
    spans the camera recorded (the staff member is in view all through them)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan.day.isoformat()}.json"
    payload = {
        "day": plan.day.isoformat(),
        "opening": plan.opening.isoformat() if plan.opening else None,
        "closing": plan.closing.isoformat() if plan.closing else None,
        "recorded": [[a.isoformat(), b.isoformat()] for a, b in recorded or []],
        "visits": [
            {
                **{k: v for k, v in asdict(v).items() if k != "sale"},
                "entry": v.entry.isoformat(),
                "exit": v.exit.isoformat(),
                "transaction_id": v.sale.transaction_id if v.sale else None,
            }
            for v in plan.visits
        ],
    }
    path.write_text(json.dumps(payload, indent=1, default=str))
    return path


def write_till_day(plan: DayPlan, transactions_dir: Path, malformed: int = 0) -> Path:
    path = transactions_dir / f"{plan.day.isoformat()}.csv"
    write_till_csv(till_rows(plan, malformed), path)
    return path


TILL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def set_till_clock(data_dir: Path, offset_s: float, drift_s_per_day: float = 0.0) -> dict[str, float]:
    """Put the till's clock off the camera's, as a real shop's drifts: every till file under
    `data_dir/transactions` is rewritten with its sales `offset_s + i * drift_s_per_day` seconds earlier on day
    i (camera time = till time + offset, the convention of `clock_offsets`), and each day's truth file records
    the offset it was given. Rows whose timestamp does not parse (the malformed ones) are left as they are.
    Returns the offset per day."""
    offsets: dict[str, float] = {}
    for i, path in enumerate(sorted((data_dir / "transactions").glob("*.csv"))):
        offset = float(round(offset_s + i * drift_s_per_day))  # whole seconds, as the till writes its times
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            try:
                camera_time = datetime.strptime(row["timestamp"], TILL_TIME_FORMAT)
            except ValueError:
                continue
            row["timestamp"] = (camera_time - timedelta(seconds=offset)).strftime(TILL_TIME_FORMAT)
        write_till_csv(rows, path)
        truth = data_dir / "truth" / f"{path.stem}.json"
        if truth.exists():
            payload = json.loads(truth.read_text())
            payload["till_clock_offset_s"] = offset
            truth.write_text(json.dumps(payload, indent=1, default=str))
        offsets[path.stem] = offset
    return offsets


def linker_view(
    plan: DayPlan, clock_offset_s: float = 0.0, measured_sd_s: float = 0.4, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A planned day as the till linker sees it, without rendering footage: the till's sales (till clock:
    camera time - clock_offset_s) and the visits, customers' entries and exits off by a normal error of
    `measured_sd_s` as the footage stages measure them (the staff member's day as planned). For measuring the
    clock and the linking on many days at little cost (bench/clock_bench.py)."""
    rng = random.Random(f"{seed}/{plan.day.isoformat()}/measured")
    sales, visits = [], []
    for n, v in enumerate(plan.visits):
        entry, exit_ = v.entry, v.exit
        if not v.is_staff:
            entry += timedelta(seconds=rng.gauss(0.0, measured_sd_s))
            exit_ += timedelta(seconds=rng.gauss(0.0, measured_sd_s))
        visits.append({"visit_id": f"V{n:03d}", "customer_id": None, "entry_time": entry, "exit_time": exit_,
                       "is_staff": v.is_staff})  # fmt: skip
        if v.sale is not None:
            till_time = v.sale.timestamp - timedelta(seconds=clock_offset_s)
            sales.append({"transaction_id": v.sale.transaction_id, "timestamp": till_time, "customer_id": None})
    transactions = pd.DataFrame(sales, columns=["transaction_id", "timestamp", "customer_id"])
    return transactions.sort_values("timestamp", ignore_index=True), pd.DataFrame(visits)
