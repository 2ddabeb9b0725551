import multiprocessing as mp
import time
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from watershop_dagster.core.storage.schemas import FACE_EMBEDDINGS
from watershop_dagster.core.storage.warehouse import Warehouse

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def rows(n, start=0):
    return pd.DataFrame({"transaction_id": [f"T{i}" for i in range(start, start + n)], "amount": [10.0] * n})


def test_replace_partition_replaces_exactly_one_day(warehouse):
    warehouse.replace_partition("t", D1, rows(3))
    warehouse.replace_partition("t", D2, rows(2, 10))
    warehouse.replace_partition("t", D1, rows(1, 20))
    got = warehouse.query("SELECT day, count(*) n FROM t GROUP BY day ORDER BY day")
    assert got["n"].tolist() == [1, 2]


def test_failed_write_leaves_previous_day_intact(warehouse):
    warehouse.replace_partition("t", D1, rows(3))
    bad = pd.DataFrame({"transaction_id": ["X"], "amount": ["not a number"]})
    with pytest.raises(duckdb.Error):
        warehouse.replace_partition("t", D1, bad)
    assert warehouse.query("SELECT count(*) n FROM t")["n"][0] == 3


def test_several_tables_are_replaced_together_or_not_at_all(warehouse):
    warehouse.replace_partitions(D1, {"a": rows(2), "b": rows(2)})
    with pytest.raises(duckdb.Error):
        warehouse.replace_partitions(
            D1, {"a": rows(5), "b": pd.DataFrame({"transaction_id": ["X"], "amount": ["bad"]})}
        )
    assert warehouse.query("SELECT count(*) n FROM a")["n"][0] == 2


def test_new_column_is_added_without_touching_old_partitions(warehouse):
    warehouse.replace_partition("t", D1, rows(2))
    newer = rows(1, 5).assign(note="evolved")
    warehouse.replace_partition("t", D2, newer)
    got = warehouse.query("SELECT day, note FROM t ORDER BY day, transaction_id")
    assert got["note"].tolist()[:2] == [None, None] and got["note"].tolist()[2] == "evolved"


def test_embeddings_are_fixed_size_float_arrays(warehouse):
    vec = np.random.default_rng(0).normal(size=512).astype(np.float32)
    df = pd.DataFrame(
        {
            "detection_id": ["d"],
            "time": [pd.Timestamp("2024-01-01 10:00")],
            "camera": ["c"],
            "quality": [0.9],
            "embedding": [vec.tolist()],
        }
    )
    warehouse.replace_partition("face_embeddings", D1, df, FACE_EMBEDDINGS)
    got = warehouse.query("SELECT typeof(embedding) t, embedding FROM face_embeddings")
    assert got["t"][0] == "FLOAT[512]"
    assert np.allclose(np.asarray(got["embedding"][0]), vec)


def _hold_lock(path, seconds, ready):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS held (x INT)")
    ready.set()
    time.sleep(seconds)
    con.close()


def test_writer_waits_for_another_process_lock_instead_of_failing(tmp_path):
    path = tmp_path / "w.duckdb"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, 2.0, ready))
    holder.start()
    assert ready.wait(30)
    started = time.monotonic()
    Warehouse(path, lock_timeout_s=60).replace_partition("t", D1, rows(1))
    holder.join()
    assert time.monotonic() - started > 0.5  # it really waited
    assert Warehouse(path).query("SELECT count(*) n FROM t")["n"][0] == 1


def _hold_connection(path, seconds, ready, read_only):
    with Warehouse(path).connect(read_only=read_only):
        ready.set()
        time.sleep(seconds)


def _held_elsewhere(path, seconds, read_only=False):
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_connection, args=(path, seconds, ready, read_only))
    holder.start()
    assert ready.wait(30)
    return holder


def test_a_waiting_writer_sleeps_until_the_other_process_closes(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).replace_partition("t", D1, rows(1))
    holder = _held_elsewhere(path, 2.0)
    started, cpu = time.monotonic(), time.process_time()
    Warehouse(path, lock_timeout_s=60).replace_partition("t", D2, rows(2))
    waited, spent = time.monotonic() - started, time.process_time() - cpu
    holder.join()
    assert waited > 1.0
    # Trying DuckDB's own lock costs ~10 ms of CPU a try: a waiter asking every few ms burned half a core.
    assert spent < 0.25 * waited
    assert Warehouse(path).query("SELECT count(*) n FROM t")["n"][0] == 3


def test_readers_share_the_file_and_a_nested_connection_does_not_wait_for_its_own_process(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = Warehouse(path, lock_timeout_s=1)
    wh.replace_partition("t", D1, rows(1))
    holder = _held_elsewhere(path, 3.0, read_only=True)
    with wh.connect(read_only=True) as reader:  # beside another reader: no wait
        assert reader.execute("SELECT count(*) FROM t").fetchall() == [(1,)]
    holder.join()
    started = time.monotonic()
    # A connection inside another: DuckDB's own error at once, not a wait for this process's own gate.
    with wh.connect(), pytest.raises(duckdb.BinderException, match="already attached"), wh.connect(read_only=True):
        pass
    assert time.monotonic() - started < 0.9


def test_reads_share_the_file_with_other_processes_reads_once_it_exists(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = Warehouse(path, lock_timeout_s=1)
    with wh.connect_to_read() as conn:  # no file yet: made, as any first connection makes it
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
    wh.replace_partition("t", D1, rows(1))
    holder = _held_elsewhere(path, 3.0, read_only=True)  # another run reading
    started = time.monotonic()
    with wh.connect_to_read() as conn:  # an asset's reads do not wait for it (a write would, for 3 s)
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(1,)]
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            conn.execute("DELETE FROM t")
    assert time.monotonic() - started < 0.9
    holder.join()


def _write_row_and_count(path, queue):
    """Another process: takes the file for writing at once (lock_timeout_s=0) and reports what it sees."""
    wh = Warehouse(path, lock_timeout_s=0)
    wh.replace_partition("t", D2, rows(1))
    queue.put(int(wh.query("SELECT count(*) n FROM t")["n"][0]))


def test_a_connection_leaves_nothing_behind_in_the_instance_kept_for_the_next(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = Warehouse(path, lock_timeout_s=0)
    with wh.connect() as conn:
        conn.execute("CREATE TABLE t AS SELECT * FROM (VALUES (DATE '2024-03-01', 1)) v(day, x)")
        conn.execute("CREATE TEMP VIEW t_view AS SELECT 1 AS y")
        conn.register("incoming_rows", rows(1))
    # The file is closed, its lock and gate free, its rows written where another process sees them.
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    other = ctx.Process(target=_write_row_and_count, args=(path, queue))
    other.start()
    assert queue.get(timeout=60) == 2
    other.join()
    with wh.connect(read_only=True) as conn:  # the next connection: no view or registration of the last one
        names = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert names == {"t"}
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(2,)]
    with pytest.raises(ZeroDivisionError), wh.connect() as conn:  # a block that fails still closes the file
        conn.execute("INSERT INTO t (day, x) VALUES (DATE '2024-03-03', 3)")
        raise ZeroDivisionError
    assert Warehouse(path, lock_timeout_s=0).query("SELECT count(*) n FROM t")["n"][0] == 3


def test_encrypted_warehouse_needs_its_key(tmp_path):
    path = tmp_path / "enc.duckdb"
    marker = "CUSTOMER-NAME-THAT-MUST-NOT-LEAK"
    Warehouse(path, encryption_key="s3cret").replace_partition("t", D1, rows(2).assign(note=marker))
    assert Warehouse(path, encryption_key="s3cret").query("SELECT count(*) n FROM t")["n"][0] == 2
    assert marker.encode() not in path.read_bytes()  # nothing readable at rest
    with pytest.raises(duckdb.Error, match="(?i)encrypt|key"):
        Warehouse(path).query("SELECT count(*) FROM t")


def test_purge_history_removes_deleted_rows_from_the_file(tmp_path):
    path = tmp_path / "w.duckdb"
    marker = "CUSTOMER-TO-FORGET-" + "x" * 40
    wh = Warehouse(path)
    wh.replace_partition("t", D1, rows(200).assign(note=[marker if i % 2 else "keep" for i in range(200)]))
    wh.execute("CREATE VIEW kept AS SELECT * FROM t WHERE note = 'keep'")
    wh.execute("DELETE FROM t WHERE note = ?", [marker])
    wh.execute("CHECKPOINT")
    assert marker.encode() in path.read_bytes()  # a delete alone leaves the bytes in the file's old blocks
    wh.purge_history()
    assert marker.encode() not in path.read_bytes()
    assert wh.query("SELECT count(*) n FROM kept")["n"][0] == 100


def test_encrypted_file_survives_purge_with_its_key(tmp_path):
    path = tmp_path / "enc.duckdb"
    Warehouse(path, encryption_key="k").replace_partition("t", D1, rows(3))
    Warehouse(path, encryption_key="k").purge_history()
    assert Warehouse(path, encryption_key="k").query("SELECT count(*) n FROM t")["n"][0] == 3
    with pytest.raises(duckdb.Error, match="(?i)encrypt|key"):
        Warehouse(path).query("SELECT count(*) FROM t")


def test_readonly_query_on_the_file(warehouse):
    from watershop_dagster.core.storage.sql_query import WriteRefused, run_readonly_query

    warehouse.replace_partition("t", D1, rows(2))
    assert run_readonly_query(warehouse, "SELECT count(*) AS n FROM t").splitlines() == ["n", "2"]
    with pytest.raises(WriteRefused, match="DELETE"):
        run_readonly_query(warehouse, "DELETE FROM t")
    # READ_ONLY as a second fence, e.g. for a table function that writes
    with pytest.raises(duckdb.Error), warehouse.connect(read_only=True) as conn:
        conn.execute("CREATE TABLE x (a INT)")


def test_a_lake_catalog_created_by_another_process_at_the_same_moment_is_retried_not_fatal():
    # What Postgres answered the slower of four processes attaching a new DuckLake at once (CI): the catalog's
    # tables were made by another one a moment before. Attached again, the catalog is there.
    from watershop_dagster.core.storage.warehouse import _is_commit_conflict

    race = duckdb.Error(
        'Failed to initialize DuckLake: Failed to execute query "CREATE TABLE "c_e44c4e1a48cb"."ducklake_metadata"'
        '("key" VARCHAR NOT NULL, "value" VARCHAR NOT NULL, "scope" VARCHAR, "scope_id" BIGINT);": ERROR:  '
        'relation "ducklake_metadata" already exists'
    )
    assert _is_commit_conflict(race)
    assert not _is_commit_conflict(duckdb.Error("Catalog Error: Table with name visit_log already exists!"))
