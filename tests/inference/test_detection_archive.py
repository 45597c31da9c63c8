"""A detection model's download archive (docs/detection.md §4) and examples/object-detection/use_archive.py,
which prints the server's detections for an image from the archive alone."""
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from tests.inference import detection_kit as kit

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "examples", "object-detection", "use_archive.py")

# the handmade network, except that the ONNX exporters cannot express it (as with some detectors' NMS)
NO_ONNX_NET = kit.NET.replace("        h, w = x.shape[2], x.shape[3]\n", """        h, w = x.shape[2], x.shape[3]
        if torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting() or torch.compiler.is_compiling():
            raise RuntimeError("this NMS has no ONNX form")
""")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = kit.world(tmp_path_factory)
    yield world
    world.sched.stop()


def _archive(world, job, folder):
    response = world.client.get(f"/models/{job.id}/download.tar.gz")
    assert response.status_code == 200, response.data
    path = os.path.join(folder, f"{job.name}.tar.gz")
    with open(path, "wb") as f:
        f.write(response.data)
    with tarfile.open(fileobj=io.BytesIO(response.data)) as archive:
        return path, {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def run_example(*args):
    done = subprocess.run([sys.executable, EXAMPLE, *map(str, args)], capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=""))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_same(server, local):
    """Same labels in the same order, boxes within 0.5 px, scores within 1e-4."""
    assert [d["label"] for d in local] == [d["label"] for d in server]
    for got, expected in zip(local, server):
        assert got["box"] == pytest.approx(expected["box"], abs=0.5)
        assert got["score"] == pytest.approx(expected["score"], abs=1e-4)


def test_the_archive_carries_the_model_its_classes_geometry_and_postprocess(world, tmp_path):
    _, files = _archive(world, world.model, str(tmp_path))
    assert {"network.py", "weights.pt", "model.ts", "labels.txt", "preprocess.json", "info.json"} <= set(files)
    assert files["labels.txt"].decode().split() == list(kit.LABELS)
    preprocess = json.loads(files["preprocess.json"])
    assert preprocess["geometry"] == kit.GEOMETRY
    assert preprocess["postprocess"] == {"threshold": 0.5, "nms_iou": 0.5, "max_detections": 4}
    info = json.loads(files["info.json"])
    assert info["task_type"] == "detection" and info["num_classes"] == 3
    assert info["output"]["name"] == "detections" and info["output"]["shape"] == ["N", 4, 6]
    assert info["files"]["torchscript"] == "model.ts" and "weights" in info["exports"]
    onnx = "model.onnx" in files   # the handmade network exports to ONNX too
    assert onnx and info["files"]["onnx"] == "model.onnx" and "error" not in info["exports"]["onnx"]


def test_the_example_prints_the_servers_detections(world, tmp_path):
    archive, _ = _archive(world, world.model, str(tmp_path))
    paths = sorted(world.images.values())
    local = run_example(archive, *paths)
    for path in paths:
        server = kit.infer_one(world.client, world.model, path)
        assert_same(server["detections"], local[path]["detections"])
        assert np.allclose(local[path]["outputs"], server["outputs"]["output"], atol=1e-4)
    high = run_example(archive, paths[0], "--threshold", "0.5")[paths[0]]["detections"]
    assert [d["label"] for d in high] == ["car"]
    with open(EXAMPLE, encoding="utf-8") as f:
        source = f.read()
    assert "import digits" not in source and "from digits" not in source


def test_without_onnx_the_archive_still_builds_and_says_why(world, tmp_path):
    job = kit.make_model(world.sched, world.root, net=NO_ONNX_NET, name="no-onnx")
    archive, files = _archive(world, job, str(tmp_path))
    info = json.loads(files["info.json"])
    assert "model.onnx" not in files and info["files"]["onnx"] is None
    assert "ONNX export failed" in info["exports"]["onnx"]["error"]
    assert "model.ts" in files and "error" not in info["exports"]["torchscript"]
    path = world.images["large.png"]
    assert_same(kit.infer_one(world.client, job, path)["detections"], run_example(archive, path)[path]["detections"])


def test_the_example_builds_the_network_from_an_archive_folder_without_torchscript(world, tmp_path):
    _, files = _archive(world, world.model, str(tmp_path))
    folder = tmp_path / "extracted"
    folder.mkdir()
    for name, data in files.items():
        if name != "model.ts":
            (folder / name).write_bytes(data)
    path = world.images["padded.png"]
    assert_same(kit.infer_one(world.client, world.model, path)["detections"],
                run_example(folder, path)[path]["detections"])
