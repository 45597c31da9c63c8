"""Label images → class ids (docs/segmentation.md §1), DIGITS' two colormap methods:

    "label"     palette (P) or grayscale (L, or 1-bit) label images: the pixel value is the class id — a
                palette image's index (PASCAL VOC's labels), a grayscale image's gray level. The classes'
                colours are the first label image's palette (grayscale labels: PASCAL VOC's colours); every
                palette image must give the indices it uses the same colours as the first one (DIGITS
                demanded one palette).
                Value 255 is "ignore" (PASCAL VOC marks object borders so).
    "textfile"  RGB label images and a colormap file: a pixel of colour colormap[i] is class i; every
                colour of a label must be in the colormap (there is no ignore colour).

    open_label(path) -> PIL image in its own mode          LoadImageError saying why it cannot be read
    palette_rows(image) -> [[r, g, b]] | None              a palette image's colours (None: no palette)
    Scheme(method, palette, colormap, num_classes)
        .class_ids(image) -> uint8 H×W                     LabelError saying why the label cannot be used
        .colormap(num_classes) -> [[r, g, b]]              the colour of each class (dataset.json)
num_classes None (while the classes are being counted) accepts any id.
"""
import io

import numpy as np
import PIL.Image

from digits.utils.image import LoadImageError

IGNORE = 255
GRAYSCALE_MODES = ("L", "1")
RGB_MODES = ("RGB", "RGBA", "P", "L")   # what "textfile" converts to RGB colours
MAX_LISTED = 5


class LabelError(ValueError):
    """The label image cannot be used; the message says why."""


def open_label(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
        image = PIL.Image.open(io.BytesIO(data))
        image.load()   # a truncated file fails here, not half-read
    except OSError as exc:
        raise LoadImageError(f"cannot read label image {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except (PIL.Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise LoadImageError(f"cannot read label image {path}: {exc}") from None
    return image


def palette_rows(image):
    if image.mode != "P":
        return None
    flat = image.getpalette() or []
    return [flat[i:i + 3] for i in range(0, len(flat) - 2, 3)]


def _values(values, counts):
    return ", ".join(f"{v} ({c} px)" for v, c in list(zip(values, counts))[:MAX_LISTED]) + \
        (", …" if len(values) > MAX_LISTED else "")


def _rgb(row):
    return "(" + ", ".join(str(v) for v in row) + ")"


class Scheme:
    """How one dataset's label images map to class ids. palette: the first label image's palette rows
    ("label" method; None: grayscale labels); colormap: the colormap file's rows ("textfile")."""

    def __init__(self, method, palette=None, colormap=None, num_classes=None):
        self.method, self.palette, self.rgb_colormap, self.num_classes = method, palette, colormap, num_classes

    def class_ids(self, image):
        if self.method == "textfile":
            return self._from_colours(image)
        if image.mode == "P":
            return self._from_palette(image)
        if image.mode in GRAYSCALE_MODES:
            if self.palette is not None:
                raise LabelError("a grayscale label image, but the label images are palette images (the first "
                                 "one has a palette): all label images must be of one kind")
            return self._checked(np.asarray(image, dtype=np.uint8), "gray level")
        raise LabelError(f"a {image.mode} image: with colormap method \"label\" the label images must be palette "
                         "or grayscale images whose pixel values are class ids (for RGB labels choose the "
                         "colormap text file method)")

    def _checked(self, ids, what, limit=None):
        """ids, once every value (but IGNORE) is below limit and a class."""
        values, counts = np.unique(ids, return_counts=True)
        keep = values != IGNORE
        values, counts = values[keep], counts[keep]
        for top, problem in ((limit, f"in its palette ({limit} colours)"),
                             (self.num_classes, f"a class: the classes are 0–{(self.num_classes or 0) - 1}, and "
                                                f"{IGNORE} means ignore")):
            bad = values >= top if top is not None else None
            if bad is not None and bad.any():
                verb = "is" if bad.sum() == 1 else "are"
                raise LabelError(f"{what} {_values(values[bad], counts[bad])} {verb} not {problem}")
        return ids

    def _from_palette(self, image):
        if self.palette is None:
            raise LabelError("a palette label image, but the label images are grayscale (the first one is): all "
                             "label images must be of one kind")
        own = palette_rows(image)
        ids = self._checked(np.asarray(image, dtype=np.uint8), "palette index", len(own))
        for index in np.unique(ids).tolist():
            if index == IGNORE:
                continue
            if index >= len(self.palette):
                raise LabelError(f"palette index {index} is not in the first label image's palette "
                                 f"({len(self.palette)} colours)")
            if own[index] != self.palette[index]:
                raise LabelError(f"palette index {index} is {_rgb(own[index])} here but {_rgb(self.palette[index])} "
                                 "in the first label image: all label images must give a class the same colour")
        return ids

    def _from_colours(self, image):
        if image.mode not in RGB_MODES:
            raise LabelError(f"a {image.mode} image: with a colormap file the label images must be RGB images")
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
        codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        table = np.asarray([(r << 16) | (g << 8) | b for r, g, b in self.rgb_colormap], dtype=np.uint32)
        order = np.argsort(table)
        found = np.clip(np.searchsorted(table[order], codes), 0, len(table) - 1)
        known = table[order][found] == codes
        if not np.all(known):
            values, counts = np.unique(codes[~known], return_counts=True)
            listed = [_rgb([v >> 16, (v >> 8) & 255, v & 255]) for v in values.tolist()]
            raise LabelError(f"{len(values)} colour(s) not in the colormap file: {_values(listed, counts)}")
        return order[found].astype(np.uint8)

    def colormap(self, num_classes):
        if self.method == "textfile":
            return [list(row) for row in self.rgb_colormap[:num_classes]]
        if self.palette is None:   # gray levels 0, 1, 2… would all paint black: PASCAL's colours instead
            from digits.inference.masks import default_colormap
            return default_colormap(num_classes)
        return [list(self.palette[i]) if i < len(self.palette) else [0, 0, 0] for i in range(num_classes)]
