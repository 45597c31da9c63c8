"""Folder of class subfolders → labels.txt + train.txt/val.txt/test.txt in the job folder.

python -m digits.tools.parse_folder --job-dir DIR --folder TRAIN_DIR [--pct-val 25] [--pct-test 0]
    [--min-per-class 2] [--max-per-class N] [--val-folder DIR] [--test-folder DIR] [--seed S]
    [--archive FILE --max-extract-bytes N] [--allowed-root DIR ...]

With --archive, the uploaded .zip/.tar is first extracted (safely) into --folder.
With --allowed-root, images whose real path is outside those folders are left out.
"""
import argparse
import os
import random

from digits.dataset.archive import extract_archive
from digits.dataset.parse import parse_folder, shuffled, write_outputs
from digits.tools.common import emit, run_main


def build_parser():
    p = argparse.ArgumentParser(description="Parse a folder of class subfolders into split lists")
    p.add_argument("--job-dir", required=True)
    p.add_argument("--folder", required=True, help="training images: one subfolder per class")
    p.add_argument("--pct-val", type=float, default=25.0)
    p.add_argument("--pct-test", type=float, default=0.0)
    p.add_argument("--min-per-class", type=int, default=2)
    p.add_argument("--max-per-class", type=int, default=None)
    for split in ("val", "test"):
        p.add_argument(f"--{split}-folder", default=None, help=f"separate {split} images (same classes)")
        p.add_argument(f"--{split}-min-per-class", type=int, default=2)
        p.add_argument(f"--{split}-max-per-class", type=int, default=None)
    p.add_argument("--seed", type=int, default=None, help="split/shuffle seed (random when omitted)")
    p.add_argument("--archive", default=None, help="uploaded archive of class folders to extract into --folder")
    p.add_argument("--max-extract-bytes", type=int, default=8 << 30)
    p.add_argument("--allowed-root", action="append", default=None,
                   help="only images inside these folders (symlinks resolved) are used")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 31)

    def warn(message):
        emit("warning", message=message)

    folder = args.folder
    if args.archive:
        print(f"extracting {args.archive}")
        folder = extract_archive(args.archive, args.folder, args.max_extract_bytes)
        emit("progress", value=0.25)
    roots = args.allowed_root
    if args.archive and roots:
        roots = roots + [os.path.realpath(args.folder)]
    pct_val = 0.0 if args.val_folder else args.pct_val
    pct_test = 0.0 if args.test_folder else args.pct_test
    labels, splits = parse_folder(folder, pct_val, pct_test, args.min_per_class,
                                  args.max_per_class, seed=seed, warn=warn, allowed_roots=roots)
    emit("progress", value=0.5)
    for split in ("val", "test"):
        other = getattr(args, f"{split}_folder")
        if other:
            _, extra = parse_folder(other, 0, 0, getattr(args, f"{split}_min_per_class"),
                                    getattr(args, f"{split}_max_per_class"), seed=seed,
                                    labels=labels, warn=warn, allowed_roots=roots)
            splits[split] = extra["train"]
            if not splits[split]:
                warn(f'no usable images in {split} folder "{other}"')
    # class-by-class order would make every DB page show one class; mix them (reproducibly)
    splits = {name: shuffled(items, f"{seed}:{name}") for name, items in splits.items()}
    summary = write_outputs(os.path.abspath(args.job_dir), labels, splits)
    emit("progress", value=1.0)
    emit("result", seed=seed, **summary)
    print(f"Found {sum(s['count'] for s in summary['splits'].values())} images in {len(labels)} classes: "
          + ", ".join(f"{k} {v['count']}" for k, v in summary["splits"].items()))
    return 0


if __name__ == "__main__":
    run_main(main)
