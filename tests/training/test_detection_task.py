"""The detection task type: batches of boxes, mAP/precision/recall with DontCare regions, answers in the
original image's pixels, and what it refuses (datasets, networks, settings)."""
import pytest
import torch

from digits.model.tasks import TaskTypeError, check_labels, get_task_type

TASK = get_task_type("detection")
TRUTH = [[1, 10, 10, 30, 30], [2, 40, 40, 60, 60], [0, 0, 40, 20, 60]]   # a car, a person, a DontCare region


def detections(*rows, count=10):
    out = torch.tensor([[0.0, 0, 0, 0, 0, -1]]).repeat(count, 1)
    for i, row in enumerate(rows):
        out[i] = torch.tensor(row, dtype=torch.float32)
    return out


def evaluate(*images):
    """(metrics, results) of the evaluator over [(detection rows, truth rows)] images."""
    evaluator = TASK.evaluator(3)
    for rows, truth in images:
        evaluator.update(rows[None], TASK.collate([(torch.zeros(1), torch.tensor(truth, dtype=torch.float32))])[1])
    return evaluator.compute()


PERFECT = detections((10, 10, 30, 30, 0.9, 1), (40, 40, 60, 60, 0.8, 2))


def test_collate_pads_with_class_minus_one_rows():
    batch = [(torch.zeros(3, 4, 4), torch.tensor(TRUTH, dtype=torch.float32)), (torch.ones(3, 4, 4), torch.zeros(0, 5))]
    images, targets = TASK.collate(batch)
    assert images.shape == (2, 3, 4, 4) and targets.shape == (2, 3, 5)
    assert targets[0].tolist() == TRUTH
    assert targets[1].tolist() == [[-1, 0, 0, 0, 0]] * 3
    _, empty = TASK.collate([(torch.zeros(1), torch.zeros(0, 5))] * 2)
    assert empty.shape == (2, 0, 5)


def test_perfect_detections_score_100():
    metrics, results = evaluate((PERFECT, TRUTH))
    assert metrics == {"mAP": pytest.approx(100.0), "precision": pytest.approx(100.0), "recall": pytest.approx(100.0),
                       "AP_1": pytest.approx(100.0), "AP_2": pytest.approx(100.0)}   # per class: series too
    assert results["ap_per_class"] == [None, pytest.approx(100.0), pytest.approx(100.0)]


def test_a_missed_box_lowers_map_and_recall():
    metrics, results = evaluate((detections((10, 10, 30, 30, 0.9, 1)), TRUTH))
    assert metrics["mAP"] == pytest.approx(50.0) and metrics["recall"] == pytest.approx(50.0)
    assert results["recall_per_class"] == [None, pytest.approx(100.0), pytest.approx(0.0)]


def test_a_detection_in_a_dontcare_region_counts_neither_way():
    inside = detections((2, 42, 18, 58, 0.95, 1), (10, 10, 30, 30, 0.9, 1), (40, 40, 60, 60, 0.8, 2))
    assert evaluate((inside, TRUTH))[0] == evaluate((PERFECT, TRUTH))[0]
    outside = detections((2, 2, 8, 8, 0.95, 1), (10, 10, 30, 30, 0.9, 1), (40, 40, 60, 60, 0.8, 2))
    metrics, results = evaluate((outside, TRUTH))
    assert metrics["mAP"] < 100.0 and results["precision_per_class"][1] == pytest.approx(50.0)


def test_precision_counts_only_confident_detections():
    weak_extra = detections((10, 10, 30, 30, 0.9, 1), (40, 40, 60, 60, 0.8, 2), (2, 2, 8, 8, 0.3, 2))
    metrics, _ = evaluate((weak_extra, TRUTH))
    assert metrics["precision"] == pytest.approx(100.0) and metrics["recall"] == pytest.approx(100.0)


def test_no_image_means_no_metrics():
    assert TASK.evaluator(3).compute() == ({}, {})


def test_infer_answers_boxes_in_the_original_pixels():
    from digits.dataset.images.detection.geometry import prepare
    import numpy as np
    # a 100×50 original padded to 100×100 and resized to 50×50: stored pixels are half the original's
    _, transform = prepare(np.zeros((50, 100, 3), dtype=np.uint8), {"pad": [100, 100], "resize": [50, 50],
                                                                        "channel_conversion": "RGB"})
    outputs = detections((5, 5, 15, 10, 0.9, 2), (1, 1, 2, 2, 0.2, 1)).double().numpy()[None]
    answer = TASK.infer(outputs, ["dontcare", "car", "person"], transforms=[transform])[0]
    assert answer["detections"] == [{"label": "person", "score": pytest.approx(0.9), "box": [10.0, 10.0, 30.0, 20.0]},
                                    {"label": "car", "score": pytest.approx(0.2), "box": [2.0, 2.0, 4.0, 4.0]}]
    plain = TASK.infer(outputs, [])[0]["detections"]
    assert plain[0]["label"] == "2" and plain[0]["box"] == [5.0, 5.0, 15.0, 10.0]


def test_labels_must_be_the_task_types_kind():
    check_labels(TASK, {"label_kind": "boxes"})
    with pytest.raises(TaskTypeError, match='"label_kind": "boxes"'):
        check_labels(TASK, {"kind": "generic"})
    with pytest.raises(TaskTypeError, match="train it as detection, not regression"):
        check_labels(get_task_type("regression"), {"label_kind": "boxes"})


def test_settings_that_move_pixels_are_refused():
    assert TASK.check_config({"crop_size": None, "augmentation": {"flip": "none", "noise": 0.1}}) is None
    message = TASK.check_config({"crop_size": 32, "augmentation": {"flip": "fliplr", "rot": 5}})
    assert "crop_size" in message and "flip" in message and "rot" in message


def test_two_gloo_ranks_with_uneven_shards_agree_with_one_process():
    from ranks import evaluate_on_ranks
    images = [(PERFECT, TRUTH), (detections((10, 10, 30, 30, 0.9, 1)), TRUTH),
              (detections((2, 2, 8, 8, 0.95, 1), (40, 40, 60, 60, 0.8, 2)), TRUTH)]
    expected = evaluate(*images)
    batches = [(rows[None], TASK.collate([(torch.zeros(1), torch.tensor(truth, dtype=torch.float32))])[1])
               for rows, truth in images]
    # 2 images on rank 0, 1 on rank 1: torchmetrics' own sync aborts
    got = evaluate_on_ranks("detection", 3, [batches[:2], batches[2:]])
    assert got[0] == got[1] == expected
