"""<split>.txt → <split>_db (LMDB of caffe Datums), plus the mean image for the train split.

python -m digits.tools.create_db --job-dir DIR --split train --height 28 --width 28 --channels 1
    [--resize-mode squash] [--encoding png] [--workers 0] [--seed 0] [--extension ID]

The data extension (image classification's unless --extension names another of label_kind "class")
says what the split holds: its label_names(), samples() and read() of each sample, in worker processes.
Samples read() skips are listed in <split>_skipped.json and dataset.json "skipped";
<split>.txt is rewritten to the lines actually stored. SIGTERM aborts: the DB is built in a
temporary folder, so an aborted run leaves the previous outputs untouched.
"""
import argparse
import json
import os
import shutil
import signal
import sys

from digits.dataset import files
from digits.dataset.build import build_db
from digits.dataset.images.classification.extension import EXTENSION_ID, ImageSpec
from digits.dataset.mean import save_mean
from digits.dataset.report import Progress, warn_skipped
from digits.extensions.data import get_extension
from digits.tools.common import emit, run_main
from digits.utils.disk import full_disk_named
from digits.utils.image import DEFAULT_RESIZE_MODE, ENCODINGS, RESIZE_MODES
from digits.utils.lmdb_io import db_size_bytes

ABORT_EXIT_CODE = 128 + signal.SIGTERM


class Aborted(Exception):
    pass


def _on_sigterm(signum, frame):
    # Once: a second SIGTERM must not interrupt the clean-up the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Aborted()


def build_parser():
    p = argparse.ArgumentParser(description="Create an LMDB of resized images for one split")
    p.add_argument("--job-dir", required=True)
    p.add_argument("--split", required=True, choices=files.SPLITS)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--channels", type=int, choices=(1, 3), default=3)
    p.add_argument("--resize-mode", choices=RESIZE_MODES, default=DEFAULT_RESIZE_MODE)
    p.add_argument("--encoding", choices=ENCODINGS, default="png")
    p.add_argument("--backend", choices=("lmdb",), default="lmdb")
    p.add_argument("--workers", type=int, default=0, help="decode/resize processes (0 = all cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the padding noise (fill, half_crop)")
    p.add_argument("--no-mean", action="store_true", help="skip the mean image (train split only)")
    p.add_argument("--min-per-class", type=int, default=1,
                   help="train split: warn about classes left with fewer images than this once "
                        "unreadable files are skipped")
    p.add_argument("--extension", default=EXTENSION_ID, help="the data extension that reads the samples")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.height < 1 or args.width < 1:
        raise ValueError(f"invalid image size {args.height}x{args.width}")
    job_dir = os.path.abspath(args.job_dir)
    extension = get_extension(args.extension)
    if extension.label_kind != "class":
        raise ValueError(f"create_db stores class ids; data extension {args.extension!r} has "
                         f"{extension.label_kind!r} labels (its datasets are made by create_generic_db)")
    spec = ImageSpec(args.height, args.width, args.channels, args.resize_mode, args.encoding, args.seed)
    params = spec.params(job_dir)
    labels = extension.label_names(params)
    items = extension.samples(params, args.split)
    if not items:
        raise ValueError(f"{args.split}.txt lists no images")
    want_mean = args.split == "train" and not args.no_mean

    db_name = f"{args.split}_db"
    final_dir = os.path.join(job_dir, db_name)
    tmp_dir = os.path.join(job_dir, f".{db_name}.tmp-{os.getpid()}")
    for name in os.listdir(job_dir):  # left by a run that was killed outright (SIGKILL, power loss)
        if name.startswith(f".{db_name}.tmp-"):
            shutil.rmtree(os.path.join(job_dir, name), ignore_errors=True)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with full_disk_named(job_dir):   # the job's error then says where, and how much was free
            result = build_db(extension, params, items, tmp_dir, spec, len(labels), args.workers, want_mean,
                              Progress())
            if not result.written:
                raise ValueError(f"none of the {len(items)} images in {args.split}.txt could be read "
                                 f"(first problem: {result.skipped[0]['path']}: {result.skipped[0]['reason']})")
            # From here on outputs are replaced one by one; ignore a late SIGTERM so they stay consistent.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _install_outputs(job_dir, args, spec, labels, result, tmp_dir, final_dir, want_mean)
    except Aborted:
        print(f"create_db {args.split}: aborted", file=sys.stderr)
        return ABORT_EXIT_CODE
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return 0


def _install_outputs(job_dir, args, spec, labels, result, tmp_dir, final_dir, want_mean):
    split = args.split
    warn_skipped(result.skipped, f"{split}_skipped.json")
    for entry in result.notes:   # to the task log: classification's report has no place for them
        print(f"{entry['path']}: {entry['note']}")
    few = _classes_below_minimum(labels, result.per_class, args.min_per_class) if split == "train" else []
    if os.path.exists(final_dir):
        shutil.rmtree(final_dir)
    os.replace(tmp_dir, final_dir)
    files.write_list(os.path.join(job_dir, f"{split}.txt"), result.written)
    files.atomic_write_json(os.path.join(job_dir, f"{split}_skipped.json"), result.skipped)
    if want_mean:
        mean = result.image_sum / len(result.written)
        save_mean(mean, os.path.join(job_dir, files.MEAN_FILE), os.path.join(job_dir, "mean.jpg"))
    db_size = db_size_bytes(final_dir)
    split_info = {"db": os.path.basename(final_dir), "count": len(result.written),
                  "per_class": result.per_class, "skipped": len(result.skipped),
                  "db_size": db_size, "seconds": round(result.seconds, 3)}
    if split == "train":
        split_info.update(min_per_class=args.min_per_class, classes_below_minimum=few)
    parse_skipped = _parse_skipped(job_dir)

    def update(info):
        info.update({"image_dims": [spec.height, spec.width, spec.channels],
                     "resize_mode": spec.resize_mode, "encoding": spec.encoding,
                     "backend": "lmdb", "num_classes": len(labels)})
        info.setdefault("splits", {})[split] = split_info
        others = [e for e in info.get("skipped", []) if e.get("split") not in (split, None)]
        info["skipped"] = parse_skipped + others + [dict(e, split=split) for e in result.skipped]
        if want_mean:
            info["mean_file"] = files.MEAN_FILE

    files.update_info(job_dir, update)
    rate = len(result.written) / result.seconds if result.seconds else None
    emit("result", **{f"{split}_count": len(result.written), f"{split}_skipped": len(result.skipped),
                      f"{split}_db_size": db_size, f"{split}_images_per_s": round(rate or 0, 1)})
    print(f"create_db {split}: {len(result.written)} images written, {len(result.skipped)} skipped, "
          f"{db_size} bytes, {result.seconds:.1f}s")


def _classes_below_minimum(labels, per_class, minimum):
    """[{"label", "name", "count"}] of the classes skipped files left short, with one warning naming them."""
    few = [{"label": k, "name": labels[k], "count": n} for k, n in enumerate(per_class) if n < minimum]
    if few:
        names = ", ".join(f'"{c["name"]}" ({c["count"]})' for c in few)
        emit("warning", message=f"{len(few)} class(es) have fewer than {minimum} training image(s) once "
                                f"unreadable files are skipped: {names}. A model cannot learn a class it "
                                "has (almost) no images of; fix or remove those files, or that class "
                                "folder, and create the dataset again.")
    return few


def _parse_skipped(job_dir):
    """parse_folder's list of files left out before splitting, as dataset.json "skipped" entries."""
    try:
        with open(os.path.join(job_dir, files.PARSE_SKIPPED_FILE), encoding="utf-8") as f:
            entries = json.load(f)
    except FileNotFoundError:
        return []
    return [{"path": e["path"], "reason": e["reason"], "split": None} for e in entries]


if __name__ == "__main__":
    run_main(main)
