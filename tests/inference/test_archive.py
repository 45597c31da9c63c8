"""Download archives, and the examples reproducing the server's predictions from them."""
import io
import json
import os
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.inference.kit import CLASSES, assert_same, probe_files, run_example, server_predictions

URL = "/models/images/classification"


def download(client, job, suffix="", **query):
    response = client.get(f"/models/{job.id}/download{suffix}", query_string=query)
    assert response.status_code == 200, response.data
    return response.data


def archive_names(data, suffix):
    if suffix == ".zip":
        return sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
        assert all(m.isfile() and m.mode == 0o644 for m in members)
        return sorted(m.name for m in members)


@pytest.mark.parametrize("suffix", ["", ".tar", ".tar.gz", ".zip"])
def test_archive_formats_and_contents(world, client, suffix):
    data = download(world.client, world.caffe_model, suffix)
    assert archive_names(data, suffix) == sorted([
        "network.prototxt", "weights.pt", "model.ts", "model.onnx", "labels.txt", "preprocess.json",
        "mean.binaryproto", "mean.npy", "info.json", "snapshot.caffemodel", "deploy.prototxt"])


def _read(data, name):
    if data[:2] == b"PK":
        return zipfile.ZipFile(io.BytesIO(data)).read(name)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.extractfile(name).read()


def test_epoch_choice_and_info(world, client):
    data = download(client, world.torch_model, ".zip", epoch="2")
    info = json.loads(_read(data, "info.json"))
    assert info["epoch"] == 2 and info["job_id"] == world.torch_model.id and info["framework"] == "torch"
    assert info["input"]["shape"] == ["N", 3, 16, 16] and info["output"]["name"] == "logits"
    assert _read(data, "labels.txt").decode().split() == list(CLASSES)
    import torch
    weights = torch.load(io.BytesIO(_read(data, "weights.pt")), weights_only=True)
    snapshot = torch.load(world.torch_model.snapshot_path(2), weights_only=True)["model"]
    assert weights.keys() == snapshot.keys()
    assert all(torch.equal(weights[k], snapshot[k]) for k in weights)
    response = client.get(f"/models/{world.torch_model.id}/download", query_string={"epoch": "9"})
    assert response.status_code == 400 and "no snapshot for epoch 9" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("path, status", [("/models/nope/download", 404), ("/models/{id}/download.rar", 400)])
def test_download_errors(world, client, path, status):
    assert client.get(path.format(id=world.torch_model.id)).status_code == status


@pytest.fixture(scope="module")
def odd_images(world):
    """Probe images of other sizes and aspect ratios (resized by the server and the examples alike)."""
    rng = np.random.default_rng(5)
    paths = []
    for i, (name, size) in enumerate([("red", (30, 20)), ("green", (9, 13)), ("blue", (16, 16))]):
        arr = np.clip(np.array({"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 40, 220)}[name])
                      + rng.integers(-25, 26, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8)
        path = os.path.join(world.root, f"odd-{i}.png")
        Image.fromarray(arr).save(path)
        paths.append(path)
    gray = os.path.join(world.root, "odd-gray.png")
    Image.fromarray(np.full((12, 12), 90, np.uint8), "L").save(gray)
    return paths + [gray]


@pytest.mark.parametrize("model", ["torch_model", "caffe_model"])
@pytest.mark.parametrize("backend", ["torchscript", "onnx"])
def test_use_archive_matches_the_server(world, client, tmp_path, odd_images, model, backend):
    job = getattr(world, model)
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(download(client, job, ".tar.gz"))
    images = [probe_files(world, name)[0] for name in CLASSES] + odd_images
    server = server_predictions(client, job.id, images)
    local = run_example("use_archive.py", archive, *images, "--backend", backend)
    assert_same(server, local)


def test_example_with_explicit_files_matches_the_server(world, client, tmp_path, odd_images):
    job = world.caffe_model
    with zipfile.ZipFile(io.BytesIO(download(client, job, ".zip", epoch="1"))) as archive:
        archive.extractall(tmp_path)
    server = server_predictions(client, job.id, odd_images, snapshot_epoch="1")
    for model_file in ("model.ts", "model.onnx"):
        local = run_example("example.py", "--model", tmp_path / model_file, "--preprocess", tmp_path / "preprocess.json",
                            "--labels", tmp_path / "labels.txt", "--mean", tmp_path / "mean.npy", *odd_images)
        assert_same(server, local)


@pytest.mark.parametrize("suffix,mimetype", [("", "application/gzip"), (".tar.gz", "application/gzip"),
                                             (".tar", "application/x-tar"), (".zip", "application/zip")])
def test_archive_types_and_no_server_names_inside(world, client, suffix, mimetype):
    response = client.get(f"/models/{world.caffe_model.id}/download{suffix}")
    assert response.status_code == 200 and response.mimetype == mimetype
    if mimetype == "application/gzip":
        flags, header = response.data[3], response.data[10:64]
        assert not flags & 0x08 or header.startswith(b"\0"), "the gzip header names a server temp file"
        assert b"digits-download" not in response.data[:256]


def test_only_the_newest_exports_stay_cached(world, client):
    job = world.torch_model
    for epoch in ("1", "2", "3"):
        download(client, job, ".tar", epoch=epoch)
    kept = sorted(n for n in os.listdir(os.path.join(job.dir, "deploy")) if not n.startswith("."))
    assert kept == ["epoch_2", "epoch_3"]
    download(client, job, ".tar", epoch="1")   # made again on demand
    assert "epoch_1" in os.listdir(os.path.join(job.dir, "deploy"))


def test_exports_are_cached_per_snapshot(world, client):
    job = world.torch_model
    download(client, job, ".tar", epoch="3")
    marker = os.path.join(job.dir, "deploy", "epoch_3", "complete.json")
    first = os.stat(marker).st_mtime_ns
    download(client, job, ".zip", epoch="3")
    assert os.stat(marker).st_mtime_ns == first
    assert not [n for n in os.listdir(os.path.join(job.dir, "deploy")) if n.startswith(".staging")]
