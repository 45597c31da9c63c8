"""Training throughput: `python -m digits.tools.train` vs a bare PyTorch loop, same net/data/batch.

    .venv/bin/python benchmarks/train_throughput.py            # CPU: small CNN on 32×32 images
    .venv/bin/python benchmarks/train_throughput.py --resnet50 # GPU: ResNet-50, AMP, 224×224

Both run in fresh subprocesses on the same generated LMDB dataset, with the same DataLoader
settings (workers, pinned memory), the same preprocessing, SGD with momentum, and on CUDA the same
AMP + channels_last. Images/s is measured over the epochs after the first (warm-up), counting only
the training loop; the ratio ours / bare is printed (goal ≥ 0.97). On a GPU machine the ResNet-50
AMP figures (ours, bare, and a synthetic on-GPU upper bound) are printed as well.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SMALL_CNN = '''
import torch.nn as nn

def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * (h // 4) * (w // 4), 128), nn.ReLU(), nn.Linear(128, num_classes))
'''

RESNET50 = '''
import torchvision

def build(input_shape, num_classes):
    return torchvision.models.resnet50(num_classes=num_classes)
'''


def make_dataset(folder, count, size, classes):
    import lmdb
    import numpy as np

    from digits.dataset.datum import array_to_datum
    from digits.dataset.mean import save_mean

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    env = lmdb.open(os.path.join(folder, "train_db"), map_size=max(1 << 26, count * size * size * 3 * 2))
    base = rng.integers(0, 256, (16, size, size, 3), dtype=np.uint8)   # a few distinct images, reused
    with env.begin(write=True) as txn:
        for i in range(count):
            txn.put(b"%08d" % i, array_to_datum(base[i % 16], i % classes, "none"))
    env.close()
    save_mean(base.astype(np.float64).mean(axis=0), os.path.join(folder, "mean.binaryproto"))
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("".join(f"c{i}\n" for i in range(classes)))
    info = {"image_dims": [size, size, 3], "resize_mode": "squash", "encoding": "none", "num_classes": classes,
            "splits": {"train": {"db": "train_db", "count": count, "per_class": []}}, "skipped": [],
            "mean_file": "mean.binaryproto"}
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump(info, f)


def make_job(folder, dataset, network, epochs, batch):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "network.py"), "w") as f:
        f.write(network)
    config = {"dataset_dir": dataset, "network": {"framework": "torch", "file": "network.py"},
              "train_epochs": epochs, "snapshot_interval": 0, "val_interval": 0, "random_seed": 1,
              "batch_size": batch, "solver_type": "SGD", "learning_rate": 0.01, "momentum": 0.9,
              "weight_decay": 0.0001, "lr_policy": {"policy": "fixed"}, "use_mean": "image", "shuffle": True}
    with open(os.path.join(folder, "train_config.json"), "w") as f:
        json.dump(config, f)


def run_ours(job_dir):
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "digits.tools.train", "--job-dir", job_dir], cwd=ROOT,
                         capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"training tool failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    results = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            msg = json.loads(line)
            if msg["type"] == "result":
                results.update(msg)
    return results["train_images_per_sec"], wall


def run_bare(job_dir, synthetic=False):
    cmd = [sys.executable, os.path.abspath(__file__), "--bare", job_dir] + (["--synthetic"] if synthetic else [])
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"bare loop failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_sec"], wall


def bare_loop(job_dir, synthetic):
    """The plain PyTorch loop: DataLoader → model → loss → backward → step, nothing else."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from digits.dataset.reader import LmdbDataset, read_dataset_info
    from digits.model import preprocess as prep
    from digits.model.trainer_data import default_workers

    with open(os.path.join(job_dir, "train_config.json")) as f:
        cfg = json.load(f)
    info = read_dataset_info(cfg["dataset_dir"])
    height, width, channels = info["image_dims"]
    namespace = {}
    with open(os.path.join(job_dir, "network.py")) as f:
        exec(compile(f.read(), "network.py", "exec"), namespace)
    torch.manual_seed(1)
    model = namespace["build"]((channels, height, width), info["num_classes"])
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda:   # the same intra-op threads as the tool, which leaves a core for the web server
        from digits.model.trainer_runtime import cpu_training_threads
        torch.set_num_threads(cpu_training_threads())
    model = model.to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0001)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    batch = cfg["batch_size"]
    if synthetic:
        x = torch.randn(batch, channels, height, width, device=device)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, info["num_classes"], (batch,), device=device)
        steps = math.ceil(info["splits"]["train"]["count"] / batch)
        loader = [(x, y)] * steps
    else:
        pre = prep.from_training(info, cfg, None, "torch")
        records = LmdbDataset(os.path.join(cfg["dataset_dir"], "train_db"))
        workers = default_workers(cuda, 1)
        loader = DataLoader(records, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=cuda,
                            persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                            collate_fn=lambda items: (torch.stack([pre(img) for img, _ in items]),
                                                      torch.tensor([label for _, label in items])))
    speeds = []
    for _epoch in range(cfg["train_epochs"]):
        started, images = time.perf_counter(), 0
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                loss = F.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            images += y.shape[0]
        float(loss)  # wait for the device before stopping the clock
        speeds.append(images / (time.perf_counter() - started))
    steady = speeds[1:] or speeds
    print(json.dumps({"images_per_sec": sum(steady) / len(steady)}))


def compare(title, network, count, size, batch, epochs, repeats, synthetic_too=False):
    with tempfile.TemporaryDirectory() as tmp:
        dataset = os.path.join(tmp, "dataset")
        make_dataset(dataset, count, size, classes=10)
        job_dir = os.path.join(tmp, "job")
        make_job(job_dir, dataset, network, epochs, batch)
        bare_job = os.path.join(tmp, "bare")
        make_job(bare_job, dataset, network, epochs, batch)
        # alternate the two and keep each one's best run: other load on the machine hits both alike
        bare = ours = 0.0
        for _ in range(repeats):
            speed, wall = run_bare(bare_job)
            if speed > bare:
                bare, bare_wall = speed, wall
            for name in os.listdir(job_dir):   # a fresh run, not a resume of the previous one
                if name.startswith("snapshot_"):
                    os.remove(os.path.join(job_dir, name))
            speed, wall = run_ours(job_dir)
            if speed > ours:
                ours, ours_wall = speed, wall
        print(f"{title}: {count} images {size}×{size}, batch {batch}, {epochs} epochs, best of {repeats}")
        print(f"  bare PyTorch loop   {bare:10.1f} images/s   (process wall {bare_wall:.1f} s)")
        print(f"  digits.tools.train  {ours:10.1f} images/s   (process wall {ours_wall:.1f} s)")
        print(f"  ratio ours / bare   {ours / bare:10.3f}   (goal >= 0.97)")
        if synthetic_too:
            synthetic, _ = run_bare(bare_job, synthetic=True)
            print(f"  synthetic on-GPU data (model-only bound) {synthetic:10.1f} images/s")
        return ours / bare


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare", metavar="JOB_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resnet50", action="store_true", help="also run ResNet-50 AMP (needs a GPU)")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each; the best counts")
    args = parser.parse_args()
    if args.bare:
        return bare_loop(args.bare, args.synthetic)

    import torch
    gpu = torch.cuda.is_available()
    print(f"device: {torch.cuda.get_device_name() if gpu else 'CPU'}, torch {torch.__version__}")
    compare("small CNN", SMALL_CNN, args.images, 32, 128 if gpu else 64, args.epochs, args.repeats)
    if gpu or args.resnet50:
        if not gpu:
            raise SystemExit("--resnet50 needs a CUDA GPU")
        compare("ResNet-50 AMP channels_last", RESNET50, 2560, 224, 128, args.epochs, args.repeats,
                synthetic_too=True)


if __name__ == "__main__":
    main()
