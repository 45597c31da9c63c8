"""AlexNet (torchvision's single-GPU variant), trained on random 224×224 crops of 256×256 images."""
import torchvision
from torch import nn

BATCH_SIZE = 100
CROP_SIZE = 224


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); returns a module giving one score per class."""
    model = torchvision.models.alexnet(weights=None, num_classes=num_classes)
    if input_shape[0] != 3:
        model.features[0] = nn.Conv2d(input_shape[0], 64, kernel_size=11, stride=4, padding=2)
    return model
