"""The raw data view (DIGITS' "all-raw-data"): every output blob as numbers; a vector longer than a few
values is also drawn as a one-row heatmap (inline SVG, coloured by value), which shows its shape at a
glance where a column of numbers does not."""
import numpy as np

from digits.extensions.view import RAW_DATA, ViewExtension

HEATMAP_FROM = 9        # values: shorter vectors read fine as numbers alone
MAX_CELLS = 512         # longer vectors are drawn as the means of equal runs, so pages stay small
MAX_NUMBERS = 10000     # the page lists this many values of a blob; the JSON answer has them all
# viridis at 0, .25, .5, .75, 1: readable in grey print and by most colour-blind readers
_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float)


def _color(t):
    if not np.isfinite(t):
        return "#d0d0d0"   # NaN / inf: grey, not a colour of the scale
    position = min(max(float(t), 0.0), 1.0) * (len(_STOPS) - 1)
    low = min(int(position), len(_STOPS) - 2)
    r, g, b = _STOPS[low] + (_STOPS[low + 1] - _STOPS[low]) * (position - low)
    return f"#{round(r):02x}{round(g):02x}{round(b):02x}"


def summary(values):
    """{"shape", "min", "max", "mean"} of a blob's values (a number or nested lists)."""
    arr = np.asarray(values, dtype=np.float64)
    if not arr.size:
        return {"shape": list(arr.shape), "min": None, "max": None, "mean": None}
    return {"shape": list(arr.shape), "min": float(arr.min()), "max": float(arr.max()), "mean": float(arr.mean())}


def heatmap_cells(flat):
    """[(first index, last index, value, colour)] for a 1-D array: one per value, or per run of
    values (their mean) when there are more than MAX_CELLS."""
    runs = max(1, -(-len(flat) // MAX_CELLS))
    finite = flat[np.isfinite(flat)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = high - low or 1.0
    cells = []
    for start in range(0, len(flat), runs):
        value = float(flat[start:start + runs].mean())
        cells.append((start, min(start + runs, len(flat)) - 1, value, _color((value - low) / span)))
    return cells


class RawData(ViewExtension):
    extension_id = RAW_DATA
    title = "Raw data"

    def json(self, result, context):
        return {"raw_data": {blob: summary(values) for blob, values in (result.get("outputs") or {}).items()}}

    def page_data(self, result, context):
        blobs = []
        for blob, values in (result.get("outputs") or {}).items():
            flat = np.asarray(values, dtype=np.float64).ravel()
            blobs.append({"name": blob, **summary(values), "size": int(flat.size),
                          "numbers": flat[:MAX_NUMBERS].tolist(),
                          "cells": heatmap_cells(flat) if flat.size >= HEATMAP_FROM else []})
        return {"blobs": blobs, "max_numbers": MAX_NUMBERS}


VIEW = RawData()
