"""Materializing days the way `watershop materialize` does it, on Dagster's own in-process execution.

For each shop and day: the footage analysis (the expensive part: decoding, faces, bodies) of up to `workers`
partitions at once, in worker processes; then the rest of each shop's day in day order (day N's registry reads
day N-1's); then each shop's all-days tables and month reports, and the chain's roll-up. Every run is a
Dagster run in the instance at DAGSTER_HOME, so it shows in the UI as if launched there.

Only the warehouse writes meet: the analysis runs outside the `warehouse` pool, and its write waits for the
DuckDB file's lock (or retries a DuckLake commit conflict) like any other writer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

# The assets whose work can run in parallel across partitions: they read nothing of earlier days.
HEAVY = ("footage_manifest", "frames", "face_detections", "face_embeddings", "person_detections")
TAGS = {"watershop/launched_by": "cli"}


@dataclass
class Outcome:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def add(self, label: str, result) -> None:
        self.ok &= result.success
        self.lines.append(f"{label}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})")
        self.lines += [f"  {step}: {message}" for step, message in step_errors(result)]


def step_errors(result) -> list[tuple[str, str]]:
    """(step, message) for each failed step of an in-process run."""
    return [(e.step_key, e.event_specific_data.error.message.strip()) for e in result.all_events if e.is_step_failure]


def _run_config() -> dict:
    return {"loggers": {"console": {"config": {"log_level": os.environ.get("WATERSHOP_LOG_LEVEL", "INFO")}}}}


def _tags(shop: str | None = None) -> dict[str, str]:
    return {**TAGS, "watershop/pid": str(os.getpid()), **({"watershop/shop": shop} if shop else {})}


def register_shops(instance: dg.DagsterInstance, shops: list[str]) -> list[str]:
    """Add the shops Dagster does not know yet as partitions; returns the new ones."""
    from watershop_dagster.defs.partitions import shop_partitions

    name = shop_partitions.name or "shops"
    new = [s for s in shops if not instance.has_dynamic_partition(name, s)]
    if new:
        instance.add_dynamic_partitions(name, new)
    return new


def analyse_partition(day: str, shop: str) -> tuple[bool, list[str]]:
    """The footage assets of one shop's day, in this process (a worker's entry point)."""
    from watershop_dagster.definitions import defs
    from watershop_dagster.defs.partitions import shop_day_key

    job = defs.resolve_job_def("daily_job")
    result = job.execute_in_process(
        partition_key=shop_day_key(day, shop),
        instance=dg.DagsterInstance.get(),
        asset_selection=[dg.AssetKey(k) for k in HEAVY],
        raise_on_error=False,
        run_config=_run_config(),
        tags={**_tags(shop), "watershop/phase": "footage"},
    )
    outcome = Outcome()
    outcome.add(f"{day} {shop} footage", result)
    return outcome.ok, outcome.lines


def materialize_days(days: list[date], shops: list[str], workers: int = 1, log: Callable[[str], None] = print) -> bool:
    """Every asset of every shop's day, then the all-days, monthly and chain assets. False if a run failed."""
    from watershop_dagster.definitions import defs
    from watershop_dagster.defs.partitions import shop_day_key, shop_month_key

    instance = dg.DagsterInstance.get()
    outcome = Outcome()
    rest = None
    if workers > 1:
        partitions = [(d.isoformat(), s) for d in days for s in shops]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(analyse_partition, d, s) for d, s in partitions]
            for future in as_completed(futures):
                ok, lines = future.result()
                outcome.ok &= ok
                for line in lines:
                    log(line)
        job = defs.resolve_job_def("daily_job")
        rest = [k for k in job.asset_layer.selected_asset_keys if k.to_user_string() not in HEAVY]

    def run(job: str, key: str, label: str, shop: str | None = None, selection=None) -> None:
        result = defs.resolve_job_def(job).execute_in_process(
            partition_key=key,
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
            run_config=_run_config(),
            tags=_tags(shop),
        )
        outcome.add(label, result)

    for d in days:
        for s in shops:
            run("daily_job", shop_day_key(d, s), f"{d} {s}", s, rest)
    for s in shops:
        run("cross_day_job", s, f"{s} all-days tables", s)
    months = sorted({d.replace(day=1) for d in days})
    for month in months:
        for s in shops:
            run("monthly_job", shop_month_key(month, s), f"{month:%Y-%m} {s} report", s)
    for d in days:
        run("chain_daily_job", d.isoformat(), f"{d} chain")
    for month in months:
        run("chain_monthly_job", month.isoformat(), f"{month:%Y-%m} chain report")
    for line in outcome.lines:
        log(line)
    return outcome.ok
