import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """Real photos and clips (../shared/data), through WATERSHOP_SHARED_DATA; tests that need them skip
    with this reason when they are absent."""
    path = Path(os.environ.get("WATERSHOP_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if (path / "faces").is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real face photos and clips not found: set WATERSHOP_SHARED_DATA to ../shared/data")
    return path


@pytest.fixture(scope="session")
def engine():
    from watershop_dagster.core.faces import FaceEngine

    return FaceEngine.from_models()


@pytest.fixture
def warehouse(tmp_path):
    from watershop_dagster.core.warehouse import Warehouse

    return Warehouse(tmp_path / "warehouse.duckdb")
