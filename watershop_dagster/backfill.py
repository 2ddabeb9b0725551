"""Materializing days the way `watershop materialize` does it, on Dagster's own in-process execution.

Every piece of work is one Dagster run in the instance at DAGSTER_HOME (it shows in the UI as if launched
there). What may run at once follows from the assets' declarations:
- a shop day's footage analysis and tracks (decoding, faces, bodies: the expensive part) read nothing of
  other days (`history_free`, from the declarations), so the analysis of any shop days can run at once;
- the rest of a shop's day (identities, links, SQL tables, reports) reads the registry as it stood after the
  shop's previous day, so a shop's days run in day order, each after its own analysis; different shops are
  independent (unless the chain shares identities: then each day waits for every shop's previous day);
- a shop's all-days tables and month reports follow its last day; the chain's roll-up follows every shop.

With `workers` > 1 the runs go to that many worker processes, each started once (Dagster and the models load
once per worker) and limited to its share of the cores. Only the warehouse writes meet: the analysis runs
outside the `warehouse` pool, and its write waits for the DuckDB file's lock (or retries a DuckLake commit
conflict) like any other writer.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date

import dagster as dg

TAGS = {"watershop/launched_by": "cli"}
# footage / rest, for a split day (a whole daily_job run carries its job's tag, footage): the deployment's run
# queue limits footage runs by this tag (deploy/dagster.yaml).
KIND_TAG = "watershop/kind"


@dataclass(frozen=True)
class RunRequest:
    """One Dagster run: a job, a partition key and (optionally) a subset of the job's assets."""

    job: str
    key: str
    label: str
    shop: str | None = None
    phase: str = "all"  # "footage": the heavy assets only; "rest": the others; "all": the whole job

    @property
    def selection(self) -> list[dg.AssetKey] | None:
        if self.phase == "all":
            return None
        from watershop_dagster.definitions import defs

        keys = defs.resolve_job_def(self.job).asset_layer.selected_asset_keys
        free = history_free({k.to_user_string() for k in keys})
        return sorted(k for k in keys if (k.to_user_string() in free) == (self.phase == "footage"))


def history_free(day_assets: set[str]) -> set[str]:
    """The day's assets whose declared reads, followed through the day's other assets, never reach an
    earlier day (no `before`, `all` or multi-day `window` read): their work for any shop days can run at
    once. Today: the footage analysis and the face and body tracks; the till's ingest already reads earlier
    days (duplicate transaction IDs), and everything after identities reads the registry."""
    from watershop_dagster.defs.warehouse_asset import DECLARATIONS

    memo: dict[str, bool] = {}

    def reads_history(table: str) -> bool:
        if table not in memo:
            memo[table] = False  # a cycle (an asset reading its own earlier days) is caught by its scope
            reads = DECLARATIONS[table].reads if table in DECLARATIONS else ()
            memo[table] = any(
                r.scope in ("before", "all")
                or (r.scope == "window" and r.days > 1)
                or (r.table in day_assets and reads_history(r.table))
                for r in reads
            )
        return memo[table]

    return {a for a in day_assets if not reads_history(a)}


def step_errors(result) -> list[tuple[str, str]]:
    """(step, message) for each failed step of an in-process run."""
    return [(e.step_key, e.event_specific_data.error.message.strip()) for e in result.all_events if e.is_step_failure]


def _run_config() -> dict:
    return {"loggers": {"console": {"config": {"log_level": os.environ.get("WATERSHOP_LOG_LEVEL", "INFO")}}}}


def execute(request: RunRequest) -> tuple[bool, list[str]]:
    """One run, in this process (also a worker's entry point): success, and lines for the log."""
    from watershop_dagster.definitions import defs

    started = time.perf_counter()
    result = defs.resolve_job_def(request.job).execute_in_process(
        partition_key=request.key,
        instance=dg.DagsterInstance.get(),
        asset_selection=request.selection,
        raise_on_error=False,
        run_config=_run_config(),
        tags={
            **TAGS,
            "watershop/pid": str(os.getpid()),
            **({KIND_TAG: request.phase} if request.phase != "all" else {}),  # else the job's own tags
            **({"watershop/shop": request.shop} if request.shop else {}),
        },
    )
    seconds = time.perf_counter() - started
    status = "ok" if result.success else "FAILED"
    lines = [f"{request.label}: {status} (run {result.run_id[:8]}, {seconds:.1f} s)"]
    lines += [f"  {step}: {message}" for step, message in step_errors(result)]
    return result.success, lines


def _start_worker(threads: int) -> None:
    """A worker's share of the cores for the models' onnxruntime sessions (read by FaceEngineResource)."""
    from watershop_dagster.defs.resources import MODEL_THREADS_VARIABLE

    os.environ[MODEL_THREADS_VARIABLE] = str(threads)


def register_shops(instance: dg.DagsterInstance, shops: list[str]) -> list[str]:
    """Add the shops Dagster does not know yet as partitions; returns the new ones."""
    from watershop_dagster.defs.partitions import shop_partitions

    name = shop_partitions.name or "shops"
    new = [s for s in shops if not instance.has_dynamic_partition(name, s)]
    if new:
        instance.add_dynamic_partitions(name, new)
    return new


def plan_runs(
    days: list[date], shops: list[str], split_footage: bool, shared_identities: bool = False
) -> dict[RunRequest, list[RunRequest]]:
    """Every run of the backfill, each with the runs it must follow (a dependency graph, in a valid order)."""
    from watershop_dagster.defs.partitions import shop_day_key, shop_month_key

    after: dict[RunRequest, list[RunRequest]] = {}
    days = sorted(days)
    last_rest: dict[str, RunRequest] = {}
    for d in days:
        previous = dict(last_rest)
        for s in shops:
            needs = [previous[s]] if s in previous else []
            if shared_identities:  # the registry is the chain's: a day follows every shop's previous day
                needs = list(previous.values())
            if split_footage:
                footage = RunRequest("daily_job", shop_day_key(d, s), f"{d} {s} footage", s, "footage")
                after[footage] = []
                needs = [*needs, footage]
            rest = RunRequest("daily_job", shop_day_key(d, s), f"{d} {s}", s, "rest" if split_footage else "all")
            after[rest] = needs
            last_rest[s] = rest
    months = sorted({d.replace(day=1) for d in days})
    for s in shops:
        shop_days = [last_rest[s]]
        cross = RunRequest("cross_day_job", s, f"{s} all-days tables", s)
        after[cross] = shop_days
        for month in months:
            after[RunRequest("monthly_job", shop_month_key(month, s), f"{month:%Y-%m} {s} report", s)] = [cross]
    shop_runs = [r for r in after if r.job in ("cross_day_job", "monthly_job")]
    chain_days = []
    for d in days:
        chain_day = RunRequest("chain_daily_job", d.isoformat(), f"{d} chain")
        after[chain_day] = shop_runs
        chain_days.append(chain_day)
    for month in months:
        after[RunRequest("chain_monthly_job", month.isoformat(), f"{month:%Y-%m} chain report")] = chain_days
    return after


def materialize_days(days: list[date], shops: list[str], workers: int = 1, log: Callable[[str], None] = print) -> bool:
    """Every asset of every shop's day, then the all-days, monthly and chain assets. False if a run failed."""
    from watershop_dagster.defs.partitions import identities_shared

    graph = plan_runs(days, shops, split_footage=workers > 1, shared_identities=identities_shared())
    all_ok = True
    if workers <= 1:
        for request in graph:
            ok, lines = execute(request)
            all_ok &= ok
            for line in lines:
                log(line)
        return all_ok
    threads = max(1, (os.cpu_count() or 1) // workers)
    done: set[RunRequest] = set()
    waiting = list(graph)  # in plan order: earlier days first
    running: dict[Future, RunRequest] = {}
    # spawn, not fork: a worker must not inherit the parent's loaded definitions or onnxruntime threads.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, spawn, initializer=_start_worker, initargs=(threads,)) as pool:
        while waiting or running:
            # The rest of a shop's day first (it holds up the next day), then the analysis of the earliest days.
            ready = [r for r in waiting if all(n in done for n in graph[r])]
            ready.sort(key=lambda r: r.phase == "footage")
            for request in ready[: workers - len(running)]:
                waiting.remove(request)
                running[pool.submit(execute, request)] = request
            if not running:
                raise RuntimeError(f"no run can start: {[r.label for r in waiting]} wait on runs never planned")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                request = running.pop(future)
                ok, lines = future.result()
                all_ok &= ok
                for line in lines:
                    log(line)
                # A failed run's dependants still run: they fail on its missing tables with a clear message,
                # and every other shop and day goes on.
                done.add(request)
    return all_ok
