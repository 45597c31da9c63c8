"""The standard networks offered on the new-model page, for each framework.

    standard_network(name, framework) -> source text (prototxt for "caffe", Python for "torch")
    STANDARD_NETWORKS: StandardNetwork(name, title, image_size (H, W) hint, description) in display order
"""
import functools
from collections import namedtuple
from importlib import resources

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


@functools.lru_cache(maxsize=None)
def _caffe(name):
    from digits.networks import caffe_classic, caffe_modern
    makers = {"lenet": caffe_classic.lenet, "alexnet": caffe_classic.alexnet, "googlenet": caffe_classic.googlenet,
              "resnet18": lambda: caffe_modern.resnet(18), "resnet50": lambda: caffe_modern.resnet(50),
              "mobilenet_v2": caffe_modern.mobilenet_v2}
    return makers[name]()


def standard_network(name, framework):
    """Source text of a standard network; ValueError for an unknown name or framework."""
    if name not in NAMES:
        raise ValueError(f'unknown standard network "{name}" (known: {", ".join(NAMES)})')
    if framework == "caffe":
        return _caffe(name)
    if framework == "torch":
        return resources.files("digits.networks.torch_sources").joinpath(f"{name}.py").read_text(encoding="utf-8")
    raise ValueError(f'unknown framework "{framework}" (use "caffe" or "torch")')
