"""The till clock's estimate on many planned evaluation days, with and without the linker in step 2.

    .venv/bin/python bench/clock_bench.py [--seeds 1000-1119]

Days are the evaluation days' plans (`ShopSimulator`: 14 customers, 14 visits a day, 30% faceless, one
customer at a time or up to four waiting), seen as the linker sees them (`sim.shop.linker_view`: the footage
stages' entries and exits off by 0.4 s, the till clock off by an offset drawn from [-10, +10] min); no footage
is rendered. Prints, per kind of day, the error of the estimated offset (RMS, median, share of days more than
5 s off, worst, mean) with step 2 on the linker's links (the product) and on the sales only one customer could
have made (the step before). Chosen on seeds 0-119; the figures to quote are from seeds 1000-1119 (the default).
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta

import numpy as np
from linking_bench import seed_range

from watershop_dagster.core.till.clock import estimate_clock_offset
from watershop_dagster.core.till.linking import LinkRules, stay_linker
from watershop_dagster.sim.shop import Person, ShopSimulator, linker_view


def planned_day(seed: int, max_waiting: int):
    customers = [Person(f"c{i:02d}", ("photo",), regular=i < 5) for i in range(14)]
    sim = ShopSimulator(
        customers, [Person("staff", ("photo",))], seed=seed, visits_per_day=14, max_waiting=max_waiting,
        faceless_share=0.3,
    )  # fmt: skip
    return sim.plan_day(date(2024, 4, 1) + timedelta(days=seed % 3), seed % 3)


def errors(seeds: list[int], max_waiting: int, with_linker: bool) -> np.ndarray:
    rules = LinkRules()
    out = []
    for seed in seeds:
        offset = random.Random(f"clock/{seed}").uniform(-600.0, 600.0)
        transactions, visits = linker_view(planned_day(seed, max_waiting), offset, seed=seed)
        found = estimate_clock_offset(
            transactions["timestamp"],
            visits,
            rules.clock_rules(),
            assign=stay_linker(rules) if with_linker else None,
        )
        if found.offset_seconds is not None:
            out.append(found.offset_seconds - offset)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1000-1119", help="chosen on 0-119; report on 1000-1119")
    seeds = seed_range(parser.parse_args().seeds)
    print(f"{'days':34} {'step 2':16} {'days':>5} {'RMS s':>6} {'median':>7} {'> 5 s':>6} {'worst':>6} {'mean':>6}")
    for max_waiting, kind in ((1, "one customer at a time"), (4, "up to four waiting")):
        for with_linker, step in ((True, "linked sales"), (False, "quiet sales")):
            e = errors(seeds, max_waiting, with_linker)
            print(
                f"{kind:34} {step:16} {len(e):5d} {np.sqrt(np.mean(e**2)):6.2f} {np.median(np.abs(e)):7.2f}"
                f" {np.mean(np.abs(e) > 5):6.3f} {np.abs(e).max():6.1f} {e.mean():+6.2f}"
            )


if __name__ == "__main__":
    main()
