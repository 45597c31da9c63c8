"""DIGITS' dataset routes beside the forms: a dataset's short summary (the model form shows it for the
chosen dataset) and the resize example (the dataset form's "See example")."""
import base64

import numpy as np
from flask import Blueprint, jsonify, render_template, request

from digits.utils import image as images
from digits.utils.routing import job_from_query, json_error, wants_json

blueprint = Blueprint("datasets_common", __name__)

MAX_EXAMPLE_SIDE = 1024   # an example to look at; the real size limit is the dataset form's
EXAMPLE_SIZE = (120, 200)   # a landscape picture, so every mode does something different


@blueprint.route("/datasets/summary")
@blueprint.route("/datasets/summary.json")
def summary():
    job = job_from_query("datasets")
    facts = job.dataset_facts() if hasattr(job, "dataset_facts") else {}
    facts = {k: v for k, v in facts.items() if k != "skipped"}   # the page lists those, a summary counts them
    data = dict(job.summary(), **facts)
    if wants_json():
        return jsonify(data)
    return render_template("datasets/summary.html", job=job, data=data)


def example_image():
    """A made-up picture (sky, ground, sun, a frame): no file to ship, and the same every time."""
    height, width = EXAMPLE_SIZE
    y, x = np.mgrid[0:height, 0:width]
    arr = np.zeros((height, width, 3), np.uint8)
    arr[..., 0] = 60 + (x * 120 // width)
    arr[..., 1] = 120 + (y * 100 // height)
    arr[..., 2] = 230 - (y * 80 // height)
    ground = y > height * 2 // 3
    arr[ground] = (70, 140, 60)
    sun = (x - width * 3 // 4) ** 2 + (y - height // 4) ** 2 < (height // 6) ** 2
    arr[sun] = (250, 220, 60)
    arr[:4], arr[-4:], arr[:, :4], arr[:, -4:] = 20, 20, 20, 20
    return arr


def _size(name, digits_name, default=None):
    raw = (request.form.get(digits_name) or request.form.get(name) or "").strip() or default
    # the message names the field the request used (the form's resize_width, or DIGITS' width)
    label = next((n for n in (digits_name, name) if n in request.form), f"{digits_name} (or {name})")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        got = f"got {raw!r}" if raw else "it is empty"
        raise ValueError(f"{label} must be a whole number of pixels; {got}") from None
    if not 1 <= value <= MAX_EXAMPLE_SIDE:
        raise ValueError(f"{label} must be between 1 and {MAX_EXAMPLE_SIDE} for an example, got {value}")
    return value


def _example_request():
    """(height, width, channels, modes, encoding) from DIGITS' fields (width, height, channels,
    resize_mode, encoding) or the dataset form's own (resize_width ...); no resize_mode: every mode."""
    width, height = _size("resize_width", "width"), _size("resize_height", "height")
    channels = (request.form.get("channels") or request.form.get("resize_channels") or "3").strip()
    if channels not in ("1", "3"):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (color), got {channels!r}")
    mode = (request.form.get("resize_mode") or "").strip()
    if mode and mode not in images.RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {', '.join(images.RESIZE_MODES)}, got {mode!r}")
    encoding = (request.form.get("encoding") or "png").strip()
    if encoding not in images.ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(images.ENCODINGS)}, got {encoding!r}")
    return height, width, int(channels), [mode] if mode else list(images.RESIZE_MODES), encoding


@blueprint.route("/datasets/images/resize-example", methods=["POST"])
@blueprint.route("/datasets/images/resize-example.json", methods=["POST"])
def resize_example():
    try:
        height, width, channels, modes, encoding = _example_request()
    except ValueError as exc:
        return json_error(str(exc), 400)
    examples = []
    for mode in modes:
        arr = images.resize_image(example_image(), height, width, channels=channels, resize_mode=mode,
                                  rng=np.random.default_rng(0))
        stored = arr.tobytes() if encoding == "none" else images.encode_image(arr, encoding)
        shown = stored if encoding == "jpg" else images.encode_image(arr, "png")   # what the dataset holds
        mime = "jpeg" if encoding == "jpg" else "png"
        examples.append({"resize_mode": mode, "bytes": len(stored),
                         "image": f"data:image/{mime};base64,{base64.b64encode(shown).decode()}"})
    data = {"width": width, "height": height, "channels": channels, "encoding": encoding, "examples": examples}
    if wants_json():
        return jsonify(data)
    return render_template("datasets/images/resize_example.html", **data)
