from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from watershop_dagster.core.demo import Person, ShopSimulator, write_till_day
from watershop_dagster.definitions import build_definitions
from watershop_dagster.defs.resources import ShopDataResource, WarehouseResource
from watershop_dagster.defs.vision import FaceEngineResource

FIRST_DAY = date(2024, 3, 4)


def till_only_world(data_dir: Path, days: int = 3) -> list[date]:
    people = [Person(f"p{i}", ("x",), regular=i < 2, ledger_id=f"L{i}" if i < 2 else None) for i in range(6)]
    sim = ShopSimulator(people, [], seed=3, visits_per_day=20, unpaid_share=0.3)
    out = []
    for i in range(days):
        day = FIRST_DAY + timedelta(days=i)
        write_till_day(sim.plan_day(day, i), data_dir / "transactions", malformed=2 if i == 1 else 0)
        out.append(day)
    return out


def resources_for(data_dir: Path) -> dict:
    return {
        "shop": ShopDataResource(data_dir=str(data_dir)),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "faces": FaceEngineResource(),
    }


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def defs(data_dir):
    return build_definitions(resources_for(data_dir))


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst
