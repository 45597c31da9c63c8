"""Segmentation masks (docs/segmentation.md §3): the colour mask PNG a mask of class ids is painted as,
the per-class IoU of a mask against its label image, and the colormap a model answers with.

A task type trains on masks when its label kind is "mask" (per_pixel): its network answers N×K×H×W
scores, and inference answers each image's mask at the image's own size instead of one row of scores.

Torch-free: the web process paints masks (the image-segmentation view), the worker measures them.
"""
import base64

import numpy as np

from digits.utils.image import encode_image

PER_PIXEL_KIND = "mask"
IGNORE = 255   # a label pixel that counts for no class (docs/segmentation.md §1)
UNKNOWN_COLOUR = (0, 0, 0)   # class ids the colormap has no row for (none, from a network of K outputs)


def per_pixel(task):
    """Whether a task type's networks answer a score map per class (N×K×H×W) rather than N×K scores."""
    return getattr(task, "label_kind", None) == PER_PIXEL_KIND


def default_colormap(count):
    """count colours: PASCAL VOC's palette (class ids' bits spread over the high bits of R, G, B), which
    DIGITS' segmentation example and most label images use — the colours of a dataset without one."""
    colours = []
    for index in range(count):
        r = g = b = 0
        value = index
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        colours.append([r, g, b])
    return colours


def colormap_for(colormap, count):
    """A usable colormap of `count` rows: the given one's valid [r, g, b] rows (0..255), the default
    palette's for the classes it does not cover (a model without one, or an older dataset)."""
    rows = []
    for row in list(colormap or [])[:count]:
        if not (isinstance(row, (list, tuple)) and len(row) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in row)):
            break
        rows.append([int(v) for v in row])
    return rows + default_colormap(count)[len(rows):]


def colour_mask(mask, colormap):
    """uint8 H×W×3: each pixel of a mask of class ids in its class's colour."""
    lut = np.tile(np.asarray(UNKNOWN_COLOUR, dtype=np.uint8), (256, 1))
    rows = np.asarray(colormap, dtype=np.uint8).reshape(-1, 3)[:256]
    lut[:len(rows)] = rows
    return lut[np.asarray(mask, dtype=np.uint8)]


def mask_png(mask, colormap):
    """"data:image/png;base64,..." of the colour mask (RGB PNG, lossless: its pixels are the colours)."""
    return "data:image/png;base64," + base64.b64encode(encode_image(colour_mask(mask, colormap), "png")).decode("ascii")


def pixels_per_class(mask, count):
    """[pixels of class id c for c in 0..count-1]."""
    return np.bincount(np.asarray(mask, dtype=np.int64).ravel(), minlength=count)[:count].tolist()


def iou_per_class(mask, label, count):
    """Percent IoU of each class id between a predicted mask and its label image (pixels labelled IGNORE
    left out); None for a class in neither. ValueError when they differ in size."""
    mask, label = np.asarray(mask), np.asarray(label)
    if mask.shape != label.shape:
        raise ValueError(f"the label image is {label.shape[1]}×{label.shape[0]}, the mask "
                         f"{mask.shape[1]}×{mask.shape[0]}")
    counted = label != IGNORE
    predicted, truth = mask[counted].astype(np.int64), label[counted].astype(np.int64)
    both = np.bincount(predicted[predicted == truth], minlength=count)[:count]
    union = (np.bincount(predicted, minlength=count)[:count] + np.bincount(truth, minlength=count)[:count] - both)
    return [100.0 * float(b) / float(u) if u else None for b, u in zip(both, union)]


def mean_iou(per_class):
    """The mean of the classes that have an IoU (None when none has)."""
    known = [v for v in per_class if v is not None]
    return sum(known) / len(known) if known else None



def segment(task, outputs, labels, prepared, colormap):
    """The task type's answers (docs/segmentation.md §3) for N×K×H×W scores of detections.Prepared images:
    each mask at its image's size, painted with the model's colormap; with an input's label image (a record
    of a segmentation dataset), its "iou_per_class" and "mIoU" — or "label_error" saying why they cannot be
    measured."""
    sizes = [tuple(p.image.shape[:2]) for p in prepared]
    problems = [_label_problem(p.label, size) for p, size in zip(prepared, sizes)]
    truths = [p.label if problem is None else None for p, problem in zip(prepared, problems)]
    answers = task.infer(outputs, labels, sizes=sizes, colormap=colormap, truths=truths)
    for answer, problem in zip(answers, problems):
        if problem:
            answer["label_error"] = problem
        elif answer.get("iou_per_class") is not None:
            answer["mIoU"] = mean_iou(answer["iou_per_class"])
    return answers


def _label_problem(label, size):
    if label is None or tuple(label.shape) == tuple(size):
        return None
    return (f"the label image is {label.shape[1]}×{label.shape[0]} and the image {size[1]}×{size[0]}: "
            f"no IoU measured")
