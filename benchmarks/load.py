"""Load: 50 concurrent clients on the home JSON and job pages while a model trains.

Prints the request latency p50/p99 (goal p99 < 100 ms) and the training slowdown against the same
training run without load, both measured in this run (goal < 10%). Loopback only; bounded in time.
Each client waits --think seconds between requests, like a person's browser refreshing a page;
--think 0 turns it into a stress test where the clients themselves compete for the CPU.

    python benchmarks/load.py [--clients 50] [--epochs 6] [--think 0.5]
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.data import write_digits_folder  # noqa: E402
from tests.helpers import Server, wait_for  # noqa: E402


def train_seconds(session, url, dataset_id, epochs, name):
    job = session.post(f"{url}/models/images/classification.json", data={
        "method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": epochs,
        "model_name": name, "dataset": dataset_id, "random_seed": 1}).json()
    wait_for(lambda: session.get(f"{url}/models/{job['id']}/status").json()["status"] in ("Done", "Error"),
             timeout=1800, interval=0.5, message="training")
    details = session.get(f"{url}/models/{job['id']}.json").json()
    assert details["status"] == "Done", details.get("error")
    return details["runtime"], job["id"]


def cpu_seconds(pid=None):
    """User+system CPU seconds used so far by this process (pid None) or by another one (Linux)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hammer(url, paths, stop, latencies, errors, think, max_requests=4000):
    session = requests.Session()
    for i in range(max_requests):
        if stop.is_set():
            return
        path = paths[i % len(paths)]
        started = time.perf_counter()
        try:
            response = session.get(url + path, timeout=10)
            if response.status_code >= 500:
                errors.append(path)
        except requests.RequestException:
            errors.append(path)
            continue
        latencies.append(time.perf_counter() - started)
        if think:
            stop.wait(think)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--think", type=float, default=0.5, help="seconds each client waits between requests")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="digits-load-")
    images = write_digits_folder(os.path.join(root, "digits"))
    server = Server(os.path.join(root, "jobs"), root).start()
    try:
        session = requests.Session()
        session.post(f"{server.url}/login", data={"username": "bench"})
        dataset = session.post(f"{server.url}/datasets/images/classification.json", data={
            "folder_train": images, "resize_channels": 1, "resize_width": 28, "resize_height": 28,
            "method": "folder", "dataset_name": "digits", "encoding": "png"}).json()
        wait_for(lambda: session.get(f"{server.url}/datasets/{dataset['id']}/status").json()["status"] == "Done",
                 timeout=600, interval=0.5, message="dataset")
        baseline, first_model = train_seconds(session, server.url, dataset["id"], args.epochs, "quiet")

        stop, latencies, errors = threading.Event(), [], []
        paths = ["/index.json", f"/models/{first_model}", f"/datasets/{dataset['id']}", "/index.json",
                 f"/models/{first_model}/status"]
        clients = [threading.Thread(target=hammer, args=(server.url, paths, stop, latencies, errors, args.think))
                   for _ in range(args.clients)]
        cpu_before = cpu_seconds(), cpu_seconds(server.proc.pid)
        for c in clients:
            c.start()
        loaded, _ = train_seconds(session, server.url, dataset["id"], args.epochs, "under-load")
        stop.set()
        for c in clients:
            c.join(30)
        clients_cpu = cpu_seconds() - cpu_before[0]
        server_cpu = cpu_seconds(server.proc.pid) - cpu_before[1]
    finally:
        server.kill()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    slowdown = loaded / baseline - 1
    print(f"clients={args.clients} think={args.think}s requests={len(latencies)} errors={len(errors)}")
    print(f"latency p50={p50:.1f} ms p99={p99:.1f} ms (goal p99 < 100 ms)")
    print(f"training alone {baseline:.1f}s, under load {loaded:.1f}s: slowdown {slowdown * 100:.1f}% (goal < 10%)")
    # On a small machine the clients compete with the training for the same cores; this says how much
    # of the slowdown is simply the CPU they and the server used (the server's share is what we own).
    cores = os.cpu_count()
    print(f"CPU used during the loaded run: clients {clients_cpu:.1f}s, server {server_cpu:.1f}s "
          f"= {100 * (clients_cpu + server_cpu) / (loaded * cores):.0f}% of {cores} cores "
          f"(server alone {100 * server_cpu / (loaded * cores):.0f}%)")


if __name__ == "__main__":
    main()
