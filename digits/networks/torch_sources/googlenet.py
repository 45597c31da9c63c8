"""GoogLeNet (Inception v1, torchvision), trained on random 224×224 crops of 256×256 images.

The auxiliary classifiers are left out: the network returns the main classifier's scores only.
"""
import torchvision
from torch import nn

BATCH_SIZE = 32
CROP_SIZE = 224


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); returns a module giving one score per class."""
    model = torchvision.models.googlenet(weights=None, num_classes=num_classes, aux_logits=False,
                                         transform_input=False, init_weights=True)
    if input_shape[0] != 3:
        model.conv1.conv = nn.Conv2d(input_shape[0], 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model
