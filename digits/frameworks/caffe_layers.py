"""Caffe layers with learned parameters (or running statistics) as torch modules, and the registry of
every supported layer type.

Each builder takes (LayerParameter, bottom shapes including the batch dimension, options) and returns
a module whose `param_sources` lists (attribute, LayerParameter, index into its `param` specs), so
lr_mult/decay_mult follow the weights."""
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

from digits.frameworks.caffe_ops import OPS, require_positive
from digits.frameworks.fillers import constant, fill


def _spatial(conv, name, default):
    """(h, w) of a ConvolutionParameter field given as `name: v`, `name: h name: w` or name_h/name_w."""
    if name != "dilation" and (conv.HasField(f"{name}_h") or conv.HasField(f"{name}_w")):
        if name == "kernel" and not (conv.HasField("kernel_h") and conv.HasField("kernel_w")):
            raise ValueError("kernel_h and kernel_w must be given together")
        return getattr(conv, f"{name}_h"), getattr(conv, f"{name}_w")
    values = list(getattr(conv, "kernel_size" if name == "kernel" else name))
    if not values:
        if default is None:
            raise ValueError("convolution_param needs kernel_size (or kernel_h and kernel_w)")
        return default, default
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise ValueError(f"{name} has {len(values)} values; only 2-D convolution is supported")


def _kaiming_default(module):
    # No weight_filler: Caffe would fill zeros, which cannot train; use torch's default instead.
    return lambda tensor: nn.init.kaiming_uniform_(tensor, a=math.sqrt(5))


def _conv_setup(layer, shapes, options):
    conv = layer.convolution_param
    if len(shapes) != 1:
        raise ValueError(f"{layer.type} with {len(shapes)} bottoms is not supported")
    if len(shapes[0]) != 4 or conv.axis != 1:
        raise ValueError(f"{layer.type} needs a 4-D N×C×H×W input, got shape {tuple(shapes[0])}")
    num_output = options.get("num_output") or conv.num_output
    if not num_output:
        raise ValueError("convolution_param.num_output is required")
    in_channels, group = shapes[0][1], options.get("group") or conv.group
    if group < 1 or in_channels % group or num_output % group:
        raise ValueError(f"group {group} must divide both the input channels ({in_channels}) "
                         f"and num_output ({num_output})")
    geometry = dict(kernel_size=require_positive("convolution_param kernel_size", _spatial(conv, "kernel", None)),
                    stride=require_positive("convolution_param stride", _spatial(conv, "stride", 1)),
                    padding=_spatial(conv, "pad", 0),
                    dilation=require_positive("convolution_param dilation", _spatial(conv, "dilation", 1)),
                    groups=group, bias=conv.bias_term)
    return conv, in_channels, num_output, geometry


def _init(module, layer, weight_filler, bias_filler, has_weight_filler, has_bias_filler):
    fill(module.weight, weight_filler if has_weight_filler else None, _kaiming_default(module))
    if module.bias is not None:
        fill(module.bias, bias_filler if has_bias_filler else None, constant(0.0))
    module.param_sources = [("weight", layer, 0)] + ([("bias", layer, 1)] if module.bias is not None else [])
    return module


def build_convolution(layer, shapes, options):
    conv, in_channels, num_output, geometry = _conv_setup(layer, shapes, options)
    module = skip_init(nn.Conv2d, in_channels, num_output, **geometry)
    return _init(module, layer, conv.weight_filler, conv.bias_filler,
                 conv.HasField("weight_filler"), conv.HasField("bias_filler"))


def build_deconvolution(layer, shapes, options):
    conv, in_channels, num_output, geometry = _conv_setup(layer, shapes, options)
    module = skip_init(nn.ConvTranspose2d, in_channels, num_output, **geometry)
    return _init(module, layer, conv.weight_filler, conv.bias_filler,
                 conv.HasField("weight_filler"), conv.HasField("bias_filler"))


class InnerProduct(nn.Module):
    """Caffe InnerProduct: flattens from `axis`, then y = x·Wᵀ + b (W stored K_in × K_out if transpose)."""

    def __init__(self, in_features, out_features, bias=True, axis=1, transpose=False):
        super().__init__()
        self.axis, self.transpose = axis, transpose
        shape = (in_features, out_features) if transpose else (out_features, in_features)
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None

    def forward(self, x):
        x = x.flatten(self.axis)
        if self.transpose:
            y = x @ self.weight
            return y + self.bias if self.bias is not None else y
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        out_features, in_features = self.weight.shape[::-1] if self.transpose else self.weight.shape
        return f"in={in_features}, out={out_features}, bias={self.bias is not None}, axis={self.axis}"


def build_inner_product(layer, shapes, options):
    p = layer.inner_product_param
    num_output = options.get("num_output") or p.num_output
    if not num_output:
        raise ValueError("inner_product_param.num_output is required (DIGITS fills it in only for the "
                         "layer that produces the network output)")
    axis = p.axis + len(shapes[0]) if p.axis < 0 else p.axis
    module = InnerProduct(math.prod(shapes[0][axis:]), num_output, p.bias_term, axis, p.transpose)
    return _init(module, layer, p.weight_filler, p.bias_filler, p.HasField("weight_filler"),
                 p.HasField("bias_filler"))


class CaffeBatchNorm(nn.BatchNorm2d):
    """Caffe's BatchNorm: running statistics are a λ-weighted average normalised by Σλᵏ (Caffe's scale
    factor blob), so they are usable after a few iterations, not after ~1/(1-λ) of them.

    PyTorch's running update with momentum mₜ = 1/fₜ, fₜ = λ·fₜ₋₁ + 1, is exactly that average;
    fₜ follows from num_batches_tracked, mirrored in Python to avoid a device sync per step.
    """

    def __init__(self, channels, eps=1e-5, fraction=0.999, affine=False, use_global_stats=False):
        super().__init__(channels, eps=eps, momentum=1.0, affine=affine)
        self.fraction, self.use_global_stats = fraction, use_global_stats
        self._steps = None

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"BatchNorm needs at least a 2-D input, got {x.dim()}-D")

    def _load_from_state_dict(self, *args, **kwargs):
        self._steps = None
        super()._load_from_state_dict(*args, **kwargs)

    def forward(self, x):
        if self.use_global_stats:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        if self.training:
            if self._steps is None:
                self._steps = int(self.num_batches_tracked)
            self._steps += 1
            lam = self.fraction
            factor = float(self._steps) if lam == 1 else (1.0 - lam ** self._steps) / (1.0 - lam)
            self.momentum = 1.0 / factor
        return super().forward(x)


def build_batch_norm(layer, shapes, options):
    p = layer.batch_norm_param
    scale = options.get("fused_scale")
    module = CaffeBatchNorm(shapes[0][1], p.eps, p.moving_average_fraction, affine=scale is not None,
                            use_global_stats=p.use_global_stats)
    module.param_sources = []
    module.statistics_source = layer   # a .caffemodel's mean, variance and moving-average factor blobs
    if scale is not None:
        sp = scale.scale_param
        fill(module.weight, sp.filler if sp.HasField("filler") else None, constant(1.0))
        fill(module.bias, sp.bias_filler if sp.HasField("bias_filler") else None, constant(0.0))
        module.param_sources = [("weight", scale, 0), ("bias", scale, 1)]
    return module


def _broadcast(t, axis, ndim):
    return t.reshape((1,) * axis + tuple(t.shape) + (1,) * (ndim - axis - t.dim()))


class Scale(nn.Module):
    """y = x·w (+ b), w spanning bottom axes [axis, axis+num_axes) — learned, or bottom[1] when given."""

    def __init__(self, axis, shape, learned=True, bias=False, kind="scale"):
        super().__init__()
        self.axis, self.kind = axis, kind
        self.weight = nn.Parameter(torch.empty(shape)) if learned and kind == "scale" else None
        self.bias = nn.Parameter(torch.empty(shape)) if bias else None

    def forward(self, x, *other):
        y = x
        if self.kind == "scale":
            w = other[0] if other else self.weight
            y = y * _broadcast(w, self.axis, x.dim())
            if self.bias is not None:
                y = y + _broadcast(self.bias, self.axis, x.dim())
        else:
            b = other[0] if other else self.bias
            y = y + _broadcast(b, self.axis, x.dim())
        return y


def _span(shapes, axis, num_axes):
    ndim = len(shapes[0])
    axis = axis + ndim if axis < 0 else axis
    if len(shapes) > 1:
        return axis, tuple(shapes[1])
    end = ndim if num_axes == -1 else axis + num_axes
    return axis, tuple(shapes[0][axis:end])


def build_scale(layer, shapes, options):
    p = layer.scale_param
    axis, shape = _span(shapes, p.axis, p.num_axes)
    module = Scale(axis, shape, learned=len(shapes) == 1, bias=p.bias_term)
    module.param_sources = []
    if module.weight is not None:
        fill(module.weight, p.filler if p.HasField("filler") else None, constant(1.0))
        module.param_sources.append(("weight", layer, 0))
    if module.bias is not None:
        fill(module.bias, p.bias_filler if p.HasField("bias_filler") else None, constant(0.0))
        module.param_sources.append(("bias", layer, len(module.param_sources)))
    return module


def build_bias(layer, shapes, options):
    p = layer.bias_param
    axis, shape = _span(shapes, p.axis, p.num_axes)
    module = Scale(axis, shape, learned=len(shapes) == 1, bias=len(shapes) == 1, kind="bias")
    module.param_sources = []
    if module.bias is not None:
        fill(module.bias, p.filler if p.HasField("filler") else None, constant(0.0))
        module.param_sources.append(("bias", layer, 0))
    return module


def build_prelu(layer, shapes, options):
    p = layer.prelu_param
    module = nn.PReLU(1 if p.channel_shared else shapes[0][1])
    fill(module.weight, p.filler if p.HasField("filler") else None, constant(0.25))
    module.param_sources = [("weight", layer, 0)]
    return module


LAYERS = dict(OPS)
LAYERS.update({
    "Convolution": build_convolution,
    "Deconvolution": build_deconvolution,
    "InnerProduct": build_inner_product,
    "BatchNorm": build_batch_norm,
    "Scale": build_scale,
    "Bias": build_bias,
    "PReLU": build_prelu,
})

# Layers that feed the network: replaced by the input tensor.
DATA_TYPES = {"Data", "Input", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData", "AnnotatedData"}
# Layers dropped from the inference module (the training loop computes loss and accuracy itself).
REMOVED_TYPES = {"Accuracy", "Silence"}


def is_loss(type_):
    return type_.endswith("Loss")
