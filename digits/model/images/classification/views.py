"""New-model form, creation (with sweeps), network and learning-rate previews."""
import itertools
import signal

from flask import Blueprint, flash, jsonify, redirect, render_template, request

from digits.auth import current_user, login_required
from digits.frameworks import registry
from digits.sandbox import PYTHON_NETWORKS_OFF
from digits.inference.errors import InferenceError, blame_user_code
from digits.inference.service import get_service
from digits.job import discard_on_error
from digits.model.forms import ModelForm
from digits.model import weights_choice
from digits.model.job import ImageClassificationModelJob, ModelJob
from digits.quota import check_waiting
from digits.status import Status
from digits.utils.forms import FieldError, float_list, form_data_dict
from digits.utils.routing import config, form_errors_response, json_error, scheduler, wants_json_reply

blueprint = Blueprint("models_classification", __name__)
NEW_URL = ImageClassificationModelJob.new_url
# A user's Python network that never returns must not hold the form forever (DIGITS_CHECK_TIMEOUT overrides).
NETWORK_CHECK_TIMEOUT = 60


def _classification_datasets():
    return [j for j in sorted(scheduler().jobs.values(), key=lambda j: j.created, reverse=True)
            if getattr(j, "dataset_type", None) == "classification" and j.status not in (Status.ERROR, Status.ABORT)]


def _previous_models():
    return [j for j in sorted(scheduler().jobs.values(), key=lambda j: j.created, reverse=True)
            if isinstance(j, ModelJob) and j.snapshot_epochs()]


def _make_form(formdata=None, data=None, form_cls=ModelForm, datasets=None):
    from digits.networks import STANDARD_NETWORKS
    form = form_cls(formdata=formdata, data=data)
    datasets = _classification_datasets() if datasets is None else datasets
    form.dataset.choices = [(j.id, f"{j.name} [{j.status}]") for j in datasets]
    form.standard_networks.choices = [(n.name, n.title) for n in STANDARD_NETWORKS]
    form.server_gpus = list(scheduler().pools.gpus)
    form.select_gpus.choices = [(str(g), f"GPU {g}") for g in form.server_gpus]
    return form


@blueprint.route(NEW_URL)
@login_required
def new():
    data = None
    clone_id = request.args.get("clone")
    if clone_id:
        source = scheduler().get_job(clone_id)
        if source is None:
            return json_error(f"job {clone_id} not found", 404)
        data = dict(source.form_data)
        data["model_name"] = f"{data.get('model_name', source.name)} (clone)"
    form = _make_form(formdata=None, data=data)
    if data:
        form.process(data=data)
        _make_choices_again(form)
    return render_template("models/images/classification/new.html", form=form,
                           previous_models=_previous_models(), datasets=_classification_datasets())


def _make_choices_again(form):
    fresh = _make_form()
    for name in ("dataset", "standard_networks", "select_gpus"):
        getattr(form, name).choices = getattr(fresh, name).choices


@blueprint.route("/models/images/classification", methods=["POST"])
@blueprint.route("/models/images/classification.json", methods=["POST"])
@login_required
def create():
    form = _make_form(formdata=request.form)
    if not form.validate():
        return _form_failed(form)
    sizes, rates = form.sweep()
    check_waiting(scheduler(), current_user(), len(sizes) * len(rates))   # each job of a sweep counts
    dataset = usable_dataset(form, "classification", "image classification")
    if dataset is None:
        return _form_failed(form)
    try:
        framework, network_text, source_id, pretrained = _network_source(form)
        _check_network(framework, network_text, dataset, form)
    except FieldError as exc:
        exc.attach_to(form)
        return _form_failed(form)
    except ValueError as exc:
        _network_field(form).errors.append(str(exc))
        return _form_failed(form)
    jobs = _create_jobs(form, dataset, framework, network_text, source_id, pretrained)
    if wants_json_reply():
        return created_reply(jobs)
    if len(jobs) == 1:
        return redirect(jobs[0].page_url())
    flash(f"{len(jobs)} models were created in group “{jobs[0].group}”.")
    return redirect("/#models")


def usable_dataset(form, dataset_type, what):
    """The form's dataset when it is one of dataset_type and not failed; else None, the reason on the field."""
    dataset = scheduler().get_job(form.dataset.data)
    if dataset is None or getattr(dataset, "dataset_type", None) != dataset_type:
        form.dataset.errors.append(f"no {what} dataset with id {form.dataset.data!r}")
        return None
    if dataset.status in (Status.ERROR, Status.ABORT):
        form.dataset.errors.append(f"dataset {dataset.name!r} ended in {dataset.status}; it cannot be used")
        return None
    return dataset


def created_reply(jobs):
    """DIGITS' answer to a model create: the first job, and every job of a sweep."""
    first = jobs[0]
    return jsonify({"id": first.id, "name": first.name, "status": first.status,
                    "jobs": [{"id": j.id, "name": j.name, "status": j.status} for j in jobs]})


def _form_failed(form):
    if wants_json_reply():
        return form_errors_response(form)
    return render_template("models/images/classification/new.html", form=form, previous_models=_previous_models(),
                           datasets=_classification_datasets()), 400


def _network_field(form):
    return {"custom": form.custom_network, "previous": form.previous_networks,
            "pretrained": form.pretrained_networks}.get(form.method.data, form.standard_networks)


def _network_source(form, task_type="classification"):
    """(framework, network text, id of the job the weights come from, weights file) for the method; a
    standard network is one of the task type's (None: any task type's)."""
    from digits.networks import standard_network
    method, framework = form.method.data, form.framework.data
    if method == "standard":
        try:
            return framework, standard_network(form.standard_networks.data, framework, task_type), None, None
        except (KeyError, ValueError) as exc:   # the message says which names the task type has
            raise ValueError(str(exc)) from exc
    if method == "custom":
        weights, source_id = weights_choice.custom_weights(scheduler(), config()["allowed_roots"],
                                                           form.custom_network_snapshot.data)
        return framework, form.custom_network.data, source_id, weights
    if method == "previous":
        previous = scheduler().get_job(form.previous_networks.data)
        if not isinstance(previous, ModelJob):
            raise ValueError(f"no model with id {form.previous_networks.data!r}")
        weights, source_id = weights_choice.previous_weights(previous, request.form,
                                                             form.previous_network_snapshot.data)
        return previous.extra["framework"], previous.network_text(), source_id, weights
    pretrained = scheduler().get_job(form.pretrained_networks.data)
    if pretrained is None or not hasattr(pretrained, "weights_path"):
        raise ValueError(f"no pretrained model with id {form.pretrained_networks.data!r}")
    # A customized network (e.g. a renamed last layer for new classes) takes the weights that fit.
    text = form.custom_network.data if (form.custom_network.data or "").strip() else pretrained.network_text()
    return pretrained.framework, text, pretrained.id, pretrained.weights_path()


def _check_network(framework, network_text, dataset, form):
    """Builds the network for the dataset's image size when it is known, so misfits fail here;
    raises ValueError (the network's field) or FieldError (another field)."""
    _refuse_python_network(framework, form)
    if dataset.status != Status.DONE:
        return   # the training job reports it once the dataset exists
    try:
        channels, height, width, classes = _dataset_shape(dataset)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"could not check the network against the dataset: {exc}") from None
    if form.crop_size.data:
        if form.crop_size.data > min(height, width):
            raise FieldError("crop_size", f"crop size {form.crop_size.data} is larger than the images "
                                           f"({width}×{height})")
        height = width = form.crop_size.data
    try:
        built = _build_in_worker(framework, network_text, (channels, height, width), classes)
    except InferenceError as exc:
        raise ValueError(str(exc)) from None
    declared = (built or {}).get("task_type")
    if declared not in (None, "classification"):   # e.g. a Caffe network whose softmax scores every pixel
        raise ValueError(f"the network is a {declared} network: make a generic model of task type {declared}")


def _refuse_python_network(framework, form):
    """With DIGITS_PYTHON_NETWORKS=0 no user's Python code is run (the standard networks are ours)."""
    if registry.runs_user_code(framework) and form.method.data != "standard" and not config()["python_networks"]:
        raise ValueError(PYTHON_NETWORKS_OFF)


def _dataset_shape(dataset):
    from digits.dataset.reader import read_dataset_info
    info = read_dataset_info(dataset.dir)
    height, width, channels = info["image_dims"]
    return channels, height, width, info["num_classes"]


def _build_in_worker(framework, text, input_shape, num_classes, graph=False):
    """Networks are built in a check worker: a user's Python network runs there, and the web server
    never loads torch (an import or a build would stall every page for seconds). Each check has a
    worker of its own (a pool of DIGITS_CHECK_WORKERS), niced, as the task user, with limits on its
    time, CPU time and memory, so a network that loops or hogs delays others' checks by at most that."""
    cfg = config()
    timeout = cfg["check_timeout"] or NETWORK_CHECK_TIMEOUT
    checks = get_service("checks", workers=cfg["check_workers"], nice=cfg["task_nice"],
                         memory_mb=cfg["check_memory_mb"], user=cfg["task_user"])
    try:
        return checks.call("network", timeout=timeout, framework=framework, text=text, input_shape=list(input_shape),
                           num_classes=num_classes, graph=graph, cpu_seconds=cfg["check_cpu_seconds"],
                           memory_mb=cfg["check_memory_mb"])
    except InferenceError as exc:
        if exc.type == "Timeout":
            raise InferenceError(f"the network was not built within {timeout:g} s: does its code loop or wait "
                                 "for something?", 400, "NetworkError") from None
        if exc.type == "WorkerCrashed" and exc.exit_code in (-signal.SIGXCPU, -signal.SIGKILL):
            raise InferenceError(f"the network's code used more than the {cfg['check_cpu_seconds']} s of CPU time "
                                 "a network check may use, or ran out of memory", 400, "NetworkError") from None
        raise blame_user_code(exc) from None


def _create_jobs(form, dataset, framework, network_text, source_id, pretrained, job_cls=ImageClassificationModelJob,
                 extra_config=None):
    combos = list(itertools.product(*form.sweep()))
    group = form.group_name.data or (form.model_name.data if len(combos) > 1 else "")
    gpus = form.gpu_request()
    jobs = []
    with discard_on_error(jobs):   # a sweep is created whole or not at all (a full disk midway: 507)
        for batch_size, rate in combos:
            name = form.model_name.data.strip()
            if len(combos) > 1:
                name += f" (bs={batch_size or 'default'}, lr={rate:g})"
            train_config = dict(_train_config(form, batch_size, rate, pretrained), **(extra_config or {}))
            jobs.append(job_cls.create(
                config()["jobs_dir"], name, current_user(), group, form_data_dict(request.form), dataset, framework,
                network_text, train_config, gpus, weights_from=source_id))
    scheduler().add_jobs(jobs)
    return jobs


def _train_config(form, batch_size, learning_rate, pretrained):
    return {
        "train_epochs": form.train_epochs.data, "snapshot_interval": form.snapshot_interval.data,
        "val_interval": form.val_interval.data, "random_seed": form.random_seed.data,
        "batch_size": batch_size, "batch_accumulation": form.batch_accumulation.data,
        "solver_type": form.solver_type.data, "learning_rate": learning_rate, "momentum": form.momentum.data,
        "weight_decay": form.weight_decay.data, "rms_decay": form.rms_decay.data,
        "lr_policy": form.lr_policy_params(), "crop_size": form.crop_size.data, "use_mean": form.use_mean.data,
        "shuffle": bool(form.shuffle.data), "augmentation": form.augmentation(),
        "pretrained": {"file": pretrained, "lr_multiplier": form.pretrained_lr_multiplier.data or 1.0}
        if pretrained else None,
        **form.best_snapshot_settings(),
    }


@blueprint.route("/models/visualize-network", methods=["POST"])
@blueprint.route("/models/visualize-network.json", methods=["POST"])
def visualize_network():
    form = _make_form(formdata=request.form)
    if "method" not in request.form and (form.custom_network.data or "").strip():
        form.method.data = "custom"   # DIGITS' Visualize posts only framework + custom_network
    try:
        framework, text, _, _ = _network_source(form, task_type=None)   # draws any task type's network
        _refuse_python_network(framework, form)
    except ValueError as exc:
        return json_error(str(exc), 400)
    shape, classes = (3, 224, 224), 10
    dataset = scheduler().get_job(form.dataset.data or "")
    if dataset is not None and dataset.status == Status.DONE:
        try:
            channels, height, width, classes = _dataset_shape(dataset)
            shape = (channels, height, width)
        except (OSError, KeyError, ValueError):
            pass   # a damaged dataset folder: draw the network for the default shape
    try:
        drawn = _build_in_worker(framework, text, shape, classes, graph=True)
    except InferenceError as exc:
        return json_error(str(exc), exc.status if exc.status < 500 else 422)   # the network crashed or hung it
    return jsonify({"graph": drawn["graph"], "svg": drawn["svg"]})


@blueprint.route("/models/visualize-lr", methods=["POST"])
@blueprint.route("/models/visualize-lr.json", methods=["POST"])
def visualize_lr():
    from digits.model.lr_policy import LRPolicyError, lr_curve
    form = _make_form(formdata=request.form)
    form.validate()
    errors = {k: v for k, v in form.errors.items() if k.startswith("lr") or k == "learning_rate"}
    if errors:
        return jsonify({"errors": errors}), 400
    try:
        rate = float_list(form.learning_rate.data)[0]
        points = lr_curve(form.lr_policy_params(), rate, max_iter=1000)
    except (LRPolicyError, IndexError, ValueError) as exc:
        return json_error(str(exc), 400)
    return jsonify({"points": points})


@blueprint.route("/models/networks/<name>.json")
def network_text(name):
    """A standard network's definition, for the form's "Customize" button."""
    from digits.networks import standard_network
    framework = request.args.get("framework", registry.DEFAULT)
    try:
        return jsonify({"name": name, "framework": framework, "text": standard_network(name, framework, task_type=None)})
    except (KeyError, ValueError):
        return json_error(f"no standard network {name!r} for framework {framework!r}", 404)
