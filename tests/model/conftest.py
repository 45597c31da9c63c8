"""Fixtures for the model web tests: an app (optionally with a fake GPU list) holding a tiny dataset."""
import pytest

from tests.data import write_digits_folder
from tests.helpers import login, wait_status


@pytest.fixture
def make_env(make_app, tmp_path):
    """(app, client, scheduler, dataset) — a 28×28 grayscale digits dataset, Done; app config overrides
    (e.g. gpus=[0, 1] for a server that believes it has two GPUs) are passed to the app."""
    def factory(**config):
        images = write_digits_folder(str(tmp_path / "digits"), per_class=6)
        app = make_app(allowed_roots=[str(tmp_path)], **config)
        client = login(app.test_client(), "fred")
        response = client.post("/datasets/images/classification.json", data={
            "folder_train": images, "resize_channels": "1", "resize_width": "28", "resize_height": "28",
            "method": "folder", "dataset_name": "tiny", "encoding": "png"})
        assert response.status_code == 200, response.data
        sched = app.extensions["digits"]["scheduler"]
        dataset = sched.get_job(response.get_json()["id"])
        assert wait_status(dataset, ("Done", "Error"), timeout=120) == "Done", dataset.error()
        return app, client, sched, dataset
    return factory


@pytest.fixture
def env(make_env):
    return make_env()
