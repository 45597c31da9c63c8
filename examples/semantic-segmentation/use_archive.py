#!/usr/bin/env python3
"""Segment images with a segmentation model archive downloaded from DIGITS (/models/<id>/download) — no DIGITS needed.

    python use_archive.py ARCHIVE IMAGE [IMAGE ...] [--out DIR] [--backend torchscript|onnx|python]

ARCHIVE is the .tar.gz, .tar or .zip as downloaded, or the folder it was extracted into. For each image it
writes DIR/<image name>_mask.png (DIR: the current folder unless --out): the predicted classes painted with
the model's colormap (colormap.json), at the image's own size — the same PNG, pixel for pixel, as the
server's colour mask (infer_one.json's "mask_png", drawn by the image-segmentation view). Prints JSON
{image: {"mask_png": the file written, "classes": [names], "pixels_per_class": [count per class id]}}.

The steps are the server's: the image is prepared as for any model (../classification/preprocessing.py:
resized to the network's size with the model's resize mode, mean, crop, scale), the network gives K score
maps, the mask is their argmax (the first highest class of a pixel), resized back to the image's size
nearest (a target pixel i takes the source pixel floor((i + 1/2) · source size / target size)), painted.

The network runs from model.ts (TorchScript) when the archive has it, from model.onnx with --backend onnx
(needs onnxruntime), else from network.py and weights.pt. Needs torch, numpy and Pillow.
"""
import argparse
import json
import os
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "classification"))
from example import Classifier, read_labels  # noqa: E402
from preprocessing import Preprocessor, load  # noqa: E402

FILES = ("preprocess.json", "labels.txt", "colormap.json", "model.ts", "model.onnx", "weights.pt", "network.py",
         "mean.npy", "info.json")


def unpack(archive, dest):
    """The folder holding the archive's files: the folder given, or dest with the known top-level files
    written into it (never paths with folders, never links)."""
    if os.path.isdir(archive):
        return archive
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            contents = {name: z.read(name) for name in set(z.namelist()) & set(FILES)}
    else:
        with tarfile.open(archive, "r:*") as t:
            contents = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.name in FILES and m.isfile()}
    for name, data in contents.items():
        with open(os.path.join(dest, name), "wb") as out:
            out.write(data)
    return dest


class BuiltNetwork:
    """The network built from network.py with weights.pt, for an archive without (or instead of) model.ts."""

    def __init__(self, folder, params):
        import torch
        self.torch = torch
        with open(os.path.join(folder, "network.py"), encoding="utf-8") as f:
            namespace = {"__name__": "network"}
            exec(compile(f.read(), "network.py", "exec"), namespace)  # noqa: S102 - the model's own definition
        build = namespace.get("build") or namespace["network"]
        crop = params.get("crop_size")
        self.module = build((params["channels"], crop or params["height"], crop or params["width"]),
                            params["num_classes"])
        self.module.load_state_dict(torch.load(os.path.join(folder, "weights.pt"), map_location="cpu",
                                               weights_only=True))
        self.module.eval()

    def outputs(self, batch):
        with self.torch.no_grad():
            return self.module(self.torch.from_numpy(batch)).numpy()


def network(folder, params, backend):
    if backend == "onnx":
        return Classifier(os.path.join(folder, "model.onnx"), "onnx")
    if backend == "torchscript" or (backend is None and os.path.exists(os.path.join(folder, "model.ts"))):
        return Classifier(os.path.join(folder, "model.ts"), "torchscript")
    return BuiltNetwork(folder, params)


def resize_nearest(mask, height, width):
    """The mask at height×width, nearest, in integers (the server's rule: every implementation agrees)."""
    rows = (2 * np.arange(height) + 1) * mask.shape[0] // (2 * height)
    cols = (2 * np.arange(width) + 1) * mask.shape[1] // (2 * width)
    return mask[rows[:, None], cols[None, :]]


def colour_mask(mask, colormap):
    """uint8 H×W×3: each pixel in its class's colour (black for an id the colormap lacks)."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(colormap)] = np.asarray(colormap, dtype=np.uint8).reshape(-1, 3)[:256]
    return lut[mask]


def segment(model, preprocessor, path):
    """The mask of class ids (uint8 H×W) of an image file, at its own size."""
    width, height = load(path).size
    scores = model.outputs(preprocessor(path)[None])[0]
    return resize_nearest(scores.argmax(axis=0).astype(np.uint8), height, width)


def mask_file(out_dir, path, taken):
    """out_dir/<image name>_mask.png, numbered when two images have the same name."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name, count = f"{stem}_mask.png", 1
    while name in taken:
        count += 1
        name = f"{stem}_{count}_mask.png"
    taken.add(name)
    return os.path.join(out_dir, name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--out", default=".", help="folder the mask PNGs are written into")
    parser.add_argument("--backend", choices=("torchscript", "onnx", "python"),
                        help="model.ts (default when there is one), model.onnx, or network.py + weights.pt")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = unpack(args.archive, scratch)
        with open(os.path.join(folder, "preprocess.json"), encoding="utf-8") as f:
            params = json.load(f)
        if not os.path.exists(os.path.join(folder, "colormap.json")):
            raise SystemExit("the archive has no colormap.json: not a segmentation model (see examples/generic)")
        with open(os.path.join(folder, "colormap.json"), encoding="utf-8") as f:
            colormap = json.load(f)["colormap"]
        mean = os.path.join(folder, "mean.npy")
        preprocessor = Preprocessor(os.path.join(folder, "preprocess.json"), mean if os.path.exists(mean) else None)
        model = network(folder, params, args.backend)
        classes = read_labels(os.path.join(folder, "labels.txt"))
        classes += [str(i) for i in range(len(classes), params["num_classes"])]
        results, taken = {}, set()
        for path in args.images:
            mask = segment(model, preprocessor, path)
            written = mask_file(args.out, path, taken)
            Image.fromarray(colour_mask(mask, colormap)).save(written, format="PNG")
            results[path] = {"mask_png": written, "classes": classes,
                             "pixels_per_class": np.bincount(mask.ravel(), minlength=len(classes)).tolist()}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
