"""Deploy files of a loaded model: weights.pt (state_dict), model.ts (TorchScript), model.onnx, and for a
Caffe (prototxt) network snapshot.caffemodel + deploy.prototxt (digits.frameworks.caffemodel's conventions).

Exports run on a CPU copy of the network, in eval mode, for an input batch of any size named
"data" (N×C×H×W float32, already preprocessed) with output "logits" (N×K; apply softmax; a segmentation
model's N×K×H×W, a score map per class) — a detection model's (preprocess.json "postprocess") is
"detections" (N×D×6 rows [x1, y1, x2, y2, score, class_id]).
Each export is checked against the PyTorch module on a sample batch before it is kept (one that answers a
single image only, as a traced per-image loop does, is kept with "batch_size": 1). An export asked
for as optional that fails (ONNX of a network whose NMS the exporters cannot express) is answered
{"error": why} and its file is not written.
"""
import contextlib
import functools
import io
import os
import re
import warnings

import torch

from digits.frameworks.caffemodel import DEPLOY_FILE, SNAPSHOT_FILE
from digits.inference.errors import ModelError

FILES = {"weights": "weights.pt", "torchscript": "model.ts", "onnx": "model.onnx", "caffemodel": SNAPSHOT_FILE}
INPUT_NAME, OUTPUT_NAME, DETECTIONS_NAME = "data", "logits", "detections"
TOLERANCE = 1e-4


def output_name(pre):
    return OUTPUT_NAME if pre.postprocess is None else DETECTIONS_NAME


def export(loaded, out_dir, formats=("weights", "torchscript", "onnx"), optional=(), spec=None):
    """Writes the requested files into out_dir (atomically each); returns {format: details}.
    spec: the model spec (loader.py), which "caffemodel" reads the network file of."""
    unknown = [f for f in formats if f not in FILES]
    if unknown:
        raise ModelError(f"unknown export format(s) {unknown}; use {', '.join(FILES)}", status=400)
    os.makedirs(out_dir, exist_ok=True)
    module = loaded.module
    module_device = next(module.parameters(), torch.zeros(0)).device
    module.to("cpu")
    try:
        sample = torch.rand(2, *loaded.pre.output_shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = module(sample)
        done, exporters = {}, dict(_EXPORTERS, caffemodel=functools.partial(_caffemodel, loaded, spec))
        for fmt in formats:
            path = os.path.join(out_dir, FILES[fmt])
            tmp = f"{path}.tmp-{os.getpid()}"
            try:
                done[fmt] = dict(exporters[fmt](module, sample, expected, tmp, output_name(loaded.pre)),
                                 file=FILES[fmt])
                os.replace(tmp, path)
            except ModelError as exc:
                if fmt not in optional:
                    raise
                done[fmt] = {"error": str(exc)}
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return done
    finally:
        module.to(module_device)


def _weights(module, sample, expected, path, output):
    torch.save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, path)
    return {}


def _torchscript(module, sample, expected, path, output):
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # trace is "deprecated" in favour of torch.export, still supported
        try:
            traced = torch.jit.trace(module, sample[:1], check_trace=False)
        except Exception as exc:
            raise ModelError(f"TorchScript export failed: {type(exc).__name__}: {exc}", status=500) from None
    traced.save(path)
    loaded = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        return _verified("TorchScript", loaded, sample, expected)


def _onnx(module, sample, expected, path, output):
    """The torch.export-based exporter first; the TorchScript-based one when that cannot trace the net."""
    errors = []
    for dynamo in (True, False):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                if dynamo:
                    torch.onnx.export(module, (sample[:1],), path, input_names=[INPUT_NAME],
                                      output_names=[output], dynamo=True, verbose=False,
                                      external_data=False,   # one self-contained file in the archive
                                      dynamic_shapes=({0: torch.export.Dim("batch")},))
                else:
                    torch.onnx.export(module, (sample[:1],), path, input_names=[INPUT_NAME],
                                      output_names=[output], dynamo=False,
                                      dynamic_axes={INPUT_NAME: {0: "batch"}, output: {0: "batch"}})
            details = _verified("ONNX", lambda batch: torch.from_numpy(_run_onnx(path, batch)), sample, expected)
            return dict(details, exporter="dynamo" if dynamo else "torchscript")
        except Exception as exc:  # noqa: BLE001 - try the other exporter, report both if both fail
            errors.append(f"{'torch.export' if dynamo else 'TorchScript'}-based exporter: {_first_line(exc)}")
    raise ModelError("ONNX export failed — " + " | ".join(errors), status=500)


def _caffemodel(loaded, spec, module, sample, expected, path, output):
    """snapshot.caffemodel + deploy.prototxt, checked by building the deploy network with our engine, loading
    the caffemodel into it by layer name and comparing its outputs. "applies_scale": deploy.prototxt scales its
    input itself (DIGITS' LeNet: a Power layer), so it takes the preprocessed input before preprocess.json's scale."""
    if not spec or spec.get("framework") != "caffe":
        raise ModelError("a .caffemodel is written for Caffe (prototxt) networks only", status=400)
    try:
        data, deploy, details = _caffe_files(loaded, spec, module, sample, expected)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure leaves this export out, named in info.json
        raise ModelError(f"Caffe export failed: {_first_line(exc)}", status=500) from None
    with open(path, "wb") as f:
        f.write(data)
    deploy_path = os.path.join(os.path.dirname(path), DEPLOY_FILE)
    with open(f"{deploy_path}.tmp", "w", encoding="utf-8") as f:
        f.write(deploy)
    os.replace(f"{deploy_path}.tmp", deploy_path)
    return details


def _caffe_files(loaded, spec, module, sample, expected):
    from digits.frameworks import build_network, caffemodel
    pre = loaded.pre
    with open(os.path.join(spec["dir"], spec["network_file"]), encoding="utf-8") as f:
        data, deploy = caffemodel.write(module, f.read(), pre.output_shape,
                                        add_softmax=loaded.network.loss == "SoftmaxWithLoss")
    rebuilt = build_network("caffe", deploy, pre.output_shape, None).module.eval()   # sizes are written out
    report = caffemodel.load(rebuilt, data, channels=pre.output_shape[0])
    if report["unmatched"] or report["missing"]:
        raise ModelError(f"Caffe export failed: the deploy network does not take every layer back "
                         f"({caffemodel.summary(report) or ', '.join(report['missing'])})", status=500)
    applies_scale = False
    with torch.no_grad():
        try:
            _check("Caffe", rebuilt(sample), expected)
        except ModelError:
            if pre.scale == 1:
                raise
            _check("Caffe", rebuilt(sample / pre.scale), expected)   # raises when that differs too
            applies_scale = True
    return data, deploy, {"deploy": DEPLOY_FILE, "applies_scale": applies_scale, "layers": report["loaded"]}


def _first_line(exc):
    """"Type: first line of the message", without the terminal colours torch.export's messages carry."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _run_onnx(path, batch):
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0]


def _verified(what, run, sample, expected):
    """{} when the export answers the sample batch as the network does; {"batch_size": 1} when it does so
    for one image only (a network that loops over its images, as detectors do, traces for the batch it
    saw); else ModelError saying how it differs."""
    try:
        _check(what, run(sample), expected)
        return {}
    except Exception as exc:  # noqa: BLE001 - a traced loop fails on another batch size in many ways
        failure = exc if isinstance(exc, ModelError) else ModelError(
            f"{what} export does not run on a batch of {len(sample)}: {_first_line(exc)}", status=500)
    try:
        _check(what, run(sample[:1]), expected[:1])
    except Exception:  # noqa: BLE001 - the whole batch's failure says more
        raise failure from None
    return {"batch_size": 1}


def _check(what, got, expected):
    if tuple(got.shape) != tuple(expected.shape):
        raise ModelError(f"{what} export gives shape {tuple(got.shape)}, the network {tuple(expected.shape)}",
                         status=500)
    diff = float((got.double() - expected.double()).abs().max())
    if not diff <= TOLERANCE * max(1.0, float(expected.abs().max())):
        raise ModelError(f"{what} export differs from the network by {diff:g}", status=500)


_EXPORTERS = {"weights": _weights, "torchscript": _torchscript, "onnx": _onnx}
