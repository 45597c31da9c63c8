"""Checking prebuilt LMDBs: the form looks at a few records of each (fast), analyze_generic at all.

One code path for both, so a dataset the form accepts is judged by the same rules when scanned.
Errors carry the role of the database they are about ("train_labels", "mean_file" ...): the form
puts them on that field, the tool reports them as the job's error.
"""
import contextlib

import lmdb

from digits.dataset.datum import DatumError, parse_datum
from digits.dataset.generic_reader import ImageShape, image_shape, label_shape
from digits.dataset.mean import load_mean
from digits.utils.lmdb_io import readonly_env

ROLES = ("train_images", "train_labels", "val_images", "val_labels", "mean_file")
SAMPLES = 4   # records read from the start, and spread through, a database at submit


class PrebuiltError(ValueError):
    user_error = True   # the message names the database and record: code frames add nothing

    def __init__(self, role, message):
        super().__init__(message)
        self.role = role


def db_name(role):
    return role.replace("_", " ")   # "train_labels" → "train labels", as users see them on the form


@contextlib.contextmanager
def _opened(role, path):
    try:
        with readonly_env(path) as env:
            yield env
    except FileNotFoundError:
        raise PrebuiltError(role, f"{db_name(role)}: {path} is not an LMDB folder (it has no data.mdb)") from None
    except lmdb.Error as exc:
        raise PrebuiltError(role, f"{db_name(role)}: {path} is not a readable LMDB ({exc})") from None


def record_count(role, path):
    with _opened(role, path) as env:
        return env.stat()["entries"]


def _samples(txn, count):
    """The first records, some spread through the database (found by create_db's zero-padded keys,
    when it has them: an LMDB cannot seek by position) and the last."""
    cursor = txn.cursor()
    seen = set()
    for key, value in cursor:
        seen.add(key)
        yield key, value
        if len(seen) >= SAMPLES:
            break
    for i in range(1, SAMPLES):
        key = b"%08d" % (count * i // SAMPLES)
        value = None if key in seen else txn.get(key)
        if value is not None:
            seen.add(key)
            yield key, value
    if cursor.last() and cursor.key() not in seen:
        yield cursor.key(), cursor.value()


def _every(txn, progress):
    for key, value in txn.cursor():
        yield key, value
        if progress:
            progress()


def _consistent(role, path, describe, full, progress):
    """(shape of the first record, whether it is encoded), once every record (full) or a sample of
    them parsed as a Datum of that same shape."""
    first = None
    with _opened(role, path) as env, env.begin(buffers=False) as txn:
        records = _every(txn, progress) if full else _samples(txn, env.stat()["entries"])
        for key, value in records:
            where = f"{db_name(role)}, record {key.decode(errors='backslashreplace')!r}"
            try:
                datum = parse_datum(value)
                shape = describe(datum)
            except DatumError as exc:
                raise PrebuiltError(role, f"{where}: {exc}") from None
            if first is None:
                first = (shape, bool(datum.encoded))
            elif shape != first[0]:
                raise PrebuiltError(role, f"{where} is {shape} but the first record is {first[0]}")
    return first


def check_split(split, images, labels, full=False, progress=None):
    """({"db", "labels_db", "count"}, ImageShape, encoded, LabelShape) of one split's databases."""
    images_role, labels_role = f"{split}_images", f"{split}_labels"
    count = record_count(images_role, images)
    labels_count = record_count(labels_role, labels)
    if not count:
        raise PrebuiltError(images_role, f"{db_name(images_role)} has no records")
    if labels_count != count:
        raise PrebuiltError(labels_role, f"{db_name(images_role)} has {count} records but "
                                         f"{db_name(labels_role)} has {labels_count}")
    image, encoded = _consistent(images_role, images, image_shape, full, progress)
    label, _ = _consistent(labels_role, labels, label_shape, full, progress)
    return {"db": images, "labels_db": labels, "count": count}, image, encoded, label


def check_mean(path, image):
    """The mean as load_mean returns it (C×H×W RGB); it must have the images' shape."""
    try:
        mean = load_mean(path)
    except (OSError, ValueError) as exc:
        raise PrebuiltError("mean_file", str(exc)) from None
    channels, height, width = mean.shape
    if ImageShape(height, width, channels) != image:
        raise PrebuiltError("mean_file", f"the mean file is {ImageShape(height, width, channels)} "
                                         f"but the images are {image}")
    return mean


def analyze(paths, mean_file=None, full=False, progress=None):
    """paths: {split: (images_db, labels_db)}, train first → dataset.json's facts (its mean_file
    aside). full=False reads a few records of each database, full=True every one."""
    facts, first = {"kind": "generic", "num_classes": None, "splits": {}}, None
    for split, (images, labels) in paths.items():
        info, image, encoded, label = check_split(split, images, labels, full, progress)
        if first is None:
            first = image, label
            facts.update(image_dims=list(image), encoded=encoded, label_dims=[label.length],
                         label_dtype=label.dtype)
        elif image != first[0]:
            raise PrebuiltError(f"{split}_images", f"{split} images are {image} but train images are {first[0]}")
        elif label != first[1]:
            raise PrebuiltError(f"{split}_labels",
                                f"each {split} label is {label} but each train label is {first[1]}")
        facts["splits"][split] = info
    if mean_file:
        check_mean(mean_file, first[0])
    return facts
