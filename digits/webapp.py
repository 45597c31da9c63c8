"""create_app(config): Flask + CSRF + Socket.IO + blueprints + the scheduler."""
import importlib
import os
from importlib import metadata

from flask import Flask, make_response, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from digits import __version__, assets, auth
from digits.config import load_config
from digits.inference import service as inference_service
from digits.scheduler import Scheduler
from digits.status import Status
from digits.socketio import SocketEmitter, register_handlers
from digits.utils.finite_json import finite
from digits.utils.routing import json_error, wants_json

# Modules that define job kinds and their blueprints; each exposes `blueprint`.
KIND_MODULES = [
    "digits.views",
    "digits.account_views",
    "digits.job_views",
    "digits.openapi",
    "digits.dataset.views",
    "digits.dataset.images.classification.views",
    "digits.dataset.images.generic.views",
    "digits.model.views",
    "digits.model.images.classification.views",
    "digits.model.images.classification.inference_views",
    "digits.model.images.generic.views",
    "digits.dataset.extension.views",
    "digits.dataset.images.detection.views",
    "digits.dataset.images.segmentation.views",
    "digits.model.archive",
    "digits.pretrained_model.views",
    "digits.store.views",
]

csrf = CSRFProtect()


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's JSON (responses and the templates' tojson filter) as strict JSON: NaN/inf → null."""

    def dumps(self, obj, **kwargs):
        return super().dumps(finite(obj), **kwargs)


def _kind_modules(config):
    """Built-in kinds, then plugins: entry points `digits.plugins` and modules named in DIGITS_PLUGINS."""
    modules = [importlib.import_module(name) for name in KIND_MODULES]
    for entry in metadata.entry_points(group="digits.plugins"):
        modules.append(entry.load())
    for name in config.get("plugins") or []:
        modules.append(importlib.import_module(name))
    return modules


def _resource_dir(name):
    """templates/ and static/ live at the repo root, and inside the package once installed."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, name)
    return packaged if os.path.isdir(packaged) else os.path.join(os.path.dirname(here), name)


def create_app(config=None):
    config = load_config(config)
    inference_service.configure(config["inference_workers"])
    app = Flask("digits", template_folder=_resource_dir("templates"), static_folder=_resource_dir("static"))
    app.json = FiniteJSONProvider(app)
    app.config.update(
        SECRET_KEY=config["secret_key"],
        MAX_CONTENT_LENGTH=config["max_upload_bytes"],
        WTF_CSRF_CHECK_DEFAULT=False,   # enforced in _csrf_for_browsers, scripts use .json routes
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=config["testing"],
    )
    csrf.init_app(app)
    auth.init_app(app, config)
    socketio = SocketIO(app, async_mode=config["async_mode"], cors_allowed_origins=[])
    register_handlers(socketio, config)
    scheduler = Scheduler(config, emitter=SocketEmitter(socketio))
    app.extensions["digits"] = {"config": config, "scheduler": scheduler, "socketio": socketio}
    for module in _kind_modules(config):
        if hasattr(module, "blueprint"):
            app.register_blueprint(module.blueprint)
    assets.register(app)
    app.jinja_env.globals["Status"] = Status  # macros are imported without the page's context
    _register_hooks(app)
    scheduler.load_jobs()
    if config["start_scheduler"]:
        scheduler.start()
    return app


def _register_hooks(app):
    @app.before_request
    def _csrf_for_browsers():
        # A browser always sends Origin or Sec-Fetch-Site on a POST; scripts (curl, DIGITS' REST
        # clients) send neither and carry no ambient credentials worth forging, since the
        # username cookie is SameSite=Lax.
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and (
                request.headers.get("Origin") or request.headers.get("Sec-Fetch-Site")):
            csrf.protect()

    @app.context_processor
    def _globals():
        from digits.auth import current_user
        return {"username": current_user(), "version": __version__, "vendor": assets.url}

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return _error_response(400, f"CSRF check failed: {exc.description}", "CSRFError")

    @app.errorhandler(OSError)
    def _disk_full(exc):
        # A full disk is the server's state, not a bug: 507 says what to do. Views write before they
        # change anything in memory, so the request changed nothing. Other OSErrors stay 500s.
        from digits.utils.disk import is_disk_full, server_disk_full_message
        if not is_disk_full(exc):
            raise exc
        app.logger.warning("%s %s: %s", request.method, request.path, exc)
        message = server_disk_full_message(app.extensions["digits"]["config"]["jobs_dir"])
        return _error_response(507, message, "InsufficientStorage")

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        response = make_response(_error_response(exc.code, exc.description, type(exc).__name__))
        # The exception's own headers (Allow on a 405, RFC 9110; Retry-After ...), not its Content-Type.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response


def _error_response(code, message, type_):
    # A browser that posted a plain form (an upload over the size limit ...) is navigating: it gets a
    # page; fetch() calls and scripts get JSON.
    navigating = request.headers.get("Sec-Fetch-Mode") == "navigate"
    if wants_json() or (request.method not in ("GET", "HEAD") and not navigating):
        return json_error(message, code, type_)
    return render_template("error.html", code=code, message=message), code
