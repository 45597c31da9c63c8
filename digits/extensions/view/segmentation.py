"""The segmentation view ("image-segmentation", the segmentation task type's default): the mask painted
with the model's colormap over the image it was made for (a PNG of the colour mask drawn over the
original image: the mask is at its size), an opacity slider (static/js/seg-view.js, in the page), a legend
of the classes with their colours and share of the pixels, and for a labelled input (infer_db on a
segmentation dataset) the per-class IoU against its label image.

Its JSON keys (docs/segmentation.md §3): "mask_png", the colour mask as the server paints it (a PNG data
URI at the input image's size: what examples/semantic-segmentation/use_archive.py writes), and
"pixels_per_class" (pixels of each class id in the mask)."""
import numpy as np

from digits.extensions.view import ViewExtension
from digits.inference.masks import colormap_for, mask_png, pixels_per_class

DEFAULT_OPACITY = 0.5
SHOWN_SIDE = 256   # a smaller image is shown enlarged (whole times, pixelated) so its mask can be seen


def _hex(rgb):
    return "#%02x%02x%02x" % tuple(rgb)


def _painted(result):
    """(mask array, class names, colormap) of a result, or None when it has no mask."""
    segmentation = result.get("segmentation") or {}
    if segmentation.get("mask") is None:
        return None
    mask = np.asarray(segmentation["mask"], dtype=np.uint8)
    classes = list(segmentation.get("classes") or [])
    count = max(len(classes), int(mask.max()) + 1 if mask.size else 0)
    classes += [f"class{i}" for i in range(len(classes), count)]
    return mask, classes, colormap_for(segmentation.get("colormap"), count)


class Segmentation(ViewExtension):
    extension_id = "image-segmentation"
    title = "Segmentation"
    task_types = ("segmentation",)
    wants_input_image = True     # for a segmentation model: the original image, which its mask is at

    def json(self, result, context):
        painted = _painted(result)
        if painted is None:
            return {}
        mask, classes, colormap = painted
        return {"mask_png": mask_png(mask, colormap), "pixels_per_class": pixels_per_class(mask, len(classes))}

    def page_data(self, result, context):
        painted = _painted(result)
        data = {"id": f"seg-{context.get('index', 0)}", "image": context.get("input_image"),
                "opacity": DEFAULT_OPACITY, "mask_png": None, "legend": [], "iou": [], "miou": result.get("mIoU"),
                "label_error": result.get("label_error")}
        if painted is None:
            return data
        mask, classes, colormap = painted
        height, width = mask.shape
        zoom = max(1, SHOWN_SIDE // max(width, height, 1))
        pixels = pixels_per_class(mask, len(classes))
        data.update(mask_png=mask_png(mask, colormap), width=width, height=height, shown_width=width * zoom,
                    shown_height=height * zoom,
                    legend=[{"id": i, "name": name, "color": _hex(colormap[i]), "pixels": pixels[i],
                             "percent": 100.0 * pixels[i] / max(1, mask.size)} for i, name in enumerate(classes)])
        data["iou"] = [dict(data["legend"][i], iou=value)
                       for i, value in enumerate(result.get("iou_per_class") or []) if i < len(classes)]
        return data


VIEW = Segmentation()
