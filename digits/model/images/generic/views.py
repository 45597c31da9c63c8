"""Generic models (DIGITS' "Other" models): a network trained on a generic dataset's labels, its task
type (regression, multi-label, detection) saying what the outputs mean, and inference that answers the
raw outputs plus the task type's keys:

    POST /models/images/generic[.json]             same solver/network fields as classification + task_type
                                                   (method "standard": the task type's standard networks,
                                                   in their framework unless framework says otherwise)
                                                   + class_weights (segmentation: K comma-separated numbers)
    POST /models/images/generic/infer_one[.json]   {"outputs": {blob: [values]}, "values" | "labels": ...}
    POST /models/images/generic/infer_many[.json]  {"outputs": {path: {blob: [values]}}, "results": {path: ...}}
    POST /models/images/generic/infer_db[.json]    the same keyed by record key, for an LMDB on the server

The inference pages show each result through a view extension (digits.extensions.view; form field
view_extension_id, default the task type's), and the JSON answers carry its id ("view") and its keys.
"""
from flask import Blueprint, jsonify, redirect, render_template, request
from wtforms import SelectField, StringField
from wtforms.validators import Length

from digits.auth import current_user, login_required
from digits.extensions import view as views
from digits.inference import inputs, records
from digits.inference.errors import InferenceError
from digits.inference.jobs import find_model, model_spec, parse_epoch
from digits.inference.service import get_service
from digits.model.forms import ModelForm
from digits.model.images.classification import inference_views as classification_inference
from digits.model.images.classification.inference_views import _fail
from digits.model.images.classification import views as classification
from digits.model.images.generic import extension_inputs
from digits.model.job import GenericImageModelJob
from digits.model.tasks import TASK_TYPES
from digits.quota import check_waiting
from digits.status import Status
from digits.utils.forms import FieldError, float_list
from digits.utils.routing import config, form_errors_response, json_error, scheduler, wants_json, wants_json_reply

blueprint = Blueprint("models_generic", __name__)
PREFIX = "/models/images/generic"
TEMPLATE = "models/images/classification/new.html"   # the same form, with generic=True


class GenericModelForm(ModelForm):
    # classification: a data extension's dataset of class ids (text classification)
    task_type = SelectField("Task type", default="regression", choices=[
        (t.name, t.title) for t in TASK_TYPES.values() if t.name != "classification"] + [
        ("classification", "Classification (a dataset of class ids)")])
    class_weights = StringField("Class weights", validators=[Length(max=10_000)])


def _generic_datasets(extension_id=None):
    """Generic datasets (prebuilt LMDBs or made by a data extension; only that extension's when given)."""
    return [j for j in sorted(scheduler().jobs.values(), key=lambda j: j.created, reverse=True)
            if getattr(j, "dataset_type", None) == "generic" and j.status not in (Status.ERROR, Status.ABORT)
            and (extension_id is None or getattr(j, "extension_id", None) == extension_id)]


def _standard_networks():
    """The standard networks of the generic task types (regression and multi-label have none), then the
    plugins' networks (digits.plugins.network) of any task type."""
    from digits.networks import networks_for, plugin_networks
    built_in = [n for t in TASK_TYPES.values() if t.name != "classification" for n in networks_for(t.name)]
    return [n for n in built_in if n.source is None] + plugin_networks()


def _form(formdata=None):
    form = classification._make_form(formdata=formdata, form_cls=GenericModelForm, datasets=_generic_datasets())
    networks = _standard_networks()
    form.standard_networks.choices = [(n.name, n.title) for n in networks]
    form.network_tasks = {n.name: {"task_type": n.task_type, "framework": n.framework or ""} for n in networks}
    if formdata is None:
        form.method.data = "custom"
        form.standard_networks.data = networks[0].name
    return form


def _network_source(form):
    """classification's _network_source, but a standard network is the task type's (in its own framework
    when none is posted: PyTorch but for Caffe's fcn_alexnet)."""
    if form.method.data == "standard" and "framework" not in request.form:
        known = {n.name: n.framework for n in _standard_networks()}
        form.framework.data = known.get(form.standard_networks.data) or "torch"
    return classification._network_source(form, task_type=form.task_type.data)


def _class_weights(form, dataset):
    """{"class_weights": [K numbers]} for the train config, or {} when the field is empty; FieldError."""
    text = (form.class_weights.data or "").strip()
    if not text:
        return {}
    from digits.model.tasks import TaskTypeError, get_task_type
    try:
        weights = float_list(text)
    except ValueError:
        weights = []
    if not weights:
        raise FieldError("class_weights", "comma-separated numbers expected (one weight per class)")
    task = get_task_type(form.task_type.data)
    try:
        configured = task.configured({"class_weights": weights})
        if configured is task:
            raise TaskTypeError(f"class weights apply to segmentation models, not {task.name}")
        if dataset.status == Status.DONE:
            from digits.dataset.reader import read_dataset_info
            configured.check_classes(int(read_dataset_info(dataset.dir).get("num_classes") or len(weights)))
    except TaskTypeError as exc:
        raise FieldError("class_weights", str(exc)) from None
    return {"class_weights": weights}


def _page(form, code=200):
    return render_template(TEMPLATE, form=form, datasets=_generic_datasets(), generic=True,
                           previous_models=classification._previous_models()), code


@blueprint.route(f"{PREFIX}/new")
@blueprint.route(f"{PREFIX}/new/<extension_id>")
@login_required
def new(extension_id=None):
    """DIGITS' /models/images/generic/new/<extension_id> offers that data extension's datasets first."""
    form = _form()
    if extension_id:
        from digits.extensions.data import DataExtensionError, get_extension
        try:
            extension = get_extension(extension_id)
        except DataExtensionError as exc:
            return json_error(str(exc), 404)
        if getattr(extension, "new_model_url", None):
            return redirect(extension.new_model_url)
        preferred = [(j.id, f"{j.name} [{j.status}]") for j in _generic_datasets(extension_id)]
        form.dataset.choices = preferred + [c for c in form.dataset.choices if c not in preferred]
        _preset_task_type(form, extension)
    return _page(form)


def _preset_task_type(form, extension):
    """The page of an extension's models opens on the task type its labels train (a text dataset's class ids:
    classification, not the generic default regression), and on that task type's first standard network, as
    choosing the task type on the page does."""
    task = next((t.name for t in TASK_TYPES.values() if t.label_kind and t.label_kind == extension.label_kind),
                {"class": "classification", "vector": "regression"}.get(extension.label_kind))
    if task not in dict(form.task_type.choices):
        return
    form.task_type.data = task
    network = next((n for n in _standard_networks() if n.task_type == task), None)
    if network is not None:
        form.method.data, form.standard_networks.data = "standard", network.name
        form.framework.data = network.framework or form.framework.data


@blueprint.route(PREFIX, methods=["POST"])
@blueprint.route(f"{PREFIX}.json", methods=["POST"])
@login_required
def create():
    form = _form(request.form)
    if not form.validate():
        return _failed(form)
    sizes, rates = form.sweep()
    check_waiting(scheduler(), current_user(), len(sizes) * len(rates))
    dataset = classification.usable_dataset(form, "generic", "generic")
    if dataset is None:
        return _failed(form)
    if not dataset.has_mean():
        # a generic dataset has a mean only when one was given: the form's default cannot apply
        if "use_mean" in request.form and form.use_mean.data != "none":
            form.use_mean.errors.append(f"dataset {dataset.name!r} has no mean file; choose none")
            return _failed(form)
        form.use_mean.data = "none"
    try:
        framework, text, source_id, pretrained = _network_source(form)
        classification._refuse_python_network(framework, form)
        _check_network(framework, text, dataset, form.task_type.data)
        weights = _class_weights(form, dataset)
    except FieldError as exc:
        exc.attach_to(form)
        return _failed(form)
    except ValueError as exc:
        classification._network_field(form).errors.append(str(exc))
        return _failed(form)
    jobs = classification._create_jobs(form, dataset, framework, text, source_id, pretrained,
                                       job_cls=GenericImageModelJob,
                                       extra_config={"task_type": form.task_type.data, **weights})
    if wants_json_reply():
        return classification.created_reply(jobs)
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
    from digits.model.tasks import TaskTypeError, check_declared, check_labels, get_task_type
    try:
        info = read_dataset_info(dataset.dir)
        height, width, channels = info["image_dims"]
        task = get_task_type(task_type)
    except (OSError, KeyError, ValueError, TaskTypeError) as exc:
        raise ValueError(f"could not check the network against the dataset: {exc}") from None
    try:
        check_labels(task, info)
        outputs = task.output_size(info)
    except TaskTypeError as exc:
        raise FieldError("task_type", str(exc)) from None
    try:
        built = classification._build_in_worker(framework, text, (channels, height, width), outputs)
    except InferenceError as exc:
        raise ValueError(str(exc)) from None
    try:
        check_declared(built.get("task_type"), task)
    except TaskTypeError as exc:
        raise ValueError(str(exc)) from None
    if get_framework(framework).loss_required and not built.get("loss"):
        raise ValueError("the network has no loss layer: add one whose bottoms are the output and \"label\" "
                         "(e.g. type: \"EuclideanLoss\" for regression)")


# ----- inference

def _model():
    """(job, worker spec, epoch, view extension) of an inference request."""
    job = find_model(scheduler(), request.form.get("job_id") or request.args.get("job_id"), generic=True)
    spec, epoch = model_spec(job, parse_epoch(request.form.get("snapshot_epoch")))
    return job, spec, epoch, _view(job)


def _view(job):
    """The view extension the request asks for (view_extension_id), else its data extension's, else the
    task type's default."""
    try:
        return views.choose(request.form.get("view_extension_id") or extension_inputs.default_view(job),
                            job.task_type)
    except views.ViewError as exc:
        raise InferenceError(f"view_extension_id: {exc}", 400, "BadRequest") from None


def _infer(job, spec, view, op="infer", **request_fields):
    # threshold: the lowest score of a detection answered (detection models; the worker checks it)
    return get_service().call(op, model=spec, task_type=job.task_type, input_images=view.wants_input_image,
                              threshold=request.values.get("threshold"), raw_outputs=request.values.get("raw_outputs"),
                              **request_fields)


def _contexts(job, reply):
    """context(result, name, index): what a result is about, for its view (see digits.extensions.view)."""
    shared = {"task_type": job.task_type, "labels": job.labels(), "input_shape": reply.get("input_shape")}
    return lambda result, name, index=0: dict(shared, name=name, index=index,
                                              input_image=result.pop("input_image", None))


@blueprint.app_template_global()
def view_choices(task_type, job=None):
    """[(extension_id, title)] of the views a model's inference forms offer, its default first (the one of
    the job's data extension, when it has one)."""
    wanted = extension_inputs.default_view(job) if job is not None and hasattr(job, "train_config") else None
    default = views.get_view(wanted) if wanted else views.default_view(task_type)
    return [(v.extension_id, v.title) for v in [default, *(v for v in views.views(task_type) if v is not default)]]


@blueprint.app_template_global()
def inference_fields(job):
    """((field, label), ...) a generic model's "Test one" form shows instead of an image (text models)."""
    return extension_inputs.fields(job) if hasattr(job, "train_config") else ()


@blueprint.route(f"{PREFIX}/infer_one", methods=["POST"])
@blueprint.route(f"{PREFIX}/infer_one.json", methods=["POST"])
def infer_one():
    try:
        job, spec, epoch, view = _model()
        with inputs.Uploads() as uploads:
            path, shown = (extension_inputs.one_input(job, request.form, request.files)   # text, for a text model
                           or inputs.one_image(request, uploads, config()["allowed_roots"]))
            reply = _infer(job, spec, view, images=[path])
    except InferenceError as exc:
        return _fail(exc)
    result = reply["results"][0]
    if "error" in result:
        return _fail(InferenceError(f"{shown}: {result['error']}", 400, "BadRequest"))
    context = _contexts(job, reply)(result, shown)
    answer = dict(result, task_type=job.task_type, epoch=epoch, view=view.extension_id)
    if wants_json():
        return jsonify(views.with_view(view, answer, context))
    return render_template("models/images/generic/infer_one.html", job=job, image=shown, result=answer,
                           view=view, fragment=views.page_fragment(view, answer, context))


def _many(job, epoch, view, names, reply, errors, source):
    """The answer of infer_many / infer_db: outputs and results keyed by name, or the page."""
    answer = {"outputs": {}, "results": {}, "errors": errors, "task_type": job.task_type, "epoch": epoch,
              "view": view.extension_id}
    fragments, context_of = {}, _contexts(job, reply)
    for index, (name, result) in enumerate(zip(names, reply["results"])):
        if "error" in result:
            answer["errors"][name] = result["error"]
            continue
        context = context_of(result, name, index)
        if wants_json():
            result = views.with_view(view, result, context)
        else:
            fragments[name] = views.page_fragment(view, result, context)
        answer["outputs"][name] = result.pop("outputs")
        answer["results"][name] = result
    if wants_json():
        return jsonify(answer)
    return render_template("models/images/generic/infer_many.html", job=job, answer=answer, view=view,
                           fragments=fragments, source=source)


@blueprint.route(f"{PREFIX}/infer_many", methods=["POST"])
@blueprint.route(f"{PREFIX}/infer_many.json", methods=["POST"])
def infer_many():
    try:
        job, spec, epoch, view = _model()
        items = classification_inference._items(job, None)
        readable = [item for item in items if item.path]
        reply = _infer(job, spec, view, images=[item.path for item in readable])
    except InferenceError as exc:
        return _fail(exc)
    errors = {i.name: i.error for i in items if not i.path}
    return _many(job, epoch, view, [i.name for i in readable], reply, errors, f"{len(readable)} images")


@blueprint.route(f"{PREFIX}/infer_db", methods=["POST"])
@blueprint.route(f"{PREFIX}/infer_db.json", methods=["POST"])
def infer_db():
    """DIGITS' infer_db: the records of an LMDB of Datums on the server (db_path), in key order."""
    try:
        job, spec, epoch, view = _model()
        db_path = request.form.get("db_path") or ""
        resolved = records.check_db(db_path, config()["allowed_roots"])
        limit = inputs.positive_int(request.form.get("num_test_images"), "num_test_images")
        reply = _infer(job, spec, view, op="infer_db", db_path=resolved, limit=limit)
    except InferenceError as exc:
        return _fail(exc)
    return _many(job, epoch, view, reply["keys"], reply, {}, f"{len(reply['keys'])} records of {db_path}")
