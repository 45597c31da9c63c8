"""The segmentation task type (docs/segmentation.md §3): batches of label images, a per-pixel loss that
ignores 255, IoU / pixel accuracy from a confusion matrix (what torchmetrics' MulticlassJaccardIndex
gives, the same over 2 gloo ranks), answers resized back to the image, and labels that follow their
image through the crop and the augmentations."""
import numpy as np
import pytest
import torch

from digits.model.augment import Augment
from digits.model.preprocess import Preprocess
from digits.model.segmentation_task import resize_nearest
from digits.model.tasks import TaskTypeError, check_declared, check_labels, get_task_type
from digits.model.trainer_data import ImageView

TASK = get_task_type("segmentation")
# 2×4 labels of 3 classes with one ignored pixel, and the predictions (as one-hot scores)
TRUTH = torch.tensor([[[0, 0, 1, 1], [2, 2, 255, 0]]])
PREDICTED = torch.tensor([[[0, 1, 1, 1], [2, 0, 2, 0]]])


def scores(ids, classes=3):
    return torch.nn.functional.one_hot(ids, classes).permute(0, 3, 1, 2).float() * 5


def evaluate(*batches, task=TASK):
    evaluator = task.evaluator(3)
    for output, labels in batches:
        evaluator.update(output, labels)
    return evaluator.compute()


def test_collate_stacks_labels_as_int64_class_ids():
    batch = [(torch.zeros(3, 2, 4), TRUTH[0].to(torch.uint8)), (torch.ones(3, 2, 4), PREDICTED[0].to(torch.uint8))]
    images, labels = TASK.collate(batch)
    assert images.shape == (2, 3, 2, 4) and labels.dtype == torch.int64 and labels.shape == (2, 2, 4)
    assert labels[0].tolist() == TRUTH[0].tolist()


def test_the_loss_ignores_255_and_weighs_classes():
    output = torch.randn(1, 3, 2, 4, requires_grad=True)
    loss = TASK.loss(None, None, output, TRUTH)
    loss.backward()
    assert output.grad[0, :, 1, 2].abs().sum() == 0                      # the ignored pixel has no gradient
    labelled = TRUTH[0] != 255
    per_pixel = torch.nn.functional.cross_entropy(output.detach(), TRUTH.clamp(max=2), reduction="none")[0]
    assert float(loss.detach()) == pytest.approx(float(per_pixel[labelled].mean()))   # the mean of the labelled pixels
    weighted = TASK.configured({"class_weights": [1.0, 3.0, 0.0]})
    w = torch.tensor([1.0, 3.0, 0.0])[TRUTH[0].clamp(max=2)] * labelled
    expected = float((per_pixel * w).sum() / w.sum())
    assert float(weighted.loss(None, None, output.detach(), TRUTH)) == pytest.approx(expected)
    assert TASK.configured({}) is TASK
    with pytest.raises(TaskTypeError, match="class_weights"):
        TASK.configured({"class_weights": [0, 0, 0]})
    with pytest.raises(TaskTypeError, match="2 values; the dataset has 3 classes"):
        TASK.configured({"class_weights": [1, 2]}).check_classes(3)


def test_caffe_softmax_with_loss_255_is_the_default_loss():
    spec = {"type": "SoftmaxWithLoss", "weight": 1.0, "ignore_label": 255, "normalization": "valid"}
    assert TASK.is_default_loss(spec) and TASK.is_default_loss(dict(spec, ignore_label=None))
    assert not TASK.is_default_loss(dict(spec, normalization="batch_size"))

    class Net:
        loss_fn, loss_spec = None, dict(spec, normalization="none")
    output = torch.randn(1, 3, 2, 4)
    summed = torch.nn.functional.cross_entropy(output, TRUTH, ignore_index=255, reduction="sum")
    assert float(TASK.loss(Net, None, output, TRUTH)) == pytest.approx(float(summed))   # as the prototxt says
    Net.loss_spec = dict(spec, ignore_label=None, normalization="full")
    assert float(TASK.loss(Net, None, output, TRUTH)) == pytest.approx(float(summed) / 8)   # 255 still no class
    Net.loss_spec = dict(spec, ignore_label=0, normalization="none")
    without_0 = torch.nn.functional.cross_entropy(output, TRUTH.masked_fill(TRUTH == 255, 0), ignore_index=0,
                                                  reduction="sum")
    assert float(TASK.loss(Net, None, output, TRUTH)) == pytest.approx(float(without_0))


def test_metrics_are_exact_on_a_known_confusion():
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex
    metrics, results = evaluate((scores(PREDICTED), TRUTH))
    # labelled pixels: 7, of which 5 right; class 0: tp 2, fp 1, fn 1; class 1: tp 2, fp 1; class 2: tp 1, fn 1
    assert results["iou_per_class"] == [pytest.approx(50.0), pytest.approx(200 / 3), pytest.approx(50.0)]
    assert metrics["pixel_accuracy"] == pytest.approx(500 / 7)
    assert metrics["mIoU"] == pytest.approx((50 + 200 / 3 + 50) / 3)
    assert {k for k in metrics if k.startswith("IoU_")} == {"IoU_0", "IoU_1", "IoU_2"}
    jaccard = MulticlassJaccardIndex(3, average="macro", ignore_index=255)(PREDICTED, TRUTH)
    accuracy = MulticlassAccuracy(3, average="micro", ignore_index=255)(PREDICTED, TRUTH)
    assert metrics["mIoU"] == pytest.approx(100 * float(jaccard)) and metrics["pixel_accuracy"] == pytest.approx(
        100 * float(accuracy))


def test_a_class_in_neither_truth_nor_prediction_is_left_out_of_the_mean():
    truth, predicted = torch.tensor([[[0, 0, 1, 1]]]), torch.tensor([[[0, 1, 1, 1]]])
    metrics, results = evaluate((scores(predicted), truth))
    assert results["iou_per_class"] == [pytest.approx(50.0), pytest.approx(200 / 3), None]
    assert metrics["mIoU"] == pytest.approx((50 + 200 / 3) / 2) and "IoU_2" not in metrics
    assert TASK.evaluator(3).compute() == ({}, {})


def test_a_perfect_map_over_batches_scores_100():
    metrics, _ = evaluate((scores(TRUTH.clamp(max=2)), TRUTH), (scores(PREDICTED), PREDICTED))
    assert metrics["mIoU"] == pytest.approx(100.0) and metrics["pixel_accuracy"] == pytest.approx(100.0)


def test_the_output_must_be_a_score_map_at_the_inputs_size():
    assert TASK.check_output(torch.zeros(2, 3, 8, 8), 3, (1, 8, 8)) is None
    assert "returned (2, 3)" in TASK.check_output(torch.zeros(2, 3), 3, (1, 8, 8))
    assert "4 scores per pixel; the dataset has 3 classes" in TASK.check_output(torch.zeros(2, 4, 8, 8), 3, (1, 8, 8))
    assert "score map is 4×4 for a 8×8 input" in TASK.check_output(torch.zeros(2, 3, 4, 4), 3, (1, 8, 8))


def test_labels_and_networks_must_be_the_task_types():
    check_labels(TASK, {"label_kind": "mask"})
    with pytest.raises(TaskTypeError, match="train it as segmentation, not regression"):
        check_labels(get_task_type("regression"), {"label_kind": "mask"})
    check_declared("segmentation", TASK)
    with pytest.raises(TaskTypeError, match='TASK_TYPE = "segmentation", or a Caffe network'):
        check_declared(None, TASK)
    with pytest.raises(TaskTypeError, match="is a segmentation network; this model is classification"):
        check_declared("segmentation", get_task_type("classification"))
    assert TASK.check_config({"augmentation": {"flip": "fliplr", "rot": 10}}) is None
    assert "crop_size" in TASK.check_config({"crop_size": 32})   # its mask could not cover the whole image


def test_infer_answers_the_mask_at_the_images_size():
    outputs = scores(PREDICTED).double().numpy()
    answer = TASK.infer(outputs, ["background", "circle", "rectangle"], sizes=[(4, 8)], colormap=[[1, 2, 3]],
                        truths=[np.repeat(np.repeat(TRUTH[0].numpy().astype(np.uint8), 2, 0), 2, 1)])[0]
    mask = np.array(answer["segmentation"]["mask"])
    assert mask.shape == (4, 8) and (mask == np.repeat(np.repeat(PREDICTED[0].numpy(), 2, 0), 2, 1)).all()
    assert answer["segmentation"]["classes"] == ["background", "circle", "rectangle"]
    assert answer["segmentation"]["colormap"][0] == [1, 2, 3] and len(answer["segmentation"]["colormap"]) == 3
    assert answer["iou_per_class"] == [pytest.approx(50.0), pytest.approx(200 / 3), pytest.approx(50.0)]
    plain = TASK.infer(outputs)[0]
    assert plain["segmentation"]["mask"] == PREDICTED[0].tolist() and "iou_per_class" not in plain
    assert plain["segmentation"]["classes"] == ["0", "1", "2"]


def test_resize_nearest_picks_the_source_pixel_under_each_centre():
    source = np.arange(6).reshape(2, 3)
    assert resize_nearest(source, (4, 6)).tolist() == [[0, 0, 1, 1, 2, 2]] * 2 + [[3, 3, 4, 4, 5, 5]] * 2
    assert resize_nearest(source, (1, 2)).tolist() == [[3, 5]]   # centres (1, 0.75) and (1, 2.25)
    assert resize_nearest(source, (2, 3)).tolist() == source.tolist()


# ---- labels that follow their image -----------------------------------------------------------

def coded(height=16, width=16):
    """An image whose first channel holds each pixel's own number (its label: the same numbers)."""
    ids = torch.arange(height * width, dtype=torch.int64).reshape(height, width) % 250
    image = torch.stack([ids, ids // 2, 255 - ids]).to(torch.uint8)
    return image, ids.to(torch.uint8)


@pytest.mark.parametrize("options", [{"flip": "fliplrud"}, {"quad_rot": "rotall"},
                                     {"flip": "fliplr", "quad_rot": "rot180"}])
def test_flips_and_quarter_turns_move_the_label_exactly(options):
    augment = Augment(options)
    image, label = coded()
    for seed in range(8):
        moved, moved_label = augment.pair(image, label, torch.Generator().manual_seed(seed))
        assert torch.equal(moved[0], moved_label)
        assert torch.equal(augment(image, torch.Generator().manual_seed(seed)), moved)   # the image alone: the same


def test_rotation_and_zoom_move_the_label_by_nearest_and_fill_255():
    augment = Augment({"rot": 30, "scale": 0.3})
    image = torch.full((3, 32, 32), 50, dtype=torch.uint8)
    image[:, 8:24, 8:24] = 200                   # a square, its label class 1 on background 0
    label = (image[0] > 100).to(torch.uint8)
    filled = 0
    for seed in range(6):
        moved, moved_label = augment.pair(image, label, torch.Generator().manual_seed(seed))
        assert set(moved_label.unique().tolist()) <= {0, 1, 255}
        for class_id, bright in ((1, True), (0, False)):   # each label stays on its part of the image
            assert ((moved[0][moved_label == class_id] > 100) == bright).float().mean() > 0.95
        filled += int((moved_label == 255).sum())
        uncovered = moved[0][moved_label == 255]     # the image's fill (0) there, the label's ignore
        assert (uncovered < 50).float().mean() > 0.9 if len(uncovered) else True
    assert filled > 0


class Records:
    def __init__(self, pairs):
        self.pairs = pairs

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        return self.pairs[index]


def test_the_crop_takes_the_same_window_of_the_label():
    pre = Preprocess(3, 16, 16, 3, crop_size=10)
    view = ImageView(Records([coded()]), pre, Augment({"flip": "fliplr"}), joint=True)
    offsets = set()
    for seed in range(12):
        x, label = view[(0, seed)]
        assert label.shape == (10, 10) and torch.equal(x[0].to(torch.uint8), label)
        offsets.add(int(label[0, 0]))
    assert len(offsets) > 3                       # random windows in training
    x, label = view[0]
    assert torch.equal(x[0].to(torch.uint8), label) and int(label[0, 0]) == coded()[1][3, 3]   # centred otherwise


def test_two_gloo_ranks_with_uneven_shards_agree_with_one_process():
    from ranks import evaluate_on_ranks
    batches = [(scores(PREDICTED), TRUTH), (scores(TRUTH.clamp(max=2)), TRUTH), (scores(PREDICTED), PREDICTED)]
    expected = evaluate(*batches)
    got = evaluate_on_ranks("segmentation", 3, [batches[:2], batches[2:]])
    assert got[0] == got[1]
    assert got[0][0] == pytest.approx(expected[0]) and got[0][1] == expected[1]
