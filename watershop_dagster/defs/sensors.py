"""A run per footage day once its new or changed files have stopped growing."""

import hashlib
import json

import dagster as dg

from watershop_dagster.core.footage.watch import look
from watershop_dagster.defs.partitions import daily_partitions
from watershop_dagster.defs.resources import ShopDataResource


def build_footage_sensor(daily_job) -> dg.SensorDefinition:
    @dg.sensor(
        job=daily_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Requests the day's partition when footage under data/footage/<day>/ appears or changes "
            "and has stopped growing."
        ),
    )
    def footage_sensor(context: dg.SensorEvaluationContext, shop: ShopDataResource):
        cursor = json.loads(context.cursor) if context.cursor else {}
        result = look(shop.layout.footage_dir, cursor.get("seen", {}), set(daily_partitions.get_partition_keys()))
        for problem in result.problems:
            context.log.warning(problem)
        if result.growing:
            context.log.info(f"waiting for {len(result.growing)} file(s) to settle: {', '.join(result.growing[:5])}")
        requests = []
        still_writing = {g.split("/")[0] for g in result.growing}
        for day, files in sorted(result.settled.items()):
            if day.isoformat() in still_writing:
                continue  # run the day once all of its files have settled
            # The run key is the day's set of settled files: it changes exactly when a file is added or changed.
            digest = hashlib.sha1("|".join(f.key for f in files).encode()).hexdigest()[:16]
            requests.append(
                dg.RunRequest(
                    partition_key=day.isoformat(),
                    run_key=f"footage:{day}:{digest}",
                    tags={"watershop/trigger": "footage", "watershop/files": str(len(files))},
                )
            )
        context.update_cursor(json.dumps({"seen": result.seen}))
        return (
            dg.SensorResult(run_requests=requests)
            if requests
            else dg.SkipReason(
                "no settled new or changed footage"
                + (f"; {len(result.problems)} problem(s) logged" if result.problems else "")
            )
        )

    return footage_sensor
