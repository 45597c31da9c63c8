import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

import trainkit  # noqa: E402


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory):
    return trainkit.make_dataset(str(tmp_path_factory.mktemp("ds") / "dataset"),
                                 counts={"train": 96, "val": 32, "test": 16})


@pytest.fixture
def job(tmp_path, dataset_dir):
    def factory(**overrides):
        return trainkit.make_job(str(tmp_path / "job"), dataset_dir, **overrides)
    return factory
