"""`watershop`: a thin front to Dagster's own execution. Runs are recorded in the Dagster instance at
DAGSTER_HOME, so everything done here shows in the UI (`dagster dev`) as if launched from there."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

INSTANCE_YAML = """\
# Written by `watershop` on first use.
# Dagster's instance, whose default SQLite storage (its own layout, under this folder) makes each database's
# engine once per process instead of once per connection (watershop_dagster/instance_storage.py).
instance_class:
  module: watershop_dagster.instance_storage
  class: WatershopInstance
concurrency:
  runs:
    tag_concurrency_limits:
      # identity refreshes after an owner's correction: one shop's days one at a time, in day order
      - key: watershop/identity_refresh
        value:
          applyLimitPerUniqueValue: true
        limit: 1
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _days(args) -> list[date]:
    if args.day:
        return [date.fromisoformat(args.day)]
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    if end < start:
        raise SystemExit(f"--to {end} is before --from {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def release_dead_runs(instance, log=print) -> int:
    """A `watershop` process that died mid-run (killed, power cut) leaves its run 'started' (and any
    concurrency slot it held taken). Runs this command started carry its PID: mark those whose process is
    gone as failed and give their slots back. The warehouse's own lock died with the process."""
    import dagster as dg

    released = 0
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING], tags={"watershop/launched_by": "cli"}
        )
    )
    for run in runs:
        pid = int(run.tags.get("watershop/pid", "0") or 0)
        if pid and pid != os.getpid() and not _alive(pid):
            instance.report_run_failed(run, f"the watershop process (pid {pid}) running it died")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            log(f"released run {run.run_id[:8]} of a watershop process that died (pid {pid})")
            released += 1
    return released


def materialize(days: list[date], log=print, shop: str | None = None, workers: int = 1) -> bool:
    """Every asset of each shop's days (all shops unless `shop` names one): see watershop_dagster.backfill.
    Returns False if any run failed."""
    from watershop_dagster.backfill import materialize_days, process_instance, register_shops
    from watershop_dagster.defs.partitions import daily_partitions
    from watershop_dagster.defs.resources import default_resources

    ensure_dagster_home()
    instance = process_instance()  # the runs' instance too
    release_dead_runs(instance, log)
    valid = set(daily_partitions.get_partition_keys())
    bad = [d for d in days if d.isoformat() not in valid]
    if bad:
        first, last = min(valid), max(valid)
        log(f"error: {', '.join(map(str, bad))} outside the partition range {first}..{last} (WATERSHOP_START_DATE)")
        return False
    shops, problems = default_resources()["shop"].process_config_and_initialize().shops()
    for problem in problems:
        log(f"warning: {problem}")
    if shop is not None and shop not in shops:
        log(f"error: no shop {shop!r} (shops: {', '.join(shops) or 'none'}; a shop is a folder data/shops/<shop>/)")
        return False
    chosen = [shop] if shop else shops or ["main"]
    for new in register_shops(instance, chosen):
        log(f"registered shop {new}")
    return materialize_days(days, chosen, workers, log)


def cmd_materialize(args) -> int:
    return 0 if materialize(_days(args), shop=args.shop, workers=args.workers) else 1


def cmd_demo(args) -> int:
    from watershop_dagster.sim.world import write_demo

    data_dir = Path(os.environ.get("WATERSHOP_DATA_DIR", "data"))
    end = date.fromisoformat(args.end) if args.end else date.today() - timedelta(days=1)
    days = [end - timedelta(days=i) for i in reversed(range(args.days))]
    print(f"writing {len(days)} demo days ({days[0]}..{days[-1]}) under {data_dir}/ ...")
    write_demo(data_dir, days, footage=not args.no_footage)
    if args.no_run:
        return 0
    ok = materialize(days)
    print(
        "\nDone. Look at:\n"
        f"  warehouse   {os.environ.get('WATERSHOP_WAREHOUSE') or data_dir / 'warehouse.duckdb'}\n"
        f"  reports     {data_dir / 'reports'}/\n"
        f"  the UI      make ui   (or DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
        f"{Path(sys.executable).parent / 'dagster'} dev -h 127.0.0.1; then http://127.0.0.1:3000)"
    )
    return 0 if ok else 1


def cmd_forget(args) -> int:
    """Runs the forget_customer_job, so the erasure is a recorded Dagster run as well as an audit-log row."""
    import dagster as dg

    from watershop_dagster.definitions import defs
    from watershop_dagster.defs.privacy import ForgetConfig, run_forget

    ensure_dagster_home()
    config = ForgetConfig(customer_id=args.customer_id, requested_by=args.by, reason=args.reason, shop=args.shop)
    errors = run_forget(defs, dg.DagsterInstance.get(), config)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if errors:
        return 1
    print(f"forgot {args.customer_id}: biometric data erased, anonymous counts kept (audit: table forgotten_customers)")
    print("the raw footage of their visits is not cut: the run's log lists the files (README: Correcting identities)")
    return 0


def cmd_bench(args) -> int:
    bench = Path(__file__).resolve().parents[1] / "bench" / "footage_bench.py"
    import runpy

    sys.argv = [str(bench), args.path, *(["--compare-dense"] if args.compare_dense else [])]
    runpy.run_path(str(bench), run_name="__main__")
    return 0


def cmd_sql(args) -> int:
    """A read-only query against whichever warehouse is configured (DuckDB file or DuckLake), as CSV."""
    from watershop_dagster.core.storage.sql_query import WriteRefused, run_readonly_query
    from watershop_dagster.defs.resources import default_resources

    try:
        warehouse = default_resources()["warehouse"].process_config_and_initialize().get()
        sys.stdout.write(run_readonly_query(warehouse, args.query))
    except (WriteRefused, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="watershop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("materialize", help="materialize every asset for a day or a range of days")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--day", help="YYYY-MM-DD")
    g.add_argument("--from", dest="start", help="first day YYYY-MM-DD (with --to)")
    p.add_argument("--to", dest="end", help="last day YYYY-MM-DD")
    p.add_argument("--shop", help="only this shop (default: every shop under data/shops/, or `main`)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="up to N runs at once in worker processes: any shop days' footage analysis, each shop's days in "
        "order (default 1)",
    )
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("demo", help="write a demo week under the data folder and materialize it")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--end", help="last demo day (default: yesterday)")
    p.add_argument("--no-footage", action="store_true", help="till records only")
    p.add_argument("--no-run", action="store_true", help="write the data, do not materialize")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "forget", help="erase one customer's biometric data everywhere (faces, embeddings, crops); counts stay"
    )
    p.add_argument("customer_id")
    p.add_argument("--by", default=os.environ.get("USER", "unknown"), help="who asked (audit log)")
    p.add_argument("--reason", default="", help="why (audit log)")
    p.add_argument("--shop", default="", help="the shop whose customer this is (needed when there are several)")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("sql", help="run a read-only SQL query against the configured warehouse; prints CSV")
    p.add_argument("query", help='e.g. "SELECT day, count(*) FROM visit_log GROUP BY day"')
    p.set_defaults(func=cmd_sql)

    from watershop_dagster.identity_commands import add_identity_parser, add_review_parser

    add_identity_parser(sub)
    add_review_parser(sub)

    p = sub.add_parser("bench", help="benchmarks")
    bench_sub = p.add_subparsers(dest="what", required=True)
    f = bench_sub.add_parser("footage", help="footage assets vs a plain decode of one video")
    f.add_argument("path")
    f.add_argument("--compare-dense", action="store_true")
    f.set_defaults(func=cmd_bench)

    args = parser.parse_args(argv)
    if args.command == "materialize" and args.start and not args.end:
        parser.error("--from needs --to")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
