#!/usr/bin/env python3
"""Detect objects with a detection model archive downloaded from DIGITS (/models/<id>/download) — no DIGITS needed.

    python use_archive.py ARCHIVE IMAGE [IMAGE ...] [--threshold 0.5]

ARCHIVE is the .tar.gz, .tar or .zip as downloaded, or the folder it was extracted into. Prints JSON
{image: {"outputs": [[x1, y1, x2, y2, score, class_id], ...], "detections": [{"label", "score", "box"}]}},
as the server's /models/images/generic/infer_one.json answers: the network's raw rows (in its input's
pixels) and the detections in the image's own pixels, the dataset's padding and resizing undone,
those scoring at least --threshold (default 0, like the server's JSON).

The network runs from model.ts (TorchScript) when the archive has it, else from network.py and
weights.pt (a network that could not be exported). Needs torch, numpy and Pillow — and torchvision
for a network that uses its NMS (the standard detectors do).
"""
import argparse
import io
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
from example import read_labels  # noqa: E402
from preprocessing import Preprocessor, load  # noqa: E402

FILES = ("preprocess.json", "labels.txt", "model.ts", "weights.pt", "network.py", "mean.npy", "info.json")


def unpack(archive, dest):
    """The folder holding the archive's files: the folder given, or dest with the known top-level files
    extracted (never paths with folders, never links)."""
    if os.path.isdir(archive):
        return archive
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in set(z.namelist()) & set(FILES):
                with open(os.path.join(dest, name), "wb") as out:
                    out.write(z.read(name))
        return dest
    with tarfile.open(archive, "r:*") as t:
        for member in t.getmembers():
            if member.name in FILES and member.isfile():
                with t.extractfile(member) as src, open(os.path.join(dest, member.name), "wb") as out:
                    out.write(src.read())
    return dest


# ----- the dataset's geometry (preprocess.json "geometry"), as the server applies it at inference

def _squash(arr, height, width):
    if arr.shape[:2] == (height, width):
        return arr
    return np.asarray(Image.fromarray(arr).resize((width, height), Image.BILINEAR))


def prepare(image, geometry, channels):
    """(uint8 array at the network's size, transform) of a PIL image: converted to the model's channels,
    scaled down (aspect kept) when larger than the padding size, padded right and bottom with zeros to
    it, then resized bilinearly. transform: {"original": [h, w], "scale": [sx, sy]} (network x = x · sx)."""
    mode = "L" if channels == 1 else "RGB"
    arr = np.asarray(image.convert(mode) if image.mode != mode else image, dtype=np.uint8)
    h, w = arr.shape[:2]
    sx = sy = 1.0
    if geometry.get("pad"):
        ph, pw = geometry["pad"]
        if h > ph or w > pw:
            scale = min(ph / h, pw / w)
            fh, fw = max(1, min(ph, round(h * scale))), max(1, min(pw, round(w * scale)))
            arr = _squash(arr, fh, fw)
            sx, sy = fw / w, fh / h
        padded = np.zeros((ph, pw) + arr.shape[2:], dtype=np.uint8)
        padded[:arr.shape[0], :arr.shape[1]] = arr
        arr = padded
    if geometry.get("resize"):
        (rh, rw), (ch, cw) = geometry["resize"], arr.shape[:2]
        arr = _squash(arr, rh, rw)
        sx, sy = sx * rw / cw, sy * rh / ch
    return arr, {"original": [h, w], "scale": [sx, sy]}


def to_original(box, transform):
    """[x1, y1, x2, y2] in the network's input → in the original image, clipped to it."""
    (h, w), (sx, sy) = transform["original"], transform["scale"]
    return np.clip(np.asarray(box, dtype=np.float64) / [sx, sy, sx, sy], 0, [w, h, w, h])


# ----- the network and its answer

class Detector:
    def __init__(self, folder, params):
        import torch
        try:   # registers the torchvision::nms operator that a detector's TorchScript calls
            import torchvision  # noqa: F401
        except ImportError:
            pass
        self.torch = torch
        if os.path.exists(os.path.join(folder, "model.ts")):
            self.module = torch.jit.load(os.path.join(folder, "model.ts"), map_location="cpu")
        else:
            self.module = self._built(folder, params)
        self.module.eval()

    def _built(self, folder, params):
        with open(os.path.join(folder, "network.py"), encoding="utf-8") as f:
            namespace = {"__name__": "network"}
            exec(compile(f.read(), "network.py", "exec"), namespace)  # noqa: S102 - the model's own definition
        build = namespace.get("build") or namespace["network"]
        crop = params.get("crop_size")
        shape = (params["channels"], crop or params["height"], crop or params["width"])
        module = build(shape, params["num_classes"])
        module.load_state_dict(self.torch.load(os.path.join(folder, "weights.pt"), map_location="cpu",
                                               weights_only=True))
        return module

    def rows(self, x):
        """float32 C×H×W (preprocessed) → float64 D×6 rows [x1, y1, x2, y2, score, class_id]."""
        with self.torch.no_grad():
            return self.module(self.torch.from_numpy(x[None]))[0].double().numpy()


def detections(rows, transform, labels, threshold):
    """The rows that are detections (a class id ≥ 1: 0 is DontCare, -1 an unused row) scoring ≥ threshold,
    in the network's order (best first)."""
    found = []
    for x1, y1, x2, y2, score, class_id in rows:
        if class_id < 1 or score < threshold:
            continue
        cls = int(class_id)
        found.append({"label": labels[cls] if cls < len(labels) else str(cls), "score": float(score),
                      "box": [float(v) for v in to_original([x1, y1, x2, y2], transform)]})
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--threshold", type=float, default=0.0, help="lowest score answered (0..1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = unpack(args.archive, scratch)
        with open(os.path.join(folder, "preprocess.json"), encoding="utf-8") as f:
            params = json.load(f)
        if not params.get("geometry"):
            raise SystemExit("preprocess.json has no geometry: not a detection model (see examples/generic)")
        mean = os.path.join(folder, "mean.npy")
        normalize = Preprocessor(os.path.join(folder, "preprocess.json"), mean if os.path.exists(mean) else None)
        detector = Detector(folder, params)
        labels = read_labels(os.path.join(folder, "labels.txt"))
        results = {}
        for path in args.images:
            arr, transform = prepare(load(path), params["geometry"], params["channels"])
            png = io.BytesIO()   # the classification example's normalization, unchanged, reads an image file
            Image.fromarray(arr).save(png, format="PNG")
            rows = detector.rows(normalize(io.BytesIO(png.getvalue())))
            results[path] = {"outputs": rows.tolist(),
                             "detections": detections(rows, transform, labels, args.threshold)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
