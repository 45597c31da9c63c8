"""The best epoch through the web app: the form's early stopping fields and their errors, a stopped-early
model that is Done with the reason shown, its best snapshot in /models/<id>.json, on the page, and the
default of inference and downloads; a model without best info keeps using its newest snapshot."""
import os
import re

from tests.helpers import wait_status

# LeNet whose learning rate falls to 0 after the first iteration (step policy, gamma 0): a plateau.
PLATEAU = {"method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": "6",
           "lr_policy": "step", "lr_step_size": "1", "lr_step_gamma": "0", "momentum": "0", "random_seed": "1"}


def _post(client, url="/models/images/classification.json", **fields):
    return client.post(url, data=fields)


def test_bad_early_stopping_input_lists_each_problem(env):
    app, client, sched, dataset = env
    for patience in ("0", "-1"):
        response = _post(client, **dict(PLATEAU, model_name="m", dataset=dataset.id, early_stopping_patience=patience,
                                        best_metric="mAP", snapshots_to_keep="0"))
        assert response.status_code == 400
        errors = response.get_json()["errors"]
        assert "early stopping patience must be at least 1" in errors["early_stopping_patience"][0]
        assert errors["best_metric"] == ["best_metric 'mAP' is not a metric of classification models; use one of: "
                                         "loss, accuracy, accuracy_top5"]
        assert "snapshots to keep must be at least 1" in errors["snapshots_to_keep"][0]
    # a generic model's metrics are its task type's
    response = _post(client, "/models/images/generic.json", **dict(PLATEAU, model_name="m", dataset=dataset.id,
                                                                  task_type="segmentation", best_metric="mAP"))
    assert response.status_code == 400
    assert "use one of: loss, pixel_accuracy, mIoU" in response.get_json()["errors"]["best_metric"][0]
    assert not [j for j in sched.jobs.values() if j.category == "models"]


def test_stopped_early_model_defaults_to_its_best_snapshot(env, tmp_path):
    app, client, sched, dataset = env
    response = _post(client, **dict(PLATEAU, model_name="plateau", dataset=dataset.id, early_stopping_patience="2",
                                    best_metric="val_loss", snapshots_to_keep="1"))
    assert response.status_code == 200, response.data
    job = sched.get_job(response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=180) == "Done", job.error()
    assert job.train_config()["best_metric"] == "loss" and job.train_config()["early_stopping_patience"] == 2

    details = client.get(f"/models/{job.id}.json").get_json()
    assert details["status"] == "Done" and details["snapshots"] == [1, 3]   # the best kept, the rest pruned
    assert details["task_type"] == "classification"
    assert (details["best_epoch"], details["best_metric"], details["stopped_early"]) == (1, "loss", True)
    assert details["best_value"] == details["metrics"]["val/loss"][0][1]
    assert details["stop_reason"] == "stopped early at epoch 3: no improvement of val loss for 2 validations"

    page = client.get(f"/models/{job.id}").get_data(as_text=True)
    assert "Training stopped early at epoch 3: no improvement of val loss for 2 validations." in page
    assert f'id="btn-download-best" href="/models/{job.id}/download?epoch=1"' in page
    assert '<option value="1" selected>Epoch #1 (best)</option>' in page and 'id="best-epoch">1 (val loss' in page

    image = next(os.path.join(root, f) for root, _, files in os.walk(str(tmp_path / "digits")) for f in files)
    url = "/models/images/classification/classify_one.json"
    assert client.post(url, data={"job_id": job.id, "image_path": image}).get_json()["snapshot_epoch"] == 1
    latest = client.post(url, data={"job_id": job.id, "image_path": image, "snapshot_epoch": "latest"})
    assert latest.get_json()["snapshot_epoch"] == 3
    digits_latest = client.get(f"/models/{job.id}/download.tar?epoch=-1")   # DIGITS' -1: the newest
    assert digits_latest.status_code == 200 and "_epoch_3.tar" in digits_latest.headers["Content-Disposition"]
    assert client.post(url, data={"job_id": job.id, "image_path": image, "snapshot_epoch": "best"}
                       ).get_json()["snapshot_epoch"] == 1
    download = client.get(f"/models/{job.id}/download.tar")
    assert download.status_code == 200
    assert re.search(r"_epoch_1\.tar", download.headers["Content-Disposition"])

    # a model trained before best epochs existed (no best info) goes on using its newest snapshot
    job.train_task.results = {k: v for k, v in job.train_task.results.items() if not k.startswith("best_")}
    assert client.post(url, data={"job_id": job.id, "image_path": image}).get_json()["snapshot_epoch"] == 3
    response = client.post(url, data={"job_id": job.id, "image_path": image, "snapshot_epoch": "best"})
    assert response.status_code == 400 and "has no best snapshot" in response.get_json()["error"]["message"]
    details = client.get(f"/models/{job.id}.json").get_json()
    assert details["best_epoch"] is None and "btn-download-best" not in client.get(f"/models/{job.id}").get_data(
        as_text=True)
