"""Best epoch and early stopping: which validation figure makes a snapshot the best one
(`best_metric`, one of the task type's metrics), how many validation checks without improvement end a
training (`early_stopping_patience`), and which snapshots stay when older ones are pruned
(`snapshots_to_keep`: the newest N snapshots, plus the best one and the one training resumes from).

Torch-free: the model form checks the settings with it; the trainer tracks the best value with
BestTracker, whose state travels in each snapshot so that a resumed training keeps counting.
"""
import math
import os

from digits.model.snapshot_names import snapshot_files
from digits.model.tasks import TASK_TYPES

LOWER_IS_BETTER = frozenset({"loss", "rmse", "mae"})
# An "improvement" must beat the best by more than float noise: a plateau (learning rate 0) can give
# values that differ in the last bits when the summation order changes.
RELATIVE_TOLERANCE = 1e-9


class SettingsError(ValueError):
    """A best_metric / patience / snapshots_to_keep value that cannot be used; the message says why."""


def metric_names(task_type):
    """The validation metrics a task type reports (its possible best_metric values)."""
    task = TASK_TYPES.get(task_type or "classification")
    return tuple(task.metric_names) if task else ()


def default_metric(task_type):
    """What "best" means when best_metric is left empty: the task type's first metric (val loss, or
    detection's mAP)."""
    names = metric_names(task_type)
    return names[0] if names else None


def metric_label(name):
    return f"val {name.replace('_', ' ')}"   # "val accuracy top5"


def metric_choices(task_types):
    """[(value, label)] for the form's select: empty (the task type's default) and each metric of
    those task types, the task types named when not all have it."""
    owners = {}
    for task_type in task_types:
        for name in metric_names(task_type):
            owners.setdefault(name, []).append(task_type)
    choices = [("", "Default (val loss; mAP for detection)" if len(task_types) > 1 else
                f"Default ({metric_label(default_metric(task_types[0]))})")]
    for name, owned in owners.items():
        suffix = "" if len(owned) == len(task_types) else f" ({', '.join(owned)})"
        choices.append((name, metric_label(name) + suffix))
    return choices


def resolve_metric(task_type, name):
    """The task type's metric that `name` stands for ("loss", "val_loss", "val accuracy", "MIOU" ...),
    its default when empty; SettingsError listing the task type's metrics otherwise."""
    names = metric_names(task_type)
    text = str(name or "").strip()
    if not text:
        return default_metric(task_type)
    key = text.lower().replace(" ", "_")
    key = key[4:] if key.startswith("val_") else key
    for candidate in names:
        if candidate.lower() == key:
            return candidate
    raise SettingsError(f"best_metric {text!r} is not a metric of {task_type or 'classification'} models; "
                        f"use one of: {', '.join(names)}")


def check_count(name, value, empty_means):
    """None or the int >= 1 a patience / snapshots_to_keep must be; SettingsError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not number.is_integer():
        raise SettingsError(f"{name} must be a whole number, got {value!r}")
    if number < 1:
        raise SettingsError(f"{name} must be at least 1 (empty: {empty_means}), got {value!r}")
    return int(number)


def tracks_best(config):
    """Whether a training with this train config keeps a best epoch: it asked for a metric, for early
    stopping, or for pruning (which must not lose the best). Without any, training behaves as before."""
    return bool(config.get("best_metric") or config.get("early_stopping_patience") or config.get("snapshots_to_keep"))


class BestTracker:
    """The best validation value so far, where it was, and the checks since (the patience used up)."""

    def __init__(self, metric, patience=None):
        self.metric, self.patience = metric, patience
        self.lower = metric in LOWER_IS_BETTER
        self.value = self.epoch = self.stop_epoch = None
        self.checks_since_best = 0

    def _better(self, value):
        if self.value is None:
            return True
        margin = RELATIVE_TOLERANCE * max(1.0, abs(self.value))
        return value < self.value - margin if self.lower else value > self.value + margin

    def update(self, epoch, metrics):
        """One validation check at `epoch`; True when it is the new best. A missing or non-finite value
        (a diverged loss) is a check without improvement."""
        value = metrics.get(self.metric)
        if isinstance(value, (int, float)) and math.isfinite(value) and self._better(value):
            self.value, self.epoch, self.checks_since_best = float(value), epoch, 0
            return True
        self.checks_since_best += 1
        if self.patience and self.checks_since_best >= self.patience and self.stop_epoch is None:
            self.stop_epoch = epoch
        return False

    def stop_reason(self):
        return (f"stopped early at epoch {self.stop_epoch:g}: no improvement of {metric_label(self.metric)} "
                f"for {self.checks_since_best} validations")

    def result(self):
        """The figures the server shows and chooses snapshots by (a "result" message)."""
        return {"best_epoch": self.epoch, "best_metric": self.metric, "best_value": self.value}

    def state(self):
        """Plain values for the snapshot (torch.load(weights_only=True) reads them back)."""
        return {"metric": self.metric, "value": self.value, "epoch": self.epoch,
                "checks_since_best": self.checks_since_best, "stop_epoch": self.stop_epoch}

    def restore(self, state):
        """Continues from a snapshot's state, unless it tracked another metric (the config changed)."""
        if not isinstance(state, dict) or state.get("metric") != self.metric:
            return False
        self.value, self.epoch = state.get("value"), state.get("epoch")
        self.checks_since_best = int(state.get("checks_since_best") or 0)
        self.stop_epoch = state.get("stop_epoch")   # killed after its last snapshot: nothing left to train
        return True


def tracker_for(config, task_type):
    """The BestTracker a train config asks for, or None; SettingsError for settings that cannot be used."""
    patience = check_count("early_stopping_patience", config.get("early_stopping_patience"), "no early stopping")
    check_count("snapshots_to_keep", config.get("snapshots_to_keep"), "keep every snapshot")
    metric = resolve_metric(task_type, config.get("best_metric"))
    if not tracks_best(config):
        return None
    return BestTracker(metric, patience)


def snapshots_to_prune(epochs, keep, best_epoch):
    """The epochs of the snapshots to delete: all but the newest `keep`, the best one and the newest
    whole-epoch one (the point a training resumes from, when the newest is a mid-epoch one). keep None:
    none."""
    if not keep:
        return []
    ordered = sorted(epochs)
    whole = [e for e in ordered if float(e).is_integer()]
    kept = set(ordered[-keep:]) | set(whole[-1:])
    if best_epoch is not None:
        kept.add(best_epoch)
    return [e for e in ordered if e not in kept]


def prune(folder, keep, best_epoch):
    """Deletes the snapshots snapshots_to_prune names; [epochs deleted]. A file that cannot be deleted
    stays (it costs disk space, nothing else)."""
    files = dict(snapshot_files(folder))
    removed = []
    for epoch in snapshots_to_prune(list(files), keep, best_epoch):
        try:
            os.remove(os.path.join(folder, files[epoch]))
            removed.append(epoch)
        except OSError:
            pass
    return removed
