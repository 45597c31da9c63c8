"""Helpers for the training tests: tiny LMDB datasets, model job folders, running the tool.

When digits.frameworks has not landed yet, `install_network_fallback()` provides a minimal
`build_network` for framework "torch" (tests only).
"""
import io
import json
import os
import sys
import types
from contextlib import redirect_stdout

import lmdb
import numpy as np

from digits.dataset.datum import array_to_datum
from digits.dataset.mean import save_mean

HERE = os.path.dirname(os.path.abspath(__file__))

TINY_NET = '''
import torch.nn as nn

def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(0.25), nn.Linear(6 * (h // 2) * (w // 2), num_classes))
'''


def install_network_fallback():
    """Registers a stand-in digits.frameworks when the real one is missing."""
    try:
        import digits.frameworks
        if hasattr(digits.frameworks, "build_network"):
            return False
    except ImportError:
        pass  # (a folder without __init__ imports as an empty namespace package: also "missing")

    class NetworkError(ValueError):
        pass

    class Network:
        def __init__(self, module):
            self.module, self.scale, self.default_batch_size, self.crop_size = module, None, None, None

    def build_network(framework, source_text, input_shape=(3, 32, 32), num_classes=10):
        if framework != "torch":
            raise NetworkError(f"fallback builds torch networks only, not {framework}")
        namespace = {}
        exec(compile(source_text, "network.py", "exec"), namespace)
        return Network(namespace["build"](tuple(input_shape), num_classes))

    module = types.ModuleType("digits.frameworks")
    module.NetworkError, module.Network, module.build_network = NetworkError, Network, build_network
    sys.modules["digits.frameworks"] = module
    import digits
    digits.frameworks = module
    return True


def synthetic_images(count, size, channels, num_classes, seed):
    """Images whose class sets a bright square's position (learnable by a tiny CNN) + noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % num_classes
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(count, size, size, channels), dtype=np.uint8)
    half = size // 2
    for i, label in enumerate(labels):
        r, c = divmod(int(label) % 4, 2)
        images[i, r * half:(r + 1) * half, c * half:(c + 1) * half, :] += np.uint8(150 + 10 * (label // 4))
    return images, labels


def write_db(path, images, labels, encoding):
    env = lmdb.open(path, map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, (image, label) in enumerate(zip(images, labels)):
            arr = image[:, :, 0] if image.shape[2] == 1 else image
            txn.put(b"%08d" % i, array_to_datum(arr, int(label), encoding))
    env.close()


def make_dataset(folder, size=16, channels=3, num_classes=4, counts=None, encoding="png", seed=0):
    """A dataset job folder per the contract (train/val[/test] LMDBs, labels, mean, dataset.json)."""
    counts = counts or {"train": 96, "val": 32}
    os.makedirs(folder, exist_ok=True)
    splits, all_train = {}, None
    for n, (split, count) in enumerate(counts.items()):
        images, labels = synthetic_images(count, size, channels, num_classes, seed + n)
        write_db(os.path.join(folder, f"{split}_db"), images, labels, encoding)
        splits[split] = {"db": f"{split}_db", "count": count,
                         "per_class": np.bincount(labels, minlength=num_classes).tolist()}
        if split == "train":
            all_train = images
    mean = all_train.astype(np.float64).mean(axis=0)
    save_mean(mean[:, :, 0] if channels == 1 else mean, os.path.join(folder, "mean.binaryproto"))
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("".join(f"class{i}\n" for i in range(num_classes)))
    info = {"image_dims": [size, size, channels], "resize_mode": "squash", "encoding": encoding,
            "num_classes": num_classes, "splits": splits, "skipped": [], "mean_file": "mean.binaryproto"}
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump(info, f)
    return folder


def make_job(folder, dataset, network=TINY_NET, framework="torch", **overrides):
    os.makedirs(folder, exist_ok=True)
    name = "network.py" if framework == "torch" else "network.prototxt"
    with open(os.path.join(folder, name), "w") as f:
        f.write(network)
    config = {"dataset_dir": dataset, "network": {"framework": framework, "file": name},
              "train_epochs": 2, "snapshot_interval": 1, "val_interval": 1, "random_seed": 7, "batch_size": 16,
              "batch_accumulation": 1, "solver_type": "SGD", "learning_rate": 0.05, "momentum": 0.9,
              "weight_decay": 0.0005, "rms_decay": 0.99, "lr_policy": {"policy": "step", "step_size": 50,
                                                                         "gamma": 0.5},
              "crop_size": None, "use_mean": "image", "shuffle": True, "augmentation": {}, "pretrained": None,
              "gpus": []}
    config.update(overrides)
    with open(os.path.join(folder, "train_config.json"), "w") as f:
        json.dump(config, f)
    return folder


def parse_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def run_in_process(job_dir):
    """(exit code, messages) running the tool's main() here (fast: no torch import per run)."""
    install_network_fallback()
    from digits.tools.train import main
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["--job-dir", str(job_dir)])
    return code, parse_lines(buf.getvalue())


def metrics(messages, phase=None, name=None):
    return [(m["epoch"], m["value"]) for m in messages if m["type"] == "metric"
            and (phase is None or m["phase"] == phase) and (name is None or m["name"] == name)]


def of_type(messages, kind):
    return [m for m in messages if m["type"] == kind]


def error_of(job_dir):
    """The error message of a run that must fail."""
    code, msgs = run_in_process(job_dir)
    assert code == 1, of_type(msgs, "metric")[-3:]
    return of_type(msgs, "error")[0]["message"]


def resumed_from(job_dir, folder, epoch, network_file="network.py"):
    """Messages of a run in `folder` that resumes job_dir's run from its snapshot of `epoch` (the config,
    the network and that snapshot copied there)."""
    import shutil
    os.makedirs(folder)
    for name in ("train_config.json", network_file, f"snapshot_epoch_{epoch}.pt"):
        shutil.copy(os.path.join(job_dir, name), folder)
    code, msgs = run_in_process(folder)
    assert code == 0, of_type(msgs, "error")
    assert of_type(msgs, "resumed")[0]["epoch"] == epoch
    return msgs


def same_weights(job_dir, other_dir, epoch):
    """Whether both runs' snapshots of `epoch` hold equal model tensors."""
    import torch
    ref, got = (torch.load(os.path.join(d, f"snapshot_epoch_{epoch}.pt"), weights_only=True)["model"]
                for d in (job_dir, other_dir))
    return ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)


def trained_run(folder, dataset, network, **settings):
    """(job folder, messages) of a whole run that must succeed."""
    job_dir = make_job(folder, dataset, network=network, **settings)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    return job_dir, msgs
