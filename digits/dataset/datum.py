"""Image array ↔ caffe Datum (the LMDB value format shared with Caffe tools).

Arrays here are H×W (grayscale) or H×W×3 in RGB order. Raw Datums hold C×H×W bytes in BGR order
(Caffe's convention); encoded Datums hold a PNG/JPEG file, which decodes to RGB.
"""
import io

import numpy as np
import PIL.Image

from digits.proto import caffe_pb2
from digits.utils.image import chw_to_hwc, encode_image, hwc_to_chw


class DatumError(ValueError):
    """A database record cannot be decoded."""


def array_to_datum(arr, label, encoding):
    """uint8 array → serialized Datum bytes; encoding "none", "png" or "jpg"."""
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 H×W or H×W×3 array, got {arr.dtype} {arr.shape}")
    datum = caffe_pb2.Datum()
    datum.height, datum.width = arr.shape[:2]
    datum.channels = 1 if arr.ndim == 2 else arr.shape[2]
    datum.label = int(label)
    if encoding == "none":
        chw = hwc_to_chw(arr, bgr=True)
        datum.data = np.ascontiguousarray(chw).tobytes()
    elif encoding in ("png", "jpg"):
        datum.encoded = True
        datum.data = encode_image(arr, encoding)
    else:
        raise ValueError(f'unknown encoding "{encoding}" (use none, png or jpg)')
    return datum.SerializeToString()


def parse_datum(value):
    datum = caffe_pb2.Datum()
    try:
        datum.ParseFromString(value)
    except Exception as exc:  # protobuf raises DecodeError, a bare Exception subclass
        raise DatumError(f"record is not a Datum: {exc}") from None
    return datum


def datum_to_chw(datum):
    """Datum → uint8 array C×H×W in RGB order (the layout torch wants)."""
    channels = datum.channels or 1
    if datum.encoded:
        try:
            image = PIL.Image.open(io.BytesIO(datum.data))
            image = image.convert("L" if channels == 1 else "RGB")
        except Exception as exc:
            raise DatumError(f"cannot decode encoded record: {exc}") from None
        arr = np.asarray(image)
        return hwc_to_chw(arr)
    expected = channels * datum.height * datum.width
    if datum.data:
        if len(datum.data) != expected:
            raise DatumError(f"raw record has {len(datum.data)} bytes, expected {expected} "
                             f"for {channels}×{datum.height}×{datum.width}")
        chw = np.frombuffer(datum.data, dtype=np.uint8).reshape(channels, datum.height, datum.width)
    elif len(datum.float_data) == expected:
        chw = np.clip(np.asarray(datum.float_data, dtype=np.float32), 0, 255).astype(np.uint8)
        chw = chw.reshape(channels, datum.height, datum.width)
    else:
        raise DatumError("record holds no image data")
    return chw[::-1] if channels == 3 else chw  # BGR → RGB


def datum_to_array(datum):
    """Datum → uint8 array H×W or H×W×3 RGB (for display / PIL)."""
    return chw_to_hwc(datum_to_chw(datum))
