"""Image I/O and DIGITS' resize semantics, on PIL + numpy.

Conventions (same as DIGITS): arrays are H×W (grayscale) or H×W×3 (RGB), uint8 0..255;
sizes are passed as (height, width); PIL sizes are (width, height).
"""
import io
import math
import os

import numpy as np
import PIL.Image
import PIL.ImageFile

# File extensions parse_folder picks up (DIGITS' list); compare lower-cased names.
SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm")
# The resize modes (dataset.json's and preprocess.json's "resize_mode") as resize_image implements
# them: forms, tools, uploads and inference all take this one tuple (preprocess_spec re-exports it).
RESIZE_MODES = ("squash", "crop", "fill", "half_crop")
DEFAULT_RESIZE_MODE = "squash"
NOISE_PADDED_MODES = ("fill", "half_crop")   # the modes that draw random noise
ENCODINGS = ("none", "png", "jpg")
JPEG_QUALITY = 90  # what DIGITS used for jpg-encoded databases


def round_half_away(x):
    """Rounds .5 away from zero, as DIGITS' Python 2 round() did (Python 3 rounds .5 to even).

    Exact for any float: x - floor(x) has no rounding error.
    """
    if x < 0:
        return -round_half_away(-x)
    low = math.floor(x)
    return int(low + 1 if x - low >= 0.5 else low)


class LoadImageError(Exception):
    """The file is missing, not an image, truncated or in an unsupported mode."""


def load_image(path):
    """Reads an image file into a PIL image of mode "L" or "RGB" (transparency flattened on white).

    Raises LoadImageError naming the file and the reason.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise LoadImageError(f'cannot read "{path}": {exc.strerror or exc}') from exc
    try:
        return decode_image_bytes(data)
    except LoadImageError as exc:
        raise LoadImageError(f'"{path}": {exc}') from exc


def decode_image_bytes(data):
    """Decodes image file bytes (PNG/JPEG/...) into a PIL image of mode "L" or "RGB"."""
    if not data:
        raise LoadImageError("empty file")
    # Truncated files must fail: never honour a LOAD_TRUNCATED_IMAGES set by someone else.
    saved = PIL.ImageFile.LOAD_TRUNCATED_IMAGES
    PIL.ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image = PIL.Image.open(io.BytesIO(data))
        image.load()
        if image.format == "PNG":
            # load() stops once the pixels are in; verify() also demands the chunks after them.
            PIL.Image.open(io.BytesIO(data)).verify()
    except PIL.UnidentifiedImageError:
        raise LoadImageError("not an image file (unrecognized format)") from None
    except PIL.Image.DecompressionBombError as exc:
        raise LoadImageError(f"image too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise LoadImageError(f"corrupt or truncated image: {exc}") from None
    finally:
        PIL.ImageFile.LOAD_TRUNCATED_IMAGES = saved
    return _to_l_or_rgb(image)


def check_image_file(path):
    """Cheap check that a file is a readable image: header and structure (PIL's verify: PNG chunks and
    CRCs), no pixel decoding. Returns None if it looks fine, else the reason (worded as by
    decode_image_bytes). A file can still fail to decode later (e.g. a JPEG cut short in its data).
    """
    try:
        with open(path, "rb") as f:
            if not f.read(1):
                return "empty file"
            f.seek(0)
            with PIL.Image.open(f) as image:
                image.verify()
    except FileNotFoundError:
        return "file not found"
    except IsADirectoryError:
        return "is a folder, not a file"
    except PIL.UnidentifiedImageError:
        return "not an image file (unrecognized format)"
    except PIL.Image.DecompressionBombError as exc:
        return f"image too large: {exc}"
    except PermissionError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        return f"corrupt or truncated image: {exc}"
    return None


def _to_l_or_rgb(image):
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode in ("1", "I", "I;16", "I;16B", "I;16L", "F"):
        if mode in ("1",):
            return image.convert("L")
        # high bit depth grayscale: scale into 8 bits rather than clipping
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 255 else 255.0
        return PIL.Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if mode == "LA":
        flat = PIL.Image.new("L", image.size, 255)
        flat.paste(image.convert("L"), mask=image.getchannel("A"))
        return flat
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    if mode in ("P", "PA", "RGBA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        flat = PIL.Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    raise LoadImageError(f'image mode "{mode}" not supported')


def to_array(image, channels=None):
    """PIL image or array → uint8 array H×W (channels=1) or H×W×3 (channels=3).

    channels=None keeps what the image has. Color→grayscale uses ITU-R 601 luma like PIL/DIGITS.
    """
    if channels not in (None, 1, 3):
        raise ValueError(f"unsupported number of channels: {channels} (use 1 or 3)")
    if isinstance(image, PIL.Image.Image):
        if image.mode not in ("L", "RGB"):
            image = _to_l_or_rgb(image)
        if channels == 1 and image.mode != "L":
            image = image.convert("L")
        elif channels == 3 and image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8)
    if not isinstance(image, np.ndarray):
        raise ValueError("expected a PIL.Image.Image or a numpy.ndarray")
    arr = image if image.dtype == np.uint8 else image.astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"invalid image shape: {image.shape}")
    if channels == 1 and arr.ndim == 3:
        arr = np.dot(arr, [0.299, 0.587, 0.114]).astype(np.uint8)
    elif channels == 3 and arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return arr


def _resample(arr, height, width):
    # Bilinear like scipy.misc.imresize(interp='bilinear') which DIGITS used.
    return np.asarray(PIL.Image.fromarray(arr).resize((width, height), PIL.Image.BILINEAR))


def _noise(shape_hw, channels, rng):
    size = tuple(shape_hw) + ((channels,) if channels > 1 else ())
    return rng.integers(0, 255, size=size, dtype=np.uint8)


def _even_gap(target, size):
    """Grows size by one when target - size is odd, so padding splits evenly (DIGITS' rule)."""
    size = max(1, size)
    if (target - size) % 2 == 1:
        size += 1
    return size


def resize_image(image, height, width, channels=None, resize_mode=None, rng=None):
    """Resizes to height×width with DIGITS' semantics; returns a uint8 array (H×W or H×W×3).

    squash    -- stretch to the size, ignoring the aspect ratio
    crop      -- scale so the image covers the size (aspect kept), cut the centre out
    fill      -- scale so the whole image fits (aspect kept), pad both sides with random noise
    half_crop -- scale to the average of both ratios: half of the difference is cropped away,
                 half padded with noise
    rng: numpy Generator for the noise (pass a seeded one for reproducible output).
    """
    resize_mode = resize_mode or DEFAULT_RESIZE_MODE
    if resize_mode not in RESIZE_MODES:
        raise ValueError(f'resize_mode "{resize_mode}" not supported (use one of {", ".join(RESIZE_MODES)})')
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"invalid target size {height}x{width}")
    height, width = int(height), int(width)
    arr = to_array(image, channels)
    channels = 1 if arr.ndim == 2 else 3
    h, w = arr.shape[:2]
    if (h, w) == (height, width):
        return arr
    width_ratio = w / width
    height_ratio = h / height
    if resize_mode == "squash" or width_ratio == height_ratio:
        return _resample(arr, height, width)
    wider = width_ratio > height_ratio  # relatively wider than the target
    if resize_mode == "crop":
        if wider:
            rh, rw = height, max(width, round_half_away(w / height_ratio))
        else:
            rh, rw = max(height, round_half_away(h / width_ratio)), width
        return _center_crop(_resample(arr, rh, rw), height, width)

    if resize_mode == "fill":
        if wider:
            rh, rw = _even_gap(height, round_half_away(h / width_ratio)), width
        else:
            rh, rw = height, _even_gap(width, round_half_away(w / height_ratio))
        arr = _resample(arr, min(rh, height), min(rw, width))
    else:  # half_crop
        ratio = (width_ratio + height_ratio) / 2.0
        rh, rw = max(1, round_half_away(h / ratio)), max(1, round_half_away(w / ratio))
        if wider:
            rh = min(height, _even_gap(height, rh))
        else:
            rw = min(width, _even_gap(width, rw))
        arr = _center_crop(_resample(arr, rh, rw), height, width)
    return _pad_with_noise(arr, height, width, channels, rng or np.random.default_rng())


def _center_crop(arr, height, width):
    h, w = arr.shape[:2]
    top = round_half_away((h - height) / 2.0) if h > height else 0
    left = round_half_away((w - width) / 2.0) if w > width else 0
    return arr[top:top + height, left:left + width]


def _pad_with_noise(arr, height, width, channels, rng):
    h, w = arr.shape[:2]
    if h < height:
        pad = (height - h) // 2
        arr = np.concatenate((_noise((pad, w), channels, rng), arr,
                              _noise((height - h - pad, w), channels, rng)), axis=0)
    if w < width:
        pad = (width - w) // 2
        arr = np.concatenate((_noise((height, pad), channels, rng), arr,
                              _noise((height, width - w - pad), channels, rng)), axis=1)
    return np.ascontiguousarray(arr)


def hwc_to_chw(arr, bgr=False):
    """Image layout H×W / H×W×C → C×H×W (the network's and Caffe's), a view; bgr: also RGB → BGR
    (Caffe's raw Datums and mean files)."""
    if arr.ndim == 2:
        return arr[None]
    return (arr[:, :, ::-1] if bgr else arr).transpose(2, 0, 1)


def chw_to_hwc(chw):
    """C×H×W → H×W (one channel) / H×W×C, the layout PIL and the pages show."""
    return chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)


def encode_image(arr, fmt):
    """uint8 array (H×W or H×W×3 RGB) → file bytes; fmt "png" or "jpg"."""
    fmt = fmt.lower()
    if fmt not in ("png", "jpg", "jpeg"):
        raise ValueError(f'unsupported image encoding "{fmt}" (use png or jpg)')
    buf = io.BytesIO()
    image = PIL.Image.fromarray(to_array(arr))
    if fmt == "png":
        # Level 1: databases are written once per image; smaller ratio gain isn't worth 3× time.
        image.save(buf, format="PNG", compress_level=1)
    else:
        image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def is_image_file(name):
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS
