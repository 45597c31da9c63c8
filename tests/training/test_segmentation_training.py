"""unet_small trained by the train tool on a small mask dataset written straight into LMDBs
(docs/segmentation.md §1), with random crops, turns and zooms that move each label with its image and
class weights: it learns (val mIoU), charts the per-class IoU, resumes from a snapshot as the same run,
and the tool refuses what cannot train; the label records read as class ids."""
import io
import os
import shutil

import lmdb
import numpy as np
import pytest
from PIL import Image

import segkit
import trainkit
from trainkit import metrics, of_type

from digits.dataset.datum import DatumError
from digits.dataset.generic_reader import GenericLmdbDataset, label_mask
from digits.networks import standard_network
from digits.proto import caffe_pb2

SETTINGS = dict(task_type="segmentation", train_epochs=6, batch_size=16, solver_type="ADAM", learning_rate=0.01,
                lr_policy={"policy": "fixed"}, use_mean="none", weight_decay=0.0, random_seed=1,
                class_weights=[1.0, 2.0, 2.0],
                augmentation={"flip": "fliplrud", "quad_rot": "rot90", "rot": 10, "scale": 0.1})


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    return segkit.make_mask_dataset(str(tmp_path_factory.mktemp("masks") / "dataset"), {"train": 64, "val": 24})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, masks):
    return trainkit.trained_run(str(tmp_path_factory.mktemp("segment") / "job"), masks,
                                standard_network("unet_small", "torch", "segmentation"), **SETTINGS)


def test_unet_small_learns_the_shapes(trained):
    job_dir, msgs = trained
    miou = metrics(msgs, "val", "mIoU")
    assert [e for e, _ in miou] == [1, 2, 3, 4, 5, 6] and miou[-1][1] >= 70.0, miou
    assert all(metrics(msgs, "val", f"IoU_{c}") for c in range(3)) and metrics(msgs, "val", "pixel_accuracy")
    final = of_type(msgs, "result")[-1]
    assert final["val_mIoU"] == miou[-1][1] and len(final["val_iou_per_class"]) == 3
    assert final["val_mIoU"] == pytest.approx(sum(final["val_iou_per_class"]) / 3)


def test_resume_from_a_snapshot_continues_the_same_run(tmp_path, trained):
    job_dir, msgs = trained
    resumed = trainkit.resumed_from(job_dir, str(tmp_path / "resumed"), 2)
    assert of_type(resumed, "metric") == of_type(msgs, "metric")   # the same crops and turns after the resume
    assert trainkit.same_weights(job_dir, str(tmp_path / "resumed"), 6)


_error = trainkit.error_of


def test_segmentation_needs_a_mask_dataset_a_segmentation_network_and_fitting_weights(tmp_path, masks, dataset_dir):
    unet = standard_network("unet_small", "torch", "segmentation")
    settings = dict(SETTINGS, train_epochs=1)
    assert '"label_kind": "mask"' in _error(trainkit.make_job(str(tmp_path / "a"), dataset_dir, network=unet,
                                                             **settings))
    assert "train it as segmentation" in _error(trainkit.make_job(str(tmp_path / "b"), masks, task_type="regression",
                                                                  use_mean="none"))
    assert 'TASK_TYPE = "segmentation"' in _error(trainkit.make_job(str(tmp_path / "c"), masks, **settings))
    assert "class_weights has 2 values; the dataset has 3 classes" in _error(trainkit.make_job(
        str(tmp_path / "d"), masks, network=unet, **dict(settings, class_weights=[1, 2])))


def _datum(image):
    datum = caffe_pb2.Datum(channels=1, height=image.height, width=image.width, encoded=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    datum.data = buffer.getvalue()
    return datum


def test_label_records_are_class_ids_of_their_images_size(tmp_path, masks):
    ids = np.array([[0, 1, 2], [255, 1, 0]], dtype=np.uint8)
    palette = Image.fromarray(ids, "P")
    palette.putpalette([200, 0, 0] * 256)          # colours say nothing: the indices are the classes
    assert label_mask(_datum(palette)).tolist() == ids.tolist()
    assert label_mask(_datum(Image.fromarray(ids))).tolist() == ids.tolist()
    with pytest.raises(DatumError, match="1-channel"):
        label_mask(_datum(Image.fromarray(np.zeros((2, 3, 3), dtype=np.uint8))))
    records = GenericLmdbDataset(os.path.join(masks, "val_db"), os.path.join(masks, "val_labels_db"), label_kind="mask")
    image, label = records.read(0)
    assert image.shape == (3, 48, 48) and label.shape == (48, 48) and label.dtype == np.uint8
    assert set(np.unique(label).tolist()) <= {0, 1, 2, 255}
    small = str(tmp_path / "small_labels_db")
    shutil.copytree(os.path.join(masks, "val_labels_db"), small)
    with lmdb.open(small) as env, env.begin(write=True) as txn:
        txn.put(b"%08d" % 0, _datum(Image.fromarray(ids)).SerializeToString())
    with pytest.raises(DatumError, match="its label is 3×2, its image 48×48"):
        GenericLmdbDataset(os.path.join(masks, "val_db"), small, label_kind="mask").read(0)
