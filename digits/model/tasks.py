"""Task types: what a model's output means — its default loss, its metrics per validation, what
inference answers — so that the trainer and the inference worker need no per-task code.

    classification  labels are class ids; output N×K scores; softmax cross-entropy; loss, accuracy,
                    top-5 accuracy; inference: the top classes with their probabilities
    regression      labels are L floats (a generic dataset's label vectors); output N×L; Caffe's
                    EuclideanLoss (sum of squares / 2N); loss, RMSE, MAE; inference: the L values
    multilabel      labels are L 0/1 flags; output N×L logits; sigmoid cross-entropy; loss and the
                    per-label precision/recall/F1 (macro-averaged as metrics, per label in the results);
                    inference: each label's probability and whether it is on (p ≥ 0.5)
    detection       labels are n×5 boxes (digits.model.detection_task, docs/detection.md)
    segmentation    labels are H×W class ids (digits.model.segmentation_task, docs/segmentation.md)

The hooks every task type answers, and their defaults, are digits.model.task_base's.

The network may declare its own loss, which then replaces the task type's: a Caffe prototxt's main loss
layer (SoftmaxWithLoss with ignore_label/normalization, EuclideanLoss, SigmoidCrossEntropyLoss, L1Loss,
times its loss_weight), or a Python network's loss(outputs, labels).

Importing this module loads no torch (the web process lists the task types); the training and
inference methods import it when called.
"""

from digits.model.task_base import TaskType, TaskTypeError, _torch, main_output  # noqa: F401  (this API)

MULTILABEL_THRESHOLD = 0.5


class Classification(TaskType):
    name, title = "classification", "Classification"
    metric_names = ("loss", "accuracy", "accuracy_top5")
    meaning = {"apply": "softmax", "meaning": "one score per class (labels.txt, in order)"}
    default_view = "image-classification-top-n"

    def output_size(self, info):
        # a generic dataset of class ids (a data extension of label_kind "class") has num_classes too
        if not info.get("num_classes"):
            raise TaskTypeError("a generic dataset's labels are vectors: train it as regression or multilabel")
        return int(info["num_classes"])

    def is_default_loss(self, spec):
        return spec["type"] == "SoftmaxWithLoss" and spec["ignore_label"] is None and spec["weight"] == 1.0

    def default_loss(self, module, output, labels):
        from digits.model.trainer_setup import training_loss
        return training_loss(module, output, _class_ids(labels))

    def eval_sums(self, output, labels):
        torch, F = _torch()
        labels = _class_ids(labels)
        k = min(5, output.shape[1])
        top = output.topk(k, dim=1).indices == labels[:, None]
        return torch.stack([F.cross_entropy(output, labels, reduction="sum").double(), top[:, 0].sum().double(),
                            top.any(dim=1).sum().double(), torch.tensor(float(labels.shape[0]), dtype=torch.float64,
                                                                       device=output.device)])

    def summarize(self, sums):
        loss, top1, top5, count = sums
        return {"loss": loss / count, "accuracy": 100.0 * top1 / count, "accuracy_top5": 100.0 * top5 / count}

    def infer(self, outputs, labels=(), topk=5):
        import numpy as np
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        answers = []
        for row in probs:
            order = np.argsort(-row)[:topk]
            answers.append({"predictions": [[labels[i] if i < len(labels) else str(i), round(100.0 * row[i], 2)]
                                            for i in order]})
        return answers


class VectorTask(TaskType):
    """A task on a generic dataset's label vectors: one output per label component, and a Caffe loss
    layer type as its default loss."""
    default_loss_type = ""

    def output_size(self, info):
        return _label_length(info)

    def is_default_loss(self, spec):
        return spec["type"] == self.default_loss_type and spec["weight"] == 1.0

    def default_loss(self, module, output, labels):
        return spec_loss({"type": self.default_loss_type, "weight": 1.0}, main_output(output), labels)


class Regression(VectorTask):
    name, title = "regression", "Regression"
    metric_names = ("loss", "rmse", "mae")
    meaning = {"apply": "none", "meaning": "the predicted values, one per label component"}
    default_loss_type = "EuclideanLoss"

    def eval_sums(self, output, labels):
        torch, _ = _torch()
        diff = output.double() - _targets(labels, output).double()
        return torch.stack([(diff ** 2).sum(), diff.abs().sum(), torch.tensor(float(diff.numel()), dtype=torch.float64,
                            device=output.device), torch.tensor(float(diff.shape[0]), dtype=torch.float64,
                                                                device=output.device)])

    def summarize(self, sums):
        squares, absolute, values, count = sums
        return {"loss": squares / (2.0 * count), "rmse": (squares / values) ** 0.5, "mae": absolute / values}

    def infer(self, outputs, labels=()):
        return [{"values": [float(v) for v in row]} for row in outputs]


class MultiLabel(VectorTask):
    name, title = "multilabel", "Multi-label classification"
    metric_names = ("loss", "precision", "recall", "f1")
    count_index = 1
    meaning = {"apply": "sigmoid", "meaning": "one logit per label; a label is on at probability >= 0.5"}
    default_loss_type = "SigmoidCrossEntropyLoss"

    def eval_sums(self, output, labels):
        torch, F = _torch()
        targets = _targets(labels, output).float()
        predicted = torch.sigmoid(output.float()) >= MULTILABEL_THRESHOLD
        truth = targets >= 0.5
        loss = F.binary_cross_entropy_with_logits(output.float(), targets, reduction="sum").double()
        count = torch.tensor([float(output.shape[0])], dtype=torch.float64, device=output.device)
        per_label = torch.cat([(predicted & truth).sum(0), (predicted & ~truth).sum(0), (~predicted & truth).sum(0)])
        return torch.cat([loss.reshape(1), count, per_label.double()])

    def sums_size(self, outputs):
        return 2 + 3 * outputs

    def _counts(self, sums):
        labels = (len(sums) - 2) // 3
        tp, fp, fn = (sums[2 + i * labels:2 + (i + 1) * labels] for i in range(3))
        return tp, fp, fn

    def _per_label(self, sums):
        tp, fp, fn = self._counts(sums)
        precision = [100.0 * t / (t + f) if t + f else 0.0 for t, f in zip(tp, fp)]
        recall = [100.0 * t / (t + f) if t + f else 0.0 for t, f in zip(tp, fn)]
        return precision, recall

    def summarize(self, sums):
        precision, recall = self._per_label(sums)
        mean_p, mean_r = sum(precision) / len(precision), sum(recall) / len(recall)
        f1 = 2 * mean_p * mean_r / (mean_p + mean_r) if mean_p + mean_r else 0.0
        return {"loss": sums[0] / (sums[1] * len(precision)), "precision": mean_p, "recall": mean_r, "f1": f1}

    def results(self, sums):
        precision, recall = self._per_label(sums)
        return {"precision_per_label": precision, "recall_per_label": recall}

    def infer(self, outputs, labels=()):
        import numpy as np
        probs = 1.0 / (1.0 + np.exp(-outputs))
        return [{"labels": [{"label": labels[i] if i < len(labels) else str(i), "probability": round(float(p), 6),
                             "on": bool(p >= MULTILABEL_THRESHOLD)} for i, p in enumerate(row)]} for row in probs]


def _label_length(info):
    dims = info.get("label_dims") or []
    if not dims:
        raise TaskTypeError("this task type needs a dataset with label vectors (a generic dataset)")
    length = 1
    for d in dims:
        length *= int(d)
    return length


def _class_ids(labels):
    # a generic dataset's labels are float vectors: a class id is their single value
    if labels.dim() == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    return labels.long()


def _targets(labels, output):
    labels = labels.reshape(labels.shape[0], -1).to(output.dtype)
    if labels.shape[1] != output.shape[1]:
        raise TaskTypeError(f"the network outputs {output.shape[1]} values per image but the labels have "
                            f"{labels.shape[1]}")
    return labels


def spec_loss(spec, output, labels):
    """A Caffe loss layer's value for a batch (Caffe's formulas, scaled by its loss_weight)."""
    torch, F = _torch()
    kind, n = spec["type"], output.shape[0]
    normalization = spec.get("normalization", "valid")
    if kind == "SoftmaxWithLoss":
        ids = _class_ids(labels)
        ignore = spec.get("ignore_label")
        total = F.cross_entropy(output, ids, ignore_index=-100 if ignore is None else ignore, reduction="sum")
        valid = (ids != ignore).sum() if ignore is not None else ids.numel()
        # Caffe: "full" counts every label (N·H·W for a score map), "batch_size" the images
        divisor = {"valid": valid, "full": ids.numel(), "batch_size": n, "none": 1}[normalization]
        value = total / torch.clamp(torch.as_tensor(divisor, dtype=total.dtype, device=total.device), min=1)
    elif kind == "EuclideanLoss":
        value = ((output - _targets(labels, output)) ** 2).sum() / (2.0 * n)
    elif kind == "L1Loss":
        value = (output - _targets(labels, output)).abs().sum() / n
    elif kind == "SigmoidCrossEntropyLoss":
        total = F.binary_cross_entropy_with_logits(output, _targets(labels, output), reduction="sum")
        divisor = {"valid": output.numel(), "full": output.numel(), "batch_size": n, "none": 1}[normalization]
        value = total / divisor
    else:
        raise TaskTypeError(f"loss layer type {kind} cannot be trained")
    return value * float(spec.get("weight", 1.0))


def _all():
    from digits.model.detection_task import Detection
    from digits.model.segmentation_task import Segmentation
    return (Classification(), Regression(), MultiLabel(), Detection(), Segmentation())


TASK_TYPES = {t.name: t for t in _all()}


def check_labels(task, info):
    """The dataset's labels must be the kind the task type trains on (dataset.json "label_kind")."""
    kind = info.get("label_kind")
    if kind == task.label_kind:
        return
    if task.label_kind:
        raise TaskTypeError(f'a {task.name} model trains on a dataset of {task.label_kind} (dataset.json '
                            f'"label_kind": "{task.label_kind}"); this dataset\'s labels are {kind or "class ids or vectors"}')
    fitting = [t.name for t in TASK_TYPES.values() if t.label_kind == kind]
    raise TaskTypeError(f"this dataset's labels are {kind}: train it as {' or '.join(fitting) or 'another task type'}"
                        f", not {task.name}")


def check_declared(declared, task):
    """A network saying what it is for (a Python network's TASK_TYPE; a Caffe network whose softmax loss
    takes a score map is a segmentation network) must be for the model's task type; a task type with
    labels of its own kind (detection, segmentation) needs a network that says so."""
    if declared == task.name or (declared is None and task.label_kind is None):
        return
    if declared is None:
        hint = task.network_hint or f'a Python network whose source says TASK_TYPE = "{task.name}"'
        raise TaskTypeError(f"a {task.name} model needs a network made for it: {hint}")
    raise TaskTypeError(f"the network is a {declared} network; this model is {task.name}")


def get_task_type(name):
    try:
        return TASK_TYPES[name or "classification"]
    except KeyError:
        raise TaskTypeError(f"unknown task type {name!r} (use one of: {', '.join(TASK_TYPES)})") from None
