"""API.md's curl walkthrough, verbatim, on real data: scikit-learn's digits → dataset → LeNet (caffe, 30
epochs) → classify (without a login cookie, as the curl line does) → delete."""
import os

import pytest

from tests.data import write_digits_folder
from tests.helpers import login, wait_status


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    return write_digits_folder(str(tmp_path_factory.mktemp("mnist") / "train"))


def test_walkthrough_reaches_95_percent(make_app, digits_folder, tmp_path):
    app = make_app(allowed_roots=[os.path.dirname(digits_folder), str(tmp_path)])
    sched = app.extensions["digits"]["scheduler"]
    client = login(app.test_client(), "fred")
    response = client.post("/datasets/images/classification.json", data={
        "folder_train": digits_folder, "encoding": "png", "resize_channels": "1", "resize_width": "28",
        "resize_height": "28", "method": "folder", "dataset_name": "mnist_dataset"})
    assert response.status_code == 200, response.data
    created = response.get_json()
    assert created["name"] == "mnist_dataset" and created["status"] in ("Initialized", "Waiting", "Running")
    dataset = sched.get_job(created["id"])
    response = client.post("/models/images/classification.json", data={
        "method": "standard", "standard_networks": "lenet", "train_epochs": "30", "framework": "caffe",
        "model_name": "lnet_mnist", "dataset": dataset.id})
    assert response.status_code == 200, response.data
    model = sched.get_job(response.get_json()["id"])
    assert wait_status(dataset, ("Done", "Error"), timeout=300) == "Done", dataset.error()
    assert wait_status(model, ("Done", "Error"), timeout=600) == "Done", model.error()
    details = client.get(f"/models/{model.id}.json").get_json()
    accuracy = details["metrics"]["val/accuracy"][-1][1]
    assert accuracy >= 95.0, f"validation accuracy {accuracy:.2f}% < 95%"
    assert details["snapshots"][-1] == 30
    # classify one image of a known class
    image = os.path.join(digits_folder, "3", "0001.png")
    with open(image, "rb") as f:
        response = app.test_client().post("/models/images/classification/classify_one.json",
                               data={"job_id": model.id, "image_file": (f, "digit.png")})
    assert response.status_code == 200, response.data
    predictions = response.get_json()["predictions"]
    assert predictions[0][0] == "3" and len(predictions) == 5
    assert client.delete(f"/models/{model.id}").status_code == 200
    assert client.delete(f"/datasets/{dataset.id}").status_code == 200


def test_walkthrough_with_an_api_token_in_password_mode(make_app, jobs_dir, tmp_path):
    # The same curl steps, each sending `Authorization: Bearer …` instead of a login cookie.
    from digits.users import UserStore
    folder = write_digits_folder(str(tmp_path / "small" / "train"), per_class=20)
    UserStore(jobs_dir).add("fred", "fred's long password")
    app = make_app(auth="password", allowed_roots=[str(tmp_path)])
    sched = app.extensions["digits"]["scheduler"]
    browser = app.test_client()
    assert browser.post("/login.json", data={"username": "fred", "password": "fred's long password"}).status_code == 200
    token = browser.post("/user/tokens.json", data={"name": "walkthrough"}).get_json()["token"]
    script, bearer = app.test_client(), {"Authorization": f"Bearer {token}"}
    assert script.get("/index.json").status_code == 401
    response = script.post("/datasets/images/classification.json", headers=bearer, data={
        "folder_train": folder, "encoding": "png", "resize_channels": "1", "resize_width": "28",
        "resize_height": "28", "method": "folder", "dataset_name": "mnist_dataset"})
    assert response.status_code == 200, response.data
    dataset = sched.get_job(response.get_json()["id"])
    response = script.post("/models/images/classification.json", headers=bearer, data={
        "method": "standard", "standard_networks": "lenet", "train_epochs": "2", "framework": "caffe",
        "model_name": "lnet_mnist", "dataset": dataset.id})
    assert response.status_code == 200, response.data
    model = sched.get_job(response.get_json()["id"])
    assert model.owner == "fred" and dataset.owner == "fred"
    assert wait_status(model, ("Done", "Error"), timeout=300) == "Done", model.error()
    image = os.path.join(folder, "3", "0001.png")
    with open(image, "rb") as f:
        response = script.post("/models/images/classification/classify_one.json", headers=bearer,
                               data={"job_id": model.id, "image_file": (f, "digit.png")})
    assert response.status_code == 200, response.data
    assert len(response.get_json()["predictions"]) == 5
    with open(image, "rb") as f:   # without the token: refused
        assert script.post("/models/images/classification/classify_one.json",
                           data={"job_id": model.id, "image_file": (f, "digit.png")}).status_code == 401
    assert script.delete(f"/models/{model.id}", headers=bearer).status_code == 200
    assert script.delete(f"/datasets/{dataset.id}", headers=bearer).status_code == 200
