"""The Dagster code location: `dagster dev` and `dg check defs` load `defs` from here."""

import dagster as dg

from watershop_dagster.defs.automation import build_jobs, build_schedules
from watershop_dagster.defs.chain import chain_assets
from watershop_dagster.defs.checks import CHECKS
from watershop_dagster.defs.commerce import till_records
from watershop_dagster.defs.identity import build_corrections_sensor, identity_correction_job
from watershop_dagster.defs.insights import insight_assets
from watershop_dagster.defs.privacy import (
    biometric_retention,
    forget_customer_job,
    forgotten_customers,
    optout_matches,
    retention_job,
    retention_schedule,
    warehouse_maintenance,
)
from watershop_dagster.defs.resources import default_resources
from watershop_dagster.defs.sensors import build_footage_sensor, shop_folders
from watershop_dagster.defs.sql_models import build_sql_assets
from watershop_dagster.defs.vision import identity_corrections, vision_assets


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    assets = [till_records, *vision_assets, optout_matches, *insight_assets, *build_sql_assets(), *chain_assets]
    jobs = build_jobs(assets)
    assets += [biometric_retention, warehouse_maintenance]  # on their own schedule, not with the day's data
    return dg.Definitions(
        assets=[*assets, forgotten_customers, identity_corrections],
        asset_checks=CHECKS,
        jobs=[*jobs.values(), retention_job, forget_customer_job, identity_correction_job],
        schedules=[*build_schedules(jobs), retention_schedule],
        sensors=[
            shop_folders,
            build_footage_sensor(jobs["daily_job"]),
            build_corrections_sensor(jobs["identity_refresh_job"], jobs["cross_day_job"]),
        ],
        resources=resources or default_resources(),
    )


defs = build_definitions()
