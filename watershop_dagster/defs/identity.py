"""The owner's identity corrections as Dagster definitions: a job to record one from the launchpad, and a
sensor that brings the identity assets and everything downstream up to date for the days a correction
touches (footage is never decoded again)."""

import json
from datetime import date

import dagster as dg
from pydantic import Field

from watershop_dagster.core.identities.corrections import CorrectionLog
from watershop_dagster.core.storage.layout import MAIN_SHOP
from watershop_dagster.core.storage.shop_scope import ShopWarehouse
from watershop_dagster.defs.partitions import shop_day_key
from watershop_dagster.defs.resources import ShopDataResource, WarehouseResource
from watershop_dagster.identity_commands import CorrectionRefused, make_correction, touched_days


class IdentityCorrectionConfig(dg.Config):
    kind: str = Field(description="merge, split, not_same, staff, not_staff, ignore, label or undo")
    ids: list[str] = Field(
        description="merge: [KEEP, OTHER]; split: [ID] or [ID, TO_ID]; not_same: [A, B]; undo: [CORRECTION_ID]; "
        "others: [ID]"
    )
    visits: list[str] = Field(default=[], description="split: the visit IDs to move")
    text: str = Field(default="", description="label: a name or the till's ledger account (e.g. L002)")
    by: str = Field(description="who made the correction (kept in the log)")
    reason: str = Field(default="", description="why (kept in the log)")
    shop: str = Field(default=MAIN_SHOP, description="the shop whose IDs these are")


@dg.op
def record_identity_correction(
    context: dg.OpExecutionContext,
    config: IdentityCorrectionConfig,
    shop: ShopDataResource,
    warehouse: WarehouseResource,
) -> None:
    log = CorrectionLog(shop.layout_for(config.shop).root)
    try:
        correction = make_correction(
            ShopWarehouse(warehouse.get(), config.shop),
            log,
            config.kind,
            config.ids,
            config.visits,
            config.text,
            config.by,
            config.reason,
            session=f"dagster:{context.run_id[:8]}",
        )
    except CorrectionRefused as exc:
        raise dg.Failure(str(exc)) from exc
    correction = log.append(correction)
    context.log.info(
        f"{correction.id}: {correction.kind} {' '.join(correction.ids)} recorded; the identity_corrections sensor "
        "brings the touched days up to date"
    )


@dg.job(description="Record one identity correction (merge, split, not the same person, staff, ignore, label, undo).")
def identity_correction_job():
    record_identity_correction()


# Runs with the same value of this tag (a shop) run one at a time: the instance's run queue limits it to 1.
REFRESH_TAG = "watershop/identity_refresh"


def build_corrections_sensor(refresh_job, cross_day_job) -> dg.SensorDefinition:
    @dg.sensor(
        jobs=[refresh_job, cross_day_job],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs identity_refresh_job for every processed day from the first one a new correction "
        "touches (and the cross-day tables after), so corrections show without anyone running anything.",
    )
    def identity_corrections_sensor(context: dg.SensorEvaluationContext, shop: ShopDataResource):
        seen = json.loads(context.cursor)["seen"] if context.cursor else {}
        if isinstance(seen, int):  # a cursor from before shops: it counted shop main's corrections
            seen = {MAIN_SHOP: seen}
        done = context.instance.get_materialized_partitions(dg.AssetKey("customer_registry"))
        requests = []
        for name in sorted(context.instance.get_dynamic_partitions("shops")):
            log = CorrectionLog(shop.layout_for(name).root)
            corrections = log.read()
            if len(corrections) <= seen.get(name, 0):
                continue
            touched: set[date] = set()
            for c in corrections[seen.get(name, 0) :]:
                touched |= touched_days(log, c)
            seen[name] = len(corrections)
            if not touched:
                continue
            days = sorted(
                day
                for key in done
                for day, key_shop in [key.split("|")]
                if key_shop == name and day >= min(touched).isoformat()
            )
            digest = log.digest()
            # Day N reads the registry day N-1 left: one refresh of a shop at a time (the run queue's limit on
            # REFRESH_TAG), earliest day first (higher priority), the all-days tables last.
            order = [(shop_day_key(d, name), refresh_job.name, f"corrections:{name}:{digest}:{d}") for d in days] + [
                (name, cross_day_job.name, f"corrections:{name}:{digest}")
            ]
            requests += [
                dg.RunRequest(
                    partition_key=key,
                    job_name=job,
                    run_key=run_key,
                    tags={
                        "watershop/trigger": "identity_corrections",
                        "watershop/shop": name,
                        REFRESH_TAG: name,
                        "dagster/priority": str(len(order) - i),
                    },
                )
                for i, (key, job, run_key) in enumerate(order)
            ]
        context.update_cursor(json.dumps({"seen": seen}))
        if not requests:
            return dg.SkipReason("no new corrections that touch a processed day")
        return dg.SensorResult(run_requests=requests)

    return identity_corrections_sensor
