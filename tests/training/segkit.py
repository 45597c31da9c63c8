"""A segmentation dataset written straight into LMDBs as docs/segmentation.md §1 describes it (PNG
feature Datums, PNG 1-channel label Datums of class ids with 255 = ignore), from the shapes of
tests/segmentation_data: the training tests need no dataset job."""
import json
import os

import lmdb
import numpy as np

from digits.dataset.datum import array_to_datum
from tests.segmentation_data import CLASSES, COLORMAP, make_sample


def _write_split(folder, split, count, rng, size):
    pixels = np.zeros(len(CLASSES) + 1, dtype=np.int64)
    images, labels = (lmdb.open(os.path.join(folder, f"{split}{end}"), map_size=1 << 26)
                      for end in ("_db", "_labels_db"))
    with images.begin(write=True) as image_txn, labels.begin(write=True) as label_txn:
        for i in range(count):
            image, mask, ignored = make_sample(rng, size)
            mask = np.where(ignored, 255, mask).astype(np.uint8)
            image_txn.put(b"%08d" % i, array_to_datum(image, 0, "png"))
            label_txn.put(b"%08d" % i, array_to_datum(mask, 0, "png"))
            pixels += np.bincount(np.minimum(mask.ravel(), len(CLASSES)), minlength=len(CLASSES) + 1)
    images.close()
    labels.close()
    return {"db": f"{split}_db", "labels_db": f"{split}_labels_db", "count": count,
            "pixels": {"per_class": pixels[:-1].tolist(), "ignored": int(pixels[-1])}}


def make_mask_dataset(folder, counts, size=(48, 48), seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    splits = {split: _write_split(folder, split, count, rng, size) for split, count in counts.items()}
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("".join(f"{name}\n" for name in CLASSES))
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"kind": "generic", "label_kind": "mask", "image_dims": [size[1], size[0], 3], "encoded": True,
                   "label_dims": None, "num_classes": len(CLASSES), "colormap": [list(c) for c in COLORMAP],
                   "pixels": splits["train"]["pixels"], "resize": None, "splits": splits, "skipped": []}, f)
    return folder
