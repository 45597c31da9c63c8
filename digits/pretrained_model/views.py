"""Routes of pretrained models: the upload page, uploads (files or an archive), and "Make pretrained
model" from a trained model. JSON answers: {"id", "name", "status", "success": true}."""
import os
import shutil

from flask import Blueprint, jsonify, redirect, render_template, request

from digits.auth import current_user, login_required
from digits.dataset.archive import ArchiveError, check_archive_opens, extract_archive
from digits.frameworks import registry
from digits.utils.blocking import run_blocking
from digits.inference.errors import InferenceError, blame_user_code
from digits.inference.inputs import Uploads
from digits.inference.jobs import model_spec, parse_epoch
from digits.inference.service import get_service
from digits.job import discard_on_error
from digits.model import preprocess_spec
from digits.model.job import ImageClassificationModelJob
from digits.pretrained_model import upload
from digits.pretrained_model.job import PretrainedModelJob
from digits.sandbox import PYTHON_NETWORKS_OFF
from digits.status import Status
from digits.utils.routing import config, json_error, scheduler, wants_json_reply

blueprint = Blueprint("pretrained_models", __name__)
MAX_ARCHIVE_ENTRIES = 200


def _max_bytes():
    cfg = config()
    return int(cfg.get("pretrained_max_bytes") or 2 * cfg["max_upload_bytes"])


def _answer(job):
    if wants_json_reply():
        return jsonify({"id": job.id, "name": job.name, "status": job.status, "success": True})
    return redirect(job.page_url())


# The upload page's forms by the path they post to.
UPLOAD_FORMS = {"/pretrained_models/new": "files", "/pretrained_models/upload_archive": "archive"}


def _fail(exc):
    if wants_json_reply():
        return json_error(str(exc), exc.status, exc.type)
    failed = UPLOAD_FORMS.get(request.path)
    if failed:   # that upload form shown again with the problem and the user's values (files must be re-chosen)
        return render_template("pretrained_models/new.html", error=str(exc), failed=failed,
                               form=request.form), exc.status
    return render_template("error.html", code=exc.status, message=str(exc)), exc.status


def _new_job(name):
    name = (name or "").strip()
    if not name:
        raise upload.bad("job_name is required: a name for the pretrained model")
    if len(name) > 200:
        raise upload.bad("job_name may be at most 200 characters")
    job = PretrainedModelJob(config()["jobs_dir"], name, current_user(), request.form.get("group_name", ""))
    os.makedirs(job.dir)
    return job


def _finish(job, framework, network_file, source, names):
    """Checks the folder with the worker (network builds, weights fit), then registers the job Done.
    names: {file in the folder: the user's name for it}, for the check's error messages."""
    _refuse_python_network(framework)
    job.extra.update(framework=framework, network_file=network_file)
    try:
        converted = _convert_caffemodel(job, names)
        check = get_service().call("check", model=dict(job.model_spec(), names=names), complete_preprocess=True)
    except InferenceError as exc:
        exc = blame_user_code(exc)
        raise InferenceError(f"the model cannot be used: {exc}", 400 if exc.status < 500 else exc.status,
                             exc.type) from None
    info = dict(source, num_classes=check["num_classes"], input_shape=check["input_shape"],
                parameters=check["parameters"], layers=[layer["name"] for layer in check["layers"]
                                                        if layer["status"] == "active" and layer["weights"]])
    if converted:
        info["caffemodel"] = converted
    upload.write_info(job.dir, info)
    job.extra["info"] = info
    job.set_status(Status.DONE)
    job.save()
    sched = scheduler()
    sched.jobs[job.id] = job
    sched.emitter.job_update(job, "added")
    return job


def _convert_caffemodel(job, names):
    """An uploaded .caffemodel → weights.pt by layer name, in the worker; its report (which layers did not
    match, which the network has that it lacks), or None when the weights were a .pt."""
    path = job.path(upload.CAFFEMODEL_UPLOAD)
    if not os.path.exists(path):
        return None
    shown = os.path.basename(names.get(upload.CAFFEMODEL_UPLOAD) or upload.CAFFEMODEL_UPLOAD)
    report = get_service().call("caffemodel", model=dict(job.model_spec(), names=names), caffemodel=path,
                                shown_name=shown)
    os.unlink(path)   # weights.pt holds it now
    return dict(report, file=shown)


def _refuse_python_network(framework):
    """With DIGITS_PYTHON_NETWORKS=0 a network.py is never run, not even to check it."""
    if registry.runs_user_code(framework) and not config()["python_networks"]:
        raise upload.bad(f"{registry.get_framework(framework).network_file}: {PYTHON_NETWORKS_OFF}")


def _create(name, fill):
    """Makes the folder, runs fill(job) → (framework, network file, source, names), checks; cleans up
    on error (a full disk too: 507)."""
    try:
        job = _new_job(name)
        with discard_on_error([job]):
            return _answer(_finish(job, *fill(job)))
    except InferenceError as exc:
        return _fail(exc)


# The model store's push makes its pretrained models the same way (digits/store/views.py).
create_pretrained_job = _create


@blueprint.route("/pretrained_models/new", methods=["GET"])
@login_required
def new():
    return render_template("pretrained_models/new.html", error=None, failed=None, form={})


@blueprint.route("/pretrained_models/new", methods=["POST"])
@blueprint.route("/pretrained_models/new.json", methods=["POST"])
@login_required
def create_from_files():
    """DIGITS' fields: weights_file (.pt / .pth, or a .caffemodel with a .prototxt), model_def_file, labels_file,
    framework, image_type, resize_mode, width, height, job_name; ours: mean_file, use_mean, scale, crop_size."""
    def fill(job):
        with Uploads() as uploads:
            files = {key: (uploads.save(request.files.get(field), field), request.files[field].filename)
                     for key, field in (("weights", "weights_file"), ("network", "model_def_file"),
                                        ("labels", "labels_file"))}
            mean = request.files.get("mean_file")
            if mean is not None and mean.filename:
                files["mean"] = (uploads.save(mean, "mean_file"), mean.filename)
            framework = (request.form.get("framework") or "").strip().lower() or None
            if framework is None:
                framework = registry.framework_of_file(files["network"][1])
            framework, network_file, names = upload.fill_from_files(job.dir, files, framework, form=request.form)
        return framework, network_file, {"source": "upload"}, names
    return _create(request.form.get("job_name"), fill)


@blueprint.route("/pretrained_models/upload_archive", methods=["POST"])
@blueprint.route("/pretrained_models/upload_archive.json", methods=["POST"])
@login_required
def create_from_archive():
    """An archive (.tar, .tar.gz, .tar.bz2, .zip) holding the network, weights and labels.txt — e.g. one
    downloaded from /models/<id>/download, or a DIGITS model archive (upload.py) — plus preprocess.json
    (else DIGITS' info.json image fields, else the form's). Without a job_name it is named as its
    info.json names the model (else after the archive file)."""
    given_name = (request.form.get("job_name") or "").strip()

    def fill(job):
        with Uploads() as uploads:
            path = uploads.save(request.files.get("archive"), "archive")
            folder = os.path.join(uploads.dir, "extracted")
            _check_opens(path, request.files["archive"].filename)
            try:
                run_blocking(extract_archive, path, folder, _max_bytes(), MAX_ARCHIVE_ENTRIES)
            except ArchiveError as exc:
                status = 413 if "limit" in str(exc) else 400
                raise InferenceError(f"archive: {exc}", status, "BadRequest") from None
            found = upload.find_archive_files(folder)
            info = upload.archive_info(found["info"]) if found["info"] else {}
            files = {key: (path, os.path.relpath(path, folder)) for key, path in found.items() if path}
            form = request.form if found["preprocess"] else upload.digits_form(info, found["network"], request.form)
            framework, network_file, names = upload.fill_from_files(job.dir, files, info.get("framework"), form=form)
        source = {"source": "archive", "archive_name": request.files["archive"].filename}
        from_model = info.get("kind", ImageClassificationModelJob.kind) == ImageClassificationModelJob.kind
        if info.get("job_id") and from_model:   # (a pretrained model's own archive names no model)
            source.update(model_id=info.get("job_id"), model_name=info.get("name"), epoch=info.get("epoch"))
        if isinstance(info.get("job id"), str):   # DIGITS': a job of the server the archive came from
            source.update(original_job_id=info["job id"], model_name=info.get("name"))
        if not given_name and isinstance(info.get("name"), str) and info["name"].strip():
            job.name = info["name"].strip()[:200]
        return framework, network_file, source, names
    return _create(given_name or _archive_stem(), fill)


def write_model_files(model, spec, out_dir):
    """A trained model's snapshot (spec) as a pretrained model's files in out_dir: the network, labels.txt,
    the mean it uses, preprocess.json and weights.pt (a state_dict the worker exports). Returns (framework,
    network file name). Publishing to a model store writes the same files."""
    framework, network_file = model.extra["framework"], model.extra["network_file"]
    _refuse_python_network(framework)   # before the export below runs it
    shutil.copyfile(model.path(network_file), os.path.join(out_dir, network_file))
    with open(os.path.join(out_dir, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{label}\n" for label in model.labels()))
    source_preprocess = model.path(preprocess_spec.PREPROCESS_FILE)
    original_mean = upload.archive_info(source_preprocess).get("mean_file")
    params = upload.checked_preprocess(source_preprocess, len(model.labels()), True)
    if preprocess_spec.uses_mean(params):
        shutil.copyfile(model.path(original_mean), os.path.join(out_dir, upload.MEAN_FILE))
    upload.write_preprocess(out_dir, params)
    get_service().call("export", model=spec, out_dir=out_dir, formats=["weights"])
    return framework, network_file


def _check_opens(path, name):
    """A file that is no archive at all gets a plain answer, not the tar module's attempts at each
    compression ("method gz: ReadError(...) - method bz2: ...")."""
    try:
        check_archive_opens(path)
    except ArchiveError:
        shown = os.path.basename((name or "").replace("\\", "/")) or "the upload"
        raise InferenceError(f"archive: {shown} is not a readable .zip or .tar archive "
                             "(.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz)", 400, "BadRequest") from None


def _archive_stem():
    storage = request.files.get("archive")
    name = os.path.basename(storage.filename or "") if storage is not None else ""
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name or "pretrained model"


@blueprint.route("/models/<job_id>/to_pretrained", methods=["POST"])
@blueprint.route("/models/<job_id>/to_pretrained.json", methods=["POST"])
@login_required
def from_model(job_id):
    """"Make pretrained model" from a snapshot (newest unless snapshot_epoch / epoch is given)."""
    model = scheduler().get_job(job_id)
    if not isinstance(model, ImageClassificationModelJob):
        return json_error(f"no image classification model with id {job_id!r}", 404)

    def fill(job):
        framework, network_file = write_model_files(model, spec, job.dir)
        return framework, network_file, {"source": "model", "model_id": model.id, "model_name": model.name,
                                         "epoch": epoch}, {}
    try:   # the epoch asked for (the newest when none): it names the job and is the one copied
        spec, epoch = model_spec(model, parse_epoch(request.values.get("snapshot_epoch") or request.values.get("epoch")))
    except InferenceError as exc:
        return _fail(exc)
    default_name = f"{model.name} (epoch {epoch:g})"
    return _create(request.form.get("job_name") or default_name, fill)
