"""The calendars of the shop's data: days (and months) of each shop.

A shop is a partition dimension next to the day: every daily asset is partitioned by day x shop, the tables
that cover all of a shop's days by shop, and the monthly report by month x shop. Shops are dynamic
partitions: a new folder under data/shops/ registers itself through the `shop_folders` sensor (and the
`watershop` command registers the shops it finds before it runs).
"""

import os
from datetime import date
from pathlib import Path

import dagster as dg

from watershop_dagster.core.storage.layout import MAIN_SHOP, first_data_day

DEFAULT_START_DATE = "2024-01-01"


def start_date() -> str:
    """WATERSHOP_START_DATE, else the first day the data folder has till or footage files for (so a demo week
    shows a week of partitions, not years), else 2024-01-01. Read when the code location loads: Dagster needs
    the partition range before any resource exists."""
    if os.environ.get("WATERSHOP_START_DATE"):
        return os.environ["WATERSHOP_START_DATE"]
    first = first_data_day(Path(os.environ.get("WATERSHOP_DATA_DIR", "data")))
    return first.isoformat() if first else DEFAULT_START_DATE


def identities_shared() -> bool:
    """WATERSHOP_SHARED_IDENTITIES=1: the chain's shops share one customer registry (a customer of shop A is
    recognised in shop B, and each shop mints IDs of its own, CUST_<shop>_0001), instead of one registry per
    shop. Read when the code location loads: it changes the identity asset's dependencies (each shop's day then
    follows every shop's previous day)."""
    return os.environ.get("WATERSHOP_SHARED_IDENTITIES", "").strip().lower() in ("1", "true", "yes")


# end_offset=1 makes today a partition too, so footage landing during the day can be processed at once.
daily_partitions = dg.DailyPartitionsDefinition(start_date=start_date(), end_offset=1)
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=daily_partitions.start.strftime("%Y-%m-01"), end_offset=1
)
shop_partitions = dg.DynamicPartitionsDefinition(name="shops")
shop_day_partitions = dg.MultiPartitionsDefinition({"day": daily_partitions, "shop": shop_partitions})
shop_month_partitions = dg.MultiPartitionsDefinition({"month": monthly_partitions, "shop": shop_partitions})


def shop_day_key(day: date | str, shop: str = MAIN_SHOP) -> dg.MultiPartitionKey:
    """The partition key of one shop's day."""
    return dg.MultiPartitionKey({"day": str(day), "shop": shop})


def shop_month_key(month: date | str, shop: str = MAIN_SHOP) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"month": str(month)[:7] + "-01", "shop": shop})


def split_key(partitions_def: dg.PartitionsDefinition | None, key: str | None) -> tuple[date | None, str | None]:
    """(day, or month start; shop) of a partition key of one of the definitions above."""
    if partitions_def is None or key is None:
        return None, None
    if partitions_def == shop_partitions:
        return None, key
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        multi = key if isinstance(key, dg.MultiPartitionKey) else partitions_def.get_partition_key_from_str(key)
        dims = multi.keys_by_dimension
        when = dims.get("day") or dims.get("month")
        return (date.fromisoformat(when) if when else None), dims.get("shop")
    return date.fromisoformat(key), None
