"""A session-wide server with one tiny dataset and two trained models (Python net, Caffe prototxt).

The images are 16×16 colour squares whose class is their colour (red / green / blue) plus noise:
a tiny network learns them perfectly in a few epochs, so predictions on fresh images are known.
"""
import os
import types

import pytest

from tests.helpers import login, wait_status
from tests.inference.kit import CAFFE_NET, SIZE, TORCH_NET, write_class_folders

def _train(client, sched, dataset_id, name, framework, network, **fields):
    data = {"method": "custom", "framework": framework, "custom_network": network, "model_name": name,
            "dataset": dataset_id, "train_epochs": "3", "random_seed": "1", "learning_rate": "0.05",
            "batch_size": "8", "lr_policy": "fixed", "use_mean": "image"}
    data.update(fields)
    response = client.post("/models/images/classification.json", data=data)
    assert response.status_code == 200, response.data
    return sched.get_job(response.get_json()["id"])


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """The app, a logged-in client, the dataset, the models and folders of probe images."""
    from digits.webapp import create_app
    # DataLoader worker processes cost more than they save on these tiny datasets
    saved_workers = os.environ.get("DIGITS_TRAIN_WORKERS")
    os.environ["DIGITS_TRAIN_WORKERS"] = "0"
    root = str(tmp_path_factory.mktemp("inference"))
    train_dir = write_class_folders(os.path.join(root, "train"), 24, seed=1)
    probe_dir = write_class_folders(os.path.join(root, "probe"), 4, seed=2, size=24)  # other size: resized
    app = create_app({"jobs_dir": os.path.join(root, "jobs"), "async_mode": "threading", "testing": True,
                      "allowed_roots": [root], "gpus": [], "abort_grace_seconds": 2, "secret_key": "test",
                      "cpu_train_slots": 2})
    sched = app.extensions["digits"]["scheduler"]
    client = login(app.test_client())
    response = client.post("/datasets/images/classification.json", data={
        "folder_train": train_dir, "encoding": "png", "resize_channels": "3", "resize_width": str(SIZE),
        "resize_height": str(SIZE), "method": "folder", "dataset_name": "colors", "folder_pct_val": "25"})
    assert response.status_code == 200, response.data
    dataset = sched.get_job(response.get_json()["id"])
    torch_model = _train(client, sched, dataset.id, "torch-colors", "torch", TORCH_NET)
    caffe_model = _train(client, sched, dataset.id, "caffe-colors", "caffe", CAFFE_NET, use_mean="pixel")
    for job in (dataset, torch_model, caffe_model):
        assert wait_status(job, ("Done", "Error", "Aborted"), timeout=300) == "Done", job.error()
    yield types.SimpleNamespace(app=app, client=client, sched=sched, root=root, dataset=dataset,
                                torch_model=torch_model, caffe_model=caffe_model, probe_dir=probe_dir,
                                train_dir=train_dir)
    sched.stop()
    if saved_workers is None:
        os.environ.pop("DIGITS_TRAIN_WORKERS", None)
    else:
        os.environ["DIGITS_TRAIN_WORKERS"] = saved_workers


@pytest.fixture
def client(world):
    return world.client

