"""Files of a dataset job folder: atomic writes, labels, "path label" lists and dataset.json."""
import contextlib
import fcntl
import json
import os
import re

from digits.utils.atomic import atomic_open, write_json

INFO_FILE = "dataset.json"
LABELS_FILE = "labels.txt"
MEAN_FILE = "mean.binaryproto"   # dataset.json "mean_file" as create_db writes it (Caffe's BlobProto)
SPLITS = ("train", "val", "test")
# Files parse_folder found unreadable before any split ([{"path", "reason"}]); create_db merges them
# into dataset.json's "skipped" with "split": null.
PARSE_SKIPPED_FILE = "parse_skipped.json"

_LIST_LINE = re.compile(r"^(?P<path>.*\S)\s+(?P<label>-?\d+)\s*$")


class ListFileError(ValueError):
    """A list/labels file is malformed; the message names the file and line."""


def atomic_write_bytes(path, data):
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    write_json(path, obj, pretty=True)


def read_labels(path, display_name=None):
    """Class names, one per non-empty line; the line's index among them is the label id.

    Errors name the file as display_name (e.g. an upload's own name) when given, else its path.
    """
    name = display_name or path
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.strip() for line in f]
    except OSError as exc:
        raise ListFileError(f'cannot read labels file "{name}": {exc.strerror or exc}') from exc
    except UnicodeDecodeError as exc:
        raise ListFileError(f'labels file "{name}" is not UTF-8 text') from exc
    labels = [label for label in labels if label]
    if not labels:
        raise ListFileError(f'labels file "{name}" has no labels')
    return labels


def write_labels(path, labels):
    atomic_write_text(path, "".join(f"{name}\n" for name in labels))


def parse_list_line(line):
    """'some/path 3' → ("some/path", 3); None for blank lines; ValueError if malformed."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    match = _LIST_LINE.match(text)
    if not match:
        raise ValueError(f'expected "<path> <label>", got "{text[:200]}"')
    return match.group("path"), int(match.group("label"))


def read_list(path, num_labels=None, base_folder=None, display_name=None, check_path=None):
    """Reads a "path label" list → [(path, label)].

    Relative paths are joined to base_folder when given. Labels must be in [0, num_labels).
    check_path(image_path) may raise ValueError to refuse a path (e.g. outside the allowed roots).
    Errors raise ListFileError naming the file (display_name, else path) and the line number.
    """
    name = display_name or path
    items = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    parsed = parse_list_line(line)
                except ValueError as exc:
                    raise ListFileError(f"{name} line {lineno}: {exc}") from None
                if parsed is None:
                    continue
                image_path, label = parsed
                if label < 0 or (num_labels is not None and label >= num_labels):
                    raise ListFileError(f"{name} line {lineno}: unknown label {label} "
                                        f"(the labels file has {num_labels} classes, ids 0..{num_labels - 1})")
                if base_folder and not os.path.isabs(image_path):
                    image_path = os.path.join(base_folder, image_path)
                if check_path is not None:
                    try:
                        check_path(image_path)
                    except ValueError as exc:
                        raise ListFileError(f"{name} line {lineno}: {exc}") from None
                items.append((image_path, label))
    except OSError as exc:
        raise ListFileError(f'cannot read list file "{name}": {exc.strerror or exc}') from exc
    except UnicodeDecodeError:
        raise ListFileError(f'list file "{name}" is not UTF-8 text') from None
    return items


def inside_roots(path, roots):
    """True when path (symlinks resolved) is one of roots or below one of them."""
    real = os.path.realpath(path)
    for root in roots:
        root = os.path.realpath(root)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def write_list(path, items):
    for image_path, _ in items:
        if "\n" in image_path or "\r" in image_path:
            raise ListFileError(f"image path contains a line break: {image_path!r}")
    atomic_write_text(path, "".join(f"{p} {label}\n" for p, label in items))


@contextlib.contextmanager
def _locked(path):
    # create_db for train/val/test may run at once; serialize their read-modify-write of dataset.json.
    lock_path = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_info(dataset_dir):
    path = os.path.join(dataset_dir, INFO_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f'no {INFO_FILE} in "{dataset_dir}": the dataset was not created') from None
    except json.JSONDecodeError as exc:
        raise ValueError(f'"{path}" is not valid JSON: {exc}') from None


def update_info(dataset_dir, update):
    """Applies update(info_dict) to dataset.json under a lock and writes it atomically."""
    path = os.path.join(dataset_dir, INFO_FILE)
    with _locked(path):
        info = {}
        if os.path.exists(path):
            info = read_info(dataset_dir)
        update(info)
        atomic_write_json(path, info)
    return info
