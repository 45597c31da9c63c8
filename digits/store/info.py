"""A model store's files (DIGITS' format): the one owner of their names, fields and checks.

    <store>/master.json        optional: {"msg": welcome text, "children": [model folder names]}; without
                               it the store is a folder listing (an index page linking to "<dir>/")
    <store>/<dir>/info.json    {"name", "framework", "snapshot file", "model file" | "network file",
                               "labels file", optional "mean file", and either "preprocess file" (our
                               preprocess.json) or DIGITS' "image dimensions" [H, W, C] with
                               "image resize mode"}
    <store>/<dir>/aux.json     optional, free-form, shown as it is
Every file info.json names is a bare name inside <dir>: a store never makes the server read elsewhere.
"""
import json
import time

from digits import __version__
from digits.inference.errors import InferenceError

MASTER_FILE = "master.json"
INFO_FILE = "info.json"
AUX_FILE = "aux.json"
# info.json field → the key upload.fill_from_files knows the file by; the first three are required.
FILE_FIELDS = (("snapshot file", "weights"), (("model file", "network file"), "network"),
               ("labels file", "labels"), ("mean file", "mean"), ("preprocess file", "preprocess"))
REQUIRED = ("weights", "network", "labels")
MAX_NAME = 255


class StoreError(InferenceError):
    """A store, or a model in it, that cannot be read or used; the message says which and why."""

    def __init__(self, message, status=400, type_="StoreError"):
        super().__init__(message, status, type_)


def parse_object(data, shown):
    """The JSON object in data (bytes); StoreError naming shown (a URL) otherwise."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{shown} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StoreError(f"{shown} must hold a JSON object, not {type(value).__name__}")
    return value


def bare_name(value, what):
    """value if it names a file or folder right inside its parent (no path, no "..")."""
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{what} must be a file name, got {value!r}")
    if ("/" in value or "\\" in value or "\x00" in value or value in (".", "..") or len(value) > MAX_NAME
            or value != value.strip()):
        raise StoreError(f"{what} must be a bare name inside the model folder, not a path: {value!r}")
    return value


def master_children(master, shown):
    """(welcome message, children) of a master.json object: the children as they are written, each to be
    checked with child_name (one bad entry is that model's problem, not the store's)."""
    children = master.get("children")
    if not isinstance(children, list):
        raise StoreError(f'{shown} must have "children": a list of model folder names')
    msg = master.get("msg")
    return (msg if isinstance(msg, str) else ""), children


def child_name(child):
    """How a master.json child is shown (and identified): itself when a string, else as JSON."""
    return child if isinstance(child, str) else json.dumps(child)


def model_files(info, shown):
    """{key: file name} of the files info.json names (keys as upload.fill_from_files takes them),
    each checked to be a bare name; StoreError when a required one is missing or any is a path."""
    files = {}
    for fields, key in FILE_FIELDS:
        fields = (fields,) if isinstance(fields, str) else fields
        field = next((f for f in fields if info.get(f) not in (None, "")), None)
        if field is None:
            if key in REQUIRED:
                raise StoreError(f"{shown} has no {' or '.join(repr(f) for f in fields)}")
            continue
        files[key] = bare_name(info[field], f'{shown} "{field}"')
    framework = info.get("framework")
    if framework is not None and not isinstance(framework, str):
        raise StoreError(f'{shown} "framework" must be a name like "torch" or "caffe", got {framework!r}')
    return files


def framework(info):
    """info.json's framework in our spelling, None to tell it by the network file."""
    value = info.get("framework")
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def upload_form(info, shown):
    """The pretrained upload's image fields (for upload.form_preprocess) of a model without a
    preprocess.json: DIGITS' "image dimensions" [height, width, channels] and "image resize mode". The
    mean is the network's to say (upload.digits_form reads its data layers), as for a DIGITS archive."""
    dims = info.get("image dimensions")
    if not (isinstance(dims, list) and len(dims) == 3 and all(isinstance(d, int) for d in dims)):
        raise StoreError(f'{shown} has neither "preprocess file" nor "image dimensions" [height, width, '
                         f"channels], so the model's input size is unknown")
    height, width, channels = dims
    return {"height": str(height), "width": str(width), "image_type": str(channels),
            "resize_mode": str(info.get("image resize mode") or "")}


def published_info(model, epoch, framework_name, network_file, params, files, user):
    """info.json of a model published from this server: DIGITS' fields plus where it came from."""
    info = {"name": model.name, "framework": framework_name, "snapshot file": files["weights"],
            "network file": network_file, "labels file": files["labels"], "preprocess file": files["preprocess"],
            "image dimensions": [params["height"], params["width"], params["channels"]],
            "image resize mode": params["resize_mode"], "num_classes": params["num_classes"],
            "job_id": model.id, "epoch": epoch, "published_by": user, "published": time.time(),
            "digits_version": __version__}
    if files.get("mean"):
        info["mean file"] = files["mean"]
    return info


def with_child(master, dir_name):
    """master.json's object with dir_name among its children (once)."""
    children = list(master.get("children") or [])
    if dir_name not in children:
        children.append(dir_name)
    return dict(master, children=children)
