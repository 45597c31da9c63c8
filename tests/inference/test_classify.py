"""Classify one / many / top N on the session's trained colour models, through the REST API."""
import base64
import io
import os

import pytest
from PIL import Image

from tests.inference.kit import CLASSES, probe_files

URL = "/models/images/classification"


def classify_one(client, job_id, path=None, **fields):
    data = {"job_id": job_id, **fields}
    if path is None:
        return client.post(f"{URL}/classify_one.json", data=data)
    with open(path, "rb") as f:
        data["image_file"] = (io.BytesIO(f.read()), os.path.basename(path))
    return client.post(f"{URL}/classify_one.json", data=data)


@pytest.mark.parametrize("model", ["torch_model", "caffe_model"])
def test_classify_one_predicts_the_colour(world, client, model):
    job = getattr(world, model)
    for name in CLASSES:
        for path in probe_files(world, name)[:2]:
            response = classify_one(client, job.id, path)
            assert response.status_code == 200, response.data
            predictions = response.get_json()["predictions"]
            assert [p[0] for p in predictions][0] == name
            assert sorted(p[0] for p in predictions) == sorted(CLASSES)   # 3 classes: top-3
            assert sum(p[1] for p in predictions) == pytest.approx(100.0, abs=0.01)
            assert predictions == sorted(predictions, key=lambda p: -p[1])
            assert "visualizations" not in response.get_json()


def test_server_path_gives_the_same_answer_as_an_upload(world, client):
    path = probe_files(world, "green")[0]
    uploaded = classify_one(client, world.torch_model.id, path).get_json()
    by_path = client.post(f"{URL}/classify_one.json", data={"job_id": world.torch_model.id, "image_path": path})
    assert by_path.status_code == 200, by_path.data
    assert by_path.get_json() == uploaded


def _decode(data_uri):
    assert data_uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))


@pytest.mark.parametrize("model, layers", [
    ("torch_model", {"0": ("Conv2d", 4 * 3 * 9 + 4), "1": ("ReLU", 0), "2": ("MaxPool2d", 0),
                     "3": ("Flatten", 0), "4": ("Linear", 4 * 8 * 8 * 3 + 3)}),
    ("caffe_model", {"conv1": ("Convolution", 4 * 3 * 9 + 4), "relu1": ("ReLU", 0), "pool1": ("Pooling", 0),
                     "fc": ("InnerProduct", 4 * 8 * 8 * 3 + 3)}),
])
def test_visualizations_for_every_layer(world, client, model, layers):
    response = classify_one(client, getattr(world, model).id, probe_files(world, "red")[0], show_visualizations="on")
    assert response.status_code == 200, response.data
    entries = response.get_json()["visualizations"]
    activations = {e["name"]: e for e in entries if e["vis_type"] == "Activation"}
    weights = {e["name"]: e for e in entries if e["vis_type"] == "Weights"}
    assert set(activations) == set(layers) | {"data"}
    assert set(weights) == {name for name, (_, params) in layers.items() if params}
    for name, (layer_type, params) in layers.items():
        assert activations[name]["layer_type"] == layer_type
        assert activations[name]["param_count"] == params
    assert activations["data"]["stats"]["shape"] == [3, 16, 16]
    conv = next(n for n in layers if layers[n][0] in ("Conv2d", "Convolution"))
    assert weights[conv]["stats"]["shape"] == [4, 3, 3, 3]
    assert activations[conv]["stats"]["shape"] == [4, 16, 16]
    last = list(layers)[-1]
    assert activations[last]["stats"]["shape"] == [3]
    for entry in entries:
        stats = entry["stats"]
        counts, centers, ticks = stats["histogram"]
        assert len(counts) == len(centers) == 20 and len(ticks) == 3
        assert stats["stddev"] >= 0
        image = _decode(entry["image"])
        assert image.width >= 16 and image.height >= 1


def test_snapshot_epoch_selection(world, client):
    job = world.torch_model
    path = probe_files(world, "blue")[0]
    first = classify_one(client, job.id, path, snapshot_epoch="1")
    last = classify_one(client, job.id, path, snapshot_epoch="3.0")
    newest = classify_one(client, job.id, path)
    assert first.status_code == last.status_code == newest.status_code == 200
    assert first.get_json()["snapshot_epoch"] == 1 and newest.get_json()["snapshot_epoch"] == 3
    assert newest.get_json()["predictions"] == last.get_json()["predictions"]
    assert first.get_json()["predictions"] != last.get_json()["predictions"]  # other weights, other numbers


@pytest.mark.parametrize("fields, status, words", [
    ({"job_id": "nope"}, 404, "no image classification model"),
    ({"snapshot_epoch": "7"}, 400, "no snapshot for epoch 7"),
    ({"snapshot_epoch": "abc"}, 400, "snapshot_epoch must be a number"),
    ({}, 400, "give an image"),
    ({"image_url": "http://example.com/cat.jpg"}, 400, "image_url is not supported"),
    ({"image_path": "/etc/passwd"}, 400, "outside the folders"),
    ({"image_path": "/nonexistent/x.png"}, 400, "image_path"),
])
def test_bad_requests_are_4xx(world, client, fields, status, words):
    data = {"job_id": world.torch_model.id, **fields}
    response = client.post(f"{URL}/classify_one.json", data=data)
    assert response.status_code == status, response.data
    assert words in response.get_json()["error"]["message"]


def test_a_dataset_id_is_not_a_model(world, client):
    response = classify_one(client, world.dataset.id, probe_files(world, "red")[0])
    assert response.status_code == 404


def test_non_image_upload_is_400(world, client):
    data = {"job_id": world.torch_model.id, "image_file": (io.BytesIO(b"this is not a picture"), "notes.png")}
    response = client.post(f"{URL}/classify_one.json", data=data)
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert "image_file" in message and "not an image" in message


def test_classify_one_html_page(world, client):
    path = probe_files(world, "red")[0]
    with open(path, "rb") as f:
        response = client.post(f"{URL}/classify_one", data={"job_id": world.caffe_model.id,
                                                             "image_file": (f, "red.png"), "show_visualizations": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="predictions"' in html and 'id="visualizations"' in html and 'data-layer="conv1"' in html
    assert "<td class=\"text-nowrap\" style=\"width:30%\">red</td>" in html


def test_model_page_has_the_inference_forms(world, client):
    html = client.get(f"/models/{world.torch_model.id}").get_data(as_text=True)
    for marker in ('id="form-classify-one"', 'id="form-classify-many"', 'id="form-top-n"', 'id="form-to-pretrained"',
                   "js/inference.js"):
        assert marker in html


def test_large_uploads_travel_as_temp_files(world, client, monkeypatch):
    from digits.inference import inputs
    path = probe_files(world, "green")[1]
    inline = classify_one(client, world.torch_model.id, path).get_json()
    monkeypatch.setattr(inputs, "INLINE_BYTES", 16)
    as_file = classify_one(client, world.torch_model.id, path)
    assert as_file.status_code == 200, as_file.data
    assert as_file.get_json() == inline
    # a bad one is named as uploaded, not by the server's temp file
    data = {"job_id": world.torch_model.id, "image_file": (io.BytesIO(b"not a picture" * 4), "notes.png")}
    refused = client.post(f"{URL}/classify_one.json", data=data)
    assert refused.status_code == 400
    message = refused.get_json()["error"]["message"]
    assert message == 'image_file: "notes.png": not an image file (unrecognized format)', message


def test_anonymous_classify_as_in_the_api_walkthrough(world):
    """API.md: curl .../classify_one.json -XPOST -F job_id=<model id> -F image_file=@digit.png — no login."""
    anonymous = world.app.test_client()
    response = classify_one(anonymous, world.torch_model.id, probe_files(world, "blue")[1])
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert set(data) == {"predictions", "snapshot_epoch"}
    assert data["predictions"][0][0] == "blue" and all(len(p) == 2 for p in data["predictions"])
