"""Test data for the inference tests: colour-class images and two tiny networks."""
import os

import numpy as np
from PIL import Image

CLASSES = ("blue", "green", "red")          # parse_folder sorts class folders: label ids 0, 1, 2
COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 40, 220)}
SIZE = 16

TORCH_NET = '''
import torch.nn as nn

def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * (h // 2) * (w // 2), num_classes))
'''

CAFFE_NET = '''
name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label" transform_param { scale: 0.0039215684 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool1" top: "fc"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
'''


def color_image(name, rng, size=SIZE):
    base = np.array(COLORS[name], dtype=np.int16)
    noise = rng.integers(-25, 26, size=(size, size, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def write_class_folders(root, per_class, seed, size=SIZE):
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            color_image(name, rng, size).save(os.path.join(root, name, f"{i:03d}.png"))
    return root


def probe_files(world, name):
    folder = os.path.join(world.probe_dir, name)
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))]


def unsafe_weights():
    """A torch.save file that torch.load(weights_only=True) refuses: it pickles an arbitrary object."""
    import argparse
    import io

    import torch
    buf = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(1)}, "config": argparse.Namespace(x=1)}, buf)
    return buf.getvalue()


def train_from_pretrained(world, pretrained_id, name, timeout=240, **fields):
    """A 1-epoch classification model on the colours dataset started from a pretrained model; Done."""
    from tests.helpers import wait_status
    data = {"method": "pretrained", "pretrained_networks": pretrained_id, "framework": "caffe", "model_name": name,
            "dataset": world.dataset.id, "train_epochs": "1", "random_seed": "3", "learning_rate": "0.01",
            "batch_size": "8", **fields}
    response = world.client.post("/models/images/classification.json", data=data)
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=timeout) == "Done", job.error()
    return job


def upload_model_files(client, weights, network=TORCH_NET.encode(), labels=b"blue\ngreen\nred\n",
                       names=("weights.pt", "network.py", "labels.txt"), **fields):
    """POST /pretrained_models/new.json with files (bytes) under the given upload names."""
    import io
    data = {"job_name": "uploaded", "image_type": "3", "width": str(SIZE), "height": str(SIZE),
            "weights_file": (io.BytesIO(weights), names[0]), "model_def_file": (io.BytesIO(network), names[1]),
            "labels_file": (io.BytesIO(labels), names[2])}
    data.update(fields)
    return client.post("/pretrained_models/new.json", data=data)


EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "examples", "classification")


def server_predictions(client, job_id, paths, **fields):
    """{path: [(label, probability)]} from classify_one.json."""
    out = {}
    for path in paths:
        response = client.post("/models/images/classification/classify_one.json",
                               data={"job_id": job_id, "image_path": path, **fields})
        assert response.status_code == 200, response.data
        out[path] = [(label, pct / 100.0) for label, pct in response.get_json()["predictions"]]
    return out


def run_example(script, *args):
    """Runs examples/classification/<script> with --json, without digits importable; its answer."""
    import json
    import subprocess
    import sys
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *map(str, args), "--json"],
                            capture_output=True, text=True, timeout=240, env=dict(os.environ, PYTHONPATH=""))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_same(server, local):
    """The examples' predictions are the server's: same top-1, probabilities within 1e-4."""
    import pytest
    assert set(server) == set(local)
    for path, expected in server.items():
        got = local[path]
        assert got[0][0] == expected[0][0], (path, got, expected)
        got_by_label = dict(got)
        for label, probability in expected:
            assert got_by_label[label] == pytest.approx(probability, abs=1e-4)
