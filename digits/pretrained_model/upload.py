"""Filling a pretrained model's folder: from a trained model's snapshot, from uploaded files (weights
+ network definition + labels), or from an uploaded archive (ours, DIGITS', or any holding those files).

Caffe weights (.caffemodel, with a prototxt) are kept as upload.caffemodel until the inference worker
converts them into weights.pt by layer name (digits.frameworks.caffemodel; views._finish asks it). A
DIGITS model archive (snapshot_iter_N.caffemodel, train_val.prototxt / deploy.prototxt, labels.txt,
mean.binaryproto, info.json) takes the newest snapshot, the train_val network, and the image settings
of its info.json ("image dimensions" [H, W, C], "image resize mode").

Every file lands under a fixed name chosen here; archives are extracted with digits.dataset.archive
(no absolute paths, no "..", no links, size-capped). The inference worker then builds the network
and loads the weights (torch.load(weights_only=True)), so a model that cannot run is refused.
"""
import json
import os
import re
import shutil

from digits.dataset.files import MEAN_FILE
from digits.frameworks import registry
from digits.frameworks.caffemodel import SUFFIX as CAFFEMODEL_SUFFIX
from digits.inference.errors import InferenceError
from digits.model import preprocess_spec as spec
from digits.model.preprocess_spec import MAX_SIDE, MEAN_MODES, PREPROCESS_FILE, RESIZE_MODES  # noqa: F401
from digits.pretrained_model.job import INFO_FILE, LABELS_FILE, WEIGHTS_FILE
from digits.utils.atomic import write_json

WEIGHTS_SUFFIXES = (".pt", ".pth")
CAFFEMODEL_UPLOAD = "upload.caffemodel"   # until the worker has made weights.pt of it
DIGITS_NETWORKS = ("train_val.prototxt", "deploy.prototxt")   # a DIGITS archive's, in order of preference
IMAGE_TYPES = {"3": 3, "color": 3, "rgb": 3, "1": 1, "grayscale": 1, "gray": 1}


def bad(message):
    return InferenceError(message, 400, "BadRequest")


def read_labels(path, shown_name):
    from digits.dataset.files import ListFileError
    from digits.dataset.files import read_labels as read
    try:
        return read(path, display_name=shown_name)
    except ListFileError as exc:
        raise bad(str(exc)) from None


def place_network(job_dir, source_path, framework):
    """Copies the definition under its standard name; returns (framework, file name)."""
    if framework is None:
        framework = registry.framework_of_file(source_path)
    if framework not in registry.names():
        raise bad(f"framework must be {' or '.join(registry.names())}, got {framework!r}")
    name = registry.get_framework(framework).network_file
    shutil.copyfile(source_path, os.path.join(job_dir, name))
    return framework, name


def form_preprocess(form, num_classes, has_mean):
    """preprocess.json from DIGITS' upload fields (image_type, resize_mode, width, height) + ours."""
    channels = IMAGE_TYPES.get(str(form.get("image_type") or "3").strip().lower())
    if channels is None:
        raise bad(f"image_type must be color (3) or grayscale (1), got {form.get('image_type')!r}")
    sizes = {}
    for field in ("width", "height"):
        try:
            sizes[field] = int(str(form.get(field) or "").strip())
        except ValueError:
            raise bad(f"{field} is required: the image {field} the model was trained on") from None
    use_mean = (form.get("use_mean") or ("image" if has_mean else spec.NO_MEAN)).strip()
    if use_mean != spec.NO_MEAN and not has_mean:
        raise bad("use_mean image/pixel needs a mean_file (mean.binaryproto); use none otherwise")
    params = {"channels": channels, "height": sizes["height"], "width": sizes["width"],
              "resize_mode": (form.get("resize_mode") or spec.DEFAULT_RESIZE_MODE).strip(),
              "crop_size": _form_number(form, "crop_size", int), "mean": use_mean,
              "mean_file": MEAN_FILE if use_mean != spec.NO_MEAN else None,
              "scale": _form_number(form, "scale", float),
              "whitening": False, "channel_order": spec.CHANNEL_ORDER, "num_classes": num_classes}
    return check_preprocess(params, lambda field: field)


def _form_number(form, field, kind):
    text = str(form.get(field) or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise bad(f"{field} must be a{' whole' if kind is int else ''} number, got {text!r}") from None


def checked_preprocess(path, num_classes, mean_present):
    """An archive's preprocess.json, checked field by field and pointed at our mean file name."""
    try:
        with open(path) as f:
            params = json.load(f)
    except (OSError, ValueError) as exc:
        raise bad(f"preprocess.json is not readable JSON: {exc}") from None
    if not isinstance(params, dict):
        raise bad("preprocess.json must hold a JSON object of preprocessing settings")
    if params.get("num_classes") not in (None, num_classes):
        raise bad(f"labels.txt has {num_classes} classes but preprocess.json says {params['num_classes']}")
    params["num_classes"] = num_classes
    params = check_preprocess(params, lambda field: f"preprocess.json {field}")
    if spec.uses_mean(params) and not mean_present:
        raise bad(f"preprocess.json subtracts the {params['mean']} mean but the archive has no mean file")
    params["mean_file"] = MEAN_FILE if spec.uses_mean(params) else None
    return params


def check_preprocess(params, named):
    """preprocess_spec.check, refusing as a 400."""
    try:
        return spec.check(params, named)
    except spec.PreprocessError as exc:
        raise bad(str(exc)) from None


def write_preprocess(job_dir, params):
    spec.write(job_dir, params)


def write_info(job_dir, info):
    write_json(os.path.join(job_dir, INFO_FILE), info, pretty=True)


def find_archive_files(folder):
    """{"network", "weights", "labels", "preprocess", "mean", "info"} paths found in an extracted archive
    (at its top level, or inside its single top-level folder)."""
    names = [n for n in os.listdir(folder) if not n.startswith(".") and n != "__MACOSX"]
    if len(names) == 1 and os.path.isdir(os.path.join(folder, names[0])):
        return find_archive_files(os.path.join(folder, names[0]))
    files = {n: os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))}
    found = {"labels": files.get(LABELS_FILE), "preprocess": files.get(PREPROCESS_FILE),
             "info": files.get(INFO_FILE), "mean": files.get(MEAN_FILE)}
    engines = registry.frameworks()
    found["network"] = _one(files, tuple(e.network_file for e in engines) + DIGITS_NETWORKS,
                            tuple(suffix for e in engines for suffix in e.network_suffixes), "network definition")
    if WEIGHTS_FILE in files or any(n.lower().endswith(WEIGHTS_SUFFIXES) for n in files):
        found["weights"] = _one(files, (WEIGHTS_FILE,), WEIGHTS_SUFFIXES, "weights file")
    else:
        found["weights"] = _newest_caffemodel(files)
    if not found["labels"]:
        raise bad("the archive has no labels.txt (one class name per line)")
    return found


def _one(files, preferred, suffixes, what):
    for name in preferred:
        if name in files:
            return files[name]
    matches = sorted(n for n in files if n.lower().endswith(suffixes) and not n.startswith("solver"))
    if len(matches) == 1:
        return files[matches[0]]
    if not matches:
        raise bad(f"the archive has no {what} ({' or '.join(preferred)})")
    raise bad(f"the archive has several candidates for the {what} ({', '.join(matches)}); name it {preferred[0]}")


def _newest_caffemodel(files):
    """DIGITS' snapshot_iter_<N>.caffemodel of the highest N, or the one .caffemodel there is."""
    names = sorted(n for n in files if n.lower().endswith(CAFFEMODEL_SUFFIX))
    iterations = {n: int(m.group(1)) for n in names if (m := re.fullmatch(r"snapshot_iter_(\d+)\.caffemodel", n))}
    if iterations:
        return files[max(iterations, key=iterations.get)]
    if len(names) == 1:
        return files[names[0]]
    if not names:
        raise bad(f"the archive has no weights file ({WEIGHTS_FILE}, or a Caffe .caffemodel)")
    raise bad(f"the archive has several .caffemodel files ({', '.join(names)}); keep one")


def digits_form(info, network_path, form):
    """The upload form's image fields from a DIGITS archive's info.json (and its network's mean setting)
    under those the user gave: DIGITS archives have no preprocess.json."""
    fields = {}
    dims = info.get("image dimensions")
    if isinstance(dims, list) and len(dims) == 3:
        fields.update(height=str(dims[0]), width=str(dims[1]), image_type=str(dims[2]))
    if isinstance(info.get("image resize mode"), str):
        fields["resize_mode"] = info["image resize mode"]
    mean = _network_mean(network_path)
    if mean:
        fields["use_mean"] = mean
    fields.update({k: v for k, v in form.items() if str(v).strip()})
    return fields


def _network_mean(path):
    """"image" / "pixel" / "none" as the prototxt's data layers subtract a mean (mean_file / mean_value);
    None when it has no data layer (a deploy network) or cannot be read (the build check says why)."""
    from digits.frameworks.errors import NetworkError
    from digits.frameworks.prototxt import parse_net
    try:
        with open(path, encoding="utf-8") as f:
            net, _ = parse_net(f.read())
    except (OSError, UnicodeDecodeError, NetworkError):
        return None
    data = [layer for layer in net.layer if layer.type.endswith("Data")]   # (caffe_layers.DATA_TYPES but Input)
    if not data:
        return None
    transform = data[0].transform_param
    return "pixel" if transform.mean_value else "image" if transform.mean_file else "none"


def archive_info(path):
    try:
        with open(path) as f:
            info = json.load(f)
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def fill_from_files(job_dir, files, framework=None, form=None):
    """Copies the files into job_dir. files: {"network", "weights", "labels", and optionally "mean",
    "preprocess"} → (path, the name the user gave it). Returns (framework, network file name,
    {file in job_dir: the user's name for it}) — the names error messages use."""
    (labels, labels_name), (weights, weights_name) = files["labels"], files["weights"]
    mean = files.get("mean")
    label_names = read_labels(labels, labels_name)
    framework, network_file = place_network(job_dir, files["network"][0], framework)
    weights_target = WEIGHTS_FILE
    if weights_name.lower().endswith(CAFFEMODEL_SUFFIX):
        if framework != "caffe":
            raise bad(f"{os.path.basename(weights_name)} is Caffe weights: they need a Caffe network "
                      f"(.prototxt, framework caffe), not {framework}")
        weights_target = CAFFEMODEL_UPLOAD
    shutil.copyfile(weights, os.path.join(job_dir, weights_target))
    with open(os.path.join(job_dir, LABELS_FILE), "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in label_names))
    names = {network_file: files["network"][1], weights_target: weights_name, LABELS_FILE: labels_name}
    if mean:
        shutil.copyfile(mean[0], os.path.join(job_dir, MEAN_FILE))
        names[MEAN_FILE] = mean[1]
    if files.get("preprocess"):
        params = checked_preprocess(files["preprocess"][0], len(label_names), bool(mean))
    else:
        params = form_preprocess(form or {}, len(label_names), bool(mean))
    write_preprocess(job_dir, params)
    return framework, network_file, names
