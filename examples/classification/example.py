#!/usr/bin/env python3
"""Classify images with the files of a downloaded DIGITS model — no DIGITS needed.

    python example.py --model model.ts --preprocess preprocess.json --labels labels.txt \\
        [--mean mean.npy] IMAGE [IMAGE ...]

--model takes the TorchScript file (model.ts, needs torch) or the ONNX file (model.onnx, needs
onnxruntime). Prints the top 5 classes with their probabilities for each image (--json for a
machine-readable answer: {image: [[label, probability], ...]}).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from preprocessing import Preprocessor, softmax, top_k  # noqa: E402


class Classifier:
    """Runs a TorchScript or ONNX export on preprocessed batches; returns probabilities."""

    def __init__(self, model_path, backend=None):
        backend = backend or ("onnx" if model_path.endswith(".onnx") else "torchscript")
        self.backend = backend
        if backend == "onnx":
            import onnxruntime
            self.session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
            self.input_name = self.session.get_inputs()[0].name
        else:
            import torch
            self.torch = torch
            self.module = torch.jit.load(model_path, map_location="cpu").eval()

    def outputs(self, batch):
        """The network's raw outputs (N×K) for a preprocessed batch."""
        if self.backend == "onnx":
            return self.session.run(None, {self.input_name: batch})[0]
        with self.torch.no_grad():
            return self.module(self.torch.from_numpy(batch)).numpy()

    def probabilities(self, batch):
        return softmax(self.outputs(batch))


def read_labels(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def classify(classifier, preprocessor, labels, images, k=5):
    """{image: [(label, probability)] best first}."""
    results = {}
    for path in images:
        probabilities = classifier.probabilities(preprocessor(path)[None])[0]
        results[path] = top_k(probabilities, labels, k)
    return results


def print_results(results, as_json=False):
    if as_json:
        print(json.dumps({path: [[label, p] for label, p in top] for path, top in results.items()}))
        return
    for path, top in results.items():
        print(path)
        for label, p in top:
            print(f"  {100 * p:8.4f}%  {label}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--model", required=True, help="model.ts (TorchScript) or model.onnx")
    parser.add_argument("--preprocess", required=True, help="preprocess.json")
    parser.add_argument("--labels", required=True, help="labels.txt")
    parser.add_argument("--mean", help="mean.npy (needed when preprocess.json subtracts a mean)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    results = classify(Classifier(args.model), Preprocessor(args.preprocess, args.mean), read_labels(args.labels),
                       args.images)
    print_results(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
