"""Task types and Caffe loss layers: Caffe's formulas, the metrics each task type reports."""
import math

import pytest
import torch
import torch.nn.functional as F

from digits.model.tasks import TASK_TYPES, TaskTypeError, get_task_type, spec_loss


def _spec(kind, **kw):
    return dict({"type": kind, "weight": 1.0, "ignore_label": None, "normalization": "valid"}, **kw)


def test_euclidean_and_l1_follow_caffe():
    out, y = torch.tensor([[1.0, 2.0], [0.0, -1.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    # Caffe's EuclideanLoss: 1/(2N) Σ ||x - y||²
    assert spec_loss(_spec("EuclideanLoss"), out, y).item() == pytest.approx((1 + 4 + 1 + 4) / 4)
    assert spec_loss(_spec("L1Loss", weight=2.0), out, y).item() == pytest.approx(2 * (1 + 2 + 1 + 2) / 2)


def test_softmax_with_loss_ignores_a_label_and_normalizes_by_the_valid_ones():
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 255, 2, 1])
    got = spec_loss(_spec("SoftmaxWithLoss", ignore_label=255), logits, labels)
    keep = labels != 255
    assert got.item() == pytest.approx(F.cross_entropy(logits[keep], labels[keep]).item(), rel=1e-6)
    per_batch = spec_loss(_spec("SoftmaxWithLoss", ignore_label=255, normalization="batch_size"), logits, labels)
    assert per_batch.item() == pytest.approx(got.item() * 3 / 4, rel=1e-6)


def test_sigmoid_cross_entropy():
    logits, y = torch.randn(3, 4), torch.randint(0, 2, (3, 4)).float()
    expected = F.binary_cross_entropy_with_logits(logits, y)
    assert spec_loss(_spec("SigmoidCrossEntropyLoss"), logits, y).item() == pytest.approx(expected.item(), rel=1e-6)


def test_regression_metrics():
    task = get_task_type("regression")
    sums = task.eval_sums(torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 3.0]])).tolist()
    metrics = task.summarize(sums)
    assert metrics["rmse"] == pytest.approx(math.sqrt((1 + 4) / 2)) and metrics["mae"] == pytest.approx(1.5)
    assert metrics["loss"] == pytest.approx(5 / 2)


def test_multilabel_metrics_per_label():
    task = get_task_type("multilabel")
    logits = torch.tensor([[5.0, -5.0], [5.0, 5.0], [-5.0, -5.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    sums = task.eval_sums(logits, labels).tolist()
    assert len(sums) == task.sums_size(2)
    metrics, results = task.summarize(sums), task.results(sums)
    assert results["precision_per_label"] == pytest.approx([50.0, 100.0])
    assert results["recall_per_label"] == pytest.approx([50.0, 100.0])
    assert metrics["precision"] == pytest.approx(75.0)


def test_a_network_loss_replaces_the_task_types():
    class Net:
        loss_fn = None
        loss_spec = _spec("L1Loss")
    out, y = torch.tensor([[2.0]]), torch.tensor([[0.0]])
    assert get_task_type("regression").loss(Net, None, out, y).item() == pytest.approx(2.0)
    Net.loss_fn = staticmethod(lambda outputs, labels: (outputs - labels).sum() * 10)
    assert get_task_type("regression").loss(Net, None, out, y).item() == pytest.approx(20.0)


def test_unknown_task_type_and_label_length_mismatch():
    with pytest.raises(TaskTypeError, match="unknown task type"):
        get_task_type("segmentation-ish")
    with pytest.raises(TaskTypeError, match="outputs 3 values per image but the labels have 2"):
        get_task_type("regression").eval_sums(torch.zeros(1, 3), torch.zeros(1, 2))
    assert set(TASK_TYPES) == {"classification", "regression", "multilabel", "detection", "segmentation"}
