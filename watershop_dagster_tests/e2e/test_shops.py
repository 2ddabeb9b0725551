"""Several shops: each shop's days under data/shops/<shop>/, one warehouse with a shop column, per-shop
identities, the chain's roll-up, and the same rows whether the footage of several days runs at once or not."""

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from watershop_dagster_tests.support import REPO, till_only_world, true_people

FIRST = date(2024, 3, 4)
SECOND = FIRST + timedelta(days=1)


def watershop(data_dir, *args, **variables: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **variables,
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


def demo_chain(root) -> Path:
    """Two shops whose customers are the same people (the demo cast), north's days and south's second day."""
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.world import demo_cast, write_world

    data = root / "data"
    cast = demo_cast(FaceEngine.from_models())
    write_world(data / "shops" / "north", [FIRST, SECOND], cast, visits_per_day=6, malformed_rows=False, seed=3)
    write_world(data / "shops" / "south", [SECOND], cast, visits_per_day=6, malformed_rows=False, seed=4)
    return data


def south_customers(data) -> dict[str, str]:
    """South's customer IDs on the second day -> the person each one is (from the simulator's truth)."""
    visits = rows(data, "SELECT * FROM visit_log WHERE shop = 'south' AND identified")
    return true_people(data / "shops" / "south" / "truth", visits)


def test_identities_are_per_shop_unless_the_chain_shares_them(tmp_path):
    alone = demo_chain(tmp_path / "alone")
    shared = tmp_path / "shared" / "data"
    shutil.copytree(alone, shared)  # the same days again: rendering them took longer than both runs
    assert watershop(alone, "materialize", "--from", str(FIRST), "--to", str(SECOND), "--workers", "2").returncode == 0
    north = rows(alone, "SELECT DISTINCT customer_id FROM visit_log WHERE shop = 'north'")["customer_id"]
    south = south_customers(alone)
    assert south and not any(c.startswith("CUST_north") for c in south)  # south knows nobody on its first day
    assert set(south) <= set(north) | {None}  # each shop numbers its own customers from CUST_0001

    out = watershop(
        shared, "materialize", "--from", str(FIRST), "--to", str(SECOND), "--workers", "2",
        WATERSHOP_SHARED_IDENTITIES="1",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    seen_in_north = rows(shared, f"SELECT * FROM visit_log WHERE shop = 'north' AND day = DATE '{FIRST}'")
    known = set(true_people(shared / "shops" / "north" / "truth", seen_in_north).values())
    south = south_customers(shared)
    # a customer north met on the first day keeps north's ID in south on the second; a newcomer gets south's
    assert any(p in known for p in south.values())
    for cid, person in south.items():
        assert cid.startswith("CUST_north_" if person in known else "CUST_south_"), (cid, person)
