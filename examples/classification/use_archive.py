#!/usr/bin/env python3
"""Classify images with a model archive downloaded from DIGITS (/models/<id>/download) — no DIGITS needed.

    python use_archive.py ARCHIVE IMAGE [IMAGE ...] [--backend torchscript|onnx] [--json]

ARCHIVE is the .tar.gz, .tar or .zip as downloaded. Prints the top 5 classes of each image.
"""
import argparse
import os
import sys
import tarfile
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from example import Classifier, classify, print_results, read_labels  # noqa: E402
from preprocessing import Preprocessor  # noqa: E402

NEEDED = ("preprocess.json", "labels.txt", "model.ts", "model.onnx", "mean.npy", "info.json")


def extract(archive, dest):
    """Extracts the known top-level files only (never paths with folders, never links)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if name in NEEDED:
                    with open(os.path.join(dest, name), "wb") as out:
                        out.write(z.read(name))
        return
    with tarfile.open(archive, "r:*") as t:
        for member in t.getmembers():
            if member.name in NEEDED and member.isfile():
                with t.extractfile(member) as src, open(os.path.join(dest, member.name), "wb") as out:
                    out.write(src.read())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--backend", choices=("torchscript", "onnx"), default="torchscript")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        extract(args.archive, folder)
        model = os.path.join(folder, "model.onnx" if args.backend == "onnx" else "model.ts")
        mean = os.path.join(folder, "mean.npy")
        results = classify(Classifier(model, args.backend),
                           Preprocessor(os.path.join(folder, "preprocess.json"), mean if os.path.exists(mean) else None),
                           read_labels(os.path.join(folder, "labels.txt")), args.images)
    print_results(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
