"""The standard detection networks follow docs/detection.md §2: they build and pass the detection checks,
train a step on N×M×5 targets (padding and DontCare rows never trained as objects), answer a fixed
N×D×6 in eval mode, and export (detectnet_small: TorchScript and ONNX, any batch size)."""
import contextlib
import io
import warnings

import pytest
import torch

from digits.frameworks import NetworkError, build_network
from digits.networks import DETECTION_NETWORKS, NAMES, STANDARD_NETWORKS, networks_for, standard_network

SHAPE = (3, 64, 64)
CLASSES = 3   # DontCare, car, person
TARGETS = torch.tensor([[[1, 8, 8, 28, 28], [2, 36, 30, 52, 60], [-1, 0, 0, 0, 0]],
                        [[2, 30, 4, 44, 34], [0, 0, 40, 20, 60], [-1, 0, 0, 0, 0]]], dtype=torch.float32)


def build(name, shape=SHAPE):
    return build_network("torch", standard_network(name, "torch", "detection"), shape, CLASSES).module


@pytest.mark.parametrize("name", [n.name for n in DETECTION_NETWORKS])
def test_builds_trains_a_step_and_answers_fixed_detections(name):
    torch.manual_seed(0)
    module = build(name)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    module.train()
    losses = module(torch.rand(2, *SHAPE), TARGETS)
    assert losses and all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    before = [p.detach().clone() for p in module.parameters()]
    sum(losses.values()).backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
    module.eval()
    with torch.no_grad():
        out = module(torch.rand(3, *SHAPE))
    assert out.shape == (3, module.max_detections, 6)
    scores, classes = out[..., 4], out[..., 5]
    assert (scores[:, :-1] >= scores[:, 1:]).all()                    # best first
    assert ((classes == -1) == (scores == 0)).all()                   # unused rows: score 0, class -1
    assert set(classes[scores > 0].long().tolist()) <= {1, 2}          # never DontCare


def _grad_inside(module, targets):
    """Gradient of the coverage loss at the cells of the DontCare box of image 1, and elsewhere."""
    features = torch.randn(2, 2, 8, 8, requires_grad=True)
    bbox = torch.zeros(2, 4, 8, 8)
    module.loss(features, bbox, targets)["coverage"].backward()
    grad = features.grad[1].abs().sum(0)          # cell size 8: the box 0..20 × 40..60 holds cells x 0-1, y 5-6
    return float(grad[5:7, 0:2].sum()), float(grad.sum())


def test_detectnet_loss_ignores_padding_and_dontcare():
    module = build("detectnet_small")
    coverage, bbox = torch.randn(2, 2, 8, 8), torch.randn(2, 4, 8, 8)
    padded = torch.cat([TARGETS, torch.tensor([[-1.0, 0, 0, 0, 0]]).expand(2, 4, 5)], 1)
    plain, more = module.loss(coverage, bbox, TARGETS), module.loss(coverage, bbox, padded)
    assert all(torch.allclose(plain[k], more[k]) for k in plain)
    inside, total = _grad_inside(module, TARGETS)
    assert inside == 0.0 and total > 0                # a DontCare region is neither object nor background
    relabelled = TARGETS.clone()
    relabelled[1, 1, 0] = 1                            # the same box as a car: now it is trained
    assert _grad_inside(module, relabelled)[0] > 0
    empty = module.loss(coverage, bbox, torch.zeros(2, 0, 5))
    assert float(empty["bbox"]) == 0.0 and torch.isfinite(empty["coverage"])


def test_fasterrcnn_leaves_dontcare_and_padding_out_of_its_targets():
    module = build("fasterrcnn_mobilenet")
    module.train()
    x = torch.rand(2, *SHAPE)
    without = TARGETS.clone()
    without[1, 1] = torch.tensor([-1.0, 0, 0, 0, 0])   # the DontCare row made padding
    results = []
    for targets in (TARGETS, without):
        torch.manual_seed(1)                          # the same proposal sampling
        results.append({k: float(v.detach()) for k, v in module(x, targets).items()})
    assert results[0] == results[1]
    assert set(results[0]) == {"classifier", "box_reg", "objectness", "rpn_box_reg"}


def test_detectnet_small_exports_for_any_batch_size(tmp_path):
    torch.manual_seed(0)
    module = build("detectnet_small").eval()
    torch.nn.init.normal_(module.coverage.weight, std=0.5)   # spread scores: no ties to order differently
    torch.nn.init.normal_(module.bbox.weight, std=0.5)
    x = torch.rand(3, *SHAPE)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = module(x)
        traced = torch.jit.trace(module, x[:1], check_trace=False)
        traced.save(str(tmp_path / "model.ts"))
        got = torch.jit.load(str(tmp_path / "model.ts"))(x)
    assert torch.allclose(got, expected, atol=1e-5)
    # torch.export (dynamo) refuses the data-dependent NMS; the TorchScript-based ONNX exporter takes it
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x[:1],), str(tmp_path / "model.onnx"), input_names=["data"],
                          output_names=["detections"], dynamo=False,
                          dynamic_axes={"data": {0: "batch"}, "detections": {0: "batch"}})
    import onnxruntime
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert torch.allclose(torch.from_numpy(session.run(None, {"data": x.numpy()})[0]), expected, atol=1e-4)


def test_detection_networks_are_offered_for_detection_only():
    assert [n.name for n in STANDARD_NETWORKS] == list(NAMES) and "detectnet" not in NAMES
    assert networks_for("classification") == STANDARD_NETWORKS
    assert [n.name for n in networks_for("detection")] == ["detectnet", "detectnet_small", "fasterrcnn_mobilenet"]
    with pytest.raises(ValueError, match="unknown standard network"):
        standard_network("detectnet_small", "torch")
    with pytest.raises(ValueError, match='framework "caffe" has no standard network'):
        standard_network("detectnet", "caffe", "detection")
    assert 'TASK_TYPE = "detection"' in standard_network("detectnet", "torch", task_type=None)


NOT_A_DETECTOR = '''
TASK_TYPE = "detection"
import torch.nn as nn

def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, num_classes))
'''

LOSSLESS = '''
TASK_TYPE = "detection"
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1)

    def forward(self, x, targets=None):
        return torch.zeros(x.shape[0], 5, 6) + self.conv(x).mean()

def build(input_shape, num_classes):
    return Net()
'''


def test_the_checks_say_what_a_detection_network_must_return():
    with pytest.raises(NetworkError, match=r"must return N×D×6 detections.*\(2, 3\)"):
        build_network("torch", NOT_A_DETECTOR, SHAPE, CLASSES)
    with pytest.raises(NetworkError, match=r"in training .* must return a dict"):
        build_network("torch", LOSSLESS, SHAPE, CLASSES)
    undeclared = standard_network("detectnet_small", "torch", "detection").replace('TASK_TYPE = "detection"', "")
    with pytest.raises(NetworkError, match='says TASK_TYPE = "detection"'):
        build_network("torch", undeclared, SHAPE, CLASSES)
    with pytest.raises(NetworkError, match="unknown task type"):
        build_network("torch", NOT_A_DETECTOR.replace('"detection"', '"tracking"'), SHAPE, CLASSES)


def test_the_check_leaves_batchnorm_statistics_alone():
    module = build("detectnet_small")
    fresh = build("detectnet_small")
    assert all(torch.equal(a, b) for a, b in zip(module.buffers(), fresh.buffers()))
    assert float(next(b for n, b in module.named_buffers() if n.endswith("running_var")).mean()) == 1.0


def test_fasterrcnn_starts_from_a_local_weights_file(tmp_path):
    torch.manual_seed(3)
    donor = build("fasterrcnn_mobilenet")
    path = tmp_path / "coco.pt"
    torch.save(donor.detector.state_dict(), path)   # a torchvision detector's own state_dict
    text = standard_network("fasterrcnn_mobilenet", "torch", "detection")
    text = text.replace("WEIGHTS_FILE = None", f"WEIGHTS_FILE = {str(path)!r}")
    torch.manual_seed(4)
    module = build_network("torch", text, SHAPE, CLASSES).module
    assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), donor.state_dict().values()))
