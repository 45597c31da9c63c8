"""Serving speed: classify_one.json latency on a real server vs the raw forward pass of the same model,
both measured in this run (goal: overhead < 20 ms per image).

The server (digits-devserver, gevent) trains a small model on scikit-learn's digits, then this script
uploads one PNG per request, --requests times after a warm-up request (which loads the model into
the inference worker). The raw forward runs here, on the same device the worker picks, with the same
network and snapshot: one preprocessed image per call, after warm-up, torch.no_grad().

    python benchmarks/classify_latency.py [--network lenet] [--size 28] [--requests 100]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.data import write_digits_folder  # noqa: E402
from tests.helpers import Server, wait_for  # noqa: E402

GOAL_MS = 20.0


def _wait_done(session, url, kind, job_id, timeout):
    wait_for(lambda: session.get(f"{url}/{kind}/{job_id}/status").json()["status"] in ("Done", "Error"),
             timeout=timeout, interval=0.5, message=f"{kind} {job_id}")
    details = session.get(f"{url}/{kind}/{job_id}.json").json()
    assert details["status"] == "Done", details.get("error")
    return details


def train_model(session, url, images, args):
    dataset = session.post(f"{url}/datasets/images/classification.json", data={
        "folder_train": images, "resize_channels": args.channels, "resize_width": args.size,
        "resize_height": args.size, "method": "folder", "dataset_name": "digits", "encoding": "png"}).json()
    _wait_done(session, url, "datasets", dataset["id"], 600)
    model = session.post(f"{url}/models/images/classification.json", data={
        "method": "standard", "standard_networks": args.network, "framework": args.framework,
        "train_epochs": args.epochs, "model_name": "latency", "dataset": dataset["id"], "random_seed": 1}).json()
    assert "id" in model, model
    return _wait_done(session, url, "models", model["id"], 3600)


def server_latencies(url, job_id, png, count, keep_alive):
    """Seconds per classify_one.json request: a new connection each time (like curl), or one kept-alive
    session (like a browser or requests.Session)."""
    session = requests.Session() if keep_alive else requests   # requests.post: a new connection each time

    def once():
        headers = {} if keep_alive else {"Connection": "close"}
        started = time.perf_counter()
        response = session.post(f"{url}/models/images/classification/classify_one.json", headers=headers,
                                files={"image_file": ("digit.png", png, "image/png")}, data={"job_id": job_id})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed

    first = once()   # loads the model into the worker
    return first, [once() for _ in range(count)]


def index_latencies(url, count):
    """GET /index.json on a kept-alive session: the server's baseline for any request."""
    session = requests.Session()
    session.get(f"{url}/index.json")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        session.get(f"{url}/index.json")
        times.append(time.perf_counter() - started)
    return times


def forward_latencies(details, image_path, count):
    """Raw forward of the same snapshot, same device as the worker: model(x) for one image."""
    import torch
    from digits.inference.images import load_resized, network_input
    from digits.inference.loader import configure_threads, load_model, pick_device
    configure_threads()   # the worker's setting: the same threads for both sides
    spec = {"dir": details["job_dir"], "framework": details["framework"],
            "network_file": "network.prototxt" if details["framework"] == "caffe" else "network.py",
            "weights": os.path.join(details["job_dir"], f"snapshot_epoch_{details['snapshots'][-1]}.pt")}
    device = pick_device()
    model = load_model(spec, device)
    x = network_input([load_resized(image_path, model.pre)], model.pre).to(device)
    times = []
    with torch.no_grad():
        for i in range(count + 5):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            model.module(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 5:
                times.append(time.perf_counter() - started)
    return str(device), times


def _ms(values, q=0.5):
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", default="lenet", help="standard network (lenet, alexnet, resnet18, ...)")
    p.add_argument("--framework", default="caffe")
    p.add_argument("--size", type=int, default=28, help="image side in the dataset")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--requests", type=int, default=100)
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="digits-latency-")
    images = write_digits_folder(os.path.join(root, "digits"), size=args.size, per_class=30)
    image_path = os.path.join(images, "3", "0001.png")
    with open(image_path, "rb") as f:
        png = f.read()
    server = Server(os.path.join(root, "jobs"), root).start()
    try:
        session = requests.Session()
        session.post(f"{server.url}/login", data={"username": "bench"})
        details = train_model(session, server.url, images, args)
        first, served = server_latencies(server.url, details["id"], png, args.requests, keep_alive=False)
        _, kept_alive = server_latencies(server.url, details["id"], png, args.requests, keep_alive=True)
        index = index_latencies(server.url, args.requests)
    finally:
        server.kill()
    device, raw = forward_latencies(details, image_path, args.requests)
    overhead = _ms(served) - _ms(raw)
    print(f"model: {args.network} ({args.framework}), {args.channels}×{args.size}×{args.size}, device {device}")
    print(f"first request (loads the model): {1000 * first:.1f} ms")
    print(f"classify_one.json  p50 {_ms(served):7.2f} ms   p90 {_ms(served, 0.9):7.2f} ms   "
          f"mean {1000 * statistics.mean(served):7.2f} ms   ({len(served)} requests)")
    print(f"raw forward        p50 {_ms(raw):7.2f} ms   p90 {_ms(raw, 0.9):7.2f} ms")
    print(f"kept-alive session: classify_one.json p50 {_ms(kept_alive):.2f} ms, GET /index.json p50 {_ms(index):.2f} ms"
          " (a gap of ~40 ms on both is the server's socket waiting for delayed ACKs: Nagle without TCP_NODELAY)")
    print(f"overhead (p50): {overhead:.2f} ms  — goal < {GOAL_MS:g} ms: {'met' if overhead < GOAL_MS else 'NOT met'}")
    return 0 if overhead < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
