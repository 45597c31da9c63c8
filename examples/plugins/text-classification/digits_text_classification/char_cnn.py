"""A character-level 1-D CNN (after Zhang et al., small): the input image's rows are the alphabet's one-hot
channels and its columns the characters; two convolutions along the text, a max over it, one linear layer.

Built for the text classification plugin's datasets (1 × len(alphabet) × max_length); any size works.
"""
import torch
from torch import nn

BATCH_SIZE = 32


class CharCNN(nn.Module):
    def __init__(self, input_shape, num_classes, width=96):
        super().__init__()
        channels, rows, _length = input_shape
        self.features = nn.Sequential(
            nn.Conv1d(channels * rows, width, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool1d(2, ceil_mode=True),
            nn.Conv1d(width, width, kernel_size=3, padding=1), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(width, num_classes))

    def forward(self, x):
        scores = self.features(x.flatten(1, 2))     # N × (C·rows) × length: the rows are channels
        return self.classifier(torch.amax(scores, dim=2))


def build(input_shape, num_classes):
    return CharCNN(input_shape, num_classes)
