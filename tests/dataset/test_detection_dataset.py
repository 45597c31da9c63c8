"""Object detection datasets end to end through the REST route: KITTI folders with bad files reported, the
same boxes as COCO giving the same counts, zero usable boxes failing clearly, form errors, the pages."""
import json
import os
import re
import shutil

import pytest

from digits.dataset.datum import parse_datum
from digits.dataset.images.detection import boxes
from digits.utils.lmdb_io import readonly_env
from tests.detection_data import make_kitti_dataset, write_coco
from tests.helpers import login, wait_status

URL = "/datasets/generic/create/image-object-detection.json"
SIZE = (64, 48)


@pytest.fixture
def client(make_app):
    app = make_app()
    app.sched = app.extensions["digits"]["scheduler"]
    return app, login(app.test_client())


def _create(c, **fields):
    data = {"dataset_name": "boxes", "padding_image_width": "", "padding_image_height": "",
            "channel_conversion": "RGB", "val_min_box_size": "0", **fields}
    return c.post(URL, data=data)


def _built(app, c, **fields):
    response = _create(c, **fields)
    assert response.status_code == 200, response.data
    job = app.sched.get_job(response.get_json()["id"])
    wait_status(job, ("Done", "Error"), timeout=120)
    return job


def _info(job):
    with open(os.path.join(job.dir, "dataset.json")) as f:
        return json.load(f)


def _stored_rows(job, split, index):
    with readonly_env(os.path.join(job.dir, f"{split}_labels_db")) as env, env.begin() as txn:
        return boxes.from_datum(parse_datum(txn.get(b"%08d" % index))).tolist()


@pytest.fixture
def kitti(tmp_path):
    """train: 12 good images plus bad files; val: 4 images."""
    train = tmp_path / "train"
    records = make_kitti_dataset(str(train), 12, size=SIZE, seed=5)
    make_kitti_dataset(str(tmp_path / "val"), 4, size=SIZE, seed=6)
    shutil.copy(train / "images" / "000000.png", train / "images" / "nolabel.png")
    shutil.copy(train / "images" / "000000.png", train / "images" / "columns.png")
    (train / "labels" / "columns.txt").write_text("Car 0 0 0 1 2 3 4\n")
    with open(train / "labels" / "000001.txt", "a") as f:   # kept, with these two noted
        f.write("Car 0 0 0 30 5 10 20 0 0 0 0 0 0 0\nPerson 0 0 0 50 30 80 60 0 0 0 0 0 0 0\n")
    return tmp_path, records


def test_kitti_folders_build_a_dataset_with_a_report_and_its_facts(client, kitti):
    app, c = client
    root, records = kitti
    job = _built(app, c, train_image_folder=str(root / "train" / "images"),
                 train_label_folder=str(root / "train" / "labels"), val_image_folder=str(root / "val" / "images"),
                 val_label_folder=str(root / "val" / "labels"))
    assert job.status == "Done", job.error()
    info = _info(job)
    assert info["label_kind"] == "boxes" and info["num_classes"] == 3 and info["image_dims"] == [48, 64, 3]
    assert info["geometry"] == {"pad": None, "resize": None, "channel_conversion": "RGB"}
    assert info["splits"]["train"]["count"] == 12 and info["splits"]["val"]["count"] == 4
    per_class = [0, 0, 0]
    for _, _, _, objects in records:
        for name, _ in objects:
            per_class[1 + ("car", "person").index(name)] += 1
    per_class[2] += 1   # the clipped person in 000001
    assert info["boxes"]["per_class"] == per_class == info["splits"]["train"]["boxes"]["per_class"]
    counts = [len(r[3]) for r in records]
    counts[1] += 1
    assert info["max_boxes"] == max(counts)
    assert sum(info["boxes"]["size_histogram"]["counts"]) == sum(per_class[1:])
    assert _stored_rows(job, "train", 0) == [[1 + ("car", "person").index(n), *b] for n, b in records[0][3]]

    report = {(e["path"].rsplit("/", 1)[-1], e.get("kept", False)): e["reason"] for e in info["skipped"]}
    assert report[("nolabel.png", False)].startswith("no label file nolabel.txt")
    assert "line 1: 8 columns, expected 15" in report[("columns.png", False)]
    notes = [e["reason"] for e in info["skipped"] if e.get("kept")]
    assert any("x2 < x1" in n for n in notes) and any("clipped to (50, 30, 64, 48)" in n for n in notes)
    with open(os.path.join(job.dir, "train_skipped.json")) as f:
        assert len(json.load(f)) == 4
    assert info["splits"]["train"]["skipped"] == 2 and info["splits"]["train"]["notes"] == 2

    page = c.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert 'id="detection-summary"' in page and "nolabel.png" in page and "detection-dataset.js" in page
    car_row = re.search(r'<tr data-class="1">(.*?)</tr>', page, re.S).group(1)
    val_cars = info["splits"]["val"]["boxes"]["per_class"][1]
    assert re.findall(r"<td>([^<]*)</td>", car_row) == ["1", "car", str(per_class[1]), str(val_cars)]
    explore = c.get(f"/datasets/images/detection/explore?job_id={job.id}&db=val&size=12").get_data(as_text=True)
    assert explore.count('detection-sample"') == 4 and "<rect" in explore and ">car</text>" in explore
    data = c.get(f"/datasets/images/detection/explore.json?job_id={job.id}&db=train&size=2&page=1").get_json()
    assert data["total"] == 12 and data["labels"] == ["dontcare", "car", "person"] and len(data["images"]) == 2
    assert data["images"][0]["src"].startswith("data:image/png;base64,")
    assert [[b["class_id"], *b["box"]] for b in data["images"][0]["boxes"]] == _stored_rows(job, "train", 2) \
        == [[1 + ("car", "person").index(n), *b] for n, b in records[2][3]]


def test_coco_annotations_give_the_same_dataset_as_kitti(client, tmp_path):
    app, c = client
    records = make_kitti_dataset(str(tmp_path / "data"), 12, size=SIZE, seed=9)
    missing = records + [("gone.png", 64, 48, [("car", (1.0, 1.0, 20.0, 20.0))])]
    coco = write_coco(str(tmp_path / "data" / "instances.json"), missing)
    images = str(tmp_path / "data" / "images")
    common = {"padding_image_width": "80", "padding_image_height": "64", "resize_image_width": "40",
              "resize_image_height": "32"}
    labels = str(tmp_path / "data" / "labels")
    from_kitti = _built(app, c, train_image_folder=images, train_label_folder=labels, **common)
    from_coco = _built(app, c, train_image_folder=images, train_annotations_file=coco, **common)
    assert (from_kitti.status, from_coco.status) == ("Done", "Done"), (from_kitti.error(), from_coco.error())
    a, b = _info(from_kitti), _info(from_coco)
    for key in ("boxes", "max_boxes", "num_classes", "image_dims", "geometry"):
        assert a[key] == b[key], key
    assert a["splits"]["train"]["count"] == b["splits"]["train"]["count"] == 12
    assert from_kitti.labels() == from_coco.labels() == ["dontcare", "car", "person"]
    assert [_stored_rows(j, "train", 3) for j in (from_kitti, from_coco)] == [_stored_rows(from_kitti, "train", 3)] * 2
    assert a["image_dims"] == [32, 40, 3] and a["geometry"]["pad"] == [64, 80]
    [entry] = b["skipped"]
    assert entry["path"].endswith("gone.png") and "names image 'gone.png' (id 13), which is not in" in entry["reason"]


def test_zero_usable_boxes_is_a_job_error_naming_the_problem(client, tmp_path):
    app, c = client
    make_kitti_dataset(str(tmp_path / "data"), 4, size=SIZE, seed=2)
    job = _built(app, c, train_image_folder=str(tmp_path / "data" / "images"),
                 train_label_folder=str(tmp_path / "data" / "labels"), custom_classes="dontcare,truck")
    assert job.status == "Error"
    assert "the training split has no usable object boxes" in job.error() and "DontCare" in job.error()


def test_bad_fields_are_form_errors_and_store_nothing(client, tmp_path):
    app, c = client
    make_kitti_dataset(str(tmp_path / "data"), 2, size=SIZE, seed=2)
    images, labels = str(tmp_path / "data" / "images"), str(tmp_path / "data" / "labels")
    before = set(app.sched.jobs)
    cases = [({"train_image_folder": images}, "train_label_folder", "is required"),
             ({"train_image_folder": "/etc", "train_label_folder": labels}, "train_image_folder", "outside"),
             ({"train_image_folder": images, "train_label_folder": labels, "train_annotations_file": labels},
              "train_annotations_file", "not both"),
             ({"train_image_folder": labels, "train_label_folder": labels}, "train_image_folder", "holds no images"),
             ({"train_image_folder": images, "train_label_folder": labels, "val_image_folder": images},
              "val_label_folder", "needs both"),
             ({"train_image_folder": images, "train_label_folder": labels, "padding_image_width": "100"},
              "padding_image_height", "both"),
             ({"train_image_folder": images, "train_label_folder": labels, "custom_classes": "car,,x"},
              "custom_classes", "none empty")]
    for fields, field, message in cases:
        response = _create(c, **fields)
        assert response.status_code == 400, fields
        assert message in " ".join(response.get_json()["errors"][field]), (fields, response.get_json())
    assert set(app.sched.jobs) == before
    page = c.get("/datasets/generic/new/image-object-detection").get_data(as_text=True)
    assert 'name="train_annotations_file"' in page and 'value="1248"' in page and 'value="25"' in page
