"""The till clock's estimate on many planned evaluation days, with and without the linker in step 2.

    .venv/bin/python bench/clock_bench.py [--seeds 1000-1119] [--visits-per-day 14] [--min-sales N]

Days are the evaluation days' plans (`ShopSimulator`: 14 customers, 14 visits a day, 30% faceless, one
customer at a time or up to four waiting), seen as the linker sees them (`sim.shop.linker_view`: the footage
stages' entries and exits off by 0.4 s, the till clock off by an offset drawn from [-10, +10] min); no footage
is rendered. Prints, per kind of day, the error of the estimated offset (RMS, median, share of days more than
5 s off, worst, mean) with step 2 on the linker's links (the product) and on the sales only one customer could
have made (the step before), and for the product the share of sales linked to the visit that made them and the
share flagged ambiguous (`link_day`, the clock estimated as above). Chosen on seeds 0-119; the figures to quote
are from seeds 1000-1119 (the default). `--visits-per-day 4` (or 6, 8) makes quiet days, where the floor of
sales a day needs before its clock is estimated (`--min-sales`, ClockRules.min_sales) decides whether its
sales are linked at all.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta

import numpy as np
from linking_bench import seed_range

from watershop_dagster.core.till.clock import ClockRules, estimate_clock_offset
from watershop_dagster.core.till.linking import LinkRules, link_day
from watershop_dagster.sim.shop import Person, ShopSimulator, linker_view


def planned_day(seed: int, max_waiting: int, visits_per_day: int = 14):
    customers = [Person(f"c{i:02d}", ("photo",), regular=i < 5) for i in range(14)]
    sim = ShopSimulator(
        customers, [Person("staff", ("photo",))], seed=seed, visits_per_day=visits_per_day,
        max_waiting=max_waiting, faceless_share=0.3,
    )  # fmt: skip
    return sim.plan_day(date(2024, 4, 1) + timedelta(days=seed % 3), seed % 3)


def errors(
    seeds: list[int], max_waiting: int, with_linker: bool, rules: LinkRules, visits_per_day: int = 14
) -> tuple[np.ndarray, float, float]:
    """Offset errors per day where an offset was estimated (applied or too weak to apply), and (with the linker)
    the shares of sales linked right and flagged ambiguous."""
    out, right, ambiguous, sales = [], 0, 0, 0
    for seed in seeds:
        plan = planned_day(seed, max_waiting, visits_per_day)
        offset = random.Random(f"clock/{seed}").uniform(-600.0, 600.0)
        transactions, visits = linker_view(plan, offset, seed=seed)
        if with_linker:
            result = link_day(transactions, visits, rules)
            found = result.clock_offset
            payer = {v.sale.transaction_id: f"V{n:03d}" for n, v in enumerate(plan.visits) if v.sale is not None}
            right += int((result.links["visit_id"] == result.links["transaction_id"].map(payer)).sum())
            ambiguous += int(result.links["ambiguous"].sum())
            sales += len(result.links)
        else:
            found = estimate_clock_offset(transactions["timestamp"], visits, rules.clock_rules())
        if found.offset_seconds is not None:
            out.append(found.offset_seconds - offset)
    return np.array(out), right / max(sales, 1), ambiguous / max(sales, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1000-1119", help="chosen on 0-119; report on 1000-1119")
    parser.add_argument("--visits-per-day", type=int, default=14, help="4-8: quiet days")
    parser.add_argument("--min-sales", type=int, default=ClockRules.min_sales, help="a day's floor of sales")
    args = parser.parse_args()
    seeds = seed_range(args.seeds)
    rules = LinkRules(min_clock_sales=args.min_sales)
    print(f"{args.visits_per_day} visits a day, a clock estimated from {args.min_sales} sales or more")
    print(
        f"{'days':34} {'step 2':16} {'days':>5} {'RMS s':>6} {'median':>7} {'> 5 s':>6} {'worst':>6} {'mean':>6}"
        f" {'linked right':>13} {'ambiguous':>10}"
    )
    for max_waiting, kind in ((1, "one customer at a time"), (4, "up to four waiting")):
        for with_linker, step in ((True, "linked sales"), (False, "quiet sales")):
            e, right, ambiguous = errors(seeds, max_waiting, with_linker, rules, args.visits_per_day)
            links = f" {right:13.3f} {ambiguous:10.3f}" if with_linker else f" {'-':>13} {'-':>10}"
            if not len(e):
                print(f"{kind:34} {step:16} {0:5d} (no day estimated)" + links)
                continue
            print(
                f"{kind:34} {step:16} {len(e):5d} {np.sqrt(np.mean(e**2)):6.2f} {np.median(np.abs(e)):7.2f}"
                f" {np.mean(np.abs(e) > 5):6.3f} {np.abs(e).max():6.1f} {e.mean():+6.2f}" + links
            )


if __name__ == "__main__":
    main()
