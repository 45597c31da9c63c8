"""preprocess.json: how a model's input images are prepared, the one owner of the file's name, its
vocabulary (resize modes, mean modes, channel order), reading, checking and writing.

Torch-free: the web process checks uploaded ones and reads them for the download archive; training
writes it (digits.model.preprocess applies it with torch) and inference reads it back.

    {"channels": 1 | 3, "height", "width", "resize_mode": RESIZE_MODES, "crop_size": int | null,
     "mean": MEAN_MODES, "mean_file": name in the model folder | null, "scale": number | null (an
     upload's: the network's own), "whitening": bool, "channel_order": "RGB", "num_classes": int,
     "geometry": GEOMETRY (optional), "postprocess": POSTPROCESS (optional)}

A detection model (docs/detection.md §4) also has
    "geometry": {"pad": [H, W] | null, "resize": [H, W] | null, "channel_conversion": "RGB" | "L" | "none"}
        copied from its dataset: how an original image became a stored one (padded right/bottom with
        zeros to `pad`, an image larger than `pad` scaled down first keeping its aspect, then resized
        bilinearly to `resize`); the stored size (resize, else pad) is height × width
    "postprocess": {"threshold": 0.5, "nms_iou": 0.5, "max_detections": D}
        the network's output: N×D×6 rows [x1, y1, x2, y2, score, class_id]; threshold is the score a
        view starts showing boxes at
A file without them is a model whose output is N×K scores.
"""
import json
import os

from digits.utils.atomic import write_json
from digits.utils.checks import is_number
from digits.utils.image import DEFAULT_RESIZE_MODE, RESIZE_MODES  # noqa: F401  (this format's vocabulary)

PREPROCESS_FILE = "preprocess.json"
MEAN_MODES = ("none", "image", "pixel")
NO_MEAN = "none"
CHANNEL_ORDER = "RGB"
MAX_SIDE = 8192
CHANNEL_CONVERSIONS = ("RGB", "L", "none")
DEFAULT_POSTPROCESS = {"threshold": 0.5, "nms_iou": 0.5, "max_detections": 100}
MAX_DETECTIONS = 100000


class PreprocessError(ValueError):
    """Preprocessing settings that cannot work; the message names the field."""


def uses_mean(params):
    return params.get("mean", NO_MEAN) != NO_MEAN


def read(model_dir):
    """The file's dict; raises OSError (FileNotFoundError before training wrote it) or ValueError."""
    with open(os.path.join(model_dir, PREPROCESS_FILE)) as f:
        return json.load(f)


def write(model_dir, params):
    write_json(os.path.join(model_dir, PREPROCESS_FILE), params, pretty=True)


def check(params, named=str):
    """The settings inference will use, each checked (what a worker would otherwise fail on at every
    request, blaming the image); raises PreprocessError naming the field as named(field) says."""
    def whole(field, low, high, required=True):
        value = params.get(field)
        if value is None and not required:
            return None
        if not is_number(value) or value != int(value):
            raise PreprocessError(f"{named(field)} must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise PreprocessError(f"{named(field)} must be between {low} and {high}, got {value!r}")
        return int(value)

    def one_of(field, choices, default):
        value = params.get(field, default)
        if value not in choices:
            raise PreprocessError(f"{named(field)} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value

    checked = dict(params)
    checked["channels"] = int(one_of("channels", (1, 3), None))
    for field in ("height", "width"):
        checked[field] = whole(field, 1, MAX_SIDE)
    checked["resize_mode"] = one_of("resize_mode", RESIZE_MODES, DEFAULT_RESIZE_MODE)
    # 0 or null: no crop (as training writes it)
    checked["crop_size"] = whole("crop_size", 0, min(checked["height"], checked["width"]), required=False) or None
    checked["mean"] = one_of("mean", MEAN_MODES, NO_MEAN)
    checked["channel_order"] = one_of("channel_order", (CHANNEL_ORDER,), CHANNEL_ORDER)
    checked["whitening"] = one_of("whitening", (False, True), False)
    scale = params.get("scale")
    if scale is not None and (not is_number(scale) or scale <= 0):
        raise PreprocessError(f"{named('scale')} must be a finite number > 0 (or none: the network's own), "
                              f"got {scale!r}")
    if params.get("geometry") is not None:
        checked["geometry"] = check_geometry(params["geometry"], named)
        stored = checked["geometry"]["resize"] or checked["geometry"]["pad"]
        if stored and stored != [checked["height"], checked["width"]]:
            raise PreprocessError(f"{named('geometry')} makes {stored[1]}×{stored[0]} images but the model takes "
                                  f"{checked['width']}×{checked['height']}")
    if params.get("postprocess") is not None:
        checked["postprocess"] = check_postprocess(params["postprocess"], named)
    return checked


def _side_pair(value, label):
    """[H, W] of whole numbers in 1..MAX_SIDE, or None."""
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(is_number(v) and v == int(v) and 1 <= v <= MAX_SIDE for v in value)):
        raise PreprocessError(f"{label} must be [height, width], whole numbers from 1 to {MAX_SIDE}, or null; "
                              f"got {value!r}")
    return [int(v) for v in value]


def check_geometry(geometry, named=str):
    """The "geometry" dict checked: {"pad", "resize", "channel_conversion"}; PreprocessError naming the field."""
    label = named("geometry")
    if not isinstance(geometry, dict):
        raise PreprocessError(f"{label} must be an object with pad, resize and channel_conversion, got {geometry!r}")
    conversion = geometry.get("channel_conversion", "none")
    if conversion not in CHANNEL_CONVERSIONS:
        raise PreprocessError(f"{label} channel_conversion must be one of {', '.join(CHANNEL_CONVERSIONS)}, "
                              f"got {conversion!r}")
    return {"pad": _side_pair(geometry.get("pad"), f"{label} pad"),
            "resize": _side_pair(geometry.get("resize"), f"{label} resize"), "channel_conversion": conversion}


def check_postprocess(postprocess, named=str):
    """The "postprocess" dict checked, missing keys at their defaults; PreprocessError naming the field."""
    label = named("postprocess")
    if not isinstance(postprocess, dict):
        raise PreprocessError(f"{label} must be an object with threshold, nms_iou and max_detections, "
                              f"got {postprocess!r}")
    checked = dict(DEFAULT_POSTPROCESS, **postprocess)
    for key in ("threshold", "nms_iou"):
        if not is_number(checked[key]) or not 0 <= checked[key] <= 1:
            raise PreprocessError(f"{label} {key} must be a number from 0 to 1, got {checked[key]!r}")
        checked[key] = float(checked[key])
    count = checked["max_detections"]
    if not is_number(count) or count != int(count) or not 1 <= count <= MAX_DETECTIONS:
        raise PreprocessError(f"{label} max_detections must be a whole number from 1 to {MAX_DETECTIONS}, "
                              f"got {count!r}")
    checked["max_detections"] = int(count)
    return checked
