"""Classify one / classify many / top N for image classification models (DIGITS' routes and JSON).

The work happens in the inference worker (digits.inference.service); these views turn form fields
into image paths, call it, and shape the answer as DIGITS did:
    classify_one.json  → {"predictions": [[label, percent], ...], "visualizations": [...]?}
    classify_many.json → {"classifications": {path: [[label, percent], ...]}, + scores with labels}
No login is needed, as in DIGITS (the API walkthrough classifies without a cookie).
"""
from flask import Blueprint, jsonify, render_template, request

from digits.inference import evaluate as scoring
from digits.inference import inputs
from digits.inference.errors import InferenceError
from digits.inference.jobs import find_model, model_spec, parse_epoch
from digits.inference.service import get_service
from digits.utils.routing import config, json_error, scheduler, wants_json

blueprint = Blueprint("models_classification_inference", __name__)


@blueprint.record_once
def _warm_up(state):
    if not state.app.config.get("TESTING"):   # test suites make many apps that never classify
        get_service().warm_up()
PREFIX = "/models/images/classification"
TOPK = 5
THUMBNAIL_ONE = 160


def _truthy(value):
    return str(value or "").strip().lower() in ("1", "true", "on", "yes", "y")


def _fail(exc):
    if wants_json():
        return json_error(str(exc), exc.status, exc.type)
    return render_template("error.html", code=exc.status, message=str(exc)), exc.status


def _named(top, labels):
    """[[class id, probability]] → DIGITS' [[label, percent]]."""
    return [[labels[i] if i < len(labels) else str(i), round(100.0 * p, 4)] for i, p in top]


def _model_and_spec():
    job = find_model(scheduler(), request.form.get("job_id") or request.args.get("job_id"))
    spec, epoch = model_spec(job, parse_epoch(request.form.get("snapshot_epoch") or request.args.get("snapshot_epoch")))
    return job, spec, epoch


def _one_image(uploads):
    """A POST uploads image_file or names image_path; DIGITS' GET (query string) can only name a path."""
    if request.method == "GET":
        if not request.args.get("image_path"):
            raise InferenceError("a GET names the image with image_path=<a file on the server>; "
                                 "POST to upload image_file", 400, "BadRequest")
        return inputs.server_image(request.args["image_path"], config()["allowed_roots"]), request.args["image_path"]
    return inputs.one_image(request, uploads, config()["allowed_roots"])


def _server_list(path):
    """The text of an image_list given as a path on the server (a GET cannot upload one)."""
    full = inputs.server_image(path, config()["allowed_roots"], field="image_list")
    with open(full, "rb") as f:
        return inputs.read_list_upload(f)


@blueprint.route(f"{PREFIX}/classify_one", methods=["GET", "POST"])
@blueprint.route(f"{PREFIX}/classify_one.json", methods=["GET", "POST"])
def classify_one():
    try:
        job, spec, epoch = _model_and_spec()
        show = _truthy(request.values.get("show_visualizations"))
        with inputs.Uploads() as uploads:
            path, shown_name = _one_image(uploads)
            result = get_service().call("classify", model=spec, images=[path], topk=TOPK, visualize=show,
                                        thumbnails=False if wants_json() else THUMBNAIL_ONE)
        entry = result["results"][0]
        if "error" in entry:
            uploaded = request.files.get("image_file")
            field = "image_file" if uploaded is not None and uploaded.filename else "image_path"
            raise InferenceError(f"{field}: {entry['error']}", 400, "ImageError")
    except InferenceError as exc:
        return _fail(exc)
    labels = job.labels()
    predictions = _named(entry["top"], labels)
    if wants_json():
        data = {"predictions": predictions, "snapshot_epoch": epoch}
        if show:
            data["visualizations"] = result.get("visualizations", [])
        return jsonify(data)
    return render_template("models/images/classification/classify_one.html", job=job, epoch=epoch,
                           image_name=shown_name, thumbnail=entry.get("thumbnail"), predictions=predictions,
                           visualizations=result.get("visualizations", []), seconds=result.get("seconds"))


def _items(job, num_classes):
    """The images of a classify-many / top-N request, from image_list (+ image_folder) or image_folder."""
    roots = config()["allowed_roots"]
    limit = inputs.positive_int(request.values.get("num_test_images"), "num_test_images")
    folder = (request.values.get("image_folder") or "").strip() or None
    upload = request.files.get("image_list")
    listed = (request.values.get("image_list") or "").strip()   # a path on the server (DIGITS' GET)
    if (upload is not None and upload.filename) or listed:
        base = inputs.folder_root(folder, roots) if folder else None
        text = inputs.read_list_upload(upload) if upload is not None and upload.filename else _server_list(listed)
        items = inputs.parse_image_list(text, roots, base, num_classes, limit)
    elif folder:
        items = inputs.folder_items(folder, roots, job.labels(), limit)
    else:
        raise InferenceError("give images: upload image_list (\"path [label]\" lines) or set image_folder",
                             400, "BadRequest")
    if not items:
        raise InferenceError("no images found to classify", 400, "BadRequest")
    if not any(item.path for item in items):
        raise InferenceError("none of the images can be read: " + "; ".join(i.error for i in items[:5]),
                             400, "BadRequest")
    return items


def _classify_items(spec, items, thumbnails):
    readable = [item for item in items if item.path]
    result = get_service().call("classify", model=spec, images=[i.path for i in readable], topk=TOPK,
                                thumbnails=thumbnails)
    for item, entry in zip(readable, result["results"]):
        item.error = entry.get("error")
        item.top = entry.get("top")
        item.thumbnail = entry.get("thumbnail")
    return result


@blueprint.route(f"{PREFIX}/classify_many", methods=["GET", "POST"])
@blueprint.route(f"{PREFIX}/classify_many.json", methods=["GET", "POST"])
def classify_many():
    try:
        job, spec, epoch = _model_and_spec()
        labels = job.labels()
        items = _items(job, len(labels) or None)
        result = _classify_items(spec, items, thumbnails=not wants_json())
    except InferenceError as exc:
        return _fail(exc)
    done = [i for i in items if getattr(i, "top", None)]
    errors = [{"path": i.name, "error": i.error} for i in items if i.error]
    data = {"classifications": {i.name: _named(i.top, labels) for i in done}, "snapshot_epoch": epoch,
            "errors": errors}
    labelled = [i for i in done if i.label is not None]
    if labelled:
        num_classes = max(len(labels), 1 + max(i.label for i in labelled),
                          1 + max(c for i in done for c, _ in i.top))
        data.update(scoring.evaluate([(i.label, [c for c, _ in i.top]) for i in labelled], num_classes),
                    labels=[labels[k] if k < len(labels) else str(k) for k in range(num_classes)],
                    ground_truths={i.name: i.label for i in labelled})
    if wants_json():
        return jsonify(data)
    return render_template("models/images/classification/classify_many.html", job=job, epoch=epoch, items=items,
                           labels=labels, data=data, seconds=result.get("seconds"))


@blueprint.route(f"{PREFIX}/top_n", methods=["POST"])
@blueprint.route(f"{PREFIX}/top_n.json", methods=["POST"])
def top_n():
    try:
        job, spec, epoch = _model_and_spec()
        labels = job.labels()
        n = inputs.positive_int(request.form.get("top_n"), "top_n", default=9)
        items = [i for i in _items(job, len(labels) or None) if i.path]
        result = get_service().call("top_n", model=spec, images=[i.path for i in items], n=n,
                                    thumbnails=not wants_json())
    except InferenceError as exc:
        return _fail(exc)
    classes = []
    for k, best in enumerate(result["classes"]):
        for entry in best:
            entry["path"] = items[entry["index"]].name
            entry["percent"] = round(100.0 * entry.pop("probability"), 4)
        classes.append({"label": labels[k] if k < len(labels) else str(k), "images": best})
    if wants_json():
        return jsonify({"top_n": n, "classes": classes, "errors": result["errors"], "snapshot_epoch": epoch})
    return render_template("models/images/classification/top_n.html", job=job, epoch=epoch, n=n, classes=classes,
                           errors=result["errors"], count=result["count"])
