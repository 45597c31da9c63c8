"""Early stopping and the best snapshot (digits.model.early_stopping) in real training runs: a plateau
stops within patience + 1 validation checks, the best snapshot outlives pruning, a resumed training
keeps counting its patience, bad settings are errors that name the field."""
import os
import signal
import subprocess
import sys

import pytest
import torch

import trainkit
from trainkit import metrics, of_type, run_in_process

from digits.model import early_stopping
from digits.model.snapshot_names import snapshot_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(trainkit.HERE, "run_train.py")
# The learning rate drops to 0 after the first iteration (step policy, gamma 0, step 1% of the
# training): from the first validation on, every one gives the same figures — a plateau.
PLATEAU = dict(train_epochs=8, learning_rate=0.05, momentum=0.0, lr_policy={"policy": "step", "step_size": 1,
                                                                           "gamma": 0.0})


def _results(msgs):
    merged = {}
    for m in of_type(msgs, "result"):
        merged.update(m)
    return merged


def _epochs(job_dir):
    return [epoch for epoch, _ in snapshot_files(job_dir)]


def test_plateau_stops_within_patience_and_keeps_the_best_snapshot(job):
    job_dir = job(**PLATEAU, early_stopping_patience=2, snapshots_to_keep=1)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    checks = metrics(msgs, "val", "loss")
    assert len(checks) == 3 and len({v for _, v in checks}) == 1   # best, then 2 without improvement
    results = _results(msgs)
    assert results["stopped_early"] is True and results["final_epoch"] == 3
    assert results["stop_reason"] == "stopped early at epoch 3: no improvement of val loss for 2 validations"
    assert (results["best_epoch"], results["best_metric"]) == (1, "loss")
    assert results["best_value"] == pytest.approx(checks[0][1])
    # snapshots_to_keep=1 keeps the newest; the best (the oldest here) stays too
    assert _epochs(job_dir) == [1, 3]
    best = torch.load(os.path.join(job_dir, "snapshot_epoch_1.pt"), weights_only=True)
    assert best["best"]["epoch"] == 1 and best["best"]["checks_since_best"] == 0
    assert of_type(msgs, "progress")[-1] == {"type": "progress", "value": 1.0, "epoch": 3.0}


def test_a_mid_epoch_best_and_stop_get_snapshots_of_their_own(job):
    # validations at 0.5, 1, 1.5: the best is the first, the stop the third, both mid-epoch
    job_dir = job(**PLATEAU, val_interval=0.5, early_stopping_patience=2, snapshots_to_keep=1)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert [e for e, _ in metrics(msgs, "val", "loss")] == [0.5, 1, 1.5]
    results = _results(msgs)
    assert (results["best_epoch"], results["final_epoch"]) == (0.5, 1.5)
    # the best, the newest, and the newest whole epoch (what a restart would resume from)
    assert _epochs(job_dir) == [0.5, 1, 1.5]


def test_without_the_settings_training_is_as_before(job):
    code, msgs = run_in_process(job(train_epochs=2))
    results = _results(msgs)
    assert code == 0 and "best_epoch" not in results and "stopped_early" not in results


def test_a_best_metric_that_rises_is_maximised(job):
    job_dir = job(train_epochs=3, best_metric="val_accuracy", snapshots_to_keep=1)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    accuracy = metrics(msgs, "val", "accuracy")
    best = max(range(len(accuracy)), key=lambda i: (accuracy[i][1], -i))   # the first of the highest
    results = _results(msgs)
    assert (results["best_metric"], results["best_epoch"]) == ("accuracy", accuracy[best][0])
    assert results["best_value"] == pytest.approx(accuracy[best][1])
    assert "stopped_early" not in results   # no patience: every epoch is trained
    assert set(_epochs(job_dir)) == {accuracy[best][0], 3}


def _env():
    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_resume_keeps_counting_patience(tmp_path, dataset_dir):
    settings = dict(PLATEAU, early_stopping_patience=3)
    reference = trainkit.make_job(str(tmp_path / "ref"), dataset_dir, **settings)
    code, ref_msgs = run_in_process(reference)
    assert code == 0 and _results(ref_msgs)["final_epoch"] == 4   # best at 1; 2, 3, 4 without improvement

    # from epoch 2's snapshot, one check is used up: the run stops at 4, not 3 checks after the restart
    resumed = trainkit.resumed_from(reference, str(tmp_path / "resumed"), 2)
    assert [e for e, _ in metrics(resumed, "val", "loss") if e > 2] == [3, 4]
    assert _results(resumed)["stop_reason"] == _results(ref_msgs)["stop_reason"]
    assert (_results(resumed)["best_epoch"], _results(resumed)["final_epoch"]) == (1, 4)

    # a real kill (SIGKILL) right after epoch 2's snapshot, then the restart the server would do
    job_dir = trainkit.make_job(str(tmp_path / "killed"), dataset_dir, **settings)
    proc = subprocess.Popen([sys.executable, RUNNER, "--job-dir", job_dir], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=_env(), cwd=ROOT)
    for line in proc.stdout:
        if '"type": "snapshot"' in line and '"epoch": 2' in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert of_type(msgs, "resumed")[0]["epoch"] in (2, 3)
    results = _results(msgs)
    assert (results["final_epoch"], results["best_epoch"], results["stopped_early"]) == (4, 1, True)


def test_a_run_killed_after_it_stopped_trains_no_further(tmp_path, dataset_dir):
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset_dir, **PLATEAU, early_stopping_patience=1)
    code, msgs = run_in_process(job_dir)
    assert code == 0 and _results(msgs)["final_epoch"] == 2
    code, again = run_in_process(job_dir)   # as if killed after the last snapshot, before exiting
    assert code == 0 and not metrics(again, "train", "loss")[len(metrics(msgs, "train", "loss")):]
    assert _results(again)["stop_reason"] == _results(msgs)["stop_reason"]
    assert _epochs(job_dir) == [1, 2]


@pytest.mark.parametrize("settings,message", [
    ({"early_stopping_patience": 0}, "early_stopping_patience must be >= 1"),
    ({"early_stopping_patience": -1}, "early_stopping_patience must be >= 1"),
    ({"snapshots_to_keep": 0}, "snapshots_to_keep must be >= 1"),
    ({"best_metric": "mAP"}, "best_metric 'mAP' is not a metric of classification models; use one of: loss, "
                             "accuracy, accuracy_top5"),
])
def test_bad_settings_are_errors_naming_the_field(job, settings, message):
    assert message in trainkit.error_of(job(**settings))


def test_early_stopping_without_validation_images_is_an_error(tmp_path):
    dataset = trainkit.make_dataset(str(tmp_path / "ds"), counts={"train": 32})
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset, early_stopping_patience=2)
    assert "early stopping needs validation images" in trainkit.error_of(job_dir)


def test_tracker_and_pruning_rules():
    tracker = early_stopping.BestTracker("accuracy", patience=2)
    for epoch, value in [(1, 50.0), (2, 60.0), (3, 60.0), (4, float("nan"))]:
        tracker.update(epoch, {"accuracy": value})
    assert (tracker.epoch, tracker.value, tracker.stop_epoch) == (2, 60.0, 4)
    resumed = early_stopping.BestTracker("accuracy", patience=2)
    assert resumed.restore(tracker.state()) and resumed.stop_epoch == 4
    assert not early_stopping.BestTracker("loss").restore(tracker.state())   # another metric: starts afresh
    assert early_stopping.snapshots_to_prune([1, 2, 3, 4, 5], 2, 2) == [1, 3]
    assert early_stopping.snapshots_to_prune([1, 2, 2.5], 1, 1) == []
    assert early_stopping.snapshots_to_prune([1, 2, 3], None, None) == []
    assert early_stopping.resolve_metric("segmentation", "val mIoU") == "mIoU"
    assert early_stopping.resolve_metric("detection", "") == "mAP"
