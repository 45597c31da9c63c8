"""The Explore page of a detection dataset: a page of a split's stored images with their boxes drawn over
them (SVG, class names, DontCare regions dashed).

    GET /datasets/images/detection/explore[.json]?job_id=ID&db=train|val&page=0&size=24
"""
from flask import Blueprint, jsonify, render_template

from digits.dataset.datum import parse_datum
from digits.dataset.images.classification.job import data_uri
from digits.dataset.images.detection import boxes
from digits.dataset.images.explore import requested_page
from digits.extensions.view.bounding_boxes import color
from digits.utils.routing import wants_json

blueprint = Blueprint("datasets_images_detection", __name__)
EXPLORE_URL = "/datasets/images/detection/explore"
DONTCARE_COLOR = "#adb5bd"


def _rows(value):
    return boxes.from_datum(parse_datum(value))


def _drawn(rows, labels):
    drawn = []
    for class_id, x1, y1, x2, y2 in rows.tolist():
        class_id = int(class_id)
        name = labels[class_id] if class_id < len(labels) else str(class_id)
        drawn.append({"class_id": class_id, "label": name, "box": [x1, y1, x2, y2], "dontcare": class_id == 0,
                      "color": DONTCARE_COLOR if class_id == 0 else color(name, labels)})
    return drawn


@blueprint.route(EXPLORE_URL)
@blueprint.route(EXPLORE_URL + ".json")
def explore():
    page = requested_page("boxes", "an object detection dataset", _rows)
    images = [{"index": index, "src": data_uri(data), "boxes": _drawn(rows, page.labels)}
              for index, data, rows in page.records]
    if wants_json():
        return jsonify(page.reply(images=images))
    return render_template("datasets/images/detection/explore.html",
                           **page.context(images=images, url=EXPLORE_URL, kind="detection"))
