"""DIGITS' model routes beside the forms: /models/customize and the large loss/accuracy graph."""
from flask import Blueprint, jsonify, render_template, request

from digits.frameworks import registry
from digits.model import weights_choice
from digits.model.job import ModelJob
from digits.utils.forms import FieldError
from digits.utils.routing import job_from_query, json_error, scheduler, wants_json

blueprint = Blueprint("models_common", __name__)


@blueprint.route("/models/customize", methods=["GET", "POST"])
@blueprint.route("/models/customize.json", methods=["GET", "POST"])
def customize():
    """DIGITS' "Customize": a standard network's text, or a model's (or pretrained model's) network and
    the weights file of its snapshot_epoch (none or 0: no weights, -1: the weights it started from, N: epoch
    N, "latest": the newest), which the form puts into custom_network and custom_network_snapshot."""
    from digits.networks import standard_network
    values = request.values   # DIGITS sent network in the query string and snapshot_epoch in the form
    name = (values.get("network") or "").strip()
    if not name:
        return json_error("network not given: a standard network's name or a model's job id", 400)
    framework = values.get("framework") or registry.DEFAULT
    job = scheduler().get_job(name)
    if job is None:
        try:
            text = standard_network(name, framework, task_type=None)
        except (KeyError, ValueError):
            return json_error(f"no standard network {name!r} for framework {framework!r}, and no job {name!r}", 404)
        return jsonify({"network": text, "snapshot": None, "framework": framework})
    if hasattr(job, "weights_path"):   # a pretrained model: its network and its weights
        return jsonify({"network": job.network_text(), "snapshot": job.weights_path(), "framework": job.framework})
    if not isinstance(job, ModelJob):
        return json_error(f"job {name!r} ({job.title.lower()}) is not a model", 400)
    epoch = (values.get("snapshot_epoch") or "").strip()
    try:
        if epoch == "latest":   # the form's empty snapshot field: the newest, when there is one
            weights = job.snapshot_path(None)
        else:
            weights = weights_choice.previous_weights(job, {f"{job.id}-snapshot": epoch}, None)[0] if epoch else None
    except FieldError as exc:
        return json_error(f"snapshot_epoch: {exc}", 400)
    return jsonify({"network": job.network_text(), "snapshot": weights, "framework": job.extra.get("framework")})


@blueprint.route("/models/images/classification/large_graph")
@blueprint.route("/models/images/classification/large_graph.json")
def large_graph():
    """The model page's loss/accuracy chart on a page of its own, kept live like the model page."""
    job = job_from_query("models")
    task = job.train_task
    metrics = task.metrics if task else {}
    if wants_json():
        return jsonify({"id": job.id, "name": job.name, "status": job.status, "task_type": job.task_type,
                        "metrics": metrics})
    return render_template("models/large_graph.html", job=job, metrics=metrics)
