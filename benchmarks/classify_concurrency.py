"""Parallel inference: classify_one.json throughput of --clients clients (default 8) on two models at once,
with 1 inference worker and with --workers N (DIGITS_INFERENCE_WORKERS), both measured in this run.
Goal: N workers serve ≥ 0.8 × N times the requests per second of one, on a machine with N cores free
for them (plus one for the web server and the clients); p99 latency is printed for both.

Two pretrained models are made from files (a small convolutional network with random weights, CPU-heavy
enough that the forward pass, not the web server, is the work measured) and uploaded to a server with
1 worker; a second server with N workers then serves the same jobs folder. Every worker computes with
one thread (DIGITS_INFERENCE_THREADS=1), so N workers use N cores. Half the clients ask for each
model; each uploads a PNG per request on its own kept-alive connection, after untimed warm-up requests
(which load the models into the workers).

    python benchmarks/classify_concurrency.py [--workers N] [--clients 8] [--requests 25] [--size 128] [--width 64]
"""
import argparse
import io
import os
import sys
import tempfile
import threading
import time

import numpy as np
import requests
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from digits.utils.cpu import usable_cores  # noqa: E402
from tests.helpers import Server  # noqa: E402

GOAL = 0.8
CLASSIFY = "/models/images/classification/classify_one.json"
NETWORK = '''
import torch.nn as nn

WIDTH = {width}


def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, WIDTH, 3, padding=1), nn.ReLU(), nn.Conv2d(WIDTH, WIDTH, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(WIDTH, 2 * WIDTH, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * WIDTH * (h // 4) * (w // 4), num_classes))
'''


def weights(network, size, seed):
    """A state_dict for the network (random: predictions do not matter here), as torch.save bytes."""
    import torch
    from digits.frameworks import build_network
    torch.manual_seed(seed)
    module = build_network("torch", network, (3, size, size), 3).module
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getvalue()


def upload_models(url, network, size):
    session = requests.Session()
    session.post(f"{url}/login.json", data={"username": "bench"}, timeout=30)
    ids = []
    for seed, name in enumerate(("model-a", "model-b")):
        response = session.post(f"{url}/pretrained_models/new.json", timeout=300, data={
            "job_name": name, "image_type": "3", "width": str(size), "height": str(size)}, files={
            "weights_file": ("weights.pt", weights(network, size, seed)),
            "model_def_file": ("network.py", network.encode()), "labels_file": ("labels.txt", b"a\nb\nc\n")})
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    return ids


def run_clients(url, ids, png, clients, requests_each):
    """(requests per second over the run, every request's seconds); each client on its own connection."""
    latencies, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(i):
        session = requests.Session()
        job_id = ids[i % len(ids)]
        start.wait()
        for _ in range(requests_each):
            began = time.perf_counter()
            response = session.post(url + CLASSIFY, data={"job_id": job_id},
                                    files={"image_file": ("x.png", png, "image/png")}, timeout=600)
            elapsed = time.perf_counter() - began
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    assert not errors, errors[:3]
    return len(latencies) / wall, latencies


def measure(jobs_dir, root, workers, ids, png, args, network=None):
    """Serves the jobs folder with `workers` inference workers; (ids, requests/s, latencies)."""
    env = {"DIGITS_INFERENCE_WORKERS": str(workers), "DIGITS_INFERENCE_THREADS": "1"}
    server = Server(jobs_dir, root, env=env).start()
    try:
        ids = ids or upload_models(server.url, network, args.size)
        run_clients(server.url, ids, png, args.clients, args.warmup)   # models loaded where routing puts them
        rate, latencies = run_clients(server.url, ids, png, args.clients, args.requests)
    finally:
        server.kill()
    return ids, rate, latencies


def _ms(values, q):
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    cores = usable_cores()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=max(2, min(8, cores - 1)), help="N, compared with 1 worker")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=25, help="timed requests per client")
    p.add_argument("--warmup", type=int, default=2, help="untimed requests per client first")
    p.add_argument("--size", type=int, default=128, help="image side of the models' input")
    p.add_argument("--width", type=int, default=64, help="channels of the network's first convolutions")
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="digits-concurrency-")
    jobs_dir = os.path.join(root, "jobs")
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8), "RGB").save(buf, "PNG")
    png = buf.getvalue()
    ids, one_rate, one = measure(jobs_dir, root, 1, None, png, args, NETWORK.format(width=args.width))
    _, n_rate, many = measure(jobs_dir, root, args.workers, ids, png, args)
    ratio = n_rate / one_rate
    goal = GOAL * args.workers
    print(f"{args.clients} clients × {args.requests} classify_one.json on 2 models ({args.size}×{args.size}, "
          f"width {args.width}), {cores} usable cores, 1 compute thread per worker")
    for label, rate, latencies in (("1 worker ", one_rate, one), (f"{args.workers} workers", n_rate, many)):
        print(f"{label}: {rate:7.1f} requests/s   p50 {_ms(latencies, 0.5):7.1f} ms   p99 {_ms(latencies, 0.99):7.1f} ms")
    print(f"throughput ratio: {ratio:.2f}× — goal ≥ {goal:.2f}× ({GOAL:g} × {args.workers}): "
          f"{'met' if ratio >= goal else 'NOT met'}")
    if cores < args.workers + 1:
        print(f"note: {args.workers} workers plus the web server and the clients need {args.workers + 1} cores; "
              f"this machine lets this process use {cores}, so the goal cannot be shown here")
    return 0 if ratio >= goal else 1


if __name__ == "__main__":
    sys.exit(main())
