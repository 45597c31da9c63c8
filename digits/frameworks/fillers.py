"""Caffe's weight fillers (filler.hpp) applied to torch tensors, so from-scratch training starts
where a Caffe user expects."""
import math

import torch

from digits.frameworks.errors import NetworkError
from digits.proto import caffe_pb2

_NORM = caffe_pb2.FillerParameter.VarianceNorm


def _fans(shape):
    count = math.prod(shape)
    fan_in = count // shape[0] if shape[0] else 0
    fan_out = count // shape[1] if len(shape) > 1 and shape[1] else count
    return fan_in, fan_out


def _norm(filler, shape):
    fan_in, fan_out = _fans(shape)
    if filler.variance_norm == _NORM.Value("FAN_OUT"):
        return fan_out
    if filler.variance_norm == _NORM.Value("AVERAGE"):
        return (fan_in + fan_out) / 2.0
    return fan_in


def _bilinear(tensor):
    # Caffe's BilinearFiller: upsampling kernels for Deconvolution layers.
    if tensor.dim() != 4 or tensor.shape[2] != tensor.shape[3]:
        raise ValueError("the bilinear filler needs a square 4-D kernel")
    k = tensor.shape[3]
    f = math.ceil(k / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    axis = 1 - (torch.arange(k, dtype=torch.float64) / f - c).abs()
    tensor.copy_((axis[:, None] * axis[None, :]).expand_as(tensor))


@torch.no_grad()
def fill(tensor, filler=None, default=None):
    """Initializes `tensor` in place from a FillerParameter.

    With no filler given, `default` (a function of the tensor) runs instead; the caller picks it.
    """
    if filler is None:
        if default is not None:
            default(tensor)
        return tensor
    kind = filler.type.lower()
    shape = tuple(tensor.shape)
    if kind == "constant":
        tensor.fill_(filler.value)
    elif kind == "gaussian":
        tensor.normal_(filler.mean, filler.std)
        if filler.sparse >= 0 and tensor.dim() >= 2:
            keep = min(1.0, filler.sparse / shape[0])
            tensor.mul_(torch.bernoulli(torch.full_like(tensor, keep)))
    elif kind == "uniform":
        tensor.uniform_(filler.min, filler.max)
    elif kind == "xavier":
        bound = math.sqrt(3.0 / max(_norm(filler, shape), 1e-12))
        tensor.uniform_(-bound, bound)
    elif kind == "msra":
        tensor.normal_(0.0, math.sqrt(2.0 / max(_norm(filler, shape), 1e-12)))
    elif kind == "positive_unitball":
        tensor.uniform_(0.0, 1.0)
        rows = tensor.view(shape[0], -1)
        rows.div_(rows.sum(dim=1, keepdim=True))
    elif kind == "bilinear":
        _bilinear(tensor)
    else:
        raise NetworkError(f'unknown filler type "{filler.type}" (known: constant, gaussian, uniform, xavier, '
                           f"msra, positive_unitball, bilinear)")
    return tensor


def constant(value):
    return lambda tensor: tensor.fill_(value)
