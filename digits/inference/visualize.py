"""Per-layer visualizations for one image (DIGITS 2's layout): for each layer that runs, its weights
(when it has any) and its activations as image grids, with shape, mean, stddev, a histogram and
the parameter count.

Entry: {"name", "vis_type": "Weights"|"Activation", "layer_type", "param_count",
        "stats": {"shape", "mean", "stddev", "histogram": [counts, bin centers, 3 ticks]}, "image"}.
"""
import math

import numpy as np
import PIL.Image
import torch

from digits.inference.images import png_data_uri
from digits.utils.image import chw_to_hwc

MAX_TILES = {"Weights": 96, "Activation": 64}
MAX_IMAGE_SIDE = 512
HISTOGRAM_BINS = 20


def layer_modules(network):
    """[(name, type, module)] for the layers that run, in definition order."""
    module = network.module
    found = []
    for info in getattr(network, "layers", None) or []:
        if info.status != "active" or not info.key:
            continue
        sub = _submodule(module, info.key)
        if sub is not None:
            found.append((info.name, info.type, sub))
    if not found:  # a network that lists no layers: every leaf module
        found = [(name, type(sub).__name__, sub) for name, sub in module.named_modules()
                 if name and not any(True for _ in sub.children())]
    return found


def _submodule(module, key):
    layers = getattr(module, "layers", None)
    if isinstance(layers, torch.nn.ModuleDict) and key in layers:
        return layers[key]
    try:
        return module.get_submodule(key)
    except AttributeError:
        return None


@torch.no_grad()
def visualizations(loaded, batch):
    """Visualizations of every running layer for batch (1×C×H×W, preprocessed)."""
    layers = layer_modules(loaded.network)
    outputs, hooks = {}, []
    for index, (_, _, sub) in enumerate(layers):
        def hook(_module, _inputs, output, index=index):
            if isinstance(output, (tuple, list)):
                output = next((o for o in output if isinstance(o, torch.Tensor)), None)
            if isinstance(output, torch.Tensor) and index not in outputs:  # first call: shared modules
                outputs[index] = output.detach()[0].float().cpu().clone()
        hooks.append(sub.register_forward_hook(hook))
    try:
        loaded.module(batch.to(loaded.device))
    finally:
        for handle in hooks:
            handle.remove()
    entries = [_entry("data", "Input", 0, "Activation", batch[0].float().cpu())]
    for index, (name, layer_type, sub) in enumerate(layers):
        params = sum(p.numel() for p in sub.parameters())
        weight = _weight(sub)
        if weight is None:
            weight = _running_statistics(sub)
            params = 0 if weight is None else weight.numel()
        if weight is not None:
            entries.append(_entry(name, layer_type, params, "Weights", weight))
        if index in outputs:
            entries.append(_entry(name, layer_type, params, "Activation", outputs[index]))
    return entries


def _weight(module):
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor):
        return weight.detach().float().cpu()
    first = next(module.parameters(), None)
    return first.detach().float().cpu() if first is not None else None


def _running_statistics(module):
    """A BatchNorm without a scale (Caffe's BatchNorm layer alone) has no parameters, only its running mean
    and variance (buffers; Caffe's blobs): those are what it learned, shown as its weights — 2×C, mean first."""
    mean, var = getattr(module, "running_mean", None), getattr(module, "running_var", None)
    if isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor) and mean.shape == var.shape:
        return torch.stack([mean, var]).detach().float().cpu()
    return None


def _entry(name, layer_type, param_count, vis_type, data):
    return {"name": name, "vis_type": vis_type, "layer_type": layer_type, "param_count": int(param_count),
            "stats": statistics(data), "image": png_data_uri(render(data, vis_type))}


def statistics(data):
    """DIGITS' get_layer_statistics: shape, mean, stddev, [counts, bin centers, ticks]."""
    values = data.double().flatten().numpy()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"shape": list(data.shape), "mean": None, "stddev": None, "histogram": [[], [], []]}
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    centers = (edges[:-1] + edges[1:]) / 2.0
    ticks = [edges[0], edges[len(edges) // 2], edges[-1]]
    return {"shape": list(data.shape), "mean": float(values.mean()), "stddev": float(values.std()),
            "histogram": [counts.tolist(), [float(c) for c in centers], [float(t) for t in ticks]]}


def render(data, vis_type):
    """A tensor → uint8 image array: tiles for 3-D/4-D data, a heat strip for 1-D/2-D."""
    array = data.numpy()
    if array.ndim == 4:   # conv weights O×I×kh×kw: RGB tiles for color inputs, else every kernel
        if array.shape[1] == 3:
            tiles = array.transpose(0, 2, 3, 1)
        else:
            tiles = array.reshape(-1, *array.shape[2:])
        return _grid(tiles[:MAX_TILES[vis_type]])
    if array.ndim == 3:   # activations C×H×W (or a 3-channel input shown in color)
        if vis_type == "Activation" and array.shape[0] == 3 and array.shape[1] > 1:
            return _fit(_normalize(chw_to_hwc(array)))
        return _grid(array[:MAX_TILES[vis_type]])
    if array.ndim == 2:   # fully-connected weights O×I: each output's weights as a square tile
        if array.shape[0] <= MAX_TILES[vis_type] and array.shape[1] >= 4:
            return _grid(np.stack([_square(row) for row in array]))
        return _fit(_normalize(array))
    return _fit(_normalize(_square(array.reshape(-1))))


def _normalize(array):
    finite = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = finite.min(), finite.max()
    scaled = (finite - low) / (high - low) if high > low else np.zeros_like(finite)
    return (scaled * 255.0).round().astype(np.uint8)


def _square(vector):
    """A 1-D vector laid out as a near-square image (padding with its minimum)."""
    side = max(1, math.ceil(math.sqrt(vector.size)))
    padded = np.full(side * side, vector.min() if vector.size else 0.0, dtype=np.float64)
    padded[:vector.size] = vector
    return padded.reshape(side, side)


def _grid(tiles):
    """N×h×w (gray) or N×h×w×3 tiles → one image with a 1-pixel gap, normalized together."""
    tiles = _normalize(tiles)
    n, h, w = tiles.shape[:3]
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    shape = (rows * (h + 1) - 1, cols * (w + 1) - 1) + tiles.shape[3:]
    out = np.full(shape, 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tiles[i]
    return _fit(out)


def _fit(image):
    """Enlarges tiny images (pixelated) and shrinks huge ones, so the page shows them at a usable size."""
    h, w = image.shape[:2]
    scale = min(MAX_IMAGE_SIDE / max(h, w), max(1, 128 // max(h, w)))
    if scale == 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = PIL.Image.NEAREST if scale > 1 else PIL.Image.BILINEAR
    return np.asarray(PIL.Image.fromarray(image).resize(size, resample))
