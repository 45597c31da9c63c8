"""From a job id and an optional snapshot epoch to the model spec the worker loads (see loader.py),
with the clear 4xx errors users need: unknown job, no snapshot yet, no snapshot for that epoch. No epoch
means the model's default: the snapshot training marked best (digits.model.early_stopping), else the newest."""
import math

from digits.inference.errors import InferenceError

LATEST, BEST = "latest", "best"   # snapshot_epoch words; empty: the best when training marked one, else the newest


def find_model(scheduler, job_id, generic=False):
    """The classification model (or pretrained model) job with that id — with generic, a generic model —;
    InferenceError 404 otherwise."""
    from digits.model.job import GenericImageModelJob, ImageClassificationModelJob
    from digits.pretrained_model.job import PretrainedModelJob
    if not job_id:
        raise InferenceError("job_id is required: the id of the model to use", 400, "BadRequest")
    job = scheduler.get_job(str(job_id).strip())
    kinds = (GenericImageModelJob,) if generic else (ImageClassificationModelJob, PretrainedModelJob)
    if not isinstance(job, kinds) or job.load_error:
        raise InferenceError(f"no {'generic' if generic else 'image classification'} model with id {job_id!r}",
                             404, "NotFound")
    return job


def parse_epoch(value):
    """None when empty (the model's default: ModelJob.default_epoch), LATEST ("latest"/"newest"/-1), BEST,
    or an epoch number (int when whole). InferenceError 400 when malformed."""
    if value is None or not str(value).strip():
        return None
    word = str(value).strip().lower()
    if word in (LATEST, "newest", BEST):
        return BEST if word == BEST else LATEST
    try:
        epoch = float(str(value).strip())
    except ValueError:
        raise InferenceError(f"snapshot_epoch must be a number, got {value!r}", 400, "BadRequest") from None
    if epoch == -1:
        return LATEST   # DIGITS' own default (download?epoch=-1): its scripts send it for "the newest"
    if not math.isfinite(epoch) or epoch < 0:
        raise InferenceError(f"snapshot_epoch must be a number >= 0, got {value!r}", 400, "BadRequest")
    return int(epoch) if epoch.is_integer() else epoch


def model_spec(job, epoch=None):
    """(spec for the worker, the epoch used or None for a pretrained model)."""
    from digits.pretrained_model.job import PretrainedModelJob
    if isinstance(job, PretrainedModelJob):
        # one set of weights: an epoch is refused unless it is the one they came from
        if epoch not in (None, LATEST, BEST):
            made_from = (job.extra.get("info") or {}).get("epoch")
            if made_from is None:
                raise InferenceError(f"pretrained model {job.name!r} has no snapshot epochs (it holds one set of "
                                     f"weights); leave snapshot_epoch empty", 400, "BadRequest")
            if epoch != made_from:
                raise InferenceError(f"pretrained model {job.name!r} holds one set of weights, made from epoch "
                                     f"{made_from}; snapshot_epoch {epoch:g} does not apply", 400, "BadRequest")
        return job.model_spec(), None
    epochs = job.snapshot_epochs()
    if not epochs:
        raise InferenceError(f"model {job.name!r} has no snapshot yet; it can classify once training has saved "
                             f"its first epoch", 409, "Conflict")
    epoch = _resolve(job, epoch, epochs)
    if epoch not in epochs:
        raise InferenceError(f"model {job.name!r} has no snapshot for epoch {epoch:g} (snapshots: "
                             f"{', '.join(f'{e:g}' for e in epochs)})", 400, "BadRequest")
    spec = {"dir": job.dir, "framework": job.extra.get("framework"),
            "network_file": job.extra.get("network_file"), "weights": job.snapshot_path(epoch), "labels": job.labels()}
    colormap = dataset_colormap(job)
    if colormap:   # a segmentation model's: the colours its masks are painted with
        spec["colormap"] = colormap
    return spec, epoch


def _resolve(job, epoch, epochs):
    if epoch is None:
        return job.default_epoch()
    if epoch == LATEST:
        return epochs[-1]
    if epoch == BEST:
        best = job.best_snapshot()
        if best is None:
            raise InferenceError(f"model {job.name!r} has no best snapshot (it was trained without best_metric "
                                 f"or early stopping, or has not validated yet); give a snapshot_epoch", 400,
                                 "BadRequest")
        return best["epoch"]
    return epoch


def dataset_colormap(job):
    """The "colormap" of the dataset a model trained on (dataset.json, docs/segmentation.md §1), or None."""
    from digits.dataset.files import read_info
    dataset_dir = job.train_config().get("dataset_dir")
    try:
        colormap = read_info(dataset_dir).get("colormap") if dataset_dir else None
    except (OSError, ValueError, AttributeError):
        return None
    return colormap if isinstance(colormap, list) else None

