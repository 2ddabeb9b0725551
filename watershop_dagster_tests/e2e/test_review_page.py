"""The review page's door: 127.0.0.1 without a password; with one (the owner's phone on the shop's network)
every request but the sign-in is refused until signed in, sessions expire, and corrections carry the session."""

import time
from datetime import date, datetime

import pandas as pd
import pytest
from starlette.testclient import TestClient

from watershop_dagster.core.identities.corrections import CorrectionLog
from watershop_dagster.core.storage.schemas import SCHEMAS
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.review.app import check_password, create_app, hash_password

DAY = date(2024, 4, 1)
LOCAL = "http://127.0.0.1:8765"  # the local page's own address


@pytest.fixture
def shop(tmp_path):
    """One customer with one track and one visit: enough to open the page and record a correction."""
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    t0, t1 = datetime(2024, 4, 1, 9, 0), datetime(2024, 4, 1, 9, 3)
    rows = {
        "face_tracks": {"track_id": "T1", "camera": "cam1", "first_time": t0, "last_time": t1, "faces": 5},
        "track_identities": {"track_id": "T1", "customer_id": "CUST_0001", "similarity": None, "is_staff": False},
        "visit_log": {
            "visit_id": "2024-04-01/V0001", "customer_id": "CUST_0001", "entry_time": t0, "exit_time": t1,
            "duration_seconds": 180.0, "faces_seen": 5, "tracks": 1, "is_staff": False,
        },
    }  # fmt: skip
    tables = {}
    for name, row in rows.items():
        columns = [c for c in SCHEMAS[name].column_names if c != "day"]
        tables[name] = pd.DataFrame([{c: row.get(c) for c in columns}], columns=columns)
    wh.replace_partitions(DAY, tables)
    (tmp_path / "crops").mkdir()
    (tmp_path / "crops" / "a.jpg").write_bytes(b"jpeg")
    return tmp_path, wh


def test_the_page_opens_with_unidentified_visits_and_counts_them_apart(shop):
    """A body without a usable face is a visit with no ID: counted on the page, not listed as a person."""
    data_dir, wh = shop
    t0, t1 = datetime(2024, 4, 1, 10, 0), datetime(2024, 4, 1, 10, 2)
    columns = [c for c in SCHEMAS["visit_log"].column_names if c != "day"]
    visits = wh.query("SELECT * EXCLUDE (day, shop) FROM visit_log")
    faceless = {"visit_id": "2024-04-01/V0002", "customer_id": None, "entry_time": t0, "exit_time": t1}
    faceless |= {"duration_seconds": 120.0, "faces_seen": 0, "tracks": 0, "is_staff": False, "identified": False}
    both = pd.concat([visits, pd.DataFrame([{c: faceless.get(c) for c in columns}], columns=columns)])
    wh.replace_partitions(DAY, {"visit_log": both[columns].reset_index(drop=True)})
    page = TestClient(create_app(data_dir, wh, apply=False), base_url=LOCAL).get("/")
    assert page.status_code == 200
    assert '<b id="unidentified-count">1</b>' in page.text and '<b id="customers-count">1</b>' in page.text
    assert 'id="row-None"' not in page.text


def test_password_is_stored_hashed():
    stored = hash_password("water-can 42")
    assert "water-can" not in stored and stored.startswith("scrypt$")
    assert check_password("water-can 42", stored) and not check_password("water-can 43", stored)
    assert hash_password("water-can 42") != stored  # salted


def test_local_page_opens_without_a_password(shop):
    data_dir, wh = shop
    client = TestClient(create_app(data_dir, wh, apply=False), base_url=LOCAL)
    page = client.get("/")
    assert page.status_code == 200 and "CUST_0001" in page.text and 'id="customers-count">1<' in page.text
    assert client.get("/files/crops/a.jpg").content == b"jpeg"
    assert client.get("/files/warehouse.duckdb").status_code == 404  # only crops and reports are served
    assert client.get("/files/../../etc/passwd").status_code == 404


def test_with_a_password_everything_is_refused_until_signed_in(shop):
    data_dir, wh = shop
    client = TestClient(create_app(data_dir, wh, password_hash=hash_password("s3cret"), apply=False))
    for path in ("/", "/log", "/reports", "/customer/CUST_0001", "/files/crops/a.jpg"):
        assert client.get(path).status_code == 401, path
    refused = client.post("/correct", data={"kind": "label", "ids": "CUST_0001", "text": "L002"})
    assert refused.status_code == 401 and CorrectionLog(data_dir).read() == []
    assert client.post("/login", data={"password": "wrong"}).status_code == 401
    assert client.get("/").status_code == 401
    signed_in = client.post("/login", data={"password": "s3cret"}, follow_redirects=False)
    assert signed_in.status_code == 303
    assert client.get("/").status_code == 200
    done = client.post("/correct", data={"kind": "label", "ids": "CUST_0001", "text": "L002"}, follow_redirects=False)
    assert done.status_code == 303
    (correction,) = CorrectionLog(data_dir).read()
    assert correction.kind == "label" and correction.text == "L002"
    assert correction.session.startswith("web:") and correction.session != "web:local"
    client.get("/logout")
    assert client.get("/").status_code == 401


def test_sessions_expire(shop):
    data_dir, wh = shop
    now = [time.time()]
    app = create_app(data_dir, wh, password_hash=hash_password("s3cret"), session_seconds=3600, clock=lambda: now[0])
    client = TestClient(app)
    client.post("/login", data={"password": "s3cret"})
    assert client.get("/").status_code == 200
    now[0] += 3599
    assert client.get("/").status_code == 200
    now[0] += 2
    assert client.get("/").status_code == 401


def test_wrong_passwords_are_throttled(shop):
    data_dir, wh = shop
    now = [1000.0]
    client = TestClient(create_app(data_dir, wh, password_hash=hash_password("s3cret"), clock=lambda: now[0]))
    for _ in range(5):
        assert client.post("/login", data={"password": "guess"}).status_code == 401
    # the sixth try is refused before the password is even checked, the right one too
    assert client.post("/login", data={"password": "s3cret"}).status_code == 429
    now[0] += 601
    assert client.post("/login", data={"password": "s3cret"}, follow_redirects=False).status_code == 303


def test_a_form_posted_from_another_site_is_refused(shop):
    data_dir, wh = shop
    client = TestClient(
        create_app(data_dir, wh, apply=False), base_url=LOCAL
    )  # the local page: no password, no session
    form = {"kind": "label", "ids": "CUST_0001", "text": "L002"}
    for header in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {"Origin": "null"}):
        assert client.post("/correct", data=form, headers=header).status_code == 403, header
    assert CorrectionLog(data_dir).read() == []
    same = client.post("/correct", data=form, headers={"Origin": LOCAL}, follow_redirects=False)
    assert same.status_code == 303 and len(CorrectionLog(data_dir).read()) == 1


def test_the_local_page_answers_to_its_own_address_only(shop):
    """A site whose name re-resolves to 127.0.0.1 (DNS rebinding) sends an Origin that agrees with its Host:
    without a password, the page serves 127.0.0.1 and localhost only, so its forms cannot be posted."""
    data_dir, wh = shop
    rebound = TestClient(create_app(data_dir, wh, apply=False), base_url="http://evil.example:8765")
    for path, form in (("/correct", {"kind": "label", "ids": "CUST_0001", "text": "x"}), ("/forget", {})):
        answer = rebound.post(
            path,
            data={**form, "customer_id": "CUST_0001", "confirm": "yes"},
            headers={"Origin": "http://evil.example:8765"},
        )
        assert answer.status_code == 400, path
    assert rebound.get("/").status_code == 400
    assert CorrectionLog(data_dir).read() == []
    assert (
        TestClient(create_app(data_dir, wh, apply=False), base_url="http://localhost:8765").get("/").status_code == 200
    )
    # with a password (the shop's network) any address is served, behind the sign-in
    lan = TestClient(
        create_app(data_dir, wh, password_hash=hash_password("s3cret"), apply=False),
        base_url="http://192.168.1.20:8765",
    )
    assert lan.get("/", follow_redirects=False).status_code == 401


def test_the_shop_network_needs_a_password_file(capsys):
    from watershop_dagster.cli import main

    assert main(["review", "--lan"]) == 2
    assert "--password-file" in capsys.readouterr().err
