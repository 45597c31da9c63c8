"""Detection models through the REST API: a KITTI dataset (the image-object-detection extension), then
POST /models/images/generic.json with task_type=detection and a standard detection network; the model
page charts the detection metrics. What does not fit (task type and dataset, standard network and task
type) is a form error, and no job is made."""
import numpy as np
import pytest
import torch
from PIL import Image

from tests.detection_data import make_image, make_kitti_dataset
from tests.model.rest_kit import made_dataset, standard_model_fields, trained_model

DATASET_URL = "/datasets/generic/create/image-object-detection.json"


@pytest.fixture
def env(make_app, tmp_path):
    for split, count, seed in (("train", 160, 1), ("val", 48, 2)):
        make_kitti_dataset(str(tmp_path / split), count, seed=seed)
    return made_dataset(make_app(allowed_roots=[str(tmp_path)]), DATASET_URL, {
        "dataset_name": "boxes", "channel_conversion": "RGB", "val_min_box_size": "0",
        "padding_image_width": "", "padding_image_height": "",   # DIGITS' default pads to 1248×384
        **{f"{split}_{kind}_folder": str(tmp_path / split / f"{kind}s") for split in ("train", "val")
           for kind in ("image", "label")}})


def _fields(dataset, **more):
    return standard_model_fields(dataset, **{"task_type": "detection", "standard_networks": "detectnet_small",
                                             "train_epochs": "6", "learning_rate": "0.003", **more})


def test_a_detectnet_small_model_learns_from_the_rest_api(env, tmp_path):
    client, sched, dataset = env
    model, details = trained_model(client, sched, _fields(dataset))
    assert model.task_type == details["task_type"] == "detection" and model.extra["framework"] == "torch"
    for key in ("val/mAP", "val/precision", "val/recall", "train/loss", "train/loss_coverage", "train/loss_bbox"):
        assert details["metrics"][key], key
    assert len(details["results"]["val_ap_per_class"]) == 3
    assert details["metrics"]["val/mAP"][-1][1] >= 50.0, details["metrics"]["val/mAP"]   # on images it never saw
    page = client.get(f"/models/{model.id}").get_data(as_text=True)
    assert 'data-task-type="detection"' in page and "Losses, mAP, precision and recall" in page
    assert "Validation mAP@0.5" in page and "Val map" not in page and "Val ap 1" not in page
    assert 'id="val-ap-per-class"' in page   # per-class AP, precision, recall by class name
    for name in model.labels()[1:]:
        assert f"<td>{name}</td>" in page, name
    _finds_the_objects_and_the_archive_agrees(client, model, tmp_path)


def _finds_the_objects_and_the_archive_agrees(client, model, tmp_path):
    """The trained model on images it never saw: most objects found (right class, IoU ≥ 0.5, score ≥ 0.5),
    at their place in the image; the archive's example script gives the server's detections."""
    from torchvision.ops import box_iou
    from tests.inference.test_detection_archive import assert_same, run_example
    rng, found, total, answers = np.random.default_rng(99), 0, 0, {}
    for i in range(4):
        image, truth = make_image(rng, objects=(2, 3))
        path = tmp_path / f"unseen{i}.png"
        Image.fromarray(image).save(path)
        response = client.post("/models/images/generic/infer_one.json", data={"job_id": model.id,
                                                                              "image_path": str(path)})
        assert response.status_code == 200, response.data
        answers[str(path)] = response.get_json()["detections"]
        for name, box in truth:
            same = [d["box"] for d in answers[str(path)] if d["label"] == name and d["score"] >= 0.5]
            found += bool(same) and float(box_iou(torch.tensor([box]), torch.tensor(same)).max()) >= 0.5
            total += 1
    assert found / total >= 0.5, (found, total)
    archive = tmp_path / "detector.tar.gz"
    archive.write_bytes(client.get(f"/models/{model.id}/download.tar.gz").data)
    local = run_example(archive, *answers)
    for path, server in answers.items():
        assert_same(server, local[path]["detections"])


def test_what_does_not_fit_is_a_form_error(env):
    client, sched, dataset = env
    jobs = set(sched.jobs)
    response = client.post("/models/images/generic.json", data=_fields(dataset, task_type="regression",
                                                                        method="custom", framework="torch",
                                                                        custom_network="def build(s, n): pass"))
    assert response.status_code == 400
    assert "train it as detection" in response.get_json()["errors"]["task_type"][0]
    response = client.post("/models/images/generic.json", data=_fields(dataset, standard_networks="lenet"))
    assert response.status_code == 400
    assert "unknown standard network" in response.get_json()["errors"]["standard_networks"][0]
    response = client.post("/models/images/generic.json", data=_fields(dataset, framework="caffe"))
    assert response.status_code == 400 and "caffe" in response.get_json()["errors"]["standard_networks"][0]
    assert set(sched.jobs) == jobs


def test_the_generic_form_offers_detection_and_its_networks(env):
    client, _, _ = env
    page = client.get("/models/images/generic/new").get_data(as_text=True)
    assert '<option value="detection">Object detection</option>' in page
    assert 'value="detectnet_small"' in page and 'value="lenet"' not in page
