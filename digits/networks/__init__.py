"""The standard networks offered on the new-model page, for each framework.

    standard_network(name, framework) -> source text, from the framework's engine (registry:
        Framework.standard_network): prototxt for "caffe", Python for "torch"
    STANDARD_NETWORKS: StandardNetwork(name, title, image_size (H, W) hint, description) in display order
"""
from collections import namedtuple

from digits.frameworks.registry import get_framework

StandardNetwork = namedtuple("StandardNetwork", "name title image_size description")

STANDARD_NETWORKS = [
    StandardNetwork("lenet", "LeNet", (28, 28), "Original LeNet, for 28×28 grayscale images such as MNIST"),
    StandardNetwork("alexnet", "AlexNet", (256, 256), "AlexNet, for 256×256 color images (random crops)"),
    StandardNetwork("googlenet", "GoogLeNet", (256, 256), "GoogLeNet (Inception v1), for 256×256 color images"),
    StandardNetwork("resnet18", "ResNet-18", (224, 224), "18-layer residual network, for 224×224 color images"),
    StandardNetwork("resnet50", "ResNet-50", (224, 224), "50-layer residual network, for 224×224 color images"),
    StandardNetwork("mobilenet_v2", "MobileNet-V2", (224, 224), "MobileNet-V2, light and fast, for 224×224 images"),
]
NAMES = tuple(n.name for n in STANDARD_NETWORKS)


def standard_network(name, framework):
    """Source text of a standard network; ValueError for an unknown name or framework."""
    if name not in NAMES:
        raise ValueError(f'unknown standard network "{name}" (known: {", ".join(NAMES)})')
    text = get_framework(framework, aliases=False).standard_network(name)
    if text is None:
        raise ValueError(f'framework "{framework}" has no standard network "{name}"')
    return text
