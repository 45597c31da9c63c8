"""LR-ASPP with a MobileNet-V3-Large backbone (torchvision's lraspp_mobilenet_v3_large): light and fast;
scores N×K×H×W at the input's size (docs/segmentation.md §2).

WEIGHTS_FILE: a state_dict of torchvision's lraspp_mobilenet_v3_large on this machine to start from
(matching names and shapes are loaded); nothing is ever downloaded.
"""
from torchvision.models.segmentation import lraspp_mobilenet_v3_large

from digits.networks.score_maps import score_map

TASK_TYPE = "segmentation"
BATCH_SIZE = 8
WEIGHTS_FILE = None


def build(input_shape, num_classes):
    """input_shape = (channels, height, width): one score per class and pixel."""
    return score_map(lraspp_mobilenet_v3_large, input_shape, num_classes, WEIGHTS_FILE)
