"""Helpers that tests and benchmarks share: a plain module, imported by name (never through conftest)."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2024, 3, 4)


def shared_data_dir() -> Path | None:
    """Real photos and clips (../shared/data), through WATERSHOP_SHARED_DATA; tests that need them skip
    with a reason when they are absent."""
    path = Path(os.environ.get("WATERSHOP_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if (path / "faces").is_dir() else None


def till_only_world(data_dir: Path, days: int = 3) -> list[date]:
    """A few days of till exports (no footage), the second day with two malformed rows."""
    from watershop_dagster.sim.shop import Person, ShopSimulator, write_till_day

    people = [Person(f"p{i}", ("x",), regular=i < 2, ledger_id=f"L{i}" if i < 2 else None) for i in range(6)]
    sim = ShopSimulator(people, [], seed=3, visits_per_day=20, unpaid_share=0.3)
    out = []
    for i in range(days):
        day = FIRST_DAY + timedelta(days=i)
        write_till_day(sim.plan_day(day, i), data_dir / "transactions", malformed=2 if i == 1 else 0)
        out.append(day)
    return out


def resources_for(data_dir: Path) -> dict:
    """The code location's resources pointed at one data folder."""
    from watershop_dagster.defs.resources import FaceEngineResource, ShopDataResource, WarehouseResource

    return {
        "shop": ShopDataResource(data_dir=str(data_dir)),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "faces": FaceEngineResource(),
    }


def register_shops(instance, *shops: str) -> None:
    """Make the shops known to a test instance (the shop_folders sensor does this in a deployment)."""
    new = [s for s in shops if not instance.has_dynamic_partition("shops", s)]
    if new:
        instance.add_dynamic_partitions("shops", new)


def run_shop_day(defs, instance, day, shop: str = "main", **kwargs):
    """The daily job for one shop's day, in process."""
    from watershop_dagster.defs.partitions import shop_day_key

    register_shops(instance, shop)
    return defs.resolve_job_def("daily_job").execute_in_process(
        partition_key=shop_day_key(day, shop), instance=instance, raise_on_error=False, **kwargs
    )


def run_shop_job(defs, instance, job: str, key: str, shop: str = "main"):
    """A per-shop job (cross_day_job: key is the shop; monthly_job: key is a shop_month_key)."""
    register_shops(instance, shop)
    return defs.resolve_job_def(job).execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
