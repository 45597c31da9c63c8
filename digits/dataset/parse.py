"""Turning a folder of class subfolders into labels + train/val/test lists (DIGITS' parse_folder).

Steps, run by classification's folder listing (digits.dataset.images.classification.folder_listing):
find_classes (walk), keep_readable (check files, cap), split_classes (drop small classes, fix the labels,
cut the splits), write_outputs.
"""
import os
import random

from digits.utils.image import is_image_file, round_half_away


class ParseError(ValueError):
    """The source folder or lists cannot make a dataset; the message says why."""

    user_error = True   # the message alone is the job's error (no code frames): see tools.common


def label_name(folder_name):
    # DIGITS shows "golden_retriever" as "golden retriever"
    return folder_name.replace("_", " ").strip()


def class_folders(folder, shown=None):
    """Sorted [(label name, path)] of the subfolders of folder. Messages call it `shown` if given."""
    shown = shown or f'folder "{folder}"'
    if not os.path.exists(folder):
        raise ParseError(f"{shown} does not exist")
    if not os.path.isdir(folder):
        raise ParseError(f"{shown} is not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ParseError(f"no read access to {shown}")
    subdirs = sorted(name for name in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, name)) and not name.startswith("."))
    return [(label_name(name), os.path.join(folder, name)) for name in subdirs]


def find_classes(folder, seed, allowed_roots=None, warn=print, on_progress=None, shown=None):
    """[(label name, image paths)] for each class subfolder, the paths shuffled reproducibly.

    Each class gets its own generator so adding/removing a class does not reshuffle the others.
    on_progress(classes done, classes) follows the walk: folders of unknown size, one step a class.
    """
    found = []
    folders = class_folders(folder, shown)
    for done, (name, path) in enumerate(folders, 1):
        paths = image_files(path, allowed_roots, warn)
        random.Random(f"{seed}:{name}").shuffle(paths)
        found.append((name, paths))
        if on_progress:
            on_progress(done, len(folders))
    return found


def keep_readable(classes, check, max_per_class=None, warn=print, on_progress=None, where=""):
    """Drops the files check(paths, on_progress=...) -> {path: reason} finds unreadable, and caps classes
    at max_per_class. Returns ([(name, paths)], skipped [{"path", "reason"}]).

    With a cap only what is needed is checked: the first max_per_class files of each class, then
    more for the classes that lost some. on_progress(done, total) counts the files checked.
    """
    pending = {name: paths for name, paths in classes}
    kept = {name: [] for name, _ in classes}
    for name, paths in classes:
        if max_per_class and len(paths) > max_per_class:
            warn(f'class "{name}"{where}: {len(paths)} images, keeping {max_per_class} (maximum per class)')
    total = sum(min(len(paths), max_per_class or len(paths)) for _, paths in classes)
    skipped, done = [], 0
    while True:
        batch = {}
        for name, paths in pending.items():
            want = max_per_class - len(kept[name]) if max_per_class else len(paths)
            if want > 0 and paths:
                batch[name], pending[name] = paths[:want], paths[want:]
        if not batch:
            break
        flat = [path for paths in batch.values() for path in paths]

        def report(n, _, base=done):
            if on_progress:
                on_progress(min(base + n, total), total)
        bad = check(flat, on_progress=report) if check else {}
        done += len(flat)
        for name, paths in batch.items():
            kept[name] += [path for path in paths if path not in bad]
        skipped += [{"path": path, "reason": bad[path]} for path in flat if path in bad]
    return [(name, kept[name]) for name, _ in classes], skipped


def image_files(folder, allowed_roots=None, warn=print):
    """Sorted absolute paths of the image files under folder (recursively, symlinks followed once).

    With allowed_roots, files whose real path (symlinks resolved) lies outside them are left out.
    """
    from digits.dataset.files import inside_roots

    outside = 0
    found = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # symlink loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if is_image_file(name) and not name.startswith("."):
                path = os.path.abspath(os.path.join(dirpath, name))
                if "\n" in path or "\r" in path:
                    continue
                if allowed_roots and not inside_roots(path, allowed_roots):
                    outside += 1
                    continue
                found.append(path)
    if outside:
        warn(f'{outside} file(s) under "{folder}" link outside the allowed folders; left out')
    found.sort()
    return found


def three_way_split(size, pct_b, pct_c):
    """(a, b) cut points so [0:a], [a:b], [b:] hold about 100-pct_b-pct_c %, pct_b %, pct_c %.

    Same rules as DIGITS, .5 rounded up like its Python 2 round(): a split that is asked for gets at
    least one item when possible.
    """
    if not (0 <= pct_b <= 100 and 0 <= pct_c <= 100 and pct_b + pct_c <= 100):
        raise ParseError(f"invalid split percentages: {pct_b}% validation + {pct_c}% test")
    pct_a = 100 - (pct_b + pct_c)
    if pct_a >= 100:
        return size, size
    if pct_b >= 100:
        return 0, size
    if pct_c >= 100:
        return 0, 0
    a = round_half_away(size * pct_a / 100.0)
    if pct_a and not a:
        a = 1
    b = round_half_away(size * pct_b / 100.0)
    if a + b > size:
        b = size - a
    if pct_b and not b:
        if a > 1:
            a, b = a - 1, 1
        elif a != size:
            b = 1
    c = size - (a + b)
    if pct_c and not c:
        if b > 1:
            b, c = b - 1, 1
        elif a > 1:
            a, c = a - 1, 1
    return a, a + b


def split_classes(classes, pct_val=25, pct_test=0, min_per_class=2, labels=None, warn=print, shown=""):
    """Cuts each class's (shuffled) paths into train/val/test.

    labels: None → the classes become the labels (in order); else a fixed label list (a separate
    validation/test folder), and classes not in it are skipped with a warning.
    Returns (labels, {"train": [(path, label)], "val": [...], "test": [...]}).
    A class with fewer than min_per_class images (or fewer than the splits it must feed) is dropped.
    """
    creating = labels is None
    min_per_class = max(1, int(min_per_class or 1))
    labels = [] if creating else list(labels)
    splits = {"train": [], "val": [], "test": []}
    # a class must be able to feed every split it is cut into
    minimum = max(min_per_class, 1 + (pct_val > 0) + (pct_test > 0) if creating else 1)
    for name, paths in classes:
        if not creating and name not in labels:
            warn(f'class "{name}" in {shown} is not among the training classes; skipped')
            continue
        if len(paths) < minimum:
            warn(f'class "{name}" has {len(paths)} readable image(s), fewer than the minimum {minimum}; '
                 "class dropped")
            continue
        if creating:
            labels.append(name)
        label = labels.index(name)
        a, b = three_way_split(len(paths), pct_val, pct_test) if creating else (len(paths), len(paths))
        splits["train"] += [(p, label) for p in paths[:a]]
        splits["val"] += [(p, label) for p in paths[a:b]]
        splits["test"] += [(p, label) for p in paths[b:]]
    if creating and len(labels) < 2:
        raise ParseError(f"{shown} has fewer than two classes with at least {minimum} readable images each")
    return labels, splits


def check_limits(min_per_class, max_per_class):
    if max_per_class is not None and max_per_class < (min_per_class or 1):
        raise ParseError(f"maximum per class ({max_per_class}) is below the minimum ({min_per_class})")


def shuffled(items, seed):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def write_outputs(job_dir, labels, splits):
    """Writes labels.txt and the non-empty <split>.txt lists; returns a summary for the task result."""
    from digits.dataset import files

    if not splits.get("train"):
        raise ParseError("no training images found")
    files.write_labels(os.path.join(job_dir, files.LABELS_FILE), labels)
    summary = {"num_classes": len(labels), "labels": labels, "splits": {}}
    for split in files.SPLITS:
        path = os.path.join(job_dir, f"{split}.txt")
        items = splits.get(split) or []
        if items:
            files.write_list(path, items)
            per_class = [0] * len(labels)
            for _, label in items:
                per_class[label] += 1
            summary["splits"][split] = {"count": len(items), "per_class": per_class}
        elif os.path.exists(path):
            os.unlink(path)  # a stale list from an earlier run must not be turned into a DB
    return summary
