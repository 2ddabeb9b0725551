"""Several shops: each shop's days under data/shops/<shop>/, one warehouse with a shop column, per-shop
identities, the chain's roll-up, and the same rows whether the footage of several days runs at once or not."""

import os
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import pandas as pd

from watershop_dagster_tests.support import REPO, till_only_world

FIRST = date(2024, 3, 4)
SECOND = FIRST + timedelta(days=1)


def watershop(data_dir, *args) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "WATERSHOP_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir.parent / "dagster_home"),
        "WATERSHOP_START_DATE": "2024-03-01",
        "WATERSHOP_LOG_LEVEL": "ERROR",
    }
    env.pop("WATERSHOP_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "watershop_dagster.cli", *args], env=env, capture_output=True, text=True, cwd=REPO
    )


def rows(data_dir, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).df()


def two_shops(root):
    data = root / "data"
    till_only_world(data / "shops" / "north", 2)
    till_only_world(data / "shops" / "south", 2)
    # south sells one more can on the first day than north: the shops' figures must not mix
    south = data / "shops" / "south" / "transactions" / f"{FIRST}.csv"
    lines = south.read_text().splitlines()
    south.write_text("\n".join([*lines, f"ZZ-{FIRST}-1,{FIRST} 20:00:00,,Cash,20L,1,20,Paid"]) + "\n")
    return data


def test_every_shop_runs_with_its_own_rows_and_the_chain_rolls_them_up(tmp_path):
    data = two_shops(tmp_path)
    out = watershop(data, "materialize", "--from", str(FIRST), "--to", str(SECOND), "--workers", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    revenue = rows(data, "SELECT shop, day, revenue, transactions FROM daily_revenue ORDER BY shop, day")
    assert sorted(set(revenue["shop"])) == ["north", "south"] and len(revenue) == 4
    north, south = (revenue[revenue["shop"] == s].set_index("day") for s in ("north", "south"))
    assert south.loc[pd.Timestamp(FIRST), "transactions"] == north.loc[pd.Timestamp(FIRST), "transactions"] + 1
    chain = rows(data, "SELECT shop, day, revenue, unpaid, visits, customers FROM chain_daily ORDER BY shop, day")
    assert chain[["shop", "day", "revenue"]].values.tolist() == revenue[["shop", "day", "revenue"]].values.tolist()
    assert (data / "reports" / "chain" / "2024-03.html").read_text().count("north") >= 1
    assert (data / "shops" / "north" / "reports" / "daily" / f"{FIRST}.html").exists()
    # the same engine answers an engineer's question, as CSV
    csv = watershop(data, "sql", "SELECT shop, count(*) AS n FROM transactions GROUP BY shop ORDER BY shop")
    assert csv.returncode == 0 and csv.stdout.splitlines()[0] == "shop,n"


def test_one_shop_alone_and_an_unknown_shop(tmp_path):
    data = two_shops(tmp_path)
    assert watershop(data, "materialize", "--day", str(FIRST), "--shop", "north").returncode == 0
    assert rows(data, "SELECT DISTINCT shop FROM transactions")["shop"].tolist() == ["north"]
    out = watershop(data, "materialize", "--day", str(FIRST), "--shop", "west")
    assert out.returncode == 1 and "no shop 'west'" in out.stdout


def test_parallel_footage_work_gives_the_same_rows_as_one_worker(tmp_path):
    tables = ["transactions", "daily_revenue", "chain_daily", "visit_log", "customer_registry"]
    found = {}
    for workers in ("1", "2"):
        data = two_shops(tmp_path / workers)
        assert watershop(data, "materialize", "--from", str(FIRST), "--to", str(SECOND), "--workers", workers)
        found[workers] = {t: rows(data, f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    for t in tables:
        pd.testing.assert_frame_equal(found["1"][t], found["2"][t])


def test_the_single_shop_layout_is_shop_main(tmp_path):
    data = tmp_path / "data"
    till_only_world(data, 1)
    out = watershop(data, "materialize", "--day", str(FIRST))
    assert out.returncode == 0, out.stdout + out.stderr
    assert rows(data, "SELECT DISTINCT shop FROM daily_revenue")["shop"].tolist() == ["main"]
    assert (data / "reports" / "daily" / f"{FIRST}.html").exists()
