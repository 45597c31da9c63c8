"""DIGITS' own fcn_alexnet.prototxt (examples/semantic-segmentation, kept verbatim in data/) on the Caffe
path: it builds, draws, runs a forward pass on 64×64 images with the output Caffe gives — every blob's
shape checked against Caffe's formulas by hand — trains as a segmentation network (SoftmaxWithLoss
ignoring 255, the bilinear upscore frozen), and our standard fcn_alexnet is the same network."""
import math
import os

import pytest
import torch

from digits.frameworks import NetworkError, build_network, network_graph, render_svg
from digits.frameworks.prototxt import parse_net
from digits.networks import standard_network
from tests.frameworks.conftest import input_net

DIGITS_FILE = os.path.join(os.path.dirname(__file__), "data", "fcn_alexnet.prototxt")
TEXT = open(DIGITS_FILE, encoding="utf-8").read()


def conv(size, kernel, stride=1, pad=0):
    return (size + 2 * pad - kernel) // stride + 1


def pool(size, kernel=3, stride=2):
    return math.ceil((size - kernel) / stride) + 1   # Caffe pools in ceil mode


def deconv(size, kernel, stride=1, pad=0):
    return stride * (size - 1) + kernel - 2 * pad


def caffe_shapes(side, classes=21):
    """Each top's C×H×W for a side×side image, by Caffe's output-size formulas."""
    s = {"conv1": conv(side, 11, 4, 100)}
    s["pool1"] = pool(s["conv1"])
    s["conv2"] = conv(s["pool1"], 5, 1, 2)
    s["pool2"] = pool(s["conv2"])
    s["conv3"] = s["conv4"] = s["conv5"] = conv(s["pool2"], 3, 1, 1)
    s["pool5"] = pool(s["conv5"])
    s["fc6"] = conv(s["pool5"], 6)
    s["fc7"] = s["score_fr"] = s["fc6"]
    s["upscore"] = deconv(s["score_fr"], 63, 32)
    assert 18 + side <= s["upscore"]             # Crop: offset 18 plus the reference's size must fit
    s["score"] = side
    channels = {"conv1": 96, "pool1": 96, "conv2": 256, "pool2": 256, "conv3": 384, "conv4": 384, "conv5": 256,
                "pool5": 256, "fc6": 4096, "fc7": 4096, "score_fr": classes, "upscore": classes, "score": classes}
    return {name: [channels[name], size, size] for name, size in s.items()}


def test_hand_computed_shapes_for_64_pixels():
    shapes = caffe_shapes(64)
    assert [shapes[n][1] for n in ("conv1", "pool1", "pool2", "pool5", "fc6", "upscore", "score")] == \
        [64, 32, 16, 8, 3, 127, 64]


@pytest.mark.parametrize("side", [64, 100])
def test_digits_file_builds_with_caffes_blob_shapes(side):
    network = build_network("caffe", TEXT, (3, side, side), 21)
    got = {top: shape for layer in network.layers for top, shape in layer.output_shapes.items()}
    expected = caffe_shapes(side)
    assert {name: got[name] for name in expected} == expected
    assert network.task_type == "segmentation" and not network.warnings
    assert network.loss_spec == {"type": "SoftmaxWithLoss", "layer": "loss", "weight": 1.0, "ignore_label": 255,
                                 "normalization": "valid"}        # normalize: true (Caffe's legacy flag)
    assert network.param_specs["layers.upscore.weight"]["lr_mult"] == 0.0
    assert {layer.name: layer.status for layer in network.layers}["label"] == "data"


def test_a_forward_pass_on_64_pixels_scores_every_pixel():
    network = build_network("caffe", TEXT, (3, 64, 64), 21)
    module = network.module.eval()
    with torch.no_grad():
        out = module(torch.rand(2, 3, 64, 64) * 255)
    assert out.shape == (2, 21, 64, 64) and torch.isfinite(out).all()


def test_the_score_path_follows_the_datasets_classes():
    network = build_network("caffe", TEXT, (3, 64, 64), 2)
    assert tuple(network.module.layers.upscore.weight.shape) == (2, 1, 63, 63)   # group = num_output = 2
    assert [w.split(":")[0] for w in network.warnings] == ['layer "score_fr" (Convolution, line 268)',
                                                          'layer "upscore" (Deconvolution, line 287)']
    with torch.no_grad():
        assert network.module.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 64, 64)


def test_upscore_starts_bilinear_and_stays_so_in_training():
    from digits.model.solver import make_optimizer
    from digits.model.tasks import get_task_type
    network = build_network("caffe", TEXT, (3, 64, 64), 2, aux_losses=True)
    module = network.module
    kernel = module.layers.upscore.weight[0, 0]
    f, c = 32, 63 / 64                                  # Caffe's BilinearFiller for kernel 63
    axis = torch.tensor([1 - abs(x / f - c) for x in range(63)], dtype=torch.float32)
    assert torch.allclose(kernel, axis[:, None] * axis[None, :])
    task = get_task_type("segmentation")
    assert task.is_default_loss(network.loss_spec)
    optimizer = make_optimizer(module, {"solver_type": "SGD", "learning_rate": 0.01, "momentum": 0.9,
                                        "weight_decay": 0.0005}, specs=network.param_specs)
    labels = torch.randint(0, 2, (2, 64, 64))
    labels[:, :, :5] = 255
    before = module.layers.upscore.weight.detach().clone(), module.layers.score_fr.weight.detach().clone()
    module.train()
    loss = task.loss(network, module, module(torch.rand(2, 3, 64, 64) * 255), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert torch.equal(module.layers.upscore.weight, before[0])          # lr_mult: 0
    assert not torch.equal(module.layers.score_fr.weight, before[1])


def test_the_graph_and_its_drawing():
    graph = network_graph("caffe", TEXT, (3, 64, 64), 21)
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert nodes["upscore"]["shape"] == [21, 127, 127] and nodes["score"]["shape"] == [21, 64, 64]
    assert nodes["loss"]["status"] == "removed"
    assert ["upscore", "score"] in graph["edges"] and ["data", "score"] in graph["edges"]
    svg = render_svg(graph)
    assert svg.startswith("<svg") and "21×127×127" in svg and "Deconvolution" in svg


def test_deconvolution_and_crop_arithmetic():
    for size, kernel, stride, pad in ((3, 63, 32, 0), (5, 4, 2, 1), (7, 3, 1, 1), (4, 16, 8, 4)):
        text = input_net(f'layer {{ name: "up" type: "Deconvolution" bottom: "data" top: "up" convolution_param '
                         f'{{ num_output: 2 kernel_size: {kernel} stride: {stride} pad: {pad} }} }}',
                         shape=(1, 1, size, size))
        network = build_network("caffe", text, (1, size, size), None)
        assert network.layers[-1].output_shapes["up"][1:] == [deconv(size, kernel, stride, pad)] * 2
    crop = ('layer {{ name: "up" type: "Deconvolution" bottom: "data" top: "up" convolution_param {{ num_output: 2 '
            'kernel_size: 8 stride: 4 }} }}\nlayer {{ name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "out" '
            'crop_param {{ axis: 2 offset: {offset} }} }}')
    network = build_network("caffe", input_net(crop.format(offset=2), shape=(1, 1, 6, 6)), (1, 6, 6), None)
    assert network.layers[-1].output_shapes["out"] == [2, 6, 6]          # deconv: 4·5 + 8 = 28, then 6 from 2
    x = torch.rand(1, 1, 6, 6)
    up = network.module.layers.up(x)
    assert torch.equal(network.module.eval()(x), up[:, :, 2:8, 2:8])
    with pytest.raises(NetworkError, match="crop"):
        build_network("caffe", input_net(crop.format(offset=23), shape=(1, 1, 6, 6)), (1, 6, 6), None)


def test_the_standard_network_is_digits_file():
    ours, _ = parse_net(standard_network("fcn_alexnet", "caffe", "segmentation"))
    digits, _ = parse_net(TEXT)
    ours.ClearField("name")
    assert ours == digits


def test_a_score_map_of_the_wrong_size_is_refused():
    uncropped = TEXT.replace('bottom: "score"', 'bottom: "upscore"')    # the loss takes the map before its Crop
    with pytest.raises(NetworkError, match=r"127×127 per image for a 3×64×64 input; a segmentation network"):
        build_network("caffe", uncropped, (3, 64, 64), 21)
