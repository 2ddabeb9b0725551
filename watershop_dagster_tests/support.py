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
