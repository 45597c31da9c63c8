"""Fair queues: one user's waiting jobs are capped (DIGITS_MAX_WAITING_PER_USER); past it a 429 with
Retry-After, and nothing is created."""
import os

import pytest

from tests.data import write_digits_folder
from tests.helpers import login


@pytest.fixture
def capped(make_app, tmp_path):
    folder = write_digits_folder(str(tmp_path / "images"), size=8, per_class=2)
    # no scheduler loop: every job created stays Waiting
    app = make_app(max_waiting_per_user=2, start_scheduler=False)
    app.folder = folder
    return app


def _dataset(client, folder, name="d"):
    return client.post("/datasets/images/classification.json", data={
        "method": "folder", "folder_train": folder, "resize_width": "8", "resize_height": "8",
        "resize_channels": "1", "dataset_name": name})


def test_past_the_limit_a_user_gets_429_and_others_still_get_in(capped, jobs_dir):
    alice = login(capped.test_client(), "alice")
    for i in range(2):
        assert _dataset(alice, capped.folder, f"d{i}").status_code == 200
    before = sorted(os.listdir(jobs_dir))
    response = _dataset(alice, capped.folder, "one too many")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    message = response.get_json()["error"]["message"]
    assert "alice has 2 jobs waiting" in message and "DIGITS_MAX_WAITING_PER_USER" in message
    assert response.get_json()["error"]["type"] == "TooManyRequests"
    assert sorted(os.listdir(jobs_dir)) == before
    bob = login(capped.test_client(), "bob")
    assert _dataset(bob, capped.folder).status_code == 200


def test_each_job_of_a_sweep_counts(capped):
    alice = login(capped.test_client(), "alice")
    dataset = _dataset(alice, capped.folder).get_json()["id"]
    sched = capped.extensions["digits"]["scheduler"]
    response = alice.post("/models/images/classification.json", data={
        "method": "standard", "standard_networks": "lenet", "framework": "caffe", "model_name": "sweep",
        "dataset": dataset, "train_epochs": "1", "learning_rate": "0.1,0.01"})
    assert response.status_code == 429, response.data
    assert "these 2 jobs" in response.get_json()["error"]["message"]
    assert [j.kind for j in sched.jobs.values()] == ["dataset-image-classification"]
    response = alice.post("/models/images/classification.json", data={
        "method": "standard", "standard_networks": "lenet", "framework": "caffe", "model_name": "one",
        "dataset": dataset, "train_epochs": "1", "learning_rate": "0.1"})
    assert response.status_code == 200, response.data


def test_a_browser_gets_a_page_saying_so(capped):
    alice = login(capped.test_client(), "alice")
    for i in range(2):
        _dataset(alice, capped.folder, f"d{i}")
    response = alice.post("/datasets/images/classification", headers={"Accept": "text/html",
                          "Sec-Fetch-Mode": "navigate"}, data={
        "method": "folder", "folder_train": capped.folder, "resize_width": "8", "resize_height": "8",
        "dataset_name": "x", "csrf_token": ""})
    assert response.status_code == 429 and b"jobs waiting to run" in response.data
