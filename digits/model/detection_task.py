"""The task type `detection` (docs/detection.md §3): a dataset of boxes ("label_kind": "boxes"), a
network that returns its losses in training and N×D×6 detections in eval mode (§2).

    collate     images stacked; each image's n×5 label rows padded to the batch's most with class -1
                rows → N×M×5
    train_loss  model(x, targets) returns {component: loss}; the loss is their sum, each charted as
                train loss_<component> (a network's own loss() is not used: it computes its losses)
    evaluation  mAP: torchmetrics' MeanAveragePrecision at IoU 0.5 (pycocotools' COCO evaluation), the
                DontCare boxes (class 0) given as crowd regions of every class so a detection inside one
                counts neither way; precision and recall at score >= SCORE and IoU >= IOU, detections
                matched greedily by score (a detection in a DontCare region is left out, as COCO's
                crowd rule: intersection over the detection's area >= IOU); all in percent, per class
                in the results (ap_per_class, precision_per_class, recall_per_class: index = class id,
                None where a class has nothing to measure — no detection, or no box — and the metric is
                the mean of the others); each class's AP is also a series of its own, AP_<class id>
    infer       {"detections": [{"label", "score", "box"}]} per image, best first, in the original
                image's pixels when its geometry transform is given

Several ranks: each gathers its counts with the runtime's all_sum, and its images' detections with
gather_objects so every rank computes the same mAP. torchmetrics' own synchronisation is switched off:
it gathers its per-image lists element by element, a collective mismatch that aborts the ranks (gloo)
when they hold different numbers of images — and evaluation shards them without padding.

Torch-free at import, like every task type module.
"""
from digits.model.task_base import TaskType, TaskTypeError, _torch

IOU = 0.5     # a detection and a box match from this IoU (mAP, precision and recall)
SCORE = 0.5   # precision and recall count the detections scoring at least this
UNUSED = (0.0, 0.0, 0.0, 0.0, 0.0, -1.0)
PADDING = (-1.0, 0.0, 0.0, 0.0, 0.0)


def _percent(part, whole):
    return 100.0 * part / whole if whole else None


def _mean(values):
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else 0.0


class Detection(TaskType):
    name, title = "detection", "Object detection"
    metric_names = ("mAP", "precision", "recall")
    meaning = {"apply": "none", "meaning": "N×D×6 detections [x1, y1, x2, y2, score, class_id] in the input's "
                                           "pixels, best first; unused rows have score 0 and class -1"}
    default_view = "image-bounding-boxes"
    count_index = 0
    label_kind = "boxes"

    def collate(self, batch):
        torch, _ = _torch()
        images = torch.stack([image for image, _ in batch])
        rows = [label.reshape(-1, 5).float() for _, label in batch]
        targets = torch.tensor(PADDING).repeat(len(rows), max((len(r) for r in rows), default=0), 1)
        for i, r in enumerate(rows):
            targets[i, :len(r)] = r
        return images, targets

    def check_config(self, config):
        cropped = config.get("crop_size")
        augment = config.get("augmentation") or {}
        moving = [name for name in ("flip", "quad_rot") if augment.get(name) not in (None, "", "none")]
        moving += [name for name in ("rot", "scale") if augment.get(name)]
        if cropped or moving:
            what = ", ".join((["crop_size"] if cropped else []) + [f"augmentation {m}" for m in moving])
            return f"{what}: a detection model's boxes would not follow the image; leave it out"
        return None

    def train_loss(self, model, network, module, x, y):
        parts = model(x, y)
        if not isinstance(parts, dict) or not parts:
            raise TaskTypeError(f"a detection network in training must return a dict of losses, got "
                                f"{type(parts).__name__}")
        return sum(parts.values()), parts

    def evaluator(self, outputs, runtime=None):
        from digits.model.task_base import SingleProcess
        return DetectionEvaluator(outputs, runtime or SingleProcess())

    def check_output(self, output, num_classes, input_shape=None):
        torch, _ = _torch()
        if not isinstance(output, torch.Tensor) or output.dim() != 3 or output.shape[0] != 2 or output.shape[2] != 6:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            return (f"A detection network in eval mode must return N×D×6 detections [x1, y1, x2, y2, score, "
                    f"class_id]; for 2 images it returned {shape}")
        return None

    def check_training(self, module, input_shape, num_classes):
        """Runs a train-mode forward on 2 blank images with a box, a DontCare box and padding; the
        module's buffers (BatchNorm statistics) and the random state are left as they were."""
        torch, _ = _torch()
        _, height, width = input_shape
        box = [width / 4, height / 4, 3 * width / 4, 3 * height / 4]
        targets = torch.tensor([[[min(1, num_classes - 1), *box], list(PADDING)], [[0.0, *box], list(PADDING)]])
        buffers = [b.detach().clone() for b in module.buffers()]
        was_training = module.training
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                module.train()
                parts = module(torch.zeros(2, *input_shape), targets)
        finally:
            module.train(was_training)
            with torch.no_grad():
                for buffer, saved in zip(module.buffers(), buffers):
                    buffer.copy_(saved)
        if not isinstance(parts, dict) or not parts:
            return (f"A detection network in training (module.train(), forward(x, targets)) must return a dict "
                    f"{{name: scalar loss}}; it returned {type(parts).__name__}")
        wrong = [str(k) for k, v in parts.items() if not (isinstance(v, torch.Tensor) and v.dim() == 0)]
        if wrong:
            return f"A detection network's losses must be scalar tensors; not so: {', '.join(wrong)}"
        return None

    def infer(self, outputs, labels=(), transforms=None):
        answers = []
        for index, rows in enumerate(outputs):
            rows = rows[rows[:, 5] >= 1]
            boxes = rows[:, :4]
            if transforms is not None and transforms[index] is not None:
                from digits.dataset.images.detection.geometry import to_original
                boxes = to_original(boxes, transforms[index])
            answers.append({"detections": [
                {"label": labels[c] if 0 <= c < len(labels) else str(c), "score": float(row[4]),
                 "box": [float(v) for v in box]} for row, box, c in zip(rows, boxes, (int(r[5]) for r in rows))]})
        return answers


class DetectionEvaluator:
    def __init__(self, num_classes, runtime):
        torch, _ = _torch()
        self.classes = int(num_classes)
        self.runtime = runtime
        self.images = []    # (prediction, target) dicts of torchmetrics, per image of this rank
        self.counts = torch.zeros(1 + 3 * self.classes, dtype=torch.float64)   # images, tp, fp, fn per class

    def update(self, output, labels):
        output, labels = output.detach().float().cpu(), labels.detach().float().cpu()
        for rows, truth in zip(output, labels):
            rows = rows[(rows[:, 5] >= 1) & (rows[:, 4] > 0)]
            truth = truth[truth[:, 0] >= 0]
            objects, dontcare = truth[truth[:, 0] >= 1], truth[truth[:, 0] == 0][:, 1:]
            self._count(rows, objects, dontcare)
            self.images.append(self._coco_image(rows, objects, dontcare))

    def _coco_image(self, rows, objects, dontcare):
        torch, _ = _torch()
        crowd_classes = torch.arange(1, self.classes).repeat_interleave(len(dontcare))
        prediction = {"boxes": rows[:, :4], "scores": rows[:, 4], "labels": rows[:, 5].long()}
        target = {"boxes": torch.cat([objects[:, 1:], dontcare.repeat(self.classes - 1, 1)]),
                  "labels": torch.cat([objects[:, 0].long(), crowd_classes]),
                  "iscrowd": torch.cat([torch.zeros(len(objects), dtype=torch.long),
                                        torch.ones(len(crowd_classes), dtype=torch.long)])}
        return prediction, target

    def _count(self, rows, objects, dontcare):
        """Adds one image's true and false positives and missed boxes per class (greedy by score)."""
        torch, _ = _torch()
        from torchvision.ops import box_area, box_iou
        rows = rows[rows[:, 4] >= SCORE]
        tp, fp, fn = (self.counts[1 + i * self.classes:1 + (i + 1) * self.classes] for i in range(3))
        self.counts[0] += 1
        for c in set(rows[:, 5].long().tolist()) | set(objects[:, 0].long().tolist()):
            if not 0 <= c < self.classes:
                continue
            found = rows[rows[:, 5].long() == c]
            found = found[found[:, 4].argsort(descending=True)]
            boxes = objects[objects[:, 0].long() == c][:, 1:]
            iou = box_iou(found[:, :4], boxes)
            covered = torch.zeros(len(found), dtype=torch.bool)
            if len(dontcare) and len(found):
                inter = _intersection(found[:, :4], dontcare)
                covered = (inter / box_area(found[:, :4]).clamp(min=1e-9)[:, None] >= IOU).any(1)
            matched = torch.zeros(len(boxes), dtype=torch.bool)
            for i in range(len(found)):
                candidates = iou[i].masked_fill(matched, -1.0)
                if len(boxes) and float(candidates.max()) >= IOU:
                    matched[int(candidates.argmax())] = True
                    tp[c] += 1
                elif not covered[i]:
                    fp[c] += 1
            fn[c] += float((~matched).sum())

    def compute(self):
        """(metrics, results) over every rank; ({}, {}) when no rank saw an image."""
        counts = self.runtime.all_sum(self.counts.to(self.runtime.device)).cpu().tolist()
        if not counts[0]:
            return {}, {}
        images = [item for part in self.runtime.gather_objects(self.images) for item in part]
        ap = self._average_precision(images)
        k = self.classes
        tp, fp, fn = (counts[1 + i * k:1 + (i + 1) * k] for i in range(3))
        precision = [None] + [_percent(tp[c], tp[c] + fp[c]) if tp[c] + fp[c] else (0.0 if fn[c] else None)
                              for c in range(1, k)]
        recall = [None] + [_percent(tp[c], tp[c] + fn[c]) for c in range(1, k)]
        metrics = {"mAP": max(0.0, ap["map"]), "precision": _mean(precision), "recall": _mean(recall)}
        # per-class AP as series too (AP_<class id>), so the model page charts each class's progress
        metrics.update({f"AP_{c}": v for c, v in enumerate(ap["per_class"]) if v is not None})
        return metrics, {"ap_per_class": ap["per_class"], "precision_per_class": precision,
                         "recall_per_class": recall}

    def _average_precision(self, images):
        from torchmetrics.detection import MeanAveragePrecision
        metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", iou_thresholds=[IOU], class_metrics=True,
                                      sync_on_compute=False)
        metric.update([p for p, _ in images], [t for _, t in images])
        result = metric.compute()
        per_class = [None] * self.classes
        for c, value in zip(result["classes"].reshape(-1).tolist(), result["map_per_class"].reshape(-1).tolist()):
            if 1 <= c < self.classes and value >= 0:
                per_class[c] = 100.0 * value
        return {"map": 100.0 * float(result["map"]), "per_class": per_class}


def _intersection(a, b):
    """Areas of intersection of every box of a with every box of b (len(a) × len(b))."""
    torch, _ = _torch()
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    return (bottom_right - top_left).clamp(min=0).prod(2)
