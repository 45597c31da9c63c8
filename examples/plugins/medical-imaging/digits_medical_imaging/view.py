"""The mask-over-image view ("medical-mask-overlay", the default of models trained on medical-imaging
datasets): the image with the predicted object tinted and its outline drawn, and the object's area.

JSON keys: "overlay_png" (a PNG data URI of the image with the mask drawn over it, at the image's size)
and "object_pixels" / "object_percent" (the predicted object's area)."""
import base64

import numpy as np
from flask import render_template_string

from digits.extensions.view import ViewExtension
from digits.utils.image import LoadImageError, decode_image_bytes, encode_image, resize_image, to_array

TINT, ALPHA = np.array([255, 0, 0], dtype=np.float64), 0.35
TEMPLATE = """
<div class="view-medical-mask-overlay" data-view="{{ view.extension_id }}">
  <img src="{{ data.overlay_png }}" id="overlay-{{ context.index }}" alt="predicted mask over the image"
       style="width: 256px; height: auto; image-rendering: pixelated" class="border">
  <p class="small mt-1">{{ name }}: {{ data.object_pixels }} pixels ({{ "%.1f"|format(data.object_percent) }}% of the image)</p>
</div>"""


def _image(data_uri, shape):
    """The input image as RGB at the mask's shape (gray when there is none)."""
    try:
        image = to_array(decode_image_bytes(base64.b64decode(data_uri.partition(",")[2])), 3)
        return image if image.shape[:2] == shape else resize_image(image, *shape, resize_mode="squash")
    except (LoadImageError, ValueError, TypeError, AttributeError):
        return np.full(shape + (3,), 128, dtype=np.uint8)


def overlay(image, mask):
    """uint8 RGB: the object tinted, its outline (object pixels with a background neighbour) in full colour."""
    inside = mask > 0
    padded = np.pad(inside, 1, mode="edge")
    edge = inside & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    out = image.astype(np.float64)
    out[inside] = (1 - ALPHA) * out[inside] + ALPHA * TINT
    out[edge] = TINT
    return np.rint(out).astype(np.uint8)


class MaskOverlay(ViewExtension):
    extension_id = "medical-mask-overlay"
    title = "Mask over the image"
    task_types = ("segmentation",)
    wants_input_image = True

    def json(self, result, context):
        mask = (result.get("segmentation") or {}).get("mask")
        if mask is None:
            return {}
        mask = np.asarray(mask, dtype=np.uint8)
        png = encode_image(overlay(_image(context.get("input_image") or "", mask.shape), mask), "png")
        pixels = int((mask > 0).sum())
        return {"overlay_png": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                "object_pixels": pixels, "object_percent": 100.0 * pixels / max(1, mask.size)}

    def fragment(self, result, context):
        data = self.json(result, context)
        if not data:
            return "<p class='text-muted'>Not a segmentation model's answer: it has no mask.</p>"
        classes = (result.get("segmentation") or {}).get("classes") or ["", "object"]
        return render_template_string(TEMPLATE, view=self, context=context, data=data, name=classes[-1])
