"""DetectNet (DIGITS' object detection network): GoogLeNet (Inception v1, torchvision) to stride 16 —
its pool4 left out, as DIGITS did, so inception 5a/5b still see a 16-pixel grid — with a coverage head
(one sigmoid map per class) and a bbox regression head; DIGITS' clustering of the candidate boxes is
replaced by non-maximum suppression (digits.networks.detectnet explains both).

Made for KITTI-like images (DIGITS: 1248×384) padded/resized by the dataset. WEIGHTS_FILE: a state_dict
of torchvision's GoogLeNet (e.g. ImageNet weights saved with torch.save(model.state_dict(), path)) on
this machine to start the backbone from; nothing is ever downloaded.
"""
import torchvision
from torch import nn

from digits.networks.detectnet import DetectNet
from digits.networks.local_weights import load_matching

TASK_TYPE = "detection"
BATCH_SIZE = 4
MAX_DETECTIONS = 100
WEIGHTS_FILE = None


def build(input_shape, num_classes):
    """input_shape = (channels, height, width); num_classes counts DontCare (class 0)."""
    net = torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=False, init_weights=True)
    if WEIGHTS_FILE:
        load_matching(net, WEIGHTS_FILE)
    if input_shape[0] != 3:
        net.conv1.conv = nn.Conv2d(input_shape[0], 64, kernel_size=7, stride=2, padding=3, bias=False)
    backbone = nn.Sequential(net.conv1, net.maxpool1, net.conv2, net.conv3, net.maxpool2,
                             net.inception3a, net.inception3b, net.maxpool3,
                             net.inception4a, net.inception4b, net.inception4c, net.inception4d, net.inception4e,
                             net.inception5a, net.inception5b)
    return DetectNet(backbone, 1024, input_shape, num_classes, max_detections=MAX_DETECTIONS)
