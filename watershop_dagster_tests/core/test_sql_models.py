"""Each SQL model on a small hand-computed fixture."""

from datetime import date, datetime

import pandas as pd
import pytest

from watershop_dagster.core.storage.sql_models import default_sql_folder, load_model, load_models

D1, D2, D3 = date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1)


def tx(tid, ts, cust, mode, size, n, status="Paid"):
    litres = int(size[:-1])
    return {
        "transaction_id": tid,
        "timestamp": datetime.fromisoformat(ts),
        "customer_id": cust,
        "payment_mode": mode,
        "can_size": size,
        "number_of_cans": n,
        "litres": n * litres,
        "amount": float(n * litres),
        "payment_status": status,
        "source_file": "f",
        "line_number": 2,
    }


@pytest.fixture
def shop(warehouse):
    by_day = {
        D1: [
            tx("a", "2024-01-30 08:10:00", "L1", "Cash", "20L", 2),
            tx("b", "2024-01-30 08:50:00", None, "UPI", "10L", 1),
            tx("c", "2024-01-30 18:05:00", "L2", "Cash", "20L", 1, "Unpaid"),
        ],
        D2: [
            tx("d", "2024-01-31 07:30:00", "L2", "Coins", "10L", 3, "Unpaid"),
            tx("e", "2024-01-31 19:00:00", "L1", "UPI", "20L", 1),
        ],
        D3: [tx("f", "2024-02-01 09:00:00", "L2", "Cash", "20L", 1, "Unpaid")],
    }
    for day, rows in by_day.items():
        warehouse.replace_partition("transactions", day, pd.DataFrame(rows))
        # A till-only shop: no visits, so every sale keeps the till's customer_id.
        links = pd.DataFrame(
            [
                {
                    "transaction_id": r["transaction_id"],
                    "timestamp": r["timestamp"],
                    "till_customer_id": r["customer_id"],
                    "customer_id": r["customer_id"],
                    "confidence": 0.0,
                    "ambiguous": False,
                    "candidates": 0,
                }
                for r in rows
            ]
        )
        warehouse.replace_partition("transaction_links", day, links)
        warehouse.replace_partition("visit_log", day, pd.DataFrame())
    return warehouse


def run(wh, name, day=None):
    model = load_model(default_sql_folder() / f"{name}.sql")
    if model.partitioned:
        wh.replace_partition_from_sql(name, day, model.render(day))
        return wh.query(f"SELECT * EXCLUDE (day) FROM {name} WHERE day = ?", [day])
    wh.replace_table_from_sql(name, model.render())
    return wh.query(f"SELECT * FROM {name}")


def test_models_declare_lineage_from_their_sql():
    models = {m.name: m for m in load_models(default_sql_folder())}
    assert [r.table for r in models["monthly_revenue"].refs] == ["daily_revenue"]
    assert models["repeat_defaulters"].refs[0].window_days == 30
    assert models["payment_summary"].partitioned and not models["total_spent"].partitioned


def test_payment_summary(shop):
    got = run(shop, "payment_summary", D1).sort_values("payment_mode").reset_index(drop=True)
    assert got["payment_mode"].tolist() == ["Cash", "UPI"]
    assert got["transactions"].tolist() == [2, 1]
    assert got["amount"].tolist() == [60.0, 10.0]
    assert got["unpaid_amount"].tolist() == [20.0, 0.0]


def test_daily_revenue_and_rerun_is_idempotent(shop):
    run(shop, "daily_revenue", D1)
    got = run(shop, "daily_revenue", D1)
    assert len(got) == 1
    r = got.iloc[0]
    assert (r.transactions, r.cans, r.litres, r.billed_amount, r.revenue, r.unpaid_amount) == (
        3,
        4,
        70,
        70.0,
        50.0,
        20.0,
    )


def test_unpaid(shop):
    assert run(shop, "unpaid", D2)["transaction_id"].tolist() == ["d"]


def test_repeat_defaulters_rolling_window(shop):
    assert run(shop, "repeat_defaulters", D1).empty  # one unpaid so far
    got = run(shop, "repeat_defaulters", D3)
    assert got["customer_id"].tolist() == ["L2"]
    assert got["unpaid_count"].tolist() == [3] and got["amount_owed"].tolist() == [70.0]


def test_cans_per_day(shop):
    got = run(shop, "cans_per_day", D1)
    assert got.set_index("can_size")["cans"].to_dict() == {"10L": 1, "20L": 3}
    assert got.set_index("can_size")["litres"].to_dict() == {"10L": 10, "20L": 60}


def test_traffic_per_hour_covers_every_hour(shop):
    got = run(shop, "traffic_per_hour", D1)
    assert len(got) == 24
    assert got.set_index("hour").loc[8, "transactions"] == 2 and got.set_index("hour").loc[18, "transactions"] == 1


def test_first_last_customer(shop):
    r = run(shop, "first_last_customer", D1).iloc[0]
    assert (r.first_transaction_id, r.first_customer_id, r.last_transaction_id) == ("a", "L1", "c")


def test_total_spent_and_cans_per_customer(shop):
    got = run(shop, "total_spent").set_index("customer_id")
    assert got.loc["L1", "amount_paid"] == 60.0 and got.loc["L2", "amount_owed"] == 70.0
    cans = run(shop, "cans_per_customer")
    assert cans[(cans.customer_id == "L2") & (cans.can_size == "10L")]["cans"].item() == 3


def test_monthly_and_quarterly_revenue(shop):
    for d in (D1, D2, D3):
        run(shop, "daily_revenue", d)
    monthly = run(shop, "monthly_revenue")
    assert monthly["revenue"].tolist() == [70.0, 0.0]
    assert monthly["unpaid_amount"].tolist() == [50.0, 20.0]
    quarterly = run(shop, "quarterly_revenue")
    assert quarterly["quarter"].tolist() == ["2024-Q1"] and quarterly["billed_amount"].tolist() == [140.0]


@pytest.fixture
def visits(warehouse):
    def v(day, cid, entry, dur, staff=False):
        e = datetime.fromisoformat(f"{day} {entry}")
        return {
            "visit_id": f"{day}/{cid}/{entry}",
            "customer_id": cid,
            "entry_time": e,
            "exit_time": e + pd.Timedelta(seconds=dur),
            "duration_seconds": float(dur),
            "faces_seen": 5,
            "tracks": 1,
            "is_staff": staff,
        }

    warehouse.replace_partition(
        "visit_log",
        D1,
        pd.DataFrame(
            [
                v(D1, "CUST_0001", "08:00:00", 30),
                v(D1, "CUST_0002", "08:40:00", 10),
                v(D1, "STAFF_x", "07:00:00", 3600, True),
            ]
        ),
    )
    warehouse.replace_partition(
        "visit_log", D2, pd.DataFrame([v(D2, "CUST_0001", "18:00:00", 20), v(D2, "CUST_0001", "19:00:00", 20)])
    )

    def reg(cid, new):
        return {"customer_id": cid, "is_staff": False, "is_new": new}

    warehouse.replace_partition("customer_registry", D1, pd.DataFrame([reg("CUST_0001", True), reg("CUST_0002", True)]))
    warehouse.replace_partition(
        "customer_registry", D2, pd.DataFrame([reg("CUST_0001", False), reg("CUST_0003", True)])
    )
    return warehouse


def test_visit_models(visits):
    d = run(visits, "daily_visits", D1).iloc[0]
    assert (d.visits, d.customers, d.median_duration_s) == (2, 2, 20.0)
    per_hour = run(visits, "visits_per_hour", D2).set_index("hour")
    assert per_hour.loc[18, "visits"] == 1 and per_hour.loc[19, "visits"] == 1 and per_hour["visits"].sum() == 2
    nvr = run(visits, "new_vs_returning", D2).iloc[0]
    assert (nvr.new_customers, nvr.returning_customers) == (1, 1)
    counts = run(visits, "customer_visit_counts").set_index("customer_id")
    assert counts.loc["CUST_0001", "visits"] == 3 and counts.loc["CUST_0001", "days_seen"] == 2
    assert "STAFF_x" not in counts.index
    assert run(visits, "repeat_visits")["customer_id"].tolist() == ["CUST_0001"]
    run(visits, "daily_visits", D2)
    assert run(visits, "monthly_visits")["visits"].tolist() == [4]
    q = run(visits, "quarterly_visits")
    assert q["visits"].tolist() == [4] and q["customers"].tolist() == [2]


def test_camera_fills_the_customer_the_till_left_blank(shop):
    # Sale "b" had no till customer; the camera saw CUST_0005 at the counter.
    shop.replace_partition(
        "visit_log",
        D1,
        pd.DataFrame(
            [
                {
                    "visit_id": "V1",
                    "customer_id": "CUST_0005",
                    "entry_time": datetime(2024, 1, 30, 8, 49),
                    "exit_time": datetime(2024, 1, 30, 8, 51),
                    "duration_seconds": 120.0,
                    "is_staff": False,
                    "best_crop_path": "crop.jpg",
                }
            ]
        ),
    )
    links = shop.query("SELECT * EXCLUDE (day) FROM transaction_links WHERE day = ?", [D1])
    links.loc[links.transaction_id == "b", ["visit_id", "camera_customer_id", "customer_id", "confidence"]] = [
        "V1",
        "CUST_0005",
        "CUST_0005",
        1.0,
    ]
    shop.replace_partition("transaction_links", D1, links)
    spent = run(shop, "total_spent").set_index("customer_id")
    assert spent.loc["CUST_0005", "billed_amount"] == 10.0


def test_unpaid_visits_lists_walkouts_and_unpaid_sales(shop):
    shop.replace_partition(
        "visit_log",
        D1,
        pd.DataFrame(
            [
                {
                    "visit_id": "V1",
                    "customer_id": "CUST_0001",
                    "entry_time": datetime(2024, 1, 30, 18, 4),
                    "exit_time": datetime(2024, 1, 30, 18, 6),
                    "duration_seconds": 120.0,
                    "is_staff": False,
                },
                {
                    "visit_id": "V2",
                    "customer_id": "CUST_0002",
                    "entry_time": datetime(2024, 1, 30, 12, 0),
                    "exit_time": datetime(2024, 1, 30, 12, 1),
                    "duration_seconds": 60.0,
                    "is_staff": False,
                },
                {
                    "visit_id": "V3",
                    "customer_id": "STAFF_a",
                    "entry_time": datetime(2024, 1, 30, 7, 0),
                    "exit_time": datetime(2024, 1, 30, 20, 0),
                    "duration_seconds": 46800.0,
                    "is_staff": True,
                },
            ]
        ),
    )
    links = shop.query("SELECT * EXCLUDE (day) FROM transaction_links WHERE day = ?", [D1])
    links.loc[links.transaction_id == "c", ["visit_id", "camera_customer_id"]] = ["V1", "CUST_0001"]
    shop.replace_partition("transaction_links", D1, links)
    got = run(shop, "unpaid_visits", D1)
    assert sorted(zip(got["kind"], got["visit_id"].fillna("-"))) == [
        ("unpaid sale", "V1"),
        ("walk-out (no sale)", "V2"),
    ]
    assert (
        got[got.kind == "unpaid sale"]["customer_id"].item() == "L2"
        and got[got.kind == "unpaid sale"]["amount"].item() == 20.0
    )


def test_peak_hours(visits):
    for name in ("visits_per_hour",):
        run(visits, name, D2)
    visits.replace_partition("transactions", D2, pd.DataFrame([tx("z", "2024-01-31 18:10:00", None, "Cash", "20L", 1)]))
    run(visits, "traffic_per_hour", D2)
    visits.replace_partition(
        "shop_hours",
        D2,
        pd.DataFrame([{"open_time": datetime(2024, 1, 31, 7, 0), "close_time": datetime(2024, 1, 31, 20, 30)}]),
    )
    got = run(visits, "peak_hours", D2).set_index("hour")
    assert got["is_peak"][got["is_peak"]].index.tolist() == [18, 19]
    assert got.loc[10, "is_idle"] and not got.loc[18, "is_idle"] and not got.loc[3, "is_idle"]
    monthly = run(visits, "peak_hours_monthly").set_index("hour")
    assert monthly.loc[18, "visits_per_day"] == 1.0 and monthly.loc[18, "is_peak"]
