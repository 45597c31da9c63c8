"""DB creation throughput: 1 worker vs all cores (goal: ≥ 1.8× on 2 cores).

Generates its own JPEG images in a temp folder, builds the same LMDB twice with
digits.dataset.build.build_db (through the classification extension) and prints images/s for each and their ratio.
    .venv/bin/python benchmarks/dataset_create_db.py [--images 2000] [--size 256] [--out 64]
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
import PIL.Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from digits.dataset.images.classification.extension import ImageSpec, build_list  # noqa: E402
from digits.utils.cpu import usable_cores  # noqa: E402


def make_images(folder, count, size):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    items = []
    for i in range(count):
        # smooth-ish content so JPEG sizes are realistic, varied per image
        arr = np.roll(base, i * 7, axis=1) // 2 + np.uint8(i % 100)
        path = os.path.join(folder, f"{i:05d}.jpg")
        PIL.Image.fromarray(arr).save(path, quality=90)
        items.append((path, i % 10))
    return items


def run(items, folder, spec, workers):
    db = os.path.join(folder, f"db_{workers}")
    result = build_list(items, db, spec, 10, workers=workers, want_sum=True)
    shutil.rmtree(db)
    assert len(result.written) == len(items)
    return len(items) / result.seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--size", type=int, default=256, help="source image side")
    p.add_argument("--out", type=int, default=64, help="DB image side")
    p.add_argument("--encoding", default="png")
    p.add_argument("--repeat", type=int, default=3, help="best of N runs (shared VMs are noisy)")
    args = p.parse_args()
    cores = usable_cores()
    spec = ImageSpec(args.out, args.out, 3, "squash", args.encoding)
    with tempfile.TemporaryDirectory() as folder:
        items = make_images(folder, args.images, args.size)
        run(items[:50], folder, spec, 1)  # warm the page cache
        one = max(run(items, folder, spec, 1) for _ in range(args.repeat))
        many = max(run(items, folder, spec, cores) for _ in range(args.repeat))
    print(f"create_db {args.images} images {args.size}px -> {args.out}px {args.encoding}")
    print(f"  1 worker : {one:8.1f} images/s")
    print(f"  {cores} workers: {many:8.1f} images/s")
    print(f"  ratio    : {many / one:.2f}x (goal >= 1.8x on 2 cores)")


if __name__ == "__main__":
    main()
