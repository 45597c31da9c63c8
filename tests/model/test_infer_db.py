"""POST /models/images/generic/infer_db[.json]: a generic model's answers for the records of an LMDB of
Datums on the server (DIGITS' infer_db), keyed by record key, and its refusals of bad databases."""
import os

import lmdb
import numpy as np
import pytest

from digits.proto import caffe_pb2
from tests.model.test_generic_models import (PYTHON_NET, _png, _train, env, gradient, gradients,  # noqa: F401
                                             make_dataset)


def _db(path, records):
    """An LMDB of {key: serialized value}."""
    with lmdb.open(str(path), map_size=1 << 24) as db, db.begin(write=True) as txn:
        for key, value in records.items():
            txn.put(key.encode(), value)
    return str(path)


def _datum(arr):
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    chw = arr[None] if arr.ndim == 2 else arr[:, :, ::-1].transpose(2, 0, 1)   # raw Datums are BGR
    return caffe_pb2.Datum(channels=channels, height=arr.shape[0], width=arr.shape[1],
                           data=np.ascontiguousarray(chw).tobytes()).SerializeToString()


@pytest.fixture
def model(env):
    app, client, sched, root = env
    dataset = make_dataset(client, sched, str(root / "data"), gradients, count=(40, 10))
    job = _train(client, sched, dataset, method="custom", framework="torch", custom_network=PYTHON_NET,
                 task_type="regression", train_epochs="2")
    return client, job, root


def test_infer_db_answers_each_record_like_the_same_image_file(model):
    client, job, root = model
    ramp = gradient(0.6, -0.3)
    db = _db(root / "records", {"b-ramp": _datum(ramp), "a-small": _datum(gradient(0.1, 0.2, size=8)),
                                "c-colour": _datum(np.zeros((16, 16, 3), np.uint8)), "d-junk": b"\xff\x00junk"})
    response = client.post("/models/images/generic/infer_db.json", data={"job_id": job.id, "db_path": db})
    assert response.status_code == 200, response.data
    answer = response.get_json()
    assert answer["task_type"] == "regression" and answer["epoch"] == 2 and answer["view"] == "all-raw-data"
    assert list(answer["outputs"]) == ["a-small", "b-ramp"]   # key order; a smaller record is resized
    assert len(answer["results"]["b-ramp"]["values"]) == 2
    assert answer["results"]["b-ramp"]["raw_data"]["output"]["shape"] == [2]
    assert "3 channels; the model takes 1" in answer["errors"]["c-colour"]
    assert answer["errors"]["d-junk"].startswith("record d-junk: ")
    as_file = client.post("/models/images/generic/infer_one.json",
                          data={"job_id": job.id, "image_file": (_png(ramp), "ramp.png")}).get_json()
    assert answer["outputs"]["b-ramp"]["output"] == pytest.approx(as_file["outputs"]["output"], abs=1e-6)

    capped = client.post("/models/images/generic/infer_db.json",
                         data={"job_id": job.id, "db_path": db, "num_test_images": "1"}).get_json()
    assert list(capped["outputs"]) == ["a-small"] and not capped["errors"]
    page = client.post("/models/images/generic/infer_db",
                       data={"job_id": job.id, "db_path": db, "view_extension_id": "image-image-output"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h6>b-ramp</h6>" in text and 'data-view="image-image-output"' in text
    assert "d-junk" in text and "Not read" in text


def test_infer_db_refuses_paths_outside_the_roots_non_databases_and_empty_ones(model, tmp_path_factory):
    client, job, root = model
    outside = _db(tmp_path_factory.mktemp("elsewhere") / "db", {"k": _datum(gradient(0, 0))})
    os.makedirs(root / "folder")
    empty = _db(root / "empty", {})
    cases = [(outside, "outside the folders"), (str(root / "folder"), "not an LMDB database"),
             (str(root / "missing"), "does not exist"), (empty, "holds no records"), ("", "no path given")]
    for path, message in cases:
        response = client.post("/models/images/generic/infer_db.json", data={"job_id": job.id, "db_path": path})
        assert response.status_code == 400, (path, response.data)
        error = response.get_json()["error"]
        assert error["message"].startswith("db_path: ") and message in error["message"], (path, error)
    one = _db(root / "one", {"k": _datum(gradient(0, 0))})
    bad_count = client.post("/models/images/generic/infer_db.json",
                            data={"job_id": job.id, "db_path": one, "num_test_images": "0"})
    assert bad_count.status_code == 400 and "num_test_images" in bad_count.get_json()["error"]["message"]
    page = client.post("/models/images/generic/infer_db", data={"job_id": job.id, "db_path": str(root / "folder")})
    assert page.status_code == 400 and b"not an LMDB database" in page.data
