"""ResNet-50 (torchvision), for 224×224 color images; global pooling makes any size ≥ 32 work."""
import torchvision
from torch import nn

BATCH_SIZE = 32
CROP_SIZE = 224


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); returns a module giving one score per class."""
    model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if input_shape[0] != 3:
        model.conv1 = nn.Conv2d(input_shape[0], 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model
