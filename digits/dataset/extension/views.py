"""Routes of every data extension's dataset, by DIGITS' names:
    GET  /datasets/generic/new/<extension_id>            the extension's form (an extension with its own
                                                         new_url: a redirect there)
    POST /datasets/generic/create/<extension_id>[.json]  a new dataset → {"id", "name", "status"}
                                                         (404 for an extension with its own new_url)
"""
import functools

from flask import Blueprint, abort, jsonify, redirect, render_template, request
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import Length, Optional

from digits.auth import current_user, login_required
from digits.dataset.extension.job import ExtensionDatasetJob
from digits.extensions.data import DataExtensionError, get_extension
from digits.job import discard_on_error
from digits.quota import check_waiting
from digits.utils.forms import DataRequired, FieldError, form_data_dict
from digits.utils.routing import config, form_errors_response, get_job_or_404, scheduler, wants_json_reply

blueprint = Blueprint("datasets_generic_extension", __name__)
TEMPLATE = "datasets/generic/new.html"


def _extension(extension_id):
    try:
        return get_extension(extension_id)
    except DataExtensionError as exc:
        abort(404, description=str(exc))


@functools.lru_cache(maxsize=None)
def _form_class(extension_form):
    """The extension's fields plus the name fields every dataset has."""
    return type(f"{extension_form.__name__}WithName", (extension_form,), {
        # CSRF is enforced for browsers before any view runs (webapp); scripts post without a token
        "Meta": type("Meta", (), {"csrf": False}),
        "dataset_name": StringField("Dataset name", validators=[DataRequired(), Length(max=200)]),
        "group_name": StringField("Group name", validators=[Optional(), Length(max=200)])})


@blueprint.route("/datasets/generic/new/<extension_id>")
@login_required
def new(extension_id):
    extension = _extension(extension_id)
    if extension.new_url:   # a kind with its own pages (image classification): its form is there
        query = request.query_string.decode()   # ?clone=<id> too
        return redirect(extension.new_url + (f"?{query}" if query else ""))
    formdata, clone_id = None, request.args.get("clone")
    if clone_id:
        source = get_job_or_404(clone_id, "datasets")
        formdata = MultiDict(dict(source.form_data, dataset_name=f"{source.form_data.get('dataset_name', source.name)}"
                                                                 f" (clone)"))
    return render_template(TEMPLATE, form=_form_class(extension.form_class)(formdata=formdata), extension=extension)


@blueprint.route("/datasets/generic/create/<extension_id>", methods=["POST"])
@blueprint.route("/datasets/generic/create/<extension_id>.json", methods=["POST"])
@login_required
def create(extension_id):
    extension = _extension(extension_id)
    if extension.new_url:   # its own job kind makes its datasets; a generic job of it could not be built
        abort(404, description=f"{extension.title} datasets are not generic datasets: create them from "
                               f"{extension.new_url}")
    form = _form_class(extension.form_class)()
    if not form.validate():
        return _failed(form, extension)
    try:
        params = extension.plan(form, config())
    except FieldError as exc:
        exc.attach_to(form)
        return _failed(form, extension)
    check_waiting(scheduler(), current_user())
    jobs = []
    with discard_on_error(jobs):   # a full disk while writing the folder leaves nothing (507)
        jobs.append(ExtensionDatasetJob.create(
            config()["jobs_dir"], form.dataset_name.data.strip(), current_user(), (form.group_name.data or "").strip(),
            form_data_dict(request.form), extension, params))
    job = jobs[0]
    reply = job.summary()
    scheduler().add_job(job)
    if not wants_json_reply():
        return redirect(job.page_url())
    return jsonify({key: reply[key] for key in ("id", "name", "status")})


def _failed(form, extension):
    if wants_json_reply():
        return form_errors_response(form)
    return render_template(TEMPLATE, form=form, extension=extension), 400
