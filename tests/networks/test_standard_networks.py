"""Every standard network builds, in both frameworks, and gives one score per class."""
import pytest
import torch
from google.protobuf import text_format

from digits.frameworks import build_network
from digits.networks import NAMES, STANDARD_NETWORKS, standard_network
from digits.proto import caffe_pb2

# Reduced sizes keep the suite fast; GoogLeNet's Caffe pool5 is a fixed 7×7 window, so it needs 224.
SIZES = {
    ("lenet", "caffe"): (1, 28, 28), ("lenet", "torch"): (1, 28, 28),
    ("googlenet", "caffe"): (3, 224, 224),
}


@pytest.mark.parametrize("framework", ["caffe", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_standard_network_gives_logits(name, framework):
    shape = SIZES.get((name, framework), (3, 64, 64))
    network = build_network(framework, standard_network(name, framework), shape, 7)
    network.module.eval()
    with torch.no_grad():
        out = network.module(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    assert network.default_batch_size


def test_listing_matches_the_sources():
    assert [n.name for n in STANDARD_NETWORKS] == list(NAMES)
    assert all(len(n.image_size) == 2 and n.title for n in STANDARD_NETWORKS)
    with pytest.raises(ValueError, match="unknown standard network"):
        standard_network("vgg99", "caffe")
    with pytest.raises(ValueError, match="unknown framework"):
        standard_network("lenet", "tensorflow")


@pytest.mark.parametrize("name", NAMES)
def test_caffe_sources_are_valid_net_parameters(name):
    text = standard_network(name, "caffe")
    net = text_format.Parse(text, caffe_pb2.NetParameter())
    assert net.layer and text.startswith("#")
    final = [layer for layer in net.layer if layer.type == "InnerProduct"][-1]
    assert not final.inner_product_param.HasField("num_output")  # DIGITS fills in the number of classes


def test_lenet_is_digits_lenet():
    network = build_network("caffe", standard_network("lenet", "caffe"), (1, 28, 28), 10)
    state = network.module.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "layers.conv1.weight": (20, 1, 5, 5), "layers.conv1.bias": (20,),
        "layers.conv2.weight": (50, 20, 5, 5), "layers.conv2.bias": (50,),
        "layers.ip1.weight": (500, 800), "layers.ip1.bias": (500,),
        "layers.ip2.weight": (10, 500), "layers.ip2.bias": (10,)}
    assert network.scale == 0.0125


def test_alexnet_keeps_digits_crop_and_groups():
    network = build_network("caffe", standard_network("alexnet", "caffe"), (3, 227, 227), 4)
    assert network.crop_size == 227 and network.mirror
    assert tuple(network.module.state_dict()["layers.conv2.weight"].shape) == (256, 48, 5, 5)  # group 2
    assert tuple(network.module.state_dict()["layers.fc6.weight"].shape) == (4096, 9216)


def test_googlenet_uses_the_main_classifier_only():
    network = build_network("caffe", standard_network("googlenet", "caffe"), (3, 224, 224), 5)
    status = {info.name: info.status for info in network.layers}
    assert network.output_blob == "loss3/classifier"
    assert status["loss1/classifier"] == "unused" and status["loss2/fc"] == "unused"
    assert status["loss1/loss"] == "removed" and status["inception_5b/output"] == "active"
    assert not any(key.startswith("layers.loss1/") for key in network.module.state_dict())


def test_resnet_batchnorm_is_fused_with_its_scale():
    network = build_network("caffe", standard_network("resnet18", "caffe"), (3, 64, 64), 5)
    keys = set(network.module.state_dict())
    assert "layers.bn_conv1.weight" in keys and "layers.bn_conv1.running_var" in keys
    assert not any(key.startswith("layers.scale") for key in keys)
    assert "layers.res2a_branch2a.bias" not in keys  # convolutions before BatchNorm have no bias


def test_torch_networks_adapt_to_grayscale():
    network = build_network("torch", standard_network("resnet18", "torch"), (1, 64, 64), 3)
    assert network.module(torch.randn(2, 1, 64, 64)).shape == (2, 3)
    assert network.crop_size == 64 and network.warnings  # CROP_SIZE 224 shrinks to the image


def test_caffe_lenet_learns():
    torch.manual_seed(0)
    network = build_network("caffe", standard_network("lenet", "caffe"), (1, 28, 28), 4)
    module = network.module.train()
    x, y = torch.randn(16, 1, 28, 28), torch.arange(16) % 4
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(module(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
