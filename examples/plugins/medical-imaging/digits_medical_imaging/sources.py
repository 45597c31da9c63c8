"""The files of a medical-imaging dataset: images (PNG, JPEG... or DICOM) and, in a folder of their own,
label files named after them — a mask image `<image stem>.<png|...>` (non-zero pixels are the object) or
contour files `<image stem>*.txt` (Sunnybrook's `IM-0001-0048-icontour-manual.txt` for the image
`IM-0001-0048.dcm`): one "x y" point per line, the outline of the object in the image's pixels. Several
label files of one image are united."""
import os

import numpy as np
import PIL.Image
import PIL.ImageDraw

from digits.utils.image import is_image_file, load_image, to_array

DICOM_SUFFIXES = (".dcm", ".dicom")


def is_dicom(name):
    return name.lower().endswith(DICOM_SUFFIXES)


def _files(folder, wanted):
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(current, n) for n in sorted(names) if not n.startswith(".") and wanted(n)]
    return found


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def pairs(params):
    """[{"path": image, "labels": [label files]}] of the images that have label files, sorted."""
    by_stem = {}
    for path in _files(params["labels"], lambda n: n.lower().endswith(".txt") or is_image_file(n)):
        name = os.path.basename(path)
        if name.lower().endswith(".txt") and params.get("contour_filter") and params["contour_filter"] not in name:
            continue
        by_stem.setdefault(_stem(path), []).append(path)
    images = _files(params["images"], lambda n: is_image_file(n) or is_dicom(n))
    found = []
    for image in images:
        stem = _stem(image)
        # a mask of the same stem, or contour files whose names start with the stem and a separator
        labels = [p for s, paths in by_stem.items() if s == stem or s.startswith(stem + "-") or s.startswith(stem + "_")
                  for p in paths]
        if labels:
            found.append({"path": image, "labels": sorted(labels)})
    return found


def read_dicom(path):
    """A DICOM image's pixels, its value range stretched to uint8 (grayscale, one frame)."""
    import pydicom   # the plugin's own dependency, loaded only for DICOM images
    pixels = np.asarray(pydicom.dcmread(path).pixel_array, dtype=np.float64)
    if pixels.ndim != 2:
        raise ValueError(f"a DICOM image of shape {pixels.shape}: one grayscale frame expected")
    low, high = float(pixels.min()), float(pixels.max())
    scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
    return np.rint(scaled).astype(np.uint8)


def read_image(path):
    return read_dicom(path) if is_dicom(path) else to_array(load_image(path), 1)


def read_contour(path):
    """[(x, y)] of a contour file; ValueError naming the line."""
    points = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                x, y = (float(v) for v in line.split()[:2])
            except ValueError:
                raise ValueError(f"{path}, line {number}: expected \"x y\", got {line.strip()[:40]!r}") from None
            points.append((x, y))
    if len(points) < 3:
        raise ValueError(f"{path}: a contour needs three points or more, it has {len(points)}")
    return points


def read_mask(labels, shape):
    """uint8 mask (0 background, 1 object) of an image's label files, at the image's shape (H, W)."""
    height, width = shape
    mask = PIL.Image.new("L", (width, height), 0)
    draw = PIL.ImageDraw.Draw(mask)
    union = np.zeros(shape, dtype=bool)
    for path in labels:
        if path.lower().endswith(".txt"):
            draw.polygon(read_contour(path), fill=1, outline=1)
            continue
        image = to_array(load_image(path), 1)
        if image.shape != shape:
            raise ValueError(f"the mask {path} is {image.shape[1]}×{image.shape[0]}, its image {width}×{height}")
        union |= image > 0
    return (np.asarray(mask, dtype=bool) | union).astype(np.uint8)
