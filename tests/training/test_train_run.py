"""End-to-end runs of digits.tools.train on a tiny generated dataset (CPU)."""
import json
import os

import pytest
import torch

import trainkit
from trainkit import metrics, of_type, run_in_process

NO_DROPOUT_NET = trainkit.TINY_NET.replace("nn.Dropout(0.25), ", "")


def test_run_writes_metrics_snapshots_and_preprocess(job):
    job_dir = job(train_epochs=3)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    train_loss = metrics(msgs, "train", "loss")
    assert len(train_loss) == 3 * 6                     # 96 images / 16 = 6 iterations, one report each
    assert [e for e, _ in train_loss][:6] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1], abs=1e-5)
    assert len(metrics(msgs, "train", "learning_rate")) == 18
    # step policy 50% of 18 iterations → stepsize 9: iterations 0..8 at 0.05, 9..17 at 0.025
    lrs = [v for _, v in metrics(msgs, "train", "learning_rate")]
    assert lrs[:9] == pytest.approx([0.05] * 9) and lrs[9:] == pytest.approx([0.025] * 9)
    val_acc = metrics(msgs, "val", "accuracy")
    assert [e for e, _ in val_acc] == [1, 2, 3]
    assert val_acc[-1][1] >= 90.0                       # the classes are easy: it must learn them
    assert train_loss[-1][1] < train_loss[0][1]
    assert [m["epoch"] for m in of_type(msgs, "snapshot")] == [1, 2, 3]
    final = of_type(msgs, "result")[-1]
    assert final["test_accuracy"] >= 90.0 and 0 <= final["test_loss"] < 1.0
    assert final["val_accuracy"] == val_acc[-1][1] and final["val_accuracy_top5"] == 100.0
    progress = [m["value"] for m in of_type(msgs, "progress")]
    assert progress == sorted(progress) and progress[-1] == 1.0

    state = torch.load(os.path.join(job_dir, "snapshot_epoch_3.pt"), weights_only=True)
    assert state["epoch"] == 3 and state["iteration"] == 18 and state["random_seed"] == 7
    assert {"model", "optimizer", "lr_scheduler", "rng"} <= set(state)
    with open(os.path.join(job_dir, "preprocess.json")) as f:
        pre = json.load(f)
    assert pre == {"channels": 3, "height": 16, "width": 16, "resize_mode": "squash", "crop_size": None,
                   "mean": "image", "mean_file": "mean.binaryproto", "scale": pytest.approx(1 / 255),
                   "whitening": False, "channel_order": "RGB", "num_classes": 4}
    assert os.path.exists(os.path.join(job_dir, "mean.binaryproto"))


def test_same_seed_same_metrics(tmp_path, dataset_dir):
    runs = []
    for name in ("a", "b"):
        job_dir = trainkit.make_job(str(tmp_path / name), dataset_dir, train_epochs=2, crop_size=12,
                                    augmentation={"flip": "fliplr", "rot": 10, "noise": 0.02})
        code, msgs = run_in_process(job_dir)
        assert code == 0, of_type(msgs, "error")
        runs.append([m for m in msgs if m["type"] == "metric"])
    assert runs[0] == runs[1]


def test_batch_accumulation_equals_the_bigger_batch(tmp_path, dataset_dir):
    results = []
    for name, batch, accum in (("big", 16, 1), ("accum", 8, 2)):
        job_dir = trainkit.make_job(str(tmp_path / name), dataset_dir, network=NO_DROPOUT_NET, train_epochs=1,
                                    batch_size=batch, batch_accumulation=accum, weight_decay=0)
        code, msgs = run_in_process(job_dir)
        assert code == 0, of_type(msgs, "error")
        assert of_type(msgs, "result")[0]["iterations_per_epoch"] == 6
        results.append(of_type(msgs, "result")[-1]["val_loss"])
    assert results[0] == pytest.approx(results[1], rel=1e-4)


def test_intervals_and_no_val_split(tmp_path):
    dataset = trainkit.make_dataset(str(tmp_path / "ds"), counts={"train": 32}, channels=1, encoding="none")
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset, train_epochs=3, snapshot_interval=2,
                                use_mean="pixel", batch_size=None, lr_policy={"policy": "fixed"})
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert [m["epoch"] for m in of_type(msgs, "snapshot")] == [2, 3]
    assert metrics(msgs, "val") == []
    assert of_type(msgs, "result")[0]["batch_size"] == 64       # no batch size anywhere → 64
    assert sorted(os.listdir(job_dir)) == sorted(["mean.binaryproto", "network.py", "preprocess.json",
                                                  "snapshot_epoch_2.pt", "snapshot_epoch_3.pt",
                                                  "train_config.json"])


def test_pretrained_transfer(tmp_path, dataset_dir):
    source = trainkit.make_job(str(tmp_path / "source"), dataset_dir, train_epochs=1)
    assert run_in_process(source)[0] == 0
    wider = trainkit.TINY_NET.replace("nn.Linear(6 * (h // 2) * (w // 2), num_classes)",
                                      "nn.Linear(6 * (h // 2) * (w // 2), 16), nn.ReLU(), nn.Linear(16, num_classes)")
    target = trainkit.make_job(str(tmp_path / "target"), dataset_dir, network=wider, train_epochs=2,
                               pretrained={"file": os.path.join(source, "snapshot_epoch_1.pt"),
                                           "lr_multiplier": 0.1})
    code, msgs = run_in_process(target)
    assert code == 0, of_type(msgs, "error")
    info = next(m for m in of_type(msgs, "result") if "pretrained_loaded_layers" in m)
    assert info["pretrained_loaded_layers"] == ["0"]
    assert sorted(info["pretrained_fresh_layers"]) == ["5", "7"]
    state = torch.load(os.path.join(target, "snapshot_epoch_1.pt"), weights_only=True)
    groups = {g["name"]: g["initial_lr"] for g in state["optimizer"]["param_groups"]}
    assert groups == {"fresh": pytest.approx(0.05), "pretrained": pytest.approx(0.005)}
    # resuming keeps the pretrained/fresh parameter groups (and does not load the pretrained file again)
    os.remove(os.path.join(target, "snapshot_epoch_2.pt"))
    code, again = run_in_process(target)
    assert code == 0, of_type(again, "error")
    assert not any("pretrained_loaded_layers" in m for m in of_type(again, "result"))
    assert metrics(again, "val") == metrics(msgs, "val")   # epoch 1 replayed, epoch 2 trained again


def test_standard_caffe_lenet_uses_its_data_layer_settings(tmp_path):
    pytest.importorskip("digits.networks")
    from digits.networks import standard_network
    dataset = trainkit.make_dataset(str(tmp_path / "ds"), size=28, channels=1, num_classes=4,
                                    counts={"train": 64, "val": 16})
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset, network=standard_network("lenet", "caffe"),
                                framework="caffe", batch_size=None, train_epochs=2, learning_rate=0.01,
                                weight_decay=0.001)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert of_type(msgs, "result")[0]["batch_size"] == 64          # the prototxt's data_param.batch_size
    with open(os.path.join(job_dir, "preprocess.json")) as f:
        assert json.load(f)["scale"] == pytest.approx(0.0125)      # its transform_param.scale
    state = torch.load(os.path.join(job_dir, "snapshot_epoch_2.pt"), weights_only=True)
    groups = {g["name"]: (g["initial_lr"], g["weight_decay"]) for g in state["optimizer"]["param_groups"]}
    # weights lr_mult 1 decay_mult 1, biases lr_mult 2 decay_mult 0 — as written in the prototxt
    assert groups == {"fresh": (0.01, 0.001), "fresh lr_mult=2 decay_mult=0": (0.02, 0.0)}


def test_cpu_training_leaves_a_core_for_the_server(monkeypatch):
    from digits.model import trainer_runtime
    monkeypatch.delenv("DIGITS_TRAIN_THREADS", raising=False)
    monkeypatch.setattr(trainer_runtime, "usable_cores", lambda: 8)
    assert trainer_runtime.cpu_training_threads() == 7
    assert trainer_runtime.cpu_training_threads(local_world_size=2) == 3
    monkeypatch.setattr(trainer_runtime, "usable_cores", lambda: 1)
    assert trainer_runtime.cpu_training_threads() == 1
    monkeypatch.setenv("DIGITS_TRAIN_THREADS", "4")
    assert trainer_runtime.cpu_training_threads() == 4


def test_fractional_val_interval_validates_within_epochs(tmp_path, dataset_dir):
    job_dir = trainkit.make_job(str(tmp_path / "half"), dataset_dir, train_epochs=2, val_interval=0.5)
    code, msgs = run_in_process(job_dir)       # 6 iterations per epoch → every 3 iterations, like DIGITS
    assert code == 0, of_type(msgs, "error")
    assert [e for e, _ in metrics(msgs, "val", "accuracy")] == [0.5, 1, 1.5, 2]
    job_dir = trainkit.make_job(str(tmp_path / "one_half"), dataset_dir, train_epochs=2, val_interval=1.5)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert [e for e, _ in metrics(msgs, "val", "accuracy")] == [1.5, 2]
