"""DIGITS 6's REST routes and field names, as its scripts post them.

The first test is DIGITS' own REST walkthrough (docs/API.md: login, create dataset, create model) carried
on with the rest of its API: a model from the previous network with DIGITS' `<job_id>-snapshot` field,
group, bulk abort and bulk delete, each curl -F line posted as the same form fields. The others cover each
further route (summary, large graph, resize example, customize, GET classify) and its bad input.
"""
import base64
import io
import os
import shutil
import tarfile
import types

import pytest
from PIL import Image

from tests.helpers import login, wait_status
from tests.inference.kit import SIZE, TORCH_NET, write_class_folders

FOLDER_FIELDS = {"encoding": "png", "resize_channels": "3", "resize_width": str(SIZE), "resize_height": str(SIZE),
                 "method": "folder"}
MODEL_FIELDS = {"framework": "torch", "random_seed": "1", "learning_rate": "0.05", "batch_size": "8",
                "lr_policy": "fixed", "use_mean": "none"}


def _model(client, sched, **fields):
    response = client.post("/models/images/classification.json", data=dict(MODEL_FIELDS, **fields))
    assert response.status_code == 200, response.data
    return sched.get_job(response.get_json()["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An app with a Done dataset and a model trained one epoch ("trained"), shared by the tests."""
    from digits.webapp import create_app
    patch = pytest.MonkeyPatch()
    patch.setenv("DIGITS_TRAIN_WORKERS", "0")   # DataLoader workers cost more than they save here
    root = str(tmp_path_factory.mktemp("compat"))
    app = create_app({"jobs_dir": os.path.join(root, "jobs"), "async_mode": "threading", "testing": True,
                      "allowed_roots": [root], "gpus": [], "abort_grace_seconds": 2, "secret_key": "test",
                      "cpu_train_slots": 2})
    sched = app.extensions["digits"]["scheduler"]
    client = login(app.test_client(), "fred")
    train = write_class_folders(os.path.join(root, "train"), 8, seed=1)
    response = client.post("/datasets/images/classification.json",
                           data=dict(FOLDER_FIELDS, folder_train=train, dataset_name="colors"))
    assert response.status_code == 200, response.data
    dataset = sched.get_job(response.get_json()["id"])
    trained = _model(client, sched, method="custom", custom_network=TORCH_NET, train_epochs="1", model_name="tiny",
                     dataset=dataset.id)
    for job in (dataset, trained):
        assert wait_status(job, ("Done", "Error"), timeout=300) == "Done", job.error()
    yield types.SimpleNamespace(app=app, sched=sched, client=client, root=root, train=train, dataset=dataset,
                                trained=trained)
    sched.stop()
    patch.undo()


def test_digits_rest_walkthrough_with_previous_network_group_and_bulk_actions(world):
    app, sched = world.app, world.sched
    train = write_class_folders(os.path.join(world.root, "mnist", "train"), 6, seed=3)
    # curl localhost/login -c digits.cookie -XPOST -F username=fred
    client = app.test_client()
    assert client.post("/login", data={"username": "fred"}).status_code in (200, 302)   # JSON for scripts
    # curl localhost/datasets/images/classification.json -b digits.cookie -XPOST -F folder_train=... ...
    response = client.post("/datasets/images/classification.json", data={
        "folder_train": train, "encoding": "png", "resize_channels": "3", "resize_width": str(SIZE),
        "resize_height": str(SIZE), "method": "folder", "dataset_name": "mnist_dataset"})
    assert response.status_code == 200, response.data
    created = response.get_json()
    assert created["name"] == "mnist_dataset" and set(created) >= {"id", "name", "status"}
    dataset = sched.get_job(created["id"])
    # curl localhost/models/images/classification.json -b digits.cookie -XPOST -F method=... -F dataset=<id>
    first = _model(client, sched, method="custom", custom_network=TORCH_NET, train_epochs="1", model_name="first",
                   dataset=dataset.id)
    assert wait_status(first, ("Done", "Error"), timeout=300) == "Done", first.error()
    assert client.get(f"/datasets/{dataset.id}/status").get_json()["status"] == "Done"
    assert client.get(f"/models/{first.id}.json").get_json()["snapshots"] == [1]
    # DIGITS' job JSON names the folder "directory" (its walkthrough reads val.txt from there)
    assert client.get(f"/datasets/{dataset.id}.json").get_json()["directory"] == dataset.dir
    # DIGITS' "previous network" form: previous_networks + the select named "<job id>-snapshot"
    retrained = _model(client, sched, method="previous", previous_networks=first.id, **{f"{first.id}-snapshot": "1"},
                       train_epochs="1", model_name="retrained", dataset=dataset.id)
    assert retrained.train_config()["pretrained"]["file"] == first.snapshot_path(1)
    assert retrained.extra["weights_from"] == first.id
    fresh = _model(client, sched, method="previous", previous_networks=first.id, **{f"{first.id}-snapshot": "0"},
                   train_epochs="500", model_name="fresh", dataset=dataset.id, select_gpu="next")
    assert fresh.train_config()["pretrained"] is None and fresh.tasks[0].resources == {"gpu": 1}
    # POST /group job_ids[]=... group_name=...
    jobs = [dataset, first, retrained, fresh]
    response = client.post("/group", data={"job_ids[]": [j.id for j in jobs], "group_name": "mnist runs"})
    assert response.status_code == 200, response.data
    assert {j["id"]: j["group"] for j in client.get("/index.json").get_json()["models"]}[fresh.id] == "mnist runs"
    # POST /abort_jobs job_ids[]=...
    response = client.post("/abort_jobs", data={"job_ids[]": [fresh.id]})
    assert response.status_code == 200, response.data
    assert wait_status(fresh, ("Aborted",)) == "Aborted"
    assert wait_status(retrained, ("Done", "Error"), timeout=300) == "Done", retrained.error()
    # GET /models/<id>/download.tar.bz2: the retrained model's archive, bzip2-compressed
    response = client.get(f"/models/{retrained.id}/download.tar.bz2")
    assert response.status_code == 200 and response.data[:3] == b"BZh", response.data[:200]
    with tarfile.open(fileobj=io.BytesIO(response.data), mode="r:bz2") as tar:
        names = {os.path.basename(n) for n in tar.getnames()}
    assert {"weights.pt", "labels.txt", "info.json"} <= names, names
    # DELETE /jobs job_ids[]=...: the dataset alone is in use; with its models it goes
    response = client.delete("/jobs", data={"job_ids[]": [dataset.id]})
    assert response.status_code == 400 and "in use by" in response.get_json()["not_done"][0]["reason"]
    assert os.path.isdir(dataset.dir)
    response = client.delete("/jobs", data={"job_ids[]": [j.id for j in jobs]})
    assert response.status_code == 200, response.data
    assert sorted(response.get_json()["done"]) == sorted(j.id for j in jobs)
    assert not any(os.path.exists(j.dir) or sched.get_job(j.id) for j in jobs)


@pytest.mark.parametrize("value,message", [
    ("abc", "not a number"), ("7", "has no snapshot for epoch 7 (it has: 1)"),
    ("-1", "did not start from pretrained weights")])
def test_previous_network_snapshot_field_bad_values(world, value, message):
    response = world.client.post("/models/images/classification.json", data=dict(
        MODEL_FIELDS, method="previous", previous_networks=world.trained.id, model_name="bad",
        dataset=world.dataset.id, **{f"{world.trained.id}-snapshot": value}))
    assert response.status_code == 400
    assert message in " ".join(response.get_json()["errors"]["previous_network_snapshot"])


def test_custom_network_snapshot_starts_from_a_pt_file_on_the_server(world):
    copied = os.path.join(world.root, "weights", "tiny.pt")
    os.makedirs(os.path.dirname(copied), exist_ok=True)
    shutil.copy(world.trained.snapshot_path(1), copied)
    job = _model(world.client, world.sched, method="custom", custom_network=TORCH_NET, train_epochs="1",
                 model_name="from-file", dataset=world.dataset.id, custom_network_snapshot=copied,
                 pretrained_lr_multiplier="0.5")
    assert job.train_config()["pretrained"] == {"file": copied, "lr_multiplier": 0.5}
    assert job.extra["weights_from"] is None   # a file of the user's, no job to keep
    assert wait_status(job, ("Done", "Error"), timeout=300) == "Done", job.error()
    results = job.train_task.results
    assert results["pretrained_file"] == copied and results["pretrained_loaded_layers"]
    assert not results["pretrained_fresh_layers"]
    # a model's own snapshot (what /models/customize answers) is taken too, and keeps that model
    job = _model(world.client, world.sched, method="custom", custom_network=TORCH_NET, train_epochs="1",
                 model_name="from-snapshot", dataset=world.dataset.id,
                 custom_network_snapshot=world.trained.snapshot_path(1))
    assert job.extra["weights_from"] == world.trained.id
    world.sched.abort_job(job)


def test_custom_network_snapshot_bad_paths(world):
    jobs_dir = world.sched.config["jobs_dir"]
    planted = os.path.join(world.trained.dir, "planted.pt")
    with open(planted, "wb") as f:
        f.write(b"not weights")
    cases = [("/etc/passwd", "not a weights file"), ("/etc/digits.pt", "outside the folders"),
             (os.path.join(world.root, "missing.pt"), "does not exist"),
             (planted, "not a model's snapshot"), (os.path.join(jobs_dir, ".secret_key.pt"), "not a model's snapshot")]
    for path, message in cases:
        response = world.client.post("/models/images/classification.json", data=dict(
            MODEL_FIELDS, method="custom", custom_network=TORCH_NET, model_name="bad", dataset=world.dataset.id,
            custom_network_snapshot=path))
        assert response.status_code == 400, path
        assert message in " ".join(response.get_json()["errors"]["custom_network_snapshot"]), path


def test_select_gpu_is_one_gpu_id_or_next(world):
    from digits.model.forms import ModelForm
    from werkzeug.datastructures import MultiDict
    base = {"model_name": "m", "dataset": "d", "learning_rate": "0.01"}
    with world.app.test_request_context():
        def form(value, gpus):
            made = ModelForm(formdata=MultiDict(dict(base, select_gpu=value)))
            made.server_gpus = gpus
            return made
        for value, gpus, expected in (("next", [], {"gpu": 1}), ("next", [0, 1], {"gpu": 1}),
                                      ("1", [0, 1], {"gpu_ids": [1]}), ("", [0, 1], {"gpu": 1})):
            made = form(value, gpus)
            assert made.validate(), made.errors
            assert made.gpu_request() == expected
        for value, gpus, message in (("3", [0, 1], "no GPU 3"), ("0", [], "it has none"), ("abc", [0], "not a GPU")):
            made = form(value, gpus)
            assert not made.validate() and message in " ".join(made.errors["select_gpu"])


def test_dataset_summary(world):
    data = world.client.get(f"/datasets/summary.json?job_id={world.dataset.id}").get_json()
    assert data["name"] == "colors" and data["image_dims"] == [SIZE, SIZE, 3] and data["num_classes"] == 3
    assert sum(data["entries"].values()) == 24 and "skipped" not in data
    page = world.client.get(f"/datasets/summary?job_id={world.dataset.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"colors" in page.data and f"{SIZE}×{SIZE}".encode() in page.data
    assert world.client.get(f"/datasets/summary.json?job_id={world.trained.id}").status_code == 404   # a model
    assert world.client.get("/datasets/summary.json?job_id=nope").status_code == 404
    assert world.client.get("/datasets/summary.json").status_code == 400


def test_large_graph(world):
    page = world.client.get(f"/models/images/classification/large_graph?job_id={world.trained.id}")
    assert page.status_code == 200 and b'id="combined-chart"' in page.data and b"model_page.js" in page.data
    data = world.client.get(f"/models/images/classification/large_graph.json?job_id={world.trained.id}").get_json()
    assert data["metrics"]["train/loss"] and data["status"] == "Done"
    show = world.client.get(f"/models/{world.trained.id}").get_data(as_text=True)
    assert f"large_graph?job_id={world.trained.id}" in show
    assert world.client.get(f"/models/images/classification/large_graph.json?job_id={world.dataset.id}").status_code == 404
    assert world.client.get("/models/images/classification/large_graph.json").status_code == 400


def _decoded(example):
    return Image.open(io.BytesIO(base64.b64decode(example["image"].split(",", 1)[1])))


def test_resize_example_shows_every_mode(world):
    response = world.client.post("/datasets/images/resize-example.json",
                                 data={"width": "40", "height": "20", "channels": "1", "encoding": "png"})
    assert response.status_code == 200, response.data
    examples = response.get_json()["examples"]
    assert [e["resize_mode"] for e in examples] == ["squash", "crop", "fill", "half_crop"]
    images = [_decoded(e) for e in examples]
    assert all(i.size == (40, 20) and i.mode == "L" for i in images)
    assert len({i.tobytes() for i in images}) == 4   # each mode shows something different
    # the dataset form's own field names, one mode, raw pixels: the stored size is width × height × channels
    one = world.client.post("/datasets/images/resize-example.json", data={
        "resize_width": "8", "resize_height": "6", "resize_channels": "3", "resize_mode": "crop", "encoding": "none"})
    assert [(e["resize_mode"], e["bytes"]) for e in one.get_json()["examples"]] == [("crop", 8 * 6 * 3)]
    # DIGITS answered an HTML fragment
    page = world.client.post("/datasets/images/resize-example", data={"width": "8", "height": "8", "encoding": "jpg"})
    assert page.status_code == 200 and page.data.count(b"<img") == 4 and b"data:image/jpeg" in page.data
    form = world.client.get("/datasets/images/classification/new").get_data(as_text=True)
    assert 'id="btn-resize-example"' in form and "resize_example.js" in form
    for bad, message in (({"width": "0", "height": "8"}, "between 1 and"), ({"width": "x", "height": "8"}, "whole number"),
                         ({"width": "8", "height": "8", "resize_mode": "zoom"}, "resize_mode must be"),
                         ({"width": "8", "height": "8", "encoding": "gif"}, "encoding must be"),
                         ({"width": "8", "height": "8", "channels": "2"}, "channels must be"), ({}, "width"),
                         ({"resize_width": "", "resize_height": "8"}, "resize_width must be a whole number of pixels; it is empty")):
        response = world.client.post("/datasets/images/resize-example.json", data=bad)
        assert response.status_code == 400 and message in response.get_json()["error"]["message"], bad


def test_customize_a_previous_network_and_its_snapshot(world):
    trained, client = world.trained, world.client
    data = client.get(f"/models/customize?network={trained.id}&snapshot_epoch=1").get_json()
    assert data == {"network": trained.network_text(), "snapshot": trained.snapshot_path(1), "framework": "torch"}
    # DIGITS posted snapshot_epoch in the form and network in the query string
    posted = client.post(f"/models/customize?network={trained.id}", data={"snapshot_epoch": "0"}).get_json()
    assert posted["snapshot"] is None and posted["network"] == trained.network_text()
    assert client.get(f"/models/customize.json?network={trained.id}&snapshot_epoch=latest").get_json()["snapshot"] \
        == trained.snapshot_path(1)
    assert "LeNet" in client.get("/models/customize?network=lenet&framework=caffe").get_json()["network"]
    bad = [(f"network={trained.id}&snapshot_epoch=5", 400, "no snapshot for epoch 5"),
           (f"network={world.dataset.id}", 400, "not a model"), ("network=nothing", 404, "no standard network"),
           ("", 400, "network not given")]
    for query, code, message in bad:
        response = client.get(f"/models/customize?{query}")
        assert response.status_code == code and message in response.get_json()["error"]["message"], query
    form = client.get("/models/images/classification/new").get_data(as_text=True)
    assert 'id="btn-customize-previous"' in form and 'name="custom_network_snapshot"' in form


def test_classify_with_a_get_query_string(world, tmp_path):
    trained, client = world.trained, world.client
    image = os.path.join(world.train, "red", "000.png")
    url = "/models/images/classification/classify_one.json"
    response = client.get(f"{url}?job_id={trained.id}&image_path={image}&snapshot_epoch=1")
    assert response.status_code == 200, response.data
    assert len(response.get_json()["predictions"]) == 3
    page = client.get(f"/models/images/classification/classify_one?job_id={trained.id}&image_path={image}")
    assert page.status_code == 200 and b"red" in page.data
    listing = os.path.join(world.root, "list.txt")
    with open(listing, "w") as f:
        f.write(f"{image} 2\n{os.path.join(world.train, 'blue', '000.png')} 0\n")
    many = client.get(f"/models/images/classification/classify_many.json?job_id={trained.id}&image_list={listing}")
    assert many.status_code == 200, many.data
    assert set(many.get_json()["classifications"]) == {image, os.path.join(world.train, "blue", "000.png")}
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(f"{image}\n")
    for query, message in ((f"{url}?job_id={trained.id}", "image_path"),
                           (f"{url}?job_id={trained.id}&image_path=/etc/passwd", "outside"),
                           (f"{url}?job_id=nope&image_path={image}", ""),
                           ("/models/images/classification/classify_many.json?job_id="
                            f"{trained.id}&image_list={outside}", "outside")):
        response = client.get(query)
        assert 400 <= response.status_code < 500 and message in response.get_json()["error"]["message"], query


def test_completed_jobs_has_digits_keys(world):
    data = world.client.get("/completed_jobs.json").get_json()
    finished = {j["id"] for j in data["datasets"] + data["models"]}
    assert {world.dataset.id, world.trained.id} <= finished
    assert not finished & {j["id"] for j in data["running"]}
    assert "val_accuracy" in data["model_output_fields"] and "val_loss" in data["model_output_fields"]
