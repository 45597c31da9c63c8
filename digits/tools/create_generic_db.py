"""Writes a data extension's dataset: python -m digits.tools.create_generic_db --job-dir DIR

Reads extension.json (the extension's id and the params its plan() returned), asks the extension for
each split's samples and reads them one by one into two LMDBs — <split>_db (PNG-encoded images) and
<split>_labels_db (the labels as Datum float_data) — plus the train images' mean and dataset.json in the
generic datasets' shape (digits/dataset/images/generic), so that generic models train on it. No code
here knows any kind of dataset: that is the extension's.
"""
import argparse
import json
import os

import numpy as np

from digits.dataset import files
from digits.dataset.datum import array_to_datum
from digits.dataset.extension.job import EXTENSION_FILE
from digits.dataset.mean import save_mean
from digits.dataset.report import Progress
from digits.extensions.data import get_extension
from digits.proto import caffe_pb2
from digits.tools.common import emit, run_main
from digits.utils.lmdb_io import LmdbWriter

BATCH = 256
MEAN_FILE = "mean.binaryproto"


class SampleError(ValueError):
    user_error = True   # the message names the sample and says what is wrong: no traceback needed


def _key(index):
    return b"%08d" % index


def _check(image, label, sample, shape, label_kind, length):
    """The sample as (uint8 image, float32 label vector), held to the dataset's first sample's shape."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise SampleError(f"sample {sample!r}: the image must be a uint8 H×W or H×W×3 array, got "
                          f"{image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if shape is not None and image.shape != shape:
        raise SampleError(f"sample {sample!r}: image of shape {image.shape}, but the dataset's images are {shape}")
    try:
        vector = np.asarray([int(label)] if label_kind == "class" else label, dtype=np.float32).ravel()
    except (TypeError, ValueError):
        raise SampleError(f"sample {sample!r}: label {label!r} is not a "
                          f"{'class id' if label_kind == 'class' else 'sequence of numbers'}") from None
    if not np.all(np.isfinite(vector)) or (length is not None and len(vector) != length) or not len(vector):
        raise SampleError(f"sample {sample!r}: label {label!r} must be {length or 'some'} finite number(s)")
    return image, vector


def _label_datum(vector):
    datum = caffe_pb2.Datum(channels=len(vector), height=1, width=1)
    datum.float_data.extend(vector.tolist())
    return datum.SerializeToString()


def write_split(extension, params, split, job_dir, first, progress):
    """Writes one split; returns (count, mean sum or None, first sample's (shape, label length))."""
    samples = extension.samples(params, split)
    if not samples:
        return 0, None, first
    shape, length = first
    total = None
    with LmdbWriter(os.path.join(job_dir, f"{split}_db")) as images, \
            LmdbWriter(os.path.join(job_dir, f"{split}_labels_db")) as labels:
        batch_images, batch_labels = [], []
        for index, sample in enumerate(samples):
            try:
                image, label = extension.read(params, sample)
            except ValueError as exc:
                raise SampleError(f"{split} sample {sample!r}: {exc}") from None
            image, vector = _check(image, label, sample, shape, extension.label_kind, length)
            shape, length = image.shape, len(vector)
            if split == "train":
                total = image.astype(np.float64) if total is None else total + image
            batch_images.append((_key(index), array_to_datum(image, 0, "png")))
            batch_labels.append((_key(index), _label_datum(vector)))
            if len(batch_images) >= BATCH:
                images.put_many(batch_images)
                labels.put_many(batch_labels)
                batch_images, batch_labels = [], []
            progress(index + 1, len(samples))
        images.put_many(batch_images)
        labels.put_many(batch_labels)
    return len(samples), total, (shape, length)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a data extension's dataset into LMDBs")
    parser.add_argument("--job-dir", required=True)
    job_dir = os.path.abspath(parser.parse_args(argv).job_dir)
    with open(os.path.join(job_dir, EXTENSION_FILE), encoding="utf-8") as f:
        spec = json.load(f)
    extension, params = get_extension(spec["extension_id"]), spec["params"]
    splits = list(extension.splits(params))
    first, splits_info, mean = (None, None), {}, None
    for i, split in enumerate(splits):
        progress = Progress(i / len(splits), (i + 1) / len(splits))
        count, total, first = write_split(extension, params, split, job_dir, first, progress)
        if count:
            splits_info[split] = {"db": os.path.join(job_dir, f"{split}_db"),
                                  "labels_db": os.path.join(job_dir, f"{split}_labels_db"), "count": count}
            if total is not None:
                mean = total / count
    if "train" not in splits_info:
        raise SampleError("the extension gave no training samples")
    (shape, length), names = first, extension.label_names(params)
    save_mean(mean, os.path.join(job_dir, MEAN_FILE), os.path.join(job_dir, "mean.jpg"))
    if names:
        files.atomic_write_text(os.path.join(job_dir, files.LABELS_FILE), "".join(f"{n}\n" for n in names))
    files.atomic_write_json(os.path.join(job_dir, files.INFO_FILE), {
        "kind": "generic", "extension_id": extension.extension_id, "image_dims": [shape[0], shape[1],
                                                                                1 if len(shape) == 2 else 3],
        "encoded": True, "label_dims": [length], "label_dtype": "float",
        "num_classes": len(names) if extension.label_kind == "class" and names else None,
        "mean_file": MEAN_FILE, "splits": splits_info})
    emit("result", **{f"{split}_count": s["count"] for split, s in splits_info.items()})
    return 0


if __name__ == "__main__":
    run_main(main)
