"""Image files → the network's input, the way the dataset tools and training's validation saw them:
decode (digits.utils.image), resize to the dataset's size with its resize mode, C×H×W uint8 RGB,
then the model's Preprocess (mean, center crop, scale, whitening)."""
import base64
import io

import numpy as np
import PIL.Image
import torch

from digits.inference.detections import Prepared, prepare
from digits.inference.errors import ImageError
from digits.utils.image import LoadImageError, decode_image_bytes, hwc_to_chw, load_image, resize_image, to_array

# "fill" and "half_crop" pad with noise; a fixed seed per image makes predictions repeatable, and the
# deploy examples draw the same noise (numpy's default_rng(0)).
NOISE_SEED = 0
THUMBNAIL_SIZE = 64


def load_resized(source, pre):
    """uint8 array H×W or H×W×3 (RGB) at the model's image size; raises ImageError naming the file.

    source: a file path, or an upload {"name": its name, "data": base64 file bytes (small uploads travel
    inline) or "path": where the server saved it} — errors name the upload, not the saved file.
    """
    return _decoded(source, lambda image: resized(image, pre))


def resized(image, pre):
    """A decoded image (PIL or array) at the model's size, with its resize mode (and the noise of fill)."""
    return resize_image(image, pre.height, pre.width, pre.channels, pre.resize_mode,
                        rng=np.random.default_rng(NOISE_SEED))


def load_input(source, pre, original=False):
    """detections.Prepared of an image (load_resized's source): for a model with a geometry, prepared as its
    dataset stored images, with the transform back to the original; else load_resized's array — and as
    the answer's image the original (in the model's channels) when asked: a segmentation model's mask is
    answered at the original's size."""
    if pre.geometry is not None:
        return _decoded(source, lambda image: prepare(image, pre, f'"{_name(source)}"'))
    if original:
        return _decoded(source, lambda image: _with_original(to_array(image, pre.channels), pre))
    arr = load_resized(source, pre)
    return Prepared(arr, None, arr)


def _with_original(image, pre):
    return Prepared(resized(image, pre), None, image)


def _name(source):
    return source.get("name", "upload") if isinstance(source, dict) else source


def _decoded(source, then):
    """then(PIL image of the source); every failure an ImageError naming the source."""
    name = _name(source)
    try:
        if isinstance(source, dict):
            try:
                if "path" in source:
                    with open(source["path"], "rb") as f:
                        data = f.read()
                else:
                    data = base64.b64decode(source["data"], validate=True)
                image = decode_image_bytes(data)
            except (LoadImageError, OSError) as exc:
                raise LoadImageError(f'"{name}": {getattr(exc, "strerror", None) or exc}') from None
        else:
            image = load_image(source)
        return then(image)
    except LoadImageError as exc:
        raise ImageError(str(exc)) from None
    except (ValueError, OSError, KeyError, TypeError) as exc:
        raise ImageError(f'"{name}": {exc}') from None


def to_chw(arr):
    """uint8 H×W / H×W×3 array → uint8 tensor C×H×W."""
    return torch.from_numpy(np.require(hwc_to_chw(arr), requirements=["C", "W"]))   # writable, as torch wants


def network_input(arrays, pre):
    """List of resized arrays → float32 batch N×C×H×W for the network."""
    return pre(torch.stack([to_chw(a) for a in arrays]))


def png_data_uri(arr):
    """uint8 array (H×W or H×W×3) → "data:image/png;base64,..." for <img src>."""
    buf = io.BytesIO()
    PIL.Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnail(arr, size=THUMBNAIL_SIZE):
    """A small PNG data URI of an image array (aspect kept; tiny images are enlarged, pixelated)."""
    image = PIL.Image.fromarray(np.ascontiguousarray(arr))
    scale = size / max(image.size)
    new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = PIL.Image.NEAREST if scale >= 1 else PIL.Image.BILINEAR
    return png_data_uri(np.asarray(image.resize(new_size, resample)))
