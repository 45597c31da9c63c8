"""detectnet_small trained by the train tool on a tiny synthetic boxes dataset written straight into LMDBs
(docs/detection.md §1): it learns (val mAP), charts its loss components, resumes from a snapshot, and
the tool refuses what cannot train."""
import json
import os
import subprocess

import lmdb
import numpy as np
import pytest

import trainkit
from trainkit import metrics, of_type, parse_lines

from digits.dataset.datum import array_to_datum
from digits.dataset.images.detection.boxes import to_datum_bytes
from digits.dataset.mean import save_mean
from digits.networks import standard_network
from tests.detection_data import CLASSES, make_image

DONTCARE = [0, 0, 0, 12, 12]   # a corner of noise marked DontCare in every 4th image without an object there
SETTINGS = dict(task_type="detection", train_epochs=6, batch_size=16, solver_type="ADAM", learning_rate=0.003,
                lr_policy={"policy": "fixed"}, use_mean="none", weight_decay=0.0, random_seed=1)


def _write_split(folder, split, count, rng):
    total, most = None, 0
    images, labels = (lmdb.open(os.path.join(folder, f"{split}{end}"), map_size=1 << 27) for end in ("_db", "_labels_db"))
    with images.begin(write=True) as image_txn, labels.begin(write=True) as label_txn:
        for i in range(count):
            image, objects = make_image(rng)
            rows = [[1 + CLASSES.index(name), *box] for name, box in objects]
            if i % 4 == 0 and all(box[0] >= 12 or box[1] >= 12 for _, box in objects):
                rows.append(DONTCARE)
            image_txn.put(b"%08d" % i, array_to_datum(image, 0, "png"))
            label_txn.put(b"%08d" % i, to_datum_bytes(np.array(rows, dtype=np.float32).reshape(-1, 5)))
            total = image.astype(np.float64) if total is None else total + image
            most = max(most, len(rows))
    images.close()
    labels.close()
    return total / count, most


def make_boxes_dataset(folder, counts, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    splits, most = {}, 0
    for split, count in counts.items():
        mean, split_most = _write_split(folder, split, count, rng)
        most = max(most, split_most)
        splits[split] = {"db": os.path.join(folder, f"{split}_db"), "count": count,
                         "labels_db": os.path.join(folder, f"{split}_labels_db")}
        if split == "train":
            save_mean(mean, os.path.join(folder, "mean.binaryproto"))
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("dontcare\ncar\nperson\n")
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"kind": "generic", "label_kind": "boxes", "image_dims": [64, 64, 3], "encoded": True,
                   "label_dims": None, "num_classes": 3, "max_boxes": most, "mean_file": "mean.binaryproto",
                   "geometry": {"pad": None, "resize": None, "channel_conversion": "RGB"}, "splits": splits,
                   "skipped": []}, f)
    return folder


@pytest.fixture(scope="module")
def boxes_dataset(tmp_path_factory):
    return make_boxes_dataset(str(tmp_path_factory.mktemp("boxes") / "dataset"), {"train": 160, "val": 48})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, boxes_dataset):
    """(job folder, messages) of a whole detectnet_small run."""
    return trainkit.trained_run(str(tmp_path_factory.mktemp("detect") / "job"), boxes_dataset,
                                standard_network("detectnet_small", "torch", "detection"), **SETTINGS)


def test_detectnet_small_learns_the_boxes(trained):
    job_dir, msgs = trained
    val_map = metrics(msgs, "val", "mAP")
    assert [e for e, _ in val_map] == [1, 2, 3, 4, 5, 6]
    assert val_map[-1][1] >= 50.0, val_map
    assert metrics(msgs, "val", "precision") and metrics(msgs, "val", "recall")
    coverage, bbox, total = (metrics(msgs, "train", n) for n in ("loss_coverage", "loss_bbox", "loss"))
    assert len(coverage) == len(bbox) == len(total) and coverage[-1][1] < coverage[0][1]
    assert [v for _, v in total] == pytest.approx([c + b for (_, c), (_, b) in zip(coverage, bbox)], rel=1e-6)
    final = of_type(msgs, "result")[-1]
    assert final["val_mAP"] == val_map[-1][1]
    assert final["val_ap_per_class"][0] is None and len(final["val_recall_per_class"]) == 3
    assert [m["epoch"] for m in of_type(msgs, "snapshot")] == list(range(1, 7))


def test_resume_from_a_snapshot_continues_the_same_run(tmp_path, trained):
    job_dir, msgs = trained
    resumed = trainkit.resumed_from(job_dir, str(tmp_path / "resumed"), 3)
    assert of_type(resumed, "metric") == of_type(msgs, "metric")   # replayed up to 3, recomputed after
    assert trainkit.same_weights(job_dir, str(tmp_path / "resumed"), 6)


_error = trainkit.error_of


def test_detection_needs_a_boxes_dataset_and_a_detection_network(tmp_path, boxes_dataset, dataset_dir):
    detector = standard_network("detectnet_small", "torch", "detection")
    message = _error(trainkit.make_job(str(tmp_path / "a"), dataset_dir, network=detector, task_type="detection"))
    assert '"label_kind": "boxes"' in message
    message = _error(trainkit.make_job(str(tmp_path / "b"), boxes_dataset, task_type="regression", use_mean="none"))
    assert "train it as detection" in message
    message = _error(trainkit.make_job(str(tmp_path / "c"), boxes_dataset, **SETTINGS))   # the tiny classifier
    assert 'TASK_TYPE = "detection"' in message
    message = _error(trainkit.make_job(str(tmp_path / "d"), dataset_dir, network=detector))   # classification
    assert "detection network" in message
    message = _error(trainkit.make_job(str(tmp_path / "e"), boxes_dataset, network=detector,
                                       **dict(SETTINGS, augmentation={"flip": "fliplr"})))
    assert "augmentation flip" in message


@pytest.mark.slow
def test_two_gloo_ranks_train_a_detector(tmp_path):
    dataset = make_boxes_dataset(str(tmp_path / "dataset"), {"train": 48, "val": 15})   # uneven val shards
    job_dir = trainkit.make_job(str(tmp_path / "ddp"), dataset, network=standard_network(
        "detectnet_small", "torch", "detection"), **dict(SETTINGS, train_epochs=2, batch_size=8))
    from digits.tools.train import train_command
    from test_resume_and_errors import ROOT, RUNNER, _env
    argv = train_command(job_dir, 2)
    argv = argv[:4] + ["--nproc_per_node=2", RUNNER, "--job-dir", job_dir]
    out = subprocess.run(argv, capture_output=True, text=True, env=dict(_env(), DIGITS_TRAIN_THREADS="1"), cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    msgs = parse_lines(out.stdout)
    assert not of_type(msgs, "error") and of_type(msgs, "result")[0]["world_size"] == 2
    assert len(metrics(msgs, "val", "mAP")) == 2 and metrics(msgs, "train", "loss_bbox")
