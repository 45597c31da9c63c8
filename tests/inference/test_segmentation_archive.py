"""A segmentation model's download archive (docs/segmentation.md §4) and examples/semantic-segmentation/
use_archive.py, which writes the server's colour mask PNG for an image from the archive alone."""
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
from PIL import Image

from tests.inference import segmentation_kit as kit
from tests.inference.segmentation_kit import answered, world  # noqa: F401  (the module's fixture)
from tests.inference.test_detection_archive import _archive

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "examples", "semantic-segmentation", "use_archive.py")


def example(*args):
    """The example run as a user would: a fresh Python, nothing of the repository on its path."""
    return subprocess.run([sys.executable, EXAMPLE, *map(str, args)], capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=""))


def run_example(*args):
    done = example(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_the_servers_masks(world, local):
    for path, written in local.items():
        server = answered(world.client, "infer_one", world.model, image_path=path)
        ours = np.asarray(Image.open(written["mask_png"]).convert("RGB"))
        assert np.array_equal(ours, kit.decoded(server["mask_png"]))   # every pixel
        assert written["pixels_per_class"] == server["pixels_per_class"]
        assert written["classes"] == server["segmentation"]["classes"]


def test_the_archive_carries_the_classes_colormap_and_score_map_shape(world, tmp_path):
    _, files = _archive(world, world.model, str(tmp_path))
    assert {"network.py", "weights.pt", "model.ts", "labels.txt", "colormap.json", "preprocess.json",
            "info.json"} <= set(files)
    assert files["labels.txt"].decode().split() == list(kit.LABELS)
    assert json.loads(files["colormap.json"]) == {"classes": list(kit.LABELS), "colormap": kit.COLORMAP}
    preprocess = json.loads(files["preprocess.json"])
    assert (preprocess["height"], preprocess["width"], preprocess["num_classes"]) == (kit.HEIGHT, kit.WIDTH, 3)
    info = json.loads(files["info.json"])
    assert info["task_type"] == "segmentation" and info["files"]["colormap"] == "colormap.json"
    assert info["output"]["name"] == "logits" and info["output"]["shape"] == ["N", 3, kit.HEIGHT, kit.WIDTH]
    assert info["files"]["torchscript"] == "model.ts" and "error" not in info["exports"]["torchscript"]
    assert info["files"]["onnx"] == "model.onnx" and "model.onnx" in files   # the handmade network exports to ONNX


def test_the_example_writes_the_servers_colour_masks(world, tmp_path):
    archive, _ = _archive(world, world.model, str(tmp_path))
    local = run_example(archive, *sorted(world.images.values()), "--out", tmp_path / "masks")
    assert sorted(local) == sorted(world.images.values())
    for name, path in world.images.items():
        w, h = kit.IMAGES[name][:2]
        assert Image.open(local[path]["mask_png"]).size == (w, h)
    assert_the_servers_masks(world, local)
    path = world.images["larger.png"]
    assert_the_servers_masks(world, run_example(archive, path, "--out", tmp_path / "onnx", "--backend", "onnx"))
    with open(EXAMPLE, encoding="utf-8") as f:
        source = f.read()
    assert "import digits" not in source and "from digits" not in source


def test_the_example_builds_the_network_from_an_archive_folder_without_torchscript(world, tmp_path):
    archive, _ = _archive(world, world.model, str(tmp_path))
    folder = tmp_path / "extracted"
    with tarfile.open(archive) as downloaded:
        downloaded.extractall(folder, filter="data")
    (folder / "model.ts").unlink()
    path = world.images["larger.png"]
    assert_the_servers_masks(world, run_example(folder, path, "--out", tmp_path / "built"))


def test_the_example_refuses_an_archive_of_another_task_type(tmp_path):
    (tmp_path / "preprocess.json").write_text(json.dumps({"channels": 3, "height": 4, "width": 4, "num_classes": 2}))
    done = example(tmp_path, "x.png")
    assert done.returncode != 0 and "not a segmentation model" in done.stderr
