"""One calendar of shop days shared by every daily asset."""

import os
from datetime import date

import dagster as dg

DEFAULT_START_DATE = "2024-01-01"


def start_date() -> str:
    # Read when the code location loads: Dagster needs the partition range before any resource exists.
    return os.environ.get("WATERSHOP_START_DATE", DEFAULT_START_DATE)


# end_offset=1 makes today a partition too, so footage landing during the day can be processed at once.
daily_partitions = dg.DailyPartitionsDefinition(start_date=start_date(), end_offset=1)


def partition_day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)
