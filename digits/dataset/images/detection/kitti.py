"""KITTI label files (the format DIGITS' object detection datasets read): one text file per image, named
after the image's stem, one object per line of 15 space-separated columns

    type truncated occluded alpha x1 y1 x2 y2 height width length x y z rotation_y

and a 16th, score, in detector results (tolerated). x1 y1 x2 y2 is the 2D box in the image's pixels;
type "DontCare" marks a region where objects were not labelled. Only the type and the box make a
dataset's labels; the other columns are read (and must be numbers) but not stored.

    read_file(path) -> (objects, problems)   KittiObjects, and what makes the file unusable (line by line)
    parse(text) -> (objects, problems)
    format_object(name, box, truncated=0, occluded=0, alpha=0) -> one line (for writing test data)
"""
from collections import namedtuple

COLUMNS = ("type", "truncated", "occluded", "alpha", "x1", "y1", "x2", "y2", "height", "width", "length",
           "x", "y", "z", "rotation_y")
SCORE_COLUMNS = len(COLUMNS) + 1
DONTCARE = "dontcare"
LABEL_EXTENSION = ".txt"

KittiObject = namedtuple("KittiObject", "name truncated occluded alpha box line")
KittiObject.__doc__ = "name: the type lower-cased (as DIGITS matched it); box: (x1, y1, x2, y2); line: 1-based"


def read_file(path):
    try:
        with open(path, encoding="utf-8-sig") as f:   # a BOM must not become part of the first type
            text = f.read()
    except UnicodeDecodeError:
        return [], ["not a text file (not UTF-8)"]
    except OSError as exc:
        return [], [f"cannot read it: {exc.strerror or exc}"]
    return parse(text)


def parse(text):
    objects, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (len(COLUMNS), SCORE_COLUMNS):
            problems.append(f"line {number}: {len(fields)} columns, expected {len(COLUMNS)} "
                            f"(or {SCORE_COLUMNS} with a score)")
            continue
        try:
            values = [float(v) for v in fields[1:len(COLUMNS)]]
        except ValueError:
            bad = next(name for name, v in zip(COLUMNS[1:], fields[1:]) if not _is_number(v))
            problems.append(f"line {number}: column {bad} is {fields[COLUMNS.index(bad)]!r}, not a number")
            continue
        truncated, occluded, alpha, x1, y1, x2, y2 = values[:7]
        objects.append(KittiObject(fields[0].lower(), truncated, int(occluded), alpha, (x1, y1, x2, y2), number))
    return objects, problems


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_object(name, box, truncated=0.0, occluded=0, alpha=0.0):
    x1, y1, x2, y2 = box
    return (f"{name} {truncated:.2f} {int(occluded)} {alpha:.2f} {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} "
            "0.00 0.00 0.00 0.00 0.00 0.00 0.00")
