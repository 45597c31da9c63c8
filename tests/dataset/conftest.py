"""Fixtures for dataset tests: tiny generated image trees (with corrupt files) and a tool runner."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = ("circle", "square", "stripe")
# One clear colour per class so a decoded image can be checked against its label.
CLASS_COLORS = {"circle": (220, 30, 30), "square": (30, 200, 40), "stripe": (20, 40, 210)}


def class_image(name, index, size=(12, 16)):
    """Deterministic H×W×3 image: the class colour plus a little index-dependent texture."""
    h, w = size
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[:] = CLASS_COLORS[name]
    arr[index % h, :, :] = (index * 37) % 256
    return arr


def save(arr, path, fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    PIL.Image.fromarray(arr).save(path, format=fmt)
    return path


def truncated_png(path):
    arr = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    save(arr, path, "PNG")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    return path


@pytest.fixture
def image_tree(tmp_path):
    """root/<class>/NN.png: circle 8, square 8, stripe 6 good images, plus in 'circle' a
    truncated PNG, a text file named .jpg and an empty .png; and a 'lonely' class with 1 image."""
    root = tmp_path / "images"
    counts = {"circle": 8, "square": 8, "stripe": 6}
    for name, count in counts.items():
        for i in range(count):
            save(class_image(name, i), str(root / name / f"{i:02d}.png"))
    truncated_png(str(root / "circle" / "truncated.png"))
    (root / "circle" / "notes.jpg").write_text("this is not an image")
    (root / "circle" / "empty.png").write_bytes(b"")
    (root / "circle" / "readme.txt").write_text("ignored: not an image extension")
    save(class_image("circle", 0), str(root / "lonely" / "only.png"))
    return root


def run_tool(name, *args, check=True, timeout=120):
    """Runs python -m digits.tools.<name> and returns (returncode, json messages, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", f"digits.tools.{name}", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    messages = []
    for line in proc.stdout.splitlines():
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, messages, proc.stdout, proc.stderr


def of_type(messages, type_):
    return [m for m in messages if m.get("type") == type_]


def result_of(messages):
    merged = {}
    for m in of_type(messages, "result"):
        merged.update(m)
    return merged


@pytest.fixture
def build_dataset(tmp_path):
    """build_dataset(folder, **create_db options) → job dir with train/val DBs built."""
    def build(folder, splits=("train", "val"), height=8, width=8, channels=3, resize_mode="squash",
              encoding="png", seed=3, parse_args=(), workers=0):
        job = tmp_path / f"job-{encoding}-{channels}-{resize_mode}"
        job.mkdir()
        run_tool("parse_folder", "--job-dir", job, "--folder", folder, "--seed", seed, *parse_args)
        for split in splits:
            run_tool("create_db", "--job-dir", job, "--split", split, "--height", height, "--width", width,
                     "--channels", channels, "--resize-mode", resize_mode, "--encoding", encoding,
                     "--workers", workers)
        return job
    return build


DATASET_URL = "/datasets/images/classification.json"


def digits_tree(root, classes=3, per_class=6, size=(28, 28)):
    """root/<k>/<i>.png grayscale images, one gray level per class, a white row at i."""
    for k in range(classes):
        for i in range(per_class):
            arr = np.full(size, 40 + 70 * k, dtype=np.uint8)
            arr[i % size[0], :] = 255
            save(arr, str(root / str(k) / f"{i}.png"))
    return root


def web_create(client, **fields):
    return client.post(DATASET_URL, data=fields, content_type="multipart/form-data")


def web_job(client, job_id):
    return client.application.extensions["digits"]["scheduler"].get_job(job_id)


def no_leftovers(client):
    """True when nothing (no job, no staging folder, no upload) is left in the jobs folder."""
    jobs_dir = client.application.extensions["digits"]["config"]["jobs_dir"]
    return os.listdir(jobs_dir) == []


@pytest.fixture
def web():
    """Helpers for tests through the web app (with the `client` fixture of tests/conftest.py)."""
    return SimpleNamespace(create=web_create, job=web_job, tree=digits_tree, no_leftovers=no_leftovers,
                           URL=DATASET_URL)


@pytest.fixture
def ds():
    """Helpers for dataset tests (conftest modules are not importable under --import-mode=importlib)."""
    return SimpleNamespace(save=save, truncated_png=truncated_png, class_image=class_image,
                           run_tool=run_tool, of_type=of_type, result_of=result_of,
                           CLASSES=CLASSES, CLASS_COLORS=CLASS_COLORS)
