"""The image output view (DIGITS' "image-image-output"): outputs that are images, and the input as the
network saw it, as PNGs in the page (data URIs: nothing to serve or clean up afterwards).

An output is an image when its values are H×W or C×H×W (C = 1 or 3) lists, or a flat vector as long as
the network's input (C·H·W, or H·W: one channel), as an autoencoder or a denoiser answers. Values in
[0, 1] are scaled by 255, values in [0, 255] kept, others stretched over 0..255."""
import base64

import numpy as np

from digits.extensions.view import ViewExtension
from digits.utils.image import chw_to_hwc, encode_image


def png_data_uri(arr):
    """uint8 H×W / H×W×3 → "data:image/png;base64,..." (digits.inference.images has one too, but that
    module loads torch, which the web process never does)."""
    return "data:image/png;base64," + base64.b64encode(encode_image(arr, "png")).decode("ascii")


def as_image(values, input_shape=None):
    """float C×H×W array of an output, or None when it has no image shape."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2 and min(arr.shape) > 1:
        arr = arr[None]
    elif arr.ndim == 1 and input_shape:
        channels, height, width = input_shape
        if arr.size == channels * height * width:
            arr = arr.reshape(channels, height, width)
        elif arr.size == height * width and height > 1 and width > 1:
            arr = arr.reshape(1, height, width)
    if arr.ndim != 3 or arr.shape[0] not in (1, 3) or min(arr.shape[1:]) < 1:
        return None
    return arr


def to_pixels(chw):
    """float C×H×W → uint8 H×W or H×W×3."""
    finite = np.nan_to_num(chw)
    low, high = float(finite.min()), float(finite.max())
    if low >= 0 and high <= 1:
        finite = finite * 255.0
    elif low < 0 or high > 255:
        finite = (finite - low) * (255.0 / ((high - low) or 1.0))
    return chw_to_hwc(np.clip(np.rint(finite), 0, 255).astype(np.uint8))


class ImageOutput(ViewExtension):
    extension_id = "image-image-output"
    title = "Image output"
    wants_input_image = True

    def json(self, result, context):
        images = []
        if context.get("input_image"):
            images.append({"name": "input", "src": context["input_image"]})
        for blob, values in (result.get("outputs") or {}).items():
            chw = as_image(values, context.get("input_shape"))
            if chw is not None:
                images.append({"name": blob, "shape": list(chw.shape), "src": png_data_uri(to_pixels(chw))})
        return {"image_output": images}


VIEW = ImageOutput()
