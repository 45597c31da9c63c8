"""Scans prebuilt feature/label LMDBs record by record and writes the job's dataset.json.

python -m digits.tools.analyze_generic --job-dir DIR --train-images DB --train-labels DB
    [--val-images DB --val-labels DB] [--mean-file mean.binaryproto]

The form checked a few records of each database; this reads all of them, so a damaged record
deep inside fails the job (naming the database and key) instead of a training run hours later.
"""
import argparse
import os

from digits.dataset import files
from digits.dataset.generic_reader import ImageShape
from digits.dataset.images.generic.prebuilt import analyze, check_mean, record_count
from digits.dataset.mean import mean_to_jpg_bytes
from digits.dataset.report import Progress
from digits.utils.image import chw_to_hwc
from digits.tools.common import emit, run_main


def build_parser():
    p = argparse.ArgumentParser(description="Check prebuilt LMDBs and describe them in dataset.json")
    p.add_argument("--job-dir", required=True)
    for split in ("train", "val"):
        p.add_argument(f"--{split}-images", required=split == "train")
        p.add_argument(f"--{split}-labels", required=split == "train")
    p.add_argument("--mean-file", help="BlobProto mean image, relative to the job folder")
    return p


class _Counter:
    """progress() once per record read, as a share of all the databases' records."""

    def __init__(self, total):
        self.done, self.total, self.report = 0, total, Progress()

    def __call__(self):
        self.done += 1
        self.report(self.done, self.total)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    job_dir = os.path.abspath(args.job_dir)
    if bool(args.val_images) != bool(args.val_labels):
        parser.error("give both --val-images and --val-labels, or neither")
    paths = {"train": (args.train_images, args.train_labels)}
    if args.val_images:
        paths["val"] = (args.val_images, args.val_labels)
    total = sum(record_count(f"{split}_{role}", path) for split, pair in paths.items()
                for role, path in zip(("images", "labels"), pair))
    info = analyze(paths, full=True, progress=_Counter(total))
    info["mean_file"] = args.mean_file
    if args.mean_file:
        mean = check_mean(os.path.join(job_dir, args.mean_file), ImageShape(*info["image_dims"]))
        files.atomic_write_bytes(os.path.join(job_dir, "mean.jpg"), mean_to_jpg_bytes(chw_to_hwc(mean)))
    files.atomic_write_json(os.path.join(job_dir, files.INFO_FILE), info)
    emit("result", **{f"{split}_count": s["count"] for split, s in info["splits"].items()})
    for split, s in info["splits"].items():
        print(f"analyze_generic {split}: {s['count']} records of {info['image_dims']} images, "
              f"{info['label_dims'][0]} {info['label_dtype']} labels")
    return 0


if __name__ == "__main__":
    run_main(main)
