"""Writes a data extension's dataset: python -m digits.tools.create_generic_db --job-dir DIR

Reads extension.json (the extension's id and the params its plan() returned), asks the extension for
each split's samples and reads them one by one into two LMDBs — <split>_db (PNG-encoded images) and
<split>_labels_db (the labels as Datum float_data) — plus the train images' mean and dataset.json in the
generic datasets' shape (digits/dataset/images/generic), so that generic models train on it. No code
here knows any kind of dataset: that is the extension's. What it knows is the label kinds: a class id or
a float vector per sample (Datum channels=length), object boxes (digits.dataset.images.detection.boxes), or
a mask of class ids per pixel (docs/segmentation.md §1: a 1-channel PNG Datum, 255 = ignore).

Samples the extension leaves out (SkipSample) and the notes it makes on the ones it keeps are the
dataset's report: <split>_skipped.json and dataset.json "skipped", entries {"path", "reason", "split"}
(+ "kept": true for a note) as the classification datasets have them; a sample that is a dict with
"path" is reported by that path, any other by its text.
"""
import argparse
import json
import os
import shutil

import numpy as np

from digits.dataset import files
from digits.dataset.datum import array_to_datum
from digits.dataset.extension.job import EXTENSION_FILE
from digits.dataset.images.detection import boxes
from digits.dataset.mean import save_mean
from digits.dataset.report import MAX_SKIP_WARNINGS, Progress, warn_skipped
from digits.extensions.data import SkipSample, get_extension
from digits.proto import caffe_pb2
from digits.tools.common import emit, run_main
from digits.utils.lmdb_io import LmdbWriter

BATCH = 256
MEAN_FILE = "mean.binaryproto"


class SampleError(ValueError):
    user_error = True   # the message names the sample and says what is wrong: no traceback needed


def _key(index):
    return b"%08d" % index


def _image(image, sample, shape):
    """The sample's image as a uint8 array, held to the dataset's first image's shape."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise SampleError(f"sample {_named(sample)}: the image must be a uint8 H×W or H×W×3 array, got "
                          f"{image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if shape is not None and image.shape != shape:
        raise SampleError(f"sample {_named(sample)}: image of shape {image.shape}, but the dataset's images are "
                          f"{shape}")
    return image


class VectorLabels:
    """label_kind "class" (an int) or a float vector of one length: Datum channels=length, 1×1."""

    def __init__(self, label_kind):
        self.label_kind, self.length = label_kind, None

    def encode(self, label, sample, split, image):
        kind = self.label_kind
        try:
            vector = np.asarray([int(label)] if kind == "class" else label, dtype=np.float32).ravel()
        except (TypeError, ValueError):
            raise SampleError(f"sample {_named(sample)}: label {label!r} is not a "
                              f"{'class id' if kind == 'class' else 'sequence of numbers'}") from None
        if not np.all(np.isfinite(vector)) or (self.length is not None and len(vector) != self.length) \
                or not len(vector):
            raise SampleError(f"sample {_named(sample)}: label {label!r} must be {self.length or 'some'} finite "
                              "number(s)")
        self.length = len(vector)
        datum = caffe_pb2.Datum(channels=len(vector), height=1, width=1)
        datum.float_data.extend(vector.tolist())
        return datum.SerializeToString(), []

    def finish(self, split, count):
        pass

    def facts(self, names, splits_info):
        return {"label_dims": [self.length],
                "num_classes": len(names) if self.label_kind == "class" and names else None}


class BoxLabels:
    """label_kind "boxes": n×5 rows [class_id, x1, y1, x2, y2] per image, class 0 DontCare."""

    def __init__(self):
        self.stats = {}

    def encode(self, label, sample, split, image):
        try:
            rows = np.asarray(label, dtype=np.float64)
        except (TypeError, ValueError):
            rows = None
        if rows is not None and rows.size == 0:
            rows = rows.reshape(0, boxes.COLUMNS)
        if rows is None or rows.ndim != 2 or rows.shape[1] != boxes.COLUMNS:
            raise SampleError(f"sample {_named(sample)}: boxes must be an n×5 array of [class_id, x1, y1, x2, y2] "
                              "rows")
        ids = rows[:, 0]
        if not np.all(np.isfinite(ids)) or np.any(ids < 0) or np.any(ids != np.round(ids)):
            raise SampleError(f"sample {_named(sample)}: class ids must be whole numbers ≥ 0, got {ids.tolist()}")
        rows, notes = boxes.clean(rows, image.shape[1], image.shape[0])
        self.stats.setdefault(split, boxes.BoxStats()).add(rows)
        return boxes.to_datum_bytes(rows), notes

    def finish(self, split, count):
        stats = self.stats.get(split, boxes.BoxStats())
        if split == "train" and not stats.objects:
            dontcare = stats.per_class[0] if stats.per_class else 0
            raise SampleError(f"the training split has no usable object boxes: its {count} image(s) hold "
                              f"{dontcare} DontCare box(es) and none of a class ≥ 1. Check the label files and "
                              "the class names (with custom classes, a name not in the list becomes DontCare), "
                              "and the dataset's report of files and objects left out")

    def facts(self, names, splits_info):
        if not names:
            raise SampleError("the extension names no classes (label_names): a boxes dataset needs labels.txt")
        seen = max(len(s.per_class) for s in self.stats.values())
        if seen > len(names):
            raise SampleError(f"a box has class id {seen - 1}, but the extension names {len(names)} classes")
        edges = boxes.histogram_edges(max((max(s.sizes, default=0) for s in self.stats.values()), default=0))
        for split, info in splits_info.items():
            stats = self.stats.get(split, boxes.BoxStats())
            info.update(boxes=stats.summary(len(names), edges), max_boxes=stats.max_boxes)
        return {"label_dims": None, "num_classes": len(names),
                "max_boxes": max(s["max_boxes"] for s in splits_info.values()),
                "boxes": splits_info["train"]["boxes"]}


class MaskLabels:
    """label_kind "mask": a uint8 H×W array of class ids (255 = ignore) at the image's size, stored as a
    1-channel PNG Datum; the pixels of each class are counted per split."""

    IGNORE = 255

    def __init__(self):
        self.counts = {}

    def encode(self, label, sample, split, image):
        mask = np.asarray(label)
        if mask.dtype != np.uint8 or mask.shape != image.shape[:2]:
            raise SampleError(f"sample {_named(sample)}: a mask must be a uint8 array of the image's size "
                              f"{image.shape[:2]}, got {mask.dtype} {mask.shape}")
        counts = np.bincount(mask.ravel(), minlength=256)
        self.counts[split] = self.counts.get(split, 0) + counts
        return array_to_datum(mask, 0, "png"), []

    def finish(self, split, count):
        counts = self.counts.get(split, np.zeros(256, dtype=np.int64))
        if split == "train" and not counts[:self.IGNORE].any():
            raise SampleError(f"the training split's {count} label image(s) hold only ignored pixels "
                              f"({self.IGNORE}): there is nothing to learn from")

    def facts(self, names, splits_info):
        if not names:
            raise SampleError("the extension names no classes (label_names): a mask dataset needs labels.txt")
        num_classes = len(names)
        for split, info in splits_info.items():
            counts = self.counts[split]
            unnamed = np.flatnonzero(counts[num_classes:self.IGNORE])
            if len(unnamed):
                raise SampleError(f"a {split} label has class id {num_classes + int(unnamed[0])}, but the extension "
                                  f"names {num_classes} classes")
            info["pixels"] = {"per_class": counts[:num_classes].tolist(), "ignored": int(counts[self.IGNORE])}
        return {"label_dims": None, "label_dtype": "uint8", "num_classes": num_classes,
                "pixels": splits_info["train"]["pixels"]}


def _named(sample):
    """How messages and the report name a sample: its "path", or its text."""
    return str(sample["path"]) if isinstance(sample, dict) and sample.get("path") else str(sample)


def _entry(sample, reason, split, kept=False):
    return dict({"path": _named(sample), "reason": reason, "split": split}, **({"kept": True} if kept else {}))


def _read(extension, params, sample, split):
    """(image, label, notes) of one sample; SkipSample passes through."""
    try:
        result = extension.read(params, sample)
    except ValueError as exc:
        raise SampleError(f"{split} sample {_named(sample)}: {exc}") from None
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise SampleError(f"{split} sample {_named(sample)}: read() must return (image, label) or "
                          "(image, label, notes)")
    image, label, notes = result if len(result) == 3 else (*result, ())
    return image, label, [str(n) for n in notes]


def write_split(extension, params, split, job_dir, state, progress):
    """Writes one split; returns (count written, report entries, mean sum or None)."""
    samples = extension.samples(params, split)
    if not samples:
        return 0, [], None
    total, written, report = None, 0, []
    with LmdbWriter(os.path.join(job_dir, f"{split}_db")) as images, \
            LmdbWriter(os.path.join(job_dir, f"{split}_labels_db")) as labels:
        batch_images, batch_labels = [], []
        for index, sample in enumerate(samples):
            progress(index + 1, len(samples))
            try:
                image, label, notes = _read(extension, params, sample, split)
            except SkipSample as exc:
                report.append(_entry(sample, str(exc), split))
                continue
            image = _image(image, sample, state.shape)
            state.shape = image.shape
            label_bytes, more = state.labels.encode(label, sample, split, image)
            report += [_entry(sample, note, split, kept=True) for note in notes + more]
            if split == "train":
                total = image.astype(np.float64) if total is None else total + image
            batch_images.append((_key(written), array_to_datum(image, 0, "png")))
            batch_labels.append((_key(written), label_bytes))
            written += 1
            if len(batch_images) >= BATCH:
                images.put_many(batch_images)
                labels.put_many(batch_labels)
                batch_images, batch_labels = [], []
        images.put_many(batch_images)
        labels.put_many(batch_labels)
    return written, report, total


class _State:
    """What every split of the dataset shares: the images' shape and the labels' encoder."""

    def __init__(self, label_kind):
        self.shape = None
        self.labels = {"boxes": BoxLabels, "mask": MaskLabels}.get(label_kind, lambda: VectorLabels(label_kind))()


def _report(split, entries):
    """Warnings for the job page: the samples left out, then the notes on kept ones; the lists go to
    <split>_skipped.json."""
    listed_in = f"{split}_skipped.json"
    warn_skipped([e for e in entries if not e.get("kept")], listed_in)
    notes = [e for e in entries if e.get("kept")]
    for entry in notes[:MAX_SKIP_WARNINGS]:
        emit("warning", message=f"{entry['path']}: {entry['reason']}")
    if len(notes) > MAX_SKIP_WARNINGS:
        emit("warning", message=f"{len(notes)} notes on {split} samples kept in the dataset; see {listed_in}")


def _label_kind(label_kind):
    """dataset.json "label_kind": the task types that train on class ids and vectors (classification,
    regression, ...) know those datasets by its absence; the other kinds need their own task type."""
    return {} if label_kind in ("class", "vector") else {"label_kind": label_kind}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a data extension's dataset into LMDBs")
    parser.add_argument("--job-dir", required=True)
    job_dir = os.path.abspath(parser.parse_args(argv).job_dir)
    with open(os.path.join(job_dir, EXTENSION_FILE), encoding="utf-8") as f:
        spec = json.load(f)
    extension, params = get_extension(spec["extension_id"]), spec["params"]
    splits = list(extension.splits(params))
    state, splits_info, mean, report = _State(extension.label_kind), {}, None, []
    for i, split in enumerate(splits):
        progress = Progress(i / len(splits), (i + 1) / len(splits))
        count, entries, total = write_split(extension, params, split, job_dir, state, progress)
        report += entries
        _report(split, entries)
        files.atomic_write_json(os.path.join(job_dir, f"{split}_skipped.json"), entries)
        left_out = sum(1 for e in entries if not e.get("kept"))
        if not count and left_out:
            for name in (f"{split}_db", f"{split}_labels_db"):
                shutil.rmtree(os.path.join(job_dir, name), ignore_errors=True)
            first = next(e for e in entries if not e.get("kept"))
            if split == "train":
                raise SampleError(f"none of the {left_out} training samples could be used (first problem: "
                                  f"{first['path']}: {first['reason']})")
        if count:
            state.labels.finish(split, count)
            splits_info[split] = {"db": os.path.join(job_dir, f"{split}_db"),
                                  "labels_db": os.path.join(job_dir, f"{split}_labels_db"), "count": count,
                                  "skipped": left_out, "notes": len(entries) - left_out}
            if total is not None:
                mean = total / count
    if "train" not in splits_info:
        raise SampleError("the extension gave no training samples")
    shape, names = state.shape, extension.label_names(params)
    label_facts = state.labels.facts(names, splits_info)
    save_mean(mean, os.path.join(job_dir, MEAN_FILE), os.path.join(job_dir, "mean.jpg"))
    if names:
        files.atomic_write_text(os.path.join(job_dir, files.LABELS_FILE), "".join(f"{n}\n" for n in names))
    files.atomic_write_json(os.path.join(job_dir, files.INFO_FILE), {
        **extension.info(params),   # the extension's own facts never replace the generic ones
        "kind": "generic", "extension_id": extension.extension_id, **_label_kind(extension.label_kind),
        "image_dims": [shape[0], shape[1], 1 if len(shape) == 2 else 3],
        "encoded": True, "label_dtype": "float", **label_facts,
        "mean_file": MEAN_FILE, "splits": splits_info, "skipped": report})
    emit("result", **{f"{split}_count": s["count"] for split, s in splits_info.items()},
         **{f"{split}_skipped": s["skipped"] for split, s in splits_info.items()})
    return 0


if __name__ == "__main__":
    run_main(main)
