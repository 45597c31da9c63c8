"""The segmentation data extension (DIGITS' "image-segmentation"): a folder of feature images and a folder of
label images of the same names become images of one size with their labels as class ids, uint8 H×W,
255 = ignore (docs/segmentation.md §1).

Per sample, in read(): the feature image is loaded with the channel conversion asked; the label image of
its name is read as class ids (labels.Scheme: palette index, gray level, or RGB colour through the
colormap file); both are resized when asked (image bilinear, label nearest). A sample that cannot be
used — no label image, a label of another size than its image, a value or colour that is not a class, an
image of another size or kind than the dataset's — is left out with the reason (SkipSample).

The classes: the class labels file's lines when given, else the colormap file's; without either, the
training labels are read once to find the largest class id (class<i> names). The dataset's image size,
without a resize, is the one most of its training images have.
"""
import functools
import json
from collections import Counter

import numpy as np
import PIL.Image

from digits.dataset.images.detection.geometry import CHANNEL_CONVERSIONS
from digits.dataset.images.segmentation import labels, sources
from digits.dataset.images.lazy_form import LazyFormExtension
from digits.extensions.data import SkipSample
from digits.utils.image import LoadImageError, load_image, resize_image, to_array

GRAYSCALE_FILE_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")   # load_image makes these "L"


class Classes:
    def __init__(self, names, scheme):
        self.names, self.scheme = names, scheme
        self.colormap = scheme.colormap(len(names))


def _key(params):
    return json.dumps(params, sort_keys=True)


def _scheme(params, num_classes=None):
    return labels.Scheme(params["colormap_method"], params.get("palette"), params.get("colormap"), num_classes)


def _largest_id(params):
    """The largest class id (but ignore) in the training labels that can be read, or 0."""
    scheme, largest = _scheme(params), 0
    for sample in sources.scan(params, "train"):
        if sample["skip"]:
            continue
        try:
            ids = scheme.class_ids(labels.open_label(sample["label"]))
        except (LoadImageError, labels.LabelError):
            continue   # read() reports it
        values = np.unique(ids)
        values = values[values != labels.IGNORE]
        largest = max(largest, int(values.max())) if len(values) else largest
    return largest


@functools.lru_cache(maxsize=4)
def _classes(params_json):
    params = json.loads(params_json)
    names = params.get("class_names")
    if not names:
        count = len(params["colormap"]) if params.get("colormap") else _largest_id(params) + 1
        names = [f"class{i}" for i in range(count)]
    return Classes(names, _scheme(params, len(names)))


def _channels(params, mode):
    wanted = CHANNEL_CONVERSIONS[params["channel_conversion"]]
    return wanted or (1 if mode in GRAYSCALE_FILE_MODES else 3)


@functools.lru_cache(maxsize=4)
def _common_shape(params_json):
    """(width, height, channels) most training feature images have (read from their headers)."""
    params, shapes = json.loads(params_json), Counter()
    for sample in sources.scan(params, "train"):
        if not sample["skip"]:
            try:
                with PIL.Image.open(sample["path"]) as image:
                    shapes[image.size + (_channels(params, image.mode),)] += 1
            except (OSError, SyntaxError, ValueError):
                continue   # read() reports it
    return shapes.most_common(1)[0][0] if shapes else None


def _wh(size):
    return f"{size[0]}×{size[1]} (W×H)"


class SegmentationExtension(LazyFormExtension):
    extension_id = "image-segmentation"
    title = "Segmentation"
    group = "Images"
    label_kind = "mask"
    template = "datasets/images/segmentation/form.html"
    forms_module, form_name = "digits.dataset.images.segmentation.forms", "SegmentationForm"

    def splits(self, params):
        return ("train", "val") if params.get("val") or params.get("folder_pct_val") else ("train",)

    def samples(self, params, split):
        return sources.scan(params, split)

    def label_names(self, params):
        return _classes(_key(params)).names

    def info(self, params):
        return {"colormap": _classes(_key(params)).colormap, "resize": params.get("resize"),
                "channel_conversion": params["channel_conversion"]}

    def read(self, params, sample):
        if sample["skip"]:
            raise SkipSample(sample["skip"])
        try:
            image, label = load_image(sample["path"]), labels.open_label(sample["label"])
        except LoadImageError as exc:
            raise SkipSample(str(exc)) from None
        if label.size != image.size:
            raise SkipSample(f"its label image {sample['label']} is {_wh(label.size)}, the image {_wh(image.size)}: "
                             "a label must be of its image's size")
        channels = _channels(params, image.mode)
        self._check_shape(params, image.size, channels)
        try:
            ids = _classes(_key(params)).scheme.class_ids(label)
        except labels.LabelError as exc:
            raise SkipSample(f"label image {sample['label']}: {exc}") from None
        array = to_array(image, channels)
        if params.get("resize"):
            height, width = params["resize"]
            array = resize_image(array, height, width, resize_mode="squash")
            ids = np.asarray(PIL.Image.fromarray(ids).resize((width, height), PIL.Image.NEAREST))
        return array, ids

    def _check_shape(self, params, size, channels):
        common = _common_shape(_key(params))
        if common is None:
            return
        if not params.get("resize") and size != common[:2]:
            raise SkipSample(f"the image is {_wh(size)}, but most of the dataset's images are {_wh(common[:2])}: "
                             "give a resize size to take images of any size")
        if channels != common[2]:
            kinds = {1: "grayscale", 3: "colour"}
            raise SkipSample(f"a {kinds[channels]} image, but most of the dataset's images are {kinds[common[2]]}: "
                             "choose the channel conversion RGB or Grayscale to take both")
