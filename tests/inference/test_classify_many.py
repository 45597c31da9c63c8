"""Classify many (with and without labels), top N, and the worker's robustness."""
import io
import os

import pytest

from tests.helpers import wait_for
from tests.inference.kit import CLASSES, probe_files

URL = "/models/images/classification"
LABEL = {name: i for i, name in enumerate(CLASSES)}   # blue 0, green 1, red 2


def post_list(client, job_id, lines, url="classify_many.json", **fields):
    data = {"job_id": job_id, "image_list": (io.BytesIO("\n".join(lines).encode()), "list.txt"), **fields}
    return client.post(f"{URL}/{url}", data=data)


def test_with_labels_accuracy_and_confusion_matrix(world, client):
    lines = [f"{p} {LABEL[name]}" for name in CLASSES for p in probe_files(world, name)]
    mislabeled = probe_files(world, "red")[:2]            # two red images claimed to be green
    lines += [f"{p} {LABEL['green']}" for p in mislabeled]
    # the same path twice would collapse in {path: ...}: copy them under other names
    copies = []
    for i, path in enumerate(mislabeled):
        copy = os.path.join(world.root, f"red-copy-{i}.png")
        with open(path, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
        copies.append(copy)
    lines[-2:] = [f"{p} {LABEL['green']}" for p in copies]
    response = post_list(client, world.torch_model.id, lines)
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert len(data["classifications"]) == 14 and data["errors"] == []
    for name in CLASSES:
        for path in probe_files(world, name):
            assert data["classifications"][path][0][0] == name
    # rows: true class, columns: predicted class (blue, green, red)
    assert data["confusion_matrix"] == [[4, 0, 0], [0, 4, 2], [0, 0, 4]]
    assert data["top1_accuracy"] == pytest.approx(100 * 12 / 14, abs=1e-3)
    assert data["top5_accuracy"] == 100.0
    assert data["labels"] == list(CLASSES)
    red, green = data["per_class"][LABEL["red"]], data["per_class"][LABEL["green"]]
    assert red["precision"] == pytest.approx(100 * 4 / 6, abs=1e-3) and red["recall"] == 100.0
    assert green["precision"] == 100.0 and green["recall"] == pytest.approx(100 * 4 / 6, abs=1e-3)
    assert data["ground_truths"][copies[0]] == LABEL["green"]


def test_without_labels_only_classifications(world, client):
    paths = probe_files(world, "blue")
    response = post_list(client, world.caffe_model.id, paths)
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert set(data["classifications"]) == set(paths)
    assert all(top[0][0] == "blue" for top in data["classifications"].values())
    assert "confusion_matrix" not in data and "top1_accuracy" not in data


def test_folder_of_class_subfolders_gives_labels(world, client):
    response = client.post(f"{URL}/classify_many.json", data={"job_id": world.caffe_model.id,
                                                              "image_folder": world.probe_dir})
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert data["count"] == 12 and data["top1_accuracy"] == 100.0
    assert data["confusion_matrix"] == [[4, 0, 0], [0, 4, 0], [0, 0, 4]]


def test_num_test_images_of_a_folder_samples_every_class(world, client):
    response = client.post(f"{URL}/classify_many.json", data={"job_id": world.caffe_model.id,
                                                              "image_folder": world.probe_dir, "num_test_images": "3"})
    assert response.status_code == 200, response.data
    assert sorted(p.split("/")[-2] for p in response.get_json()["classifications"]) == ["blue", "green", "red"]


def test_relative_paths_num_test_images_and_bad_lines(world, client):
    lines = ["red/000.png 2", "green/000.png", "red/001.png 9", "missing.png 0", "/etc/hostname 1", "blue/000.png 0",
             "blue/001.png -1"]
    response = post_list(client, world.torch_model.id, lines, image_folder=world.probe_dir)
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert sorted(data["classifications"]) == ["blue/000.png", "green/000.png", "red/000.png"]
    errors = {e["path"]: e["error"] for e in data["errors"]}
    assert "label 9 is not a class" in errors["red/001.png"]
    assert "label -1 is not a class of this model (0..2)" in errors["blue/001.png"]   # not a path "… -1"
    assert "does not exist" in errors["missing.png"]
    assert "outside the folders" in errors["/etc/hostname"]
    assert data["count"] == 2 and data["top1_accuracy"] == 100.0   # unlabelled green line not scored
    limited = post_list(client, world.torch_model.id, lines, image_folder=world.probe_dir, num_test_images="2")
    assert sorted(limited.get_json()["classifications"]) == ["green/000.png", "red/000.png"]


def test_unreadable_image_in_a_list_is_reported_not_fatal(world, client):
    junk = os.path.join(world.root, "junk.png")
    with open(junk, "wb") as f:
        f.write(b"not a png at all")
    response = post_list(client, world.torch_model.id, [junk, probe_files(world, "red")[0]])
    assert response.status_code == 200
    data = response.get_json()
    assert list(data["classifications"]) == [probe_files(world, "red")[0]]
    assert "not an image" in data["errors"][0]["error"]


@pytest.mark.parametrize("fields, words", [
    ({}, "give images"),
    ({"image_folder": "/etc"}, "outside the folders"),
    ({"image_list": (io.BytesIO(b"/nonexistent/a.png\n"), "l.txt")}, "none of the images"),
    ({"image_list": (io.BytesIO(b"\xff\xfe\x00bad"), "l.txt")}, "UTF-8"),
    ({"image_folder": "x", "num_test_images": "0"}, "num_test_images"),
])
def test_classify_many_bad_input(world, client, fields, words):
    response = client.post(f"{URL}/classify_many.json", data={"job_id": world.torch_model.id, **fields})
    assert response.status_code == 400, response.data
    assert words in response.get_json()["error"]["message"]


def test_classify_many_html_has_table_and_heatmap(world, client):
    response = client.post(f"{URL}/classify_many", data={"job_id": world.torch_model.id,
                                                         "image_folder": world.probe_dir})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="confusion-matrix"' in html and 'id="per-class"' in html and "data:image/png;base64," in html
    assert ">100.00%<" in html


def test_top_n_returns_the_best_images_of_each_class(world, client):
    response = client.post(f"{URL}/top_n.json", data={"job_id": world.torch_model.id,
                                                      "image_folder": world.probe_dir, "top_n": "2"})
    assert response.status_code == 200, response.data
    classes = response.get_json()["classes"]
    assert [c["label"] for c in classes] == list(CLASSES)
    for cls in classes:
        assert len(cls["images"]) == 2
        assert all(os.path.basename(os.path.dirname(i["path"])) == cls["label"] for i in cls["images"])
        assert cls["images"][0]["percent"] >= cls["images"][1]["percent"]
    html = client.post(f"{URL}/top_n", data={"job_id": world.torch_model.id, "image_folder": world.probe_dir})
    assert html.status_code == 200 and 'id="top-n"' in html.get_data(as_text=True)


def test_models_stay_warm_and_a_crashed_worker_is_replaced(world, client):
    from digits.inference.errors import InferenceError
    from digits.inference.service import get_service
    path = probe_files(world, "red")[0]
    assert classify_one_ok(client, world.torch_model.id, path)
    before = get_service().call("ping")
    for _ in range(3):
        assert classify_one_ok(client, world.torch_model.id, path)
    after = get_service().call("ping")
    assert after["pid"] == before["pid"] and after["loads"] == before["loads"]   # no reload: cached
    with pytest.raises(InferenceError) as crash:
        get_service().call("ping", crash=7)
    assert crash.value.status == 500 and "exit code 7" in str(crash.value)
    assert classify_one_ok(client, world.torch_model.id, path)                  # a new worker answers
    assert get_service().call("ping")["pid"] != before["pid"]


def classify_one_ok(client, job_id, path):
    with open(path, "rb") as f:
        response = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_file": (f, "x.png")})
    return response.status_code == 200 and response.get_json()["predictions"][0][0] == "red"


def test_classify_while_the_model_is_still_training(world, client):
    from tests.inference.kit import TORCH_NET
    response = client.post("/models/images/classification.json", data={
        "method": "custom", "framework": "torch", "custom_network": TORCH_NET, "model_name": "long-run",
        "dataset": world.dataset.id, "train_epochs": "500", "random_seed": "1", "learning_rate": "0.05",
        "batch_size": "8", "lr_policy": "fixed"})
    job = world.sched.get_job(response.get_json()["id"])
    try:
        wait_for(lambda: job.snapshot_epochs() or job.status in ("Error", "Done"), timeout=120,
                 message="a first snapshot")
        assert job.status == "Running", job.error()
        result = client.post(f"{URL}/classify_one.json", data={"job_id": job.id,
                                                               "image_path": probe_files(world, "red")[0]})
        assert result.status_code == 200, result.data
        assert result.get_json()["snapshot_epoch"] >= 1
        assert job.status == "Running"
    finally:
        client.post(f"/models/{job.id}/abort")
        client.delete(f"/models/{job.id}")


def test_folder_symlinks_out_of_the_allowed_roots_are_refused(world, client, tmp_path_factory):
    folder = os.path.join(world.root, "linked")
    os.makedirs(folder, exist_ok=True)
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    with open(probe_files(world, "red")[0], "rb") as src:
        outside.write_bytes(src.read())
    link = os.path.join(folder, "escape.png")
    if not os.path.lexists(link):
        os.symlink(str(outside), link)
    inside = os.path.join(folder, "fine.png")
    with open(probe_files(world, "blue")[0], "rb") as src, open(inside, "wb") as dst:
        dst.write(src.read())
    response = client.post(f"{URL}/classify_many.json", data={"job_id": world.torch_model.id, "image_folder": folder})
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert list(data["classifications"]) == [inside]
    assert "outside the folders" in data["errors"][0]["error"]
