"""DetectNet's coverage and bbox heads (digits.networks.detectnet) on a small convolutional backbone of
stride 8: trainable from scratch on a CPU in minutes for small images (e.g. 64×64 to 320×320).

Training returns {"coverage": loss, "bbox": loss}; eval mode returns N×MAX_DETECTIONS×6 rows
[x1, y1, x2, y2, score, class_id] (docs/detection.md §2).
"""
from torch import nn

from digits.networks.detectnet import DetectNet

TASK_TYPE = "detection"
BATCH_SIZE = 16
MAX_DETECTIONS = 100


def _block(inputs, outputs):
    return [nn.Conv2d(inputs, outputs, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True)]


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); num_classes counts DontCare (class 0)."""
    backbone = nn.Sequential(
        *_block(input_shape[0], 16), nn.MaxPool2d(2, ceil_mode=True),
        *_block(16, 32), nn.MaxPool2d(2, ceil_mode=True),
        *_block(32, 64), nn.MaxPool2d(2, ceil_mode=True),
        *_block(64, 64), *_block(64, 64))
    return DetectNet(backbone, 64, input_shape, num_classes, max_detections=MAX_DETECTIONS)
