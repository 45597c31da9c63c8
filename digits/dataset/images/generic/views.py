"""Routes: the new generic image dataset form and its creation (HTML + REST)."""
import os
import shutil

from flask import Blueprint, jsonify, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from digits.auth import current_user, login_required
from digits.dataset.images.generic.forms import GenericImageDatasetForm, plan
from digits.dataset.images.generic.job import MEAN_FILE, NEW_URL, GenericImageDatasetJob
from digits.job import new_job_id
from digits.quota import check_waiting
from digits.utils.forms import FieldError, form_data_dict
from digits.utils.routing import config, form_errors_response, get_job_or_404, scheduler, wants_json_reply

blueprint = Blueprint("datasets_images_generic", __name__)
TEMPLATE_DIR = "datasets/images/generic"


@blueprint.route(NEW_URL)
@login_required
def new():
    formdata, clone_id = None, request.args.get("clone")
    if clone_id:   # the form as the source job was submitted, under a new name
        source = get_job_or_404(clone_id, "datasets")
        name = source.form_data.get("dataset_name", source.name)
        formdata = MultiDict(dict(source.form_data, dataset_name=f"{name} (clone)"))
    return render_template(f"{TEMPLATE_DIR}/new.html", form=GenericImageDatasetForm(formdata=formdata))


@blueprint.route("/datasets/images/generic", methods=["POST"])
@blueprint.route("/datasets/images/generic.json", methods=["POST"])
@login_required
def create():
    form, cfg = GenericImageDatasetForm(), config()
    try:
        if not form.validate():
            return _form_failed(form)
        params, mean = plan(form, cfg["allowed_roots"])   # reads a few records: fast, nothing written
    except FieldError as exc:
        exc.attach_to(form)
        return _form_failed(form)
    check_waiting(scheduler(), current_user())
    job = GenericImageDatasetJob.create(
        cfg["jobs_dir"], form.dataset_name.data.strip(), current_user(), (form.group_name.data or "").strip(),
        form_data_dict(request.form), params, job_id=new_job_id())
    _make_folder(job, mean)
    reply = job.summary()   # as created ("Initialized"), like DIGITS' reply
    scheduler().add_job(job)   # when job.json cannot be written, this removes the job's folder
    if not wants_json_reply():
        return redirect(job.page_url())
    return jsonify({key: reply[key] for key in ("id", "name", "status")})


def _make_folder(job, mean):
    """The job's folder with its copy of the mean file, made whole under a hidden name (never loaded
    as a job) and renamed into place, so that a failed copy (a full disk: 507) leaves nothing."""
    staging = os.path.join(job.jobs_dir, f".new-{job.id}")
    try:
        os.makedirs(staging)
        if mean:
            shutil.copyfile(mean, os.path.join(staging, MEAN_FILE))
        os.rename(staging, job.dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)   # only there when something failed


def _form_failed(form):
    if wants_json_reply():
        return form_errors_response(form)
    return render_template(f"{TEMPLATE_DIR}/new.html", form=form), 400
