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
    """Runs `plan` = [(key, bottoms, tops, blobs to free, aux_only, aux indices)] over a dict of blobs;
    returns the output blob.

    Modules live in `self.layers` under the Caffe layer name (sanitized), so state_dict keys read
    `layers.<layer name>.weight` and pretrained weights transfer by layer name. Layers only auxiliary
    classifiers need (GoogLeNet's loss1/loss2, built with aux_losses=True) live in `self.aux_layers`:
    in train mode they run and `self.aux_outputs` holds [(loss_weight, logits)] for the trainer; in eval
    mode they are skipped (`aux_outputs` is empty) so the module computes exactly the main classifier.
    """

    def __init__(self, modules, plan, input_blob, output_blob, flatten_output=False, aux_modules=None,
                 aux_weights=()):
        super().__init__()
        self.layers = nn.ModuleDict(modules)
        if aux_modules is not None:
            self.aux_layers = nn.ModuleDict(aux_modules)
        self.plan = plan
        self.input_blob, self.output_blob = input_blob, output_blob
        self.flatten_output = flatten_output
        self.aux_weights = list(aux_weights)
        self.aux_outputs = []

    def forward(self, x):
        blobs = {self.input_blob: x}
        with_aux = self.training and bool(self.aux_weights)
        aux = [None] * len(self.aux_weights) if with_aux else []
        for key, bottoms, tops, release, aux_only, aux_indices in self.plan:
            if aux_only and not with_aux:
                for name in release:
                    blobs.pop(name, None)
                continue
            layer = self.aux_layers[key] if aux_only else self.layers[key]
            out = layer(*[blobs[name] for name in bottoms])
            if len(tops) == 1:
                blobs[tops[0]] = out
            else:
                for name, value in zip(tops, out):
                    blobs[name] = value
            for index in aux_indices if with_aux else ():
                value = out if len(tops) == 1 else out[0]
                aux[index] = (self.aux_weights[index], value.flatten(1) if value.dim() == 4 else value)
            for name in release:
                blobs.pop(name, None)
        self.aux_outputs = aux
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
    except (ValueError, RuntimeError, ArithmeticError) as exc:  # an unchecked bad parameter still names the layer
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


def _release_lists(steps, keep):
    last_read = {}
    for i, step in enumerate(steps):
        for name in step.bottoms:
            last_read[name] = i
    return [tuple(sorted(n for n, i_last in last_read.items() if i_last == i and n not in keep))
            for i in range(len(steps))]


def _param_specs(key, module, prefix="layers"):
    specs = {}
    for attr, layer, index in getattr(module, "param_sources", []):
        spec = layer.param[index] if index < len(layer.param) else None
        specs[f"{prefix}.{key}.{attr}"] = {"lr_mult": spec.lr_mult if spec else 1.0,
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


def _check_classifier(values, blob, num_classes, what):
    output = values[blob]
    flatten = bool(num_classes) and output.dim() == 4 and output.shape[2:] == (1, 1)
    if num_classes and (tuple(output.shape[1:]) != (num_classes,) and not flatten
                        or flatten and output.shape[1] != num_classes):
        raise NetworkError(f'{what} "{blob}" has shape {_shape_text(tuple(output.shape))} per '
                           f"image; a classifier must give one score per class ({num_classes})")
    return flatten


def _score_map(plan, values, num_classes, input_shape):
    """True when the network is a segmentation network (docs/segmentation.md §2): its SoftmaxWithLoss
    takes a score map (N×K×H×W, not 1×1), which must be at the input's size with a score per class."""
    output = values[plan.output_blob]
    if plan.loss != "SoftmaxWithLoss" or output.dim() != 4 or tuple(output.shape[2:]) == (1, 1):
        return False
    shape = _shape_text(tuple(output.shape))
    if num_classes and output.shape[1] != num_classes:
        raise NetworkError(f'The network output "{plan.output_blob}" has shape {shape} per image; a segmentation '
                           f"network must give one score per class ({num_classes}) at every pixel")
    if tuple(output.shape[2:]) != tuple(input_shape[1:]):
        raise NetworkError(f'The network output "{plan.output_blob}" has shape {shape} per image for a '
                           f"{'×'.join(map(str, input_shape))} input; a segmentation network scores every pixel "
                           f"of its input (crop the upsampled scores to the data blob with a Crop layer)")
    return True


def build_caffe(text, input_shape, num_classes, aux_losses=False):
    """aux_losses=True (training): also builds the auxiliary classifiers of weighted loss layers
    (module.aux_layers, module.aux_weights); the main path and its state_dict keys are the same."""
    net, lines = parse_net(text)
    plan = make_plan(net, lines, num_classes, aux_losses=aux_losses)
    values = {plan.input_blob: torch.zeros(1, *input_shape)}
    modules, aux_modules, taken, specs = {}, {}, set(), {}
    for step in plan.steps:
        module, outs = _run_step(step, [values[b] for b in step.bottoms], input_shape)
        key = module_key(step.info.name, taken)
        step.info.key = key
        aux_only = bool(step.options.get("aux_only"))
        (aux_modules if aux_only else modules)[key] = module
        specs.update(_param_specs(key, module, "aux_layers" if aux_only else "layers"))
        step.info.params = {n: list(t.shape) for n, t in module.state_dict().items() if not n.endswith("_tracked")}
        for top, value in zip(step.tops, outs):
            values[top] = value
            step.info.output_shapes[top] = list(value.shape[1:])
        if step.options.get("fused_scale") is not None:
            scale_info = next(i for i in plan.infos if i.status == "fused" and i.tops == step.tops)
            scale_info.key, scale_info.output_shapes = key, dict(step.info.output_shapes)
    dense = _score_map(plan, values, num_classes, input_shape)
    flatten = not dense and _check_classifier(values, plan.output_blob, num_classes, "The network output")
    for aux in plan.aux:
        _check_classifier(values, aux.blob, num_classes,
                          f"{where(aux.info.name, aux.info.type, aux.info.line)}: the auxiliary classifier output")
    for info in plan.infos:
        if info.status == "data":
            info.output_shapes = {plan.input_blob: list(input_shape)} if plan.input_blob in info.tops else {}
    keep = {plan.output_blob} | {aux.blob for aux in plan.aux}
    runs = [(s.info.key, tuple(s.bottoms), tuple(s.tops), r, bool(s.options.get("aux_only")),
             tuple(s.options.get("aux_outputs", ())))
            for s, r in zip(plan.steps, _release_lists(plan.steps, keep))]
    module = CaffeNet(modules, runs, plan.input_blob, plan.output_blob, flatten,
                      aux_modules=aux_modules if plan.aux else None, aux_weights=[_f32(a.weight) for a in plan.aux])
    network = Network(module, "caffe", tuple(input_shape), num_classes, layers=plan.infos, param_specs=specs,
                      loss=plan.loss, loss_spec=plan.loss_spec, input_blob=plan.input_blob,
                      output_blob=plan.output_blob,
                      warnings=list(plan.warnings), aux=[(a.blob, _f32(a.weight)) for a in plan.aux],
                      task_type="segmentation" if dense else None)
    _data_settings(network, plan.data_layer)
    return network
