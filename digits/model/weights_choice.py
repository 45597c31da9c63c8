"""Which weights a new model starts from, for DIGITS' two ways of saying it beyond the form's own fields:

- the "previous network" form's `<job_id>-snapshot` select: 0 = none (the network only), -1 = the
  weights that job itself started from, N = its snapshot of epoch N;
- `custom_network_snapshot`: a weights file on the server for a custom network. A path inside the
  jobs folder must be a model's snapshot or a pretrained model's weights (the folder also holds the
  server's secret key and accounts); any other path must be a file inside the allowed roots.

The file is only located and checked here; training reads it (torch.load with weights_only).
"""
import math
import os

from digits.utils.forms import FieldError
from digits.utils.paths import PathError, is_inside, resolve_user_path

WEIGHT_SUFFIXES = (".pt", ".pth", ".caffemodel")


def _epoch(text, field):
    try:
        value = float(str(text).strip())
    except ValueError:
        raise FieldError(field, f"snapshot epoch {text!r} is not a number (0 = none, -1 = the weights it "
                                "started from)") from None
    if not math.isfinite(value):
        raise FieldError(field, f"snapshot epoch {text!r} is not a number")
    return int(value) if value.is_integer() else value


def previous_weights(previous, form_values, default_epoch):
    """(weights file or None, id of the job it belongs to or None) for a "previous network" model.
    `<id>-snapshot` (DIGITS' field) wins over previous_network_snapshot when both are given."""
    field = "previous_network_snapshot"
    digits_value = (form_values.get(f"{previous.id}-snapshot") or "").strip()
    epoch = _epoch(digits_value, field) if digits_value else default_epoch
    if epoch == 0 and digits_value:
        return None, None
    if epoch == -1:
        start = (previous.train_config().get("pretrained") or {}).get("file")
        if not start or not os.path.isfile(start):
            raise FieldError(field, f"model {previous.name!r} did not start from pretrained weights (-1 needs some)")
        return start, previous.extra.get("weights_from")
    weights = previous.snapshot_path(epoch)
    if weights is None:
        epochs = ", ".join(map(str, previous.snapshot_epochs())) or "none yet"
        raise FieldError(field, f"model {previous.name!r} has no snapshot for epoch {'latest' if epoch is None else epoch} "
                                f"(it has: {epochs})")
    return weights, previous.id


def job_weights_file(sched, path):
    """(resolved path, job id) when path is one of a job's snapshot or weights files, else None."""
    jobs_dir = os.path.realpath(sched.config["jobs_dir"])
    resolved = os.path.realpath(path)
    if not is_inside(resolved, jobs_dir):
        return None
    job = sched.get_job(os.path.relpath(resolved, jobs_dir).split(os.sep)[0])
    files = []
    if job is not None:
        files = [job.snapshot_path(e) for e in job.snapshot_epochs()]
        if hasattr(job, "weights_path"):
            files.append(job.weights_path())
    if resolved not in {os.path.realpath(f) for f in files if f}:
        raise FieldError("custom_network_snapshot", f"{path} is in the jobs folder but is not a model's snapshot "
                                                     "or a pretrained model's weights")
    return resolved, job.id


def custom_weights(sched, roots, text):
    """(weights file or None, id of the job it belongs to or None) of custom_network_snapshot."""
    text = (text or "").strip()
    if not text:
        return None, None
    field = "custom_network_snapshot"
    if not text.lower().endswith(WEIGHT_SUFFIXES):
        raise FieldError(field, f"{text} is not a weights file ({', '.join(WEIGHT_SUFFIXES)})")
    found = job_weights_file(sched, os.path.expanduser(text))
    if found:
        return found
    try:
        return resolve_user_path(text, roots, kind="file"), None
    except PathError as exc:
        raise FieldError(field, str(exc)) from None
