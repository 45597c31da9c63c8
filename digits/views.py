"""Home page, identity, system facts, job files and server path completion."""
import os

from flask import Blueprint, abort, jsonify, make_response, redirect, render_template, request, send_file

from digits import __version__, device
from digits.auth import COOKIE, current_user, validate_username
from digits.status import Status
from digits.utils.paths import PathError, is_inside, resolve_user_path
from digits.utils.routing import config, error_type, json_error, scheduler, wants_json, wants_json_reply

blueprint = Blueprint("digits", __name__)

CATEGORIES = ("datasets", "models", "pretrained_models")


def _jobs_by_category():
    jobs = sorted(scheduler().jobs.values(), key=lambda j: j.created, reverse=True)
    return {cat: [j for j in jobs if j.category == cat] for cat in CATEGORIES + ("jobs",)}


@blueprint.route("/")
@blueprint.route("/index.json")
def home():
    groups = _jobs_by_category()
    if wants_json():
        data = {"version": __version__, "jobs_dir": config()["jobs_dir"]}
        for cat in CATEGORIES:
            data[cat] = [j.summary() for j in groups[cat]]
        data["jobs"] = [j.summary() for j in groups["jobs"]]
        return jsonify(data)
    return render_template("home.html", groups=groups, Status=Status)


@blueprint.route("/completed_jobs.json")
def completed_jobs():
    groups = _jobs_by_category()
    return jsonify({cat: [j.summary() for j in groups[cat] if not j.is_active()] for cat in CATEGORIES})


@blueprint.route("/login", methods=["GET", "POST"])
@blueprint.route("/login.json", methods=["POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=_safe_next(request.args.get("next")))
    body = request.get_json(silent=True)
    name = request.form.get("username") or (body.get("username") if isinstance(body, dict) else None) or ""
    name = name.strip() if isinstance(name, str) else ""
    problem = validate_username(name)
    if problem:
        if wants_json_reply():
            return json_error(problem, 400)
        return render_template("login.html", error=problem, next=_safe_next(request.form.get("next"))), 400
    if wants_json_reply():
        response = jsonify({"username": name})
    else:
        response = redirect(_safe_next(request.form.get("next")))
    response.set_cookie(COOKIE, name, samesite="Lax", httponly=True, max_age=365 * 24 * 3600)
    return response


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    response = jsonify({"username": None}) if wants_json() else redirect("/")
    response.delete_cookie(COOKIE)
    return response


def _safe_next(target):
    # Only local paths: an open redirect would let a link send users anywhere after login.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@blueprint.route("/system")
@blueprint.route("/system.json")
def system():
    sched = scheduler()
    data = {"gpus": device.all_gpus(sched.pools.gpus), "host": device.host_info(),
            "resources": sched.pools.describe(), "version": __version__,
            "jobs_dir": config()["jobs_dir"]}
    if wants_json():
        return jsonify(data)
    return render_template("system.html", **data)


@blueprint.route("/files/<path:path>")
def files(path):
    jobs_dir = config()["jobs_dir"]
    if "\0" in path:
        abort(404, description="file not found")
    full = os.path.realpath(os.path.join(jobs_dir, path))
    if not is_inside(full, jobs_dir) or full == jobs_dir:
        abort(404, description="file not found")
    if not os.path.isfile(full):
        abort(404, description="file not found")
    return send_file(full)


@blueprint.route("/autocomplete/path")
def autocomplete_path():
    query = request.args.get("query", "")
    roots = config()["allowed_roots"]
    if not query:
        return jsonify({"suggestions": [r + os.sep for r in roots if os.path.isdir(r)]})
    query = os.path.expanduser(query)
    folder, prefix = os.path.split(query)
    try:
        folder = resolve_user_path(folder or os.sep, roots, kind="dir")
    except PathError as exc:
        # API.md's error shape; the empty list keeps simple completion widgets working.
        return jsonify({"error": {"message": str(exc), "type": error_type(400)}, "suggestions": []}), 400
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    suggestions = []
    for name in names:
        if name.startswith(prefix) and not name.startswith("."):
            full = os.path.join(folder, name)
            suggestions.append(full + (os.sep if os.path.isdir(full) else ""))
        if len(suggestions) >= 50:
            break
    return jsonify({"suggestions": suggestions})


@blueprint.route("/whoami")
def whoami():
    return make_response(jsonify({"username": current_user()}))
