import os

# The tests' days are in 2024; without this the partitions would start at the first day of whatever data a
# developer's own data/ folder holds (see defs/partitions.py).
os.environ.setdefault("WATERSHOP_START_DATE", "2024-01-01")

from pathlib import Path

import pytest

from watershop_dagster_tests.support import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real face photos and clips not found: set WATERSHOP_SHARED_DATA to ../shared/data")
    return path


@pytest.fixture(scope="session")
def engine():
    from watershop_dagster.core.footage.faces import FaceEngine

    return FaceEngine.from_models()


@pytest.fixture
def warehouse(tmp_path):
    from watershop_dagster.core.storage.warehouse import Warehouse

    return Warehouse(tmp_path / "warehouse.duckdb")
