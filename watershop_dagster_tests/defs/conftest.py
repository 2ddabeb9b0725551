import pytest

from watershop_dagster.definitions import build_definitions
from watershop_dagster_tests.support import ephemeral_instance, resources_for


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def defs(data_dir):
    return build_definitions(resources_for(data_dir))


@pytest.fixture
def instance():
    with ephemeral_instance() as inst:
        yield inst
