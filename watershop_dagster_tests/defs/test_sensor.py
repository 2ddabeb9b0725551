import dagster as dg

from watershop_dagster_tests.core.test_footage import write_video
from watershop_dagster_tests.support import register_shops


def tick(defs, instance, cursor=None):
    register_shops(instance, "main")
    sensor = defs.resolve_sensor_def("footage_sensor")
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=defs.resources)
    # The daemon evaluates sensors with the instance as the store of dynamic partitions (the shops); so does this.
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        result = sensor.evaluate_tick(ctx)
    return result, result.cursor


def test_sensor_waits_for_files_to_settle_then_requests_the_day_once(defs, instance, data_dir):
    folder = data_dir / "footage" / "2024-03-04"
    folder.mkdir(parents=True)
    video = write_video(folder / "cam1_080000.mp4")
    r1, cursor = tick(defs, instance)
    assert r1.run_requests == []  # first look: could still be growing
    r2, cursor = tick(defs, instance, cursor)
    assert [r.partition_key for r in r2.run_requests] == ["2024-03-04|main"]
    key = r2.run_requests[0].run_key
    r3, cursor = tick(defs, instance, cursor)
    assert [r.run_key for r in r3.run_requests] == [key]  # same files, same key: Dagster launches it once
    with open(video, "ab") as f:  # the DVR appends to the file
        f.write(b"\x00" * 100)
    r4, cursor = tick(defs, instance, cursor)
    assert r4.run_requests == []  # growing again: wait
    r5, _ = tick(defs, instance, cursor)
    assert r5.run_requests[0].run_key != key  # changed file: a new run


def test_bad_names_and_out_of_range_days_are_logged_not_fatal(defs, instance, data_dir):
    (data_dir / "footage" / "not-a-day").mkdir(parents=True)
    (data_dir / "footage" / "1999-01-01").mkdir(parents=True)
    good = data_dir / "footage" / "2024-03-05"
    good.mkdir(parents=True)
    write_video(good / "nostart.mp4")
    write_video(good / "cam2_101010.mp4")
    _, cursor = tick(defs, instance)
    r, _ = tick(defs, instance, cursor)
    assert [q.partition_key for q in r.run_requests] == ["2024-03-05|main"]


def test_new_shop_folders_register_themselves_and_bad_names_are_logged(defs, instance, data_dir):
    (data_dir / "transactions").mkdir(parents=True)  # the single-shop layout: shop main
    (data_dir / "shops" / "anna-nagar" / "footage").mkdir(parents=True)
    (data_dir / "shops" / "Bad Name").mkdir(parents=True)
    sensor = defs.resolve_sensor_def("shop_folders")
    ctx = dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources)
    result = sensor.evaluate_tick(ctx)
    (request,) = result.dynamic_partitions_requests
    assert sorted(request.partition_keys) == ["anna-nagar", "main"]
    instance.add_dynamic_partitions("shops", list(request.partition_keys))
    assert sensor.evaluate_tick(ctx).skip_message.startswith("no new shop folders")


def test_a_new_correction_requests_the_identity_assets_for_the_days_it_touches_then_the_launchpad_undo(
    defs, instance, data_dir
):
    from datetime import date, datetime

    from watershop_dagster.core.identities.corrections import CorrectionLog, Span, new_correction

    register_shops(instance, "main")
    for day in ("2024-03-04", "2024-03-05", "2024-03-06"):
        partition = f"{day}|main"
        instance.report_runless_asset_event(dg.AssetMaterialization("customer_registry", partition=partition))
    sensor = defs.resolve_sensor_def("identity_corrections_sensor")

    def tick(cursor=None):
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=defs.resources)
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            result = sensor.evaluate_tick(ctx)
        return result, result.cursor

    r, cursor = tick()
    assert r.run_requests == []  # no corrections yet
    span = Span(date(2024, 3, 5), "cam1", datetime(2024, 3, 5, 9), datetime(2024, 3, 5, 9, 2))
    CorrectionLog(data_dir).append(new_correction("staff", {"id": [span]}, ["CUST_0002"], "asha"))
    r, cursor = tick(cursor)
    refresh = [(q.job_name, q.partition_key) for q in r.run_requests]
    assert refresh == [
        ("identity_refresh_job", "2024-03-05|main"),
        ("identity_refresh_job", "2024-03-06|main"),
        ("cross_day_job", "main"),
    ]  # not the day before it, never the footage assets
    # one refresh of the shop at a time in the run queue, earliest day first
    assert {q.tags["watershop/identity_refresh"] for q in r.run_requests} == {"main"}
    assert [int(q.tags["dagster/priority"]) for q in r.run_requests] == [3, 2, 1]
    r, cursor = tick(cursor)
    assert r.run_requests == []
    # The launchpad: identity_correction_job with op config records an undo, logged with its run.
    config = {"ops": {"record_identity_correction": {"config": {"kind": "undo", "ids": ["C0001"], "by": "asha"}}}}
    assert (
        defs.resolve_job_def("identity_correction_job").execute_in_process(run_config=config, instance=instance).success
    )
    log = CorrectionLog(data_dir).read()
    assert log[0].undone_by == "C0002" and log[1].session.startswith("dagster:")
    r, _ = tick(cursor)
    assert [q.partition_key for q in r.run_requests if q.job_name == "identity_refresh_job"] == [
        "2024-03-05|main",
        "2024-03-06|main",
    ]
