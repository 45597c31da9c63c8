"""Model form and REST: validation, sweeps, network checks, previews, clone, job errors."""

import pytest

from digits import device
from tests.helpers import login, wait_for, wait_status

LENET = {"method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": "1"}


def _post(client, **fields):
    return client.post("/models/images/classification.json", data=fields)


@pytest.mark.parametrize("field,value,message", [
    ("batch_size", "0", "batch size"), ("learning_rate", "0", "learning rate"),
    ("learning_rate", "-0.1", "learning rate"), ("learning_rate", "abc", "comma-separated"),
    ("train_epochs", "0", ""), ("model_name", "", "required")])
def test_bad_solver_input_is_a_form_error(env, field, value, message):
    app, client, sched, dataset = env
    data = dict(LENET, model_name="m", dataset=dataset.id)
    data[field] = value
    response = _post(client, **data)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert field in errors and message in " ".join(errors[field])
    assert not [j for j in sched.jobs.values() if j.category == "models"]


def test_unknown_or_failed_dataset_is_refused(env):
    app, client, sched, dataset = env
    response = _post(client, **dict(LENET, model_name="m", dataset="nope"))
    assert response.status_code == 400 and "dataset" in response.get_json()["errors"]
    dataset.set_status("Error")
    response = _post(client, **dict(LENET, model_name="m", dataset=dataset.id))
    assert response.status_code == 400 and "Error" in response.get_json()["errors"]["dataset"][0]


def test_network_that_does_not_fit_the_images_is_a_form_error(env):
    app, client, sched, dataset = env
    response = _post(client, **dict(LENET, model_name="m", dataset=dataset.id, standard_networks="alexnet"))
    assert response.status_code == 400
    assert response.get_json()["errors"]["standard_networks"]


def test_prototxt_syntax_error_names_the_line(env):
    app, client, sched, dataset = env
    text = 'layer {\n  name: "ip"\n  type: "InnerProduct"\n  bottom: "data"\n  top: "ip"\n  inner_product_param { num_output: }\n}\n'
    response = _post(client, **dict(LENET, method="custom", custom_network=text, model_name="m", dataset=dataset.id))
    assert response.status_code == 400
    assert "line" in response.get_json()["errors"]["custom_network"][0]


def test_sweep_creates_one_job_per_combination(env):
    app, client, sched, dataset = env
    response = _post(client, **dict(LENET, model_name="sweep", dataset=dataset.id, batch_size="8,16",
                                    learning_rate="0.01,0.02,0.05"))
    assert response.status_code == 200, response.data
    jobs = response.get_json()["jobs"]
    assert len(jobs) == 6
    groups = {sched.get_job(j["id"]).group for j in jobs}
    assert groups == {"sweep"}
    configs = {(sched.get_job(j["id"]).train_config()["batch_size"], sched.get_job(j["id"]).train_config()["learning_rate"])
               for j in jobs}
    assert configs == {(b, r) for b in (8, 16) for r in (0.01, 0.02, 0.05)}
    for j in jobs:
        sched.abort_job(sched.get_job(j["id"]))


@pytest.mark.parametrize("body,message", [
    ("    raise RuntimeError('my network is broken')\n", "my network is broken"),
    # kills the process that builds it: said plainly, without the worker's unrelated stderr
    ("    import os\n    os._exit(3)\n", "the network's code ended the process (exit code 3)"),
], ids=["raises", "kills-its-process"])
def test_python_network_that_fails_to_build_is_a_form_error(env, body, message):
    app, client, sched, dataset = env
    source = "def build(input_shape, num_classes):\n" + body
    response = _post(client, **dict(LENET, framework="torch", method="custom", custom_network=source,
                                    model_name="broken", dataset=dataset.id))
    # the check at submit time already builds it (in the inference worker, never in the server)
    assert response.status_code == 400
    assert response.get_json()["errors"]["custom_network"][0].endswith(message)
    assert not [j for j in sched.jobs.values() if j.category == "models"]
    response = client.post("/models/visualize-network.json", data=dict(LENET, dataset=dataset.id))
    assert response.status_code == 200 and response.get_json()["graph"]["nodes"]


def test_network_error_found_only_in_training_is_a_job_error(env):
    app, client, sched, dataset = env
    # builds fine for the check (CPU, eval), fails once training calls it with a batch > 2
    source = ("import torch\n"
              "class Net(torch.nn.Module):\n"
              "    def __init__(self):\n"
              "        super().__init__()\n"
              "        self.fc = torch.nn.Linear(784, 10)\n"
              "    def forward(self, x):\n"
              "        if self.training and x.shape[0] > 2:\n"
              "            raise ValueError('exploded during training')\n"
              "        return self.fc(x.flatten(1))\n"
              "def build(input_shape, num_classes):\n"
              "    return Net()\n")
    response = _post(client, **dict(LENET, framework="torch", method="custom", custom_network=source,
                                    model_name="late", dataset=dataset.id, batch_size="4"))
    assert response.status_code == 200, response.data
    job = sched.get_job(response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Error"
    # the job's error says where, not only what (the full traceback is in the task log)
    assert "ValueError: exploded during training (at network.py line 8, in forward)" in job.error()
    assert "raise ValueError('exploded during training')" in job.error()


def test_model_trains_and_lists_snapshots_and_clone_prefills(env):
    app, client, sched, dataset = env
    response = _post(client, **dict(LENET, model_name="tiny-lenet", dataset=dataset.id, train_epochs="2",
                                    random_seed="3"))
    job = sched.get_job(response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=180) == "Done", job.error()
    details = client.get(f"/models/{job.id}.json").get_json()
    assert details["snapshots"] == [1, 2]
    assert [p[0] for p in details["metrics"]["val/accuracy"]] == [1, 2]
    page = client.get(f"/models/{job.id}")
    assert page.status_code == 200 and b"combined-chart" in page.data
    clone = client.get(f"/clone/{job.id}", follow_redirects=True)
    assert clone.status_code == 200 and b"tiny-lenet (clone)" in clone.data and b'value="3"' in clone.data
    # dataset in use by the model cannot be deleted
    response = client.delete(f"/datasets/{dataset.id}")
    assert response.status_code == 403 and "tiny-lenet" in response.get_json()["error"]["message"]


def test_previous_network_starts_from_its_snapshot(env):
    import torch
    app, client, sched, dataset = env
    response = _post(client, **dict(LENET, model_name="first", dataset=dataset.id, random_seed="1"))
    first = sched.get_job(response.get_json()["id"])
    assert wait_status(first, ("Done", "Error"), timeout=180) == "Done", first.error()
    fields = dict(LENET, method="previous", previous_networks=first.id, model_name="second", dataset=dataset.id)
    response = _post(client, **dict(fields, previous_network_snapshot="7"))
    assert response.status_code == 400
    assert "no snapshot for epoch 7 (it has: 1)" in response.get_json()["errors"]["previous_network_snapshot"][0]
    # a rate so small that the weights after one epoch are still the ones loaded
    response = _post(client, **dict(fields, previous_network_snapshot="1", learning_rate="1e-12", random_seed="2"))
    assert response.status_code == 200, response.data
    second = sched.get_job(response.get_json()["id"])
    assert wait_status(second, ("Done", "Error"), timeout=180) == "Done", second.error()
    results = client.get(f"/models/{second.id}.json").get_json()["results"]
    assert results["pretrained_loaded_layers"] == [f"layers.{n}" for n in ("conv1", "conv2", "ip1", "ip2")]
    assert results["pretrained_fresh_layers"] == []
    before = torch.load(first.snapshot_path(1), weights_only=True)["model"]
    after = torch.load(second.snapshot_path(1), weights_only=True)["model"]
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-6)


def test_gpu_panel_and_utilization_updates_for_a_gpu_job(make_env, monkeypatch):
    fake = {"name": "Fake GPU", "memory_total": 8 << 30, "memory_used": 1 << 30, "utilization": 42,
            "memory_utilization": 7, "temperature": 61}
    monkeypatch.setattr(device, "all_gpus", lambda indices=None: [dict(fake, index=i) for i in indices or []])
    app, client, sched, dataset = make_env(gpus=[0, 1])   # the server believes it has two GPUs
    socketio = app.extensions["digits"]["socketio"]
    response = _post(client, **dict(LENET, model_name="on-gpu", dataset=dataset.id, select_gpus="1",
                                    train_epochs="1000", snapshot_interval="1000", val_interval="1000"))
    assert response.status_code == 200, response.data
    job = sched.get_job(response.get_json()["id"])
    assert job.train_task.resources == {"gpu_ids": [1]}
    watcher = socketio.test_client(app, namespace="/jobs")
    watcher.emit("join", {"room": job.id}, namespace="/jobs")
    updates = []

    def gpu_update():   # the scheduler reports a running GPU task's figures every few seconds
        updates.extend(e["args"][0] for e in watcher.get_received("/jobs")
                       if e["name"] == "task update" and e["args"][0]["update"] == "gpu_utilization")
        return updates

    wait_for(gpu_update, timeout=60, message="a gpu_utilization task update")
    assert updates[0]["job_id"] == job.id and updates[0]["task"] == "train"
    assert updates[0]["gpus"] == [dict(fake, index=1)]
    page = client.get(f"/models/{job.id}").data
    assert b'id="gpu-panel"' in page and b'id="gpu-panel" hidden' not in page and b'id="gpu-stats"' in page
    assert b"GPU 1" in page
    watcher.disconnect(namespace="/jobs")
    sched.abort_job(job)
    assert wait_status(job, ("Aborted", "Done", "Error")) == "Aborted"


def test_previews(env):
    app, client, sched, dataset = env
    response = client.post("/models/visualize-network.json", data=dict(LENET, dataset=dataset.id))
    assert response.status_code == 200
    data = response.get_json()
    assert data["svg"].startswith("<svg") and any(n["type"] == "Convolution" for n in data["graph"]["nodes"])
    response = client.post("/models/visualize-lr.json", data={"lr_policy": "step", "learning_rate": "0.1",
                                                              "lr_step_size": "50", "lr_step_gamma": "0.1"})
    rates = response.get_json()["points"]["learning_rate"]
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.001)
    response = client.post("/models/visualize-lr.json", data={"lr_policy": "step", "learning_rate": "-1"})
    assert response.status_code == 400
    text = client.get("/models/networks/lenet.json?framework=caffe").get_json()["text"]
    assert 'type: "Convolution"' in text
    assert client.get("/models/networks/nope.json").status_code == 404


def test_visualize_draws_the_posted_network_without_a_method_field(env):
    """DIGITS' Visualize button posts framework + custom_network only."""
    app, client, sched, dataset = env
    text = client.get("/models/networks/lenet.json?framework=caffe").get_json()["text"]
    renamed = text.replace('name: "ip2"', 'name: "ip2_new"').replace('top: "ip2"', 'top: "ip2_new"') \
                  .replace('bottom: "ip2"', 'bottom: "ip2_new"')
    response = client.post("/models/visualize-network.json", data={"framework": "caffe", "custom_network": renamed})
    assert response.status_code == 200
    assert "ip2_new" in {n["label"] for n in response.get_json()["graph"]["nodes"]}
    response = client.post("/models/visualize-network.json", data={"framework": "caffe",
                                                                    "custom_network": "layer { garbage"})
    assert response.status_code == 400


def test_python_network_that_never_returns_is_a_form_error_and_classify_goes_on(env, monkeypatch):
    from digits.model.images.classification import views
    monkeypatch.setattr(views, "NETWORK_CHECK_TIMEOUT", 3)
    app, client, sched, dataset = env
    source = "import time\ndef build(input_shape, num_classes):\n    while True:\n        time.sleep(0.1)\n"
    response = _post(client, **dict(LENET, framework="torch", method="custom", custom_network=source,
                                    model_name="loops", dataset=dataset.id))
    assert response.status_code == 400
    assert "not built within 3 s" in response.get_json()["errors"]["custom_network"][0]
    from digits.inference.service import get_service
    assert get_service("checks") is not get_service()   # a looping network holds only the checks' worker


def test_new_model_page_renders(env):
    app, client, sched, dataset = env
    page = client.get("/models/images/classification/new")
    assert page.status_code == 200 and dataset.name.encode() in page.data and b"LeNet" in page.data
    assert login(app.test_client(), "bob").get("/models/images/classification/new").status_code == 200
    anon = app.test_client().get("/models/images/classification/new")
    assert anon.status_code == 302 and "/login" in anon.headers["Location"]
