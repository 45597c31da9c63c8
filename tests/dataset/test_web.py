"""The dataset job kind through the web app: REST walkthrough, form errors, uploads, explore, abort."""
import io
import json
import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

from digits.dataset.reader import LmdbDataset
from tests.helpers import login, wait_for, wait_status

def test_rest_walkthrough_grayscale_folder(client, tmp_path, web):
    folder = web.tree(tmp_path / "mnist" / "train")
    response = web.create(client, folder_train=str(folder), encoding="png", resize_channels="1",
                          resize_width="28", resize_height="28", method="folder", dataset_name="mnist_dataset")
    assert response.status_code == 200, response.data
    reply = response.get_json()
    assert reply["name"] == "mnist_dataset" and reply["status"] == "Initialized" and reply["id"]
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error", "Aborted"), timeout=120) == "Done", job.error()
    data = client.get(f"/datasets/{job.id}.json").get_json()
    assert data["image_dims"] == [28, 28, 1] and data["num_classes"] == 3
    assert data["entries"]["train"] + data["entries"]["val"] == 18 and data["skipped_count"] == 0
    assert data["labels"] == ["0", "1", "2"]
    tensor, label = LmdbDataset(os.path.join(job.dir, "train_db"))[0]
    assert tuple(tensor.shape) == (1, 28, 28)
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert "class-histogram" in page and "mean.jpg" in page and "sample-images" in page
    assert client.get(f"/files/{job.id}/mean.jpg").status_code == 200


def test_explore_pagination_and_label_filter(client, tmp_path, web):
    folder = web.tree(tmp_path / "imgs", per_class=8)
    reply = web.create(client, folder_train=str(folder), resize_width="8", resize_height="8",
                       folder_pct_val="0", dataset_name="explore-me").get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    base = f"/datasets/images/classification/explore.json?job_id={job.id}&db=train"
    first = client.get(base + "&size=10&page=0").get_json()
    assert first["total"] == 24 and first["pages"] == 3 and len(first["images"]) == 10
    last = client.get(base + "&size=10&page=2").get_json()
    assert [i["key"] for i in last["images"]] == [f"{n:08d}" for n in range(20, 24)]
    only = client.get(base + "&size=5&label=1&page=1").get_json()
    assert only["total"] == 8 and len(only["images"]) == 3
    assert {i["label"] for i in only["images"]} == {1} and only["images"][0]["src"].startswith("data:image/png")
    html = client.get(f"/datasets/images/classification/explore?job_id={job.id}&db=train&label=2")
    assert html.status_code == 200 and html.get_data(as_text=True).count('data-label="2"') == 8
    assert client.get(base + "&page=x").status_code == 400
    assert client.get(f"/datasets/images/classification/explore.json?job_id={job.id}&db=val").status_code == 404


def test_corrupt_files_reported(client, image_tree, web):
    reply = web.create(client, folder_train=str(image_tree), resize_width="8", resize_height="8",
                       dataset_name="with-corrupt").get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    data = client.get(f"/datasets/{job.id}.json").get_json()
    assert data["skipped_count"] == 3
    assert {os.path.basename(s["path"]) for s in data["skipped"]} == {"truncated.png", "notes.jpg", "empty.png"}
    assert any("lonely" in w for t in data["tasks"] for w in t["warnings"])  # class dropped, with a warning
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert "skipped-files" in page and "notes.jpg" in page


@pytest.mark.parametrize("fields,field,words", [
    ({}, "folder_train", "required"),
    ({"folder_train": "/etc"}, "folder_train", "outside"),
    ({"folder_train": "MISSING"}, "folder_train", "does not exist"),
    ({"folder_train": "EMPTY"}, "folder_train", "empty"),
    ({"folder_train": "IMAGES", "folder_pct_val": "60", "folder_pct_test": "40"}, "folder_pct_test", "training"),
    ({"folder_train": "IMAGES", "resize_mode": "stretch"}, "resize_mode", "valid choice"),
    ({"folder_train": "IMAGES", "folder_train_min_per_class": "5", "folder_train_max_per_class": "3"},
     "folder_train_max_per_class", "at least"),
    ({"folder_train": "IMAGES", "has_val_folder": "1"}, "folder_val", "required"),
    ({"folder_train": "IMAGES", "resize_width": "0"}, "resize_width", "between 1 and 8192"),
    ({"folder_train": "IMAGES", "resize_height": "9000"}, "resize_height", "between 1 and 8192"),
    ({"folder_train": "IMAGES", "method": "textfile", "textfile_shuffle": "maybe"}, "textfile_shuffle",
     "true or false"),
])
def test_form_errors_start_no_job(client, tmp_path, fields, field, words, web):
    (tmp_path / "empty").mkdir()
    images = web.tree(tmp_path / "imgs", per_class=2, size=(4, 4))
    subst = {"MISSING": str(tmp_path / "nope"), "EMPTY": str(tmp_path / "empty"), "IMAGES": str(images)}
    fields = {k: subst.get(v, v) for k, v in fields.items()}
    response = web.create(client, dataset_name="bad", **fields)
    assert response.status_code == 400, response.data
    errors = response.get_json()["errors"]
    assert field in errors and words in " ".join(errors[field]), errors
    assert web.no_leftovers(client)


def test_login_required(make_app, web):
    response = make_app().test_client().post(web.URL, data={"dataset_name": "x"})
    assert response.status_code == 401


def _zip_of(tree, names=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                archive.write(path, "dataset/" + str(path.relative_to(tree)))
        for name, data in (names or {}).items():
            archive.writestr(name, data)
    buf.seek(0)
    return buf


def test_upload_zip_of_class_folders(client, tmp_path, web):
    tree = web.tree(tmp_path / "src", per_class=4, size=(6, 6))
    response = web.create(client, dataset_name="zipped", resize_width="6", resize_height="6",
                          folder_train_archive=(_zip_of(tree), "my data.zip"))
    assert response.status_code == 200, response.data
    job = web.job(client, response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    assert job.labels() == ["0", "1", "2"]
    assert job.info()["splits"]["train"]["count"] + job.info()["splits"]["val"]["count"] == 12


def test_upload_tar_gz(client, tmp_path, web):
    tree = web.tree(tmp_path / "src", per_class=3, size=(6, 6))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for k in ("0", "1", "2"):
            archive.add(str(tree / k), arcname=k)
    buf.seek(0)
    response = web.create(client, dataset_name="tarred", resize_width="6", resize_height="6",
                          folder_train_archive=(buf, "data.tar.gz"))
    job = web.job(client, response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()


@pytest.mark.parametrize("extra,words", [
    ({"../evil.png": b"x"}, "outside the archive"),
    ({"/abs/evil.png": b"x"}, "absolute"),
])
def test_unsafe_zip_refused(client, tmp_path, extra, words, web):
    tree = web.tree(tmp_path / "src", per_class=2, size=(4, 4))
    response = web.create(client, dataset_name="evil", folder_train_archive=(_zip_of(tree, extra), "x.zip"))
    assert response.status_code == 400
    assert words in " ".join(response.get_json()["errors"]["folder_train_archive"])
    assert web.no_leftovers(client)
    assert not (tmp_path / "evil.png").exists()


def test_zip_without_class_folders_refused(client, tmp_path, web):
    loose = web.tree(tmp_path / "src", classes=1, per_class=4, size=(4, 4)) / "0"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(loose.iterdir()):
            archive.write(path, path.name)  # 0.png .. 3.png at the archive's root
    buf.seek(0)
    response = web.create(client, dataset_name="flat", folder_train_archive=(buf, "flat.zip"))
    assert response.status_code == 400, response.data
    message = " ".join(response.get_json()["errors"]["folder_train_archive"])
    assert "at least two class folders" in message and "4 image(s) outside any folder" in message
    assert web.no_leftovers(client)


def test_archive_size_caps(make_app, tmp_path, web):
    tree = web.tree(tmp_path / "src", per_class=2, size=(16, 16))
    small = login(make_app(max_upload_bytes=100).test_client())
    response = small.post(web.URL, data={"dataset_name": "big", "folder_train_archive": (_zip_of(tree), "x.zip")},
                          content_type="multipart/form-data")
    assert response.status_code == 413 and "error" in response.get_json()
    capped = login(make_app(max_extract_bytes=50).test_client())
    response = capped.post(web.URL, data={"dataset_name": "big", "folder_train_archive": (_zip_of(tree), "x.zip")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "limit" in " ".join(response.get_json()["errors"]["folder_train_archive"])


def test_abort_mid_creation_leaves_clean_abort(make_app, tmp_path, ds, web):
    # A grace period long enough for a loaded machine: this is about the tool's own SIGTERM clean-up,
    # not the SIGKILL that follows when the grace runs out (the next run cleans up after that one).
    client = login(make_app(abort_grace_seconds=60).test_client())
    big = np.random.default_rng(0).integers(0, 255, (500, 700, 3), dtype=np.uint8)
    for k in range(2):
        for i in range(300):
            path = tmp_path / "big" / f"c{k}" / f"{i}.png"
            if i == 0:
                ds.save(big, str(path))
            else:
                path.symlink_to(tmp_path / "big" / f"c{k}" / "0.png")
    reply = web.create(client, folder_train=str(tmp_path / "big"), resize_width="64", resize_height="64",
                       dataset_name="to-abort").get_json()
    job = web.job(client, reply["id"])
    wait_for(lambda: job.task("create_db_train").progress > 0, timeout=60, message="create_db to start")
    assert client.post(f"/datasets/{job.id}/abort").status_code == 200
    assert wait_status(job, ("Aborted", "Done", "Error"), timeout=30) == "Aborted"
    left = sorted(os.listdir(job.dir))
    assert "train_db" not in left and "dataset.json" not in left
    assert not [n for n in left if n.startswith(".train_db")]
    saved = json.loads(open(os.path.join(job.dir, "job.json")).read())
    assert saved["status_history"][-1][0] == "Aborted"


def test_clone_prefills_form(client, tmp_path, web):
    folder = web.tree(tmp_path / "imgs", per_class=2, size=(4, 4))
    reply = web.create(client, folder_train=str(folder), resize_width="4", resize_height="4",
                       resize_mode="fill", dataset_name="orig").get_json()
    page = client.get(f"/clone/{reply['id']}", follow_redirects=True).get_data(as_text=True)
    assert "orig (clone)" in page and str(folder) in page
    assert 'value="fill" selected' in page or 'selected value="fill"' in page
    assert client.get("/datasets/images/classification/new").status_code == 200


def test_explore_missing_db_is_a_clear_404(client, tmp_path, web):
    folder = web.tree(tmp_path / "imgs", per_class=4, size=(4, 4))
    reply = web.create(client, folder_train=str(folder), resize_width="4", resize_height="4",
                       dataset_name="gone-db").get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    shutil.rmtree(os.path.join(job.dir, "val_db"))
    url = f"/datasets/images/classification/explore.json?job_id={job.id}&db=val"
    response = client.get(url)
    assert response.status_code == 404
    message = response.get_json()["error"]["message"]
    assert "val database" in message and "missing" in message and job.dir not in message
    page = client.get(url.replace("explore.json", "explore"))
    assert page.status_code == 404 and "val database" in page.get_data(as_text=True)
    with open(os.path.join(job.dir, "train_db", "data.mdb"), "wb") as f:
        f.write(b"not an lmdb file")
    assert client.get(url.replace("db=val", "db=train")).status_code == 404
    assert client.get(f"/datasets/{job.id}").status_code == 200  # the job page still shows


def test_class_of_only_corrupt_files_is_dropped_and_reported(client, tmp_path, web):
    folder = web.tree(tmp_path / "imgs", per_class=6, size=(4, 4))
    (folder / "zbad").mkdir()
    for i in range(3):
        (folder / "zbad" / f"{i}.png").write_bytes(b"garbage")
    reply = web.create(client, folder_train=str(folder), resize_width="4", resize_height="4",
                       dataset_name="zbad").get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    data = client.get(f"/datasets/{job.id}.json").get_json()
    assert data["labels"] == ["0", "1", "2"] and data["num_classes"] == 3
    assert sorted(os.path.basename(s["path"]) for s in data["skipped"]) == ["0.png", "1.png", "2.png"]
    assert any('"zbad" has 0 readable' in w for t in data["tasks"] for w in t["warnings"])
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert "zbad" in page and "before split" in page


def test_class_emptied_by_undecodable_files_is_flagged(client, tmp_path, web, ds):
    folder = web.tree(tmp_path / "imgs", classes=2, per_class=6, size=(8, 8))
    for i in range(3):  # JPEGs cut short: their headers pass the parse check, decoding fails in create_db
        path = folder / "cut" / f"{i}.jpg"
        ds.save(np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8), str(path), "JPEG")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
    reply = web.create(client, folder_train=str(folder), resize_width="8", resize_height="8",
                       folder_pct_val="0", dataset_name="cut").get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    data = client.get(f"/datasets/{job.id}.json").get_json()
    assert data["labels"] == ["0", "1", "cut"]
    assert data["classes_below_minimum"] == [{"label": 2, "name": "cut", "count": 0}]
    warnings = [w for t in data["tasks"] for w in t["warnings"]]
    assert any('"cut" (0)' in w and "fewer than 2 training image(s)" in w for w in warnings), warnings
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert 'id="classes-below-minimum"' in page and "cut: 0" in page


def test_separate_val_and_test_folders(client, tmp_path, web):
    train = web.tree(tmp_path / "train", per_class=4, size=(4, 4))
    val = web.tree(tmp_path / "val", per_class=2, size=(4, 4))
    test = web.tree(tmp_path / "test", classes=2, per_class=3, size=(4, 4))
    reply = web.create(client, folder_train=str(train), folder_pct_val="25", folder_pct_test="25",
                       has_val_folder="1", folder_val=str(val), has_test_folder="1", folder_test=str(test),
                       resize_width="4", resize_height="4", dataset_name="three-folders").get_json()
    job = web.job(client, reply["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    splits = job.info()["splits"]
    # the percentages are ignored: every training image trains, the other folders are the splits
    assert splits["train"]["per_class"] == [4, 4, 4]
    assert splits["val"]["per_class"] == [2, 2, 2] and splits["test"]["per_class"] == [3, 3, 0]
    assert [t.name for t in job.tasks] == ["parse", "create_db_train", "create_db_val", "create_db_test"]
    for split, root in (("val", val), ("test", test)):
        listed = open(os.path.join(job.dir, f"{split}.txt")).read()
        assert listed.count(str(root)) == splits[split]["count"]


def test_random_seed_gives_the_same_split_twice(client, tmp_path, web):
    folder = web.tree(tmp_path / "imgs", per_class=8, size=(4, 4))
    lists = []
    for seed in ("12345", "12345", "54321"):
        reply = web.create(client, folder_train=str(folder), resize_width="4", resize_height="4",
                           folder_pct_val="25", random_seed=seed, dataset_name=f"seed-{seed}").get_json()
        job = web.job(client, reply["id"])
        assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
        assert job.extra["params"]["seed"] == int(seed)
        lists.append([open(os.path.join(job.dir, f"{s}.txt")).read() for s in ("train", "val")])
    assert lists[0] == lists[1]
    assert lists[0] != lists[2]
