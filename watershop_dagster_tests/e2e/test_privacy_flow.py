import json
import subprocess
import sys
from datetime import date

import cv2

from watershop_dagster.sim.world import demo_cast, write_world
from watershop_dagster_tests.e2e.test_footage_to_visits import run_days

DAYS = [date(2024, 4, 1), date(2024, 4, 2)]


def test_forgotten_face_is_not_recognised_again_and_opted_out_faces_are_never_enrolled(tmp_path, engine):
    cast = demo_cast(engine)
    write_world(tmp_path, DAYS, cast, visits_per_day=6)
    truth = {d: json.loads((tmp_path / "truth" / f"{d}.json").read_text())["visits"] for d in DAYS}
    # One customer asked not to be recognised at all: their photo goes in data/optout/.
    both_days = [
        p
        for p in {v["person"] for v in truth[DAYS[0]] if not v["is_staff"]}
        if p in {v["person"] for v in truth[DAYS[1]]}
    ]
    opted, forgotten_person = both_days[0], both_days[1]
    opted_image = next(c.images[0] for c in cast.customers if c.name == opted)
    (tmp_path / "optout" / opted).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "optout" / opted / "1.jpg"), cast.sprites[opted_image].image)

    wh = run_days(tmp_path, DAYS[:1])
    everyone = wh.query("SELECT * FROM visit_log WHERE NOT is_staff")
    visits = everyone[everyone["identified"].astype(bool)].reset_index(drop=True)
    expected = [v for v in truth[DAYS[0]] if not v["is_staff"] and v["person"] != opted]
    assert len(visits) == len(expected)  # the opted-out person is never recognised...
    # ...though their body may still count as an anonymous visit: footfall, with nothing biometric kept
    opted_visits = [v for v in truth[DAYS[0]] if v["person"] == opted]
    assert (~everyone["identified"].astype(bool)).sum() <= len(opted_visits)
    assert everyone.loc[~everyone["identified"].astype(bool), "customer_id"].isna().all()
    assert (
        wh.query("SELECT count(*) n FROM face_detections WHERE reject_reason = 'opted_out' AND crop_path IS NULL")["n"][
            0
        ]
        > 0
    )

    # Forget the customer whose visit came first among forgotten_person's.
    first = next(v for v in expected if v["person"] == forgotten_person)
    row = visits.iloc[(visits["entry_time"] - __import__("pandas").Timestamp(first["entry"])).abs().argmin()]
    old_id = row["customer_id"]
    env = {"WATERSHOP_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dh"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "watershop_dagster.cli",
            "forget",
            old_id,
            "--by",
            "test",
            "--reason",
            "erasure request",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (
        wh.query("SELECT count(*) n FROM customer_registry WHERE customer_id = ? AND centroid IS NOT NULL", [old_id])[
            "n"
        ][0]
        == 0
    )
    assert wh.query("SELECT requested_by FROM forgotten_customers")["requested_by"].tolist() == ["test"]

    run_days(tmp_path, DAYS[1:])
    day2 = wh.query(
        "SELECT customer_id, entry_time FROM visit_log WHERE day = ? AND NOT is_staff AND identified", [DAYS[1]]
    )
    assert old_id not in set(day2["customer_id"])  # the same face comes back under a new anonymous ID
    assert len(day2) == len([v for v in truth[DAYS[1]] if not v["is_staff"] and v["person"] != opted])

    # Analysing the first day again (footage decoded anew) does not bring the erased faces back: they are
    # dropped at detection by where and when they were, and their anonymous visits keep the forgotten ID.
    visits_before = wh.query("SELECT count(*) n FROM visit_log WHERE customer_id = ?", [old_id])["n"][0]
    run_days(tmp_path, DAYS[:1])
    erased = wh.query(
        "SELECT count(*) n, count(crop_path) crops FROM face_detections WHERE day = ? AND reject_reason = 'forgotten'",
        [DAYS[0]],
    )
    assert erased["n"][0] > 0 and erased["crops"][0] == 0
    assert (
        wh.query("SELECT count(*) n FROM customer_registry WHERE customer_id = ? AND centroid IS NOT NULL", [old_id])[
            "n"
        ][0]
        == 0
    )
    assert wh.query("SELECT count(*) n FROM visit_log WHERE customer_id = ?", [old_id])["n"][0] == visits_before
    day1_ids = set(wh.query("SELECT customer_id FROM visit_log WHERE day = ?", [DAYS[0]])["customer_id"])
    assert day1_ids.isdisjoint(set(day2["customer_id"]) - {old_id} - set(visits["customer_id"]))


def test_an_opt_out_photo_added_later_lists_the_id_they_had_and_the_review_page_forgets_it(tmp_path, engine):
    """A photo added to optout/ acts on the days analysed after it; the ID the person already had is listed
    (optout_matches, the review page) for the owner to forget, and forgetting it takes it off the list."""
    from starlette.testclient import TestClient

    from watershop_dagster.definitions import build_definitions
    from watershop_dagster.review.app import create_app
    from watershop_dagster_tests.support import ephemeral_instance, resources_for, run_shop_job, true_people

    cast = demo_cast(engine)
    write_world(tmp_path, DAYS[:1], cast, visits_per_day=6)
    wh = run_days(tmp_path, DAYS[:1])
    assert wh.query("SELECT count(*) n FROM optout_matches")["n"][0] == 0  # nobody on the list, nobody listed
    people = true_people(tmp_path / "truth", wh.query("SELECT * FROM visit_log"))
    their_id, person = sorted(people.items())[0]
    image = next(c.images[0] for c in cast.customers if c.name == person)
    (tmp_path / "optout" / person).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "optout" / person / "1.jpg"), cast.sprites[image].image)

    defs = build_definitions(resources_for(tmp_path))
    with ephemeral_instance() as instance:
        assert run_shop_job(defs, instance, "cross_day_job", "main").success
        matches = wh.query("SELECT customer_id, optout_name FROM optout_matches")
        assert matches.values.tolist() == [[their_id, person]]  # them, and nobody else

        client = TestClient(create_app(tmp_path, wh, defs=defs, instance=instance), base_url="http://127.0.0.1:8765")
        page = client.get("/").text
        assert "Asked not to be recognised (1)" in page and f'value="{their_id}"' in page
        form = {"customer_id": their_id, "reason": f"opted out ({person})"}
        unconfirmed = client.post("/forget", data=form).text  # an erasure is never one click
        assert "Refused" in unconfirmed and "Asked not to be recognised (1)" in unconfirmed
        done = client.post("/forget", data={**form, "confirm": "yes"})
        assert f"forgot {their_id}" in done.text and "Asked not to be recognised" not in done.text
    erased = wh.query("SELECT count(centroid) n FROM customer_registry WHERE customer_id = ?", [their_id])
    assert erased["n"][0] == 0
    audit = wh.query("SELECT requested_by, reason FROM forgotten_customers").values.tolist()
    assert audit == [["owner (web:local)", f"opted out ({person})"]]
