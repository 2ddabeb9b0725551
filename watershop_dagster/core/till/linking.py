"""Sales <-> visits: which customer was at the counter when the till rang.

The whole day is linked at once, as an assignment. In a refill shop a visit usually pays once, customers are
served in the order they arrived, and the payer pays when served, shortly before leaving. So each (sale,
visit) pair gets a cost from

* how far the sale lies outside the stay (up to `tolerance_s`; beyond it the pair is impossible),
* where in the stay it lies: a sale long before the visit's exit is unlikely (people leave soon after paying),
  and so is one in the last seconds before it (nobody is out of the door the moment the till rings),
* order: a visit that arrived while someone who arrived earlier is still there well after the sale (longer than
  a payer stays to pick up the cans) is not the one being served (first come, first served),
* the till's word: a sale booked to a ledger account that names a customer (the owner's label, or the camera ID
  most of that account's earlier sales went to) whose visit is a candidate costs more on any other visit,
* the counter's pace (from this day's and earlier days' sales and visits), in the exact search: customers ahead
  of the payer who pay nothing were served first (a service each) or were still waiting, whichever reading is
  cheaper; a sale far from the moment its reading expects costs more,

and each sale has its own "no visit" option (the camera missed the payer). A visit may take a second sale at
an extra cost, and only when the two sales are far apart (a long stay with a second purchase). The day splits
into busy periods that share no candidate visit; each is solved with `scipy.optimize.linear_sum_assignment`.

A link's confidence is how much the day's assignment would get worse if that sale had to go elsewhere (the
pair forbidden and the period re-solved), scaled to [0, 1]; it is `ambiguous` when that margin is small.

Till times are moved onto the camera clock first (`core/till/clock.py`): given, or estimated from the day.

`history` is the links of the days before this one: whether the camera agrees with a till ledger
customer_id is judged from which camera identity that ledger ID went to on earlier days, never from the day
itself (a wrong link would vote for itself) and never from later days.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from watershop_dagster.core.till.clock import (
    MIN_PAY_TO_EXIT_S,
    TYPICAL_PAY_TO_EXIT_S,
    Assign,
    ClockOffset,
    ClockRules,
    estimate_clock_offset,
    last_applied,
)

LINK_COLUMNS = [
    "transaction_id",
    "timestamp",
    "camera_time",
    "till_customer_id",
    "visit_id",
    "camera_customer_id",
    "customer_id",
    "confidence",
    "ambiguous",
    "candidates",
    "seconds_outside_visit",
    "agrees_with_till",
]

IMPOSSIBLE = 1e6  # cost of a pair that may not be chosen; far above any real day's total


@dataclass(frozen=True)
class LinkRules:
    tolerance_s: float = 60.0  # a sale this far outside a stay can still belong to it
    # Confidence under which a link is flagged ambiguous: the lowest at which the flags still catch 95% of the
    # wrong links that a flag at 0.5 catches, on the tune seeds of `bench/linking_bench.py` (0.35: 62 of 65;
    # 0.3: 61). Links at 0.35-0.5, many told apart by the order of leaving alone, were right 134 of 137 times
    # there, about as often as the links at 0.5-0.8, never flagged (484 of 489; `linking_bench.py --calibration`).
    # It sits just under the confidence of a link the order of leaving alone decides (0.45 with
    # weight_exit_inversion 0.4 and margin_full_s 1.0; test_linking pins both): retune them together.
    ambiguous_below: float = 0.35
    pay_to_exit_s: float = TYPICAL_PAY_TO_EXIT_S
    min_pay_to_exit_s: float = MIN_PAY_TO_EXIT_S  # a sale closer to the exit than this costs up to weight_position
    early_pay_scale_s: float = 60.0  # paying this much earlier than typical before leaving costs weight_position
    weight_outside: float = 2.0  # at the tolerance
    weight_position: float = 1.0
    weight_order: float = 1.0  # per earlier arrival still waiting after the sale
    # An earlier arrival counts as still waiting only if still there this long after the sale: one who paid
    # just before stays a little to pick up the cans (about pay_to_exit_s) and is not waiting any more.
    waiting_after_sale_s: float = 8.0
    no_visit_cost: float = 3.0  # a sale left unlinked
    second_use_cost: float = 1.0  # a visit's second sale, on top of that pair's own cost
    second_use_min_gap_s: float = 120.0  # a visit's two sales at least this far apart
    margin_full_s: float = 1.0  # an assignment margin of this cost or more is full confidence
    # First come, first served across the whole period: two sales whose visits arrived in the other order (by
    # more than order_tolerance_s) cost weight_inversion. Periods small enough (at most exact_max_choices
    # combinations of one choice per sale) are solved exactly with it; larger ones without it.
    weight_inversion: float = 1.0
    # The same for the order of leaving, weaker: a payer leaves some seconds after paying, and those seconds vary.
    weight_exit_inversion: float = 0.4
    order_tolerance_s: float = 1.0
    exact_max_choices: int = 20000
    # The till names the payer: a sale booked to a ledger account that earlier days (or the owner's label) tie
    # to a camera ID, with that customer's visit among the sale's candidates, costs this much more on any other
    # visit. Above an order inversion and a waiting customer: the till's word outweighs first come, first served.
    weight_till_named: float = 1.5
    # The counter's pace (`ServicePace`, from the day's and the earlier days' `PaceSamples`): one server, so
    # while a queue waits the till rings once per customer served. Customers ahead of a payer who pay nothing
    # were served (a service each at the pace, no longer waiting) or were still waiting, whichever reading is
    # cheaper; a sale far from the moment its reading expects costs up to weight_pace. It tells a walk-out at
    # the head of a queue from the payer behind. Within pace_tolerance_z spreads of the expected moment a sale
    # costs nothing; the cost grows to weight_pace over pace_scale_z more.
    weight_pace: float = 2.0
    pace_tolerance_z: float = 1.5
    pace_scale_z: float = 2.0
    # Samples of a kind needed (the earlier days' pooled in): fewer busy gaps, the service read from the
    # free-counter sales (`service_pace`); fewer of both, no pace.
    pace_min_gaps: int = 4
    pace_days: int = 14  # the earlier days (that had sales) whose samples join the day's
    pace_min_spread_s: float = 1.5
    pace_max_gap_s: float = 180.0  # longer gaps between sales are not one service
    walk_to_counter_s: float = ClockRules.walk_to_counter_s  # the clock's entry side (`ClockRules`)
    estimate_clock: bool = True  # estimate the till-camera offset when none is given
    min_clock_confidence: float = 0.5  # an estimated offset weaker than this is not applied
    min_clock_sales: int = ClockRules.min_sales

    def clock_rules(self) -> ClockRules:
        """The clock estimate's rules, with this linker's view of how payers leave."""
        return ClockRules(
            pay_to_exit_s=self.pay_to_exit_s,
            min_pay_to_exit_s=self.min_pay_to_exit_s,
            min_sales=self.min_clock_sales,
            walk_to_counter_s=self.walk_to_counter_s,
        )


def _seconds(times) -> np.ndarray:
    return pd.to_datetime(pd.Series(times)).astype("datetime64[ns]").astype("int64").to_numpy() / 1e9


@dataclass(frozen=True)
class PaceSamples:
    """What a day says of the counter's pace (camera clock): the gaps between consecutive sales while a customer
    waited through them (`busy_gaps_s`), and, for each sale rung when the counter had been free (nobody waiting
    since the sale before), the seconds since the first of the customers who came after that sale arrived
    (`first_sale_s`). Stored per day (`counter_pace`), so a quiet day can lean on the days before it."""

    busy_gaps_s: tuple[float, ...] = ()
    first_sale_s: tuple[float, ...] = ()

    def __add__(self, other: PaceSamples) -> PaceSamples:
        return PaceSamples(self.busy_gaps_s + other.busy_gaps_s, self.first_sale_s + other.first_sale_s)


@dataclass(frozen=True)
class LinkResult:
    links: pd.DataFrame  # LINK_COLUMNS
    clock_offset: ClockOffset  # what was applied (or why nothing was), for the CLOCK_OFFSETS table
    pace: PaceSamples = PaceSamples()  # the day's own pace samples at the applied offset, for COUNTER_PACE


@dataclass(frozen=True)
class ServicePace:
    """The counter's pace: seconds between consecutive sales while someone waits (`pace`, with its spread; on
    days short of busy gaps, a free-counter sale less the walk to the counter: `service_pace`), and from the
    first arrival at a free counter to its sale (`first`: walking to the counter and one service).
    Medians, so a few walk-outs (a gap of two services) do not move them; standard deviations as the spreads."""

    pace: float
    pace_spread: float
    first: float | None
    first_spread: float | None


def _centre_and_spread(values: np.ndarray, floor: float) -> tuple[float, float]:
    """The median (a walk-out's double gap does not move it) and the standard deviation (which it does widen,
    on purpose): a robust spread of a few samples of a variable service can come out tiny by chance, and an
    overconfident pace puts payers in the wrong places."""
    spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.median(values)), max(floor, spread)


def pace_samples(sale_s: np.ndarray, entry_s: np.ndarray, exit_s: np.ndarray, rules: LinkRules) -> PaceSamples:
    """The day's pace samples. A gap between two consecutive sales is busy when a customer was there through it,
    from before the first sale to well after the second (a waiting customer, not the first payer picking up the
    cans). A sale was rung at a free counter when nobody who came before the previous sale was still waiting
    (there well after it); its sample is the time since the first customer who came after the previous sale (a
    lone customer, or the head of a queue: walking up and one service, two where the head bought nothing,
    which the median leaves out)."""
    t = np.sort(np.asarray(sale_s, dtype=float))
    if not len(t) or not len(entry_s):
        return PaceSamples()
    a, b = t[:-1], t[1:]
    waited = (entry_s[None, :] < a[:, None] - rules.min_pay_to_exit_s) & (
        exit_s[None, :] > b[:, None] + rules.pay_to_exit_s
    )
    busy = waited.any(axis=1) & (b - a <= rules.pace_max_gap_s)
    first: list[float] = []
    for k, sale in enumerate(t):
        before = t[k - 1] if k else -np.inf
        came = (entry_s > before) & (entry_s < sale) & (exit_s > sale)
        if k and busy[k - 1] or not came.any():
            continue
        waiting = (entry_s <= before) & (exit_s > before + rules.pay_to_exit_s) & (exit_s > sale)
        if not waiting.any() and sale - entry_s[came].min() <= rules.pace_max_gap_s:
            first.append(round(float(sale - entry_s[came].min()), 3))
    return PaceSamples(tuple(round(float(g), 3) for g in (b - a)[busy]), tuple(first))


def service_pace(samples: PaceSamples, rules: LinkRules) -> ServicePace | None:
    """The pace from these samples: from `pace_min_gaps` busy gaps; short of them, from as many free-counter
    sales, each one walk to the counter (`walk_to_counter_s`, as the clock reads it) and one service (a shop's
    first day has few queues, and a walk-out at the head of its first one went unread: seed 541), if that leaves
    a service of at least `pace_min_spread_s`; None otherwise. `first` needs `pace_min_gaps` free-counter sales
    (read the other way, from the busy gaps and the walk, its spread was too narrow for how walks vary: seeds 457
    and 479 lost five sales)."""
    first = None
    if len(samples.first_sale_s) >= rules.pace_min_gaps:
        first = _centre_and_spread(np.array(samples.first_sale_s), rules.pace_min_spread_s)
    if len(samples.busy_gaps_s) >= rules.pace_min_gaps:
        pace, pace_spread = _centre_and_spread(np.array(samples.busy_gaps_s), rules.pace_min_spread_s)
    elif first is not None and (service := first[0] - rules.walk_to_counter_s) >= rules.pace_min_spread_s:
        pace, pace_spread = service, first[1]
    else:
        return None
    return ServicePace(pace, pace_spread, *(first or (None, None)))


def fit_costs(sale_s: np.ndarray, entry_s: np.ndarray, exit_s: np.ndarray, rules: LinkRules) -> np.ndarray:
    """sales x visits cost of where the sale lies in the stay (outside it, or long before the usual moment
    before leaving); IMPOSSIBLE beyond the tolerance."""
    t, entry, exit_ = sale_s[:, None], entry_s[None, :], exit_s[None, :]
    outside = np.maximum(0.0, np.maximum(entry - t, t - exit_))
    early = np.maximum(0.0, (exit_ - t) - rules.pay_to_exit_s)
    # Leaving within a second or two of the till ringing is as unlikely as paying long before leaving: the
    # payer still has the cans to pick up.
    late = np.clip(rules.min_pay_to_exit_s - (exit_ - t), 0.0, rules.min_pay_to_exit_s)
    cost = rules.weight_outside * outside / rules.tolerance_s
    cost = cost + rules.weight_position * np.minimum(1.0, early / rules.early_pay_scale_s)
    cost = cost + rules.weight_position * late / max(rules.min_pay_to_exit_s, 1e-9)  # 0 s: late is 0, no cost
    return np.where(outside <= rules.tolerance_s, cost, IMPOSSIBLE)


def waiting_before(sale_s: np.ndarray, entry_s: np.ndarray, exit_s: np.ndarray, rules: LinkRules) -> np.ndarray:
    """[sale i, visit j, visit k]: k arrived before j and is still there `waiting_after_sale_s` after sale i,
    so if j made sale i, k was (or looked) served later than someone who came after them."""
    earlier = entry_s[None, None, :] < entry_s[None, :, None]
    still_there = exit_s[None, None, :] > sale_s[:, None, None] + rules.waiting_after_sale_s
    return earlier & still_there


def pair_costs(sale_s: np.ndarray, entry_s: np.ndarray, exit_s: np.ndarray, rules: LinkRules) -> np.ndarray:
    """sales x visits cost of "this visit made this sale" (IMPOSSIBLE beyond the tolerance), from the three
    kinds of evidence in the module docstring: the pair's fit, plus first come, first served counted pair by
    pair (every earlier arrival still there after the sale)."""
    fit = fit_costs(sale_s, entry_s, exit_s, rules)
    waiting = waiting_before(sale_s, entry_s, exit_s, rules).sum(axis=2)
    return np.where(fit < IMPOSSIBLE, fit + rules.weight_order * np.minimum(waiting, 3), IMPOSSIBLE)


def _busy_periods(candidate: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of sales and visits that share no candidate pair with any other group (connected components of
    the sale-visit candidate graph); each is an independent assignment."""
    n_sales, n_visits = candidate.shape
    parent = list(range(n_sales + n_visits))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in zip(*np.nonzero(candidate)):
        parent[root(i)] = root(n_sales + j)
    groups: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for i in range(n_sales):
        groups[root(i)][0].append(i)
    for j in range(n_visits):
        if root(n_sales + j) in groups:
            groups[root(n_sales + j)][1].append(j)
    return [(np.array(s), np.array(v, dtype=int)) for s, v in groups.values()]


class _Period:
    """One busy period's assignment problem: columns are each visit's first use, its second use, and one
    "no visit" column per sale."""

    def __init__(
        self,
        costs: np.ndarray,
        sale_s: np.ndarray,
        rules: LinkRules,
        entry_s: np.ndarray | None = None,
        exit_s: np.ndarray | None = None,
        named: np.ndarray | None = None,
        pace: ServicePace | None = None,
    ):
        n, m = costs.shape
        self.pace = pace
        self.n, self.m, self.sale_s, self.rules = n, m, sale_s, rules
        self.costs = costs
        self.entry_s, self.exit_s = entry_s, exit_s
        if entry_s is not None and exit_s is not None:
            # The exact search judges first come, first served on the whole choice: an earlier arrival still
            # there who paid before this sale was served, one who pays after it is an inversion (counted
            # there), and only one who pays nothing in this choice was still waiting.
            self.fit = fit_costs(sale_s, entry_s, exit_s, rules)
            if named is not None:  # the till's named payer (`till_named_costs`), judged on the whole choice too
                self.fit = np.where(self.fit < IMPOSSIBLE, self.fit + named, IMPOSSIBLE)
            self.waiting = waiting_before(sale_s, entry_s, exit_s, rules)
        no_visit = np.full((n, n), IMPOSSIBLE)
        np.fill_diagonal(no_visit, rules.no_visit_cost)
        second = np.where(costs < IMPOSSIBLE, costs + rules.second_use_cost, IMPOSSIBLE)
        self.matrix = np.hstack([costs, second, no_visit])

    def solve(self, matrix: np.ndarray) -> tuple[np.ndarray, float]:
        """Visit index per sale (-1 = none) and the total cost. A visit's two sales closer than
        `second_use_min_gap_s` are not allowed: that second use is forbidden and the period re-solved."""
        matrix = matrix.copy()
        while True:
            from scipy.optimize import linear_sum_assignment  # imported when needed: a second of start-up

            rows, cols = linear_sum_assignment(matrix)
            total = float(matrix[rows, cols].sum())
            if total >= IMPOSSIBLE:
                return np.full(self.n, -1), np.inf
            visit = np.where(cols < 2 * self.m, cols % self.m, -1)[np.argsort(rows)]
            clash = self._too_close(visit)
            if clash is None:
                return visit, total
            matrix[clash, self.m : 2 * self.m] = IMPOSSIBLE

    def _too_close(self, visit: np.ndarray) -> np.ndarray | None:
        """The sales of one visit that are closer together than a second purchase can be, or None."""
        for j in set(visit[visit >= 0].tolist()):
            sales = np.flatnonzero(visit == j)
            if len(sales) > 1 and np.ptp(self.sale_s[sales]) < self.rules.second_use_min_gap_s:
                return sales
        return None

    def total(self, choice: Sequence[int]) -> float:
        """The whole period's cost of one choice per sale (-1 = no visit), inversions of arrival order
        included; inf where not allowed (an impossible pair, a visit used three times or twice too close)."""
        r = self.rules
        total, used = 0.0, defaultdict(list)
        for i, j in enumerate(choice):
            if j < 0:
                total += r.no_visit_cost
                continue
            c = self.fit[i, j] if self.entry_s is not None else self.costs[i, j]
            if c >= IMPOSSIBLE:
                return np.inf
            total += c
            used[j].append(self.sale_s[i])
        # Checked before the costs of order and pace: most combinations of a busy period fail here.
        for times in used.values():
            if len(times) > 2 or (len(times) == 2 and abs(times[1] - times[0]) < r.second_use_min_gap_s):
                return np.inf
        served = np.zeros((self.n, self.m), dtype=bool)
        if self.pace is not None and r.weight_pace and self.entry_s is not None:
            off_pace, served = self._off_pace(choice)
            total += off_pace
        if self.entry_s is not None and r.weight_order and used:
            total += self._still_waiting(choice, served) * r.weight_order
        for times in used.values():  # (in this order: the same sums to the last bit as before the early check)
            total += r.second_use_cost * (len(times) - 1)
        if self.entry_s is not None and r.weight_inversion:
            total += self._inversions(choice, self.entry_s) * r.weight_inversion
        if self.exit_s is not None and r.weight_exit_inversion:
            total += self._inversions(choice, self.exit_s) * r.weight_exit_inversion
        return total

    def _off_pace(self, choice: Sequence[int]) -> tuple[float, np.ndarray]:
        """What the counter's pace says of this choice: a cost, and per sale the visits served by then without a
        sale (sales x visits), whom `_still_waiting` then does not count. First come, first served: customers
        who pay nothing in this choice and arrived before the payer (after the previous payer) were served first
        and bought nothing, or were still waiting; each sale takes the cheaper reading. Served, the payer is
        expected one `pace` after the previous sale per customer served (at a free counter, `first` after the
        earliest of them came, then a `pace` per other); waiting, as if they were not there, and each of them
        still there after the sale costs `weight_order` (the waiting cost of pair_costs). A sale costs nothing
        within `pace_tolerance_z` spreads of its expected moment, up to `weight_pace` `pace_scale_z` later."""
        assert self.pace is not None and self.entry_s is not None and self.exit_s is not None
        pace, r = self.pace, self.rules
        entry, exit_ = self.entry_s, self.exit_s
        unpaid = np.ones(self.m, dtype=bool)
        unpaid[[j for j in choice if j >= 0]] = False
        cost, before_t, before_entry, paid = 0.0, None, None, set()
        served = np.zeros((self.n, self.m), dtype=bool)
        so_far = np.zeros(self.m, dtype=bool)

        def off(t: float, expected: float, spread: float) -> float:
            z = abs(t - expected) / spread
            return r.weight_pace * min(1.0, max(0.0, z - r.pace_tolerance_z) / r.pace_scale_z)

        for i in np.argsort(self.sale_s, kind="stable"):
            served[i] = so_far
            t, j = float(self.sale_s[i]), int(choice[i])
            if j < 0:  # a payer the camera missed: the counter was busy, but with whom is unknown
                before_t, before_entry = t, None
                continue
            if j in paid:  # a second purchase of a long stay comes when it comes, not at the queue's pace
                before_t, before_entry = t, None
                continue
            paid.add(j)
            e = entry[j]
            if before_t is not None and e < before_t:  # waited through the previous sale
                if before_entry is None:
                    before_t, before_entry = t, e
                    continue
                ahead = unpaid & (entry > before_entry) & (entry < e) & (exit_ > before_t) & ~so_far
                k = int(ahead.sum())
                as_served = off(t, before_t + (1 + k) * pace.pace, np.sqrt(1 + k) * pace.pace_spread)
                not_served = off(t, before_t + pace.pace, pace.pace_spread)
            elif pace.first is not None and pace.first_spread is not None:
                after = before_t if before_t is not None else -np.inf
                ahead = unpaid & (entry > after) & (entry < e) & (exit_ > e) & ~so_far
                k = int(ahead.sum())
                start = min(e, float(entry[ahead].min())) if k else e
                spread = float(np.hypot(pace.first_spread, np.sqrt(k) * pace.pace_spread))
                as_served = off(t, start + pace.first + k * pace.pace, spread)
                not_served = off(t, e + pace.first, pace.first_spread)
            else:
                before_t, before_entry = t, e
                continue
            waiting = r.weight_order * min(3, int((ahead & self.waiting[i, j]).sum()))  # what _still_waiting adds
            if k and as_served <= not_served + waiting:
                so_far = so_far | ahead
                served[i] = so_far
                cost += as_served
            else:
                cost += not_served
            before_t, before_entry = t, e
        return cost, served

    def _still_waiting(self, choice: Sequence[int], served: np.ndarray) -> int:
        """Per linked sale, the earlier arrivals still there after it who pay nothing in this choice and were not
        served by then (`served`, from the counter's pace; at most 3 each, as in pair_costs), summed."""
        sales = [i for i, j in enumerate(choice) if j >= 0]
        visits = [choice[i] for i in sales]
        unpaid = np.ones(self.m, dtype=bool)
        unpaid[visits] = False
        waiting = self.waiting[sales, visits] & unpaid & ~served[sales]
        return int(np.minimum(waiting.sum(axis=1), 3).sum())

    def _inversions(self, choice: Sequence[int], order_s: np.ndarray) -> int:
        """Pairs of linked sales whose visits' times (`order_s`) run the other way round than the sales."""
        linked = [(self.sale_s[i], order_s[j]) for i, j in enumerate(choice) if j >= 0]
        tol = self.rules.order_tolerance_s
        return sum(
            1
            for a in range(len(linked))
            for b in range(a + 1, len(linked))
            if (linked[a][0] < linked[b][0] and linked[a][1] > linked[b][1] + tol)
            or (linked[b][0] < linked[a][0] and linked[b][1] > linked[a][1] + tol)
        )

    def exact(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Visit index per sale (-1 = none) and each sale's margin (how much the best total rises if that sale
        must take another choice), over every combination of choices; None where there are too many."""
        if self.entry_s is None or (self.m + 1) ** self.n > self.rules.exact_max_choices:
            return None
        options = [[-1] + [j for j in range(self.m) if self.costs[i, j] < IMPOSSIBLE] for i in range(self.n)]
        best_of = [dict.fromkeys(o, np.inf) for o in options]  # sale -> choice -> best total with it
        best, best_total = None, np.inf
        for choice in itertools.product(*options):
            total = self.total(choice)
            if total == np.inf:
                continue
            if total < best_total - 1e-9:
                best, best_total = choice, total
            for i, j in enumerate(choice):
                if total < best_of[i][j]:
                    best_of[i][j] = total
        if best is None:
            return np.full(self.n, -1), np.full(self.n, np.inf)
        margins = np.array(
            [
                min((t for j, t in best_of[i].items() if j != best[i]), default=np.inf) - best_total
                for i in range(self.n)
            ]
        )
        return np.array(best), margins

    def margin(self, sale: int, visit: int, best_total: float) -> float:
        """How much the period's best total rises if this sale may not take this choice (a visit, both of its
        uses, or -1 = no visit)."""
        matrix = self.matrix.copy()
        if visit >= 0:
            matrix[sale, [visit, self.m + visit]] = IMPOSSIBLE
        else:
            matrix[sale, 2 * self.m + sale] = IMPOSSIBLE
        _, alternative = self.solve(matrix)
        return alternative - best_total


def till_named_costs(costs: np.ndarray, sale_names: Sequence, visit_names: Sequence, rules: LinkRules) -> np.ndarray:
    """sales x visits: `weight_till_named` on every candidate visit but the named customer's, for each sale whose
    till account names a camera ID (`sale_names`, None where it names nobody) with a visit among the sale's
    candidates (`costs` below IMPOSSIBLE); 0 elsewhere. A named customer not in the shop then says nothing."""
    out = np.zeros(costs.shape)
    names = np.asarray(visit_names, dtype=object)
    for i, name in enumerate(sale_names):
        if name is None:
            continue
        theirs = (names == name) & (costs[i] < IMPOSSIBLE)
        if theirs.any():
            out[i, ~theirs] = rules.weight_till_named
    return out


def _assign(
    sale_s: np.ndarray,
    entry_s: np.ndarray,
    exit_s: np.ndarray,
    rules: LinkRules,
    sale_names: Sequence | None = None,
    visit_names: Sequence | None = None,
    pace_from: PaceSamples = PaceSamples(),
):
    """Visit index per sale (-1 = none) and the margin behind each choice (inf where there was no other): each
    busy period solved exactly with the order of arrival (`_Period.exact`) where small enough, else as a linear
    assignment. `sale_names` / `visit_names`: the camera ID each sale's till account names and each visit's
    customer ID (`till_named_costs`). `pace_from`: the samples the counter's pace is read from (the day's own
    and the earlier days')."""
    costs = pair_costs(sale_s, entry_s, exit_s, rules)
    named = np.zeros(costs.shape)
    if sale_names is not None and visit_names is not None:
        named = till_named_costs(costs, sale_names, visit_names, rules)
        costs = np.where(costs < IMPOSSIBLE, costs + named, IMPOSSIBLE)
    visit_of = np.full(len(sale_s), -1)
    margin = np.full(len(sale_s), np.inf)
    pace = service_pace(pace_from, rules) if rules.weight_pace else None
    for sales, visits in _busy_periods(costs < IMPOSSIBLE):
        if not len(visits):
            continue
        period = _Period(
            costs[np.ix_(sales, visits)],
            sale_s[sales],
            rules,
            entry_s[visits],
            exit_s[visits],
            named[np.ix_(sales, visits)],
            pace,
        )
        exact = period.exact()
        if exact is not None:
            for k, (j, m) in enumerate(zip(*exact, strict=True)):
                visit_of[sales[k]] = visits[j] if j >= 0 else -1
                margin[sales[k]] = m
            continue
        period.entry_s = period.exit_s = None  # too large to search: a linear assignment, without the inversions
        chosen, total = period.solve(period.matrix)
        for k, j in enumerate(chosen):
            visit_of[sales[k]] = visits[j] if j >= 0 else -1
            margin[sales[k]] = period.margin(k, j, total)
    return visit_of, margin, (costs < IMPOSSIBLE).sum(axis=1)


def stay_linker(rules: LinkRules, earlier_pace: PaceSamples = PaceSamples()) -> Assign:
    """This linker as the clock's step 2 sees it: sale seconds (camera clock) and the customer stays' entry and
    exit seconds -> the stay each sale goes to (-1: none)."""

    def assign(sale_s: np.ndarray, entry_s: np.ndarray, exit_s: np.ndarray) -> np.ndarray:
        pace_from = earlier_pace + pace_samples(sale_s, entry_s, exit_s, rules)  # the day's at this trial offset
        return _assign(sale_s, entry_s, exit_s, rules, pace_from=pace_from)[0]

    return assign


def _clock(
    transactions: pd.DataFrame,
    visits: pd.DataFrame,
    rules: LinkRules,
    offset_s: float | None,
    previous: ClockOffset | None = None,
    earlier_pace: PaceSamples = PaceSamples(),
) -> ClockOffset:
    """The offset to apply: the given one, else the day's estimate; where the day cannot be trusted alone
    (a weak peak, too few sales), its estimate near `previous` (an earlier day's applied offset), else that
    offset carried over; with no earlier offset, a weak estimate is kept for the record but not applied."""
    if offset_s is not None:
        return ClockOffset(float(offset_s), 1.0, len(transactions), "given")
    if not rules.estimate_clock:
        # Told not to estimate: the clocks are taken as synchronised (an assumption, hence confidence 0).
        return ClockOffset(0.0, 0.0, len(transactions), "given")
    sale_times, clock_rules, assign = transactions["timestamp"], rules.clock_rules(), stay_linker(rules, earlier_pace)
    found = estimate_clock_offset(sale_times, visits, clock_rules, assign=assign)
    if found.method == "estimated" and found.confidence >= rules.min_clock_confidence:
        return found
    if previous is not None and previous.offset_seconds is not None:
        near = estimate_clock_offset(sale_times, visits, clock_rules, assign=assign, near=previous.offset_seconds)
        if near.method == "estimated_near_previous" and near.confidence >= rules.min_clock_confidence:
            return near
        return ClockOffset(previous.offset_seconds, previous.confidence, len(transactions), "carried_from_previous")
    if found.method == "estimated":
        return ClockOffset(found.offset_seconds, found.confidence, found.sales_used, "estimated_unsure")
    return found


def link_day(
    transactions: pd.DataFrame,
    visits: pd.DataFrame,
    rules: LinkRules | None = None,
    history: pd.DataFrame | None = None,
    clock_offset_s: float | None = None,
    previous_clock: ClockOffset | None = None,
    ledger_labels: dict[str, str] | None = None,
    earlier_pace: PaceSamples = PaceSamples(),
) -> LinkResult:
    """Link one day's sales to its visits.

    `transactions`: transaction_id, timestamp (till clock), customer_id. `visits`: visit_id, customer_id,
    entry_time, exit_time, is_staff (camera clock). `history`: links of the days before this one
    (till_customer_id, camera_customer_id; with transaction_id and timestamp, rows of this day or later are
    dropped). `clock_offset_s`: camera time - till time where known; None estimates it from the day.
    `previous_clock`: the offset applied on the latest earlier day (`clock.last_applied`), for a day that
    cannot be estimated alone. `ledger_labels`: the owner's labels (camera ID -> till ledger account); with
    `history`, they tell which camera ID a sale's till account names (`ledger_accounts`). `earlier_pace`: the
    counter's pace samples of the days before (`earlier_pace_samples`), pooled with the day's own."""
    rules = rules or LinkRules()
    transactions = transactions.sort_values("timestamp", kind="stable").reset_index(drop=True)
    customers = visits[~visits["is_staff"].astype(bool)].reset_index(drop=True) if len(visits) else visits
    clock = _clock(transactions, visits, rules, clock_offset_s, previous_clock, earlier_pace)
    till_time = pd.to_datetime(transactions["timestamp"])
    camera_time = till_time + pd.Timedelta(seconds=clock.applied_seconds)
    majority = _ledger_majority(history, transactions)  # names payers here, judges agreement below
    pace = PaceSamples()
    if len(transactions) and len(customers):
        entry_s, exit_s = _seconds(customers["entry_time"]), _seconds(customers["exit_time"])
        sale_s = _seconds(camera_time)
        pace = pace_samples(sale_s, entry_s, exit_s, rules)
        accounts = ledger_accounts(majority, transactions, ledger_labels)
        sale_names = [accounts.get(c) if isinstance(c, str) else None for c in transactions["customer_id"]]
        visit_names = [c if isinstance(c, str) else None for c in customers["customer_id"]]
        visit_of, margin, candidates = _assign(
            sale_s, entry_s, exit_s, rules, sale_names, visit_names, earlier_pace + pace
        )
    else:
        visit_of = np.full(len(transactions), -1)
        margin, candidates = np.full(len(transactions), np.inf), np.zeros(len(transactions), dtype=int)
    rows = []
    for i, t in enumerate(transactions.itertuples(index=False)):
        till_id = t.customer_id if isinstance(t.customer_id, str) and t.customer_id else None
        j = int(visit_of[i])
        confidence = float(min(1.0, margin[i] / rules.margin_full_s))
        row = {
            "transaction_id": t.transaction_id,
            "timestamp": till_time.iloc[i],
            "camera_time": camera_time.iloc[i],
            "till_customer_id": till_id,
            "visit_id": None,
            "camera_customer_id": None,
            "customer_id": till_id,
            "confidence": 0.0,
            # An unlinked sale is ambiguous only when some candidate nearly took it.
            "ambiguous": bool(candidates[i] > 0 and confidence < rules.ambiguous_below),
            "candidates": int(candidates[i]),
            "seconds_outside_visit": None,
            "agrees_with_till": None,
        }
        if j >= 0:
            v = customers.iloc[j]
            ts = camera_time.iloc[i]
            outside = max(0.0, (v["entry_time"] - ts).total_seconds(), (ts - v["exit_time"]).total_seconds())
            row.update(
                visit_id=v["visit_id"],
                camera_customer_id=v["customer_id"],
                customer_id=till_id or v["customer_id"],
                confidence=round(confidence, 4),
                ambiguous=bool(confidence < rules.ambiguous_below),
                seconds_outside_visit=outside,
            )
        rows.append(row)
    links = pd.DataFrame(rows, columns=LINK_COLUMNS)
    return LinkResult(_with_agreement(links, majority), clock, pace)


def link_stored_day(
    sales: pd.DataFrame,
    visits: pd.DataFrame,
    rules: LinkRules,
    history: pd.DataFrame | None,
    earlier_offsets: pd.DataFrame | None,
    earlier_pace: pd.DataFrame | None,
    registry: pd.DataFrame,
) -> tuple[pd.DataFrame, ClockOffset, dict]:
    """One day linked from the tables as the warehouse stores them (the `transaction_links` asset's work):
    `history`, `earlier_offsets` and `earlier_pace` are the TRANSACTION_LINKS, CLOCK_OFFSETS and COUNTER_PACE
    rows of the days before, `registry` the day's CUSTOMER_REGISTRY (the owner's labels). Returns the links
    with the labels applied, the clock offset applied, and the day's COUNTER_PACE row."""
    labels = {c: str(t) for c, t in zip(registry["customer_id"], registry["label"], strict=True) if isinstance(t, str)}
    result = link_day(
        sales,
        visits,
        rules,
        history,
        previous_clock=last_applied(earlier_offsets),
        ledger_labels=labels,
        earlier_pace=earlier_pace_samples(earlier_pace, rules),
    )
    return apply_ledger_labels(result.links, labels), result.clock_offset, pace_row(result.pace)


def earlier_pace_samples(earlier: pd.DataFrame | None, rules: LinkRules) -> PaceSamples:
    """The pooled samples of the latest `pace_days` earlier days that have any (`earlier`: COUNTER_PACE rows of
    days before this one)."""
    if earlier is None or not len(earlier):
        return PaceSamples()
    pooled = PaceSamples()
    days = earlier.sort_values("day", kind="stable")
    has_any = days["busy_gaps_s"].map(_length) + days["first_sale_s"].map(_length) > 0
    for r in days[has_any].tail(rules.pace_days).itertuples(index=False):
        pooled = pooled + PaceSamples(_floats(r.busy_gaps_s), _floats(r.first_sale_s))
    return pooled


def _length(values) -> int:
    return 0 if values is None or (isinstance(values, float) and np.isnan(values)) else len(values)


def _floats(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values) if _length(values) else ()


def pace_row(pace: PaceSamples) -> dict:
    """One COUNTER_PACE row (without the day): the day's samples and their medians."""

    def median(values: tuple[float, ...]) -> float | None:
        return round(float(np.median(values)), 2) if values else None

    return {
        "busy_gaps": len(pace.busy_gaps_s),
        "pace_s": median(pace.busy_gaps_s),
        "free_counter_sales": len(pace.first_sale_s),
        "arrival_to_sale_s": median(pace.first_sale_s),
        "busy_gaps_s": list(pace.busy_gaps_s),
        "first_sale_s": list(pace.first_sale_s),
    }


def link_transactions(
    transactions: pd.DataFrame,
    visits: pd.DataFrame,
    rules: LinkRules | None = None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The link table of `link_day` (clock offset estimated from the day); `history`: links of earlier days."""
    return link_day(transactions, visits, rules, history).links


def _earlier_history(history: pd.DataFrame | None, links: pd.DataFrame) -> pd.DataFrame:
    """The part of `history` that may vote: not the sales being judged, nothing from this day or later."""
    if history is None or not len(history):
        return pd.DataFrame(columns=["till_customer_id", "camera_customer_id"])
    keep = pd.Series(True, index=history.index)
    if "transaction_id" in history.columns:
        keep &= ~history["transaction_id"].isin(links["transaction_id"])
    if "timestamp" in history.columns and len(links):
        day_start = pd.to_datetime(links["timestamp"]).min().normalize()
        keep &= pd.to_datetime(history["timestamp"]) < day_start
    return history[keep]


def _ledger_majority(history: pd.DataFrame | None, day: pd.DataFrame) -> dict[str, str]:
    """Till ledger account -> the camera ID most of its earlier sales were linked to (`day`: the sales being
    linked or judged, with transaction_id and timestamp; their own links and later days never vote)."""
    both = _earlier_history(history, day).dropna(subset=["till_customer_id", "camera_customer_id"])
    counts: dict[str, Counter] = defaultdict(Counter)
    for till_id, cam_id in zip(both["till_customer_id"], both["camera_customer_id"]):
        counts[till_id][cam_id] += 1
    return {till_id: c.most_common(1)[0][0] for till_id, c in counts.items()}


def ledger_accounts(
    majority: dict[str, str], day: pd.DataFrame, labels: dict[str, str] | None = None
) -> dict[str, str]:
    """Till customer_id -> the camera ID it names: the camera's own IDs (CUST_...) name themselves, the owner's
    labels (camera ID -> ledger account) come first, then the camera ID most of the account's earlier sales
    were linked to (`majority`, `_ledger_majority`)."""
    accounts = dict(majority)
    accounts.update({text: cid for cid, text in (labels or {}).items() if text})
    ids = day["customer_id"] if "customer_id" in day.columns else []
    accounts.update({c: c for c in ids if isinstance(c, str) and c.startswith("CUST_")})
    return accounts


def mark_agreement(links: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Does the camera agree with the till's customer_id? Where the till uses the camera's own IDs
    (CUST_...), agreement is equality; where it keeps its own ledger IDs, a ledger ID agrees when its sale
    went to the camera identity most of that ledger ID's sales went to on earlier days (`history`), and is
    unknown (None) for a ledger ID with no earlier links."""
    return _with_agreement(links, _ledger_majority(history, links))


def _with_agreement(links: pd.DataFrame, majority: dict[str, str]) -> pd.DataFrame:
    """`mark_agreement` with the ledger accounts' majority camera IDs already counted."""
    links = links.copy()

    def agrees(r):
        if not isinstance(r.till_customer_id, str) or not isinstance(r.camera_customer_id, str):
            return None
        if r.till_customer_id.startswith("CUST_"):
            return r.till_customer_id == r.camera_customer_id
        if r.till_customer_id not in majority:
            return None
        return majority[r.till_customer_id] == r.camera_customer_id

    links["agrees_with_till"] = (
        pd.Series([agrees(r) for r in links.itertuples(index=False)], index=links.index, dtype=object)
        if len(links)
        else pd.Series(dtype=object)
    )
    return links


def apply_ledger_labels(links: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The owner's labels tie a camera ID to the till's ledger account (`watershop identity label CUST_0003
    L002`): a sale the till booked to L002 is that customer's (its `customer_id` becomes the camera ID, so
    ledger sales and camera visits add up to one person's spend and debts), and it agrees with the till exactly
    when the camera saw that customer paying. `labels`: camera ID -> label (names that are not ledger
    accounts simply match no sale)."""
    camera_of = {text: cid for cid, text in labels.items() if text}
    if links.empty or not camera_of:
        return links
    links = links.copy()
    labelled = links["till_customer_id"].map(camera_of)
    has = labelled.notna()
    links.loc[has, "customer_id"] = labelled[has]
    seen = has & links["camera_customer_id"].notna()
    links["agrees_with_till"] = links["agrees_with_till"].astype(object)
    links.loc[seen, "agrees_with_till"] = (links.loc[seen, "camera_customer_id"] == labelled[seen]).to_numpy()
    return links


def link_summary(links: pd.DataFrame) -> dict[str, float]:
    """Counts for the asset's metadata: linked share, ambiguous links, confidence, till/camera agreement."""
    n = len(links)
    linked = int(links["visit_id"].notna().sum()) if n else 0
    checked = links["agrees_with_till"].dropna() if n else pd.Series(dtype=bool)
    return {
        "transactions": n,
        "linked": linked,
        "linked_share": round(linked / n, 4) if n else 0.0,
        "ambiguous": int(links["ambiguous"].sum()) if n else 0,
        "mean_confidence": round(float(np.mean(links["confidence"])), 4) if n else 0.0,
        "till_ids_checked": len(checked),
        "till_camera_agreement": round(float(checked.astype(bool).mean()), 4) if len(checked) else 0.0,
    }
