"""Till clock vs camera clock: how far apart they are on a day, estimated from the day's own data.

A DVR clock drifts minutes a month and nobody resets the till, so a sale's till time and the camera's time of
the payer at the counter disagree by an offset that is roughly constant over a day. Sales happen while the
payer is at the counter, shortly before the payer leaves, so the offset is the shift that puts the sales
inside customers' stays, each a typical few seconds before someone's last face:

1. scan offsets in [-search, +search] coarsely, then finely around the best, scoring each by how many sales
   fall inside some non-staff visit, weighted up where the sale lies the typical pay-to-exit gap before that
   visit's exit;
2. refine with the day's links at that offset: the linker (`Assign`, handed in by core/till/linking.py: one sale
   per visit, first come first served) gives every sale its payer, and the Hodges-Lehmann centre of their
   exit - sale gaps (the median of all pairwise means), minus the typical gap, moves the offset; twice, as
   the links may change with it. A day with a queue has few sales that only one customer could have made,
   and the median of those few (the step without a linker) was more than 5 s off on a quarter of simulated
   busy days (below);
2b. on a day with a queue, the entry side: one server serves a customer who comes to a free counter at once,
   and a service takes about what the gap between two sales takes while a queue waits (a difference of till
   times: no offset in it). The payers who came to a free counter (`counter_timing`, from the links) then
   pay one walk to the counter (`walk_to_counter_s`) and one service (the day's median) after walking in;
   their Hodges-Lehmann centre gives a second offset. The two are weighed by how far each may be off by
   chance (spread squared over number: the evaluation days' payers leave 8-30 s after paying, their
   services take 8-14 s, so there the entry side counts most; on the counter simulator's days, services of
   35-85 s and two hundred payers a day, the exit side does). Each side rests on a habit, the exit side on
   the customers' (how long they stay on after paying), the entry side on the walk;
3. fit: move to the nearest offset at which (all but a few of) the sales have the physical room inside a
   stay: some seconds after the entry (to reach the counter) and before the exit.

A few sales are enough where the peak is clear: on quiet plans (4-8 visits a day, seeds 0-119 of the
evaluation days' plans, `bench/clock_bench.py --visits-per-day 4`) an estimate from as few as 3 sales that passed the
confidence gate was never more than 60 s off, where a floor of 8 sales left most quiet days unestimated and
their sales, minutes off, unlinked. A day too unclear to stand alone (a weak peak: stays that repeat at a
regular interval fit several offsets) is searched again only `previous_window_s` around the offset applied
on the latest earlier day (`near`; clocks drift seconds a day); where even that fails, linking carries that
earlier offset over as it was (core/till/linking.py).

The typical gap (`pay_to_exit_s`) is a habit: where customers leave sooner after paying than that, step 2
alone puts sales before their payers could have reached the counter, and step 3 moves them back (on the
evaluation days, whose payers leave a median 6-8 s after paying, from 9-11 s off to 1-4 s; README, "Sales
linked to visits"). Convention: camera time = till time + offset_seconds.

Step 2 was chosen on seeds 0-119 of the shop simulator's planned evaluation days (bench/clock_bench.py: the
visits and sales of `ShopSimulator`, entries and exits off by 0.4 s as the footage stages measure them, the
till clock off by up to 10 min; no footage rendered) and seeds 0-9 of the counter simulator
(bench/linking_bench.py, ~250 sales a day). On busy plans (up to four waiting) days more than 5 s off were
25% with the quiet sales' median, 14% with the linked sales' median, 7% with their Hodges-Lehmann centre
and 4% with their mean; but the counter simulator's gaps have a long tail (second purchases, people who
linger), and there the mean was 4.7 s off on the median day against 0.5-0.7 s for the others. Reported on
seeds 1000-1119 and 100-119: busy plans 26% -> 12.5% of days more than 5 s off (RMS 4.1 -> 3.3 s), counter
days median error 1.0 -> 0.8 s. Days of one customer at a time are decided by step 3 and stay as they were
(2.5% more than 5 s off, RMS 2.4 s). Those figures are with a 2-s floor before the exit; with the 5-s floor
(`MIN_PAY_TO_EXIT_S`) busy plans are 12.5% more than 5 s off (RMS 3.2 s) and one-at-a-time days 2.5% (RMS
2.6 s). What remains on busy days is mostly the habit: their payers leave 8-30 s after paying, a centre some
2 s over the typical gap. Step 2b, set on plan seeds 0-119 and counter seeds 0-9 (busy plans RMS 3.17 -> 1.69 s,
none more than 5 s off; counter days median error 0.5 s as before). The entry side alone did better on the
plans (1.46 s) but, tried on counter seeds 100-119 (report seeds: seen before the weighing was chosen), put
their median error at 2.8 s instead of 0.7 s: the counter simulator has no walk and sees customers up to 4 s
late. Reported on seeds 1000-1119: busy days RMS 3.17 -> 1.66 s, mean +2.35 -> +0.93 s,
days more than 5 s off 11.7% -> 0% (worst 7.7 -> 4.6 s), sales linked right 0.989 -> 0.988; counter seeds
100-119: median 0.7 -> 1.0 s, worst 1.7 -> 2.2 s, sales linked right 0.987 both. One-customer-at-a-time days
have no queue and are as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CLOCK_METHODS = (
    "given",
    "estimated",
    "estimated_near_previous",
    "carried_from_previous",
    "estimated_unsure",
    "too_few_sales",
)
# Offsets that linking applies: known, or trusted (a weak estimate alone is not applied).
APPLIED_METHODS = ("given", "estimated", "estimated_near_previous", "carried_from_previous")

# The linker, as the clock sees it: (sale seconds on the camera clock, entry seconds, exit seconds of the
# customer stays) -> the stay index each sale goes to (-1: none).
Assign = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

# How payers leave, for the clock and for linking. The typical gap from the till ringing to the payer's last
# face is a habit (picking up the cans; set on the counter simulator's seeds 0-9); the floor is physical: nobody
# with a 20 L can is out of the door within seconds of the till ringing (5 s: chosen on plan seeds 0-119 and
# counter seeds 0-9 among 2-8 s, bench/linking_bench.py and bench/clock_bench.py).
TYPICAL_PAY_TO_EXIT_S = 17.0
MIN_PAY_TO_EXIT_S = 5.0


@dataclass(frozen=True)
class ClockOffset:
    """The day's offset (camera time = till time + offset_seconds) and how far to trust it.

    `method`: given (the caller knew it), estimated (applied), estimated_near_previous (a day too unclear to
    stand alone, searched near the last applied offset of an earlier day; applied), carried_from_previous (not
    even that, or too few sales: the earlier day's offset applied as it was), estimated_unsure (too weak a peak
    and no earlier offset, not applied: linking used the till times as they are), too_few_sales (nothing
    estimated)."""

    offset_seconds: float | None
    confidence: float
    sales_used: int
    method: str
    camera: str = "all"

    @property
    def applied_seconds(self) -> float:
        """What linking adds to till times: the offset where it was given or trusted, else nothing."""
        if self.method not in APPLIED_METHODS:
            return 0.0
        assert self.offset_seconds is not None, "applied offsets always carry a value"
        return float(self.offset_seconds)

    def as_row(self) -> dict:
        """One CLOCK_OFFSETS row, without the day (the warehouse adds the partition day)."""
        return {
            "camera": self.camera,
            "offset_seconds": self.offset_seconds,
            "confidence": self.confidence,
            "sales_used": self.sales_used,
            "method": self.method,
        }


@dataclass(frozen=True)
class ClockRules:
    search_s: float = 900.0  # offsets up to 15 min either way
    coarse_step_s: float = 10.0
    coarse_width_s: float = 20.0  # how sharply a sale near the typical pay point scores, coarse scan
    fine_width_s: float = 8.0
    pay_to_exit_s: float = TYPICAL_PAY_TO_EXIT_S
    min_sales: int = 3  # below this a day says nothing about its clock (the confidence gate judges the rest)
    min_gaps: int = 4  # step 2 moves the offset by the payers' gaps only where it has this many
    # Room a sale needs inside its payer's stay: nobody pays the moment they walk in (to the counter, hand over
    # the cans) or walks out the moment the till rings. Physical floors, unlike the typical gap above, which
    # is a habit and differs from shop to shop.
    min_entry_to_pay_s: float = 5.0
    min_pay_to_exit_s: float = MIN_PAY_TO_EXIT_S
    fit_window_s: float = 30.0  # how far the fit may move the typical-gap estimate
    fit_slack_share: float = 0.05  # sales the fit may leave out (till rung late, a payer the camera missed)
    peak_guard_s: float = 90.0  # the second peak is looked for at least this far from the best
    refine_passes: int = 2  # step 2 with a linker: link, move by the gaps' centre, link again, move again
    # Step 2b, the entry side. One server: a customer who comes to a free counter is served at once, and a
    # service takes about what the gap between two sales takes while a queue waits (`counter_timing`). So
    # such a payer pays about walk_to_counter_s + one service after walking in: the service measured on the
    # day, the walk assumed (door to counter in a small shop: 3-5 m, about 4 s), where the exit side's
    # pay_to_exit_s is all habit. Used where the day has min_gaps services and min_free_sales sales at a free
    # counter, weighed against the exit side by spread (`min_spread_s` at least).
    walk_to_counter_s: float = 4.0
    min_free_sales: int = 3
    max_service_s: float = 180.0  # a longer gap between two sales is not one service
    min_spread_s: float = 1.0  # the least spread either side's values are taken to have
    # A clock drifts seconds a day (minutes a month), so a day whose own peak is too weak to apply is searched
    # this far around the last applied offset of an earlier day (one peak in a window this narrow).
    previous_window_s: float = 120.0


def _as_seconds(times) -> np.ndarray:
    """Timestamps as float seconds (any common epoch), so the scan is plain array arithmetic."""
    return pd.to_datetime(pd.Series(times)).astype("datetime64[ns]").astype("int64").to_numpy() / 1e9


def _customer_stays(visits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit seconds of the non-staff visits (staff stand at the counter all day and prove nothing)."""
    if not len(visits):
        return np.empty(0), np.empty(0)
    customers = visits[~visits["is_staff"].astype(bool)]
    return _as_seconds(customers["entry_time"]), _as_seconds(customers["exit_time"])


def _scores(sales: np.ndarray, entry: np.ndarray, exit_: np.ndarray, offsets: np.ndarray, cfg: ClockRules, width):
    """Per offset: sum over sales of the best visit's fit. A sale inside a stay scores 0.5, plus up to 0.5
    the closer it lies to the typical pay point (exit - pay_to_exit_s); outside every stay it scores 0."""
    out = np.empty(len(offsets))
    for k, off in enumerate(offsets):
        t = sales[:, None] + off
        inside = (t >= entry[None, :]) & (t <= exit_[None, :])
        near = np.exp(-0.5 * ((exit_[None, :] - t - cfg.pay_to_exit_s) / width) ** 2)
        out[k] = np.where(inside, 0.5 + 0.5 * near, 0.0).max(axis=1).sum()
    return out


def _quiet_gaps(sales: np.ndarray, entry: np.ndarray, exit_: np.ndarray, offset: float) -> np.ndarray:
    """exit - sale for sales inside exactly one stay at this offset: the quiet moments, where the payer is
    certain."""
    t = sales[:, None] + offset
    inside = (t >= entry[None, :]) & (t <= exit_[None, :])
    single = inside.sum(axis=1) == 1
    owner = inside[single].argmax(axis=1)
    return exit_[owner] - t[single, 0]


def hodges_lehmann(values: np.ndarray, most: int = 1000) -> float:
    """The median of all pairwise means (each value with itself included): as robust as the median to a few
    wild values (a payer who lingers, a wrong link) and nearly as efficient as the mean on a handful. Over
    `most` values, every k-th of the sorted ones stands for the rest (the pairs grow as the square)."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) > most:
        v = v[:: int(np.ceil(len(v) / most))]
    i, j = np.triu_indices(len(v))
    return float(np.median((v[i] + v[j]) / 2.0))


def _linked_gaps(sales: np.ndarray, entry: np.ndarray, exit_: np.ndarray, offset: float, assign: Assign):
    """exit - sale of every sale the linker gives a stay at this offset, where the sale lies inside that stay."""
    t = sales + offset
    stay = assign(t, entry, exit_)
    linked = stay >= 0
    j, t = stay[linked], t[linked]
    inside = (t >= entry[j]) & (t <= exit_[j])
    return (exit_[j] - t)[inside]


def _fit_stays(sales: np.ndarray, entry: np.ndarray, exit_: np.ndarray, around: float, cfg: ClockRules) -> float:
    """The offset nearest `around` (within fit_window_s) at which the most sales fit inside a stay with the
    physical room on both sides.

    The typical gap places sales where a shop of that habit would ring them; where that leaves sales before
    their payer could have reached the counter (a shop whose customers leave sooner after paying than the
    typical gap), the offset moves just far enough for them to fit."""
    grid = around + np.arange(-cfg.fit_window_s, cfg.fit_window_s + 0.25, 0.5)
    first = entry[None, :] + cfg.min_entry_to_pay_s - sales[:, None]  # offsets at which sale i fits visit j
    last = exit_[None, :] - cfg.min_pay_to_exit_s - sales[:, None]
    fitted = np.zeros((len(sales), len(grid)), dtype=bool)
    for k, off in enumerate(grid):
        fitted[:, k] = ((first <= off) & (off <= last)).any(axis=1)
    count = fitted.sum(axis=0)
    best = grid[count >= count.max() - np.floor(cfg.fit_slack_share * len(sales))]
    return float(best[np.argmin(np.abs(best - around))])


def counter_timing(
    sale_s: np.ndarray, stay: np.ndarray, entry: np.ndarray, exit_: np.ndarray, cfg: ClockRules
) -> tuple[np.ndarray, np.ndarray]:
    """What the day's links say of the counter (sale seconds in time order, the stay each went to, -1 none):
    the services, gaps between consecutive linked sales whose later payer had come in before the earlier one
    (waited through it; up to `max_service_s`), and for payers who came to a free counter (after the sale
    before theirs, with nobody ahead of them who had not paid yet) the seconds from walking in to paying.
    The linker's `pace_samples` (core/till/linking.py) reads the same two things from who was present, before
    there are links; read that way instead, the entry side alone was 2.03 s RMS off on plan seeds 0-119, against
    1.46 s from the links."""
    paid_at = np.full(len(entry), np.inf)
    for k, j in enumerate(stay):
        if j >= 0:
            paid_at[j] = min(paid_at[j], sale_s[k])
    services, free = [], []
    for k, j in enumerate(stay):
        if j < 0:
            continue
        before = sale_s[k - 1] if k else -np.inf
        if k and stay[k - 1] >= 0 and entry[j] < before - cfg.min_pay_to_exit_s:
            if sale_s[k] - before <= cfg.max_service_s:
                services.append(sale_s[k] - before)
            continue
        ahead = (entry < entry[j]) & (exit_ > entry[j]) & (paid_at > entry[j])
        ahead[j] = False
        if entry[j] > before and not ahead.any():
            free.append(sale_s[k] - entry[j])
    return np.array(services), np.array(free)


def _chance_variance(values: np.ndarray, cfg: ClockRules) -> float:
    """How far a robust centre of these values may be off by chance (squared seconds): their spread squared
    over their number. The spread is the median absolute deviation scaled to a standard deviation (a payer
    who stays on for a second can, a wrong link, do not widen it, as they do not move the centre), at least
    `min_spread_s` (a handful of values can agree by luck)."""
    values = np.asarray(values, dtype=float)
    mad = float(np.median(np.abs(values - np.median(values)))) if len(values) else 0.0
    return max(1.4826 * mad, cfg.min_spread_s) ** 2 / max(len(values), 1)


def _with_entry_side(
    sales: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    offset: float,
    exit_gaps: np.ndarray,
    assign: Assign,
    cfg: ClockRules,
) -> float:
    """Step 2b: the offset at which the day's free-counter payers paid, by their Hodges-Lehmann centre, one walk
    to the counter and one service (the median of the day's services) after walking in, weighed against the
    exit side's `offset` by how much each may be off by chance (the spread of its values over their number);
    `offset` as it was where the day has too few services or free-counter sales."""
    t = np.sort(sales) + offset
    services, free = counter_timing(t, assign(t, entry, exit_), entry, exit_, cfg)
    if len(services) < cfg.min_gaps or len(free) < cfg.min_free_sales:
        return offset
    at_entry = offset - (hodges_lehmann(free) - cfg.walk_to_counter_s - float(np.median(services)))
    if len(exit_gaps) < cfg.min_gaps:
        return at_entry
    w_entry = 1.0 / (_chance_variance(free, cfg) + _chance_variance(services, cfg))
    w_exit = 1.0 / _chance_variance(exit_gaps, cfg)
    return (w_entry * at_entry + w_exit * offset) / (w_entry + w_exit)


def estimate_clock_offset(
    sale_times,
    visits: pd.DataFrame,
    rules: ClockRules | None = None,
    camera: str = "all",
    assign: Assign | None = None,
    near: float | None = None,
) -> ClockOffset:
    """The day's till-to-camera offset from the sales and the visits alone (see the module docstring).
    `assign`: the linker for step 2; without one, step 2 uses the sales only one customer could have made.
    `near`: an earlier day's offset; the search then covers only `previous_window_s` around it (method
    estimated_near_previous).

    `confidence` in [0, 1] is the share of sales the offset puts inside a customer's stay times how clearly
    the peak stands above the best offset elsewhere (a day of identical intervals has many equal peaks)."""
    cfg = rules or ClockRules()
    sales = _as_seconds(sale_times) if len(sale_times) else np.empty(0)
    entry, exit_ = _customer_stays(visits)
    centre, reach = (0.0, cfg.search_s) if near is None else (near, cfg.previous_window_s)
    method = "estimated" if near is None else "estimated_near_previous"
    if len(sales) < cfg.min_sales or not len(entry):
        return ClockOffset(None, 0.0, int(len(sales)), "too_few_sales", camera)
    coarse = centre + np.arange(-reach, reach + cfg.coarse_step_s / 2, cfg.coarse_step_s)
    coarse_scores = _scores(sales, entry, exit_, coarse, cfg, cfg.coarse_width_s)
    best = float(coarse[int(np.argmax(coarse_scores))])
    far = np.abs(coarse - best) > cfg.peak_guard_s
    second = float(coarse_scores[far].max()) if far.any() else 0.0
    fine = np.arange(best - cfg.coarse_step_s, best + cfg.coarse_step_s + 0.5, 1.0)
    fine_scores = _scores(sales, entry, exit_, fine, cfg, cfg.fine_width_s)
    offset = float(fine[int(np.argmax(fine_scores))])
    # When the offset is right, the payers' gaps centre on the typical gap; the difference is what the scan's
    # 1-s grid and its kernel leave over.
    if assign is not None:
        gaps = np.empty(0)
        for _ in range(cfg.refine_passes):
            gaps = _linked_gaps(sales, entry, exit_, offset, assign)
            if len(gaps) < cfg.min_gaps:
                break
            offset += hodges_lehmann(gaps) - cfg.pay_to_exit_s
        offset = _with_entry_side(sales, entry, exit_, offset, gaps, assign, cfg)
    else:
        gaps = _quiet_gaps(sales, entry, exit_, offset)
        if len(gaps) >= cfg.min_gaps:
            offset += float(np.median(gaps)) - cfg.pay_to_exit_s
    offset = _fit_stays(sales, entry, exit_, offset, cfg)
    t = sales[:, None] + offset
    explained = float(((t >= entry[None, :]) & (t <= exit_[None, :])).any(axis=1).mean())
    peak = float(coarse_scores.max())
    sharpness = (peak - second) / peak if peak > 0 else 0.0
    # A peak 25% above the runner-up is plainly the one; below that, trust falls off linearly.
    confidence = explained * min(1.0, sharpness / 0.25)
    return ClockOffset(round(offset, 1), round(float(confidence), 4), int(len(sales)), method, camera)


def last_applied(earlier: pd.DataFrame) -> ClockOffset | None:
    """The offset applied on the latest earlier day that had one (`earlier`: CLOCK_OFFSETS rows of days before
    this one, with their day), or None."""
    if earlier is None or not len(earlier):
        return None
    rows = earlier[earlier["method"].isin(APPLIED_METHODS) & earlier["offset_seconds"].notna()]
    if not len(rows):
        return None
    r = rows.sort_values("day", kind="stable").iloc[-1]
    return ClockOffset(float(r["offset_seconds"]), float(r["confidence"]), int(r["sales_used"]), str(r["method"]))
