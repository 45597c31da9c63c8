"""Caffe prototxt -> nn.Module: a graph module that runs the planned layers over named blobs."""
import re

import numpy as np

import torch
from torch import nn

from digits.frameworks.caffe_layers import LAYERS
from digits.frameworks.caffe_plan import make_plan
from digits.frameworks.errors import NetworkError, where
from digits.frameworks.network import Network
from digits.frameworks.prototxt import parse_net
from digits.utils.checks import unique_name

_RESERVED = set(dir(nn.ModuleDict()))


class CaffeNet(nn.Module):
    """Runs `plan` = [(key, bottoms, tops, blobs to free)] over a dict of blobs; returns the output blob.

    Modules live in `self.layers` under the Caffe layer name (sanitized), so state_dict keys read
    `layers.<layer name>.weight` and pretrained weights transfer by layer name.
    """

    def __init__(self, modules, plan, input_blob, output_blob, flatten_output=False):
        super().__init__()
        self.layers = nn.ModuleDict(modules)
        self.plan = plan
        self.input_blob, self.output_blob = input_blob, output_blob
        self.flatten_output = flatten_output

    def forward(self, x):
        blobs = {self.input_blob: x}
        for key, bottoms, tops, release in self.plan:
            out = self.layers[key](*[blobs[name] for name in bottoms])
            if len(tops) == 1:
                blobs[tops[0]] = out
            else:
                for name, value in zip(tops, out):
                    blobs[name] = value
            for name in release:
                blobs.pop(name, None)
        y = blobs[self.output_blob]
        return y.flatten(1) if self.flatten_output else y


def module_key(name, taken):
    """A ModuleDict key for a Caffe layer name: deterministic, '.'-free, unique."""
    key = re.sub(r"[.\s]", "_", name) or "layer"
    if key in _RESERVED:
        key = f"{key}_"
    return unique_name(key, taken)


def _shape_text(shape):
    return "×".join(str(d) for d in shape[1:]) if len(shape) > 1 else str(tuple(shape))


def _run_step(step, inputs, input_shape):
    """Builds one step's module and runs it on the (batch 1) example inputs; errors name the layer."""
    info = step.info
    label = where(info.name, info.type, info.line)
    shapes = [tuple(t.shape) for t in inputs]
    try:
        module = LAYERS[step.layer.type](step.layer, shapes, step.options)
    except NetworkError as exc:
        raise NetworkError(f"{label}: {exc}", layer=info.name, line=info.line) from None
    except (ValueError, RuntimeError) as exc:
        raise NetworkError(f"{label}: {exc}", layer=info.name, line=info.line) from None
    module.eval()
    try:
        with torch.no_grad():
            out = module(*inputs)
    except (ValueError, RuntimeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NetworkError(f"{label} cannot process its input of shape "
                           f"{', '.join(_shape_text(s) for s in shapes)}: {first}. The network may not fit the "
                           f"{'×'.join(map(str, input_shape))} (C×H×W) input.", layer=info.name, line=info.line) from None
    outs = list(out) if isinstance(out, tuple) else [out]
    expected = getattr(module, "expected", None)
    if expected is not None and tuple(outs[0].shape[2:]) != expected:
        raise NetworkError(f"{label}: this pooling geometry gives {tuple(outs[0].shape[2:])} in torch but "
                           f"{expected} in Caffe; adjust kernel/stride/pad", layer=info.name, line=info.line)
    for value in outs:
        if value.numel() == 0 or any(d <= 0 for d in value.shape):
            raise NetworkError(f"{label} produces an empty output from input {', '.join(map(_shape_text, shapes))}"
                               f"; the network does not fit the {'×'.join(map(str, input_shape))} (C×H×W) input",
                               layer=info.name, line=info.line)
    if len(outs) != len(step.tops):
        raise NetworkError(f"{label}: produces {len(outs)} outputs for {len(step.tops)} tops",
                           layer=info.name, line=info.line)
    module.train()
    return module, outs


def _release_lists(steps, output_blob):
    last_read = {}
    for i, step in enumerate(steps):
        for name in step.bottoms:
            last_read[name] = i
    return [tuple(sorted(n for n, i_last in last_read.items() if i_last == i and n != output_blob))
            for i in range(len(steps))]


def _param_specs(key, module):
    specs = {}
    for attr, layer, index in getattr(module, "param_sources", []):
        spec = layer.param[index] if index < len(layer.param) else None
        specs[f"layers.{key}.{attr}"] = {"lr_mult": spec.lr_mult if spec else 1.0,
                                         "decay_mult": spec.decay_mult if spec else 1.0}
    return specs


def _f32(value):
    """The shortest decimal that is the same float32 (0.0125, not 0.012500000186264515)."""
    single = np.float32(value)
    for digits in range(6, 10):
        text = f"{value:.{digits}g}"
        if np.float32(text) == single:
            return float(text)
    return float(value)


def _data_settings(network, data_layer):
    if data_layer is None:
        return
    transform, data = data_layer.transform_param, data_layer.data_param
    if transform.HasField("scale"):
        network.scale = _f32(transform.scale)
    elif data.HasField("scale") or data_layer.image_data_param.HasField("scale"):
        network.scale = _f32(data.scale if data.HasField("scale") else data_layer.image_data_param.scale)
    for source in (data, data_layer.image_data_param, data_layer.hdf5_data_param, data_layer.memory_data_param):
        if source.HasField("batch_size") and source.batch_size:
            network.default_batch_size = source.batch_size
            break
    network.crop_size = (transform.crop_size or data.crop_size) or None
    network.mirror = bool(transform.mirror or data.mirror)


def build_caffe(text, input_shape, num_classes):
    net, lines = parse_net(text)
    plan = make_plan(net, lines, num_classes)
    values = {plan.input_blob: torch.zeros(1, *input_shape)}
    modules, taken, specs = {}, set(), {}
    for step in plan.steps:
        module, outs = _run_step(step, [values[b] for b in step.bottoms], input_shape)
        key = module_key(step.info.name, taken)
        step.info.key = key
        modules[key] = module
        specs.update(_param_specs(key, module))
        step.info.params = {n: list(t.shape) for n, t in module.state_dict().items() if not n.endswith("_tracked")}
        for top, value in zip(step.tops, outs):
            values[top] = value
            step.info.output_shapes[top] = list(value.shape[1:])
        if step.options.get("fused_scale") is not None:
            scale_info = next(i for i in plan.infos if i.status == "fused" and i.tops == step.tops)
            scale_info.key, scale_info.output_shapes = key, dict(step.info.output_shapes)
    output = values[plan.output_blob]
    flatten = bool(num_classes) and output.dim() == 4 and output.shape[2:] == (1, 1)
    if num_classes and (tuple(output.shape[1:]) != (num_classes,) and not flatten
                        or flatten and output.shape[1] != num_classes):
        raise NetworkError(f'The network output "{plan.output_blob}" has shape {_shape_text(tuple(output.shape))} per '
                           f"image; a classifier must give one score per class ({num_classes})")
    for info in plan.infos:
        if info.status == "data":
            info.output_shapes = {plan.input_blob: list(input_shape)} if plan.input_blob in info.tops else {}
    runs = [(s.info.key, tuple(s.bottoms), tuple(s.tops), r)
            for s, r in zip(plan.steps, _release_lists(plan.steps, plan.output_blob))]
    module = CaffeNet(modules, runs, plan.input_blob, plan.output_blob, flatten)
    network = Network(module, "caffe", tuple(input_shape), num_classes, layers=plan.infos, param_specs=specs,
                      loss=plan.loss, input_blob=plan.input_blob, output_blob=plan.output_blob,
                      warnings=list(plan.warnings))
    _data_settings(network, plan.data_layer)
    return network
