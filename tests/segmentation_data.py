"""Synthetic segmentation data for tests: filled shapes of two classes on noise, with their label images.

    class 0  background: dark noise
    class 1  circle: reddish filled discs
    class 2  rectangle: greenish filled rectangles

1–3 shapes per image, never overlapping, 6–20 px across on 48×48 images (scaled with the size): colour
tells the classes apart, so a small network trained on CPU for a minute segments them (mean IoU well
above 0.7). Labels:

    mode "palette"  P-mode PNG labels, palette index = class id, and a few pixels along the shapes'
                    borders 255 (ignore), as PASCAL VOC's labels have them
    mode "rgb"      RGB PNG labels in the classes' colours and colormap.txt ("R G B" lines); no ignore

The same seed gives the same images in both modes (and the same class ids, but the ignored pixels).
"""
import os
from types import SimpleNamespace

import numpy as np
from PIL import Image

from tests.detection_data import _place

CLASSES = ("background", "circle", "rectangle")
COLORMAP = ((0, 0, 0), (200, 0, 0), (0, 200, 0))
IGNORE_COLOR = (255, 255, 255)
FEATURE_COLORS = {1: (225, 50, 40), 2: (40, 210, 70)}
IGNORE_SHARE = 0.3   # of the border pixels


def palette():
    """The palette of the "palette" labels: the classes' colours, white for 255, black in between."""
    rows = [list(c) for c in COLORMAP] + [[0, 0, 0]] * (255 - len(COLORMAP)) + [list(IGNORE_COLOR)]
    return [v for row in rows for v in row]


def _shape_mask(class_id, box):
    x1, y1, x2, y2 = box
    if class_id == 2:
        return np.ones((y2 - y1, x2 - x1), dtype=bool)
    yy, xx = np.mgrid[y1:y2, x1:x2]
    r = (x2 - x1) / 2
    return (xx + 0.5 - (x1 + r)) ** 2 + (yy + 0.5 - (y1 + r)) ** 2 <= r ** 2


def _borders(mask):
    """Pixels of a shape (class ≥ 1) with a 4-neighbour of another class."""
    padded = np.pad(mask, 1, mode="edge")
    differs = np.zeros(mask.shape, dtype=bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        differs |= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]] != mask
    return differs & (mask > 0)


def make_sample(rng, size=(48, 48), shapes=(1, 3)):
    """(H×W×3 uint8 image, H×W uint8 class ids, H×W bool: the border pixels a palette label ignores)."""
    width, height = size
    scale = min(width, height) / 48.0
    low, high = max(4, int(round(6 * scale))), max(6, int(round(20 * scale)))
    image = rng.integers(0, 70, size=(height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), dtype=np.uint8)
    taken = []
    for _ in range(int(rng.integers(shapes[0], shapes[1] + 1))):
        class_id = int(rng.integers(1, 3))
        w = int(rng.integers(low, high + 1))
        h = w if class_id == 1 else int(rng.integers(low, high + 1))
        box = _place(rng, width, height, w, h, taken)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        inside = _shape_mask(class_id, box)
        colour = np.clip(np.array(FEATURE_COLORS[class_id]) + rng.integers(-20, 21, (y2 - y1, x2 - x1, 3)), 0, 255)
        image[y1:y2, x1:x2][inside] = colour[inside]
        mask[y1:y2, x1:x2][inside] = class_id
        taken.append(box)
    ignored = _borders(mask) & (rng.random(mask.shape) < IGNORE_SHARE)
    return image, mask, ignored


def write_colormap(path, rows=COLORMAP):
    with open(path, "w") as f:
        f.write("".join(f"{r} {g} {b}\n" for r, g, b in rows))
    return path


def make_segmentation_dataset(folder, count, size=(48, 48), seed=0, mode="palette", shapes=(1, 3)):
    """Writes folder/features/NNNNNN.png, folder/labels/NNNNNN.png, folder/classes.txt (and, mode "rgb",
    folder/colormap.txt). Returns a namespace: features, labels, classes_file, colormap_file (None for
    "palette"), names, colormap, and masks {stem: the label's class ids, 255 where a palette label ignores}."""
    if mode not in ("palette", "rgb"):
        raise ValueError(f"mode is 'palette' or 'rgb', not {mode!r}")
    rng = np.random.default_rng(seed)
    features, labels = os.path.join(folder, "features"), os.path.join(folder, "labels")
    os.makedirs(features, exist_ok=True)
    os.makedirs(labels, exist_ok=True)
    masks = {}
    for i in range(count):
        image, mask, ignored = make_sample(rng, size, shapes)
        name = f"{i:06d}"
        Image.fromarray(image).save(os.path.join(features, f"{name}.png"))
        if mode == "palette":
            mask = np.where(ignored, 255, mask).astype(np.uint8)
            label = Image.fromarray(mask, "P")
            label.putpalette(palette())
        else:
            label = Image.fromarray(np.asarray(COLORMAP, dtype=np.uint8)[mask])
        label.save(os.path.join(labels, f"{name}.png"))
        masks[name] = mask
    classes_file = os.path.join(folder, "classes.txt")
    with open(classes_file, "w") as f:
        f.write("".join(f"{n}\n" for n in CLASSES))
    colormap_file = write_colormap(os.path.join(folder, "colormap.txt")) if mode == "rgb" else None
    return SimpleNamespace(features=features, labels=labels, classes_file=classes_file, colormap_file=colormap_file,
                           names=list(CLASSES), colormap=[list(c) for c in COLORMAP], masks=masks)
