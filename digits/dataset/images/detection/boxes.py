"""The box labels of a detection dataset (docs/detection.md §1), torch-free: the one module that writes and
reads the <split>_labels_db records.

A record is a caffe Datum with channels=1, height=n, width=5 and float_data the n rows
[class_id, x1, y1, x2, y2], row-major, in the stored image's pixels (x2 > x1, y2 > y1); n may be 0
(then float_data is empty). Class 0 is DontCare.

    to_datum_bytes(rows) -> bytes            a record
    from_datum(datum) -> n×5 float32 array   a parsed record back (digits.dataset.datum.parse_datum)
    clean(rows, width, height, names) -> (rows, notes)
        boxes clipped to the image; inverted, empty or wholly outside ones dropped; a note for each
    BoxStats                                 per-class counts, sizes (sqrt(w·h)) and the most boxes of
                                             one image, as dataset.json "boxes" and "max_boxes" hold them
"""
import math

import numpy as np

from digits.proto import caffe_pb2

COLUMNS = 5
HISTOGRAM_BINS = 16
CLIP_TOLERANCE = 1e-3   # pixels: float rounding of a box scaled to the image's edge is no news


def to_datum_bytes(rows):
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, COLUMNS)
    datum = caffe_pb2.Datum(channels=1, height=len(rows), width=COLUMNS)
    datum.float_data.extend(rows.ravel().tolist())
    return datum.SerializeToString()


def from_datum(datum):
    n = datum.height
    if datum.width not in (COLUMNS, 0) or len(datum.float_data) != n * COLUMNS:
        raise ValueError(f"not a box record: {datum.channels}×{n}×{datum.width} with {len(datum.float_data)} "
                         f"values (expected 1×n×{COLUMNS})")
    return np.asarray(datum.float_data, dtype=np.float32).reshape(n, COLUMNS)


def _fmt(box):
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"


def clean(rows, width, height, names=None):
    """rows: n×5 [class, x1, y1, x2, y2] in an image of width×height; names[i] is how a note calls row i."""
    kept, notes = [], []
    for i, row in enumerate(np.asarray(rows, dtype=np.float64).reshape(-1, COLUMNS)):
        name = names[i] if names else f"box {i + 1}"
        box = row[1:]
        x1, y1, x2, y2 = box
        if not np.all(np.isfinite(box)):
            notes.append(f"{name}: coordinates {_fmt(box)} are not finite numbers; left out")
        elif x2 < x1 or y2 < y1:
            notes.append(f"{name}: {'x2 < x1' if x2 < x1 else 'y2 < y1'} in {_fmt(box)}; left out")
        elif x2 == x1 or y2 == y1:
            notes.append(f"{name}: empty box {_fmt(box)}; left out")
        elif x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            notes.append(f"{name}: box {_fmt(box)} is outside the {width}×{height} image; left out")
        else:
            clipped = np.clip(box, 0, [width, height, width, height])
            if np.any(np.abs(clipped - box) > CLIP_TOLERANCE):
                notes.append(f"{name}: box {_fmt(box)} extends past the {width}×{height} image; "
                             f"clipped to {_fmt(clipped)}")
            kept.append([row[0], *clipped])
    return np.asarray(kept, dtype=np.float32).reshape(-1, COLUMNS), notes


def sizes(rows):
    """sqrt(w·h) of the object boxes (class ≥ 1) of rows."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, COLUMNS)
    rows = rows[rows[:, 0] >= 1]
    return np.sqrt((rows[:, 3] - rows[:, 1]) * (rows[:, 4] - rows[:, 2]))


class BoxStats:
    """What one split's box records hold, added record by record."""

    def __init__(self):
        self.per_class, self.sizes, self.max_boxes = [], [], 0

    def add(self, rows):
        self.max_boxes = max(self.max_boxes, len(rows))
        for class_id in np.asarray(rows)[:, 0].astype(int) if len(rows) else ():
            self.per_class.extend([0] * (class_id + 1 - len(self.per_class)))
            self.per_class[class_id] += 1
        self.sizes.extend(sizes(rows).tolist())

    @property
    def objects(self):
        return sum(self.per_class[1:])

    def summary(self, num_classes, edges):
        per_class = self.per_class + [0] * (num_classes - len(self.per_class))
        counts = np.histogram(self.sizes, bins=edges)[0].tolist() if self.sizes else [0] * (len(edges) - 1)
        return {"per_class": per_class, "size_histogram": {"edges": edges, "counts": counts}}


def histogram_edges(largest, bins=HISTOGRAM_BINS):
    """Round bin edges from 0 past the largest size (steps of 1, 2 or 5 × a power of ten)."""
    raw = max(float(largest), 1.0) / bins
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = max(1, math.ceil(largest / step))   # numpy counts the last edge in the last bin
    return [round(i * step, 6) for i in range(count + 1)]
