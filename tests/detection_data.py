"""Synthetic object detection data for tests: bright objects of two classes and unlabelled distractors on
noise, with KITTI label files (and the same boxes as a COCO instances file).

    car     bright red filled boxes, roughly square
    person  bright green rectangles, about twice as tall as wide
    (gray blobs: distractors, never labelled)

Objects are 10–24 px (on 64×64 images; fewer pixels on smaller ones), 1–3 per image, never overlapping,
so that a small detector trained on a few hundred images finds them.
"""
import json
import os

import numpy as np
from PIL import Image

from digits.dataset.images.detection.coco import to_coco
from digits.dataset.images.detection.kitti import format_object

CLASSES = ("car", "person")
COLORS = {"car": (235, 35, 30), "person": (30, 225, 45)}
DISTRACTOR = (150, 150, 150)


def _shape(rng, name, low, high):
    """(width, height) of an object of that class."""
    if name == "car":
        side = int(rng.integers(low, high + 1))
        return side, max(low, min(high, int(round(side * rng.uniform(0.8, 1.2)))))
    height = int(rng.integers(max(low, (low + high) // 2), high + 1))
    return max(4, int(round(height * rng.uniform(0.4, 0.55)))), height


def _place(rng, width, height, w, h, taken, margin=2):
    for _ in range(50):
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        box = (x, y, x + w, y + h)
        if all(x + w + margin <= a or a2 + margin <= x or y + h + margin <= b or b2 + margin <= y
               for a, b, a2, b2 in taken):
            return box
    return None


def make_image(rng, size=(64, 64), objects=(1, 3), distractors=(0, 2)):
    """(H×W×3 uint8 image, [(name, (x1, y1, x2, y2))]) — boxes in pixel edges: x2, y2 exclusive."""
    width, height = size
    scale = min(width, height) / 64.0
    low, high = max(4, int(round(10 * scale))), max(6, int(round(24 * scale)))
    image = rng.integers(0, 70, size=(height, width, 3), dtype=np.uint8)
    labelled, taken = [], []
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        name = CLASSES[int(rng.integers(0, len(CLASSES)))]
        w, h = _shape(rng, name, low, high)
        box = _place(rng, width, height, w, h, taken)
        if box:
            x1, y1, x2, y2 = box
            image[y1:y2, x1:x2] = np.clip(np.array(COLORS[name]) + rng.integers(-15, 16, 3), 0, 255)
            labelled.append((name, tuple(float(v) for v in box)))
            taken.append(box)
    for _ in range(int(rng.integers(distractors[0], distractors[1] + 1))):
        side = int(rng.integers(low // 2 + 2, high))
        box = _place(rng, width, height, side, side, taken)
        if box:
            x1, y1, x2, y2 = box
            yy, xx = np.mgrid[y1:y2, x1:x2]
            blob = ((xx - (x1 + x2) / 2) ** 2 + (yy - (y1 + y2) / 2) ** 2) <= (side / 2) ** 2
            image[y1:y2, x1:x2][blob] = DISTRACTOR
            taken.append(box)
    return image, labelled


def make_kitti_dataset(folder, count, size=(64, 64), seed=0, objects=(1, 3), distractors=(0, 2)):
    """Writes folder/images/NNNNNN.png and folder/labels/NNNNNN.txt (KITTI); returns the records
    [(file_name, width, height, [(name, box)])] that write_coco takes."""
    rng = np.random.default_rng(seed)
    images, labels = os.path.join(folder, "images"), os.path.join(folder, "labels")
    os.makedirs(images, exist_ok=True)
    os.makedirs(labels, exist_ok=True)
    records = []
    for i in range(count):
        image, labelled = make_image(rng, size, objects, distractors)
        name = f"{i:06d}"
        Image.fromarray(image).save(os.path.join(images, f"{name}.png"))
        with open(os.path.join(labels, f"{name}.txt"), "w") as f:
            f.write("".join(format_object(n.capitalize(), box) + "\n" for n, box in labelled))
        records.append((f"{name}.png", size[0], size[1], labelled))
    return records


def write_coco(path, records, categories=CLASSES):
    """The same boxes as a COCO instances file (category ids from 1 in the order given)."""
    with open(path, "w") as f:
        json.dump(to_coco(records, list(categories)), f)
    return path
