"""Generic ("Other") image datasets from prebuilt LMDBs: REST creation, dataset.json, the reader, bad input.

The databases are DIGITS' gradient regression example in small: 8×8 grayscale images of
a·x + b·y, labelled with the 2 floats (a, b).
"""
import json
import os
import pickle
import re
from types import SimpleNamespace

import lmdb
import numpy as np
import pytest

from digits.dataset.generic_reader import GenericLmdbDataset, label_vector
from digits.dataset.mean import mean_to_blob_bytes
from digits.proto import caffe_pb2
from tests.helpers import wait_status

URL = "/datasets/images/generic.json"
SIZE = 8


def gradient(index):
    a, b = (index % 5) / 5.0, (index % 3) / 3.0
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return np.clip(np.rint(10 * (a * x + b * y)), 0, 255).astype(np.uint8), (a, b)


def image_value(index, size=SIZE):
    arr = gradient(index)[0] if size == SIZE else np.zeros((size, size), np.uint8)
    return caffe_pb2.Datum(channels=1, height=size, width=size, data=arr.tobytes()).SerializeToString()


def label_value(index, uint8=False):
    a, b = gradient(index)[1]
    if uint8:
        datum = caffe_pb2.Datum(channels=2, height=1, width=1, data=bytes([int(a * 5), int(b * 3)]))
        return datum.SerializeToString()
    return caffe_pb2.Datum(channels=2, height=1, width=1, float_data=[a, b]).SerializeToString()


def write_db(path, values, keys=None):
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, value in enumerate(values):
            txn.put(keys[i] if keys else b"%08d" % i, value)
    env.close()
    return str(path)


@pytest.fixture
def dbs(tmp_path):
    """Train (20) and val (6) image/label LMDBs, and a matching mean file, under tmp_path/lmdbs."""
    root = tmp_path / "lmdbs"
    root.mkdir()
    mean = root / "mean.binaryproto"
    mean.write_bytes(mean_to_blob_bytes(np.mean([gradient(i)[0] for i in range(20)], axis=0)))
    return SimpleNamespace(
        root=root, mean=str(mean),
        train_images=write_db(root / "train_images", [image_value(i) for i in range(20)]),
        train_labels=write_db(root / "train_labels", [label_value(i) for i in range(20)]),
        val_images=write_db(root / "val_images", [image_value(i) for i in range(20, 26)]),
        val_labels=write_db(root / "val_labels", [label_value(i) for i in range(20, 26)]))


def fields(dbs, **overrides):
    data = {"dataset_name": "gradients", "prebuilt_train_images": dbs.train_images,
            "prebuilt_train_labels": dbs.train_labels, "prebuilt_val_images": dbs.val_images,
            "prebuilt_val_labels": dbs.val_labels, "prebuilt_mean_file": dbs.mean}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def create(client, data):
    return client.post(URL, data=data, content_type="multipart/form-data")


def test_rest_create_writes_dataset_json(client, dbs, web):
    response = create(client, fields(dbs))
    assert response.status_code == 200, response.data
    reply = response.get_json()
    assert set(reply) == {"id", "name", "status"} and reply["status"] == "Initialized"
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error", "Aborted"), timeout=120) == "Done", job.error()
    with open(os.path.join(job.dir, "dataset.json")) as f:
        info = json.load(f)
    assert info == {"kind": "generic", "image_dims": [8, 8, 1], "encoded": False, "label_dims": [2],
                    "label_dtype": "float", "num_classes": None, "mean_file": "mean.binaryproto",
                    "splits": {"train": {"db": dbs.train_images, "labels_db": dbs.train_labels, "count": 20},
                               "val": {"db": dbs.val_images, "labels_db": dbs.val_labels, "count": 6}}}
    assert open(os.path.join(job.dir, "mean.binaryproto"), "rb").read() == open(dbs.mean, "rb").read()
    data = client.get(f"/datasets/{job.id}.json").get_json()
    assert data["type"] == "dataset-images-generic" and data["label_dims"] == [2] and data["kind"] == "generic"
    assert data["entries"] == {"train": 20, "val": 6} and data["image_dims"] == [8, 8, 1]
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert dbs.train_labels in page and "mean.jpg" in page and 'id="label-dtype">float<' in page
    assert client.get(f"/files/{job.id}/mean.jpg").status_code == 200
    assert client.delete(f"/datasets/{job.id}.json").status_code == 200
    assert not os.path.exists(job.dir) and os.path.exists(os.path.join(dbs.train_images, "data.mdb"))


def test_train_only_without_mean(client, dbs, web):
    data = fields(dbs, prebuilt_val_images="", prebuilt_val_labels="", prebuilt_mean_file="")
    reply = create(client, data).get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    info = client.get(f"/datasets/{job.id}.json").get_json()
    assert list(info["splits"]) == ["train"] and info["mean_file"] is None
    assert client.get(f"/clone/{job.id}").status_code == 302
    page = client.get(f"/datasets/images/generic/new?clone={job.id}").get_data(as_text=True)
    assert "gradients (clone)" in page and dbs.train_labels in page


def test_reader_arrays_and_pickling(dbs):
    dataset = GenericLmdbDataset(dbs.train_images, dbs.train_labels)
    assert len(dataset) == 20
    image, label = dataset.read(7)
    assert image.dtype == np.uint8 and image.shape == (1, 8, 8)
    assert np.array_equal(image[0], gradient(7)[0])
    assert label.dtype == np.float32 and np.allclose(label, gradient(7)[1])
    copy = pickle.loads(pickle.dumps(dataset))
    assert np.array_equal(copy.read(19)[0], dataset.read(19)[0])
    with pytest.raises(IndexError):
        dataset.read(20)
    dataset.close()


def test_reader_uint8_labels_and_own_keys(tmp_path):
    # Keys of another tool (not create_db's %08d): records pair by position in key order.
    keys = [f"img_{i:03d}".encode() for i in range(5)]
    images = write_db(tmp_path / "images", [image_value(i) for i in range(5)], keys)
    labels = write_db(tmp_path / "labels", [label_value(i, uint8=True) for i in range(5)],
                      [f"lab_{i:03d}".encode() for i in range(5)])
    dataset = GenericLmdbDataset(images, labels)
    image, label = dataset[3]
    assert tuple(image.shape) == (1, 8, 8) and label.tolist() == [3.0, 0.0]
    datum = caffe_pb2.Datum(data=bytes([1, 255]))
    assert label_vector(datum).tolist() == [1.0, 255.0]


def _bad(dbs, tmp_path, case):
    """(form fields, field in error, words in its message) for one kind of bad input."""
    root = dbs.root
    if case == "counts":
        write_db(root / "short_labels", [label_value(i) for i in range(19)])
        return fields(dbs, prebuilt_train_labels=str(root / "short_labels")), "prebuilt_train_labels", \
            "train images has 20 records but train labels has 19"
    if case == "not_datum":
        write_db(root / "raw_labels", [np.float32(gradient(i)[1]).tobytes() + b"\x00\xff" for i in range(20)])
        return fields(dbs, prebuilt_train_labels=str(root / "raw_labels")), "prebuilt_train_labels", "train labels"
    if case == "outside":
        return fields(dbs, prebuilt_val_images="/etc"), "prebuilt_val_images", "outside"
    if case == "not_lmdb":
        (root / "plain").mkdir()
        return fields(dbs, prebuilt_train_images=str(root / "plain")), "prebuilt_train_images", "not an LMDB"
    if case == "val_half":
        return fields(dbs, prebuilt_val_labels=""), "prebuilt_val_labels", "give both"
    if case == "mean_shape":
        (root / "small_mean.binaryproto").write_bytes(mean_to_blob_bytes(np.zeros((4, 4))))
        return fields(dbs, prebuilt_mean_file=str(root / "small_mean.binaryproto")), "prebuilt_mean_file", \
            "the mean file is 4×4×1 (H×W×C) but the images are 8×8×1"
    if case == "mixed_shapes":   # a sampled record (the last) of another size
        write_db(root / "mixed", [image_value(i) for i in range(19)] + [image_value(19, size=6)])
        return fields(dbs, prebuilt_train_images=str(root / "mixed")), "prebuilt_train_images", "first record"
    if case == "val_labels_differ":
        write_db(root / "long_labels", [caffe_pb2.Datum(float_data=[1, 2, 3]).SerializeToString()] * 6)
        return fields(dbs, prebuilt_val_labels=str(root / "long_labels")), "prebuilt_val_labels", "3 float"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["counts", "not_datum", "outside", "not_lmdb", "val_half", "mean_shape",
                                  "mixed_shapes", "val_labels_differ"])
def test_bad_input_is_a_form_error(client, dbs, tmp_path, web, case):
    data, field, words = _bad(dbs, tmp_path, case)
    response = create(client, data)
    assert response.status_code == 400, response.data
    errors = response.get_json()["errors"]
    assert list(errors) == [field] and words in " ".join(errors[field]), errors
    assert web.no_leftovers(client)


def test_html_form_and_its_errors(client, dbs):
    page = client.get("/datasets/images/generic/new").get_data(as_text=True)
    assert 'name="prebuilt_train_images"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin", "Accept": "text/html"}
    response = client.post("/datasets/images/generic", headers=browser,
                           data=fields(dbs, prebuilt_train_labels="", csrf_token=token))
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and 'data-error-for="prebuilt_train_labels"' in text
    assert "Training label database is required" in text


def test_bad_record_deep_inside_fails_the_job(client, dbs, web):
    # Record 7 is not among those the form samples; the analyze task reads it and names it.
    values = [image_value(i) for i in range(20)]
    values[7] = caffe_pb2.Datum(channels=1, height=8, width=8, data=b"short").SerializeToString()
    damaged = write_db(dbs.root / "damaged", values)
    response = create(client, fields(dbs, prebuilt_train_images=damaged))
    assert response.status_code == 200, response.data
    job = web.job(client, response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Error"
    assert "train images, record '00000007'" in job.error() and "5 bytes" in job.error()
    assert not os.path.exists(os.path.join(job.dir, "dataset.json"))
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)   # what the form checked, meanwhile
    assert 'id="label-dtype">float<' in page and "Checked on a few records" in page
