"""Jobs and schedules. `daily_job` runs every day-partitioned asset for one shop day; `cross_day_job`
refreshes the tables that summarise all days; `monthly_job` writes a month's report."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import dagster as dg

from watershop_dagster.defs.partitions import daily_partitions

if TYPE_CHECKING:
    # What build_schedule_from_partitioned_job returns for an asset job; dagster does not export the name.
    from dagster._core.definitions.partitions.partitioned_schedule import UnresolvedPartitionedAssetScheduleDefinition

CLOSING_HOUR = 22  # the shop closes by 21:00; run after the till export has landed


def build_jobs(assets: list[dg.AssetsDefinition]) -> tuple:
    by_shape: dict[str, list] = {"daily": [], "monthly": [], "none": []}
    for a in assets:
        shape = "none" if a.partitions_def is None else ("daily" if a.partitions_def == daily_partitions else "monthly")
        by_shape[shape].extend(a.keys)
    daily_job = dg.define_asset_job(
        "daily_job",
        selection=dg.AssetSelection.assets(*by_shape["daily"]),
        partitions_def=daily_partitions,
        description="Every day-partitioned asset of one shop day, in dependency order.",
    )
    cross_day_job = dg.define_asset_job(
        "cross_day_job",
        selection=dg.AssetSelection.assets(*by_shape["none"]),
        description="Monthly, quarterly and lifetime tables, staffing and the forecast, recomputed over all days.",
    )
    monthly_job = dg.define_asset_job(
        "monthly_job",
        selection=dg.AssetSelection.assets(*by_shape["monthly"]),
        description="The month's report (month to date while the month runs).",
    )
    return daily_job, cross_day_job, monthly_job


def build_identity_refresh_job(assets: list[dg.AssetsDefinition]) -> dg.UnresolvedAssetJobDefinition:
    """The identity assets and every day-partitioned asset downstream of them: what an owner's correction
    changes. Footage is not decoded again."""
    daily = [k for a in assets if a.partitions_def == daily_partitions for k in a.keys]
    return dg.define_asset_job(
        "identity_refresh_job",
        selection=dg.AssetSelection.assets("customer_registry").downstream() & dg.AssetSelection.assets(*daily),
        partitions_def=daily_partitions,
        description="Identities and everything downstream for one day, after a correction (no footage decoding).",
    )


def build_schedules(
    daily_job, cross_day_job, monthly_job
) -> list[dg.ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition]:
    daily = dg.build_schedule_from_partitioned_job(
        daily_job,
        hour_of_day=CLOSING_HOUR,
        minute_of_hour=0,
        name="daily_after_closing",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    cross_day = dg.ScheduleDefinition(
        name="cross_day_after_daily",
        job=cross_day_job,
        cron_schedule=f"30 {CLOSING_HOUR} * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )

    @dg.schedule(
        job=monthly_job,
        cron_schedule=f"45 {CLOSING_HOUR} * * *",
        name="month_to_date_report",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def month_to_date_report(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time or datetime.now()
        return dg.RunRequest(partition_key=when.strftime("%Y-%m-01"))

    return [daily, cross_day, month_to_date_report]
