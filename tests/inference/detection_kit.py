"""A handmade detection model for the inference tests: a Python network following docs/detection.md §2 whose
eval output are boxes derived from its input, saved as a trained generic model job (network.py, weights,
preprocess.json with the dataset's geometry) — no training needed, so the answers are known exactly.

Geometry: images padded to 64×32 (W×H), then resized to 32×16 — the network sees a quarter of the
padded canvas's pixels, at scale 1/2 per axis; an image larger than 64×32 is scaled down first."""
import io
import json
import os
import types

import lmdb
import numpy as np
from PIL import Image

LABELS = ("dontcare", "car", "person")
GEOMETRY = {"pad": [32, 64], "resize": [16, 32], "channel_conversion": "RGB"}
FIXED = [2.0, 2.0, 6.0, 6.0]      # the network's second box, in its input's pixels (class "person", score 0.3)

NET = '''
import torch
import torch.nn as nn

SCALE = 1 / 255
TASK_TYPE = "detection"


class BrightBox(nn.Module):
    """Eval: row 0 boxes the pixels brighter than half (class 1, score scores[0]); row 1 is the fixed box
    [2, 2, 6, 6] (class 2, score scores[1]); rows 2 and 3 are unused (score 0, class -1)."""
    max_detections = 4

    def __init__(self):
        super().__init__()
        self.scores = nn.Parameter(torch.tensor([0.9, 0.3]))

    def forward(self, x, targets=None):
        if self.training and targets is not None:
            return {"scores": (self.scores ** 2).sum()}
        h, w = x.shape[2], x.shape[3]
        bright = (x.mean(dim=1) > 0.5).float()
        cols, rows = bright.amax(dim=1), bright.amax(dim=2)
        zero = torch.zeros_like(cols[:, 0])
        x1, y1 = cols.argmax(dim=1).float(), rows.argmax(dim=1).float()
        x2, y2 = w - cols.flip(1).argmax(dim=1).float(), h - rows.flip(1).argmax(dim=1).float()
        first = torch.stack([x1, y1, x2, y2, zero + self.scores[0], zero + 1], dim=1)
        second = torch.stack([zero + 2, zero + 2, zero + 6, zero + 6, zero + self.scores[1], zero + 2], dim=1)
        unused = torch.stack([zero, zero, zero, zero, zero, zero - 1], dim=1)
        return torch.stack([first, second, unused, unused], dim=1)


def build(input_shape, num_classes):
    return BrightBox()
'''


def picture(width, height, bright):
    """Dark noise with a bright rectangle bright = (x1, y1, x2, y2), as uint8 H×W×3."""
    rng = np.random.default_rng(width * height)
    arr = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    x1, y1, x2, y2 = bright
    arr[y1:y2, x1:x2] = 230
    return arr


# name: (W, H, bright rectangle, total scale original → network input)
IMAGES = {"padded.png": (40, 20, (8, 4, 24, 12), 0.5),          # padded to 64×32, then halved
          "large.png": (128, 48, (32, 8, 96, 40), 0.25)}        # scaled to 64×24 first, padded, halved


def write_images(folder):
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for name, (w, h, bright, _) in IMAGES.items():
        paths[name] = os.path.join(folder, name)
        Image.fromarray(picture(w, h, bright)).save(paths[name])
    return paths


def make_model(sched, root, net=NET, name="boxes"):
    """A Done generic model job of task type detection with one snapshot (epoch 1), in the scheduler."""
    import torch

    from digits.model.job import GenericImageModelJob
    from digits.model.preprocess import Preprocess, write_model_files
    from digits.status import Status
    from digits.utils.atomic import write_json
    dataset_dir = os.path.join(root, f"{name}-dataset")
    os.makedirs(dataset_dir, exist_ok=True)
    with open(os.path.join(dataset_dir, "labels.txt"), "w") as f:
        f.write("".join(f"{label}\n" for label in LABELS))
    job = GenericImageModelJob(sched.jobs_dir, name, "alice")
    os.makedirs(job.dir)
    with open(job.path("network.py"), "w") as f:
        f.write(net)
    write_json(job.path("train_config.json"), {"task_type": "detection", "dataset_dir": dataset_dir,
                                               "network": {"framework": "torch", "file": "network.py"}})
    namespace = {}
    exec(compile(net, "network.py", "exec"), namespace)  # noqa: S102 - the test's own network
    module = namespace["build"]((3, 16, 32), len(LABELS))
    torch.save(module.state_dict(), job.path("snapshot_epoch_1.pt"))
    pre = Preprocess(3, 16, 32, len(LABELS), scale=1 / 255, geometry=GEOMETRY,
                     postprocess={"max_detections": module.max_detections})
    write_model_files(pre, job.dir, dataset_dir)
    job.extra.update(dataset_id=None, framework="torch", network_file="network.py")
    job.set_status(Status.DONE)
    job.save()
    sched.jobs[job.id] = job
    return job


def world(tmp_path_factory):
    """An app (no training), a logged-in client, the detection model and the probe images."""
    from digits.webapp import create_app
    from tests.helpers import login
    root = str(tmp_path_factory.mktemp("detection"))
    app = create_app({"jobs_dir": os.path.join(root, "jobs"), "async_mode": "threading", "testing": True,
                      "allowed_roots": [root], "gpus": [], "abort_grace_seconds": 2, "secret_key": "test"})
    sched = app.extensions["digits"]["scheduler"]
    return types.SimpleNamespace(app=app, client=login(app.test_client()), sched=sched, root=root,
                                 model=make_model(sched, root), images=write_images(os.path.join(root, "images")))


def expected_fixed_box(name):
    """Where the network's fixed box lies in the original image: its input's pixels over the scale."""
    scale = IMAGES[name][3]
    return [v / scale for v in FIXED]


def stored_db(path, arrays):
    """An LMDB of PNG-encoded Datums {key: uint8 H×W×3}, as a detection dataset stores its images."""
    from digits.dataset.datum import array_to_datum
    with lmdb.open(str(path), map_size=1 << 24) as db, db.begin(write=True) as txn:
        for key, arr in arrays.items():
            txn.put(key.encode(), array_to_datum(arr, 0, "png"))
    return str(path)


def infer_one(client, job, path, **fields):
    response = client.post("/models/images/generic/infer_one.json", data={"job_id": job.id, "image_path": path,
                                                                          **fields})
    assert response.status_code == 200, response.data
    return response.get_json()


def png_bytes(arr):
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, "PNG")
    return buffer.getvalue()


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
