"""The server's image preprocessing, re-implemented with numpy and PIL only (no digits import), so a
downloaded model predicts here exactly what it predicts on the server.

Steps (what the dataset tools and the training tool's validation do):
  1. decode: PIL, transparency flattened on white, 16-bit grayscale scaled to 8 bits
  2. convert to the model's channels (1: PIL "L", 3: "RGB") and resize to height×width with the
     dataset's resize mode (squash / crop / fill / half_crop; bilinear; fill noise from
     numpy.random.default_rng(0), like the server)
  3. C×H×W float32; subtract the mean ("image": the mean image; "pixel": its per-channel mean);
     center crop to crop_size; multiply by scale; per-image standardization if "whitening"
"""
import json
import math
import os

import numpy as np
from PIL import Image

NOISE_SEED = 0


class Preprocessor:
    def __init__(self, preprocess_json, mean_npy=None):
        with open(preprocess_json) as f:
            self.params = json.load(f)
        p = self.params
        self.channels, self.height, self.width = int(p["channels"]), int(p["height"]), int(p["width"])
        self.crop = int(p["crop_size"]) if p.get("crop_size") else None
        self.mode = p.get("mean", "none")
        self.mean = None
        if self.mode != "none":
            if not mean_npy or not os.path.exists(mean_npy):
                raise SystemExit(f"preprocess.json subtracts the {self.mode} mean: give the mean.npy file")
            mean = np.load(mean_npy).astype(np.float32)
            self.mean = mean.mean(axis=(1, 2), keepdims=True, dtype=np.float32) if self.mode == "pixel" else mean

    def __call__(self, path):
        """Image file → float32 array C×H×W, ready for the network (add a batch axis)."""
        arr = resize(load(path), self.height, self.width, self.channels, self.params.get("resize_mode", "squash"))
        x = (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)).astype(np.float32)
        top, left = 0, 0
        h, w = self.height, self.width
        if self.crop:
            top, left = (self.height - self.crop) // 2, (self.width - self.crop) // 2
            h = w = self.crop
        x = x[:, top:top + h, left:left + w]
        if self.mean is not None:
            mean = self.mean if self.mode == "pixel" else self.mean[:, top:top + h, left:left + w]
            x = x - mean
        scale = float(self.params.get("scale", 1.0))
        if scale != 1.0:
            x = x * np.float32(scale)
        if self.params.get("whitening"):
            std = max(float(x.std()), 1.0 / np.sqrt(x.size))
            x = (x - x.mean()) / np.float32(std)
        return np.ascontiguousarray(x, dtype=np.float32)


def load(path):
    """PIL image of mode L or RGB."""
    image = Image.open(path)
    image.load()
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if mode == "LA":
        flat = Image.new("L", image.size, 255)
        flat.paste(image.convert("L"), mask=image.getchannel("A"))
        return flat
    if mode in ("P", "PA", "RGBA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def round_half_away(x):
    """.5 rounds away from zero (DIGITS' Python 2 round(), which the server keeps; Python 3 rounds it to
    even, and sizes/offsets one pixel off change the predictions)."""
    if x < 0:
        return -round_half_away(-x)
    low = math.floor(x)
    return int(low + 1 if x - low >= 0.5 else low)


def _resample(arr, height, width):
    return np.asarray(Image.fromarray(arr).resize((width, height), Image.BILINEAR))


def _even_gap(target, size):
    size = max(1, size)
    return size + 1 if (target - size) % 2 == 1 else size


def _center_crop(arr, height, width):
    h, w = arr.shape[:2]
    top = round_half_away((h - height) / 2.0) if h > height else 0
    left = round_half_away((w - width) / 2.0) if w > width else 0
    return arr[top:top + height, left:left + width]


def _pad_with_noise(arr, height, width, channels, rng):
    def noise(h, w):
        return rng.integers(0, 255, size=(h, w) + ((channels,) if channels > 1 else ()), dtype=np.uint8)
    h, w = arr.shape[:2]
    if h < height:
        pad = (height - h) // 2
        arr = np.concatenate((noise(pad, w), arr, noise(height - h - pad, w)), axis=0)
    if w < width:
        pad = (width - w) // 2
        arr = np.concatenate((noise(height, pad), arr, noise(height, width - w - pad)), axis=1)
    return arr


def resize(image, height, width, channels, mode="squash"):
    """uint8 H×W (1 channel) or H×W×3 array resized the way the server's dataset tools do."""
    image = image.convert("L") if channels == 1 and image.mode != "L" else image
    image = image.convert("RGB") if channels == 3 and image.mode != "RGB" else image
    arr = np.asarray(image, dtype=np.uint8)
    h, w = arr.shape[:2]
    if (h, w) == (height, width):
        return arr
    width_ratio, height_ratio = w / width, h / height
    if mode == "squash" or width_ratio == height_ratio:
        return _resample(arr, height, width)
    wider = width_ratio > height_ratio
    if mode == "crop":
        if wider:
            rh, rw = height, max(width, round_half_away(w / height_ratio))
        else:
            rh, rw = max(height, round_half_away(h / width_ratio)), width
        return _center_crop(_resample(arr, rh, rw), height, width)
    if mode == "fill":
        if wider:
            rh, rw = _even_gap(height, round_half_away(h / width_ratio)), width
        else:
            rh, rw = height, _even_gap(width, round_half_away(w / height_ratio))
        arr = _resample(arr, min(rh, height), min(rw, width))
    elif mode == "half_crop":
        ratio = (width_ratio + height_ratio) / 2.0
        rh, rw = max(1, round_half_away(h / ratio)), max(1, round_half_away(w / ratio))
        if wider:
            rh = min(height, _even_gap(height, rh))
        else:
            rw = min(width, _even_gap(width, rw))
        arr = _center_crop(_resample(arr, rh, rw), height, width)
    else:
        raise SystemExit(f"unknown resize_mode {mode!r} in preprocess.json")
    return _pad_with_noise(arr, height, width, channels, np.random.default_rng(NOISE_SEED))


def softmax(logits):
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_k(probabilities, labels, k=5):
    """[(label, probability)] best first for one row of probabilities."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(labels[i] if i < len(labels) else str(i), float(probabilities[i])) for i in order]
