"""Parallel inference (DIGITS_INFERENCE_WORKERS): two workers serve two models at once, a model's
requests go to the worker that has it warm, a request finding every worker busy gets a 503 after the
queue timeout while fast requests keep being served, a crashed worker is replaced.

The models' network sleeps SLEEP seconds in a forward on an image with no black pixel (SLOW_IMAGE),
and returns at once on one with a black pixel (FAST_IMAGE) and on the build's dummy input (zeros):
request times are sleep-dominated, so the timings hold on a busy 2-core machine.
"""
import io
import os
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import requests
import torch
from PIL import Image

from digits.inference import service as service_module
from digits.inference.errors import InferenceError
from digits.inference.pool import Worker, model_key, worker_threads
from digits.model import preprocess_spec
from tests.helpers import ROOT, Server, login, wait_for
from tests.inference.kit import SIZE

SLEEP = 1.0
SLEEPY_NET = f'''
import time
import torch.nn as nn


class Sleepy(nn.Module):
    def __init__(self, inputs, num_classes):
        super().__init__()
        self.fc = nn.Linear(inputs, num_classes)

    def forward(self, x):
        if bool(x.min() > 0):   # an image without a black pixel: a slow request
            time.sleep({SLEEP})
        return self.fc(x.flatten(1))


def build(input_shape, num_classes):
    c, h, w = input_shape
    return Sleepy(c * h * w, num_classes)
'''
URL = "/models/images/classification"


def _weights(seed):
    torch.manual_seed(seed)
    return {"fc.weight": torch.randn(3, 3 * SIZE * SIZE) * 0.01, "fc.bias": torch.zeros(3)}


def _weights_bytes(seed):
    buf = io.BytesIO()
    torch.save(_weights(seed), buf)
    return buf.getvalue()


def _write_model(folder, seed):
    os.makedirs(folder)
    with open(os.path.join(folder, "network.py"), "w") as f:
        f.write(SLEEPY_NET)
    torch.save(_weights(seed), os.path.join(folder, "weights.pt"))
    preprocess_spec.write(folder, {"channels": 3, "height": SIZE, "width": SIZE, "resize_mode": "squash",
                                   "crop_size": None, "mean": "none", "mean_file": None, "scale": 1 / 255,
                                   "whitening": False, "channel_order": "RGB", "num_classes": 3})
    return {"dir": folder, "framework": "torch", "network_file": "network.py",
            "weights": os.path.join(folder, "weights.pt")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("parallel"))
    slow = np.full((SIZE, SIZE, 3), 200, np.uint8)
    fast = slow.copy()
    fast[0, 0] = 0
    paths = {}
    for name, array in (("slow", slow), ("fast", fast)):
        paths[name] = os.path.join(root, f"{name}.png")
        Image.fromarray(array, "RGB").save(paths[name])
    return root, {"a": _write_model(os.path.join(root, "a"), 1), "b": _write_model(os.path.join(root, "b"), 2)}, paths


@pytest.fixture(scope="module")
def pool():
    """The process's 2-worker inference pool: the one get_service() gives an app configured with 2."""
    pool = service_module.get_service("inference", workers=2)
    yield pool
    pool.close()


def classify(pool, spec, image):
    return pool.call("classify", model=spec, images=[image], topk=1, thumbnails=False)


def in_parallel(*calls):
    """Runs the calls in threads; (seconds for all of them, their results or exceptions)."""
    results = [None] * len(calls)

    def run(i):
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return time.monotonic() - started, results


def loads(pool):
    return [w.service.call("ping")["loads"] for w in pool.workers]


def test_two_workers_serve_two_models_concurrently(pool, files):
    _, specs, images = files
    _, first = in_parallel(lambda: classify(pool, specs["a"], images["fast"]),
                           lambda: classify(pool, specs["b"], images["fast"]))
    assert all(isinstance(r, dict) for r in first), first
    assert loads(pool) == [1, 1]   # one model each: the second request did not wait for the first's worker
    started = time.monotonic()
    classify(pool, specs["a"], images["slow"])
    one = time.monotonic() - started
    assert one >= SLEEP
    both, results = in_parallel(lambda: classify(pool, specs["a"], images["slow"]),
                                lambda: classify(pool, specs["b"], images["slow"]))
    assert all(isinstance(r, dict) and "top" in r["results"][0] for r in results), results
    assert both < 1.6 * one, (both, one)
    assert loads(pool) == [1, 1]   # each went to the worker that had its model warm


def test_a_model_goes_to_the_worker_that_has_it_warm(pool, files):
    _, specs, images = files
    before = loads(pool)
    for key in ("b", "a", "b", "b", "a"):   # both workers free each time: the first free one is not enough
        classify(pool, specs[key], images["fast"])
    assert loads(pool) == before
    warm = {key: [w.index for w in pool.workers if w.has(model_key(spec))] for key, spec in specs.items()}
    assert len(warm["a"]) == 1 and len(warm["b"]) == 1 and warm["a"] != warm["b"]
    threads = int(os.environ.get("DIGITS_INFERENCE_THREADS") or worker_threads(2))   # the cores shared out
    assert [w.service.call("ping")["threads"] for w in pool.workers] == [threads, threads]


def test_the_pool_mirrors_the_worker_cache_evicting_the_least_recently_used():
    worker = Worker(0, types.SimpleNamespace(pid=1), size=2)   # a running worker's service, as far as it goes
    keys = [model_key({"dir": f"/m/{n}", "weights": f"/m/{n}/w.pt"}) for n in "abc"]
    for key in (keys[0], keys[1], keys[0], keys[2]):   # b is the least recently used when c comes
        worker.used(key)
    assert list(worker.models) == [keys[0], keys[2]]
    assert worker.has(keys[2]) and not worker.has(keys[1])


def test_a_request_finding_every_worker_busy_gets_a_503_while_fast_ones_are_served(pool, files, monkeypatch):
    _, specs, images = files
    monkeypatch.setattr(service_module, "QUEUE_TIMEOUT", 0.5)
    slow = threading.Thread(target=lambda: pool.call("ping", sleep=4))
    slow.start()
    try:
        wait_for(lambda: pool.workers[0].busy, interval=0.02, message="the slow request")
        for key in ("a", "b"):   # the other worker answers while the slow request holds the first
            assert "top" in classify(pool, specs[key], images["fast"])["results"][0]
        assert slow.is_alive() and pool.workers[0].busy
        other = threading.Thread(target=lambda: pool.call("ping", sleep=3))
        other.start()
        wait_for(lambda: all(w.busy for w in pool.workers), interval=0.02, message="both busy")
        started = time.monotonic()
        with pytest.raises(InferenceError) as busy:
            classify(pool, specs["a"], images["fast"])
        waited = time.monotonic() - started
        assert busy.value.status == 503 and busy.value.type == "Busy"
        assert "all 2 inference workers have been busy" in str(busy.value) and "DIGITS_INFERENCE_WORKERS" in str(busy.value)
        assert 0.4 < waited < 3.0
        other.join(timeout=30)
    finally:
        slow.join(timeout=30)


def test_a_queued_request_runs_when_a_worker_frees_up(pool, files, monkeypatch):
    _, specs, images = files
    monkeypatch.setattr(service_module, "QUEUE_TIMEOUT", 10)
    _, results = in_parallel(lambda: classify(pool, specs["a"], images["slow"]),
                             lambda: classify(pool, specs["b"], images["slow"]),
                             lambda: classify(pool, specs["a"], images["fast"]))
    assert all(isinstance(r, dict) for r in results), results   # the third waited its turn


def test_the_view_answers_503_json_when_the_workers_are_busy(make_app, pool, files, monkeypatch):
    from tests.inference.kit import upload_model_files
    root, _, images = files
    monkeypatch.setattr(service_module, "_inference_workers", service_module._inference_workers)   # restored after
    app = make_app(inference_workers=2, allowed_roots=[root])
    assert service_module.get_service() is pool   # the app's setting chose the 2-worker pool
    client = login(app.test_client())
    made = upload_model_files(client, _weights_bytes(3), network=SLEEPY_NET.encode())
    assert made.status_code == 200, made.data
    job_id = made.get_json()["id"]
    monkeypatch.setattr(service_module, "QUEUE_TIMEOUT", 0.3)
    holders = [threading.Thread(target=lambda: pool.call("ping", sleep=2)) for _ in range(2)]
    for t in holders:
        t.start()
    try:
        wait_for(lambda: all(w.busy for w in pool.workers), interval=0.02, message="both busy")
        response = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": images["fast"]})
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert error["type"] == "Busy" and "busy with other requests" in error["message"]
    finally:
        for t in holders:
            t.join(timeout=30)
    assert client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": images["fast"]}).status_code == 200


def test_inference_workers_setting(monkeypatch, tmp_path):
    from digits.config import ConfigError, load_config
    from digits.utils.cpu import usable_cores
    monkeypatch.delenv("DIGITS_INFERENCE_WORKERS", raising=False)
    assert load_config({"jobs_dir": "/tmp/unused", "secret_key": "x"})["inference_workers"] == max(1, usable_cores() // 4)
    monkeypatch.setenv("DIGITS_INFERENCE_WORKERS", "3")
    assert load_config({"jobs_dir": "/tmp/unused", "secret_key": "x"})["inference_workers"] == 3
    for bad, says in (("two", "must be an integer, not 'two'"), ("0", "must be at least 1")):
        monkeypatch.setenv("DIGITS_INFERENCE_WORKERS", bad)
        with pytest.raises(ConfigError) as caught:
            load_config({"jobs_dir": "/tmp/unused", "secret_key": "x"})
        assert "DIGITS_INFERENCE_WORKERS" in str(caught.value) and says in str(caught.value)
    monkeypatch.setenv("DIGITS_INFERENCE_WORKERS", "lots")   # the server refuses to start, saying why
    out = subprocess.run([sys.executable, os.path.join(ROOT, "digits-devserver"), "--port", "0", "--jobs-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "DIGITS_INFERENCE_WORKERS must be an integer, not 'lots'" in out.stderr


def test_a_crashed_or_stuck_worker_is_replaced(pool, files):
    _, specs, images = files
    classify(pool, specs["a"], images["fast"])
    crashed = pool.workers[0]
    old_pid = crashed.service.pid
    with pytest.raises(InferenceError) as crash:
        pool.call("ping", crash=7)   # a request without a model: the first worker
    assert crash.value.status == 500 and "exit code 7" in str(crash.value)
    assert not crashed.models   # its models went with the process
    with pytest.raises(InferenceError) as stuck:
        pool.call("ping", sleep=10, timeout=0.5)   # the other worker, still running, takes it
    assert stuck.value.status == 504
    _, results = in_parallel(lambda: classify(pool, specs["a"], images["fast"]),
                             lambda: classify(pool, specs["b"], images["fast"]))
    assert all(isinstance(r, dict) and "top" in r["results"][0] for r in results), results   # new processes answer
    assert crashed.service.pid not in (None, old_pid)
    assert all(w.running for w in pool.workers)


def test_a_live_server_with_two_workers_classifies_for_two_users_at_once(tmp_path):
    """The real server (gevent): two classify_one.json requests for two models take about as long as one."""
    server = Server(str(tmp_path / "jobs"), tmp_path, env={"DIGITS_INFERENCE_WORKERS": "2",
                                                           "DIGITS_INFERENCE_THREADS": "1"}).start()
    try:
        session = requests.Session()
        session.post(f"{server.url}/login.json", data={"username": "alice"}, timeout=30)
        ids = [_upload(session, server.url, name, seed) for seed, name in enumerate(("one", "two"))]
        slow = os.path.join(str(tmp_path), "slow.png")
        Image.fromarray(np.full((SIZE, SIZE, 3), 200, np.uint8), "RGB").save(slow)

        def post(job_id):
            response = requests.post(f"{server.url}{URL}/classify_one.json", data={"job_id": job_id, "image_path": slow},
                                     timeout=60)
            assert response.status_code == 200, response.text
            return response.json()["predictions"]

        for _ in range(2):   # each model loaded in a worker, wherever the uploads' checks left them
            in_parallel(lambda: post(ids[0]), lambda: post(ids[1]))
        started = time.monotonic()
        post(ids[0])
        one = time.monotonic() - started
        both, results = in_parallel(lambda: post(ids[0]), lambda: post(ids[1]))
        assert all(isinstance(r, list) for r in results), results
        assert both < 1.6 * one, (both, one)
    finally:
        server.kill()


def _upload(session, url, name, seed):
    response = session.post(f"{url}/pretrained_models/new.json", timeout=120, data={
        "job_name": name, "image_type": "3", "width": str(SIZE), "height": str(SIZE)}, files={
        "weights_file": ("weights.pt", _weights_bytes(seed)), "model_def_file": ("network.py", SLEEPY_NET.encode()),
        "labels_file": ("labels.txt", b"blue\ngreen\nred\n")})
    assert response.status_code == 200, response.text
    return response.json()["id"]
