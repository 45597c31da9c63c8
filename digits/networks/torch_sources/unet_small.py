"""A small U-Net (Ronneberger et al. 2015): two poolings down, two bilinear upsamplings back, each
joined with the encoder's features of that size; trains from scratch on a CPU in minutes for small
images (e.g. 64×64). Any image size works; scores N×K×H×W at the input's size (docs/segmentation.md §2).
"""
import torch
import torch.nn.functional as F
from torch import nn

TASK_TYPE = "segmentation"
BATCH_SIZE = 16
WIDTH = 16   # channels of the first level; doubled at each level down


def _block(inputs, outputs):
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs),
                         nn.ReLU(inplace=True), nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
                         nn.BatchNorm2d(outputs), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, channels, num_classes, width=WIDTH):
        super().__init__()
        self.down1, self.down2 = _block(channels, width), _block(width, 2 * width)
        self.bottom = _block(2 * width, 4 * width)
        self.up2, self.up1 = _block(6 * width, 2 * width), _block(3 * width, width)
        self.score = nn.Conv2d(width, num_classes, 1)

    @staticmethod
    def _join(coarse, skip):
        up = F.interpolate(coarse, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([up, skip], 1)

    def forward(self, x):
        first = self.down1(x)
        second = self.down2(F.max_pool2d(first, 2, ceil_mode=True))
        bottom = self.bottom(F.max_pool2d(second, 2, ceil_mode=True))
        second = self.up2(self._join(bottom, second))
        return self.score(self.up1(self._join(second, first)))


def build(input_shape, num_classes):
    """input_shape = (channels, height, width): one score per class and pixel."""
    return UNet(input_shape[0], num_classes)
