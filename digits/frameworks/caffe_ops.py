"""Caffe layers without learned parameters, as torch modules: forward(*bottoms) -> top or tuple of tops."""
import torch
import torch.nn.functional as F
from torch import nn

from digits.proto import caffe_pb2


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


class Pooling(nn.Module):
    """Caffe pooling: ceil-mode output size (Caffe's default round_mode), AVE counts the padding."""

    def __init__(self, method, kernel, stride, pad, ceil=True, global_pool=False):
        super().__init__()
        self.method, self.kernel, self.stride, self.pad = method, kernel, stride, pad
        self.ceil, self.global_pool = ceil, global_pool

    def forward(self, x):
        if self.global_pool:
            return F.adaptive_max_pool2d(x, 1) if self.method == "MAX" else F.adaptive_avg_pool2d(x, 1)
        if self.method == "MAX":
            return F.max_pool2d(x, self.kernel, self.stride, self.pad, ceil_mode=self.ceil)
        return F.avg_pool2d(x, self.kernel, self.stride, self.pad, ceil_mode=self.ceil, count_include_pad=True)

    def extra_repr(self):
        return f"{self.method}, kernel={self.kernel}, stride={self.stride}, pad={self.pad}, global={self.global_pool}"


def caffe_pool_size(size, kernel, stride, pad, ceil=True):
    """Caffe's PoolingLayer::Reshape output size for one spatial axis."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1  # the last window must start inside the image (or its left padding)
    return out


class WithinChannelLRN(nn.Module):
    """LRN over a local_size × local_size spatial window (Caffe's WITHIN_CHANNEL region)."""

    def __init__(self, size, alpha, beta):
        super().__init__()
        self.size, self.alpha, self.beta = size, alpha, beta

    def forward(self, x):
        pad = (self.size - 1) // 2
        mean_sq = F.avg_pool2d(x * x, self.size, 1, pad, count_include_pad=True)
        return x * (1 + self.alpha * mean_sq).pow(-self.beta)


class Power(nn.Module):
    def __init__(self, power, scale, shift):
        super().__init__()
        self.power, self.scale, self.shift = power, scale, shift

    def forward(self, x):
        y = x * self.scale + self.shift if (self.scale != 1 or self.shift != 0) else x
        return y if self.power == 1 else y.pow(self.power)


class AbsVal(nn.Module):
    def forward(self, x):
        return x.abs()


class Swish(nn.Module):
    def __init__(self, beta):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


class Concat(nn.Module):
    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, *xs):
        return torch.cat(xs, dim=self.axis)


class Eltwise(nn.Module):
    def __init__(self, operation, coeffs):
        super().__init__()
        self.operation, self.coeffs = operation, list(coeffs)

    def forward(self, *xs):
        if self.operation == "PROD":
            out = xs[0]
            for x in xs[1:]:
                out = out * x
            return out
        if self.operation == "MAX":
            out = xs[0]
            for x in xs[1:]:
                out = torch.maximum(out, x)
            return out
        if not self.coeffs:
            out = xs[0]
            for x in xs[1:]:
                out = out + x
            return out
        out = xs[0] * self.coeffs[0]
        for coeff, x in zip(self.coeffs[1:], xs[1:]):
            out = out + coeff * x
        return out

    def extra_repr(self):
        return f"{self.operation}, coeffs={self.coeffs}"


class Reshape(nn.Module):
    """Caffe Reshape: dim 0 copies the input dim, -1 is inferred; axis/num_axes select the span."""

    def __init__(self, dims, axis, num_axes):
        super().__init__()
        self.dims, self.axis, self.num_axes = list(dims), axis, num_axes

    def forward(self, x):
        shape = list(x.shape)
        start = self.axis if self.axis >= 0 else len(shape) + self.axis + 1
        end = len(shape) if self.num_axes == -1 else start + self.num_axes
        dims = [shape[start + i] if d == 0 else d for i, d in enumerate(self.dims)]
        return x.reshape(shape[:start] + dims + shape[end:])


class Crop(nn.Module):
    """Crops bottom[0] to the shape of bottom[1] from `axis` on, shifted by `offsets`."""

    def __init__(self, axis, offsets):
        super().__init__()
        self.axis, self.offsets = axis, list(offsets)

    def forward(self, x, reference):
        axis = _axis(self.axis, x.dim())
        for i in range(axis, x.dim()):
            offset = self.offsets[0] if len(self.offsets) == 1 else (self.offsets[i - axis] if self.offsets else 0)
            size = reference.shape[i]
            if offset + size > x.shape[i]:
                raise ValueError(f"crop of {size} at offset {offset} does not fit axis {i} of size {x.shape[i]}")
            x = x.narrow(i, offset, size)
        return x


class Slice(nn.Module):
    def __init__(self, axis, points, count):
        super().__init__()
        self.axis, self.points, self.count = axis, list(points), count

    def forward(self, x):
        total = x.shape[self.axis]
        if self.points:
            edges = [0] + self.points + [total]
            sizes = [b - a for a, b in zip(edges, edges[1:])]
        else:
            if total % self.count:
                raise ValueError(f"cannot slice {total} evenly into {self.count} tops")
            sizes = [total // self.count] * self.count
        return tuple(torch.split(x, sizes, dim=self.axis))


class Split(nn.Module):
    def __init__(self, count):
        super().__init__()
        self.count = count

    def forward(self, x):
        return (x,) * self.count


# --- builders: (LayerParameter, bottom shapes with batch dim, options) -> module -------------------

def require_positive(what, values):
    """Caffe CHECKs these (a zero stride divides by zero); here the error names the parameter."""
    if any(v < 1 for v in values):
        shown = values[0] if len(set(values)) == 1 else tuple(values)
        raise ValueError(f"{what} must be at least 1, got {shown}")
    return values


def _pool_geometry(p, shape):
    def pair(h_name, w_name, single, default):
        if p.HasField(h_name) or p.HasField(w_name):
            return getattr(p, h_name), getattr(p, w_name)
        value = getattr(p, single) if p.HasField(single) else default
        return value, value
    kernel = pair("kernel_h", "kernel_w", "kernel_size", None)
    if p.global_pooling:
        return (shape[2], shape[3]), (1, 1), (0, 0)
    if kernel[0] is None or kernel[1] is None:
        raise ValueError("pooling_param needs kernel_size (or kernel_h and kernel_w) unless global_pooling is set")
    return (require_positive("pooling_param kernel_size", kernel),
            require_positive("pooling_param stride", pair("stride_h", "stride_w", "stride", 1)),
            pair("pad_h", "pad_w", "pad", 0))


def build_pooling(layer, shapes, options):
    p = layer.pooling_param
    method = caffe_pb2.PoolingParameter.PoolMethod.Name(p.pool)
    if method == "STOCHASTIC":
        raise ValueError("STOCHASTIC pooling is not supported; use MAX or AVE")
    if len(shapes[0]) != 4:
        raise ValueError(f"pooling needs a 4-D input, got {len(shapes[0])}-D")
    kernel, stride, pad = _pool_geometry(p, shapes[0])
    if any(2 * pd > k for pd, k in zip(pad, kernel)):
        raise ValueError(f"pad {pad} larger than half the kernel {kernel} is not supported")
    ceil = p.round_mode == caffe_pb2.PoolingParameter.CEIL
    module = Pooling(method, kernel, stride, pad, ceil, p.global_pooling)
    module.expected = tuple(caffe_pool_size(size, k, s, pd, ceil)
                            for size, k, s, pd in zip(shapes[0][2:], kernel, stride, pad))
    return module


def build_lrn(layer, shapes, options):
    p = layer.lrn_param
    if p.local_size % 2 == 0:  # (0 included)
        raise ValueError(f"LRN local_size must be odd, got {p.local_size}")
    if p.norm_region == caffe_pb2.LRNParameter.WITHIN_CHANNEL:
        return WithinChannelLRN(p.local_size, p.alpha, p.beta)
    return nn.LocalResponseNorm(p.local_size, alpha=p.alpha, beta=p.beta, k=p.k)


def build_relu(layer, shapes, options):
    slope = layer.relu_param.negative_slope
    return nn.LeakyReLU(slope) if slope else nn.ReLU()


def build_eltwise(layer, shapes, options):
    p = layer.eltwise_param
    operation = caffe_pb2.EltwiseParameter.EltwiseOp.Name(p.operation)
    if p.coeff and (operation != "SUM" or len(p.coeff) != len(shapes)):
        raise ValueError("eltwise coeff needs operation SUM and one coefficient per bottom")
    if len(set(shapes)) != 1:
        raise ValueError(f"eltwise bottoms must have the same shape, got {', '.join(map(str, shapes))}")
    return Eltwise(operation, p.coeff)


def build_concat(layer, shapes, options):
    p = layer.concat_param
    axis = p.axis if p.HasField("axis") or not p.HasField("concat_dim") else p.concat_dim
    return Concat(_axis(axis, len(shapes[0])))


def build_slice(layer, shapes, options):
    p = layer.slice_param
    axis = p.axis if p.HasField("axis") or not p.HasField("slice_dim") else p.slice_dim
    if p.slice_point and len(p.slice_point) != len(layer.top) - 1:
        raise ValueError(f"{len(p.slice_point)} slice_point values for {len(layer.top)} tops")
    return Slice(_axis(axis, len(shapes[0])), p.slice_point, len(layer.top))


def build_flatten(layer, shapes, options):
    return nn.Flatten(layer.flatten_param.axis, layer.flatten_param.end_axis)


def build_reshape(layer, shapes, options):
    p = layer.reshape_param
    if list(p.shape.dim).count(-1) > 1:
        raise ValueError("reshape_param may infer (-1) at most one dimension")
    return Reshape(p.shape.dim, p.axis, p.num_axes)


def build_crop(layer, shapes, options):
    if len(shapes) != 2:
        raise ValueError("Crop needs two bottoms: the blob to crop and the reference blob")
    return Crop(layer.crop_param.axis, layer.crop_param.offset)


OPS = {
    "Pooling": build_pooling,
    "LRN": build_lrn,
    "ReLU": build_relu,
    "Sigmoid": lambda layer, shapes, options: nn.Sigmoid(),
    "TanH": lambda layer, shapes, options: nn.Tanh(),
    "ELU": lambda layer, shapes, options: nn.ELU(layer.elu_param.alpha),
    "BNLL": lambda layer, shapes, options: nn.Softplus(),
    "AbsVal": lambda layer, shapes, options: AbsVal(),
    "Swish": lambda layer, shapes, options: Swish(layer.swish_param.beta),
    "Clip": lambda layer, shapes, options: nn.Hardtanh(layer.clip_param.min, layer.clip_param.max),
    "Power": lambda layer, shapes, options: Power(layer.power_param.power, layer.power_param.scale,
                                                  layer.power_param.shift),
    "Dropout": lambda layer, shapes, options: nn.Dropout(layer.dropout_param.dropout_ratio),
    "Softmax": lambda layer, shapes, options: nn.Softmax(dim=_axis(layer.softmax_param.axis, len(shapes[0]))),
    "Concat": build_concat,
    "Eltwise": build_eltwise,
    "Flatten": build_flatten,
    "Reshape": build_reshape,
    "Crop": build_crop,
    "Slice": build_slice,
    "Split": lambda layer, shapes, options: Split(len(layer.top)),
}
