"""The object detection data extension (DIGITS' "image-object-detection"): images and KITTI label files, or
a COCO instances file, become images of one size with [class_id, x1, y1, x2, y2] boxes (docs/detection.md).

Per image, in read(): the objects' names become class ids (classes.ClassMap); boxes are clipped to the
image, and inverted, empty or outside ones left out (boxes.clean); validation objects smaller than
val_min_box_size in width or height become DontCare (DIGITS' rule); then the image is padded and
resized (geometry.prepare) and the boxes scaled with it. What was changed is noted in the report; an
image that cannot be used (no label file, a malformed one, unreadable, larger than the padding size)
is left out with the reason.
"""
import functools
import json
from collections import Counter

import numpy as np

from digits.dataset.images.detection import boxes, geometry, sources
from digits.dataset.images.detection.classes import ClassMap
from digits.dataset.images.lazy_form import LazyFormExtension
from digits.extensions.data import SkipSample
from digits.utils.image import LoadImageError, load_image


@functools.lru_cache(maxsize=4)
def _scan(params_json, split):
    return sources.scan(json.loads(params_json)[split], split)


def _samples(params, split):
    return _scan(json.dumps(params, sort_keys=True), split)


@functools.lru_cache(maxsize=4)
def _class_map(params_json):
    params = json.loads(params_json)
    if params.get("custom_classes"):
        return ClassMap(params["custom_classes"])
    names = sources.categories(params["train"])
    if names is not None:   # COCO: the categories, in id order
        return ClassMap(["dontcare"] + [n for n in names if n.lower() != "dontcare"])
    return ClassMap.found(o[0] for s in _samples(params, "train") if not s["skip"] for o in s["objects"])


class ObjectDetectionExtension(LazyFormExtension):
    extension_id = "image-object-detection"
    title = "Object Detection"
    group = "Images"
    label_kind = "boxes"
    template = "datasets/images/detection/form.html"
    forms_module, form_name = "digits.dataset.images.detection.forms", "ObjectDetectionForm"

    def splits(self, params):
        return tuple(split for split in ("train", "val") if params.get(split))

    def samples(self, params, split):
        return _samples(params, split)

    def label_names(self, params):
        return _class_map(json.dumps(params, sort_keys=True)).names

    def info(self, params):
        return {"geometry": geometry.check(params["geometry"])}

    def read(self, params, sample):
        if sample["skip"]:
            raise SkipSample(sample["skip"])
        try:
            image = load_image(sample["path"])
        except LoadImageError as exc:
            raise SkipSample(str(exc)) from None
        rows, notes = self._boxes(params, sample, *image.size)
        try:
            array, transform = geometry.prepare(image, params["geometry"])
        except geometry.TooLarge as exc:
            raise SkipSample(f"{exc}: left out (give a larger padding size, or none)") from None
        height, width = array.shape[:2]
        rows[:, 1:] = np.clip(geometry.to_stored(rows[:, 1:], transform), 0, [width, height, width, height])
        return array, rows, notes

    def _boxes(self, params, sample, width, height):
        """The sample's rows in its original image's pixels, and the notes on what was changed."""
        classes = _class_map(json.dumps(params, sort_keys=True))
        rows, whats, unknown = [], [], Counter()
        for name, x1, y1, x2, y2, what in sample["objects"]:
            class_id, known = classes.lookup(name)
            if not known:
                unknown[name or "unknown category"] += 1
            rows.append([class_id, x1, y1, x2, y2])
            whats.append(what)
        rows, notes = boxes.clean(np.asarray(rows, dtype=np.float64).reshape(-1, boxes.COLUMNS), width, height,
                                  whats)
        rows = rows.astype(np.float64)
        if unknown:
            listed = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in sorted(unknown.items()))
            where = "in the custom classes" if params.get("custom_classes") else "among the training classes"
            notes.append(f"{sum(unknown.values())} object(s) of a class not {where}, made DontCare: {listed}")
        minimum = params.get("val_min_box_size") or 0
        if sample["split"] == "val" and minimum and len(rows):
            small = (rows[:, 0] >= 1) & ((rows[:, 3] - rows[:, 1] < minimum) | (rows[:, 4] - rows[:, 2] < minimum))
            rows[small, 0] = 0
        return rows, notes
