"""preprocess.json: how a model's input images are prepared, the one owner of the file's name, its
vocabulary (resize modes, mean modes, channel order), reading, checking and writing.

Torch-free: the web process checks uploaded ones and reads them for the download archive; training
writes it (digits.model.preprocess applies it with torch) and inference reads it back.

    {"channels": 1 | 3, "height", "width", "resize_mode": RESIZE_MODES, "crop_size": int | null,
     "mean": MEAN_MODES, "mean_file": name in the model folder | null, "scale": number | null (an
     upload's: the network's own), "whitening": bool, "channel_order": "RGB", "num_classes": int}
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
    return checked
