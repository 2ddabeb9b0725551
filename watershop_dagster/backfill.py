"""Materializing days the way `watershop materialize` does it, on Dagster's own in-process execution.

Every piece of work is one Dagster run in the instance at DAGSTER_HOME (it shows in the UI as if launched
there). With one worker, each shop day is one run of `daily_job`, in day order. With more, each shop day is
cut into phases, and what may run at once follows from the assets' declared reads (`day_phases`):
- `footage`: the analysis and tracks (decoding, faces, bodies: the expensive part) read nothing of other
  days, so the analysis of any shop days can run at once;
- `history`: the tables later days read as history (the registry, identity evidence, the till and its
  links) and what they are made of: a shop's days run in day order;
- `tables`: the day's own tables, which read earlier days of history tables only: any days at once, each
  after its own history;
- `charts`: what reads earlier days of the day's tables (the 30-day charts) and what follows from them (the
  day's report): each after the days its window covers.
A run waits for exactly the runs that write what it reads (`plan_runs`). Different shops are independent,
unless the chain shares identities: then a shop's history waits for every shop's previous day. A shop's
all-days tables and month reports follow its days; the chain's day follows every shop's day.

The runs go to that many worker processes, forked once from this one (Dagster is imported once; each worker
loads the models once) and limited to their share of the cores; ready history runs go first, then the
longest chains (`start_order`).
Only the warehouse connections meet: each waits for the DuckDB file's gate (or retries a DuckLake commit
conflict); there is no Dagster pool (see `warehouse_asset`).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

TAGS = {"watershop/launched_by": "cli"}
# The phase of a split day (a whole daily_job run carries its job's tag, footage): the deployment's run queue
# limits footage runs by this tag (deploy/dagster.yaml).
KIND_TAG = "watershop/kind"
PHASES = ("footage", "history", "tables", "charts")
# For the critical path: each kind of run's seconds on a demo day (bench/scale_out.py, 2 workers, 4 days):
# footage 6-9 s, history 3, tables 3-4.5, charts 1.7-2.8, a shop's all-days tables 3-4.5 (growing with the
# days), a month report 2, a chain day 0.7-1, the chain's month 0.5. By phase for a day's runs, else by job.
_SECONDS = {"footage": 8.0, "history": 3.0, "tables": 4.0, "charts": 2.0, "all": 17.0,
            "cross_day_job": 4.0, "monthly_job": 2.0, "chain_daily_job": 1.0, "chain_monthly_job": 0.5}  # fmt: skip


@dataclass(frozen=True)
class RunRequest:
    """One Dagster run: a job, a partition key and (optionally) one phase of a day's assets."""

    job: str
    key: str
    label: str
    shop: str | None = None
    phase: str = "all"  # one of PHASES, or "all": the whole job

    @property
    def selection(self) -> list[dg.AssetKey] | None:
        if self.phase == "all":
            return None
        keys = list(_job_keys(self.job))
        phases = day_phases(frozenset(k.to_user_string() for k in keys))
        return sorted(k for k in keys if phases[k.to_user_string()] == self.phase)


def _reads(table: str) -> tuple:
    from watershop_dagster.defs.warehouse_asset import DECLARATIONS

    return DECLARATIONS[table].reads if table in DECLARATIONS else ()


def _reads_earlier_days(read) -> bool:
    return read.scope in ("before", "all") or (read.scope == "window" and read.days > 1)


def history_free(day_assets: set[str] | frozenset[str]) -> set[str]:
    """The day's assets whose declared reads, followed through the day's other assets, never reach an
    earlier day (no `before`, `all` or multi-day `window` read): their work for any shop days can run at
    once. Today: the footage analysis and the face and body tracks; the till's ingest already reads earlier
    days (duplicate transaction IDs), and everything after identities reads the registry."""
    memo: dict[str, bool] = {}

    def reads_history(table: str) -> bool:
        if table not in memo:
            memo[table] = False  # a cycle (an asset reading its own earlier days) is caught by its scope
            memo[table] = any(
                _reads_earlier_days(r) or (r.table in day_assets and reads_history(r.table)) for r in _reads(table)
            )
        return memo[table]

    return {a for a in day_assets if not reads_history(a)}


@functools.cache
def day_phases(day_assets: frozenset[str]) -> dict[str, str]:
    """The phase (PHASES) of each of the day's assets, from their declared reads; see the module's doc. A
    multi-asset runs whole, and its tables share one declaration of reads: they take the earliest phase among
    them (a registry's visit log is history, because the registry is)."""
    from watershop_dagster.defs.warehouse_asset import DECLARATIONS

    def same_day(table: str) -> set[str]:  # every scope but `before` includes the day itself
        return {r.table for r in _reads(table) if r.table in day_assets and r.scope != "before"}

    footage = history_free(day_assets)
    history: set[str] = set()
    seeds = [r.table for t in day_assets for r in _reads(t) if r.table in day_assets and r.scope in ("before", "all")]
    while seeds:  # what later days read as history, and what it is made of
        table = seeds.pop()
        if table not in history and table not in footage:
            history.add(table)
            seeds += same_day(table)
    charts = {
        t
        for t in day_assets - footage - history
        if any(_reads_earlier_days(r) and r.table in day_assets - footage - history for r in _reads(t))
    }
    grew = True
    while grew:  # and what reads them on the same day
        follow = {t for t in day_assets - charts if same_day(t) & charts}
        grew = bool(follow)
        charts |= follow
    phases = {
        t: "footage" if t in footage else "history" if t in history else "charts" if t in charts else "tables"
        for t in day_assets
    }
    ops: dict[str, list[str]] = {}
    for t in day_assets:
        ops.setdefault(DECLARATIONS[t].asset if t in DECLARATIONS else t, []).append(t)
    for tables in ops.values():
        earliest = min((phases[t] for t in tables), key=PHASES.index)
        phases.update(dict.fromkeys(tables, earliest))
    for t in day_assets:
        late = [u for u in same_day(t) if PHASES.index(phases[u]) > PHASES.index(phases[t])]
        if late:
            raise RuntimeError(f"{t} ({phases[t]}) reads {late} of the same day, which a later phase writes")
    return phases


def step_errors(result) -> list[tuple[str, str]]:
    """(step, message) for each failed step of an in-process run."""
    return [(e.step_key, e.event_specific_data.error.message.strip()) for e in result.all_events if e.is_step_failure]


def _run_config() -> dict:
    return {"loggers": {"console": {"config": {"log_level": os.environ.get("WATERSHOP_LOG_LEVEL", "INFO")}}}}


def process_instance() -> dg.DagsterInstance:
    """This process's Dagster instance, made once: `DagsterInstance.get()` reads dagster.yaml and opens its
    storages, about 0.1 s a run. Keyed by PID so that a forked worker makes its own (and by DAGSTER_HOME)."""
    return _instance_of(os.getpid(), os.environ.get("DAGSTER_HOME", ""))


@functools.cache
def _instance_of(pid: int, home: str) -> dg.DagsterInstance:
    return dg.DagsterInstance.get()


def execute(request: RunRequest) -> tuple[bool, list[str]]:
    """One run, in this process (also a worker's entry point): success, and lines for the log."""
    from watershop_dagster.definitions import defs

    started, cpu_started = time.perf_counter(), time.process_time()
    result = defs.resolve_job_def(request.job).execute_in_process(
        partition_key=request.key,
        instance=process_instance(),
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
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    status = "ok" if result.success else "FAILED"
    lines = [f"{request.label}: {status} (run {result.run_id[:8]}, {seconds:.1f} s, {cpu:.1f} CPU s)"]
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


def plan_runs(days: list[date], shops: list[str], split: bool) -> dict[RunRequest, list[RunRequest]]:
    """Every run of the backfill, each with the runs it must follow (a dependency graph, in a valid order).
    `split`: a shop day as one run per phase (for several workers), else one run of the whole day. Every run
    (a day's phase, a shop's all-days tables, a month report, the chain's day and month) follows exactly the
    runs that write the days and shops of the tables its assets declare they read."""
    from watershop_dagster.core.insights.report_data import month_span
    from watershop_dagster.defs.partitions import shop_day_key, shop_month_key

    days = sorted(days)
    day_assets = frozenset(k.to_user_string() for k in _job_keys("daily_job"))
    phase_of = day_phases(day_assets) if split else dict.fromkeys(day_assets, "all")
    tables_of: dict[str, list[str]] = {}
    for table, phase in phase_of.items():
        tables_of.setdefault(phase, []).append(table)
    tables_of.update({job: _tables(job) for job in ("cross_day_job", "monthly_job", "chain_daily_job",
                                                     "chain_monthly_job")})  # fmt: skip
    writer: dict[tuple[str, date, str | None], RunRequest] = {}  # (table, day, shop or None for the chain)
    after: dict[RunRequest, list[RunRequest]] = {}

    def planned(first: date, last: date) -> list[date]:
        return [d for d in days if first <= d <= last]

    def previous(d: date) -> list[date]:
        """The backfill's day before d, if any."""
        return planned(date.min, d - timedelta(days=1))[-1:]

    def add(run: RunRequest, tables: Iterable[str], d: date, shop: str | None, also: Iterable[RunRequest] = ()):
        """Plan `run`, which writes `tables` for day `d` (or up to it) of `shop` (None: every shop)."""
        needs: dict[RunRequest, None] = dict.fromkeys(also)  # ordered, without repeats
        earlier = previous(d)
        for table in tables:
            for read in _reads(table):
                read_days = {
                    "before": earlier,
                    "window": planned(d - timedelta(days=read.days - 1), d),
                    "all": planned(date.min, d),
                }.get(read.scope, [d])
                read_shops = shops if read.chain or shop is None else [shop]
                for rd in read_days:
                    # None: a chain table; a table no planned run writes (forgotten customers, corrections,
                    # the run's own tables) is left out
                    for rs in (*read_shops, None):
                        if (read.table, rd, rs) in writer:
                            needs[writer[read.table, rd, rs]] = None
        needs.pop(run, None)
        after[run] = list(needs)

    day_runs: dict[tuple[date, str, str], RunRequest] = {}
    for d in days:
        for s in shops:
            for phase in PHASES if split else ("all",):
                label = f"{d} {s}" + (f" {phase}" if split else "")
                run = day_runs[d, s, phase] = RunRequest("daily_job", shop_day_key(d, s), label, s, phase)
                # a shop's history in day order (so that a `before` read needs only the previous day)
                in_order = [day_runs[e, s, phase] for e in previous(d)] if phase in ("history", "all") else []
                add(run, tables_of[phase], d, s, also=in_order)
                writer.update({(t, d, s): run for t in tables_of[phase]})
    months = sorted({month_span(d) for d in days})
    for s in shops:  # a shop's all-days tables and its month reports read the shop's days (up to then)
        add(RunRequest("cross_day_job", s, f"{s} all-days tables", s), tables_of["cross_day_job"], days[-1], s)
        for month, month_end in months:
            report = RunRequest("monthly_job", shop_month_key(month, s), f"{month:%Y-%m} {s} report", s)
            add(report, tables_of["monthly_job"], month_end, s)
    for d in days:  # the chain's day reads that day of every shop
        chain_day = RunRequest("chain_daily_job", d.isoformat(), f"{d} chain")
        add(chain_day, tables_of["chain_daily_job"], d, None)
        writer.update({(t, d, None): chain_day for t in tables_of["chain_daily_job"]})
    for month, month_end in months:
        chain_month = RunRequest("chain_monthly_job", month.isoformat(), f"{month:%Y-%m} chain report")
        add(chain_month, tables_of["chain_monthly_job"], month_end, None)
    return after


def _tables(job: str) -> list[str]:
    return sorted(k.to_user_string() for k in _job_keys(job))


def _job_keys(job: str) -> Iterable[dg.AssetKey]:
    from watershop_dagster.definitions import defs

    return defs.resolve_job_def(job).asset_layer.selected_asset_keys


def critical_path_first(graph: dict[RunRequest, list[RunRequest]]) -> dict[RunRequest, float]:
    """Each run's priority: the (typical) seconds of the longest chain of runs from its start to the end of
    the backfill: of two runs that can start, the one more of the backfill waits on."""
    followers: dict[RunRequest, list[RunRequest]] = {r: [] for r in graph}
    for run, needs in graph.items():
        for need in needs:
            followers[need].append(run)
    remaining: dict[RunRequest, float] = {}
    for run in reversed(list(graph)):  # the graph is in a valid order: followers come later
        tail = max((remaining[f] for f in followers[run]), default=0.0)
        remaining[run] = _SECONDS[run.phase if run.job == "daily_job" else run.job] + tail
    return remaining


def start_order(graph: dict[RunRequest, list[RunRequest]]) -> list[RunRequest]:
    """The order in which runs start once what they follow is done (a preference among ready runs, not a
    dependency order): a shop's history runs first, then the longest chains (`critical_path_first`). A
    history run waits for the previous day's, so one that can start is the link every later day of its shop
    waits for; left behind a footage run (as the longest chain alone would leave it: measured, the four
    history runs of a 4-day backfill then ran one after another once all the footage was done), it holds up
    the whole tail of the backfill."""
    priority = critical_path_first(graph)
    return sorted(graph, key=lambda r: (r.phase != "history", -priority[r]))


def next_to_start(
    waiting: list[RunRequest], graph: dict[RunRequest, list[RunRequest]], done: set[RunRequest], free: int
) -> list[RunRequest]:
    """Up to `free` runs of `waiting` (in `start_order`) whose runs to follow are all done."""
    return [r for r in waiting if all(n in done for n in graph[r])][:free]


def materialize_days(days: list[date], shops: list[str], workers: int = 1, log: Callable[[str], None] = print) -> bool:
    """Every asset of every shop's day, then the all-days, monthly and chain assets. False if a run failed."""
    graph = plan_runs(days, shops, split=workers > 1)
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
    waiting = start_order(graph)
    running: dict[Future, RunRequest] = {}
    # fork: the workers start at once with Dagster and the definitions already imported. Safe here: this
    # process only plans (no models, no warehouse connection, no threads besides the main one).
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, fork, initializer=_start_worker, initargs=(threads,)) as pool:
        while waiting or running:
            for request in next_to_start(waiting, graph, done, workers - len(running)):
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
