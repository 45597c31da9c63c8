"""The mean image: mean.binaryproto (Caffe BlobProto, BGR C×H×W) and mean.jpg for display."""
import io

import numpy as np
import PIL.Image

from digits.dataset.files import atomic_write_bytes
from digits.proto import caffe_pb2
from digits.utils.image import hwc_to_chw


def mean_to_blob_bytes(mean_hwc):
    """float mean image H×W or H×W×3 (RGB) → serialized BlobProto in Caffe's BGR C×H×W layout."""
    mean = np.asarray(mean_hwc, dtype=np.float32)
    chw = hwc_to_chw(mean, bgr=True)
    blob = caffe_pb2.BlobProto()
    blob.num = 1
    blob.channels, blob.height, blob.width = chw.shape
    blob.shape.dim.extend([1, *chw.shape])
    blob.data.extend(np.ascontiguousarray(chw).ravel().tolist())
    return blob.SerializeToString()


def mean_to_jpg_bytes(mean_hwc):
    arr = np.clip(np.rint(np.asarray(mean_hwc, dtype=np.float64)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    PIL.Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def save_mean(mean_hwc, binaryproto_path, jpg_path=None):
    atomic_write_bytes(binaryproto_path, mean_to_blob_bytes(mean_hwc))
    if jpg_path:
        atomic_write_bytes(jpg_path, mean_to_jpg_bytes(mean_hwc))


def load_mean(path):
    """mean.binaryproto → float32 array C×H×W in RGB order."""
    blob = caffe_pb2.BlobProto()
    try:
        with open(path, "rb") as f:
            blob.ParseFromString(f.read())
    except OSError as exc:
        raise FileNotFoundError(f'cannot read mean file "{path}": {exc.strerror or exc}') from exc
    except Exception as exc:
        raise ValueError(f'"{path}" is not a BlobProto mean file: {exc}') from None
    dims = list(blob.shape.dim)
    if dims:
        if len(dims) == 4 and dims[0] == 1:
            dims = dims[1:]
        if len(dims) == 2:
            dims = [1, *dims]
    else:
        dims = [blob.channels, blob.height, blob.width]
    if len(dims) != 3 or any(d <= 0 for d in dims):
        raise ValueError(f'mean file "{path}" has unusable shape {list(blob.shape.dim) or dims}')
    data = np.asarray(blob.data, dtype=np.float32)
    if data.size != int(np.prod(dims)):
        raise ValueError(f'mean file "{path}" holds {data.size} values, shape {dims} needs {int(np.prod(dims))}')
    chw = data.reshape(dims)
    return np.ascontiguousarray(chw[::-1] if dims[0] == 3 else chw)
