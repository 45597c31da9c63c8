"""Detection training throughput: `python -m digits.tools.train` vs a bare PyTorch loop, per network.

    .venv/bin/python benchmarks/detection_throughput.py        # CPU: 160 images 64×64, 3 epochs
    .venv/bin/python benchmarks/detection_throughput.py --device cuda --images 4096 --size 320 --batch 32

The method is train_throughput.py's: one generated boxes dataset (docs/detection.md §1: PNG images of
tests/detection_data.py, n×5 box rows, some DontCare), then for each standard detection network
(detectnet_small, fasterrcnn_mobilenet) the tool and a bare loop, each in a fresh subprocess. The bare
loop builds the same module from the same standard source through digits' torch engine and trains it
with the same batch size, the same DataLoader settings (workers, pinned memory, prefetch), the same
preprocessing (mean image, scale), Adam with the same settings, and on CUDA the same AMP +
channels_last. Images/s is measured over the epochs after the first (warm-up), counting only the
training loop; the ratio ours / bare is printed (goal >= 0.95).
"""
import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from train_throughput import run_ours  # noqa: E402  (this folder is on sys.path when run as a script)

NETWORKS = ("detectnet_small", "fasterrcnn_mobilenet")
GOAL = 0.95
DONTCARE = [0.0, 0.0, 0.0, 6.0, 6.0]   # a top-left corner the loss ignores, in every 4th image that has it free


def make_dataset(folder, count, size):
    """A boxes dataset per docs/detection.md §1 (train split only: no validation to time)."""
    import lmdb
    import numpy as np

    from digits.dataset.datum import array_to_datum
    from digits.dataset.images.detection.boxes import to_datum_bytes
    from digits.dataset.mean import save_mean
    from tests.detection_data import CLASSES, make_image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    total, most = np.zeros((size, size, 3)), 0
    room = max(1 << 26, count * size * size * 3 * 2)
    images = lmdb.open(os.path.join(folder, "train_db"), map_size=room)
    labels = lmdb.open(os.path.join(folder, "train_labels_db"), map_size=max(1 << 24, count * 1024))
    with images.begin(write=True) as image_txn, labels.begin(write=True) as label_txn:
        for i in range(count):
            image, objects = make_image(rng, (size, size))
            rows = [[1 + CLASSES.index(name), *box] for name, box in objects]
            if i % 4 == 0 and all(box[0] >= 6 or box[1] >= 6 for _, box in objects):
                rows.append(DONTCARE)
            image_txn.put(b"%08d" % i, array_to_datum(image, 0, "png"))
            label_txn.put(b"%08d" % i, to_datum_bytes(np.array(rows, dtype=np.float32).reshape(-1, 5)))
            total += image
            most = max(most, len(rows))
    images.close()
    labels.close()
    save_mean(total / count, os.path.join(folder, "mean.binaryproto"))
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("dontcare\n" + "".join(f"{name}\n" for name in CLASSES))
    info = {"kind": "generic", "label_kind": "boxes", "image_dims": [size, size, 3], "encoded": True,
            "label_dims": None, "num_classes": 1 + len(CLASSES), "max_boxes": most, "mean_file": "mean.binaryproto",
            "geometry": {"pad": None, "resize": None, "channel_conversion": "RGB"}, "skipped": [],
            "splits": {"train": {"db": os.path.join(folder, "train_db"), "count": count,
                                 "labels_db": os.path.join(folder, "train_labels_db")}}}   # as create_generic_db
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump(info, f)


def make_job(folder, dataset, name, epochs, batch):
    """A model job folder; batch None: the network's own BATCH_SIZE, on both sides."""
    from digits.networks import standard_network

    os.makedirs(folder)
    with open(os.path.join(folder, "network.py"), "w") as f:
        f.write(standard_network(name, "torch", "detection"))
    config = {"dataset_dir": dataset, "network": {"framework": "torch", "file": "network.py"},
              "task_type": "detection", "train_epochs": epochs, "snapshot_interval": 0, "val_interval": 0,
              "random_seed": 1, "batch_size": batch, "solver_type": "ADAM", "learning_rate": 0.001,
              "momentum": 0.9, "weight_decay": 0.0, "lr_policy": {"policy": "fixed"}, "use_mean": "image",
              "shuffle": True}
    with open(os.path.join(folder, "train_config.json"), "w") as f:
        json.dump(config, f)
    return folder


def run_bare(job_dir):
    started = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--bare", job_dir], cwd=ROOT,
                         capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"bare loop failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["images_per_sec"], result["batch_size"], wall


def collate(preprocess, items):
    """Preprocessed images stacked; box rows padded to the batch's most with class -1 rows."""
    import torch
    images = torch.stack([preprocess(image) for image, _ in items])
    targets = torch.zeros(len(items), max(len(rows) for _, rows in items), 5)
    targets[..., 0] = -1.0
    for i, (_, rows) in enumerate(items):
        targets[i, :len(rows)] = rows
    return images, targets


def bare_loop(job_dir):
    """The plain PyTorch loop: DataLoader → model(x, targets) → sum of losses → backward → step."""
    import torch
    from torch.utils.data import DataLoader

    from digits.dataset.generic_reader import GenericLmdbDataset
    from digits.dataset.reader import read_dataset_info
    from digits.frameworks import build_network
    from digits.model import preprocess as prep
    from digits.model.trainer_data import default_workers

    with open(os.path.join(job_dir, "train_config.json")) as f:
        cfg = json.load(f)
    info = read_dataset_info(cfg["dataset_dir"])
    height, width, channels = info["image_dims"]
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda:   # the same intra-op threads as the tool, which leaves a core for the web server
        from digits.model.trainer_runtime import cpu_training_threads
        torch.set_num_threads(cpu_training_threads())
    with open(os.path.join(job_dir, "network.py")) as f:
        source = f.read()
    torch.manual_seed(1)
    network = build_network("torch", source, (channels, height, width), info["num_classes"])
    model = network.module.to(device).train()
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"], betas=(cfg["momentum"], 0.999), eps=1e-8,
                           weight_decay=cfg["weight_decay"])
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    batch = cfg["batch_size"] or network.default_batch_size
    split = info["splits"]["train"]
    records = GenericLmdbDataset(split["db"], split["labels_db"], boxes=True)
    workers = default_workers(cuda, 1)
    loader = DataLoader(records, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=cuda,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                        collate_fn=functools.partial(collate, prep.from_training(info, cfg, network, "torch")))

    def step(x, y):   # what the tool does per batch, less its reporting
        x = x.to(device, non_blocking=True)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
            loss = sum(model(x, y.to(device, non_blocking=True)).values())
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    speeds = []
    for _epoch in range(cfg["train_epochs"]):
        started, images = time.perf_counter(), 0
        for x, y in loader:
            loss = step(x, y)
            images += len(x)
        float(loss)  # wait for the device before stopping the clock
        speeds.append(images / (time.perf_counter() - started))
    steady = speeds[1:] or speeds
    print(json.dumps({"images_per_sec": sum(steady) / len(steady), "batch_size": batch}))


def compare(tmp, dataset, name, args):
    """Runs bare and ours `repeats` times, alternating which goes first (other load on the machine hits
    both alike), and keeps each one's best (images/s, process wall)."""
    best, batch = {"bare": (0.0, 0.0), "ours": (0.0, 0.0)}, None
    for repeat in range(args.repeats):
        for side in ("bare", "ours")[::1 if repeat % 2 == 0 else -1]:
            job = make_job(os.path.join(tmp, f"{name}-{side}-{repeat}"), dataset, name, args.epochs, args.batch)
            if side == "bare":
                speed, batch, wall = run_bare(job)
            else:
                speed, wall = run_ours(job)
            best[side] = max(best[side], (speed, wall))
    (bare, bare_wall), (ours, ours_wall) = best["bare"], best["ours"]
    print(f"{name}: {args.images} images {args.size}×{args.size}, batch {batch}, {args.epochs} epochs, "
          f"best of {args.repeats}")
    print(f"  bare PyTorch loop   {bare:10.1f} images/s   (process wall {bare_wall:.1f} s)")
    print(f"  digits.tools.train  {ours:10.1f} images/s   (process wall {ours_wall:.1f} s)")
    print(f"  ratio ours / bare   {ours / bare:10.3f}   (goal >= {GOAL})", flush=True)
    return ours / bare


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare", metavar="JOB_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when there is a GPU; cpu hides the GPUs from both sides")
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--epochs", type=int, default=3, help="the first one is warm-up, not counted")
    parser.add_argument("--batch", type=int, default=None, help="default: each network's own BATCH_SIZE")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each, taking turns to go first; best counts")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    args = parser.parse_args()
    if args.bare:
        return bare_loop(args.bare)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is not counted")
    if args.device == "cpu":   # inherited by every subprocess
        os.environ["CUDA_VISIBLE_DEVICES"] = ""

    import torch
    gpu = torch.cuda.is_available()
    if args.device == "cuda" and not gpu:
        raise SystemExit("--device cuda: no CUDA GPU here")
    print(f"device: {torch.cuda.get_device_name() if gpu else 'CPU'}, torch {torch.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = os.path.join(tmp, "dataset")
        make_dataset(dataset, args.images, args.size)
        for name in args.networks:
            compare(tmp, dataset, name, args)


if __name__ == "__main__":
    main()
