"""The list-file listing step of image classification (digits.tools.parse_textfile runs it): lists of
"path label" lines + a labels file → labels.txt + train.txt/val.txt/test.txt in the job folder.

With --allowed-root, a listed image outside those folders (symlinks resolved) is an error.
"""
import argparse
import os
import random

from digits.dataset import files
from digits.dataset.parse import shuffled, write_outputs
from digits.tools.common import emit


def build_parser():
    p = argparse.ArgumentParser(prog="python -m digits.tools.parse_textfile",
                                description="Check and copy textfile lists into a dataset job folder")
    p.add_argument("--job-dir", required=True)
    p.add_argument("--labels-file", required=True, help="one class name per line")
    for split in files.SPLITS:
        p.add_argument(f"--{split}-list", required=(split == "train"), default=None)
        p.add_argument(f"--{split}-folder", default=None,
                       help=f"base folder for relative paths in the {split} list "
                            "(default: the list file's folder)")
    p.add_argument("--shuffle", action="store_true", help="shuffle each list (reproducible with --seed)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--allowed-root", action="append", default=None,
                   help="listed images must be inside these folders")
    return p


def _root_checker(roots):
    if not roots:
        return None

    def check(path):
        if not files.inside_roots(path, roots):
            raise ValueError(f'image "{path}" is outside the folders this server may read')
    return check


def run(argv):
    """Runs the step for a parse_textfile command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    labels = files.read_labels(args.labels_file)
    if len(labels) < 2:
        emit("warning", message=f"the labels file lists only {len(labels)} class")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 31)
    splits = {}
    check = _root_checker(args.allowed_root)
    for split in files.SPLITS:
        path = getattr(args, f"{split}_list")
        if not path:
            continue
        base = getattr(args, f"{split}_folder")
        if base and not os.path.isdir(base):
            raise files.ListFileError(f'{split} base folder "{base}" does not exist')
        # without a base folder, relative paths are relative to the list file itself
        base = base or os.path.dirname(os.path.abspath(path))
        items = files.read_list(path, len(labels), base_folder=base, check_path=check,
                                display_name=f"{split} list ({os.path.basename(path)})")
        if not items:
            raise files.ListFileError(f'{split} list "{os.path.basename(path)}" has no images')
        items = [(os.path.abspath(p), label) for p, label in items]
        splits[split] = shuffled(items, f"{seed}:{split}") if args.shuffle else items
    summary = write_outputs(os.path.abspath(args.job_dir), labels, splits)
    emit("progress", value=1.0)
    emit("result", seed=seed, **summary)
    print("Lists: " + ", ".join(f"{k} {v['count']}" for k, v in summary["splits"].items()))
    return 0

