"""Routes of the model store (DIGITS' URLs): the store page, GET /store/models (every configured store's
models, cached in memory until ?refresh=1), push (a store's model → a pretrained model job) and publish
(a trained model → a file:// store). A store that is unreachable or broken is a message in its listing,
never a broken page."""
import tempfile

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request

from digits.auth import current_user, login_required, require_owner
from digits.inference.errors import InferenceError
from digits.inference.jobs import model_spec, parse_epoch
from digits.model.job import ImageClassificationModelJob
from digits.pretrained_model import upload
from digits.pretrained_model import views as pretrained_views
from digits.store import client, publish
from digits.store import info as store_info
from digits.store.info import StoreError
from digits.utils.blocking import run_blocking
from digits.utils.routing import config, json_error, scheduler, wants_json_reply

blueprint = Blueprint("store", __name__)
CACHE = "digits_store"   # app.extensions key: {"urls": the listing's configured URLs, "listing": ...}


def _urls():
    return tuple(config().get("model_store_urls") or ())


def _listing(refresh=False):
    """{base URL: listing}, read from the stores when not cached (or the configured URLs changed)."""
    cache = current_app.extensions.setdefault(CACHE, {})
    if refresh or cache.get("urls") != _urls():
        cache["listing"] = run_blocking(client.listing, _urls())
        cache["urls"] = _urls()
    return cache["listing"]


def _forget_listing():
    current_app.extensions.get(CACHE, {}).pop("urls", None)


def _refresh_asked():
    return request.args.get("refresh", "").strip().lower() in ("1", "true", "yes")


def _refuse(exc):
    if wants_json_reply():
        return json_error(str(exc), exc.status, exc.type)
    return render_template("error.html", code=exc.status, message=str(exc)), exc.status


@blueprint.app_template_global()
def model_store_publish_targets():
    """The file:// stores a model page offers to publish into."""
    return list(publish.file_stores(_urls()))


@blueprint.route("/store/list")
def store_list():
    return render_template("store/list.html", stores=_listing(_refresh_asked()), configured=bool(_urls()))


@blueprint.route("/store/models")
@blueprint.route("/store/models.json")
def models():
    """{base_url: {"base_url", "welcome_msg", "model_list": [{"id", "dir_name", "info", "aux"?}]}}; a store
    or model that cannot be read has "error"."""
    return jsonify(_listing(_refresh_asked()))


def _find(model_id):
    for refresh in (False, True):   # an id the cached listing lacks may be new in the store
        for base, store in _listing(refresh).items():
            for entry in store["model_list"]:
                if entry["id"] == model_id:
                    return base, entry
    raise StoreError(f"no model with id {model_id!r} in the model stores (GET /store/models lists them)", 404,
                     "NotFound")


def _max_bytes():
    return config().get("model_store_max_bytes") or pretrained_views._max_bytes()


@blueprint.route("/store/push", methods=["GET", "POST"])
@blueprint.route("/store/push.json", methods=["GET", "POST"])
@login_required
def push():
    """A store's model (id from /store/models) → a pretrained model job, its files downloaded afresh and
    checked like an upload. JSON: {"id", "name", "status", "success"}; the page goes to the new job."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":   # GET has no CSRF token: not from other sites
        return _refuse(StoreError("a model store push must come from this server's pages or a script", 403,
                                  "Forbidden"))
    try:
        base, entry = _find((request.values.get("id") or "").strip())
    except StoreError as exc:
        return _refuse(exc)
    dir_name = entry["dir_name"]

    def fill(job):
        with tempfile.TemporaryDirectory(prefix="digits-store-") as tmp:
            info, files, total = run_blocking(client.download_model, base, dir_name, tmp, _max_bytes())
            form = None
            if "preprocess" not in files:   # a DIGITS model: its info.json says the input size, its network the mean
                form = store_info.upload_form(info, f"{base}{dir_name}/{store_info.INFO_FILE}")
                if "mean" in files:   # (without a mean file there is none to subtract)
                    form = upload.digits_form(info, _mean_network(base, dir_name, files["network"], tmp), form)
            framework, network_file, names = upload.fill_from_files(job.dir, files, store_info.framework(info),
                                                                    form=form)
        job.notes = f"Pushed from the model store {base} (folder {dir_name}/, {total:,} bytes downloaded)."
        source = {"source": "store", "store_url": base, "dir_name": dir_name, "store_model_name": info.get("name")}
        return framework, network_file, source, names
    name = request.values.get("job_name") or entry["info"].get("name") or dir_name
    return pretrained_views.create_pretrained_job(str(name)[:200], fill)


def _mean_network(base, dir_name, network, folder):
    """The prototxt whose data layers say which mean a DIGITS model subtracts: the folder's
    train_val.prototxt when the network pushed is another prototxt (a deploy one has no data layer)."""
    path, name = network
    train_val = upload.DIGITS_NETWORKS[0]
    if name == train_val or not name.lower().endswith(".prototxt"):
        return path
    return run_blocking(client.optional_file, base, dir_name, train_val, folder) or path


@blueprint.route("/models/<job_id>/publish", methods=["POST"])
@blueprint.route("/models/<job_id>/publish.json", methods=["POST"])
@login_required
def publish_model(job_id):
    """Owner only. Fields: store (a file:// store's URL; optional when there is one), snapshot_epoch or
    epoch (newest when empty), dir_name (the model's name by default), overwrite=1 to replace a folder."""
    model = scheduler().get_job(job_id)
    if not isinstance(model, ImageClassificationModelJob):
        return json_error(f"no image classification model with id {job_id!r}", 404)
    require_owner(model, "publish")
    values = request.values
    try:
        spec, epoch = model_spec(model, parse_epoch(values.get("snapshot_epoch") or values.get("epoch")))
        base, folder = publish.pick_store(_urls(), values.get("store"))
        dir_name = publish.check_dir_name(values.get("dir_name") or publish.default_dir_name(model, epoch))
        info = publish.publish(model, spec, epoch, folder, dir_name,
                               values.get("overwrite", "").lower() in ("1", "true", "on", "yes"), current_user())
    except InferenceError as exc:
        return _refuse(exc)
    except PermissionError as exc:
        return _refuse(StoreError(f"the server may not write into the store: {exc}", 403, "Forbidden"))
    _forget_listing()
    if wants_json_reply():
        return jsonify({"store": base, "dir_name": dir_name, "id": client.model_id(base, dir_name), "info": info})
    flash(f"Published {model.name} (epoch {epoch:g}) to {base}{dir_name}/")
    return redirect(model.page_url())
