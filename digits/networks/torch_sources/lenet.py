"""LeNet as DIGITS shipped it: two 5×5 convolutions with max pooling, a 500-unit hidden layer.

Made for 28×28 grayscale images (MNIST); any size from 16×16 works.
"""
import torch
from torch import nn

BATCH_SIZE = 64


class LeNet(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_shape[0], 20, kernel_size=5), nn.MaxPool2d(2, 2, ceil_mode=True),
            nn.Conv2d(20, 50, kernel_size=5), nn.MaxPool2d(2, 2, ceil_mode=True),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *input_shape)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, 500), nn.ReLU(inplace=True), nn.Linear(500, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); returns a module giving one score per class."""
    return LeNet(input_shape, num_classes)
