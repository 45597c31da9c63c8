"""Training-time reading: our LmdbDataset vs torchvision ImageFolder over the original files
(goal: ≥ 3× samples/s).

Both sides yield the same thing training needs — a uint8 C×H×W tensor of the DB size and a label:
ImageFolder decodes each original JPEG and resizes it, LmdbDataset reads the prepared record.
Images are generated in a temp folder; ratios are measured in the same run.
    .venv/bin/python benchmarks/dataset_reader.py [--images 1000] [--size 256] [--out 64]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import PIL.Image
import torch
from torchvision import datasets, transforms

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from digits.dataset.images.classification.extension import ImageSpec, build_list  # noqa: E402
from digits.dataset.reader import LmdbDataset  # noqa: E402


def make_tree(root, count, size, classes=10):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    items = []
    for i in range(count):
        folder = os.path.join(root, f"class{i % classes}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{i:05d}.jpg")
        PIL.Image.fromarray(np.roll(base, i * 7, axis=1) // 2 + np.uint8(i % 100)).save(path, quality=90)
        items.append((path, i % classes))
    return items


def samples_per_s(dataset, workers, repeat=2):
    """Steady-state samples/s, as in training: with workers, the loader's processes persist across
    epochs (as the trainer's do) and a first, untimed epoch starts them, so process start-up is not
    counted against a fast dataset."""
    best = 0.0
    if workers:
        loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers,
                                             persistent_workers=True)
        sum(len(labels) for _, labels in loader)   # warm-up epoch
    for _ in range(repeat):
        start = time.perf_counter()
        if workers:
            n = sum(len(labels) for _, labels in loader)
        else:
            n = 0
            for i in range(len(dataset)):
                dataset[i]
                n += 1
        best = max(best, n / (time.perf_counter() - start))
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--size", type=int, default=256, help="original image side")
    p.add_argument("--out", type=int, default=64, help="DB / training image side")
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        items = make_tree(os.path.join(tmp, "images"), args.images, args.size)
        folder = datasets.ImageFolder(os.path.join(tmp, "images"), transform=transforms.Compose(
            [transforms.Resize((args.out, args.out)), transforms.PILToTensor()]))
        lmdbs = {}
        for encoding in ("none", "png"):
            db = os.path.join(tmp, f"db_{encoding}")
            build_list(items, db, ImageSpec(args.out, args.out, 3, "squash", encoding), 10)
            lmdbs[encoding] = LmdbDataset(db)
        print(f"reader: {args.images} images, originals {args.size}px JPEG, training size {args.out}px")
        for workers in (0, 2):
            base = samples_per_s(folder, workers)
            where = "in-process" if not workers else f"DataLoader {workers} workers"
            print(f"  [{where}] ImageFolder (decode+resize originals): {base:8.0f} samples/s")
            for encoding, dataset in lmdbs.items():
                rate = samples_per_s(dataset, workers)
                print(f"  [{where}] LmdbDataset encoding={encoding:4s}:              {rate:8.0f} samples/s"
                      f"  ratio {rate / base:5.2f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
