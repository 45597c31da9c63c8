"""FCN with a ResNet-50 backbone (torchvision's fcn_resnet50, output stride 8), for color images of
about 256×256 and more; scores N×K×H×W at the input's size (docs/segmentation.md §2).

WEIGHTS_FILE: a state_dict of torchvision's fcn_resnet50 on this machine to start from (matching names
and shapes are loaded); nothing is ever downloaded.
"""
from torchvision.models.segmentation import fcn_resnet50

from digits.networks.score_maps import score_map

TASK_TYPE = "segmentation"
BATCH_SIZE = 4
WEIGHTS_FILE = None


def build(input_shape, num_classes):
    """input_shape = (channels, height, width): one score per class and pixel."""
    return score_map(fcn_resnet50, input_shape, num_classes, WEIGHTS_FILE, aux_loss=False)
