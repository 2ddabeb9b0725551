"""A corpus of bad inputs beside good ones: each gives its clear error, the rest of the day is processed,
nothing stored is lost."""

import os
import signal
import struct
import subprocess
import sys
import time
from datetime import date

import cv2
import numpy as np

from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.sim.world import demo_cast, write_world
from watershop_dagster_tests.core.test_footage import write_video
from watershop_dagster_tests.e2e.test_footage_to_visits import run_days

DAY = date(2024, 4, 1)


def zero_fps_avi(path):
    """An MJPEG AVI whose header claims 0 frames per second."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(5):
        w.write(np.full((48, 64, 3), 120, np.uint8))
    w.release()
    data = bytearray(path.read_bytes())
    strh = data.find(b"strh")
    # strh: fccType, fccHandler, flags, priority, language, initialFrames, scale, rate -> rate at +32 from the tag
    struct.pack_into("<I", data, strh + 8 + 24, 0)
    avih = data.find(b"avih")
    struct.pack_into("<I", data, avih + 8, 0)  # dwMicroSecPerFrame
    path.write_bytes(bytes(data))
    return path


def wait_for_step(dagster_home, step_key: str, timeout: float) -> bool:
    """True once a started run of the instance at `dagster_home` has begun `step_key`."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            starts = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
            if any(r.event_log_entry.step_key == step_key for r in starts):
                return True
        time.sleep(0.2)
    return False


def test_bad_footage_and_till_rows_beside_a_good_day(tmp_path, engine):
    write_world(tmp_path, [DAY], demo_cast(engine), visits_per_day=3)
    folder = tmp_path / "footage" / DAY.isoformat()
    (folder / "cam1_050000.mp4").write_bytes(b"")
    (folder / "cam1_050100.mp4").write_text("not a video at all\n" * 100)
    whole = write_video(tmp_path / "whole.mp4", frames=120)
    (folder / "cam1_050200.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    zero_fps_avi(folder / "cam1_050300.avi")
    write_video(folder / "lobby.mp4")
    write_video(folder / "cam1_235950.mp4", frames=200, fps=10.0)  # runs 20 s past midnight
    till = tmp_path / "transactions" / f"{DAY}.csv"
    good_rows = till.read_text().splitlines()
    till.write_bytes(
        ("\ufeff" + "\n".join(good_rows) + "\nBAD1,2024-04-01 25:00:00,,Cash,20L,1,20,Paid\n").encode()
        + b"BAD2,2024-04-01 10:00:00,Jos\xe9,Cash,20L,1,20,Paid\n"
    )
    wh = run_days(tmp_path, [DAY])
    manifest = wh.query("SELECT file, status, error, end_time FROM footage_manifest").set_index("file")

    def err(name):
        return manifest.loc[f"footage/{DAY}/{name}", "error"]

    assert "empty file" in err("cam1_050000.mp4")
    assert "cannot be opened" in err("cam1_050100.mp4")
    assert "cam1_050200.mp4" in err("cam1_050200.mp4")
    assert "0 fps" in err("cam1_050300.avi")
    assert "no start time" in err("lobby.mp4")
    assert str(manifest.loc[f"footage/{DAY}/cam1_235950.mp4", "end_time"]).startswith("2024-04-02 00:00:10")
    assert (
        wh.query("SELECT count(*) n FROM visit_log WHERE NOT is_staff")["n"][0] == 3
    )  # the good footage still gave every visit
    rejects = wh.query("SELECT transaction_id, line_number, reason FROM transaction_rejects ORDER BY line_number")
    assert rejects["transaction_id"].tolist()[-2:] == ["BAD1", None] or "BAD1" in rejects["transaction_id"].tolist()
    assert any("not valid UTF-8" in r for r in rejects["reason"]) and any("timestamp" in r for r in rejects["reason"])
    assert wh.query("SELECT count(*) n FROM transactions")["n"][0] == len(good_rows) - 1


def test_killed_mid_day_leaves_the_warehouse_consistent_and_rerun_completes(tmp_path, engine):
    days = [DAY, date(2024, 4, 2)]
    write_world(tmp_path, days, demo_cast(engine), visits_per_day=4)
    env = {
        **os.environ,
        "WATERSHOP_DATA_DIR": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dh"),
        "WATERSHOP_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "watershop_dagster.cli", "materialize"]
    assert subprocess.run(cli + ["--day", str(days[0])], env=env, capture_output=True).returncode == 0
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    before = wh.query("SELECT * FROM visit_log ORDER BY visit_id")
    # Re-run day 1 and day 2 and kill the process while it works on footage.
    proc = subprocess.Popen(
        cli + ["--from", str(days[0]), "--to", str(days[1])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Kill a second into the footage step of a started run: a fixed sleep can land between two runs,
    # when there is no run to kill and nothing for the rerun to release.
    assert wait_for_step(tmp_path / "dh", "footage_analysis", timeout=300), "no run reached footage_analysis"
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Consistent: day 1 is either the old version or a complete new one, never half.
    after_kill = wh.query("SELECT * FROM visit_log WHERE day = ? ORDER BY visit_id", [days[0]])
    assert after_kill[["visit_id", "customer_id"]].equals(before[["visit_id", "customer_id"]])
    assert wh.query("SELECT count(*) n FROM transactions WHERE day = ?", [days[0]])["n"][0] > 0
    rerun = subprocess.run(
        cli + ["--from", str(days[0]), "--to", str(days[1])], env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert "released run" in rerun.stdout  # the killed run is marked failed, not left "started" forever
    final = wh.query("SELECT * FROM visit_log WHERE day = ? ORDER BY visit_id", [days[0]])
    assert final[["visit_id", "customer_id", "entry_time"]].equals(before[["visit_id", "customer_id", "entry_time"]])
    assert wh.query("SELECT count(DISTINCT day) n FROM visit_log")["n"][0] == 2
