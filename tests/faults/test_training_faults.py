"""Faults around real training: a full disk while snapshotting, the server killed mid-training."""
import json
import os
import subprocess

import pytest
import requests
import trainkit

from tests.data import write_digits_folder
from tests.helpers import Server, wait_for


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()

    def make(size_bytes):
        pages = max(1, size_bytes // 4096 + 1)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={pages * 4096}", "tmpfs", str(mount)],
                              capture_output=True)
        if done.returncode:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
        return mount

    yield make
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_disk_full_while_snapshotting_is_a_clear_error_and_keeps_earlier_snapshots(tmp_path, small_disk):
    dataset = trainkit.make_dataset(str(tmp_path / "ds"), counts={"train": 32, "val": 8})
    probe = trainkit.make_job(str(tmp_path / "probe"), dataset, train_epochs=1, random_seed=1)
    assert trainkit.run_in_process(probe)[0] == 0
    used = sum(os.path.getsize(os.path.join(probe, n)) for n in os.listdir(probe))
    snapshot = os.path.getsize(os.path.join(probe, "snapshot_epoch_1.pt"))
    disk = small_disk(used + snapshot // 2)          # room for one snapshot, not for two
    job_dir = trainkit.make_job(str(disk / "job"), dataset, train_epochs=3, random_seed=1)
    code, msgs = trainkit.run_in_process(job_dir)
    assert code != 0
    errors = [m["message"] for m in msgs if m["type"] == "error"]
    assert errors and "No space left on device" in errors[0]
    names = os.listdir(job_dir)
    assert "snapshot_epoch_1.pt" in names and "snapshot_epoch_2.pt" not in names
    assert not [n for n in names if n.endswith(".tmp")], "a partial snapshot was left behind"
    import torch
    state = torch.load(os.path.join(job_dir, "snapshot_epoch_1.pt"), weights_only=True)
    assert state["epoch"] == 1


def test_server_killed_mid_training_resumes_from_its_snapshot(tmp_path):
    images = write_digits_folder(str(tmp_path / "digits"), per_class=20)
    jobs_dir = str(tmp_path / "jobs")
    server = Server(jobs_dir, tmp_path).start()
    try:
        session = requests.Session()
        session.post(f"{server.url}/login", data={"username": "fred"})
        dataset = session.post(f"{server.url}/datasets/images/classification.json", data={
            "folder_train": images, "resize_channels": 1, "resize_width": 28, "resize_height": 28,
            "method": "folder", "dataset_name": "digits", "encoding": "png"}).json()["id"]
        model = session.post(f"{server.url}/models/images/classification.json", data={
            "method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": 8,
            "model_name": "survivor", "dataset": dataset, "random_seed": 2, "batch_size": 16}).json()["id"]
        snapshot_2 = os.path.join(jobs_dir, model, "snapshot_epoch_2.pt")
        wait_for(lambda: os.path.exists(snapshot_2), timeout=300, interval=0.1, message="second snapshot")
        server.kill()
        server = Server(jobs_dir, tmp_path).start()
        wait_for(lambda: session.get(f"{server.url}/models/{model}/status").json()["status"] in ("Done", "Error"),
                 timeout=300, interval=0.5, message="training to finish after the restart")
        details = session.get(f"{server.url}/models/{model}.json").json()
    finally:
        server.kill()
    assert details["status"] == "Done", details["error"]
    assert [p[0] for p in details["metrics"]["val/accuracy"]] == list(range(1, 9))
    train = [p[0] for p in details["metrics"]["train/loss"]]
    assert train == sorted(train) and train[-1] == 8 and len(set(train)) == len(train)
    with open(os.path.join(jobs_dir, model, "job.json")) as f:
        restarts = json.load(f)["extra"]["restarts"]
    assert restarts[0][0] == "server restarted"
    log = open(os.path.join(jobs_dir, model, "train.log")).read()
    assert "epoch 1:" in log and "epoch 8:" in log
