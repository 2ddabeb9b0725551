"""The warehouse on DuckLake: a Postgres catalog (WATERSHOP_TEST_PG, started by .ci/postgres.sh) and Parquet
files under a temporary folder. Each test gets a catalog schema of its own in that database."""

import multiprocessing as mp
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from watershop_dagster.core.storage.schemas import FACE_EMBEDDINGS
from watershop_dagster.core.storage.sql_query import WriteRefused, run_readonly_query
from watershop_dagster.core.storage.warehouse import Warehouse

PG = os.environ.get("WATERSHOP_TEST_PG", "")
pytestmark = pytest.mark.skipif(
    not PG, reason="WATERSHOP_TEST_PG unset: start one with `eval $(bash .ci/postgres.sh start)`"
)

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def lake(data_path: Path, schema: str) -> Warehouse:
    return Warehouse(
        f"ducklake:postgres:{PG}", lake_data_path=data_path, lake_metadata_schema=schema, lock_timeout_s=120
    )


@pytest.fixture
def wh(tmp_path):
    return lake(tmp_path / "lake", f"t_{uuid.uuid4().hex[:12]}")


def rows(n, start=0, **extra):
    return pd.DataFrame({"transaction_id": [f"T{i}" for i in range(start, start + n)], "amount": [10.0] * n, **extra})


def test_partition_writes_replace_one_day_and_evolve_the_schema(wh):
    assert wh.read_partition("t", D1).empty
    assert wh.replace_partition("t", D1, rows(3)) == 3
    wh.replace_partition("t", D2, rows(2, 10))
    wh.replace_partition("t", D1, rows(1, 20, note=["evolved"]))  # a new column on a DuckLake table
    got = wh.query("SELECT day, count(*) n, count(note) notes FROM t GROUP BY day ORDER BY day")
    assert got["n"].tolist() == [1, 2] and got["notes"].tolist() == [1, 0]
    assert wh.read_partition("t", D2)["transaction_id"].tolist() == ["T10", "T11"]
    assert wh.has_table("t") and not wh.has_table("nope")
    with wh.connect() as conn:
        assert wh.table_exists(conn, "t") and "t" in wh.table_names(conn)
    files = list((Path(wh.lake_data_path)).rglob("*.parquet"))
    assert files and all("day=" in str(f.parent) for f in files if "-delete" not in f.name)  # partitioned by day


def test_failed_write_leaves_every_table_as_it_was(wh):
    wh.replace_partitions(D1, {"a": rows(2), "b": rows(2)})
    bad = pd.DataFrame({"transaction_id": ["X"], "amount": ["not a number"]})
    with pytest.raises(duckdb.Error):
        wh.replace_partitions(D1, {"a": rows(5), "b": bad})
    assert wh.query("SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) n")["n"][0] == 4


def test_embeddings_survive_as_lists(wh):
    vec = np.random.default_rng(0).normal(size=512).astype(np.float32)
    df = pd.DataFrame(
        {
            "detection_id": ["d"],
            "time": [pd.Timestamp("2024-01-01 10:00")],
            "camera": ["c"],
            "quality": [0.9],
            "embedding": [vec],
        }
    )
    wh.replace_partition("face_embeddings", D1, df, FACE_EMBEDDINGS)
    got = wh.query("SELECT typeof(embedding) t, embedding FROM face_embeddings")
    assert got["t"][0] == "FLOAT[]"  # DuckLake has no fixed-size arrays
    assert np.allclose(np.asarray(got["embedding"][0]), vec)
    sim = wh.query("SELECT list_cosine_similarity(embedding, embedding) s FROM face_embeddings")["s"][0]
    assert sim == pytest.approx(1.0, abs=1e-5)


def test_sql_writes_tables_and_views(wh):
    wh.replace_partition("t", D1, rows(3))
    wh.replace_partition("t", D2, rows(2, 3))
    assert wh.replace_partition_from_sql("t2", D1, "SELECT day, transaction_id, amount * 2 AS amount FROM t") == 3
    assert wh.query("SELECT sum(amount) s FROM t2")["s"][0] == 60.0
    assert wh.replace_table("all_days", pd.DataFrame({"k": ["a", "b"], "v": pd.Categorical(["x", "y"])})) == 2
    assert wh.replace_table("all_days", pd.DataFrame({"k": ["c"], "v": ["z"]})) == 1  # CREATE OR REPLACE
    assert (
        wh.replace_table_from_sql("per_day", "SELECT day, count(*) n, [1.0, 2.0]::FLOAT[2] arr FROM t GROUP BY day")
        == 2
    )
    wh.execute(
        """CREATE OR REPLACE VIEW latest AS SELECT * FROM t
           QUALIFY row_number() OVER (PARTITION BY day ORDER BY transaction_id DESC) = 1"""
    )
    assert wh.query("SELECT transaction_id FROM latest ORDER BY day")["transaction_id"].tolist() == ["T2", "T4"]
    with wh.connect() as conn:
        assert {"t", "t2", "all_days", "per_day", "latest"} <= wh.table_names(conn)
    with wh.transaction() as conn:
        conn.execute("DELETE FROM t WHERE day = ?", [D1])
    assert wh.query("SELECT count(*) n FROM t")["n"][0] == 2


def _write_day(args):
    data_path, schema, day, n = args
    lake(Path(data_path), schema).replace_partitions(
        day, {"visits": rows(n, 100 * day.day, note=[f"d{day}"] * n), "revenue": pd.DataFrame({"total": [float(n)]})}
    )
    return day


def _days():
    return [(D1 + timedelta(days=i), 5 + i) for i in range(8)]


def test_concurrent_writers_lose_nothing(tmp_path):
    data_path, schema = tmp_path / "lake", f"c_{uuid.uuid4().hex[:12]}"
    jobs = [(str(data_path), schema, day, n) for day, n in _days()]
    with ProcessPoolExecutor(4, mp_context=mp.get_context("spawn")) as pool:
        done = list(pool.map(_write_day, jobs, timeout=240))
    assert len(done) == 8
    one_by_one = lake(tmp_path / "lake_seq", f"s_{uuid.uuid4().hex[:12]}")
    for day, n in _days():
        _write_day((one_by_one.lake_data_path, one_by_one.lake_metadata_schema, day, n))
    concurrent = lake(data_path, schema)
    for table in ("visits", "revenue"):
        got = concurrent.query(f"SELECT * FROM {table} ORDER BY ALL")
        want = one_by_one.query(f"SELECT * FROM {table} ORDER BY ALL")
        pd.testing.assert_frame_equal(got, want)
    assert len(concurrent.query("SELECT * FROM visits")) == sum(n for _, n in _days())


def _files_holding(data_path: Path, needle: str) -> list[Path]:
    con = duckdb.connect()
    return [
        f
        for f in data_path.rglob("*.parquet")
        if con.execute(
            f"SELECT count(*) FROM read_parquet('{f}') AS r WHERE CAST(r AS VARCHAR) LIKE ?", [f"%{needle}%"]
        ).fetchone()[0]
    ]


def test_purge_history_leaves_no_trace_of_deleted_rows(wh):
    secret = "CUSTOMER-TO-FORGET"
    wh.replace_partition("visits", D1, rows(3, note=[secret, "keep", "keep"]))
    wh.replace_partition("visits", D2, rows(2, 10, note=[secret, "keep"]))
    wh.replace_table("registry", pd.DataFrame({"customer_id": [secret, "other"]}))
    wh.execute("DELETE FROM visits WHERE note = ?", [secret])
    wh.execute("DELETE FROM registry WHERE customer_id = ?", [secret])
    assert _files_holding(Path(wh.lake_data_path), secret)  # time travel keeps it until purged
    wh.purge_history()
    assert _files_holding(Path(wh.lake_data_path), secret) == []
    assert wh.query("SELECT count(*) n FROM visits")["n"][0] == 3
    assert wh.query("SELECT customer_id FROM registry")["customer_id"].tolist() == ["other"]


def test_readonly_query_answers_csv_and_refuses_writes(wh):
    wh.replace_partition("t", D1, rows(2))
    csv = run_readonly_query(wh, "SELECT transaction_id, amount FROM t ORDER BY 1")
    assert csv.splitlines() == ["transaction_id,amount", "T0,10.0", "T1,10.0"]
    assert "transaction_id" in run_readonly_query(wh, "DESCRIBE t")
    for statement in (
        "DELETE FROM t",
        "DROP TABLE t",
        "SELECT 1; INSERT INTO t (amount) VALUES (1)",
        "EXPLAIN ANALYZE DELETE FROM t",
    ):
        with pytest.raises(WriteRefused):
            run_readonly_query(wh, statement)
    assert wh.query("SELECT count(*) n FROM t")["n"][0] == 2


def test_resource_is_a_duckdb_resource_on_the_lake(tmp_path):
    from dagster_duckdb import DuckDBResource

    from watershop_dagster.defs.resources import WarehouseResource

    resource = WarehouseResource(
        database=f"ducklake:postgres:{PG}",
        lake_data_path=str(tmp_path / "lake"),
        lake_metadata_schema=f"r_{uuid.uuid4().hex[:12]}",
        connection_config={"threads": 1},
    )
    assert isinstance(resource, DuckDBResource)
    resource.get().replace_partition("t", D1, rows(2))
    with resource.get_connection() as conn:
        assert conn.execute("SELECT count(*), current_setting('threads') FROM t").fetchone() == (2, 1)


def test_maintenance_deletes_the_files_of_rewritten_days_and_keeps_every_row(wh):
    for version in range(3):  # a day analysed three times (a backfill again, an owner's correction)
        wh.replace_partition("visits", D1, rows(3, note=[f"v{version}"] * 3))
    wh.replace_partition("visits", D2, rows(2, 10, note=["v0"] * 2))
    data = Path(wh.lake_data_path)
    before = len(list(data.rglob("*.parquet")))
    assert wh.maintain(snapshots_kept_days=7, deleted_files_kept_days=0)["files_deleted"] == 0  # time travel
    assert len(list(data.rglob("*.parquet"))) == before
    done = wh.maintain(snapshots_kept_days=0, deleted_files_kept_days=0)
    assert done["snapshots_expired"] > 0 and done["files_deleted"] == 2  # D1's first two versions
    assert len(list(data.rglob("*.parquet"))) == before - 2
    assert wh.query("SELECT day, note, count(*) n FROM visits GROUP BY ALL ORDER BY day").values.tolist() == [
        [pd.Timestamp(D1), "v2", 3],
        [pd.Timestamp(D2), "v0", 2],
    ]
