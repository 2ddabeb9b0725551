"""Jobs and schedules, one job per partition shape:
- `daily_job`: every day x shop asset of one shop's day;
- `cross_day_job`: the tables that summarise all of a shop's days (per shop);
- `monthly_job`: a shop's month report;
- `chain_daily_job` and `chain_monthly_job`: every shop rolled up, per day and per month.
The schedules ask for each registered shop's partitions once the shop has closed."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from watershop_dagster.defs.partitions import (
    daily_partitions,
    monthly_partitions,
    shop_day_key,
    shop_day_partitions,
    shop_month_key,
    shop_month_partitions,
    shop_partitions,
)

CLOSING_HOUR = 22  # the shops close by 21:00; run after the till export has landed
JOBS = {  # job name: (partitions, description)
    "daily_job": (shop_day_partitions, "Every day-partitioned asset of one shop's day, in dependency order."),
    "cross_day_job": (shop_partitions, "A shop's monthly, quarterly and lifetime tables, staffing and forecast."),
    "monthly_job": (shop_month_partitions, "A shop's month report (month to date while the month runs)."),
    "chain_daily_job": (daily_partitions, "Every shop's day rolled up: chain_daily and chain_hours."),
    "chain_monthly_job": (monthly_partitions, "The chain's month report across shops."),
}


def build_jobs(assets: list[dg.AssetsDefinition]) -> dict[str, dg.UnresolvedAssetJobDefinition]:
    jobs = {}
    for name, (partitions, description) in JOBS.items():
        keys = [k for a in assets if a.partitions_def == partitions for k in a.keys]
        selection = dg.AssetSelection.assets(*keys)
        # A shop's day decodes its footage: the deployment's run queue caps such runs by this tag (deploy/).
        tags = {"watershop/kind": "footage"} if name == "daily_job" else None
        jobs[name] = dg.define_asset_job(
            name, selection=selection, partitions_def=partitions, description=description, tags=tags
        )
    # What an owner's identity correction changes: the identity assets and every day asset downstream of them
    # (footage is not decoded again).
    days = [k for a in assets if a.partitions_def == shop_day_partitions for k in a.keys]
    jobs["identity_refresh_job"] = dg.define_asset_job(
        "identity_refresh_job",
        selection=dg.AssetSelection.assets("customer_registry").downstream() & dg.AssetSelection.assets(*days),
        partitions_def=shop_day_partitions,
        description="Identities and everything downstream for one shop's day, after a correction.",
    )
    return jobs


def _shops(context: dg.ScheduleEvaluationContext) -> list[str]:
    return sorted(context.instance.get_dynamic_partitions(shop_partitions.name or "shops"))


def build_schedules(jobs: dict[str, dg.UnresolvedAssetJobDefinition]) -> list[dg.ScheduleDefinition]:
    running = dg.DefaultScheduleStatus.RUNNING

    def when(context: dg.ScheduleEvaluationContext) -> datetime:
        return context.scheduled_execution_time or datetime.now()

    @dg.schedule(job=jobs["daily_job"], cron_schedule=f"0 {CLOSING_HOUR} * * *", default_status=running)
    def daily_after_closing(context: dg.ScheduleEvaluationContext):
        """Each shop's day, run once its doors have closed."""
        day = when(context).date()
        return [dg.RunRequest(partition_key=shop_day_key(day, s), run_key=f"{day}|{s}") for s in _shops(context)]

    @dg.schedule(job=jobs["cross_day_job"], cron_schedule=f"30 {CLOSING_HOUR} * * *", default_status=running)
    def cross_day_after_daily(context: dg.ScheduleEvaluationContext):
        day = when(context).date()
        return [dg.RunRequest(partition_key=s, run_key=f"{day}|{s}") for s in _shops(context)]

    @dg.schedule(job=jobs["monthly_job"], cron_schedule=f"45 {CLOSING_HOUR} * * *", default_status=running)
    def month_to_date_report(context: dg.ScheduleEvaluationContext):
        day = when(context).date()
        return [dg.RunRequest(partition_key=shop_month_key(day, s), run_key=f"{day}|{s}") for s in _shops(context)]

    @dg.schedule(job=jobs["chain_daily_job"], cron_schedule=f"50 {CLOSING_HOUR} * * *", default_status=running)
    def chain_after_shops(context: dg.ScheduleEvaluationContext):
        day = when(context).date()
        return dg.RunRequest(partition_key=day.isoformat(), run_key=str(day))

    @dg.schedule(job=jobs["chain_monthly_job"], cron_schedule=f"55 {CLOSING_HOUR} * * *", default_status=running)
    def chain_month_to_date(context: dg.ScheduleEvaluationContext):
        day = when(context).date()
        return dg.RunRequest(partition_key=day.strftime("%Y-%m-01"), run_key=str(day))

    return [daily_after_closing, cross_day_after_daily, month_to_date_report, chain_after_shops, chain_month_to_date]
