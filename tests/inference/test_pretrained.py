"""Pretrained models: made from a model, uploaded as files or an archive, refused when unsafe or
unusable, and used to start new models (weights transferred by layer name and shape)."""
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest
import torch

from tests.helpers import ROOT, login, wait_status
from tests.inference.kit import CAFFE_NET, TORCH_NET, probe_files, train_from_pretrained, unsafe_weights

URL = "/models/images/classification"


def classify(client, job_id, path):
    response = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": path})
    assert response.status_code == 200, response.data
    return response.get_json()["predictions"]


@pytest.fixture(scope="module")
def from_caffe(world):
    response = world.client.post(f"/models/{world.caffe_model.id}/to_pretrained.json", data={"snapshot_epoch": "2"})
    assert response.status_code == 200, response.data
    return world.sched.get_job(response.get_json()["id"])


def test_make_pretrained_model_from_a_snapshot(world, client, from_caffe):
    job = from_caffe
    assert job.status == "Done" and job.category == "pretrained_models"
    assert job.name == "caffe-colors (epoch 2)"   # the epoch asked for, not the newest (3)
    data = client.get(f"/pretrained_models/{job.id}.json").get_json()
    assert data["framework"] == "caffe" and data["labels"] == ["blue", "green", "red"]
    assert data["info"]["epoch"] == 2 and data["info"]["model_id"] == world.caffe_model.id
    assert data["info"]["layers"] == ["conv1", "fc"]   # the layers that carry weights
    weights = torch.load(job.weights_path(), weights_only=True)
    snapshot = torch.load(world.caffe_model.snapshot_path(2), weights_only=True)["model"]
    assert set(weights) == set(snapshot) and all(torch.equal(weights[k], snapshot[k]) for k in weights)
    # it classifies like the model's snapshot it came from
    image = probe_files(world, "red")[1]
    expected = client.post(f"{URL}/classify_one.json", data={"job_id": world.caffe_model.id, "image_path": image,
                                                             "snapshot_epoch": "2"}).get_json()["predictions"]
    assert classify(client, job.id, image) == expected
    page = client.get(f"/pretrained_models/{job.id}")
    assert page.status_code == 200 and 'id="pretrained-info"' in page.get_data(as_text=True)
    assert any(j["id"] == job.id for j in client.get("/index.json").get_json()["pretrained_models"])


def test_new_model_from_a_pretrained_model_loads_its_layers(world, client, from_caffe):
    job = train_from_pretrained(world, from_caffe.id, "from-pretrained", timeout=180, pretrained_lr_multiplier="0.1")
    results = job.train_task.results
    assert sorted(results["pretrained_loaded_layers"]) == ["layers.conv1", "layers.fc"]
    assert results["pretrained_fresh_layers"] == []
    assert results["val_accuracy"] == 100.0   # started from a model that already knew the colours
    page = client.get(f"/models/{job.id}").get_data(as_text=True)
    assert 'id="pretrained-transfer"' in page and "layers.conv1" in page


def test_transfer_with_a_renamed_last_layer(world, tmp_path, from_caffe):
    """The training tool, given the pretrained model's weights and a network whose last layer has a new
    name, loads conv1 and starts the renamed layer fresh."""
    job_dir = tmp_path / "renamed"
    job_dir.mkdir()
    (job_dir / "network.prototxt").write_text(CAFFE_NET.replace('"fc"', '"fc_new"'))
    config = json.loads(open(world.caffe_model.path("train_config.json")).read())
    config.update(train_epochs=1, pretrained={"file": from_caffe.weights_path(), "lr_multiplier": 0.5})
    (job_dir / "train_config.json").write_text(json.dumps(config))
    result = subprocess.run([sys.executable, "-m", "digits.tools.train", "--job-dir", str(job_dir)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env=dict(os.environ, DIGITS_TRAIN_WORKERS="0", PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    transfer = next(m for m in messages if m["type"] == "result" and "pretrained_loaded_layers" in m)
    assert transfer["pretrained_loaded_layers"] == ["layers.conv1"]
    assert transfer["pretrained_fresh_layers"] == ["layers.fc_new"]
    trained = torch.load(job_dir / "snapshot_epoch_1.pt", weights_only=True)["model"]
    assert "layers.fc_new.weight" in trained


def _archive_bytes(files, kind="tar.gz"):
    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    else:
        with tarfile.open(fileobj=buf, mode="w:gz") as archive:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def upload_archive(client, data, name="model.tar.gz", **fields):
    return client.post("/pretrained_models/upload_archive.json",
                       data={"archive": (io.BytesIO(data), name), **fields})


def test_upload_our_archive_round_trip(world, client):
    data = client.get(f"/models/{world.torch_model.id}/download.zip").data
    response = upload_archive(client, data, "torch-colors.zip")
    assert response.status_code == 200, response.data
    assert response.get_json()["success"] is True
    job = world.sched.get_job(response.get_json()["id"])
    assert job.name == "torch-colors" and job.framework == "torch" and job.status == "Done"
    assert job.extra["info"]["model_id"] == world.torch_model.id
    image = probe_files(world, "green")[2]
    assert classify(client, job.id, image) == classify(client, world.torch_model.id, image)


def _weights_and_labels(world):
    with open(world.torch_model.snapshot_path(3), "rb") as f:
        weights = f.read()
    return weights, b"blue\ngreen\nred\n"


def test_upload_files_weights_network_labels(world, client):
    weights, labels = _weights_and_labels(world)
    response = client.post("/pretrained_models/new.json", data={
        "job_name": "uploaded", "framework": "torch", "image_type": "3", "width": "16", "height": "16",
        "resize_mode": "squash", "weights_file": (io.BytesIO(weights), "snapshot.pt"),
        "model_def_file": (io.BytesIO(TORCH_NET.encode()), "net.py"), "labels_file": (io.BytesIO(labels), "labels.txt")})
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    preprocess = json.load(open(job.path("preprocess.json")))
    assert preprocess["scale"] == pytest.approx(1 / 255) and preprocess["mean"] == "none"
    assert job.extra["info"]["input_shape"] == [3, 16, 16]
    assert len(classify(client, job.id, probe_files(world, "red")[0])) == 3


def test_caffe_upload_takes_the_scale_of_the_data_layer(world, client, from_caffe):
    with open(from_caffe.weights_path(), "rb") as f:
        weights = f.read()
    response = client.post("/pretrained_models/new.json", data={
        "job_name": "caffe-upload", "framework": "caffe", "image_type": "color", "width": "16", "height": "16",
        "weights_file": (io.BytesIO(weights), "w.pt"), "model_def_file": (io.BytesIO(CAFFE_NET.encode()), "n.prototxt"),
        "labels_file": (io.BytesIO(b"blue\ngreen\nred\n"), "labels.txt")})
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    assert json.load(open(job.path("preprocess.json")))["scale"] == pytest.approx(0.0039215684)
    assert client.delete(f"/pretrained_models/{job.id}").status_code == 200
    assert not os.path.exists(job.dir)


def _count_pretrained(world):
    return sum(1 for j in world.sched.jobs.values() if j.category == "pretrained_models")


@pytest.mark.parametrize("case", ["traversal", "absolute", "symlink", "oversize", "not-archive", "no-labels",
                                  "unsafe-weights", "misfit-weights", "bad-resize-mode", "big-crop"])
def test_bad_archives_are_refused(world, client, case):
    weights, labels = _weights_and_labels(world)
    files = {"network.py": TORCH_NET.encode(), "weights.pt": weights, "labels.txt": labels,
             "preprocess.json": open(world.torch_model.path("preprocess.json"), "rb").read(),
             "mean.binaryproto": open(world.torch_model.path("mean.binaryproto"), "rb").read()}
    expected = {"traversal": (400, "outside the archive"), "absolute": (400, "absolute path"),
                "symlink": (400, "link"), "oversize": (413, "limit"), "not-archive": (400, "archive"),
                "no-labels": (400, "labels.txt"), "unsafe-weights": (400, "weights_only"),
                "misfit-weights": (400, "do not fit"),
                "bad-resize-mode": (400, "preprocess.json resize_mode must be one of squash, crop, fill, half_crop"),
                "big-crop": (400, "preprocess.json crop_size must be between 0 and 16, got 17")}[case]
    config = world.app.extensions["digits"]["config"]
    before, jobs_before = _count_pretrained(world), set(os.listdir(config["jobs_dir"]))
    if case == "traversal":
        data = _archive_bytes(dict(files, **{"../evil.txt": b"x"}))
    elif case == "absolute":
        data = _archive_bytes(dict(files, **{"/tmp/evil.txt": b"x"}), "zip")
    elif case == "symlink":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as archive:
            link = tarfile.TarInfo("labels.txt")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(link)
        data = buf.getvalue()
    elif case == "not-archive":
        data = b"plain text, not an archive"
    elif case == "no-labels":
        data = _archive_bytes({k: v for k, v in files.items() if k != "labels.txt"})
    elif case == "unsafe-weights":
        data = _archive_bytes(dict(files, **{"weights.pt": unsafe_weights()}))
    elif case == "misfit-weights":
        data = _archive_bytes(dict(files, **{"network.py": TORCH_NET.replace("nn.Conv2d(c, 4", "nn.Conv2d(c, 5")
                                             .replace("4 * (h", "5 * (h").encode()}))
    elif case in ("bad-resize-mode", "big-crop"):
        change = {"resize_mode": "stretch"} if case == "bad-resize-mode" else {"crop_size": 17}
        preprocess = dict(json.loads(files["preprocess.json"]), **change)
        data = _archive_bytes(dict(files, **{"preprocess.json": json.dumps(preprocess).encode()}))
    else:
        data = _archive_bytes(files)
        config["pretrained_max_bytes"] = 1000
    try:
        response = upload_archive(client, data)
    finally:
        config.pop("pretrained_max_bytes", None)
    assert response.status_code == expected[0], response.data
    assert expected[1] in response.get_json()["error"]["message"]
    assert _count_pretrained(world) == before                         # nothing registered ...
    assert set(os.listdir(config["jobs_dir"])) == jobs_before          # ... and no folder left behind


def test_pretrained_routes_need_login_and_a_model(world):
    anonymous = world.app.test_client()
    assert anonymous.post("/pretrained_models/upload_archive.json").status_code == 401
    assert anonymous.post(f"/models/{world.torch_model.id}/to_pretrained.json").status_code == 401
    client = login(world.app.test_client(), "bob")
    assert client.post("/models/nope/to_pretrained.json").status_code == 404
    response = client.post(f"/models/{world.torch_model.id}/to_pretrained.json", data={"snapshot_epoch": "8"})
    assert response.status_code == 400 and "no snapshot for epoch 8" in response.get_json()["error"]["message"]
    response = client.post("/pretrained_models/new.json", data={"job_name": "x"})
    assert response.status_code == 400 and "no file uploaded" in response.get_json()["error"]["message"]
    assert client.get("/pretrained_models/new").status_code == 200


def test_customized_network_with_pretrained_weights_through_the_form(world, client, from_caffe):
    """DIGITS' flow: pick a pretrained model, Customize its network (rename the last layer for the new
    classes): the matching layers load, the renamed one starts fresh; the pretrained model is then in use."""
    response = client.post("/models/images/classification.json", data={
        "method": "pretrained", "pretrained_networks": from_caffe.id, "framework": "caffe",
        "custom_network": CAFFE_NET.replace('"fc"', '"fc_new"'), "model_name": "renamed-last-layer",
        "dataset": world.dataset.id, "train_epochs": "1", "random_seed": "3", "batch_size": "8"})
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=180) == "Done", job.error()
    results = job.train_task.results
    assert results["pretrained_loaded_layers"] == ["layers.conv1"]
    assert results["pretrained_fresh_layers"] == ["layers.fc_new"]
    refused = client.delete(f"/pretrained_models/{from_caffe.id}")
    assert refused.status_code == 403 and "renamed-last-layer" in refused.get_json()["error"]["message"]
    assert client.delete(f"/models/{job.id}").status_code == 200
