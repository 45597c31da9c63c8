"""Inference on an LMDB of Caffe Datums (DIGITS' infer_db): the server checks the database a user names,
the worker reads its records in key order and turns each image into what load_resized makes of an image
file — so a record and the same picture as a file give the same answer. Torch-free (the web process
uses check_db)."""
import contextlib
import os

import lmdb
import numpy as np

from digits.dataset.datum import DatumError, datum_to_array, parse_datum
from digits.inference.detections import Prepared, prepare, record_geometry
from digits.dataset.files import read_info
from digits.inference.errors import ImageError, InferenceError
from digits.inference.masks import PER_PIXEL_KIND
from digits.utils.image import resize_image
from digits.utils.lmdb_io import readonly_env
from digits.utils.paths import PathError, resolve_user_path


def _bad(message):
    return InferenceError(f"db_path: {message}", 400, "BadRequest")


def check_db(path, roots):
    """The real path of a non-empty LMDB inside the allowed roots; InferenceError 400 saying what is wrong."""
    try:
        resolved = resolve_user_path(path, roots, kind="dir")
    except PathError as exc:
        raise _bad(exc) from None
    try:
        with readonly_env(resolved) as env:
            entries = env.stat()["entries"]
    except FileNotFoundError:
        raise _bad(f"{path} is not an LMDB database (no data.mdb in it)") from None
    except lmdb.Error as exc:
        raise _bad(f"{path} cannot be read as an LMDB database: {exc}") from None
    if not entries:
        raise _bad(f"the database {path} holds no records")
    return resolved


def key_name(key):
    return key.decode("utf-8", errors="backslashreplace")


def record_chunks(db_dir, limit=None, size=128, labels_db=None):
    """Lists of up to `size` (key name, record bytes), in key order, the first `limit` records; with a
    labels_db, (key name, record bytes, the label record of the same key or None)."""
    chunk, count = [], 0
    with contextlib.ExitStack() as stack:
        txn = _reading(stack, db_dir)
        label_txn = _reading(stack, labels_db) if labels_db else None
        for key, value in txn.cursor():
            if limit is not None and count >= limit:
                break
            chunk.append((key_name(key), value) if label_txn is None else (key_name(key), value, label_txn.get(key)))
            count += 1
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _reading(stack, db_dir):
    return stack.enter_context(stack.enter_context(readonly_env(db_dir)).begin(buffers=False))


def paired_labels(db_dir):
    """The labels LMDB paired with a segmentation dataset's images LMDB (dataset.json "label_kind": "mask",
    the split whose "db" is this folder), or None. Looked for in the same dataset folder only."""
    folder, name = os.path.split(os.path.realpath(db_dir))
    try:
        info = read_info(folder)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("label_kind") != PER_PIXEL_KIND:
        return None
    for split in (info.get("splits") or {}).values():
        if isinstance(split, dict) and split.get("labels_db") and os.path.basename(str(split.get("db"))) == name:
            labels = os.path.join(folder, os.path.basename(str(split["labels_db"])))
            return labels if os.path.isfile(os.path.join(labels, "data.mdb")) else None
    return None


def record_array(record, pre):
    """uint8 H×W or H×W×3 RGB of one (key, bytes) record at the model's size; ImageError naming the key."""
    from digits.inference.images import NOISE_SEED   # the worker's module (it loads torch): the same noise
    key, arr = _stored(record, pre)
    try:
        return resize_image(arr, pre.height, pre.width, pre.channels, pre.resize_mode,
                            rng=np.random.default_rng(NOISE_SEED))
    except ValueError as exc:
        raise ImageError(f"record {key}: {exc}") from None


def record_input(record, pre, original=False):
    """detections.Prepared of one record: for a model with a geometry, the record is an image its dataset
    already padded and resized, so the answer's boxes are in the record's pixels (see detections.py). With
    original (a segmentation model), the answer's image is the record as stored and its label the label
    record's image (a record of (key, bytes, label bytes)), whose mask is answered at the record's size."""
    if pre.geometry is not None:
        key, arr = _stored(record, pre)
        return prepare(arr, pre, f"record {key}", geometry=record_geometry(pre))
    if not original:
        arr = record_array(record, pre)
        return Prepared(arr, None, arr)
    from digits.inference.images import resized
    key, arr = _stored(record, pre)
    try:
        return Prepared(resized(arr, pre), None, arr, _label_image(record))
    except ValueError as exc:
        raise ImageError(f"record {key}: {exc}") from None


def _label_image(record):
    """The uint8 H×W label image of a (key, bytes, label bytes) record, or None (no label record)."""
    if len(record) < 3 or record[2] is None:
        return None
    try:
        label = datum_to_array(parse_datum(record[2]))
    except DatumError as exc:
        raise ImageError(f"label of record {record[0]}: {exc}") from None
    if label.ndim != 2:
        raise ImageError(f"label of record {record[0]} has 3 channels; a label image holds one class id per pixel")
    return label


def _stored(record, pre):
    """(key, uint8 array as stored) of a (key, bytes) record with the model's channels; ImageError naming the key."""
    key, value = record[:2]
    try:
        arr = datum_to_array(parse_datum(value))
    except DatumError as exc:
        raise ImageError(f"record {key}: {exc}") from None
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if channels != pre.channels:
        raise ImageError(f"record {key} has {channels} channel{'s' if channels != 1 else ''}; the model "
                         f"takes {pre.channels}")
    return key, arr
