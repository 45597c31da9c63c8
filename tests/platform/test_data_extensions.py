"""Data extensions: a plugin package installed with pip (entry point digits.plugins.data) shows up in the
New dataset and New model menus, has its form page, and builds a dataset a generic model trains on."""
import os
import subprocess
import sys

import pytest

import digits.extensions.data as data_extensions
from tests.helpers import ROOT, login, wait_status

PLUGIN = os.path.join(ROOT, "tests", "plugins", "digits-test-plugin")


def _pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def plugin_installed():
    # a real install into the test venv (no index needed), removed afterwards so other tests see none
    _pip("install", "--no-deps", "--no-build-isolation", "--no-index", PLUGIN)
    data_extensions._load.reset()
    yield
    _pip("uninstall", "-y", "digits-test-plugin")
    data_extensions.unregister("test-dots")
    data_extensions._load.reset()


@pytest.fixture
def client(make_app, plugin_installed):
    app = make_app()
    app.sched = app.extensions["digits"]["scheduler"]
    return app, login(app.test_client())


def test_the_plugin_is_in_both_menus_with_its_form(client):
    app, c = client
    home = c.get("/").get_data(as_text=True)
    assert 'href="/datasets/generic/new/test-dots"' in home and "Dots (test plugin)" in home
    assert 'href="/models/images/generic/new/test-dots"' in home
    page = c.get("/datasets/generic/new/test-dots").get_data(as_text=True)
    assert 'name="num_images"' in page and 'name="dataset_name"' in page
    assert c.get("/models/images/generic/new/test-dots").status_code == 200


def test_the_plugin_builds_a_dataset_a_generic_model_trains_on(client):
    app, c = client
    response = c.post("/datasets/generic/create/test-dots.json",
                      data={"dataset_name": "dots", "num_images": "120", "image_size": "12", "seed": "3"})
    assert response.status_code == 200, response.data
    dataset = app.sched.get_job(response.get_json()["id"])
    assert wait_status(dataset, ("Done", "Error"), timeout=120) == "Done", dataset.error()
    details = c.get(f"/datasets/{dataset.id}.json").get_json()
    assert details["extension_id"] == "test-dots" and details["label_dims"] == [2]
    assert details["entries"] == {"train": 120, "val": 24} and details["image_dims"] == [12, 12, 1]
    assert details["labels"] == ["x", "y"]
    from tests.model.test_generic_models import PYTHON_NET
    response = c.post("/models/images/generic.json", data={
        "dataset": dataset.id, "model_name": "dots", "method": "custom", "framework": "torch",
        "custom_network": PYTHON_NET, "task_type": "regression", "train_epochs": "2", "learning_rate": "0.01",
        "solver_type": "ADAM"})
    assert response.status_code == 200, response.data
    model = app.sched.get_job(response.get_json()["id"])
    assert wait_status(model, ("Done", "Error"), timeout=120) == "Done", model.error()
    assert c.get(f"/models/{model.id}.json").get_json()["metrics"]["val/rmse"]


def test_unknown_extension_and_bad_fields(client):
    app, c = client
    for url in ("/datasets/generic/new/no-such-kind", "/models/images/generic/new/no-such-kind"):
        response = c.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 404 and "no data extension 'no-such-kind'" in response.get_json()["error"]["message"]
    # classification has its own pages: DIGITS' generic URLs for it lead there
    response = c.get("/models/images/generic/new/image-classification")
    assert response.status_code == 302 and response.headers["Location"].endswith("/models/images/classification/new")
    response = c.post("/datasets/generic/create/no-such-kind.json", data={"dataset_name": "x"})
    assert response.status_code == 404
    before = set(app.sched.jobs)
    response = c.post("/datasets/generic/create/test-dots.json", data={"dataset_name": "", "num_images": "1"})
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert "num_images" in errors and "dataset_name" in errors
    assert set(app.sched.jobs) == before


def test_registry_refuses_bad_extensions():
    class NoForm(data_extensions.DataExtension):
        extension_id = "no-form"
    with pytest.raises(data_extensions.DataExtensionError, match="no form_class"):
        data_extensions.register(NoForm)

    class BadId(data_extensions.DataExtension):
        extension_id = "Bad Id"
    with pytest.raises(data_extensions.DataExtensionError, match="lowercase"):
        data_extensions.register(BadId)
