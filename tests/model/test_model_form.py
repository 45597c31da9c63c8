"""Model form checks that must answer 400 on the right field before any job exists: GPUs, solver
limits, sweep size, names, crop size — and the augmentation fields reaching train_config.json."""
import json

import pytest

from tests.helpers import login

URL = "/models/images/classification.json"
LENET = {"method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": "1",
         "model_name": "m", "dataset": "none-yet"}   # field checks come before the dataset lookup


def _refused(app, field, **fields):
    """The form's errors, after checking it is a 400 naming `field` and no model job was made."""
    response = login(app.test_client()).post(URL, data=dict(LENET, **fields))
    assert response.status_code == 400, response.data
    errors = response.get_json()["errors"]
    assert field in errors, errors
    assert not [j for j in app.extensions["digits"]["scheduler"].jobs.values() if j.category == "models"]
    return " ".join(errors[field])


@pytest.mark.parametrize("gpus,fields,field,message", [
    ([0, 1], {"select_gpus": "abc"}, "select_gpus", "'abc' is not a GPU number"),
    ([0, 1], {"select_gpus": ["1", "5"]}, "select_gpus", "no GPU 5 on this server"),
    ([0, 1], {"select_gpus": "-1"}, "select_gpus", "no GPU -1"),
    ([0, 1], {"select_gpu_count": "3"}, "select_gpu_count", "has 2 GPU(s), 3 requested"),
    ([0, 1], {"select_gpu_count": "0"}, "select_gpu_count", ""),
    ([], {"select_gpus": "0"}, "select_gpus", "this server has no GPU"),
], ids=["not-a-number", "unknown-gpu", "negative", "too-many", "zero", "cpu-only-server"])
def test_gpu_choice_is_checked_against_the_server(make_app, gpus, fields, field, message):
    assert message in _refused(make_app(gpus=gpus), field, **fields)


@pytest.mark.parametrize("fields,field,message", [
    ({"learning_rate": "nan"}, "learning_rate", "finite"),
    ({"learning_rate": "inf"}, "learning_rate", "finite"),
    ({"learning_rate": "0.01,-inf"}, "learning_rate", "finite"),
    ({"momentum": "1"}, "momentum", "momentum must be in [0, 1)"),
    ({"momentum": "1.5"}, "momentum", ""),
    ({"momentum": "-0.1"}, "momentum", ""),
    ({"solver_type": "NESTEROV", "momentum": "0"}, "momentum", "NESTEROV"),
    ({"solver_type": "RMSPROP", "rms_decay": "1"}, "rms_decay", "between 0 and 1"),
    ({"rms_decay": "0"}, "rms_decay", "between 0 and 1"),
    ({"rms_decay": "nan"}, "rms_decay", ""),
    ({"weight_decay": "-0.001"}, "weight_decay", ""),
    ({"weight_decay": "nan"}, "weight_decay", ""),
])
def test_solver_values_training_would_refuse_are_form_errors(app, fields, field, message):
    assert message in _refused(app, field, **fields)


def test_sweep_is_capped_and_the_error_names_the_count(app):
    rates = ",".join(f"0.0{i + 1}" for i in range(9)) + ",0.1"
    assert "would create 110 jobs (11 batch sizes × 10 learning rates); at most 100" in _refused(
        app, "batch_size", batch_size=",".join(str(b) for b in range(1, 12)), learning_rate=rates)
    rates = ",".join(f"{0.001 * (i + 1):g}" for i in range(101))
    assert "would create 101 jobs" in _refused(app, "learning_rate", learning_rate=rates)


@pytest.mark.parametrize("field", ["model_name", "group_name"])
def test_names_are_limited_in_length(app, field):
    assert "200" in _refused(app, field, **{field: "x" * 201})


def test_crop_size_larger_than_the_images_is_a_crop_size_error(env):
    app, client, sched, dataset = env
    response = client.post(URL, data=dict(LENET, dataset=dataset.id, crop_size="64"))
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert "larger than the images (28×28)" in errors["crop_size"][0] and "standard_networks" not in errors


def test_accepted_form_stores_augmentation_and_ignores_gpu_count_on_cpu(env):
    app, client, sched, dataset = env
    fields = {"aug_flip": "fliplrud", "aug_quad_rot": "rot90", "aug_rot": "15", "aug_scale": "0.1",
              "aug_noise": "0.02", "aug_contrast": "0.5", "aug_whitening": "y", "aug_hsv_use": "y",
              "aug_hsv_h": "0.1", "aug_hsv_s": "0.2", "aug_hsv_v": "0.3", "select_gpu_count": "4",
              "solver_type": "RMSPROP", "rms_decay": "0.9", "momentum": "0", "weight_decay": "2"}
    response = client.post(URL, data=dict(LENET, dataset=dataset.id, **fields))
    assert response.status_code == 200, response.data
    job = sched.get_job(response.get_json()["id"])
    sched.abort_job(job)
    with open(job.path("train_config.json")) as f:
        config = json.load(f)
    assert config["augmentation"] == {"flip": "fliplrud", "quad_rot": "rot90", "rot": 15, "scale": 0.1,
                                      "noise": 0.02, "contrast": 0.5, "whitening": True, "hsv_use": True,
                                      "hsv_h": 0.1, "hsv_s": 0.2, "hsv_v": 0.3}
    assert (config["solver_type"], config["rms_decay"], config["momentum"], config["weight_decay"]) == \
        ("RMSPROP", 0.9, 0, 2)
    # a CPU-only server trains in one CPU slot whatever count was asked for (never waits for GPUs)
    assert job.train_task.resources == {"gpu": 1}
