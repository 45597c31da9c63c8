"""Network checks (model submit, Visualize) run users' code in a small pool of workers, each check in
a fresh worker limited in time, CPU time and memory; DIGITS_PYTHON_NETWORKS=0 runs none at all."""
import io
import threading
import time

from tests.helpers import login

LENET = {"method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": "1"}
CHECK_TIMEOUT = 8
LOOPS = "import time\ndef build(input_shape, num_classes):\n    while True:\n        time.sleep(0.1)\n"
HONEST = ("import torch\n"
          "def build(input_shape, num_classes):\n"
          "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, num_classes))\n")


def _submit(client, dataset, source, name):
    return client.post("/models/images/classification.json", data=dict(
        LENET, framework="torch", method="custom", custom_network=source, model_name=name, dataset=dataset.id))


def _network_errors(response):
    assert response.status_code == 400, response.data
    return response.get_json()["errors"]["custom_network"]


def test_two_looping_networks_delay_an_honest_check_by_at_most_the_limit(make_env):
    app, client, sched, dataset = make_env(check_timeout=CHECK_TIMEOUT, check_workers=2)
    answers = {}

    def submit(name, source):
        started = time.monotonic()
        response = _submit(login(app.test_client(), name), dataset, source, name)
        answers[name] = (response, time.monotonic() - started)

    loopers = [threading.Thread(target=submit, args=(name, LOOPS)) for name in ("loop1", "loop2")]
    for thread in loopers:
        thread.start()
    time.sleep(1.0)   # both loops hold a worker each
    submit("honest", HONEST)
    for thread in loopers:
        thread.join(timeout=3 * CHECK_TIMEOUT)
    response, seconds = answers["honest"]
    assert response.status_code == 200, response.data
    # it waited for a loop to reach the limit, then for a fresh worker (~limit + 4 s on 2 cores), not
    # for one loop after the other (~2 × limit + 6 s in a single worker)
    assert seconds < 2 * CHECK_TIMEOUT, seconds
    for name in ("loop1", "loop2"):
        assert f"not built within {CHECK_TIMEOUT} s" in _network_errors(answers[name][0])[0]
    sched.abort_job(sched.get_job(response.get_json()["id"]))


def test_a_network_that_allocates_too_much_memory_is_a_form_error(make_env):
    app, client, sched, dataset = make_env(check_memory_mb=1024)
    # 16 GiB of address space, never touched: refused under the limit, granted (lazily) without it
    source = "import numpy\ndef build(input_shape, num_classes):\n    numpy.empty(16 << 30, dtype=numpy.uint8)\n"
    message = _network_errors(_submit(client, dataset, source, "hog"))[0]
    assert message.startswith("the network needs more memory than a network check may use (1024 MB)")
    assert "MemoryError" in message


def test_a_network_that_burns_cpu_time_is_a_form_error(make_env):
    app, client, sched, dataset = make_env(check_cpu_seconds=2, check_timeout=60)
    source = "def build(input_shape, num_classes):\n    while True:\n        pass\n"
    started = time.monotonic()
    message = _network_errors(_submit(client, dataset, source, "burner"))[0]
    assert "more than the 2 s of CPU time a network check may use" in message
    assert time.monotonic() - started < 30   # stopped by its CPU time, not by the 60 s limit


def test_python_networks_turned_off(make_env):
    app, client, sched, dataset = make_env(python_networks=False)
    errors = _network_errors(_submit(client, dataset, HONEST, "python"))
    assert errors == ["Python networks are turned off on this server (DIGITS_PYTHON_NETWORKS=0): "
                      "use a standard network or a Caffe prototxt"]
    response = client.post("/models/visualize-network.json", data={"framework": "torch", "custom_network": HONEST})
    assert response.status_code == 400 and "turned off" in response.get_json()["error"]["message"]
    # our own networks, written in Python too, stay allowed
    response = client.post("/models/visualize-network.json", data=dict(LENET, framework="torch"))
    assert response.status_code == 200, response.data
    response = client.post("/pretrained_models/new.json", data={
        "job_name": "uploaded", "framework": "torch", "image_type": "1", "width": "28", "height": "28",
        "weights_file": (io.BytesIO(b"weights"), "w.pt"), "model_def_file": (io.BytesIO(HONEST.encode()), "net.py"),
        "labels_file": (io.BytesIO(b"a\nb\n"), "labels.txt")})
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("network.py: Python networks are turned off")
    assert not [j for j in sched.jobs.values() if j.category in ("models", "pretrained_models")]
