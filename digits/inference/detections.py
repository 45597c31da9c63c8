"""Inference for models whose preprocess.json has a "geometry" (detection models, docs/detection.md §4):
an image is prepared the way its dataset stored images (digits.dataset.images.detection.geometry:
padded right/bottom, scaled down first when larger, resized), and the transform of each image goes to
the task type, which answers boxes in the original image's pixels.

A database record (infer_db) is an image as its dataset stored it, already padded and resized: it is
only resized to the network's size when it differs (a record of another database), so the boxes come
back in the stored image's pixels — the identity when the record has the model's size.

Torch-free (records.py, which the web process imports, uses it).
"""
from typing import Any, NamedTuple

import numpy as np

from digits.inference.errors import ImageError, InferenceError
from digits.utils.image import to_array


class Prepared(NamedTuple):
    array: Any       # uint8 H×W / H×W×3 at the network's size
    transform: Any   # geometry.prepare's, for the task type's infer (None: the model has no geometry)
    image: Any       # uint8 array the answer's coordinates refer to (the original, or the record)
    label: Any = None   # a record's label image (uint8 H×W class ids), for a segmentation model's IoU


def _geometry():
    from digits.dataset.images.detection import geometry
    return geometry


def record_geometry(pre):
    """A stored image → the network's size, nothing padded."""
    return {"pad": None, "resize": [pre.height, pre.width], "channel_conversion": "none"}


def prepare(image, pre, name, geometry=None):
    """Prepared of a decoded image (PIL or array) with the model's geometry (or the one given); ImageError
    starting with `name` (how the user knows the image) when it cannot become the network's input."""
    original = to_array(image, pre.channels)
    try:
        arr, transform = _geometry().prepare(original, geometry or pre.geometry, fit=True)
    except ValueError as exc:
        raise ImageError(f"{name}: {exc}") from None
    arr = to_array(np.asarray(arr, dtype=np.uint8), pre.channels)
    if arr.shape[:2] != (pre.height, pre.width):
        size = f"{original.shape[1]}×{original.shape[0]}"
        raise ImageError(f"{name} is {size}; the model takes {pre.width}×{pre.height} images (its dataset "
                         f"neither padded nor resized them)")
    return Prepared(arr, transform, original)


def parse_threshold(value):
    """A request's "threshold" (0..1; None or "" when not given) → float or None; InferenceError 400."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number <= 1.0:
        raise InferenceError(f"threshold must be a number from 0 to 1 (the lowest score of a detection to "
                             f"answer), got {value!r}", 400, "BadRequest")
    return number


def above(answers, threshold):
    """The task type's answers with the detections scoring below threshold left out."""
    if threshold is None:
        return answers
    return [dict(a, detections=[d for d in a["detections"] if d["score"] >= threshold]) if "detections" in a else a
            for a in answers]
