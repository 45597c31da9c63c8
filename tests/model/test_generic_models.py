"""Generic models end to end through the REST API, as in DIGITS' gradient-regression example:
prebuilt LMDBs → generic dataset → a prototxt with an EuclideanLoss (or a Python network, or a
multi-label task) → training → infer_one.json / infer_many.json."""
import io
import os

import lmdb
import numpy as np
import pytest
from PIL import Image

from digits.proto import caffe_pb2
from tests.helpers import login, wait_status

SIZE = 16

GRADIENT_NET = """
name: "gradient-regression"
layer { name: "data" type: "Data" top: "data" top: "label" transform_param { scale: 0.00390625 } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1" inner_product_param { num_output: 64 } }
layer { name: "relu1" type: "ReLU" bottom: "fc1" top: "fc1" }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "output" inner_product_param { num_output: 2 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "output" bottom: "label" exclude { stage: "deploy" } }
"""

PYTHON_NET = """
import torch.nn as nn

SCALE = 1 / 255

def build(input_shape, num_outputs):
    c, h, w = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 64), nn.ReLU(), nn.Linear(64, num_outputs))
"""


def gradient(a, b, size=SIZE):
    """DIGITS' regression example: a grey ramp whose slopes along x and y are the labels."""
    ys, xs = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
    return np.clip(128 + 12 * (a * xs + b * ys), 0, 255).astype(np.uint8)


def quadrants(flags, rng, size=SIZE):
    """Noise with a bright square in each quadrant whose flag is on (a multi-label image)."""
    image = rng.integers(0, 60, size=(size, size), dtype=np.uint8)
    half = size // 2
    for k, on in enumerate(flags):
        if on:
            r, c = divmod(k, 2)
            image[r * half:(r + 1) * half, c * half:(c + 1) * half] += 150
    return image


def write_pair(folder, images, labels):
    """Features LMDB (raw grey Datums) and labels LMDB (float_data vectors), keys in order."""
    paths = []
    for name, values in (("images", images), ("labels", labels)):
        path = os.path.join(folder, name)
        with lmdb.open(path, map_size=1 << 26) as env, env.begin(write=True) as txn:
            for i, value in enumerate(values):
                if name == "images":
                    datum = caffe_pb2.Datum(channels=1, height=value.shape[0], width=value.shape[1],
                                            data=value.tobytes())
                else:
                    datum = caffe_pb2.Datum(channels=len(value), height=1, width=1,
                                            float_data=[float(v) for v in value])
                txn.put(b"%08d" % i, datum.SerializeToString())
        paths.append(path)
    return paths


def make_dataset(client, sched, root, make, count=(300, 60), name="gradients"):
    rng = np.random.default_rng(0)
    fields = {"dataset_name": name}
    for split, n in zip(("train", "val"), count):
        images, labels = make(rng, n)
        folder = os.path.join(root, split)
        os.makedirs(folder)
        fields[f"prebuilt_{split}_images"], fields[f"prebuilt_{split}_labels"] = write_pair(folder, images, labels)
    response = client.post("/datasets/images/generic.json", data=fields)
    assert response.status_code == 200, response.data
    dataset = sched.get_job(response.get_json()["id"])
    assert wait_status(dataset, ("Done", "Error"), timeout=120) == "Done", dataset.error()
    return dataset


def gradients(rng, n):
    slopes = rng.uniform(-1, 1, size=(n, 2))
    return [gradient(a, b) for a, b in slopes], slopes


def flagged(rng, n):
    flags = rng.integers(0, 2, size=(n, 4))
    return [quadrants(f, rng) for f in flags], flags.astype(float)


@pytest.fixture
def env(make_app, tmp_path):
    app = make_app()
    return app, login(app.test_client()), app.extensions["digits"]["scheduler"], tmp_path


def _train(client, sched, dataset, **fields):
    data = {"dataset": dataset.id, "model_name": "generic", "train_epochs": "12", "learning_rate": "0.01",
            "batch_size": "32", "solver_type": "ADAM", "random_seed": "1", **fields}
    response = client.post("/models/images/generic.json", data=data)
    assert response.status_code == 200, response.data
    model = sched.get_job(response.get_json()["id"])
    assert wait_status(model, ("Done", "Error"), timeout=300) == "Done", model.error()
    return model


def _png(arr):
    buffer = io.BytesIO()
    Image.fromarray(arr, "L").save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def test_gradient_regression_with_a_euclidean_loss_prototxt(env):
    app, client, sched, root = env
    dataset = make_dataset(client, sched, str(root / "data"), gradients)
    model = _train(client, sched, dataset, method="custom", framework="caffe", custom_network=GRADIENT_NET,
                   task_type="regression")
    details = client.get(f"/models/{model.id}.json").get_json()
    assert details["metrics"]["val/rmse"][-1][1] < 0.15, details["metrics"]["val/rmse"]
    assert "val/accuracy" not in details["metrics"]
    truth = (0.6, -0.3)
    response = client.post("/models/images/generic/infer_one.json",
                           data={"job_id": model.id, "image_file": (_png(gradient(*truth)), "ramp.png")})
    assert response.status_code == 200, response.data
    answer = response.get_json()
    assert len(answer["values"]) == 2 and np.allclose(answer["values"], truth, atol=0.2), answer
    assert answer["outputs"]["output"] == pytest.approx(answer["values"])
    model_page = client.get(f"/models/{model.id}").get_data(as_text=True)
    assert 'action="/models/images/generic/infer_one"' in model_page and "classify_one" not in model_page
    assert 'id="task-type">regression<' in model_page
    # the page's own forms post without .json: an HTML answer
    page = client.post("/models/images/generic/infer_one",
                       data={"job_id": model.id, "image_file": (_png(gradient(*truth)), "ramp.png")})
    assert page.status_code == 200 and b'data-view="all-raw-data"' in page.data   # the task type's default view


def test_python_network_regression_and_infer_many(env):
    app, client, sched, root = env
    dataset = make_dataset(client, sched, str(root / "data"), gradients)
    model = _train(client, sched, dataset, method="custom", framework="torch", custom_network=PYTHON_NET,
                   task_type="regression")
    folder = root / "ramps"
    folder.mkdir()
    truths = {"a.png": (0.5, 0.5), "b.png": (-0.7, 0.2)}
    for name, (a, b) in truths.items():
        Image.fromarray(gradient(a, b), "L").save(folder / name)
    response = client.post("/models/images/generic/infer_many.json", data={"job_id": model.id,
                                                                           "image_folder": str(folder)})
    assert response.status_code == 200, response.data
    results = response.get_json()["results"]
    assert len(results) == 2
    for path, result in results.items():
        assert np.allclose(result["values"], truths[os.path.basename(path)], atol=0.25), (path, result)


def test_multilabel_reports_precision_and_recall(env):
    app, client, sched, root = env
    dataset = make_dataset(client, sched, str(root / "data"), flagged, name="quadrants")
    model = _train(client, sched, dataset, method="custom", framework="torch", custom_network=PYTHON_NET,
                   task_type="multilabel", train_epochs="8")
    details = client.get(f"/models/{model.id}.json").get_json()
    assert details["metrics"]["val/precision"][-1][1] > 90 and details["metrics"]["val/recall"][-1][1] > 90
    assert len(details["results"]["val_precision_per_label"]) == 4
    response = client.post("/models/images/generic/infer_one.json", data={
        "job_id": model.id, "image_file": (_png(quadrants([1, 0, 0, 1], np.random.default_rng(5))), "q.png")})
    assert [label["on"] for label in response.get_json()["labels"]] == [True, False, False, True]


def test_a_caffe_network_without_a_loss_or_with_a_missing_bottom_is_refused(env):
    app, client, sched, root = env
    dataset = make_dataset(client, sched, str(root / "data"), gradients, count=(20, 10))
    base = {"dataset": dataset.id, "model_name": "bad", "method": "custom", "framework": "caffe",
            "task_type": "regression"}
    no_loss = GRADIENT_NET.replace('layer { name: "loss" type: "EuclideanLoss" bottom: "output" bottom: "label" '
                                   'exclude { stage: "deploy" } }', "")
    response = client.post("/models/images/generic.json", data=dict(base, custom_network=no_loss))
    assert response.status_code == 400
    assert "no loss layer" in response.get_json()["errors"]["custom_network"][0]
    typo = GRADIENT_NET.replace('bottom: "label"', 'bottom: "lable"')
    response = client.post("/models/images/generic.json", data=dict(base, custom_network=typo))
    assert response.status_code == 400
    assert '"lable" is not produced' in response.get_json()["errors"]["custom_network"][0]
    response = client.post("/models/images/generic.json", data=dict(base, custom_network=GRADIENT_NET,
                                                                    task_type="nonsense"))
    assert response.status_code == 400 and "task_type" in response.get_json()["errors"]
    assert [j.kind for j in sched.jobs.values()] == [dataset.kind]
