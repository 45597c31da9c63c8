"""Routes: new-dataset form, creation (HTML + REST), and the Explore page of a dataset's DBs."""
import os
import shutil
import time

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from digits.auth import current_user, login_required
from digits.dataset import files
from digits.dataset.images.classification.forms import ImageClassificationDatasetForm
from digits.dataset.images.classification.job import NEW_URL, ImageClassificationDatasetJob, data_uri
from digits.dataset.images.classification.extension import classification_extension
from digits.job import new_job_id
from digits.quota import check_waiting
from digits.utils.forms import FieldError, form_data_dict
from digits.utils.routing import (config, form_errors_response, get_job_or_404, json_error, scheduler, wants_json,
                                  wants_json_reply)

blueprint = Blueprint("datasets_images_classification", __name__)
TEMPLATE_DIR = "datasets/images/classification"
EXPLORE_SIZES = (10, 25, 50, 100)


@blueprint.route(NEW_URL)
@login_required
def new():
    form = ImageClassificationDatasetForm(formdata=None)
    clone_id = request.args.get("clone")
    if clone_id:
        source = get_job_or_404(clone_id, "datasets")
        data = dict(source.form_data)
        data["dataset_name"] = f"{data.get('dataset_name', source.name)} (clone)"
        form = ImageClassificationDatasetForm(formdata=MultiDict(data))
    return render_template(f"{TEMPLATE_DIR}/new.html", form=form)


@blueprint.route("/datasets/images/classification", methods=["POST"])
@blueprint.route("/datasets/images/classification.json", methods=["POST"])
@login_required
def create():
    form = ImageClassificationDatasetForm()
    if not form.validate():
        return _form_failed(form)
    check_waiting(scheduler(), current_user())
    cfg = config()
    _remove_stale_staging(cfg["jobs_dir"])
    job_id = new_job_id()
    # Uploads land in a hidden staging folder (never loaded as a job) until everything checks out.
    staging = os.path.join(cfg["jobs_dir"], f".new-{job_id}")
    os.makedirs(staging)
    try:
        params = classification_extension().plan(form, dict(cfg, staging_dir=staging))
        job = ImageClassificationDatasetJob.create(
            cfg["jobs_dir"], form.dataset_name.data.strip(), current_user(), (form.group_name.data or "").strip(),
            form_data_dict(request.form), params, job_id=job_id)
        os.rename(staging, job.dir)
    except FieldError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        exc.attach_to(form)
        return _form_failed(form)
    except BaseException:   # a full disk too (507): no staging folder is left behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    created = job.summary()  # as created ("Initialized"), like DIGITS' reply
    scheduler().add_job(job)   # when job.json cannot be written, this removes the job's folder
    if wants_json_reply():
        return jsonify({"id": job.id, "name": job.name, "status": created["status"]})
    return redirect(job.page_url())


def _remove_stale_staging(jobs_dir, max_age=24 * 3600):
    """Staging folders of requests that never finished (server killed mid-upload)."""
    now = time.time()
    for name in os.listdir(jobs_dir):
        path = os.path.join(jobs_dir, name)
        try:
            if name.startswith(".new-") and now - os.stat(path).st_mtime > max_age:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _form_failed(form):
    if wants_json_reply():
        return form_errors_response(form)
    return render_template(f"{TEMPLATE_DIR}/new.html", form=form), 400


def _int_arg(name, default, minimum=0):
    value = request.args.get(name, "")
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        abort(400, description=f"{name} must be an integer, got {value!r}")
    if number < minimum:
        abort(400, description=f"{name} must be at least {minimum}")
    return number


@blueprint.route("/datasets/images/classification/explore")
@blueprint.route("/datasets/images/classification/explore.json")
def explore():
    job_id = request.args.get("job_id")
    if not job_id:
        abort(400, description="job_id is required")
    job = get_job_or_404(job_id, "datasets")
    if not isinstance(job, ImageClassificationDatasetJob):
        abort(404, description=f"{job_id} is not an image classification dataset")
    db = request.args.get("db", "train")
    if db not in files.SPLITS:
        abort(400, description=f"db must be one of {', '.join(files.SPLITS)}")
    if db not in job.info().get("splits", {}):
        abort(404, description=f"dataset {job.name!r} has no {db} database (yet)")
    page = _int_arg("page", 0)
    size = min(_int_arg("size", 25, 1), max(EXPLORE_SIZES))
    label = _int_arg("label", None) if request.args.get("label", "") != "" else None
    labels = job.labels()
    if label is not None and label >= len(labels):
        abort(400, description=f"label must be below {len(labels)}")
    import lmdb

    from digits.dataset.reader import read_records
    try:
        total, records = read_records(job.path(f"{db}_db"), page * size, size, label)
    except (OSError, lmdb.Error) as exc:  # deleted or damaged on disk after the job finished
        current_app.logger.warning("explore %s/%s_db: %s", job.id, db, exc)
        abort(404, description=f"the {db} database of dataset {job.name!r} is missing or unreadable "
                               "on the server; create the dataset again (Clone) to rebuild it")
    images = [{"key": key, "label": lab, "label_name": labels[lab] if lab < len(labels) else str(lab),
               "src": data_uri(data)} for key, lab, data in records]
    pages = max(1, -(-total // size))
    if wants_json():
        return jsonify({"job_id": job.id, "db": db, "page": page, "size": size, "label": label,
                        "total": total, "pages": pages, "images": images})
    return render_template(f"{TEMPLATE_DIR}/explore.html", job=job, db=db, page=page, size=size,
                           label=label, labels=labels, total=total, pages=pages, images=images,
                           sizes=EXPLORE_SIZES, splits=list(job.info().get("splits", {})))


@blueprint.route("/datasets/images/classification/<job_id>/skipped.json")
def skipped(job_id):
    """The full report of files left out (dataset.json 'skipped'), for datasets with many of them."""
    job = get_job_or_404(job_id, "datasets")
    if not isinstance(job, ImageClassificationDatasetJob):
        return json_error(f"{job_id} is not an image classification dataset", 404)
    return jsonify({"job_id": job.id, "skipped": job.info().get("skipped", [])})
