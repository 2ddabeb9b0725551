"""Sensors: new shops register themselves; a shop's day runs once its new or changed footage has settled."""

import hashlib
import json

import dagster as dg

from watershop_dagster.core.footage.watch import look
from watershop_dagster.defs.partitions import daily_partitions, shop_day_key, shop_partitions
from watershop_dagster.defs.resources import ShopDataResource

SHOPS = shop_partitions.name or "shops"


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a shop partition for each new folder under data/shops/ (and `main` for the single-shop layout).",
)
def shop_folders(context: dg.SensorEvaluationContext, shop: ShopDataResource):
    shops, problems = shop.shops()
    for problem in problems:
        context.log.warning(problem)
    known = set(context.instance.get_dynamic_partitions(SHOPS))
    new = [s for s in shops if s not in known]
    if not new:
        return dg.SkipReason(f"no new shop folders ({len(known)} shops registered)")
    return dg.SensorResult(dynamic_partitions_requests=[shop_partitions.build_add_request(new)])


def build_footage_sensor(daily_job) -> dg.SensorDefinition:
    @dg.sensor(
        job=daily_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Requests a shop's day when footage under its footage/<day>/ folder appears or changes and has "
            "stopped growing."
        ),
    )
    def footage_sensor(context: dg.SensorEvaluationContext, shop: ShopDataResource):
        cursor = json.loads(context.cursor) if context.cursor else {}
        seen_by_shop = cursor.get("shops", {"main": cursor.get("seen", {})})
        valid_days = set(daily_partitions.get_partition_keys())
        requests, waiting, problems = [], 0, 0
        for name in sorted(context.instance.get_dynamic_partitions(SHOPS)):
            result = look(shop.layout_for(name).footage_dir, seen_by_shop.get(name, {}), valid_days)
            for problem in result.problems:
                context.log.warning(f"{name}: {problem}")
            problems += len(result.problems)
            waiting += len(result.growing)
            still_writing = {g.split("/")[0] for g in result.growing}
            for day, files in sorted(result.settled.items()):
                if day.isoformat() in still_writing:
                    continue  # run the day once all of its files have settled
                # The run key is the shop's day's set of settled files: it changes when a file is added or changed.
                digest = hashlib.sha1("|".join(f.key for f in files).encode()).hexdigest()[:16]
                requests.append(
                    dg.RunRequest(
                        partition_key=shop_day_key(day, name),
                        run_key=f"footage:{name}:{day}:{digest}",
                        tags={
                            "watershop/trigger": "footage",
                            "watershop/files": str(len(files)),
                            "watershop/shop": name,
                        },
                    )
                )
            seen_by_shop[name] = result.seen
        if waiting:
            context.log.info(f"waiting for {waiting} file(s) to settle")
        context.update_cursor(json.dumps({"shops": seen_by_shop}))
        if requests:
            return dg.SensorResult(run_requests=requests)
        return dg.SkipReason(
            "no settled new or changed footage" + (f"; {problems} problem(s) logged" if problems else "")
        )

    return footage_sensor
