"""Jobs and the daily schedule. The daily job runs every day-partitioned asset for one shop day; the
cross-day job refreshes the tables that summarise all days (monthly, lifetime)."""

import dagster as dg

from watershop_dagster.defs.partitions import daily_partitions

CLOSING_HOUR = 22  # the shop closes by 21:00; run after the till export has landed


def build_jobs(assets: list[dg.AssetsDefinition]) -> tuple:
    daily_keys, cross_day_keys = [], []
    for a in assets:
        (daily_keys if a.partitions_def is not None else cross_day_keys).extend(a.keys)
    daily_job = dg.define_asset_job(
        "daily_job",
        selection=dg.AssetSelection.assets(*daily_keys),
        partitions_def=daily_partitions,
        description="Every day-partitioned asset of one shop day, in dependency order.",
    )
    cross_day_job = dg.define_asset_job(
        "cross_day_job",
        selection=dg.AssetSelection.assets(*cross_day_keys),
        description="Monthly, quarterly and lifetime tables, recomputed over all days.",
    )
    return daily_job, cross_day_job


def build_schedules(daily_job, cross_day_job) -> list[dg.ScheduleDefinition]:
    daily = dg.build_schedule_from_partitioned_job(
        daily_job, hour_of_day=CLOSING_HOUR, minute_of_hour=0, name="daily_after_closing",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    cross_day = dg.ScheduleDefinition(
        name="cross_day_after_daily", job=cross_day_job, cron_schedule=f"30 {CLOSING_HOUR} * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return [daily, cross_day]
