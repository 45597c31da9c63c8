"""Routes common to every job kind: page, status, rename/notes, abort, resume, delete, clone."""
from flask import Blueprint, abort, jsonify, redirect, render_template, request

from digits import job_bulk
from digits.auth import current_user, require_owner
from digits.quota import check_waiting
from digits.status import Status
from digits.utils.routing import get_job_or_404, json_error, scheduler, wants_json, wants_json_reply

blueprint = Blueprint("jobs", __name__)

PREFIXES = ("jobs", "datasets", "models", "pretrained_models")
MAX_NAME, MAX_NOTES = 200, 20000


def _routes(rule, **options):
    """Registers a view under /jobs/, /datasets/, /models/ and /pretrained_models/."""
    def decorator(view):
        # One endpoint per rule: werkzeug redirects between rules that share an endpoint and defaults.
        suffix = "json" if rule.endswith(".json") else "html"
        for prefix in PREFIXES:
            blueprint.add_url_rule(f"/{prefix}{rule}", f"{view.__name__}_{prefix}_{suffix}", view,
                                   defaults={"category": prefix}, **options)
        return view
    return decorator


@_routes("/<job_id>")
@_routes("/<job_id>.json")
def show(job_id, category):
    job = get_job_or_404(job_id, category)
    if request.method == "GET" and wants_json():
        return jsonify(job.to_json())
    if category == "jobs" and job.category != "jobs":
        return redirect(job.page_url())
    template = getattr(job, "template", "job.html")
    return render_template(template, job=job, Status=Status, **job_page_context(job))


def job_page_context(job):
    context = getattr(job, "page_context", None)
    return context() if context else {}


@_routes("/<job_id>/status")
def status(job_id, category):
    job = get_job_or_404(job_id, category)
    return jsonify({"status": job.status, "name": job.name, "type": job.kind, "error": job.error(),
                    "progress": round(job.progress() * 100, 1)})


@_routes("/<job_id>", methods=["PUT"])
@_routes("/<job_id>.json", methods=["PUT"])
def edit(job_id, category):
    job = get_job_or_404(job_id, category)
    require_owner(job, "edit")
    data = request.form if request.form else (request.get_json(silent=True) or {})
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return json_error("expected form fields job_name / job_notes", 400)
    name, notes = data.get("job_name"), data.get("job_notes")
    if name is None and notes is None:
        return json_error("nothing to change: send job_name and/or job_notes", 400)
    changes = {}
    if name is not None:
        name = str(name).strip()
        if not name or len(name) > MAX_NAME:
            return json_error(f"job_name must be 1 to {MAX_NAME} characters", 400)
        changes["name"] = name
    if notes is not None:
        if len(str(notes)) > MAX_NOTES:
            return json_error(f"job_notes may be at most {MAX_NOTES} characters", 400)
        changes["notes"] = str(notes)
    job.save_changed(**changes)   # a full disk raises here (507) with the job unchanged
    scheduler().emitter.job_update(job, "attribute", name=job.name, notes=job.notes)
    return jsonify(job.summary())


@_routes("/<job_id>/abort", methods=["POST"])
@_routes("/<job_id>/abort.json", methods=["POST"])
def abort_job(job_id, category):
    job = get_job_or_404(job_id, category)
    require_owner(job, "abort")
    if not scheduler().abort_job(job):
        return json_error(f"job is {job.status}, there is nothing to abort", 409)
    return jsonify({"id": job.id, "status": job.status})


@_routes("/<job_id>/resume", methods=["POST"])
@_routes("/<job_id>/resume.json", methods=["POST"])
def resume(job_id, category):
    job = get_job_or_404(job_id, category)
    require_owner(job, "resume")
    check_waiting(scheduler(), job.owner)   # a resumed job waits like a new one
    try:
        scheduler().resume_job(job)
    except ValueError as exc:
        return json_error(str(exc), 409)
    if wants_json_reply():
        return jsonify({"id": job.id, "status": job.status})
    return redirect(job.page_url())


@_routes("/<job_id>", methods=["DELETE"])
@_routes("/<job_id>.json", methods=["DELETE"])
def delete(job_id, category):
    job = get_job_or_404(job_id, category)
    if job.load_error is None or job.owner is not None:
        require_owner(job, "delete")
    elif current_user() is None:  # unreadable, owner unknown: any signed-in user may clear it away
        abort(401, description="login required to delete a job")
    users = [j for j in scheduler().dependents(job) if j.id != job.id]
    if users:
        names = ", ".join(f"{j.name!r} ({j.id})" for j in users)
        abort(403, description=f"cannot delete {job.name!r}: in use by {names}; delete those first")
    scheduler().delete_job(job)
    return jsonify({"id": job_id, "deleted": True})


@blueprint.route("/group", methods=["POST"])
@blueprint.route("/abort_jobs", methods=["POST"])
@blueprint.route("/jobs", methods=["DELETE"])
def bulk():
    """DIGITS' actions on a selection (`job_ids[]`); see digits.job_bulk for the owner rules."""
    if current_user() is None:
        abort(401, description="login required to change jobs")
    try:
        job_ids = job_bulk.requested_ids(request)
    except job_bulk.BulkError as exc:
        return json_error(str(exc), 400)
    if request.path == "/group":
        name = (request.form.get("group_name") or request.args.get("group_name") or "").strip()
        if len(name) > MAX_NAME:
            return json_error(f"group_name may be at most {MAX_NAME} characters", 400)
        report = job_bulk.group(scheduler(), job_ids, name)
    elif request.path == "/abort_jobs":
        report = job_bulk.abort(scheduler(), job_ids)
    else:
        report = job_bulk.delete(scheduler(), job_ids)
    body, code = report.answer()
    return jsonify(body), code


@blueprint.route("/clone/<job_id>")
def clone(job_id):
    job = get_job_or_404(job_id)
    new_url = getattr(job, "new_url", None)
    if not new_url:
        abort(404, description=f"{job.title} jobs cannot be cloned")
    return redirect(f"{new_url}?clone={job.id}")
