"""Home page, identity, system facts, job files and server path completion."""
import os

from flask import Blueprint, abort, jsonify, make_response, redirect, render_template, request, send_file

from digits import __version__, device, sandbox
from digits import auth
from digits.auth import current_user
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
    return render_template("home.html", groups=groups, Status=Status, new_menus=_new_menus())


def _new_menus():
    """Every registered kind that has a "new" form (built-ins and plugins), by category and menu group, as
    DIGITS' New dataset / New model menus listed them."""
    from digits.job import JOB_KINDS
    menus = {}
    for cls in JOB_KINDS.values():
        url = getattr(cls, "new_url", None)   # per job (a property) for kinds made by extensions: listed below
        if isinstance(url, str) and cls.category in ("datasets", "models"):
            menus.setdefault(cls.category, []).append(
                {"title": cls.title, "url": url, "group": getattr(cls, "menu_group", "Images")})
    from digits.extensions.data import extensions
    for extension in extensions():
        if extension.new_url:   # its own pages and job kind (classification): listed once, at its page
            if all(e["url"] != extension.new_url for e in menus.get("datasets", [])):
                menus.setdefault("datasets", []).append(
                    {"title": extension.title, "url": extension.new_url, "group": extension.group})
            continue
        for category, url, title in (("datasets", "/datasets/generic/new/", extension.title),
                                     ("models", "/models/images/generic/new/", f"Model for: {extension.title}")):
            menus.setdefault(category, []).append({"title": title, "url": url + extension.extension_id,
                                                   "group": extension.group})
    for entries in menus.values():   # classification first, as the main button offers it
        entries.sort(key=lambda e: (e["group"] != "Images", "classification" not in e["url"], e["title"]))
    return menus


@blueprint.route("/completed_jobs.json")
def completed_jobs():
    """DIGITS' shape: the finished jobs by category, the running ones under "running", and
    "model_output_fields": the figures the finished models report (their results' names)."""
    groups = _jobs_by_category()
    data = {cat: [j.summary() for j in groups[cat] if not j.is_active()] for cat in CATEGORIES}
    data["running"] = [j.summary() for cat in CATEGORIES for j in groups[cat] if j.is_active()]
    data["model_output_fields"] = sorted({key for j in groups["models"] if not j.is_active()
                                          for task in j.tasks for key, value in (task.results or {}).items()
                                          if isinstance(value, (int, float)) and not isinstance(value, bool)})
    return jsonify(data)


@blueprint.route("/login", methods=["GET", "POST"])
@blueprint.route("/login.json", methods=["POST"])
def login():
    if request.method == "GET":
        return _login_page(_safe_next(request.args.get("next")))
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    name = request.form.get("username") or body.get("username") or ""
    name = name.strip() if isinstance(name, str) else ""
    password = request.form.get("password") or body.get("password")
    try:
        problem = auth.log_in(name, password if isinstance(password, str) else None)
    except auth.TooManyFailures as exc:
        return _held_back(exc, name)
    if problem:
        # a bad name is a 400; a wrong password (or unknown user) a 401, saying no more than that
        code = 400 if auth.validate_username(name) else 401
        if wants_json_reply():
            return json_error(problem, code)
        return _login_page(_safe_next(request.form.get("next")), problem, name), code
    if wants_json_reply():
        return jsonify({"username": name})
    return redirect(_safe_next(request.form.get("next")))


def _held_back(exc, name):
    if wants_json_reply():
        response = json_error(str(exc), 429)
    else:
        response = make_response(_login_page(_safe_next(request.form.get("next")), str(exc), name), 429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _login_page(next_url, error=None, name=""):
    mode = auth.auth_mode()
    no_accounts = mode == "password" and not auth.user_store().names()
    return render_template("login.html", next=next_url, error=error, name=name, password_mode=mode == "password",
                           no_accounts=no_accounts)


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    auth.log_out()
    return jsonify({"username": None}) if wants_json() else redirect("/")


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
    data.update(sandbox.describe(config().get("task_user")))   # who tasks run as; a warning when root
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
    # Only files inside a job's folder: the jobs folder itself holds the secret key and the accounts.
    parts = os.path.relpath(full, jobs_dir).split(os.sep)
    if len(parts) < 2 or scheduler().get_job(parts[0]) is None or any(p.startswith(".") for p in parts):
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
    return make_response(jsonify({"username": current_user(), "admin": auth.current_user_is_admin(),
                                  "auth": auth.auth_mode()}))
