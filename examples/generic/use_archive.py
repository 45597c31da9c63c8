#!/usr/bin/env python3
"""Run a generic model archive downloaded from DIGITS (/models/<id>/download) — no DIGITS needed.

    python use_archive.py ARCHIVE IMAGE [IMAGE ...] [--backend torchscript|onnx]

Prints JSON: {image: {"outputs": [raw values], ...what the task type makes of them}}, as the server's
infer_one.json answers: "values" for regression; "labels" (probability, on) for multi-label; the top
classes ("predictions") for classification. info.json in the archive says which task type it is.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "classification"))
from example import Classifier, read_labels  # noqa: E402
from preprocessing import Preprocessor, softmax  # noqa: E402
from use_archive import extract  # noqa: E402

THRESHOLD = 0.5   # multi-label: a label is on at this probability, as on the server


def answer(task_type, outputs, labels):
    def name(i):
        return labels[i] if i < len(labels) else str(i)
    if task_type == "regression":
        return {"values": [float(v) for v in outputs]}
    if task_type == "multilabel":
        probs = 1.0 / (1.0 + np.exp(-outputs))
        return {"labels": [{"label": name(i), "probability": round(float(p), 6), "on": bool(p >= THRESHOLD)}
                           for i, p in enumerate(probs)]}
    probs = softmax(outputs[None])[0]
    return {"predictions": [[name(int(i)), round(100.0 * float(probs[i]), 2)] for i in np.argsort(-probs)[:5]]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--backend", choices=("torchscript", "onnx"), default="torchscript")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        extract(args.archive, folder)
        with open(os.path.join(folder, "info.json"), encoding="utf-8") as f:
            info = json.load(f)
        model = Classifier(os.path.join(folder, "model.onnx" if args.backend == "onnx" else "model.ts"), args.backend)
        mean = os.path.join(folder, "mean.npy")
        preprocessor = Preprocessor(os.path.join(folder, "preprocess.json"), mean if os.path.exists(mean) else None)
        labels = read_labels(os.path.join(folder, "labels.txt"))
        results = {}
        for path in args.images:
            outputs = model.outputs(preprocessor(path)[None])[0].astype(np.float64)
            results[path] = {"outputs": outputs.tolist(),
                             **answer(info.get("task_type", "classification"), outputs, labels)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
