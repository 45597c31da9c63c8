"""Caffe's trained weights, `.caffemodel`: a binary NetParameter whose layers carry their blobs.

    read(source, shown_name=None) -> {layer name: CaffeLayer}
        source: a path or bytes. CaffemodelError (a message for the user) for a file that is not one (a text
        prototxt, a PyTorch .pt, damaged bytes), or a blob whose data disagrees with its shape. Both the
        `layer` and the legacy V1 `layers` form; blob shapes as `shape` or the legacy num/channels/height/width.
    tensors_for(module, layers, channels=None) -> (state, report)
        The blobs as entries of module.state_dict(), matched by Caffe layer name; only blobs that fit.
    load(module, source) -> report                 reads, then loads what fits into the module in place
    convert(source, network_text, input_shape, num_classes, out_path) -> report
        Builds the caffe engine's network and writes the full state_dict (weights.pt) with the blobs in it;
        its report adds "untrained": the state_dict keys written with their initialisation (not the blobs).
    write(module, network_text, input_shape, add_softmax=True) -> (caffemodel bytes, deploy.prototxt text)
        The deploy network is digits.frameworks.caffe_deploy's; blobs_of(module) gives the blobs alone.

`module` is a CaffeNet (digits.frameworks.caffe_net) built from the matching prototxt: each of its modules
lists `param_sources` [(attribute, LayerParameter, blob index)], and a BatchNorm its `statistics_source`
(blobs mean, variance and the moving-average factor that divides both). A BatchNorm fused with its Scale
takes the Scale layer's blobs as its affine weight and bias.

report: {"loaded": [caffemodel layers whose blobs all loaded],
         "unmatched": [{"layer", "type", "reason"}]: caffemodel layers the network lacks, or whose blobs it
                      cannot take (their count or shapes differ) — never skipped silently,
         "missing": [network layers the caffemodel has no usable weights for (none, or unmatched ones): they
                    keep their initialisation],
         "channel_order": what was done about BGR/RGB (below), or None}

Channel order: Caffe networks take BGR images (OpenCV's order, and what DIGITS' Caffe LMDBs held); ours
take RGB. For 3-channel inputs the weights that meet the image's channels (through pooling, activations
and other channel-wise layers) have that axis reversed, reading and writing alike.

Torch is imported inside the functions only.
"""
import math
import os
import re
from dataclasses import dataclass

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from digits.frameworks.prototxt import upgrade_v1
from digits.proto import caffe_pb2

SUFFIX = ".caffemodel"
SNAPSHOT_FILE, DEPLOY_FILE = "snapshot.caffemodel", "deploy.prototxt"   # a download archive's names for them
# Layers that keep the image's channels where they were (elementwise, per channel, or symmetric across them).
_CHANNEL_PRESERVING = {"Pooling", "WithinChannelLRN", "LocalResponseNorm", "Power", "AbsVal", "Swish", "Split",
                       "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "Softplus", "Hardtanh", "Dropout"}
_PER_CHANNEL = {"CaffeBatchNorm", "Scale", "PReLU"}
_MAX_BN_STEPS = 10 ** 6


class CaffemodelError(ValueError):
    """A .caffemodel that cannot be used; the message says why."""


@dataclass
class CaffeLayer:
    name: str
    type: str
    blobs: list        # float32 arrays in their stored shapes
    legacy: list       # per blob: shaped by num/channels/height/width (or not at all), so matched loosely


# ----- reading

def read(source, shown_name=None):
    """{layer name: CaffeLayer} of the layers that have blobs, in file order."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, shown = bytes(source), shown_name or "the .caffemodel"
    else:
        shown = shown_name or os.path.basename(source)
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CaffemodelError(f"cannot read {shown}: {exc.strerror or exc}") from None
    net = _parse(data, shown)
    layers = {}
    for i, layer in enumerate(net.layer):
        if not layer.blobs:
            continue
        name = layer.name or f"(unnamed layer #{i + 1})"
        if name in layers:
            raise CaffemodelError(f'{shown} has two layers named "{name}" with weights')
        blobs = [_blob(blob, name, j) for j, blob in enumerate(layer.blobs)]
        layers[name] = CaffeLayer(name, layer.type, [b for b, _ in blobs], [legacy for _, legacy in blobs])
    if not layers:
        raise CaffemodelError(f"{shown} holds no layer weights (no blobs): it is not a trained .caffemodel")
    return layers


def _parse(data, shown):
    if not data:
        raise CaffemodelError(f"{shown} is empty, not a .caffemodel")
    if data[:4] == b"PK\x03\x04":
        raise CaffemodelError(f"{shown} is a zip file (a PyTorch .pt?), not a Caffe .caffemodel")
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        head = data[:2048].decode("utf-8", "replace")
        if "\x00" not in head and head.count("\ufffd") < 3 and re.search(r"\b(layers?|name)\s*[:{]", head):
            raise CaffemodelError(f"{shown} is text (a network definition .prototxt?), not the binary "
                                  f".caffemodel Caffe writes its weights to") from None
        raise CaffemodelError(f"{shown} is not a Caffe .caffemodel (a binary NetParameter): {exc}") from None
    if net.layers:
        if any(layer.blobs for layer in net.layer):
            raise CaffemodelError(f'{shown} mixes "layer" and the deprecated "layers" (V1) weights')
        upgrade_v1(net)
    return net


def _dims(shape):
    return "×".join(str(d) for d in shape) if shape else "a scalar"


def _blob(blob, layer, index):
    """(float32 array, legacy) of one BlobProto, its data checked against its shape."""
    if blob.HasField("shape"):
        shape, legacy = tuple(int(d) for d in blob.shape.dim), False
    elif any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        shape, legacy = (blob.num, blob.channels, blob.height, blob.width), True
    else:
        shape, legacy = None, True
    values = blob.double_data if len(blob.double_data) else blob.data
    count = len(values)
    shape = (count,) if shape is None else shape
    if any(d < 0 for d in shape):
        raise CaffemodelError(f'layer "{layer}" blob {index} has a negative dimension in its shape {shape}')
    if math.prod(shape) != count:
        raise CaffemodelError(f'layer "{layer}" blob {index}: {count} values for its shape {_dims(shape)} '
                              f"({math.prod(shape)} expected)")
    return np.asarray(values, dtype=np.float32).reshape(shape), legacy


# ----- what the module expects

@dataclass
class _Expected:
    type: str
    slots: dict          # blob index -> (state key, shape)
    statistics: object = None   # the CaffeBatchNorm whose statistics these are (blobs mean, var, factor)


def _groups(module):
    for prefix in ("layers", "aux_layers"):
        group = getattr(module, prefix, None)
        if group is not None:
            for key, sub in group.items():
                yield f"{prefix}.{key}", sub


def _expected(module):
    """{Caffe layer name: _Expected} for every Caffe layer the module's weights come from."""
    found = {}
    for prefix, sub in _groups(module):
        for attr, layer, index in getattr(sub, "param_sources", ()):
            entry = found.setdefault(layer.name, _Expected(layer.type, {}))
            entry.slots[index] = (f"{prefix}.{attr}", tuple(getattr(sub, attr).shape))
        stats = getattr(sub, "statistics_source", None)
        if stats is not None:
            c = (sub.num_features,)
            found[stats.name] = _Expected(stats.type, {0: (f"{prefix}.running_mean", c),
                                                       1: (f"{prefix}.running_var", c), 2: (None, (1,))}, sub)
    return found


def _fits(stored, legacy, wanted):
    if stored == wanted:
        return True
    strip = lambda s: tuple(s[next((i for i, d in enumerate(s) if d != 1), len(s)):])  # noqa: E731
    if strip(stored) == strip(wanted):   # (1, 1, N, K) for N × K: Caffe's legacy 4-D blobs
        return True
    # a vector stored as 1 × C × 1 × 1 (a legacy or converted per-channel blob)
    return (len(wanted) == 1 or legacy) and [d for d in stored if d != 1] == [d for d in wanted if d != 1]


def _problem(layer, want):
    if len(layer.blobs) != len(want.slots):
        return f"it has {len(layer.blobs)} blob(s), the network's {want.type} layer takes {len(want.slots)}"
    for index, (key, shape) in sorted(want.slots.items()):
        blob = layer.blobs[index]
        if not _fits(tuple(blob.shape), layer.legacy[index], shape):
            what = f"the network's {key}" if key else "the network's"
            return f"blob {index} has shape {_dims(blob.shape)}, {what} is {_dims(shape)}"
    return None


def _steps(factor, fraction):
    """num_batches_tracked for which CaffeBatchNorm's moving-average factor is Caffe's stored one."""
    if factor <= 0:
        return 0
    if fraction >= 1:
        return min(_MAX_BN_STEPS, round(factor))
    rest = 1.0 - factor * (1.0 - fraction)
    if rest <= 0 or fraction <= 0:
        return _MAX_BN_STEPS
    return max(1, min(_MAX_BN_STEPS, round(math.log(rest) / math.log(fraction))))


def _factor(steps, fraction):
    if steps <= 0:
        return 1.0
    return float(steps) if fraction >= 1 else (1.0 - fraction ** steps) / (1.0 - fraction)


# ----- BGR <-> RGB

def _reverse(axis, split=None):
    """A function reversing a tensor's `axis`; split (IP weights): that axis is channels × rest, flattened."""
    def flip(t):
        if split is None:
            return t.flip(axis)
        shape = t.shape
        view = t.reshape(*shape[:axis], 3, -1, *shape[axis + 1:])
        return view.flip(axis).reshape(shape)
    return flip


def _reader_flips(prefix, sub):
    """{state key: flip} for a layer reading the image's channels, or None when it cannot be converted."""
    kind = type(sub).__name__
    if kind in ("Conv2d", "ConvTranspose2d"):
        if sub.groups != 1:
            return None
        return {f"{prefix}.weight": _reverse(1 if kind == "Conv2d" else 0)}
    if kind == "InnerProduct" and sub.axis == 1:
        return {f"{prefix}.weight": _reverse(0 if sub.transpose else 1, split=True)}
    return None


def _per_channel_flips(prefix, sub):
    """{state key: flip} for a channel-wise layer (BatchNorm, Scale, PReLU) on the image, or None."""
    if getattr(sub, "axis", 1) != 1:
        return None
    return {f"{prefix}.{n}": _reverse(0) for n, t in sub.state_dict().items() if t.dim() >= 1 and t.shape[0] == 3}


def channel_flips(module, channels=None):
    """({state key: flip}, note): the weights meeting the image's channels, when it has 3 (channels=None:
    as the first layer reading the image says)."""
    plan, input_blob = getattr(module, "plan", None), getattr(module, "input_blob", None)
    if not plan or channels not in (None, 3):
        return {}, None
    image, flips, readers, problems, seen = {input_blob}, {}, [], [], None
    for key, bottoms, tops, _release, aux_only, _aux in plan:
        sub = (module.aux_layers if aux_only else module.layers)[key]
        kind = type(sub).__name__
        if not image.intersection(bottoms) or kind == "Crop" and bottoms[0] not in image:
            continue   # (a Crop reads only the shape of its second bottom)
        prefix = f"{'aux_layers' if aux_only else 'layers'}.{key}"
        seen = seen or getattr(sub, "in_channels", None) or getattr(sub, "num_features", None)
        single = len(bottoms) == 1
        if single and kind in _CHANNEL_PRESERVING:
            image.update(tops)
        elif single and kind in _PER_CHANNEL and _per_channel_flips(prefix, sub) is not None:
            flips.update(_per_channel_flips(prefix, sub))
            image.update(tops)
        elif single and _reader_flips(prefix, sub) is not None:
            flips.update(_reader_flips(prefix, sub))
            readers.append(key)
        else:
            problems.append(key)
    if (channels or seen) != 3:
        return {}, None
    if problems:
        return {}, (f"the image's channels reach {', '.join(problems)} in a way that cannot be reordered; the "
                    f"channel order (Caffe's BGR, our RGB) was left as stored")
    return flips, f"BGR (Caffe) ↔ RGB: input channels of {', '.join(readers)} reversed" if readers else None


# ----- loading

def tensors_for(module, layers, channels=None):
    """(state entries converted from the caffemodel's blobs, report); see the module docstring."""
    import torch
    expected = _expected(module)
    flips, note = channel_flips(module, channels)
    state, report = {}, {"loaded": [], "unmatched": [], "missing": [], "channel_order": note}
    for name, layer in layers.items():
        want = expected.get(name)
        problem = "the network has no layer of that name with weights" if want is None else _problem(layer, want)
        if problem:
            report["unmatched"].append({"layer": name, "type": layer.type, "reason": problem})
            continue
        values = _values(layer, want)
        if want.statistics is not None:
            prefix = want.slots[0][0].rsplit(".", 1)[0]
            state[f"{prefix}.num_batches_tracked"] = torch.tensor(
                _steps(float(layer.blobs[2].ravel()[0]), want.statistics.fraction), dtype=torch.long)
        for key, shape in want.slots.values():
            if key in values:
                tensor = torch.from_numpy(np.ascontiguousarray(values[key]).reshape(shape).copy())
                state[key] = flips[key](tensor) if key in flips else tensor
        report["loaded"].append(name)
    report["missing"] = [name for name in expected if name not in report["loaded"]]   # (refused ones too)
    return state, report


def _values(layer, want):
    """{state key: array} of a layer's blobs; a BatchNorm's statistics divided by its factor, as Caffe does."""
    if want.statistics is None:
        return {key: layer.blobs[index] for index, (key, _) in want.slots.items()}
    factor = np.float32(layer.blobs[2].ravel()[0])
    scale = np.float32(0.0) if factor == 0 else np.float32(1.0) / factor
    return {want.slots[0][0]: layer.blobs[0] * scale, want.slots[1][0]: layer.blobs[1] * scale}


def load(module, source, channels=None, shown_name=None):
    """Loads the caffemodel's matching blobs into module in place; returns the report."""
    state, report = tensors_for(module, read(source, shown_name), channels)
    module.load_state_dict(state, strict=False)
    return report


def summary(report, limit=6):
    """One line naming the unmatched layers (for messages and warnings)."""
    items = [f'{u["layer"]} ({u["reason"]})' for u in report["unmatched"][:limit]]
    more = len(report["unmatched"]) - limit
    return "; ".join(items) + (f"; and {more} more" if more > 0 else "")


def convert(source, network_text, input_shape, num_classes, out_path, shown_name=None):
    """The caffe engine's network for the prototxt with the caffemodel's weights → a state_dict file (all
    of the module's entries: unmatched layers keep their initialisation). Returns the report."""
    import torch
    from digits.frameworks import build_network
    network = build_network("caffe", network_text, input_shape, num_classes)
    shown = shown_name or (os.path.basename(source) if isinstance(source, str) else None)
    state, report = tensors_for(network.module, read(source, shown), channels=input_shape[0])
    if not report["loaded"]:
        raise CaffemodelError(f"none of the layers of {shown or 'the .caffemodel'} matches the network "
                              f"(by layer name and shape): {summary(report)}")
    full = network.module.state_dict()
    full.update(state)
    # what weights.pt holds but the caffemodel did not give: fine-tuning must not take these as trained
    report["untrained"] = sorted(key for key in full if key not in state)
    tmp = f"{out_path}.tmp-{os.getpid()}"
    torch.save({k: v.detach().cpu().contiguous() for k, v in full.items()}, tmp)
    os.replace(tmp, out_path)
    return report


# ----- writing

def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _add_blob(layer, array):
    blob = layer.blobs.add()
    blob.shape.dim.extend(int(d) for d in array.shape)
    raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
    blob.MergeFromString(b"\x2a" + _varint(len(raw)) + raw)   # packed `data` (field 5): fast for big blobs


def blobs_of(module, channels=None):
    """{Caffe layer name: [float32 arrays]} of the module's weights, in Caffe's conventions."""
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    flips, _ = channel_flips(module, channels)
    out = {}
    for name, want in _expected(module).items():
        if want.statistics is not None:
            prefix = want.slots[0][0].rsplit(".", 1)[0]
            factor = np.float32(_factor(int(state[f"{prefix}.num_batches_tracked"]), want.statistics.fraction))
            mean, var = (state[want.slots[i][0]].numpy().astype(np.float32) for i in (0, 1))
            out[name] = [mean * factor, var * factor, np.array([factor], dtype=np.float32)]
            continue
        blobs = []
        for index in range(len(want.slots)):
            key = want.slots[index][0]
            tensor = flips[key](state[key]) if key in flips else state[key]
            blobs.append(tensor.numpy().astype(np.float32))
        out[name] = blobs
    return out


def write(module, network_text, input_shape, add_softmax=True):
    """(.caffemodel bytes, deploy.prototxt text) of a built CaffeNet and the prototxt it was built from."""
    from digits.frameworks.caffe_deploy import deploy_net
    net = deploy_net(network_text, module, input_shape, add_softmax)
    text = text_format.MessageToString(net)
    blobs = blobs_of(module, channels=input_shape[0])
    for layer in net.layer:
        for array in blobs.get(layer.name, ()):
            _add_blob(layer, array)
    order = ", channels in BGR order (Caffe's)" if input_shape[0] == 3 else ""
    header = f"# Deploy network (DIGITS): input {'×'.join(map(str, (1, *input_shape)))}, mean subtracted{order}\n"
    return net.SerializeToString(), header + text
