"""A simulated chain materialized on the production setup: Postgres run/event/schedule storage
(deploy/dagster.yaml) and a DuckLake warehouse (catalog in the same Postgres, Parquet under a folder), with
1, 2 and 4 workers. Prints wall time, runs, failed runs and whether every warehouse table holds the same rows
as the 1-worker run.

    eval "$(bash .ci/postgres.sh start)"
    PYTHONPATH=. .venv/bin/python bench/chain_scale.py --shops 10 --days 7 --workers 1,2,4

Each shop is the synthetic shop with the demo cast (insightface's bundled photos), small footage (640x360,
12 fps, `--visits` customer visits a day) and its till export. Every worker count gets a fresh copy of the
data, a fresh Postgres database (Dagster's storage and the lake's catalog) and a fresh Parquet folder. The
timed span is the whole `watershop materialize --from D1 --to Dn --workers W` process: start-up, worker
start-up and model loads, every asset of every shop day, the all-days, monthly and chain assets, crops,
reports and lake commits.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TABLES = [
    "transactions", "frames", "face_tracks", "person_tracks", "visit_log", "customer_registry",
    "transaction_links", "daily_revenue", "peak_hours", "monthly_revenue", "chain_daily", "chain_hours",
]  # fmt: skip
PATH_COLUMNS = {"crop_path", "best_crop_path"}  # absolute paths differ between the copies


def write_chain(data: Path, shops: int, days: list[date], visits: int) -> None:
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.world import demo_cast, write_world

    cast = demo_cast(FaceEngine.from_models())
    for s in range(shops):
        write_world(data / "shops" / f"shop{s + 1:02d}", days, cast, visits_per_day=visits, seed=100 + s)


def fresh_database(dsn: str) -> tuple[str, str]:
    """A new database: (libpq DSN for the lake's catalog, SQLAlchemy URL for Dagster's storage)."""
    import psycopg2

    parts = dict(p.split("=", 1) for p in dsn.split())
    name = f"chain_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    conn.close()
    password = urllib.parse.quote(parts.get("password", ""))
    url = f"postgresql+psycopg2://{parts['user']}:{password}@{parts['host']}:{parts.get('port', 5432)}/{name}"
    return " ".join(f"{k}={name if k == 'dbname' else v}" for k, v in parts.items()), url


def watershop(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "watershop_dagster.cli", *args], env=env, capture_output=True, text=True, cwd=REPO
    )


def run(root: Path, source: Path, days: list[date], workers: int, dsn: str) -> dict:
    data = root / "data"
    shutil.copytree(source, data)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    lake_dsn, url = fresh_database(dsn)
    env = {
        **os.environ,
        "WATERSHOP_DATA_DIR": str(data),
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": url,
        "WATERSHOP_START_DATE": str(days[0]),
        "WATERSHOP_WAREHOUSE": f"ducklake:postgres:{lake_dsn}",
        "WATERSHOP_LAKE_DATA_PATH": str(root / "parquet"),
        "WATERSHOP_LOG_LEVEL": "ERROR",
    }
    import dagster as dg

    os.environ["DAGSTER_PG_URL"] = url
    started = time.perf_counter()
    out = watershop(env, "materialize", "--from", str(days[0]), "--to", str(days[-1]), "--workers", str(workers))
    wall = time.perf_counter() - started
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records()
        failed = [r.dagster_run.run_id[:8] for r in records if not r.dagster_run.is_success]
        busiest = max(
            sum(1 for r in records if r.start_time <= t < r.end_time) for t in (r.start_time for r in records)
        )
    rows = {}
    for table in TABLES:
        q = watershop(env, "sql", f"SELECT * FROM {table}")
        frame = pd.read_csv(io.StringIO(q.stdout)) if q.returncode == 0 else pd.DataFrame()
        frame = frame.drop(columns=[c for c in frame.columns if c in PATH_COLUMNS])
        rows[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame
    return {
        "workers": workers,
        "exit": out.returncode,
        "wall_s": round(wall, 1),
        "runs": len(records),
        "failed_runs": failed,
        "most_runs_at_once": busiest,
        "rows": rows,
        "log_tail": out.stdout[-1500:] if out.returncode else "",
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--shops", type=int, default=10)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--visits", type=int, default=4)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "chain"))
    p.add_argument("--reuse", action="store_true", help="keep the shops already generated under --out/source")
    args = p.parse_args()
    dsn = os.environ.get("WATERSHOP_TEST_PG")
    if not dsn:
        print('WATERSHOP_TEST_PG unset: eval "$(bash .ci/postgres.sh start)" first', file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    days = [date(2024, 6, 3) + timedelta(days=i) for i in range(args.days)]
    out = Path(args.out)
    source = out / "source"
    if args.reuse and source.is_dir():  # the same shops and days again (generating 10 x 7 took 34 minutes)
        for old_run in out.glob("w*"):
            shutil.rmtree(old_run)
        print(f"reusing {source}", flush=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        write_chain(source, args.shops, days, args.visits)
        print(f"generated {args.shops} shops x {args.days} days in {time.perf_counter() - t:.0f} s", flush=True)
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        result = run(out / f"w{workers}", source, days, workers, dsn)
        results.append(result)
        summary = {k: v for k, v in result.items() if k != "rows"}
        print(json.dumps(summary), flush=True)
    first = results[0]["rows"]
    base = results[0]["workers"]
    print(f"| shops x days | workers | wall | runs | failed runs | most runs at once | same rows as {base} worker |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        same = all(r["rows"][t].equals(first[t]) for t in TABLES)
        differing = [t for t in TABLES if not r["rows"][t].equals(first[t])]
        print(
            f"| {args.shops} x {args.days} | {r['workers']} | {r['wall_s']:.0f} s | {r['runs']} "
            f"| {len(r['failed_runs'])} | {r['most_runs_at_once']} | {same}{' ' + ','.join(differing) * (not same)} |"
        )
    counts = {t: len(first[t]) for t in TABLES}
    print(json.dumps({"rows_per_table": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
