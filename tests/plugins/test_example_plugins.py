"""The example plugins (examples/plugins/<name>/), each installed with pip — into a folder of its own, not the
test venv, without the network — and used by a real server started with that folder on its PYTHONPATH:
dataset → model → inference → view through the REST API. Then the same jobs on a server without the plugins:
"plugin missing", and no page breaks."""
import base64
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import requests
from PIL import Image

from tests.helpers import ROOT, Server, wait_for
from tests.plugins import example_data

PLUGINS = os.path.join(ROOT, "examples", "plugins")
NAMES = ("text-classification", "medical-imaging", "image-gradients")
TRAIN = {"method": "standard", "framework": "torch", "solver_type": "ADAM", "random_seed": "1", "batch_size": "16",
         "lr_policy": "fixed"}


def _install(root):
    """pip install of copies of the plugins (a build in place would leave build/ and egg-info in examples/)."""
    sources = []
    for name in NAMES:
        sources.append(str(root / "src" / name))
        shutil.copytree(os.path.join(PLUGINS, name), sources[-1], ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(root / "site"), *sources], check=True, capture_output=True, timeout=300)


class Client:
    """requests on a live server, logged in; post() asserts the status."""

    def __init__(self, server):
        self.url, self.session = server.url, requests.Session()
        assert self.session.post(f"{self.url}/login.json", data={"username": "fred"}).status_code == 200

    def get(self, path, **kwargs):
        return self.session.get(self.url + path, timeout=60, **kwargs)

    def post(self, path, expect=200, **kwargs):
        response = self.session.post(self.url + path, timeout=120, **kwargs)
        assert response.status_code == expect, response.text
        return response.json()

    def done(self, job_id, category, timeout=240):
        def finished():
            status = self.get(f"/{category}/{job_id}/status").json()
            return status if status["status"] in ("Done", "Error", "Aborted") else None
        status = wait_for(finished, timeout=timeout, interval=0.5, message=f"{category} {job_id}")
        assert status["status"] == "Done", status
        return self.get(f"/{category}/{job_id}.json").json()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugins")
    _install(root)
    data = {"train_csv": example_data.write_corpus(root / "train.csv", 480, seed=1),
            "val_csv": example_data.write_corpus(root / "val.csv", 80, seed=2)}
    data["medical"] = example_data.write_medical(str(root / "medical"), 40)
    server = Server(str(root / "jobs"), root, pythonpath=str(root / "site"),
                    env={"DIGITS_CPU_TRAIN_SLOTS": "2"}).start()
    try:
        yield _jobs(root, server, data)
    finally:
        if server.proc.poll() is None:
            server.kill()


def _jobs(root, server, data):
    """The three plugins' datasets (Done) and models (queued), made through the REST API."""
    client = Client(server)
    datasets = {
        "text": client.post("/datasets/generic/create/text-classification.json", data={
            "dataset_name": "topics", "train_file": data["train_csv"], "val_file": data["val_csv"],
            "max_length": "64"})["id"],
        "medical": client.post("/datasets/generic/create/medical-contours.json", data={
            "dataset_name": "discs", "image_folder": data["medical"][0], "label_folder": data["medical"][1],
            "contour_filter": "icontour", "class_name": "disc", "pct_val": "25"})["id"],
        "gradients": client.post("/datasets/generic/create/image-gradients.json", data={
            "dataset_name": "gradients", "train_image_count": "400", "val_image_count": "80", "image_width": "16",
            "image_height": "16"})["id"],
    }
    details = {kind: client.done(job_id, "datasets", timeout=120) for kind, job_id in datasets.items()}
    models = {
        "text": dict(TRAIN, dataset=datasets["text"], model_name="topics", standard_networks="char_cnn",
                     task_type="classification", train_epochs="4", learning_rate="0.003", use_mean="none"),
        "medical": dict(TRAIN, dataset=datasets["medical"], model_name="discs", standard_networks="unet_small",
                        task_type="segmentation", train_epochs="6", learning_rate="0.005", use_mean="none",
                        batch_size="8"),
        "gradients": dict(TRAIN, dataset=datasets["gradients"], model_name="gradients",
                          standard_networks="gradient_regressor", task_type="regression", train_epochs="4",
                          learning_rate="0.01", use_mean="image"),
    }
    model_ids = {kind: client.post("/models/images/generic.json", data=fields)["id"] for kind, fields in models.items()}
    return {"root": root, "server": server, "client": client, "data": data, "datasets": datasets, "details": details,
            "models": model_ids}


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _decoded(data_uri):
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_uri.partition(",")[2]))))


def test_installed_plugins_are_in_the_menus(world):
    home = world["client"].get("/").text
    for extension_id, title in (("text-classification", "Text classification (CSV)"),
                                ("medical-contours", "Medical images with contours"),
                                ("image-gradients", "Gradients (generated)")):
        assert f'href="/datasets/generic/new/{extension_id}"' in home and title in home
        assert f'href="/models/images/generic/new/{extension_id}"' in home
    form = world["client"].get("/models/images/generic/new/text-classification").text
    assert 'value="char_cnn"' in form and 'value="gradient_regressor"' in form
    page = world["client"].get("/datasets/generic/new/medical-contours").text
    assert 'name="image_folder"' in page and 'name="contour_filter"' in page


def test_text_classification_learns_and_classifies_text(world):
    client = world["client"]
    dataset = world["details"]["text"]
    assert dataset["labels"] == ["food", "sports", "tech", "weather"] and dataset["image_dims"] == [69, 64, 1]
    assert dataset["entries"] == {"train": 480, "val": 80}
    model = client.done(world["models"]["text"], "models")
    assert model["metrics"]["val/accuracy"][-1][1] >= 90.0, model["metrics"]["val/accuracy"]
    page = client.get(f"/models/{model['id']}").text
    assert 'name="text"' in page and '<option value="text-top-classes">' in page
    sentence = "The referee stopped the football match before the goal"
    answer = client.post("/models/images/generic/infer_one.json", data={"job_id": model["id"], "text": sentence})
    assert answer["view"] == "text-top-classes" and answer["text"] == sentence
    assert answer["top_classes"][0]["label"] == "sports" and answer["predictions"][0][0] == "sports"
    html = client.session.post(f"{client.url}/models/images/generic/infer_one",
                               data={"job_id": model["id"], "text": "snow and frost in the forecast"}).text
    assert "snow and frost in the forecast" in html and 'class="view-text-top-classes"' in html
    # a database record shows its text, decoded from the network's input
    db = os.path.join(dataset["job_dir"], "val_db")
    records = client.post("/models/images/generic/infer_db.json", data={"job_id": model["id"], "db_path": db,
                                                                        "num_test_images": "4"})
    first = next(iter(records["results"].values()))
    assert len(first["text"].split()) == 7 and first["top_classes"]
    refused = client.post("/models/images/generic/infer_one.json", expect=400, data={"job_id": model["id"]})
    assert "give text to classify (text), or an image" in refused["error"]["message"]


def test_medical_contours_make_a_segmentation_dataset_and_the_view_draws_the_mask(world):
    client = world["client"]
    dataset = world["details"]["medical"]
    assert dataset["labels"] == ["background", "disc"] and dataset["image_dims"] == [32, 32, 1]
    assert dataset["entries"] == {"train": 30, "val": 10}   # the image without a label file is left out
    model = client.done(world["models"]["medical"], "models")
    assert model["metrics"]["val/mIoU"][-1][1] > 60.0, model["metrics"]["val/mIoU"]
    image, _circle = example_data.disc(np.random.default_rng(7), 32)
    answer = client.post("/models/images/generic/infer_one.json", data={"job_id": model["id"]},
                         files={"image_file": ("scan.png", _png(image), "image/png")})
    assert answer["view"] == "medical-mask-overlay" and answer["segmentation"]["classes"] == ["background", "disc"]
    overlay = _decoded(answer["overlay_png"])
    mask = np.asarray(answer["segmentation"]["mask"])
    assert overlay.shape == (32, 32, 3) and answer["object_pixels"] == int((mask > 0).sum()) > 0
    assert (overlay[mask > 0, 0] > overlay[mask > 0, 1]).all()   # the object is tinted red
    assert np.array_equal(overlay[mask == 0], np.repeat(image[mask == 0][:, None], 3, axis=1))
    builtin = client.post("/models/images/generic/infer_one.json", data={
        "job_id": model["id"], "view_extension_id": "image-segmentation"},
        files={"image_file": ("scan.png", _png(image), "image/png")})
    assert builtin["view"] == "image-segmentation" and "mask_png" in builtin


def test_medical_dicom_images_are_read_with_pydicom(world):
    pytest.importorskip("pydicom", reason="pydicom is not installed (pip install pydicom): DICOM is optional")
    client = world["client"]
    images, labels = example_data.write_medical(str(world["root"] / "dicom"), 6, dicom=True)
    job_id = client.post("/datasets/generic/create/medical-contours.json", data={
        "dataset_name": "dicom", "image_folder": images, "label_folder": labels, "pct_val": "0",
        "resize_width": "24", "resize_height": "24"})["id"]
    details = client.done(job_id, "datasets", timeout=120)
    assert details["entries"] == {"train": 6} and details["image_dims"] == [24, 24, 1]
    assert details["pixels"]["per_class"][1] > 0
    bad = client.post("/datasets/generic/create/medical-contours.json", expect=400, data={
        "dataset_name": "none", "image_folder": images, "label_folder": images})
    assert "no image of the image folder" in bad["errors"]["label_folder"][0]


def test_image_gradients_regress_and_the_view_draws_the_prediction(world):
    client = world["client"]
    assert world["details"]["gradients"]["label_dims"] == [2]
    model = client.done(world["models"]["gradients"], "models")
    assert model["metrics"]["val/rmse"][-1][1] < 0.25, model["metrics"]["val/rmse"]   # labels' spread: 0.58
    answer = client.post("/models/images/generic/infer_one.json", data={"job_id": model["id"]},
                         files={"image_file": ("g.png", _png(example_data.gradient(0.8, -0.5, 16, 16)), "image/png")})
    assert answer["view"] == "image-gradients"
    assert abs(answer["gradient"]["a"] - 0.8) < 0.3 and abs(answer["gradient"]["b"] + 0.5) < 0.3, answer["gradient"]
    drawn = _decoded(answer["gradient_png"])
    assert drawn.shape == (16, 16) and drawn[0, -1] > drawn[0, 0] and drawn[0, 0] > drawn[-1, 0]
    # classification needs class ids: on these label vectors it is a form error, not a job
    refused = client.post("/models/images/generic.json", expect=400, data=dict(
        TRAIN, dataset=world["datasets"]["gradients"], model_name="no", method="custom",
        custom_network="def build(input_shape, n):\n    raise SystemExit\n", task_type="classification"))
    assert "labels are vectors" in refused["errors"]["task_type"][0]


def test_uninstalled_plugins_leave_their_jobs_as_plugin_missing(world):
    for kind in ("text", "medical", "gradients"):   # the other tests' models, finished
        world["client"].done(world["models"][kind], "models")
    world["server"].kill()
    server = Server(str(world["root"] / "jobs"), world["root"]).start()   # no plugins on its PYTHONPATH
    try:
        client = Client(server)
        home = client.get("/")
        assert home.status_code == 200 and home.text.count("plugin missing") >= 6
        assert "/datasets/generic/new/text-classification" not in home.text
        index = client.get("/index.json").json()
        missing = {job["name"]: job["plugin_missing"] for job in index["datasets"] + index["models"]}
        assert missing["topics"] == "text-classification" and missing["discs"] == "medical-contours"
        assert missing["gradients"] == "image-gradients"
        for category, jobs in (("datasets", world["datasets"]), ("models", world["models"])):
            for job_id in jobs.values():
                page = client.get(f"/{category}/{job_id}")
                assert page.status_code == 200 and 'id="plugin-missing"' in page.text, (category, job_id)
                assert client.get(f"/{category}/{job_id}.json").status_code == 200
        new = client.get("/datasets/generic/new/text-classification", headers={"Accept": "application/json"})
        assert new.status_code == 404 and "no data extension 'text-classification'" in new.json()["error"]["message"]
        # the models still answer, with what the server itself knows: images, the task type's view
        text_model = world["models"]["text"]
        refused = client.post("/models/images/generic/infer_one.json", expect=400,
                              data={"job_id": text_model, "text": "football"})
        assert "give an image" in refused["error"]["message"]
        answer = client.post("/models/images/generic/infer_one.json", data={"job_id": world["models"]["gradients"]},
                             files={"image_file": ("g.png", _png(example_data.gradient(0.2, 0.2, 16, 16)), "image/png")})
        assert answer["view"] == "all-raw-data" and len(answer["values"]) == 2
        asked = client.post("/models/images/generic/infer_one.json", expect=400, data={
            "job_id": world["models"]["gradients"], "view_extension_id": "image-gradients"},
            files={"image_file": ("g.png", _png(example_data.gradient(0.2, 0.2, 16, 16)), "image/png")})
        assert "unknown view extension 'image-gradients'" in asked["error"]["message"]
    finally:
        server.kill()
