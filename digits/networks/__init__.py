"""The standard networks offered on the new-model pages, for each framework and task type.

    standard_network(name, framework, task_type="classification") -> source text, from the framework's
        engine (registry: Framework.standard_network): prototxt for "caffe", Python for "torch";
        task_type None: a network of any task type
    STANDARD_NETWORKS: StandardNetwork(name, title, image_size (H, W) hint, description, task_type) of
        classification, in display order (the classification page's list)
    DETECTION_NETWORKS: the same for object detection (PyTorch only; the generic page offers them)
    SEGMENTATION_NETWORKS: the same for semantic segmentation (fcn_alexnet is Caffe's, the others PyTorch)
    networks_for(task_type) -> [StandardNetwork]
    StandardNetwork.framework: the one framework that has it (None: every built-in one)
    plugin_networks() -> [StandardNetwork] of the entry points of the group `digits.plugins.network`

A plugin's network is a StandardNetwork with its framework (e.g. "torch") and its definition's text as
`source`, named by an entry point (docs/plugins.md); it is listed after the built-in ones of its task
type, and a model made with it keeps its own copy of the text, so it trains and infers after the plugin
is gone. A name the built-ins have is left out (logged), as is an entry point that does not load.
"""
from collections import namedtuple

from digits.frameworks.registry import get_framework
from digits.utils.plugins import LoadOnce, load_entry_points

ENTRY_POINT_GROUP = "digits.plugins.network"
StandardNetwork = namedtuple("StandardNetwork", "name title image_size description task_type framework source",
                             defaults=("classification", None, None))

STANDARD_NETWORKS = [
    StandardNetwork("lenet", "LeNet", (28, 28), "Original LeNet, for 28×28 grayscale images such as MNIST"),
    StandardNetwork("alexnet", "AlexNet", (256, 256), "AlexNet, for 256×256 color images (random crops)"),
    StandardNetwork("googlenet", "GoogLeNet", (256, 256), "GoogLeNet (Inception v1), for 256×256 color images"),
    StandardNetwork("resnet18", "ResNet-18", (224, 224), "18-layer residual network, for 224×224 color images"),
    StandardNetwork("resnet50", "ResNet-50", (224, 224), "50-layer residual network, for 224×224 color images"),
    StandardNetwork("mobilenet_v2", "MobileNet-V2", (224, 224), "MobileNet-V2, light and fast, for 224×224 images"),
]
NAMES = tuple(n.name for n in STANDARD_NETWORKS)

DETECTION_NETWORKS = [
    StandardNetwork("detectnet", "DetectNet", (384, 1248), "DIGITS' DetectNet: GoogLeNet, coverage and bbox grids "
                    "of stride 16, NMS; for KITTI-like 1248×384 images", "detection", "torch"),
    StandardNetwork("detectnet_small", "DetectNet (small)", (64, 64), "DetectNet's heads on a small backbone "
                    "(stride 8), trainable from scratch on a CPU for small images", "detection", "torch"),
    StandardNetwork("fasterrcnn_mobilenet", "Faster R-CNN (MobileNet-V3)", (320, 320), "torchvision's Faster "
                    "R-CNN with a MobileNet-V3-Large FPN backbone; can start from a local weights file", "detection",
                    "torch"),
]

SEGMENTATION_NETWORKS = [
    StandardNetwork("fcn_alexnet", "FCN-AlexNet (Caffe)", (256, 256), "DIGITS' semantic-segmentation example: "
                    "AlexNet made fully convolutional, scores upsampled by 32 and cropped to the image", "segmentation",
                    "caffe"),
    StandardNetwork("unet_small", "U-Net (small)", (64, 64), "a small U-Net, trainable from scratch on a CPU in "
                    "minutes for small images", "segmentation", "torch"),
    StandardNetwork("fcn_resnet", "FCN (ResNet-50)", (256, 256), "torchvision's FCN on ResNet-50 (output stride 8); "
                    "can start from a local weights file", "segmentation", "torch"),
    StandardNetwork("deeplabv3_mobilenet", "DeepLabV3 (MobileNet-V3)", (256, 256), "torchvision's DeepLabV3 on "
                    "MobileNet-V3-Large; can start from a local weights file", "segmentation", "torch"),
    StandardNetwork("lraspp_mobilenet", "LR-ASPP (MobileNet-V3)", (256, 256), "torchvision's LR-ASPP on "
                    "MobileNet-V3-Large, light and fast; can start from a local weights file", "segmentation", "torch"),
]


BUILTIN_NAMES = {n.name for n in STANDARD_NETWORKS + DETECTION_NETWORKS + SEGMENTATION_NETWORKS}
_plugins = []


def _fill():
    load_entry_points(ENTRY_POINT_GROUP, _register, "network")


def _register(network):
    if not isinstance(network, StandardNetwork) or not network.framework or not network.source:
        raise TypeError("an entry point of digits.plugins.network must name a StandardNetwork with its "
                        "framework and source")
    if network.name in BUILTIN_NAMES | {n.name for n in _plugins}:
        raise ValueError(f"standard network {network.name!r} exists already")
    _plugins.append(network)


_load = LoadOnce(_fill)


def plugin_networks():
    _load()
    return list(_plugins)


def networks_for(task_type):
    return [n for n in STANDARD_NETWORKS + DETECTION_NETWORKS + SEGMENTATION_NETWORKS + plugin_networks()
            if task_type is None or n.task_type == task_type]


def standard_network(name, framework, task_type="classification"):
    """Source text of a standard network of the task type (None: any); ValueError for an unknown name or
    framework."""
    names = [n.name for n in networks_for(task_type)]
    if name not in names:
        known = f'known: {", ".join(names)}' if names else f"{task_type} has none: write your own network"
        raise ValueError(f'unknown standard network "{name}" ({known})')
    network = next(n for n in networks_for(task_type) if n.name == name)
    engine = get_framework(framework, aliases=False)
    if network.source is not None:   # a plugin's: its text, in its one framework
        text = network.source if engine.name == network.framework else None
    else:
        text = engine.standard_network(name)
    if text is None:
        raise ValueError(f'framework "{framework}" has no standard network "{name}"')
    return text
