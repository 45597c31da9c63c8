"""A model folder → a network ready for inference.

A model spec (sent by the server) names what to load:
    {"dir": model folder holding the network file and preprocess.json (+ mean copy),
     "framework": an engine's name (digits.frameworks.registry: "caffe", "torch", plugins),
     "network_file": that engine's network_file ("network.prototxt", "network.py"),
     "weights": a snapshot_epoch_<N>.pt or a bare state_dict .pt,
     "labels": the class names, which the task type's answers name (optional)}
The network is built for the preprocessed input shape, exactly like the training tool built it,
and the weights are read with torch.load(weights_only=True) and must fit it completely.
"""
import os
import re
from collections import OrderedDict

import torch

from digits.inference.errors import ModelError
from digits.utils.cpu import usable_cores

DEFAULT_CACHE_SIZE = 4


def pick_device(name=None):
    """"cpu", "cuda" or "auto" (env DIGITS_INFERENCE_DEVICE, default auto: CUDA when there is one)."""
    name = (name or os.environ.get("DIGITS_INFERENCE_DEVICE") or "auto").lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        # TF32 would move probabilities by ~1e-3: predictions must match the CPU archive examples.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch.device(name)


def configure_threads(count=None):
    """Intra-op threads for one-image requests: env DIGITS_INFERENCE_THREADS, else half the cores (at
    least 1, at most 8). All the cores would make every forward wait on the slowest thread while
    training and the web server share them — latency jumps from <1 ms to tens of ms."""
    if count is None:
        count = os.environ.get("DIGITS_INFERENCE_THREADS")
    if not count:
        count = min(8, max(1, usable_cores() // 2))
    torch.set_num_threads(int(count))
    return int(count)


def _stamp(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError as exc:   # the file's name only: users never see the server's folders
        raise ModelError(f'cannot read "{os.path.basename(path)}": {exc.strerror or exc}', status=404) from None


def cache_key(spec):
    """(folder, weights file, their mtimes): a snapshot rewritten in place is loaded again."""
    from digits.model.preprocess_spec import PREPROCESS_FILE
    model_dir = os.path.realpath(spec["dir"])
    return (model_dir, os.path.realpath(spec["weights"]), _stamp(spec["weights"]),
            _stamp(os.path.join(model_dir, PREPROCESS_FILE)))


class LoadedModel:
    """The built network (digits.frameworks Network), its module in eval mode on `device`, and
    the Preprocess that turns a resized image into its input."""

    def __init__(self, network, pre, device):
        self.network = network
        self.module = network.module
        self.pre = pre
        self.device = device

    @property
    def num_classes(self):
        return self.pre.num_classes

    @torch.no_grad()
    def outputs(self, batch, maps=False):
        """float32 N×C×H×W (preprocessed) → the network's outputs on the CPU (float64): N×K scores, or for
        a detection model (preprocess.json "postprocess") N×D×6 rows [x1, y1, x2, y2, score, class_id];
        with maps (a segmentation model), N×K×H×W scores at the input's size (float32: they are large)."""
        out = self.module(batch.to(self.device))
        is_tensor = isinstance(out, torch.Tensor)
        if maps:
            fits = is_tensor and tuple(out.shape[1:]) == (self.num_classes, *batch.shape[2:])
            expected = f"N × {self.num_classes} × {batch.shape[2]} × {batch.shape[3]} scores (one map per class)"
        elif self.pre.postprocess is not None:
            fits, expected = is_tensor and out.dim() == 3 and out.shape[2] == 6, \
                "N × D × 6 detections [x1, y1, x2, y2, score, class_id]"
        else:
            fits = is_tensor and out.dim() == 2 and out.shape[1] == self.num_classes
            expected = f"N × {self.num_classes} outputs"
        if not fits:
            shape = tuple(out.shape) if is_tensor else type(out).__name__
            raise ModelError(f"the network returned {shape}; expected {expected}")
        return (out.float() if maps else out.double()).cpu()

    def probabilities(self, batch):
        """float32 N×C×H×W (preprocessed) → softmax probabilities N×K on the CPU (float64)."""
        return torch.softmax(self.outputs(batch), dim=1)


def load_model(spec, device):
    """Builds the network of a model spec and loads its weights; raises ModelError saying why not,
    naming files as the user knows them (spec "names": {file in the folder: uploaded name}), never by
    their place on the server."""
    try:
        return _load_model(spec, device)
    except ModelError as exc:
        raise ModelError(shown_paths(str(exc), spec), exc.status) from None


def shown_paths(message, spec):
    """message with the model folder's files named as users know them (and no server folder)."""
    names = dict(spec.get("names") or {})
    names.setdefault(os.path.basename(spec["weights"]), os.path.basename(spec["weights"]))
    for folder in dict.fromkeys((spec["dir"], os.path.realpath(spec["dir"]))):
        for name, shown in names.items():
            message = message.replace(os.path.join(folder, name), shown)
        message = message.replace(folder.rstrip(os.sep) + os.sep, "")
    return message


def weights_name(spec):
    name = os.path.basename(spec["weights"])
    return (spec.get("names") or {}).get(name, name)


def _read_weights(spec):
    from digits.model import snapshot
    try:
        return snapshot.load_weights(spec["weights"])
    except ValueError as exc:
        failure = exc.__context__   # what torch.load raised, when it did (load_weights words it for training)
        name = weights_name(spec)
        if failure is None:
            raise ModelError(f"{name} holds neither a state dict (layer name → tensor) nor a training snapshot "
                             f"with one") from None
        if isinstance(failure, OSError) and failure.strerror:
            raise ModelError(f"cannot read {name}: {failure.strerror}") from None
        raise ModelError(f"{name} is not a PyTorch state dict that can be loaded safely (weights_only): "
                         f"{_unsafe_reason(failure)}") from None


def _unsafe_reason(failure):
    found = re.search(r"GLOBAL ([\w.]+) was not an allowed global", str(failure))
    if found:
        return (f"it stores a {found.group(1)} object, and only tensors, numbers, strings and plain "
                f"containers may be loaded (save model.state_dict() alone)")
    return "the file is damaged or was not written by torch.save"


def _load_model(spec, device):
    from digits.frameworks import NetworkError, build_network
    from digits.model import preprocess

    model_dir = spec["dir"]
    try:
        pre = preprocess.load(model_dir)
    except FileNotFoundError:
        raise ModelError("the model has no preprocess.json yet (its training has not started)", 409) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the model's preprocess.json: {exc}") from None
    try:
        with open(os.path.join(model_dir, spec["network_file"]), encoding="utf-8") as f:
            source = f.read()
    except OSError as exc:
        raise ModelError(f'cannot read the network file "{spec["network_file"]}": {exc.strerror or exc}') from None
    try:
        network = build_network(spec["framework"], source, input_shape=pre.output_shape,
                                num_classes=pre.num_classes)
    except NetworkError as exc:
        raise ModelError(f"cannot build the network: {exc}") from None
    except Exception as exc:  # user network code may raise anything
        raise ModelError(f"building the network raised {type(exc).__name__}: {exc}") from None
    weights = _read_weights(spec)
    problem = _misfit(network.module, weights)
    if problem:
        raise ModelError(f"the weights do not fit the network: {problem}")
    network.module.load_state_dict(weights, strict=True)
    network.module.eval().to(device)
    return LoadedModel(network, pre, device)


def _misfit(module, weights, limit=8):
    """"" when the state_dict fits the module exactly, else which keys do not."""
    own = module.state_dict()
    missing = [k for k in own if k not in weights or tuple(weights[k].shape) != tuple(own[k].shape)]
    unexpected = [k for k in weights if k not in own]
    parts = []
    for what, keys in (("missing or mis-shaped", missing), ("unexpected", unexpected)):
        if keys:
            more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
            parts.append(f"{what}: {', '.join(keys[:limit])}{more}")
    return "; ".join(parts)


def complete_preprocess(spec):
    """Fills a preprocess.json "scale" left null (an uploaded model) from the network, as training does:
    a prototxt data layer's transform_param scale / the Python source's SCALE, else the framework's
    default; likewise an unset crop_size from the network's own crop."""
    from digits.frameworks import NetworkError, build_network
    from digits.model import preprocess_spec
    from digits.model.preprocess import default_scale
    params = preprocess_spec.read(spec["dir"])
    if params.get("scale") is not None:
        return
    try:
        with open(os.path.join(spec["dir"], spec["network_file"]), encoding="utf-8") as f:
            source = f.read()
        network = build_network(spec["framework"], source, (params["channels"], params["height"], params["width"]),
                                params["num_classes"])
    except NetworkError as exc:
        raise ModelError(f"cannot build the network: {exc}") from None
    except Exception as exc:  # user network code may raise anything
        raise ModelError(f"building the network raised {type(exc).__name__}: {exc}") from None
    params["scale"] = network.scale if network.scale is not None else default_scale(spec["framework"])
    if not params.get("crop_size") and network.crop_size:
        params["crop_size"] = network.crop_size
    preprocess_spec.write(spec["dir"], params)


class ModelCache:
    """Loaded models, least recently used dropped first, keyed by cache_key(spec)."""

    def __init__(self, size=None, device=None):
        """size: how many models stay loaded (else env DIGITS_INFERENCE_CACHE, else DEFAULT_CACHE_SIZE)."""
        value = size or os.environ.get("DIGITS_INFERENCE_CACHE") or DEFAULT_CACHE_SIZE
        try:
            self.size = int(value)
        except ValueError:
            self.size = 0
        if self.size < 1:
            raise ValueError(f"DIGITS_INFERENCE_CACHE must be a whole number of models, at least 1; got {value!r}")
        self.device = device or pick_device()
        self._models = OrderedDict()
        self.loads = 0

    def get(self, spec):
        key = cache_key(spec)
        model = self._models.pop(key, None)
        if model is None:
            model = load_model(spec, self.device)
            self.loads += 1
            # a newer snapshot of the same folder replaces older entries rather than crowding others out
            for old in [k for k in self._models if k[:2] == key[:2]]:
                del self._models[old]
        self._models[key] = model
        evicted = False
        while len(self._models) > self.size:
            self._models.popitem(last=False)
            evicted = True
        if evicted and self.device.type == "cuda":
            torch.cuda.empty_cache()   # give the memory back to training jobs on the same GPU
        return model

    def __len__(self):
        return len(self._models)
