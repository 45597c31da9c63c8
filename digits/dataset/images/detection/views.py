"""The Explore page of a detection dataset: a page of a split's stored images with their boxes drawn over
them (SVG, class names, DontCare regions dashed).

    GET /datasets/images/detection/explore[.json]?job_id=ID&db=train|val&page=0&size=24
"""
import os

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from digits.dataset.datum import parse_datum
from digits.dataset.images.classification.job import data_uri
from digits.dataset.images.detection import boxes
from digits.extensions.view.bounding_boxes import color
from digits.utils.routing import get_job_or_404, wants_json

blueprint = Blueprint("datasets_images_detection", __name__)
EXPLORE_URL = "/datasets/images/detection/explore"
EXPLORE_SIZES = (12, 24, 48, 96)
DONTCARE_COLOR = "#adb5bd"


def _key(index):
    return b"%08d" % index


def read_page(job_dir, db, offset, limit):
    """(total, [(index, encoded image bytes, n×5 rows)]) of one page of a split's two databases."""
    from digits.utils.lmdb_io import readonly_env
    with readonly_env(os.path.join(job_dir, f"{db}_db")) as images, \
            readonly_env(os.path.join(job_dir, f"{db}_labels_db")) as labels:
        total = images.stat()["entries"]
        page = []
        with images.begin() as image_txn, labels.begin() as label_txn:
            for index in range(offset, min(total, offset + limit)):
                image, label = image_txn.get(_key(index)), label_txn.get(_key(index))
                if image is not None and label is not None:
                    page.append((index, bytes(parse_datum(image).data), boxes.from_datum(parse_datum(label))))
    return total, page


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
    job_id = request.args.get("job_id")
    if not job_id:
        abort(400, description="job_id is required")
    job = get_job_or_404(job_id, "datasets")
    info = job.info()
    if info.get("label_kind") != "boxes":
        abort(404, description=f"{job_id} is not an object detection dataset (or is not built yet)")
    splits = list(info.get("splits", {}))
    db = request.args.get("db", "train")
    if db not in splits:
        abort(404, description=f"dataset {job.name!r} has no {db} database (it has {', '.join(splits)})")
    page = max(0, request.args.get("page", 0, type=int))
    size = min(max(1, request.args.get("size", EXPLORE_SIZES[1], type=int)), max(EXPLORE_SIZES))
    labels = job.labels()
    import lmdb
    try:
        total, records = read_page(job.dir, db, page * size, size)
    except (OSError, ValueError, lmdb.Error) as exc:   # deleted or damaged on disk after the job finished
        current_app.logger.warning("explore %s/%s: %s", job.id, db, exc)
        abort(404, description=f"the {db} databases of dataset {job.name!r} are missing or unreadable on the "
                               "server; create the dataset again (Clone) to rebuild them")
    images = [{"index": index, "src": data_uri(data), "boxes": _drawn(rows, labels)} for index, data, rows in records]
    pages = max(1, -(-total // size))
    if wants_json():
        return jsonify({"job_id": job.id, "db": db, "page": page, "size": size, "total": total, "pages": pages,
                        "labels": labels, "images": images})
    height, width = (info.get("image_dims") or [1, 1])[:2]
    return render_template("datasets/images/detection/explore.html", job=job, db=db, page=page, size=size,
                           total=total, pages=pages, images=images, labels=labels, splits=splits,
                           sizes=EXPLORE_SIZES, width=width, height=height, url=EXPLORE_URL)
