"""What the data extension that made a generic model's dataset adds to the model's inference
(docs/plugins.md): the view its results show in by default (DataExtension.default_view), and input other
than an image — text boxes on the model page that infer_one takes instead of an image file
(DataExtension.inference_fields, turned into the feature by inference_input).

A model whose extension is not installed (its plugin was uninstalled) gets neither: its results show in the
task type's default view and it takes images, as any generic model does.
"""
import base64
import io
import json
import os

import numpy as np
import PIL.Image

from digits.dataset.extension.job import EXTENSION_FILE
from digits.extensions import view as views
from digits.extensions.data import get_extension
from digits.inference.errors import InferenceError

MAX_NAME = 80   # of the text an answer is known by in errors


def dataset_extension(job):
    """(extension, params) of the model's dataset; (None, None) for a dataset no installed extension made."""
    try:
        with open(os.path.join(job.train_config()["dataset_dir"], EXTENSION_FILE), encoding="utf-8") as f:
            spec = json.load(f)
        return get_extension(spec["extension_id"]), spec.get("params") or {}
    except (OSError, KeyError, TypeError, ValueError):   # DataExtensionError is a ValueError
        return None, None


def default_view(job):
    """The extension's view for the model's results when it is installed and applies; else None."""
    extension, _ = dataset_extension(job)
    wanted = getattr(extension, "default_view", None)
    return wanted if wanted in {v.extension_id for v in views.views(job.task_type)} else None


def fields(job):
    """((field, label), ...) the model's "Test one" form shows instead of an image; () for image models."""
    extension, _ = dataset_extension(job)
    return tuple(extension.inference_fields) if extension is not None else ()


def one_input(job, form, files=None):
    """(upload for the worker, name the user knows it by) of a request that gives the extension's inference
    fields, or None when it gives none but an image (the request's image is used). InferenceError 400 for
    input the extension refuses, and for a request with neither (saying what the model takes)."""
    extension, params = dataset_extension(job)
    if extension is None or not extension.inference_fields:
        return None
    values = {name: form.get(name) or "" for name, _label in extension.inference_fields}
    given = [value for value in values.values() if value.strip()]
    if not given:
        upload = (files or {}).get("image_file")
        if form.get("image_path") or form.get("image_url") or (upload is not None and upload.filename):
            return None
        wanted = " or ".join(f"{label.lower()} ({name})" for name, label in extension.inference_fields)
        raise InferenceError(f"give {wanted}, or an image: upload image_file or set image_path", 400, "BadRequest")
    try:
        feature = np.asarray(extension.inference_input(params, values))
    except ValueError as exc:
        raise InferenceError(f"{', '.join(values)}: {exc}", 400, "BadRequest") from None
    if feature.dtype != np.uint8 or feature.ndim not in (2, 3):
        raise InferenceError(f"data extension {extension.extension_id!r} made a {feature.dtype} array of shape "
                             f"{feature.shape}, not a uint8 image", 500, "PluginError")
    png = io.BytesIO()
    PIL.Image.fromarray(np.ascontiguousarray(feature)).save(png, format="PNG")   # lossless: the worker reads it back
    shown = given[0]
    name = shown if len(shown) <= MAX_NAME else shown[:MAX_NAME - 1] + "…"
    return {"name": name, "data": base64.b64encode(png.getvalue()).decode("ascii")}, shown
