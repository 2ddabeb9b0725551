"""Sales linking on simulated counter days: right-visit and right-person shares, ambiguous share, clock error.

Days come from `watershop_dagster.sim.counter` (FIFO service, queues of up to six at the peaks, some visits
missed by the camera, a few second purchases, unpaid sales). Each day is linked twice: with synchronised
clocks, and with the till clock off by a known offset drawn from [-10, +10] min that the linker must
estimate. Sales are grouped by how many customers the camera shows at the counter when the till rang.

The LinkRules/ClockRules defaults were tuned on seeds 0-9 (`--seeds 0-9`); the figures to quote are from
the held-out seeds 100-119 (the default). "greedy" is each sale on its own to its cheapest visit, for
comparison with the day-wide assignment.

Then queue days (`sim.counter.simulate_queue_day`: the shop simulator's busy days, groups of up to four
served in 8-14 s each, 5% walk-outs who are served and buy nothing; also days of 6 groups, and slower, more
variable service: `QUEUE_KINDS`), linked with the rules and with the counter's pace off (`weight_pace=0`),
each day alone; the small days also as a shop's later days (the pace samples of the previous seeds pooled, as
the asset pools the days before); split by whether a walk-out was in the sale's queue. The pace rules were
set on the tune seeds (`--tune`); report on the others (the default).

    python bench/linking_bench.py [--seeds 100-119] [--tune] [--calibration]

--calibration prints only how often links of each confidence are right and what each flag threshold flags
(`LinkRules.ambiguous_below` was set from it with --tune).
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from dataclasses import replace

import numpy as np
import pandas as pd

from watershop_dagster.core.till.linking import LinkRules, PaceSamples, _seconds, link_day, pair_costs
from watershop_dagster.sim.counter import QueueRules, simulate_counter_day, simulate_queue_day

BINS = (("1-2 present", 0, 2), ("3-4 present", 3, 4), ("5+ present", 5, 99))


def greedy_visits(day, offset_s: float, rules: LinkRules) -> list:
    """Each sale alone to its cheapest visit (no one-sale-per-visit, no order between sales)."""
    customers = day.visits[~day.visits["is_staff"]].reset_index(drop=True)
    sale_s = _seconds(day.transactions["timestamp"]) + offset_s
    costs = pair_costs(sale_s, _seconds(customers["entry_time"]), _seconds(customers["exit_time"]), rules)
    best = costs.argmin(axis=1)
    return [customers["visit_id"][j] if costs[i, j] < rules.no_visit_cost else None for i, j in enumerate(best)]


def judge(day, links: pd.DataFrame, greedy: list) -> pd.DataFrame:
    """Per sale: present count, linked to the true visit, to the true person, ambiguous, greedy right."""
    got = links.set_index("transaction_id")
    truth = day.truth.set_index("transaction_id")
    rows = []
    for k, (tid, t) in enumerate(truth.iterrows()):
        visit = got.loc[tid, "visit_id"]
        visit = visit if isinstance(visit, str) else None
        person = got.loc[tid, "camera_customer_id"] if visit else None
        true_person = t["person"] if t["visit_id"] else None
        rows.append(
            {
                "present": t["present"],
                "right_visit": visit == t["visit_id"],
                "right_person": person == true_person,
                "ambiguous": bool(got.loc[tid, "ambiguous"]),
                "confidence": float(got.loc[tid, "confidence"]),
                "greedy_right": greedy[k] == t["visit_id"],
                "unpaid": day.transactions.set_index("transaction_id").loc[tid, "payment_status"] == "Unpaid",
            }
        )
    return pd.DataFrame(rows)


def seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="100-119", help="tuned on 0-9; report on 100-119")
    parser.add_argument("--tune", action="store_true", help="queue days: the seeds the pace was set on")
    parser.add_argument(
        "--calibration", action="store_true", help="only how often links of each confidence are right, and the flags"
    )
    args = parser.parse_args()
    rules = LinkRules()
    if args.calibration:
        calibration(args.tune, rules)
        return
    counter_days(args.seeds, rules)
    queue_days(args.tune, rules)


CONFIDENCE_BINS = (0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0)


def calibration(tune: bool, rules: LinkRules) -> None:
    """Every queue day of QUEUE_KINDS and the counter days (seeds 0-9 or 100-119), clocks in step, each day
    linked alone: how often links of each confidence are right, and for each flag threshold the share of sales
    flagged and the wrong links among them (what `LinkRules.ambiguous_below` was set from, on the tune seeds)."""
    judged = []
    for _, queue_rules, tune_seeds, report_seeds in QUEUE_KINDS:
        for seed in seed_range(tune_seeds if tune else report_seeds):
            day = simulate_queue_day(seed, queue_rules)
            if len(day.transactions):
                result = link_day(day.transactions, day.visits, rules, clock_offset_s=0.0)
                judged.append(judge(day, result.links, greedy_visits(day, 0.0, rules)))
    for seed in seed_range("0-9" if tune else "100-119"):
        day = simulate_counter_day(seed, 0.0)
        result = link_day(day.transactions, day.visits, rules, clock_offset_s=0.0)
        judged.append(judge(day, result.links, greedy_visits(day, 0.0, rules)))
    sales = pd.concat(judged, ignore_index=True)
    wrong = ~sales["right_visit"]
    print(f"{'tune' if tune else 'report'} seeds: {len(sales)} sales, {int(wrong.sum())} linked wrong")
    print(f"{'confidence':>12} {'sales':>6} {'right':>6}")
    edges = list(CONFIDENCE_BINS)
    for low, high in zip(edges, edges[1:], strict=False):
        part = sales[(sales["confidence"] >= low) & (sales["confidence"] < high)]
        if len(part):
            print(f"{low:5.2f}-{high:<6.2f} {len(part):6d} {part['right_visit'].mean():6.3f}")
    full = sales[sales["confidence"] >= 1.0]
    print(f"{'1.00':>12} {len(full):6d} {full['right_visit'].mean():6.3f}")
    print(f"\n{'flag under':>10} {'flagged':>8} {'wrong caught':>13} {'wrong among flagged':>20}")
    for threshold in (0.5, 0.45, 0.4, 0.35, 0.3, 0.2):
        flagged = sales["confidence"] < threshold
        caught, among = int((flagged & wrong).sum()), int((flagged & wrong).sum()) / max(int(flagged.sum()), 1)
        print(f"{threshold:10.2f} {flagged.mean():8.2%} {caught:6d} of {int(wrong.sum()):<4d} {among:20.3f}")


# Kinds of queue day: (label, QueueRules, seeds the pace was set on, seeds to report). A busy day has 40 groups;
# a small one 6 (about 15 visits, as on the evaluation days); some with a slower, more variable service.
QUEUE_KINDS = (
    ("busy, service 8-14 s", QueueRules(), "0-19", "100-139"),
    ("busy, service 8-30 s", QueueRules(service_s=(8.0, 30.0)), "0-19", "100-139"),
    ("6 groups, service 8-14 s", QueueRules(groups=6), "0-149", "1000-1299"),
    ("6 groups, service 8-30 s", QueueRules(groups=6, service_s=(8.0, 30.0)), "0-149", "1000-1299"),
    ("6 groups, service 5-60 s", QueueRules(groups=6, service_s=(5.0, 60.0)), "0-149", "1000-1299"),
)


def queue_days(tune: bool, rules: LinkRules) -> None:
    """Each day linked alone (a shop's first day: the counter's pace from that day only), with the pace off, and,
    on the small days, as a shop's later day: with the pace samples of the `pace_days` days before it (the
    previous seeds of the same kind), as the `transaction_links` asset pools its COUNTER_PACE rows."""
    print(f"\nqueue days (groups of up to four, 5% walk-outs), clocks in step, {'tune' if tune else 'report'} seeds")
    print(f"{'':52} {'sales':>6} {'right visit':>12} {'ambiguous':>10}")
    for kind, queue_rules, tune_seeds, report_seeds in QUEUE_KINDS:
        seeds = tune_seeds if tune else report_seeds
        variants = [("rules", rules, False), ("pace off", replace(rules, weight_pace=0.0), False)]
        if queue_rules.groups < QueueRules.groups:
            variants.append(("earlier days' pace", rules, True))
        for label, used, pooled in variants:
            judged, earlier = [], deque(maxlen=used.pace_days)
            for seed in seed_range(seeds):
                day = simulate_queue_day(seed, queue_rules)
                if not len(day.transactions):
                    continue
                pace = sum(earlier, PaceSamples()) if pooled else PaceSamples()
                result = link_day(day.transactions, day.visits, used, clock_offset_s=0.0, earlier_pace=pace)
                earlier.append(result.pace)
                got = judge(day, result.links, greedy_visits(day, 0.0, used))
                judged.append(got.assign(walkout=day.truth["walkout_in_queue"].to_numpy()))
            sales = pd.concat(judged, ignore_index=True)
            for part_name, part in (
                ("all", sales),
                ("with a walk-out", sales[sales["walkout"]]),
                ("without", sales[~sales["walkout"]]),
            ):
                name = f"{kind} ({seeds}), {label}: {part_name}"
                print(f"{name:52} {len(part):6d} {part['right_visit'].mean():12.3f} {part['ambiguous'].mean():10.3f}")


def counter_days(seeds: str, rules: LinkRules) -> None:
    scenarios = (
        ("synchronised clocks, offset given as 0", False, True),
        ("synchronised clocks, offset estimated", False, False),
        ("till clock off by up to 10 min, offset estimated", True, False),
    )
    for label, drifted, given in scenarios:
        judged, offset_errors, started = [], [], time.perf_counter()
        for seed in seed_range(seeds):
            offset = float(np.random.default_rng(seed + 5000).uniform(-600, 600)) if drifted else 0.0
            day = simulate_counter_day(seed, offset)
            result = link_day(day.transactions, day.visits, rules, clock_offset_s=offset if given else None)
            offset_errors.append(abs(result.clock_offset.applied_seconds - offset))
            judged.append(judge(day, result.links, greedy_visits(day, offset, rules)))
        sales = pd.concat(judged, ignore_index=True)
        took = time.perf_counter() - started
        print(f"\n{label}: seeds {seeds}, {len(sales)} sales, {took:.1f} s")
        print(f"{'':14} {'sales':>6} {'right visit':>12} {'right person':>13} {'ambiguous':>10} {'greedy':>8}")
        for name, low, high in BINS + (("all", 0, 99),):
            part = sales[(sales["present"] >= low) & (sales["present"] <= high)]
            print(
                f"{name:14} {len(part):6d} {part['right_visit'].mean():12.3f} {part['right_person'].mean():13.3f}"
                f" {part['ambiguous'].mean():10.3f} {part['greedy_right'].mean():8.3f}"
            )
        unpaid = sales[sales["unpaid"]]
        print(f"unpaid sales: {len(unpaid)}, linked to the right person {unpaid['right_person'].mean():.3f}")
        errors = np.array(offset_errors)
        print(f"clock offset error: median {np.median(errors):.1f} s, max {errors.max():.1f} s")


if __name__ == "__main__":
    main()
