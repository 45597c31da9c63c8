"""Download a trained model: /models/<id>/download[.tar|.tar.gz|.tar.bz2|.zip]?epoch=N.

The archive holds everything needed to reproduce the server's predictions elsewhere
(examples/classification/use_archive.py does it with torch or onnxruntime, numpy and PIL only):
    network.prototxt | network.py   the definition as the user gave it
    weights.pt                      state_dict of the snapshot (torch.load(weights_only=True))
    model.ts, model.onnx            TorchScript / ONNX exports: input "data" N×C×H×W float32
                                    (preprocessed), output "logits" N×K (apply softmax) — a detection
                                    model's "detections" N×D×6 [x1, y1, x2, y2, score, class_id]; an
                                    export the network does not allow is left out, info.json "exports"
                                    saying why (examples/object-detection/use_archive.py then builds the
                                    network from its file and weights.pt)
    labels.txt, preprocess.json     class names; resize mode, size, channels, mean mode, crop, scale (a
                                    detection model's also its dataset's geometry and its postprocess)
    colormap.json                   a segmentation model's {"classes", "colormap": [[r, g, b]] per class id}:
                                    its output "logits" is N×K×H×W, one score map per class at the
                                    input's size (examples/semantic-segmentation/use_archive.py paints
                                    the server's colour mask from it)
    mean.binaryproto, mean.npy      the mean (Caffe's BlobProto; float32 C×H×W RGB for numpy), if used
    snapshot.caffemodel,            a Caffe (prototxt) network's weights for Caffe users: deploy.prototxt takes
    deploy.prototxt                 the mean-subtracted image (BGR for colour), info.json "exports" saying
                                    whether it also applies the scale (digits.frameworks.caffemodel)
    info.json                       job, kind, epoch, framework, input/output names and shapes, metrics
Exports are made by the inference worker once per snapshot and cached in <model>/deploy/.
A pretrained model downloads the same way (/pretrained_models/<id>/download, or under /models/): its one
set of weights, info.json's "epoch" being the one it was made from (null when uploaded without one).
"""
import bz2
import gzip
import io
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import time
import zipfile

from flask import Blueprint, after_this_request, request, send_file

from digits import __version__
from digits.frameworks.caffemodel import DEPLOY_FILE, SNAPSHOT_FILE
from digits.inference.errors import InferenceError
from digits.inference.jobs import dataset_colormap, model_spec, parse_epoch
from digits.inference.masks import colormap_for, per_pixel
from digits.inference.service import get_service
from digits.model.job import ModelJob
from digits.model.preprocess_spec import PREPROCESS_FILE, uses_mean
from digits.pretrained_model.job import PretrainedModelJob
from digits.utils import finite_json
from digits.utils.atomic import read_json_or_empty, write_json
from digits.utils.blocking import run_blocking
from digits.utils.routing import json_error, scheduler

blueprint = Blueprint("model_archive", __name__)

FORMATS = {"tar": "w", "tar.gz": "w:gz", "tgz": "w:gz", "tar.bz2": "w:bz2", "zip": "zip"}
MIMETYPES = {"tar": "application/x-tar", "tar.gz": "application/gzip", "tgz": "application/gzip",
             "tar.bz2": "application/x-bzip2", "zip": "application/zip"}
KEEP_EXPORTS = 2   # snapshots whose exports stay cached in deploy/ (each is ~1.5× a snapshot)
DEPLOY_DIR = "deploy"
EXPORTS = ("weights", "torchscript", "onnx")
EXPORT_FILES = ("weights.pt", "model.ts", "model.onnx")
OPTIONAL_EXPORTS = ("torchscript", "onnx", "caffemodel")   # the weights alone still make a usable archive
CAFFE_FILES = {"caffemodel": SNAPSHOT_FILE, "deploy": DEPLOY_FILE}   # Caffe networks' too
COLORMAP_FILE = "colormap.json"


@blueprint.route("/models/<job_id>/download", methods=["GET", "POST"])
@blueprint.route("/models/<job_id>/download.<extension>", methods=["GET", "POST"])
@blueprint.route("/pretrained_models/<job_id>/download", methods=["GET", "POST"])
@blueprint.route("/pretrained_models/<job_id>/download.<extension>", methods=["GET", "POST"])
def download(job_id, extension="tar.gz"):
    if extension not in FORMATS:
        return json_error(f"unknown archive type .{extension}; use .tar, .tar.gz, .tar.bz2 or .zip", 400)
    job = scheduler().get_job(job_id)
    if not isinstance(job, (ModelJob, PretrainedModelJob)) or job.load_error:
        return json_error(f"no image classification model or pretrained model with id {job_id!r}", 404)
    epoch_field = next((request.values.get(k) for k in ("epoch", "snapshot_epoch") if request.values.get(k)), None)
    try:
        spec, epoch = model_spec(job, parse_epoch(epoch_field))
        folder = deploy_files(job, spec, epoch)
        path = run_blocking(write_archive, job, epoch, folder, extension)
    except InferenceError as exc:
        return json_error(str(exc), exc.status, exc.type)

    @after_this_request
    def _remove(response):
        # the open file handle keeps the data readable for send_file after the unlink
        try:
            os.unlink(path)
        except OSError:
            pass
        return response

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", job.name).strip("_") or job.id
    suffix = "" if epoch is None else f"_epoch_{epoch:g}"
    return send_file(path, as_attachment=True, download_name=f"{name}{suffix}.{extension}", max_age=0,
                     mimetype=MIMETYPES[extension])


def deploy_files(job, spec, epoch):
    """The folder holding the snapshot's exports, made by the worker unless cached and current."""
    stamp = f"{os.stat(spec['weights']).st_mtime_ns}"
    folder = job.path(DEPLOY_DIR, "weights" if epoch is None else f"epoch_{epoch:g}")
    formats = list(EXPORTS) + (["caffemodel"] if _is_caffe(job) else [])
    marker = read_json_or_empty(os.path.join(folder, "complete.json"))
    if marker.get("stamp") != stamp or not set(formats) <= set(marker.get("exports") or {}):
        os.makedirs(job.path(DEPLOY_DIR), exist_ok=True)
        staging = job.path(DEPLOY_DIR, f".staging-{secrets.token_hex(4)}")
        try:
            details = get_service().call("export", model=spec, out_dir=staging, formats=formats,
                                         optional=list(OPTIONAL_EXPORTS))["files"]
            write_json(os.path.join(staging, "complete.json"), {"stamp": stamp, "exports": details})
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(staging, folder)
            _prune_exports(job.path(DEPLOY_DIR))
        except OSError as exc:
            raise InferenceError(f"cannot store the exported model: {exc}", 500, "Error") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder



def _prune_exports(deploy_dir):
    """Keeps the exports of the most recently made snapshots; older ones are made again on demand."""
    def made(folder):   # another download may be pruning at the same time
        try:
            return os.stat(folder).st_mtime
        except OSError:
            return 0.0
    folders = [os.path.join(deploy_dir, n) for n in os.listdir(deploy_dir) if not n.startswith(".")]
    folders.sort(key=made, reverse=True)
    for old in folders[KEEP_EXPORTS:]:
        shutil.rmtree(old, ignore_errors=True)


def _is_caffe(job):
    return job.extra.get("framework") == "caffe"


def _task(job):
    from digits.model.tasks import get_task_type
    return get_task_type(getattr(job, "task_type", None))


def archive_members(job, epoch, folder):
    """[(name in the archive, bytes or a file path)], every name chosen here (never from users)."""
    preprocess = read_json_or_empty(job.path(PREPROCESS_FILE))
    network_file = job.extra.get("network_file")
    members = [(network_file, job.path(network_file)), (PREPROCESS_FILE, job.path(PREPROCESS_FILE))]
    exported = EXPORT_FILES + (tuple(CAFFE_FILES.values()) if _is_caffe(job) else ())
    members += [(name, os.path.join(folder, name)) for name in exported if os.path.exists(os.path.join(folder, name))]
    labels = job.labels()
    members.append(("labels.txt", "".join(f"{label}\n" for label in labels).encode("utf-8")))
    mean_file = preprocess.get("mean_file") if uses_mean(preprocess) else None
    if mean_file:
        members.append((mean_file, job.path(mean_file)))
        members.append(("mean.npy", _mean_npy(job.path(mean_file))))
    made_from = (job.extra.get("info") or {}) if epoch is None else {}   # a pretrained model's source
    task = _task(job)
    maps = per_pixel(task)
    if maps:
        members.append((COLORMAP_FILE, finite_json.dumps(
            {"classes": labels, "colormap": colormap_for(dataset_colormap(job), preprocess.get("num_classes") or 0)},
            indent=2).encode("utf-8")))
    info = {"job_id": job.id, "name": job.name, "epoch": made_from.get("epoch", epoch),
            "framework": job.extra.get("framework"), "kind": job.kind,
            "network_file": network_file, "dataset_id": job.extra.get("dataset_id"), "created": job.created,
            "exported": time.time(), "digits_version": __version__, "num_classes": preprocess.get("num_classes"),
            "input": {"name": "data", "shape": ["N", *_input_shape(preprocess)], "dtype": "float32",
                      "preprocessed": True},
            "task_type": task.name,
            "output": dict(_output(preprocess, maps), **task.meaning),
            "files": dict({fmt: name if any(n == name for n, _ in members) else None
                           for fmt, name in zip(EXPORTS, EXPORT_FILES)},
                          **({k: v if any(n == v for n, _ in members) else None for k, v in CAFFE_FILES.items()}
                             if _is_caffe(job) else {}),
                          labels="labels.txt", preprocess=PREPROCESS_FILE, mean="mean.npy" if mean_file else None,
                          **({"colormap": COLORMAP_FILE} if maps else {})),
            "exports": read_json_or_empty(os.path.join(folder, "complete.json")).get("exports", {}),
            "metrics": _metrics_at(job, epoch)}
    if made_from:
        info["made_from"] = made_from
    members.append(("info.json", finite_json.dumps(info, indent=2).encode("utf-8")))
    return members


def _output(preprocess, maps=False):
    """The exports' output (names as digits.inference.export gives them); maps: a segmentation model's,
    one score map per class at the input's size."""
    postprocess = preprocess.get("postprocess")
    if postprocess:
        return {"name": "detections", "shape": ["N", postprocess.get("max_detections"), 6],
                "rows": ["x1", "y1", "x2", "y2", "score", "class_id"]}
    if maps:
        return {"name": "logits", "shape": ["N", preprocess.get("num_classes"), *_input_shape(preprocess)[1:]]}
    return {"name": "logits", "shape": ["N", preprocess.get("num_classes")]}


def _input_shape(preprocess):
    crop = preprocess.get("crop_size")
    return [preprocess.get("channels"), crop or preprocess.get("height"), crop or preprocess.get("width")]


def _metrics_at(job, epoch):
    task = getattr(job, "train_task", None)
    if task is None or epoch is None:
        return {}
    found = {}
    for key, series in task.metrics.items():
        values = [v for e, v in series if e is not None and abs(e - epoch) < 1e-6]
        if values and not key.startswith("train/"):
            found[key] = values[-1]
    return found


def _mean_npy(path):
    import numpy as np
    from digits.dataset.reader import load_mean
    buf = io.BytesIO()
    np.save(buf, load_mean(path).astype(np.float32))
    return buf.getvalue()


def write_archive(job, epoch, folder, extension):
    """Writes the archive into a temp file; returns its path."""
    fd, path = tempfile.mkstemp(prefix="digits-download-", suffix=f".{extension}")
    os.close(fd)
    members = archive_members(job, epoch, folder)
    try:
        if FORMATS[extension] == "zip":
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, content in members:
                    if isinstance(content, bytes):
                        archive.writestr(name, content)
                    else:
                        archive.write(content, name)
        elif FORMATS[extension] == "w:bz2":
            with open(path, "wb") as raw, bz2.BZ2File(raw, "wb", compresslevel=6) as packed:
                _write_tar(packed, members)
        elif FORMATS[extension] == "w:gz":
            # gzip level 6 (tarfile's default is 9: twice the time for ~1% on weights), and no temp
            # file name in the gzip header.
            with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6) as gz:
                _write_tar(gz, members)
        else:
            with open(path, "wb") as raw:
                _write_tar(raw, members)
    except OSError as exc:
        os.unlink(path)
        raise InferenceError(f"cannot write the archive: {exc}", 500, "Error") from None
    return path


def _write_tar(fileobj, members):
    with tarfile.open(fileobj=fileobj, mode="w") as archive:
        for name, content in members:
            _add_tar(archive, name, content)


def _add_tar(archive, name, content):
    """A regular file entry with neutral ownership; never follows or stores links."""
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.type = 0o644, int(time.time()), tarfile.REGTYPE
    if isinstance(content, bytes):
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
        return
    with open(content, "rb") as f:
        info.size = os.fstat(f.fileno()).st_size
        archive.addfile(info, f)
