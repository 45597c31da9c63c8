"""Model form checks that must answer 400 on the right field before any job exists: GPUs, solver
limits, sweep size, names, crop size — and the augmentation fields reaching train_config.json."""
import json
import re

import pytest

from digits.pretrained_model.job import PretrainedModelJob
from digits.status import Status

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
    ({"solver_type": "RMSPROP", "rms_decay": "0"}, "rms_decay", "between 0 and 1"),
    ({"solver_type": "RMSPROP", "rms_decay": "nan"}, "rms_decay", ""),
    ({"weight_decay": "-0.001"}, "weight_decay", ""),
    ({"weight_decay": "nan"}, "weight_decay", ""),
])
def test_solver_values_training_would_refuse_are_form_errors(app, fields, field, message):
    assert message in _refused(app, field, **fields)


@pytest.mark.parametrize("fields,field,message", [
    ({"weight_decay": "inf"}, "weight_decay", "finite"),
    ({"val_interval": "inf"}, "val_interval", ""),
    ({"snapshot_interval": "inf"}, "snapshot_interval", ""),
    ({"lr_policy": "step", "lr_step_gamma": "inf"}, "lr_step_gamma", "finite"),
    ({"lr_policy": "inv", "lr_inv_power": "inf"}, "lr_inv_power", "finite"),
    ({"lr_policy": "sigmoid", "lr_sigmoid_step": "0"}, "lr_sigmoid_step", ""),
    ({"lr_policy": "exp", "lr_exp_gamma": "1e308"}, "lr_policy", "too large"),
    ({"lr_policy": "step", "lr_step_gamma": "1e308"}, "lr_policy", "too large"),
    ({"batch_size": "99999999999999999999"}, "batch_size", "at most"),
    # finite for Python, but more than the 32-bit floats training computes in hold
    ({"learning_rate": "1e39"}, "learning_rate", "32-bit"),
    ({"learning_rate": "0.01,1e308"}, "learning_rate", "32-bit"),
    ({"weight_decay": "1e308"}, "weight_decay", "32-bit"),
    ({"weight_decay": "1e39"}, "weight_decay", "32-bit"),
    ({"learning_rate": "1e38", "lr_policy": "step", "lr_step_gamma": "10"}, "lr_policy", "too large"),
])
def test_values_that_would_fail_the_job_later_are_form_errors(app, fields, field, message):
    assert message in _refused(app, field, **fields)


def test_visualize_lr_refuses_an_overflowing_policy(app):
    response = login(app.test_client()).post("/models/visualize-lr.json", data={
        "lr_policy": "exp", "learning_rate": "0.01", "lr_exp_gamma": "1e5"})
    assert response.status_code == 400 and "lr_policy" in response.get_json()["errors"]


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


def _only_dataset_refused(app, **fields):
    """A form whose fields all pass: the only error left is the dataset lookup that comes after them."""
    response = login(app.test_client()).post(URL, data=dict(LENET, **fields))
    assert response.status_code == 400, response.data
    errors = response.get_json()["errors"]
    assert list(errors) == ["dataset"], errors


@pytest.mark.parametrize("fields", [
    {"lr_policy": "step", "lr_multistep_values": "abc", "lr_sigmoid_step": "500", "lr_exp_gamma": "x"},
    {"lr_policy": "multistep", "lr_step_size": "abc", "lr_multistep_values": "20,50"},
    {"lr_policy": "fixed", "lr_step_size": "-1", "lr_poly_power": "-3", "lr_inv_power": "nan"},
    {"solver_type": "SGD", "rms_decay": "0"},
    {"solver_type": "ADAM", "rms_decay": "abc"},
    {"aug_hsv_h": "9", "aug_hsv_s": "abc"},
    {"aug_hsv_use": "0", "aug_hsv_v": "-1"},
], ids=["multistep-values-under-step", "step-size-under-multistep", "under-fixed", "rms-decay-under-sgd",
        "rms-decay-under-adam", "hsv-values-with-hsv-off", "hsv-off-as-zero"])
def test_fields_of_policies_and_solvers_not_chosen_do_not_block(app, fields):
    _only_dataset_refused(app, **fields)


@pytest.mark.parametrize("fields,field,message", [
    ({"lr_policy": "step", "lr_step_size": "abc"}, "lr_step_size", ""),
    ({"lr_policy": "multistep", "lr_multistep_values": "abc"}, "lr_multistep_values", "comma-separated numbers"),
    ({"lr_policy": "multistep", "lr_multistep_values": "50,20"}, "lr_multistep_values", "must increase"),
    ({"lr_policy": "multistep", "lr_multistep_values": "50,50"}, "lr_multistep_values", "must increase"),
    ({"lr_policy": "multistep", "lr_multistep_values": "50,100"}, "lr_multistep_values", "between 0 and 100"),
    ({"lr_policy": "multistep", "lr_multistep_values": "0,50"}, "lr_multistep_values", ""),
    ({"solver_type": "RMSPROP", "rms_decay": "abc"}, "rms_decay", ""),
    ({"aug_hsv_use": "1", "aug_hsv_h": "9"}, "aug_hsv_h", ""),
])
def test_fields_of_the_chosen_policy_and_solver_are_checked(app, fields, field, message):
    assert message in _refused(app, field, **fields)


def test_visualize_lr_ignores_other_policies_and_explains_step_values(app):
    client = login(app.test_client())
    response = client.post("/models/visualize-lr.json", data={
        "lr_policy": "step", "learning_rate": "0.1", "lr_step_size": "50", "lr_multistep_values": "abc"})
    assert response.status_code == 200, response.data
    rates = response.get_json()["points"]["learning_rate"]
    assert rates[0] == pytest.approx(0.1) and any(r == pytest.approx(0.01) for r in rates)   # step at 50%
    response = client.post("/models/visualize-lr.json", data={
        "lr_policy": "multistep", "learning_rate": "0.1", "lr_multistep_values": "50,20", "lr_step_size": "abc"})
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert list(errors) == ["lr_multistep_values"] and "must increase" in errors["lr_multistep_values"][0]


def _page(app):
    response = login(app.test_client()).get("/models/images/classification/new")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_page_shows_only_the_chosen_solver_policy_and_hsv_fields(app):
    page = _page(app)
    # hidden before any script runs: RMS decay (solver SGD), the HSV values (off), other policies' fields
    assert '<div class="solver-params" data-solver="RMSPROP" hidden>' in page
    assert '<div class="row" id="hsv-params" hidden>' in page
    assert '<div class="lr-params" data-policy="step">' in page
    assert '<div class="lr-params" data-policy="multistep" hidden>' in page
    assert 'id="lr-preview-error"' in page   # where Visualize LR's messages go


def _pretrained_job(app, name, status=Status.DONE):
    sched = app.extensions["digits"]["scheduler"]
    job = PretrainedModelJob(sched.jobs_dir, name, "fred")
    job.set_status(status)
    sched.jobs[job.id] = job
    return job


def test_pretrained_method_offers_the_pretrained_models(app):
    assert 'id="no-pretrained-note"' in _page(app)
    done, broken = _pretrained_job(app, "cats-v1"), _pretrained_job(app, "half", Status.ERROR)
    page = _page(app)
    assert 'id="no-pretrained-note"' not in page
    select = re.search(r'<select[^>]*id="pretrained_networks"[^>]*>(.*?)</select>', page, re.S)
    assert select, "no pretrained model pick list"
    assert f'value="{done.id}"' in select.group(1) and "cats-v1" in select.group(1)
    assert broken.id not in select.group(1)
    # REST clients still post an id; one that names no pretrained model is an error on that field
    response = login(app.test_client()).post(URL, data=dict(LENET, method="pretrained", pretrained_networks=done.id))
    assert list(response.get_json()["errors"]) == ["dataset"]


def test_unknown_pretrained_id_is_a_field_error(env):
    app, client, sched, dataset = env
    response = client.post(URL, data=dict(LENET, dataset=dataset.id, method="pretrained", pretrained_networks="nope"))
    assert response.status_code == 400
    assert "no pretrained model with id 'nope'" in response.get_json()["errors"]["pretrained_networks"][0]
