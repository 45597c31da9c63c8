"""Generic models (DIGITS' "Other" models): a network trained on a generic dataset's label vectors,
its task type (regression, multi-label) saying what the outputs mean, and inference that answers the
raw outputs plus the task type's keys:

    POST /models/images/generic[.json]             same solver/network fields as classification + task_type
    POST /models/images/generic/infer_one[.json]   {"outputs": {blob: [values]}, "values" | "labels": ...}
    POST /models/images/generic/infer_many[.json]  {"outputs": {path: {blob: [values]}}, "results": {path: ...}}
"""
from flask import Blueprint, jsonify, redirect, render_template, request
from wtforms import SelectField

from digits.auth import current_user, login_required
from digits.inference import inputs
from digits.inference.errors import InferenceError
from digits.inference.jobs import find_model, model_spec, parse_epoch
from digits.inference.service import get_service
from digits.model.forms import ModelForm
from digits.model.images.classification import inference_views as classification_inference
from digits.model.images.classification import views as classification
from digits.model.job import GenericImageModelJob
from digits.model.tasks import TASK_TYPES
from digits.quota import check_waiting
from digits.status import Status
from digits.utils.forms import FieldError
from digits.utils.routing import config, form_errors_response, json_error, scheduler, wants_json, wants_json_reply

blueprint = Blueprint("models_generic", __name__)
PREFIX = "/models/images/generic"
GENERIC_DATASET_KIND = "dataset-images-generic"
TEMPLATE = "models/images/classification/new.html"   # the same form, with generic=True


class GenericModelForm(ModelForm):
    task_type = SelectField("Task type", default="regression", choices=[
        (t.name, t.title) for t in TASK_TYPES.values() if t.name != "classification"])


def _generic_datasets():
    return [j for j in sorted(scheduler().jobs.values(), key=lambda j: j.created, reverse=True)
            if j.kind == GENERIC_DATASET_KIND and j.status not in (Status.ERROR, Status.ABORT)]


def _form(formdata=None):
    form = classification._make_form(formdata=formdata, form_cls=GenericModelForm, datasets=_generic_datasets())
    if formdata is None:
        form.method.data = "custom"   # generic datasets have no standard networks
    return form


def _page(form, code=200):
    return render_template(TEMPLATE, form=form, datasets=_generic_datasets(), generic=True,
                           previous_models=classification._previous_models()), code


@blueprint.route(f"{PREFIX}/new")
@login_required
def new():
    return _page(_form())


@blueprint.route(PREFIX, methods=["POST"])
@blueprint.route(f"{PREFIX}.json", methods=["POST"])
@login_required
def create():
    form = _form(request.form)
    if not form.validate():
        return _failed(form)
    sizes, rates = form.sweep()
    check_waiting(scheduler(), current_user(), len(sizes) * len(rates))
    dataset = scheduler().get_job(form.dataset.data)
    if dataset is None or dataset.kind != GENERIC_DATASET_KIND:
        form.dataset.errors.append(f"no generic dataset with id {form.dataset.data!r}")
        return _failed(form)
    if dataset.status in (Status.ERROR, Status.ABORT):
        form.dataset.errors.append(f"dataset {dataset.name!r} ended in {dataset.status}; it cannot be used")
        return _failed(form)
    if not (dataset.form_data.get("prebuilt_mean_file") or "").strip():
        # a generic dataset has a mean only when one was given: the form's default cannot apply
        if "use_mean" in request.form and form.use_mean.data != "none":
            form.use_mean.errors.append(f"dataset {dataset.name!r} has no mean file; choose none")
            return _failed(form)
        form.use_mean.data = "none"
    try:
        framework, text, source_id, pretrained = classification._network_source(form)
        classification._refuse_python_network(framework, form)
        _check_network(framework, text, dataset, form.task_type.data)
    except FieldError as exc:
        exc.attach_to(form)
        return _failed(form)
    except ValueError as exc:
        classification._network_field(form).errors.append(str(exc))
        return _failed(form)
    jobs = classification._create_jobs(form, dataset, framework, text, source_id, pretrained,
                                       job_cls=GenericImageModelJob, extra_config={"task_type": form.task_type.data})
    if wants_json_reply():
        return jsonify({"id": jobs[0].id, "name": jobs[0].name, "status": jobs[0].status,
                        "jobs": [{"id": j.id, "name": j.name, "status": j.status} for j in jobs]})
    return redirect(jobs[0].page_url() if len(jobs) == 1 else "/#models")


def _failed(form):
    return form_errors_response(form) if wants_json_reply() else _page(form, 400)


def _check_network(framework, text, dataset, task_type):
    """Builds the network for the dataset's images and label length; a Caffe network must say how it
    is trained (DIGITS' generic models take their loss from the prototxt)."""
    if dataset.status != Status.DONE:
        return
    from digits.dataset.reader import read_dataset_info
    from digits.frameworks.registry import get_framework
    from digits.model.tasks import TaskTypeError, get_task_type
    try:
        info = read_dataset_info(dataset.dir)
        height, width, channels = info["image_dims"]
        outputs = get_task_type(task_type).output_size(info)
    except (OSError, KeyError, ValueError, TaskTypeError) as exc:
        raise ValueError(f"could not check the network against the dataset: {exc}") from None
    try:
        built = classification._build_in_worker(framework, text, (channels, height, width), outputs)
    except InferenceError as exc:
        raise ValueError(str(exc)) from None
    if get_framework(framework).loss_required and not built.get("loss"):
        raise ValueError("the network has no loss layer: add one whose bottoms are the output and \"label\" "
                         "(e.g. type: \"EuclideanLoss\" for regression)")


# ----- inference

def _model():
    job = find_model(scheduler(), request.form.get("job_id") or request.args.get("job_id"), generic=True)
    spec, epoch = model_spec(job, parse_epoch(request.form.get("snapshot_epoch")))
    return job, spec, epoch


def _infer(job, spec, paths):
    return get_service().call("infer", model=spec, images=paths, task_type=job.task_type)["results"]


def _fail(exc):
    if wants_json():
        return json_error(str(exc), exc.status, exc.type)
    return render_template("error.html", code=exc.status, message=str(exc)), exc.status


@blueprint.route(f"{PREFIX}/infer_one", methods=["POST"])
@blueprint.route(f"{PREFIX}/infer_one.json", methods=["POST"])
def infer_one():
    try:
        job, spec, epoch = _model()
        with inputs.Uploads() as uploads:
            path, shown = inputs.one_image(request, uploads, config()["allowed_roots"])
            result = _infer(job, spec, [path])[0]
    except InferenceError as exc:
        return _fail(exc)
    if "error" in result:
        return _fail(InferenceError(f"{shown}: {result['error']}", 400, "BadRequest"))
    answer = dict(result, task_type=job.task_type, epoch=epoch)
    if wants_json():
        return jsonify(answer)
    return render_template("models/images/generic/infer_one.html", job=job, image=shown, result=answer)


@blueprint.route(f"{PREFIX}/infer_many", methods=["POST"])
@blueprint.route(f"{PREFIX}/infer_many.json", methods=["POST"])
def infer_many():
    try:
        job, spec, epoch = _model()
        items = classification_inference._items(job, None)
        readable = [item for item in items if item.path]
        results = _infer(job, spec, [item.path for item in readable])
    except InferenceError as exc:
        return _fail(exc)
    answer = {"outputs": {}, "results": {}, "errors": {i.name: i.error for i in items if not i.path},
              "task_type": job.task_type, "epoch": epoch}
    for item, result in zip(readable, results):
        if "error" in result:
            answer["errors"][item.name] = result["error"]
            continue
        answer["outputs"][item.name] = result.pop("outputs")
        answer["results"][item.name] = result
    if wants_json():
        return jsonify(answer)
    return render_template("models/images/generic/infer_many.html", job=job, answer=answer)
