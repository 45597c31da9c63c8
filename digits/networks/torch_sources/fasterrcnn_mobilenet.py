"""Faster R-CNN with a MobileNet-V3-Large FPN backbone (torchvision's fasterrcnn_mobilenet_v3_large_fpn),
wrapped in the detection network contract (docs/detection.md §2): training returns torchvision's four
losses (classifier, box_reg, objectness, rpn_box_reg), eval mode N×MAX_DETECTIONS×6 rows
[x1, y1, x2, y2, score, class_id].

The input comes preprocessed at the dataset's size, so torchvision's own transform neither resizes
(min_size/max_size are the input's sides: a scale of 1) nor renormalizes (mean 0, std 1). torchvision's
class 0 is the background, which is where our DontCare (class 0) goes: DontCare boxes are left out of
the targets, so their regions train as background rather than as objects (Faster R-CNN has no ignore
regions). Its anchors (32 to 512 pixels) suit objects of that size.

WEIGHTS_FILE: a state_dict on this machine (a torchvision COCO detector or MobileNet backbone saved with
torch.save(model.state_dict(), path)); the tensors whose names and shapes match are loaded (the box
predictor's size follows the dataset's classes). Nothing is ever downloaded.
"""
import torch
from torch import nn
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

from digits.networks.local_weights import load_matching

TASK_TYPE = "detection"
BATCH_SIZE = 4
MAX_DETECTIONS = 100
WEIGHTS_FILE = None


class FasterRCNN(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        channels, height, width = input_shape
        self.channels = channels
        self.detector = fasterrcnn_mobilenet_v3_large_fpn(
            weights=None, weights_backbone=None, num_classes=max(2, num_classes),
            min_size=min(height, width), max_size=max(height, width), image_mean=[0.0] * 3, image_std=[1.0] * 3,
            box_detections_per_img=MAX_DETECTIONS)
        if WEIGHTS_FILE:
            load_matching(self.detector, WEIGHTS_FILE)
        self.max_detections = MAX_DETECTIONS
        self.score_threshold, self.nms_iou = 0.5, self.detector.roi_heads.nms_thresh

    def forward(self, x, targets=None):
        if self.channels != 3:   # the backbone takes colour: a grey image is three equal channels
            x = x.expand(-1, 3, -1, -1)
        images = list(x)
        if self.training and targets is not None:
            wanted = [rows[rows[:, 0] >= 1] for rows in targets]   # not padding (-1), not DontCare (0)
            losses = self.detector(images, [{"boxes": rows[:, 1:5], "labels": rows[:, 0].long()} for rows in wanted])
            return {name.removeprefix("loss_"): value for name, value in losses.items()}
        return torch.stack([self._rows(found) for found in self.detector(images)])

    def _rows(self, found):
        rows = torch.cat([found["boxes"], found["scores"][:, None], found["labels"][:, None].to(found["boxes"].dtype)],
                         1)[:self.max_detections]
        unused = rows.new_tensor([0.0, 0.0, 0.0, 0.0, 0.0, -1.0]).expand(self.max_detections - len(rows), 6)
        return torch.cat([rows, unused])


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); num_classes counts DontCare (class 0)."""
    return FasterRCNN(input_shape, num_classes)
