"""The folder listing step of image classification (digits.tools.parse_folder runs it): a folder of
class subfolders → labels.txt + train.txt/val.txt/test.txt in the job folder.

With --archive, the uploaded .zip/.tar is first extracted (safely) into --folder; if parsing then
fails, the extracted copy is removed (the archive stays, so the job can be resumed).
With --allowed-root, images whose real path is outside those folders are left out.
Every image file's header is checked (on all cores) before the classes are fixed: unreadable files
are left out and listed in parse_skipped.json, and a class left too small is dropped with a warning.
"""
import argparse
import os
import random

from digits.dataset import files
from digits.dataset.archive import extract_archive, remove_quietly
from digits.dataset.check import check_images
from digits.dataset.parse import (ParseError, check_limits, find_classes, keep_readable, shuffled, split_classes,
                                  write_outputs)
from digits.dataset.report import Progress, warn_skipped
from digits.tools.common import emit

EXTRACT_SHARE, WALK_SHARE, CHECK_END = 0.2, 0.1, 0.95   # of the task's progress


def build_parser():
    p = argparse.ArgumentParser(prog="python -m digits.tools.parse_folder",
                                description="Parse a folder of class subfolders into split lists")
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
    p.add_argument("--workers", type=int, default=0, help="processes checking image files (0 = all cores)")
    return p


def _warn(message):
    emit("warning", message=message)


def run(argv):
    """Runs the step for a parse_folder command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 31)
    check_limits(args.min_per_class, args.max_per_class)
    for split in ("val", "test"):
        check_limits(getattr(args, f"{split}_min_per_class"), getattr(args, f"{split}_max_per_class"))
    if not args.archive:
        labels, splits, skipped = _parse(args, args.folder, None, seed, start=0.0)
    else:
        print(f"extracting {args.archive}")
        remove_quietly(args.folder)  # what a run killed mid-extraction left
        try:
            folder = extract_archive(args.archive, args.folder, args.max_extract_bytes,
                                     on_progress=Progress(0.0, EXTRACT_SHARE))
            # messages name the upload, not the job folder it was extracted into
            labels, splits, skipped = _parse(args, folder, "the uploaded archive", seed, start=EXTRACT_SHARE)
        except BaseException:
            remove_quietly(args.folder)
            raise
    # class-by-class order would make every DB page show one class; mix them (reproducibly)
    splits = {name: shuffled(items, f"{seed}:{name}") for name, items in splits.items()}
    job_dir = os.path.abspath(args.job_dir)
    summary = write_outputs(job_dir, labels, splits)
    files.atomic_write_json(os.path.join(job_dir, files.PARSE_SKIPPED_FILE), skipped)
    emit("progress", value=1.0)
    emit("result", seed=seed, parse_skipped=len(skipped), **summary)
    print(f"Found {sum(s['count'] for s in summary['splits'].values())} images in {len(labels)} classes: "
          + ", ".join(f"{k} {v['count']}" for k, v in summary["splits"].items())
          + f"; {len(skipped)} unreadable file(s) left out")
    return 0


def _parse(args, folder, shown, seed, start):
    """Walks every folder, checks all their files in one go, then fixes labels and splits."""
    roots = args.allowed_root
    if args.archive and roots:
        roots = roots + [os.path.realpath(args.folder)]
    sources = {"train": (folder, shown or f'folder "{folder}"', args.max_per_class)}
    for split in ("val", "test"):
        other = getattr(args, f"{split}_folder")
        if other:
            sources[split] = (other, f'{split} folder "{other}"', getattr(args, f"{split}_max_per_class"))
    walk_end = start + WALK_SHARE
    found = {}
    for split, (path, name, _) in sources.items():
        walk = Progress(start, walk_end) if split == "train" else None
        found[split] = find_classes(path, seed, roots, _warn, on_progress=walk, shown=name)
    if len(found["train"]) < 2:
        raise ParseError(f"{sources['train'][1]} must contain at least two class subfolders "
                         f"(found {len(found['train'])})")

    def capped(split):
        cap = sources[split][2]
        return sum(min(len(paths), cap or len(paths)) for _, paths in found[split])
    total = sum(capped(split) for split in sources)
    progress, offset = Progress(walk_end, CHECK_END), 0
    kept, skipped = {}, []

    def check(paths, on_progress):
        return check_images(paths, args.workers, on_progress)
    for split, (_, name, cap) in sources.items():
        def report(done, _, base=offset):
            progress(base + done, total)
        where = "" if split == "train" else f" of the {name}"
        kept[split], bad = keep_readable(found[split], check, cap, _warn, report, where)
        skipped += bad
        offset += capped(split)
    skipped.sort(key=lambda entry: entry["path"])
    warn_skipped(skipped, files.PARSE_SKIPPED_FILE)

    pct_val = 0.0 if args.val_folder else args.pct_val
    pct_test = 0.0 if args.test_folder else args.pct_test
    labels, splits = split_classes(kept["train"], pct_val, pct_test, args.min_per_class, warn=_warn,
                                   shown=sources["train"][1])
    for split in ("val", "test"):
        if split in sources:
            _, extra = split_classes(kept[split], 0, 0, getattr(args, f"{split}_min_per_class"), labels=labels,
                                     warn=_warn, shown=sources[split][1])
            splits[split] = extra["train"]
            if not splits[split]:
                _warn(f"no usable images in the {sources[split][1]}")
    return labels, splits, skipped

