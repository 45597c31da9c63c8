"""A handmade segmentation model for the inference tests: a Python network following docs/segmentation.md §2
whose N×K×H×W scores are thresholds on its input's colour channels, saved as a trained generic model job
(network.py, weights, preprocess.json) of a segmentation dataset (dataset.json with a colormap, labels.txt,
a val split's images and labels LMDBs) — no training needed, so the masks are known exactly.

Class 1 ("red") where a pixel's red channel is above 0.49 and its green one's, class 2 ("green") where the
green channel is above 0.5 and the red one's, else class 0: dark noise with red and green rectangles."""
import io
import json
import os

import lmdb
import numpy as np
import pytest
from PIL import Image

LABELS = ("background", "red", "green")
COLORMAP = [[10, 20, 30], [250, 0, 0], [0, 250, 0]]   # not the default palette: the dataset's is used
HEIGHT, WIDTH = 16, 24

NET = '''
import torch
import torch.nn as nn

SCALE = 1 / 255
TASK_TYPE = "segmentation"


class Colours(nn.Module):
    """Scores per pixel: background 0.5, red r + 0.01, green g (x in [0, 1])."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.5, 0.01, 0.0]))

    def forward(self, x):
        return torch.stack([torch.zeros_like(x[:, 0]), x[:, 0], x[:, 1]], dim=1) + self.bias[None, :, None, None]


def build(input_shape, num_classes):
    return Colours()
'''

RED, GREEN = (220, 30, 30), (30, 220, 30)


def picture(width, height, red, green, seed=0):
    """Dark noise with a red and a green rectangle (x1, y1, x2, y2), as uint8 H×W×3."""
    arr = np.random.default_rng(seed).integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    for (x1, y1, x2, y2), colour in ((red, RED), (green, GREEN)):
        arr[y1:y2, x1:x2] = colour
    return arr


def truth(width, height, red, green):
    """The class ids of picture(): uint8 H×W."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for (x1, y1, x2, y2), class_id in ((red, 1), (green, 2)):
        mask[y1:y2, x1:x2] = class_id
    return mask


# name: (W, H, red rectangle, green rectangle)
IMAGES = {"same.png": (WIDTH, HEIGHT, (2, 2, 10, 8), (14, 6, 22, 14)),      # the model's size
          "larger.png": (48, 40, (4, 4, 20, 20), (28, 16, 44, 36))}        # squashed to 24×16, mask back to 48×40


def write_images(folder):
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for index, (name, (w, h, red, green)) in enumerate(IMAGES.items()):
        paths[name] = os.path.join(folder, name)
        Image.fromarray(picture(w, h, red, green, seed=index)).save(paths[name])
    return paths


def label_record():
    """The val split's record "a" (model-sized) and its label: the rectangles, one more column labelled red
    (x = 10, a pixel the network calls background) and a 2×2 block labelled 255 (ignored)."""
    w, h, red, green = IMAGES["same.png"]
    label = truth(w, h, red, green)
    label[2:8, 10] = 1
    label[0:2, 20:22] = 255
    return picture(w, h, red, green), label


# IoU of record "a" in percent: red 48 of 54 pixels; background 262 labelled, 268 predicted (of 380 counted)
EXPECTED_IOU = [100 * 262 / 268, 100 * 48 / 54, 100.0]


def write_dataset(folder):
    """A segmentation dataset's files (docs/segmentation.md §1) with a val split of two records: "a" at the
    model's size, "b" larger (48×32) with its label at its own size."""
    from digits.dataset.datum import array_to_datum
    os.makedirs(folder, exist_ok=True)
    image_a, label_a = label_record()
    b = (48, 32, (4, 4, 20, 16), (28, 12, 44, 28))
    records = {"a": (image_a, label_a), "b": (picture(*b, seed=5), truth(*b))}
    for db, index in (("val_db", 0), ("val_labels_db", 1)):
        with lmdb.open(os.path.join(folder, db), map_size=1 << 24) as env, env.begin(write=True) as txn:
            for key, pair in records.items():
                txn.put(key.encode(), array_to_datum(pair[index], 0, "png"))
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("".join(f"{label}\n" for label in LABELS))
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"kind": "generic", "label_kind": "mask", "num_classes": len(LABELS), "colormap": COLORMAP,
                   "image_dims": [HEIGHT, WIDTH, 3], "encoded": True,
                   "splits": {"val": {"db": os.path.join(folder, "val_db"), "count": 2,
                                      "labels_db": os.path.join(folder, "val_labels_db")}}}, f)
    return os.path.join(folder, "val_db")


def make_model(sched, root, net=NET, name="colours"):
    """A Done generic model job of task type segmentation with one snapshot (epoch 1), in the scheduler."""
    from digits.model.preprocess import Preprocess
    from tests.inference.model_jobs import saved_model
    dataset_dir = os.path.join(root, f"{name}-dataset")
    write_dataset(dataset_dir)
    pre = Preprocess(3, HEIGHT, WIDTH, len(LABELS), scale=1 / 255)
    return saved_model(sched, name, net, "segmentation", dataset_dir, pre)[0]


def make_world(tmp_path_factory):
    """detection_kit's app and logged-in client (no training; its detection model unused), with the segmentation
    model, its dataset's val LMDB and a folder of images."""
    from tests.inference import detection_kit
    world = detection_kit.world(tmp_path_factory)
    world.model = make_model(world.sched, world.root)
    world.db = os.path.join(world.root, "colours-dataset", "val_db")
    world.folder = os.path.join(world.root, "colours")
    world.images = write_images(world.folder)
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = make_world(tmp_path_factory)
    yield world
    world.sched.stop()


def answered(client, route, job, page=False, **fields):
    """The JSON answer of /models/images/generic/<route>.json for the model (or, with page, the HTML page)."""
    url = f"/models/images/generic/{route}{'' if page else '.json'}"
    response = client.post(url, data={"job_id": job.id, **fields})
    assert response.status_code == 200, response.data
    return response.get_data(as_text=True) if page else response.get_json()


def decoded(data_uri):
    """uint8 array of a PNG data URI."""
    import base64
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))))


def painted(mask, colormap=COLORMAP):
    """The colour mask of class ids, as the server paints it (H×W×3)."""
    return np.asarray(colormap, dtype=np.uint8)[np.asarray(mask)]
