"""The bounding-box view (DIGITS' "image-bounding-boxes", the detection task type's default): each
detection's box with its class and score drawn over the image it was found in (an SVG over the
original image, whose pixels the boxes are in), a confidence threshold the user moves (static/js/
bbox-view.js hides the boxes and table rows scoring below it, in the page), and a table of detections.

The page starts at DEFAULT_THRESHOLD (detection models' default postprocess threshold): the JSON answer
holds every detection at or above the request's threshold, which is 0 unless asked."""
import base64
import io

import PIL.Image

from digits.extensions.view import ViewExtension

DEFAULT_THRESHOLD = 0.5
# one colour per class id (cycled), readable on photos: Tableau 10
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")


def image_size(data_uri):
    """(width, height) of a PNG/JPEG data URI, or None (no image, or not one PIL reads)."""
    if not data_uri or "," not in data_uri:
        return None
    try:
        with PIL.Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))) as image:
            return image.size
    except (ValueError, OSError):
        return None


def color(label, labels):
    index = labels.index(label) if label in labels else sum(map(ord, str(label)))
    return PALETTE[index % len(PALETTE)]


def boxes(result, labels=()):
    """The result's detections, best first, each with its colour."""
    found = sorted(result.get("detections") or [], key=lambda d: -d["score"])
    return [dict(d, color=color(d["label"], list(labels))) for d in found]


class BoundingBoxes(ViewExtension):
    extension_id = "image-bounding-boxes"
    title = "Bounding boxes"
    task_types = ("detection",)
    wants_input_image = True     # for a detection model: the original image, which its boxes are in

    def json(self, result, context):
        per_label = {}
        for detection in result.get("detections") or []:
            per_label[detection["label"]] = per_label.get(detection["label"], 0) + 1
        return {"bounding_boxes": {"count": sum(per_label.values()), "per_label": per_label}}

    def page_data(self, result, context):
        drawn = boxes(result, context.get("labels") or [])
        size = image_size(context.get("input_image"))
        if size is None:   # no image: a blank canvas holding every box
            size = (max([1.0] + [d["box"][2] for d in drawn]), max([1.0] + [d["box"][3] for d in drawn]))
        width, height = size
        return {"boxes": drawn, "image": context.get("input_image"), "width": width, "height": height,
                "threshold": DEFAULT_THRESHOLD, "font_size": max(8, round(max(width, height) / 40)),
                "id": f"bbox-{context.get('index', 0)}"}


VIEW = BoundingBoxes()
