"""Helpers that tests and benchmarks share: a plain module, imported by name (never through conftest)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from watershop_dagster.core.identities.suggestions import in_rank_order

REPO = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2024, 3, 4)


def shared_data_dir() -> Path | None:
    """Real photos and clips (../shared/data), through WATERSHOP_SHARED_DATA; tests that need them skip
    with a reason when they are absent."""
    path = Path(os.environ.get("WATERSHOP_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if (path / "faces").is_dir() else None


@contextmanager
def machine_zone(zone: str) -> Iterator[None]:
    """The process's local time zone set to `zone` (TZ) for the block, then put back: shop times are naive,
    and nothing should read them in the machine's zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def till_only_world(data_dir: Path, days: int = 3) -> list[date]:
    """A few days of till exports (no footage), the second day with two malformed rows."""
    from watershop_dagster.sim.shop import Person, ShopSimulator, write_till_day

    people = [Person(f"p{i}", ("x",), regular=i < 2, ledger_id=f"L{i}" if i < 2 else None) for i in range(6)]
    sim = ShopSimulator(people, [], seed=3, visits_per_day=20, unpaid_share=0.3)
    out = []
    for i in range(days):
        day = FIRST_DAY + timedelta(days=i)
        write_till_day(sim.plan_day(day, i), data_dir / "transactions", malformed=2 if i == 1 else 0)
        out.append(day)
    return out


def resources_for(data_dir: Path) -> dict:
    """The code location's resources pointed at one data folder."""
    from watershop_dagster.defs.resources import FaceEngineResource, ShopDataResource, WarehouseResource

    return {
        "shop": ShopDataResource(data_dir=str(data_dir)),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "faces": FaceEngineResource(),
    }


def ephemeral_instance():
    """An ephemeral Dagster instance without compute-log capture, for every test and benchmark that runs jobs.
    The capture's `tail -F` mirrors of each run's output fall back to polling when the machine is out of
    inotify instances, and then take a minute per run to stop: seen once in a full test run, where every run
    of the browser's merge took 60 s and the browser gave up waiting for the page."""
    import dagster as dg

    return dg.instance_for_test(
        overrides={
            "compute_logs": {
                "module": "dagster._core.storage.noop_compute_log_manager",
                "class": "NoOpComputeLogManager",
            }
        }
    )


def register_shops(instance, *shops: str) -> None:
    """Make the shops known to a test instance (the shop_folders sensor does this in a deployment)."""
    new = [s for s in shops if not instance.has_dynamic_partition("shops", s)]
    if new:
        instance.add_dynamic_partitions("shops", new)


def run_shop_day(defs, instance, day, shop: str = "main", **kwargs):
    """The daily job for one shop's day, in process."""
    from watershop_dagster.defs.partitions import shop_day_key

    register_shops(instance, shop)
    return defs.resolve_job_def("daily_job").execute_in_process(
        partition_key=shop_day_key(day, shop), instance=instance, raise_on_error=False, **kwargs
    )


def run_shop_job(defs, instance, job: str, key: str, shop: str = "main"):
    """A per-shop job (cross_day_job: key is the shop; monthly_job: key is a shop_month_key)."""
    register_shops(instance, shop)
    return defs.resolve_job_def(job).execute_in_process(partition_key=key, instance=instance, raise_on_error=False)


def eval_world(data_dir: Path, customers: int = 5, days: int = 2, visits_per_day: int = 6, seed: int = 5) -> list[date]:
    """Days built with the evaluation generator from real photos (needs WATERSHOP_SHARED_DATA)."""
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.world import eval_cast, write_world

    shared = shared_data_dir()
    assert shared is not None
    out = [date(2024, 4, 1) + timedelta(days=i) for i in range(days)]
    cast = eval_cast(FaceEngine.from_models(), shared / "faces", customers=customers, seed=seed)
    write_world(data_dir, out, cast, visits_per_day=visits_per_day, seed=seed)
    return out


def true_people(truth_dir: Path, visit_log) -> dict[str, str]:
    """Each predicted customer ID -> the simulated person most of its visits were (the owner's knowledge)."""
    from collections import Counter

    from watershop_dagster.evaluation.scoring import load_truth, match_visits

    truth = load_truth(truth_dir)
    truth = truth[~truth["is_staff"]].reset_index(drop=True)
    pred = visit_log[~visit_log["is_staff"].astype(bool)].copy()
    pred["day"] = pred["day"].astype(str)
    votes: dict[str, Counter] = {}
    for day in sorted(set(truth["day"])):
        t_day, p_day = truth[truth["day"] == day], pred[pred["day"] == day]
        for ti, pi, _ in match_visits(t_day, p_day):
            votes.setdefault(pred.loc[pi, "customer_id"], Counter())[truth.loc[ti, "person"]] += 1
    return {cid: c.most_common(1)[0][0] for cid, c in votes.items()}


def follow_suggestions(wh, data_dir: Path, defs, instance, run_config: dict | None, max_rounds: int = 6) -> dict:
    """The owner going down the suggested merges in order, answering each from the truth: merge when the two
    IDs are one person, 'not the same person' otherwise; the warehouse is brought up to date after each pass
    over the list. Returns the BCubed F1 before and after and how many suggestions were looked at."""
    from watershop_dagster.evaluation.scoring import load_truth, score_visits
    from watershop_dagster.identity_commands import correct, days_from

    truth_dir = data_dir / "truth"

    def f1() -> float:
        return score_visits(load_truth(truth_dir), wh.query("SELECT * FROM visit_log")).bcubed_f1

    before, looked, merges, apart, rounds = f1(), 0, 0, 0, 0
    while rounds < max_rounds and f1() < 1.0:
        suggestions = in_rank_order(wh.query("SELECT * FROM identity_suggestions"))
        if suggestions.empty:
            break
        rounds += 1
        people = true_people(truth_dir, wh.query("SELECT * FROM visit_log"))
        touched: set[str] = set()
        for s in suggestions.itertuples():
            if {s.customer_id_a, s.customer_id_b} & touched:
                continue  # its IDs changed in this pass: look again after the update
            looked += 1
            same = people.get(s.customer_id_a) is not None and people.get(s.customer_id_a) == people.get(
                s.customer_id_b
            )
            kind = "merge" if same else "not_same"
            merges, apart = merges + same, apart + (not same)
            correct(wh, data_dir, defs, instance, kind, [s.customer_id_a, s.customer_id_b], apply=False, who="bench")
            touched |= {s.customer_id_a, s.customer_id_b}
        from watershop_dagster.identity_commands import refresh

        refresh(defs, instance, days_from(wh, date.min), lambda _m: None, run_config)
    return {
        "f1_before": before,
        "f1_after": f1(),
        "looked_at": looked,
        "merges": merges,
        "not_same": apart,
        "rounds": rounds,
    }
