"""torchvision's semantic segmentation models (FCN, DeepLabV3, LR-ASPP) in the segmentation network
contract (docs/segmentation.md §2), shared by the standard networks fcn_resnet, deeplabv3_mobilenet and
lraspp_mobilenet (digits/networks/torch_sources): forward(x) returns the N×K×H×W scores at the input's
size — torchvision's dict output reduced to its "out" — in training and evaluation alike.

Built from scratch (weights=None, weights_backbone=None); a weights file on this machine (a torchvision
segmentation model's state_dict, torch.save(model.state_dict(), path)) gives the tensors whose names and
shapes match (the classifier's last layer follows the dataset's classes). Nothing is ever downloaded.
"""
from torch import nn

from digits.networks.local_weights import load_matching


class ScoreMap(nn.Module):
    def __init__(self, model, channels):
        super().__init__()
        self.model = model
        self.channels = channels

    def forward(self, x):
        if self.channels == 1:   # the backbones take colour: a grey image is three equal channels
            x = x.expand(-1, 3, -1, -1)
        return self.model(x)["out"]


def score_map(factory, input_shape, num_classes, weights_file=None, **options):
    """ScoreMap of torchvision's factory(weights=None, weights_backbone=None, num_classes, **options)."""
    if input_shape[0] not in (1, 3):
        raise ValueError(f"this network takes 1- or 3-channel images, not {input_shape[0]} channels")
    model = factory(weights=None, weights_backbone=None, num_classes=num_classes, **options)
    if weights_file:
        load_matching(model, weights_file)
    return ScoreMap(model, input_shape[0])
