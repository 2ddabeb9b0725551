"""The footage matrix: a whole day's run against one plain decode of the same footage, row by row.

    PYTHONPATH=. .venv/bin/python bench/footage_matrix.py --minutes 10 [--rows 10fps-720p-busy-g2,...] [--no-dense]

For each row of ROWS (frame rate, size, customers present, keyframe interval, codec, variable frame rate,
burned-in clock) it writes a short day with bench/shop_footage.py (sensor noise, light drift, a staff member
moving behind the counter, a busy counter), then times, in the same run and one after another:
- `decode`: `ffmpeg -threads 2 -i FILE -f null -`, the wall time of one plain decode of every frame of the
  day's file (no analysis, nothing written);
- `full`: the wall time of the `watershop materialize --day D` process, start to exit (Python start-up,
  Dagster, model loading, every asset of the day, the cross-day and monthly assets, face crops written,
  warehouse writes), on a fresh data folder and Dagster home;
- `fixed`: the same command on the same day cut to its first 10 s of footage (`ffmpeg -t 10 -c copy`), also
  on a fresh folder: what a day costs whatever its length;
and reports ratio = (full - fixed) / decode (the faster of a decode before and one after the runs), the same
ratio in CPU seconds (user + system, which other people's load moves less than wall time), the load average,
fixed, the peak RSS of the full run's process (wait4's ru_maxrss, taken by a small launcher that starts
each timed command from a fresh fork of its own, so that this process's memory is not counted; the launcher
adds about 0.05 s to every timed command: the largest resident set of the process and any child it waited
for), and the customer visits in the
warehouse's visit_log against the truth and, unless --no-dense, against the same day materialised with every
frame of the 2-per-second grid decoded and analysed (FootageAnalysisConfig.dense_reference; entry and exit
within 2 s), all visits and the identified ones alone (faceless visits come from body tracks). Prints JSON per
row and a markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from shop_footage import FootageSpec, load_cast, write_day  # noqa: E402

DAY = date(2024, 6, 3)
# name: (fps, size, presence, gop_s, codec, vfr, clock). "busy": customers present most of the open hours.
ROWS: dict[str, dict] = {
    "10fps-720p-busy-g2": {"fps": 10, "size": "720p", "presence": 0.8, "gop_s": 2},
    "10fps-720p-third-g2": {"fps": 10, "size": "720p", "presence": 0.33, "gop_s": 2},
    "10fps-1080p-busy-g2": {"fps": 10, "size": "1080p", "presence": 0.8, "gop_s": 2},
    "15fps-720p-busy-g4": {"fps": 15, "size": "720p", "presence": 0.8, "gop_s": 4},
    "25fps-720p-busy-g2": {"fps": 25, "size": "720p", "presence": 0.8, "gop_s": 2},
    "25fps-1080p-busy-g2": {"fps": 25, "size": "1080p", "presence": 0.8, "gop_s": 2},
    "10fps-720p-busy-g6": {"fps": 10, "size": "720p", "presence": 0.8, "gop_s": 6},
    "25fps-720p-busy-g10": {"fps": 25, "size": "720p", "presence": 0.8, "gop_s": 10},
    "10fps-720p-busy-g4-hevc": {"fps": 10, "size": "720p", "presence": 0.8, "gop_s": 4, "codec": "hevc"},
    "15fps-720p-busy-g2-vfr": {"fps": 15, "size": "720p", "presence": 0.8, "gop_s": 2, "vfr": True},
    "10fps-720p-empty-clock": {"fps": 10, "size": "720p", "presence": 0.0, "gop_s": 2, "staff": False},
}


def _env(data: Path, home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        WATERSHOP_DATA_DIR=str(data),
        DAGSTER_HOME=str(home),
        WATERSHOP_START_DATE=(DAY.replace(day=1)).isoformat(),
        PYTHONPATH=str(REPO),
        WATERSHOP_LOG_LEVEL="WARNING",
    )
    return env


CPU: dict[str, float] = {}  # CPU seconds (user + system) of the last timed command, by its first argument


# Linux carries a process's peak RSS across fork and exec: a command started straight from this process (which
# renders the footage, over 1 GB at 1080p) reported this process's peak as its own. A small launcher starts
# the command from a fresh fork of itself and reports what wait4 says of it: peak RSS (kB), CPU seconds.
LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=os.fdopen(int(sys.argv[1]), "w"))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(cmd: list[str], env: dict | None = None, log: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB (the process and the children it waited for) and the exit status; the
    CPU seconds go to CPU[cmd[0]] (on a shared machine they move less with other people's load than wall)."""
    read, write = os.pipe()
    with open(log or os.devnull, "w") as out:
        t0 = time.perf_counter()
        launcher = [sys.executable, "-c", LAUNCH, str(write), *cmd]
        proc = subprocess.Popen(launcher, env=env, stdout=out, stderr=subprocess.STDOUT, pass_fds=(write,))
        os.close(write)
        rc = proc.wait()
        wall = time.perf_counter() - t0
    with os.fdopen(read) as report:
        maxrss_kb, cpu = report.read().split()
    CPU[cmd[0]] = float(cpu)
    return wall, float(maxrss_kb) / 1024, rc


def plain_decode(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one plain decode."""
    wall, _, rc = timed(["ffmpeg", "-v", "error", "-threads", "2", "-i", str(path), "-f", "null", "-"])
    assert rc == 0, f"ffmpeg could not decode {path}"
    return wall, CPU["ffmpeg"]


def materialize(data: Path, home: Path, log: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS in MB and CPU seconds of `watershop materialize --day`."""
    cmd = [sys.executable, "-m", "watershop_dagster.cli", "materialize", "--day", DAY.isoformat()]
    wall, rss, rc = timed(cmd, _env(data, home), log)
    assert rc == 0, f"materialize failed, see {log}"
    return wall, rss, CPU[sys.executable]


DENSE_CHILD = """
import sys
from watershop_dagster.cli import ensure_dagster_home
import dagster as dg
from watershop_dagster.backfill import register_shops
from watershop_dagster.definitions import defs
from watershop_dagster.defs.partitions import shop_day_key
ensure_dagster_home()
instance = dg.DagsterInstance.get()
register_shops(instance, ["main"])
job = defs.resolve_job_def("daily_job")
r = job.execute_in_process(partition_key=shop_day_key(sys.argv[1], "main"), instance=instance, raise_on_error=False,
    run_config={"ops": {"footage_analysis": {"config": {"dense_reference": True}}}})
sys.exit(0 if r.success else 1)
"""


def dense_reference(data: Path, home: Path, log: Path) -> float:
    wall, _, rc = timed([sys.executable, "-c", DENSE_CHILD, DAY.isoformat()], _env(data, home), log)
    assert rc == 0, f"dense reference run failed, see {log}"
    return wall


def customer_visits(data: Path):
    import duckdb

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(
            "SELECT customer_id, entry_time, exit_time, identified FROM visit_log WHERE NOT is_staff "
            "ORDER BY entry_time"
        ).df()


def truth_visits(data: Path):
    import pandas as pd
    from footage_bench import as_visits  # the product's rule: gaps under a minute do not split a visit

    raw = json.loads((data / "truth" / f"{DAY.isoformat()}.json").read_text())["visits"]
    t = pd.DataFrame([v for v in raw if not v["is_staff"]], columns=["person", "entry", "exit", "is_staff"])
    t["entry"], t["exit"] = pd.to_datetime(t["entry"], format="ISO8601"), pd.to_datetime(t["exit"], format="ISO8601")
    return as_visits(t[["person", "entry", "exit"]]).rename(columns={"entry": "entry_time", "exit": "exit_time"})


def prepare(root: Path, name: str, spec: FootageSpec, cast) -> tuple[Path, Path, dict]:
    """The row's day (written once, reused while it exists) and its 10-s cut, each in its own data folder."""
    full, cut = root / name / "full", root / name / "cut"
    summary_path = full / "truth" / f"{DAY.isoformat()}.footage.json"
    if summary_path.exists() and json.loads(summary_path.read_text())["spec"]["minutes"] == spec.minutes:
        summary = json.loads(summary_path.read_text())
    else:
        shutil.rmtree(root / name, ignore_errors=True)
        summary = write_day(full, spec, cast)
    shutil.rmtree(cut, ignore_errors=True)
    for sub in ("staff", "transactions", "truth"):
        shutil.copytree(full / sub, cut / sub)
    video = Path(summary["path"])
    target = cut / "footage" / DAY.isoformat() / video.name
    target.parent.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-t", "10", "-c", "copy", str(target)], check=True)
    return full, cut, summary


def fresh(data: Path, keep: tuple[str, ...] = ("footage", "staff", "transactions", "truth")) -> None:
    """Remove what a previous run wrote (warehouse, crops, reports), keep the inputs."""
    for p in data.iterdir():
        if p.name not in keep:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def run_row(root: Path, name: str, spec: FootageSpec, cast, dense: bool) -> dict:
    from footage_bench import compare

    full, cut, summary = prepare(root, name, spec, cast)
    video = Path(summary["path"])
    for d in (full, cut):
        fresh(d)
    homes = root / name / "homes"
    shutil.rmtree(homes, ignore_errors=True)
    load_before = os.getloadavg()[0]
    decode_s, decode_cpu = plain_decode(video)
    full_s, rss, full_cpu = materialize(full, homes / "full", root / name / "full.log")
    fixed_s, _, fixed_cpu = materialize(cut, homes / "cut", root / name / "cut.log")
    decode_after_s, _ = plain_decode(video)
    visits, truth = customer_visits(full), truth_visits(full)
    identified = visits[visits["identified"].astype(bool)] if len(visits) else visits
    row = {
        "row": name,
        "footage": summary,
        "decode_s": round(decode_s, 2),
        "decode_after_s": round(decode_after_s, 2),
        "full_s": round(full_s, 2),
        "fixed_s": round(fixed_s, 2),
        # against the faster of the two decodes: the slower one waited for other people's work
        "ratio": round((full_s - fixed_s) / min(decode_s, decode_after_s), 3),
        "cpu_s": {"decode": round(decode_cpu, 2), "full": round(full_cpu, 2), "fixed": round(fixed_cpu, 2)},
        "ratio_cpu": round((full_cpu - fixed_cpu) / decode_cpu, 3),
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "peak_rss_mb": round(rss),
        "visits": len(visits),
        "faceless_visits": len(visits) - len(identified),
        "vs_truth": compare(truth, visits),
        "identified_vs_truth": compare(truth, identified),
    }
    if dense:
        ref_data = root / name / "dense"
        shutil.rmtree(ref_data, ignore_errors=True)
        ref_data.mkdir()
        for sub in ("footage", "staff", "transactions", "truth"):
            (ref_data / sub).symlink_to(full / sub)
        row["dense_s"] = round(dense_reference(ref_data, homes / "dense", root / name / "dense.log"), 1)
        dense_visits = customer_visits(ref_data)
        row["vs_dense"] = compare(dense_visits, visits)
        row["identified_vs_dense"] = compare(dense_visits[dense_visits["identified"].astype(bool)], identified)
    print(json.dumps(row, indent=1, default=str), flush=True)
    return row


def table(rows: list[dict]) -> str:
    head = (
        "| row | footage | decode s | full s | fixed s | ratio | ratio (CPU s) | peak RSS MB | load | "
        "identified visits: within 2 s of truth / of dense | faceless visits (dense) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        s = r["footage"]["spec"]
        truth = r["identified_vs_truth"]
        dense = r.get("identified_vs_dense")
        same = f"{dense['matched_within_2s']}/{dense['reference_visits']}" if dense else "not run"
        faceless_dense = f" ({r['vs_dense']['reference_visits'] - dense['reference_visits']})" if dense else ""
        lines.append(
            f"| {r['row']} | {s['minutes']:g} min, {s['codec']}, presence {r['footage']['presence']:.0%}"
            f"{', VFR' if s['vfr'] else ''} | {min(r['decode_s'], r['decode_after_s']):.1f} | {r['full_s']:.1f} | "
            f"{r['fixed_s']:.1f} | **{r['ratio']:.2f}** | {r['ratio_cpu']:.2f} | {r['peak_rss_mb']} | "
            f"{r['load_average'][0]:g}-{r['load_average'][1]:g} | "
            f"{truth['matched_within_2s']}/{truth['reference_visits']} / {same} | "
            f"{r['faceless_visits']}{faceless_dense} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", default=",".join(ROWS), help="comma-separated row names (default: all)")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "matrix")
    p.add_argument("--no-dense", action="store_true", help="skip the every-frame reference run (slow)")
    a = p.parse_args(argv)
    a.out = a.out.resolve()  # the dense reference links to the row's inputs: a relative target would dangle
    if not shutil.which("ffmpeg"):
        p.error("ffmpeg is needed for the plain-decode baseline (apt-get install ffmpeg)")
    cast = load_cast()
    rows = []
    for name in a.rows.split(","):
        spec = replace(FootageSpec(day=DAY, minutes=a.minutes), **ROWS[name])
        rows.append(run_row(a.out, name, spec, cast, dense=not a.no_dense))
        (a.out / "matrix.json").write_text(json.dumps(rows, indent=1, default=str))  # after each row
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
