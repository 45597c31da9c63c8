"""How an original image becomes a stored detection image, and how its boxes follow — torch-free, so
the dataset tool, the web server and the inference code all call this one module.

A geometry is dataset.json's (and preprocess.json's) "geometry":
    {"pad": [H, W] | None, "resize": [H, W] | None, "channel_conversion": "RGB" | "L" | "none"}
The steps, in DIGITS' order: channel conversion; zeros added at the right and bottom up to the pad
size; a bilinear resize to the resize size. Padding at the right and bottom moves no pixel, so mapping
coordinates is a scale per axis, kept in a transform:
    {"original": [h, w], "scale": [sx, sy], "stored": [H, W]}   (stored x = original x · sx)

    prepare(image, geometry, fit=False) -> (array, transform)
        image: a PIL image or a uint8 array (H×W or H×W×3). Returns the stored image (uint8 H×W or
        H×W×3) and the transform from `image`'s pixels to the array's. An image larger than the pad
        size raises TooLarge (a dataset leaves it out, as DIGITS refused it); with fit=True (inference)
        it is first scaled down, aspect kept, to fit the pad size, and the transform includes that.
    to_stored(boxes, transform) -> N×4 float array      [x1, y1, x2, y2] rows, original → stored pixels
    to_original(boxes, transform) -> N×4 float array    stored → original pixels, clipped to the image
    check(geometry) -> geometry                         validated (ValueError says what is wrong)
"""
import numpy as np

from digits.utils.image import resize_image, to_array

CHANNEL_CONVERSIONS = {"RGB": 3, "L": 1, "none": None}   # → the channels to_array makes


class TooLarge(ValueError):
    """The image does not fit in the padding size."""


def check(geometry):
    if not isinstance(geometry, dict):
        raise ValueError(f"a geometry is a dict with pad, resize and channel_conversion, got {geometry!r}")
    for key in ("pad", "resize"):
        size = geometry.get(key)
        if size is not None and (len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)):
            raise ValueError(f"geometry {key} must be [height, width] in pixels or null, got {size!r}")
    if geometry.get("channel_conversion", "none") not in CHANNEL_CONVERSIONS:
        raise ValueError(f"geometry channel_conversion must be one of {', '.join(CHANNEL_CONVERSIONS)}, "
                         f"got {geometry.get('channel_conversion')!r}")
    return {"pad": geometry.get("pad"), "resize": geometry.get("resize"),
            "channel_conversion": geometry.get("channel_conversion", "none")}


def prepare(image, geometry, fit=False):
    geometry = check(geometry)
    arr = to_array(image, CHANNEL_CONVERSIONS[geometry["channel_conversion"]])
    h, w = arr.shape[:2]
    sx = sy = 1.0
    if geometry["pad"]:
        ph, pw = geometry["pad"]
        if h > ph or w > pw:
            if not fit:
                raise TooLarge(f"the image is {w}×{h} (W×H), larger than the padding size {pw}×{ph}")
            scale = min(ph / h, pw / w)
            fh, fw = max(1, min(ph, round(h * scale))), max(1, min(pw, round(w * scale)))
            arr = resize_image(arr, fh, fw, resize_mode="squash")
            sx, sy = fw / w, fh / h
        arr = _pad(arr, ph, pw)
    if geometry["resize"]:
        (rh, rw), (ch, cw) = geometry["resize"], arr.shape[:2]
        arr = resize_image(arr, rh, rw, resize_mode="squash")
        sx, sy = sx * rw / cw, sy * rh / ch
    return arr, {"original": [h, w], "scale": [sx, sy], "stored": list(arr.shape[:2])}


def _pad(arr, height, width):
    h, w = arr.shape[:2]
    if (h, w) == (height, width):
        return arr
    out = np.zeros((height, width) + arr.shape[2:], dtype=np.uint8)
    out[:h, :w] = arr
    return out


def _scale(transform):
    sx, sy = transform["scale"]
    return np.array([sx, sy, sx, sy], dtype=np.float64)


def _rows(boxes):
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def to_stored(boxes, transform):
    return _rows(boxes) * _scale(transform)


def to_original(boxes, transform):
    h, w = transform["original"]
    return np.clip(_rows(boxes) / _scale(transform), 0, [w, h, w, h])
