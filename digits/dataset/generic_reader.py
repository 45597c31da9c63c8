"""Reading a generic ("Other") dataset: paired feature and label LMDBs of caffe Datums, torch-free.

The databases are the user's own, built by other tools: their keys need not be create_db's
zero-padded indices, so records are paired by position in key order (as DIGITS did). Labels are
float vectors (`float_data`) or byte vectors (raw `data`), read as float32; a record with height 0 and
nothing in it is an empty vector. A dataset of boxes (dataset.json "label_kind": "boxes",
docs/detection.md §1) reads each label record as its n×5 rows [class_id, x1, y1, x2, y2], n may be 0;
a dataset of masks ("label_kind": "mask", docs/segmentation.md §1) as a uint8 H×W image of class ids
(255 = ignore) the size of its feature image.
"""
import io
import os
from collections import namedtuple

import numpy as np
import PIL.Image

from digits.dataset.datum import DatumError, datum_to_chw, parse_datum
from digits.utils.lmdb_io import acquire_readonly, readonly_env, release_readonly


class ImageShape(namedtuple("ImageShape", "height width channels")):
    def __str__(self):
        return f"{self.height}×{self.width}×{self.channels} (H×W×C)"


class LabelShape(namedtuple("LabelShape", "dtype length")):
    def __str__(self):
        return f"a vector of {self.length} {self.dtype} value{'s' if self.length != 1 else ''}"


def image_shape(datum):
    """ImageShape of a feature record as datum_to_chw returns it; of an encoded image only the
    header is read, so that a whole database can be checked in reasonable time."""
    if not datum.encoded:
        channels, height, width = datum_to_chw(datum).shape
        return ImageShape(height, width, channels)
    try:
        with PIL.Image.open(io.BytesIO(datum.data)) as image:
            width, height = image.size
    except Exception as exc:  # PIL raises many types for a damaged file
        raise DatumError(f"cannot decode encoded record: {exc}") from None
    return ImageShape(height, width, 1 if (datum.channels or 1) == 1 else 3)  # as datum_to_chw converts


def label_shape(datum):
    """LabelShape("float" | "uint8", length) of a label record."""
    if len(datum.float_data):
        return LabelShape("float", len(datum.float_data))
    if datum.data and not datum.encoded:
        return LabelShape("uint8", len(datum.data))
    if datum.HasField("height") and datum.height == 0:   # zero rows, e.g. an image without boxes
        return LabelShape("float", 0)
    raise DatumError("holds no label vector (neither float_data nor raw data)")


def label_vector(datum):
    """A label record → float32 vector (float_data, or the bytes of data as numbers 0..255)."""
    if label_shape(datum).dtype == "float":
        return np.asarray(datum.float_data, dtype=np.float32)
    return np.frombuffer(datum.data, dtype=np.uint8).astype(np.float32)


def label_boxes(datum):
    """A boxes label record → float32 n×5 array (the record format is detection.boxes')."""
    from digits.dataset.images.detection.boxes import from_datum
    try:
        return from_datum(datum)
    except ValueError as exc:
        raise DatumError(str(exc)) from None


def label_mask(datum):
    """A mask label record → uint8 H×W class ids: an encoded (PNG) record's pixel values as stored — a
    palette image's indices, not its colours — or a raw 1-channel record's bytes."""
    if not datum.encoded:
        chw = datum_to_chw(datum)
        if chw.shape[0] != 1:
            raise DatumError(f"a mask label must have 1 channel, this one has {chw.shape[0]}")
        return np.ascontiguousarray(chw[0])
    try:
        with PIL.Image.open(io.BytesIO(datum.data)) as image:
            mode = image.mode
            arr = np.asarray(image) if mode in ("L", "P") else None
    except Exception as exc:  # PIL raises many types for a damaged file
        raise DatumError(f"cannot decode encoded record: {exc}") from None
    if arr is None:
        raise DatumError(f"a mask label must be a 1-channel (L or palette) image of class ids, this one is {mode}")
    return arr


class _Records:
    """Records of one LMDB by position: its keys are listed once (packed, so the object stays small
    to pickle), and the environment is opened lazily in each process (see LmdbDataset)."""

    def __init__(self, db_dir):
        self.db_dir = os.path.abspath(db_dir)
        with readonly_env(self.db_dir) as env, env.begin() as txn:
            keys = list(txn.cursor().iternext(keys=True, values=False))
        self._blob = b"".join(keys)
        self._ends = np.cumsum([0] + [len(k) for k in keys], dtype=np.int64)
        self._env = self._pid = None

    def __len__(self):
        return len(self._ends) - 1

    def key(self, index):
        return self._blob[self._ends[index]:self._ends[index + 1]]

    def get(self, index):
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = acquire_readonly(self.db_dir), os.getpid()
        with self._env.begin(buffers=False) as txn:
            value = txn.get(self.key(index))
        if value is None:
            raise KeyError(f'record {self.key(index)!r} missing from "{self.db_dir}"')
        return parse_datum(value)

    def close(self):
        if self._env is not None and self._pid == os.getpid():
            release_readonly(self._env)
        self._env = None

    def __getstate__(self):
        return dict(self.__dict__, _env=None, _pid=None)  # an open environment stays in its process


LABEL_READERS = {"boxes": label_boxes, "mask": label_mask}   # by dataset.json "label_kind"; else vectors


class GenericLmdbDataset:
    """(uint8 C×H×W RGB image, its label) for each record pair of two LMDBs; the label is a float32
    vector, or for label_kind "boxes" n×5 rows, for "mask" a uint8 H×W image of the image's size.

    A map-style dataset for torch's DataLoader (torch is imported by __getitem__ only), picklable
    into worker processes like reader.LmdbDataset.
    """

    def __init__(self, features_db, labels_db, label_kind=None):
        self.features, self.labels = _Records(features_db), _Records(labels_db)
        self.label_kind = label_kind
        self.label_of = LABEL_READERS.get(label_kind, label_vector)
        if len(self.features) != len(self.labels):
            raise ValueError(f'"{features_db}" has {len(self.features)} records but "{labels_db}" '
                             f"has {len(self.labels)}")

    def __len__(self):
        return len(self.features)

    def read(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} records")
        image, label = datum_to_chw(self.features.get(index)), self.label_of(self.labels.get(index))
        if self.label_kind == "mask" and label.shape != image.shape[1:]:
            raise DatumError(f"record {self.features.key(index)!r}: its label is {label.shape[1]}×{label.shape[0]}, "
                             f"its image {image.shape[2]}×{image.shape[1]}")
        return image, label

    def __getitem__(self, index):
        import torch
        chw, label = self.read(index)
        return torch.from_numpy(np.require(chw, requirements=["C", "W"])), torch.from_numpy(label)

    def close(self):
        self.features.close()
        self.labels.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn the module down
            pass
