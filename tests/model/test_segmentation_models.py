"""Segmentation models through the REST API: a dataset of shapes on noise (the image-segmentation
extension), then POST /models/images/generic.json with task_type=segmentation and a standard network;
unet_small learns on CPU (mean IoU on images it never saw), the model page charts pixel accuracy, mIoU
and per-class IoU. What does not fit is a form error, and no job is made."""
import pytest

from tests.helpers import wait_status
from tests.model.rest_kit import created_model, made_dataset, standard_model_fields, trained_model
from tests.segmentation_data import make_segmentation_dataset

DATASET_URL = "/datasets/generic/create/image-segmentation.json"


@pytest.fixture
def env(make_app, tmp_path):
    train = make_segmentation_dataset(str(tmp_path / "train"), 96, seed=1)
    val = make_segmentation_dataset(str(tmp_path / "val"), 24, seed=2)
    return made_dataset(make_app(allowed_roots=[str(tmp_path)]), DATASET_URL, {
        "dataset_name": "shapes", "feature_folder": train.features, "label_folder": train.labels,
        "folder_pct_val": "0", "has_val_folder": "1", "validation_feature_folder": val.features,
        "validation_label_folder": val.labels, "class_labels_file": train.classes_file, "colormap_method": "label",
        "channel_conversion": "RGB"})


def _fields(dataset, **more):
    return standard_model_fields(dataset, **{"task_type": "segmentation", "standard_networks": "unet_small",
                                             "train_epochs": "8", "learning_rate": "0.01", "aug_flip": "fliplr",
                                             **more})


def test_a_unet_small_model_learns_from_the_rest_api(env):
    client, sched, dataset = env
    model, details = trained_model(client, sched, _fields(dataset))
    assert model.task_type == "segmentation" and model.extra["framework"] == "torch"
    for key in ("train/loss", "val/loss", "val/pixel_accuracy", "val/mIoU", "val/IoU_0", "val/IoU_1", "val/IoU_2"):
        assert details["metrics"][key], key
    assert len(details["results"]["val_iou_per_class"]) == 3
    assert details["metrics"]["val/mIoU"][-1][1] >= 70.0, details["metrics"]["val/mIoU"]   # on images it never saw
    page = client.get(f"/models/{model.id}").get_data(as_text=True)
    assert 'data-task-type="segmentation"' in page and "Loss, pixel accuracy and IoU" in page
    assert "data-labels=" in page and "Validation mean IoU" in page
    table = page[page.index('id="val-iou-per-class"'):]
    assert table.index("background") < table.index("circle") < table.index("rectangle") < table.index("</table>")


def test_what_does_not_fit_is_a_form_error(env):
    client, sched, dataset = env
    jobs = set(sched.jobs)

    def errors(**fields):
        response = client.post("/models/images/generic.json", data=_fields(dataset, **fields))
        assert response.status_code == 400, response.data
        return response.get_json()["errors"]

    assert "train it as segmentation" in errors(task_type="regression", method="custom", framework="torch",
                                                 custom_network="def build(s, n): pass")["task_type"][0]
    assert "unknown standard network" in errors(standard_networks="detectnet_small")["standard_networks"][0]
    assert "3 classes" in errors(class_weights="1, 2")["class_weights"][0]
    assert "numbers expected" in errors(class_weights="1, x, 2")["class_weights"][0]
    undeclared = "import torch.nn as nn\ndef build(s, n):\n    return nn.Conv2d(s[0], n, 1)\n"   # no TASK_TYPE
    message = errors(method="custom", framework="torch", custom_network=undeclared)["custom_network"][0]
    assert 'TASK_TYPE = "segmentation"' in message
    assert set(sched.jobs) == jobs


def test_fcn_alexnet_is_caffe_and_class_weights_reach_the_train_config(env):
    client, sched, dataset = env
    model = created_model(client, sched, _fields(dataset, standard_networks="fcn_alexnet", class_weights="1, 2, 2",
                                                 train_epochs="1"))
    assert model.extra["framework"] == "caffe" and 'type: "Deconvolution"' in model.network_text()
    assert model.train_config()["class_weights"] == [1.0, 2.0, 2.0]
    assert client.post(f"/models/{model.id}/abort.json").status_code == 200   # no need to train it
    assert wait_status(model, ("Aborted", "Done", "Error"), timeout=60) in ("Aborted", "Done")


def test_the_generic_form_offers_segmentation_and_its_networks(env):
    client, _, _ = env
    page = client.get("/models/images/generic/new").get_data(as_text=True)
    assert '<option value="segmentation">Semantic segmentation</option>' in page
    assert 'value="unet_small"' in page and 'value="fcn_alexnet"' in page and 'id="class_weights"' in page
    assert '"fcn_alexnet": {"framework": "caffe", "task_type": "segmentation"}' in page
