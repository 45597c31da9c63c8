"""The task type `segmentation` (docs/segmentation.md §3): a dataset of label images ("label_kind": "mask":
uint8 H×W class ids, 255 = ignore), a network giving N×K×H×W scores at its input's size (§2).

    collate     images stacked N×C×H×W; labels → N×H×W int64. The trainer's data view crops, flips,
                rotates and scales each label with its image (label_follows_image; labels nearest,
                uncovered pixels 255)
    loss        per-pixel cross-entropy, ignore_index 255, the mean over the labelled pixels (Caffe's
                SoftmaxWithLoss, normalization "valid"). train_config "class_weights" (K numbers >= 0)
                weighs each class: Σ w_y·CE / Σ w_y (torch's weighted mean), validation loss alike. A Caffe
                SoftmaxWithLoss with ignore_label 255 (or none) and that normalization is this loss; another
                normalization or ignore_label is computed as written (tasks.spec_loss; pixels of no class
                are ignored all the same); a Python network's loss() replaces it
    evaluation  a K×K confusion matrix (rows the truth, columns the prediction, labelled pixels only),
                filled by torchmetrics' multiclass_confusion_matrix and summed over batches and ranks
                (runtime.all_sum: exact under DDP). From it, in percent: IoU_c = tp / (tp + fp + fn) (None
                for a class neither labelled nor predicted), mIoU = their mean — torchmetrics'
                MulticlassJaccardIndex(average="macro", ignore_index=255) — and pixel_accuracy = correct /
                labelled pixels. Series loss, pixel_accuracy, mIoU and IoU_<class id>; results iou_per_class
    infer       infer(outputs, labels=(), transforms=None, sizes=None, colormap=None, truths=None), one
                answer per image of the float N×K×H×W scores (numpy):
                    {"segmentation": {"classes": labels, "mask": H×W class ids (lists of ints),
                                      "colormap": [[r, g, b]] × K}, "iou_per_class": [...] (with truths)}
                sizes[i] = (height, width) of image i as it came (None: the network's size): its mask is
                the argmax resized there with resize_nearest; colormap: the model's (colormap.json), the
                default palette for the classes it lacks; truths[i]: that image's label (uint8 H×W at its
                mask's size) or None; transforms: unused (no geometry: the image is resized as a whole).
                The raw scores are the worker's `outputs`, sent only when asked (they are large)

Torch-free at import, like every task type module.
"""
from digits.model.task_base import SingleProcess, SumsEvaluator, TaskType, TaskTypeError, _torch

IGNORE = 255
EXTRA = 3   # eval_sums: weighted loss sum, weight sum, images; then the K×K confusion matrix, row-major


def resize_nearest(mask, size):
    """The mask (H×W) at size (height, width), nearest: target pixel i takes source pixel
    floor((i + 1/2)·src / dst), in integers so every implementation picks the same pixels."""
    import numpy as np
    mask = np.asarray(mask)
    height, width = int(size[0]), int(size[1])
    rows = (2 * np.arange(height) + 1) * mask.shape[0] // (2 * height)
    cols = (2 * np.arange(width) + 1) * mask.shape[1] // (2 * width)
    return mask[rows[:, None], cols[None, :]]


def _ids(labels, classes, ignore=IGNORE):
    """int64 class ids, those that are no class (255, or a network of fewer outputs than the ids) `ignore`."""
    torch, _ = _torch()
    labels = labels.long()
    return torch.where((labels >= classes) | (labels < 0), torch.full_like(labels, ignore), labels)


def _percent(part, whole):
    return 100.0 * part / whole if whole else None


class Segmentation(TaskType):
    name, title = "segmentation", "Semantic segmentation"
    metric_names = ("loss", "pixel_accuracy", "mIoU")
    meaning = {"apply": "softmax", "meaning": "N×K×H×W scores: per pixel one score per class (labels.txt, in "
                                              "order); the mask is their argmax"}
    default_view = "image-segmentation"
    count_index = 2
    label_kind = "mask"
    label_follows_image = True
    network_hint = ('a Python network whose source says TASK_TYPE = "segmentation", or a Caffe network whose '
                    "SoftmaxWithLoss takes an N×K×H×W score map")

    def __init__(self, class_weights=None):
        self.class_weights = list(class_weights) if class_weights else None

    def check_config(self, config):
        # the network would see only the centre crop at inference, and its mask could not cover the image
        if config.get("crop_size"):
            return ("crop_size: a segmentation model answers a mask for the whole image, which a cropped "
                    "input cannot give; leave it out (the scale augmentation crops in training)")
        return None

    def configured(self, config):
        weights = config.get("class_weights")
        if not weights:
            return self
        if (not isinstance(weights, list) or not weights
                or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w < 1e30 for w in weights)
                or not any(weights)):
            raise TaskTypeError(f"class_weights must be a list of numbers >= 0, not all 0; got {weights!r}")
        return Segmentation(weights)

    def check_classes(self, num_classes):
        if self.class_weights and len(self.class_weights) != num_classes:
            raise TaskTypeError(f"class_weights has {len(self.class_weights)} values; the dataset has "
                                f"{num_classes} classes (one weight each)")

    def collate(self, batch):
        torch, _ = _torch()
        return (torch.stack([image for image, _ in batch]),
                torch.stack([label.reshape(label.shape[-2:]) for _, label in batch]).long())

    def _weight(self, output):
        if not self.class_weights:
            return None
        torch, _ = _torch()
        return torch.tensor(self.class_weights, dtype=output.dtype, device=output.device)

    def default_loss(self, module, output, labels):
        _, F = _torch()
        output = output.float()
        return F.cross_entropy(output, _ids(labels, output.shape[1]), weight=self._weight(output),
                               ignore_index=IGNORE)

    def loss(self, network, module, output, labels):
        spec = getattr(network, "loss_spec", None)
        if (getattr(network, "loss_fn", None) is None and spec and spec["type"] == "SoftmaxWithLoss"
                and not self.is_default_loss(spec)):
            # as the prototxt says, but a pixel of no class is never a class id: its ignore_label, else 255
            from digits.model.tasks import spec_loss
            ignore = IGNORE if spec.get("ignore_label") is None else spec["ignore_label"]
            return spec_loss(dict(spec, ignore_label=ignore), output.float(), _ids(labels, output.shape[1], ignore))
        return super().loss(network, module, output, labels)

    def is_default_loss(self, spec):
        return (spec["type"] == "SoftmaxWithLoss" and spec.get("ignore_label") in (None, IGNORE)
                and spec.get("normalization", "valid") == "valid" and spec["weight"] == 1.0)

    def check_output(self, output, num_classes, input_shape=None):
        torch, _ = _torch()
        wanted = f"N×{num_classes or 'K'}×H×W scores"
        if not isinstance(output, torch.Tensor) or output.dim() != 4 or output.shape[0] != 2:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            return (f"A segmentation network must return {wanted} (one score per class and pixel); for 2 images "
                    f"it returned {shape}")
        if num_classes and output.shape[1] != num_classes:
            return (f"The network gives {output.shape[1]} scores per pixel; the dataset has {num_classes} classes "
                    f"(one score per class)")
        if input_shape is not None and tuple(output.shape[2:]) != tuple(input_shape[1:]):
            return (f"The network's score map is {output.shape[3]}×{output.shape[2]} for a {input_shape[2]}×"
                    f"{input_shape[1]} input; a segmentation network scores every pixel of its input (W×H)")
        return None

    def evaluator(self, outputs, runtime=None):
        return SumsEvaluator(self, outputs, runtime or SingleProcess())

    def sums_size(self, outputs):
        return EXTRA + outputs * outputs

    def eval_sums(self, output, labels):
        torch, F = _torch()
        from torchmetrics.functional.classification import multiclass_confusion_matrix
        classes = output.shape[1]
        ids = _ids(labels, classes)
        weight = self._weight(output)
        loss = F.cross_entropy(output, ids, weight=weight, ignore_index=IGNORE, reduction="sum")
        labelled = ids != IGNORE   # no boolean indexing: it would wait for the GPU
        total = (weight[ids.clamp(max=classes - 1)] * labelled).sum() if weight is not None else labelled.sum()
        confusion = multiclass_confusion_matrix(output.argmax(1), ids, classes, ignore_index=IGNORE,
                                                validate_args=False)
        head = torch.stack([loss.double(), total.double(),
                            torch.tensor(float(output.shape[0]), dtype=torch.float64, device=loss.device)])
        return torch.cat([head, confusion.reshape(-1).double()])

    def _iou(self, sums):
        classes = int(round((len(sums) - EXTRA) ** 0.5))
        confusion = [sums[EXTRA + r * classes:EXTRA + (r + 1) * classes] for r in range(classes)]
        hits = [confusion[c][c] for c in range(classes)]
        truth = [sum(row) for row in confusion]
        predicted = [sum(row[c] for row in confusion) for c in range(classes)]
        iou = [_percent(hits[c], truth[c] + predicted[c] - hits[c]) for c in range(classes)]
        return iou, sum(hits), sum(truth)

    def summarize(self, sums):
        iou, correct, labelled = self._iou(sums)
        known = [v for v in iou if v is not None]
        metrics = {"loss": sums[0] / sums[1] if sums[1] else 0.0, "pixel_accuracy": _percent(correct, labelled) or 0.0,
                   "mIoU": sum(known) / len(known) if known else 0.0}
        metrics.update({f"IoU_{c}": v for c, v in enumerate(iou) if v is not None})
        return metrics

    def results(self, sums):
        return {"iou_per_class": self._iou(sums)[0]}

    def infer(self, outputs, labels=(), transforms=None, sizes=None, colormap=None, truths=None):
        from digits.inference.masks import colormap_for, iou_per_class
        answers = []
        for index, scores in enumerate(outputs):
            classes = scores.shape[0]
            mask = scores.argmax(axis=0).astype("uint8" if classes <= IGNORE else "int64")
            size = sizes[index] if sizes is not None else None
            if size is not None and tuple(size) != mask.shape:
                mask = resize_nearest(mask, size)
            names = [labels[c] if c < len(labels) else str(c) for c in range(classes)]
            answer = {"segmentation": {"classes": names, "mask": mask.tolist(),
                                       "colormap": colormap_for(colormap, classes)}}
            truth = truths[index] if truths is not None else None
            if truth is not None:
                answer["iou_per_class"] = iou_per_class(mask, truth, classes)
            answers.append(answer)
        return answers
