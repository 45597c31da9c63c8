"""Python (torch) network sources: what they may define, and how their failures are reported."""
import pytest
import torch

from digits.frameworks import NetworkError, build_network, network_graph, render_svg

SOURCE = '''import torch
from torch import nn

BATCH_SIZE = 12
SCALE = 0.5
CROP_SIZE = 6


def build(input_shape, num_classes):
    channels, height, width = input_shape
    return nn.Sequential(nn.Conv2d(channels, 4, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * (height - 2) * (width - 2), num_classes))
'''


def test_python_network_builds_with_its_settings():
    network = build_network("torch", SOURCE, (1, 8, 8), 3)
    assert network.module(torch.randn(5, 1, 8, 8)).shape == (5, 3)
    assert (network.default_batch_size, network.scale, network.crop_size) == (12, 0.5, 6)
    assert [info.name for info in network.layers] == ["0", "1", "2", "3"]
    assert network.layers[0].params == {"weight": [4, 1, 3, 3], "bias": [4]}
    assert network.layers[0].output_shapes == {"0": [4, 6, 6]}


def test_network_function_name_is_accepted():
    source = SOURCE.replace("def build(", "def network(")
    assert build_network("torch", source, (1, 8, 8), 3).module is not None


def test_exception_in_build_gives_a_traceback_excerpt():
    source = "def helper():\n    raise ValueError('boom')\n\n\ndef build(input_shape, num_classes):\n    return helper()\n"
    with pytest.raises(NetworkError) as info:
        build_network("torch", source, (1, 8, 8), 3)
    message = str(info.value)
    assert "ValueError: boom" in message
    assert "network.py, line 6, in build" in message and "network.py, line 2, in helper" in message
    assert "raise ValueError('boom')" in message


def test_syntax_error_gives_the_line():
    with pytest.raises(NetworkError, match="line 3") as info:
        build_network("torch", "import torch\n\ndef build(input_shape num_classes):\n    pass\n", (1, 8, 8), 3)
    assert info.value.line == 3


def test_missing_build_function():
    with pytest.raises(NetworkError, match="build\\(input_shape, num_classes\\)"):
        build_network("torch", "x = 1\n", (1, 8, 8), 3)


def test_not_a_module():
    with pytest.raises(NetworkError, match="must return a torch.nn.Module, got int"):
        build_network("torch", "def build(input_shape, num_classes):\n    return 3\n", (1, 8, 8), 3)


def test_network_too_big_for_the_image():
    with pytest.raises(NetworkError, match=r"does not fit the 1×2×2 \(C×H×W\) input"):
        build_network("torch", SOURCE, (1, 2, 2), 3)


def test_wrong_number_of_outputs():
    with pytest.raises(NetworkError, match=r"must be \(2, 4\)"):
        build_network("torch", SOURCE.replace("num_classes))\n", "7))\n"), (1, 8, 8), 4)


def test_bad_setting_value():
    with pytest.raises(NetworkError, match="BATCH_SIZE"):
        build_network("torch", SOURCE.replace("BATCH_SIZE = 12", "BATCH_SIZE = 'many'"), (1, 8, 8), 3)


def test_torch_graph_follows_the_traced_module():
    graph = network_graph("torch", SOURCE, (1, 8, 8), 3)
    nodes = {node["id"]: node for node in graph["nodes"]}
    inputs = [node["id"] for node in graph["nodes"] if node["type"] == "Input"]
    assert len(inputs) == 1 and nodes[inputs[0]]["shape"] == [1, 8, 8] and nodes["_0"]["type"] == "Conv2d"
    assert nodes["_0"]["shape"] == [4, 6, 6] and nodes["_3"]["shape"] == [3]
    assert [inputs[0], "_0"] in graph["edges"] and ["_2", "_3"] in graph["edges"]
    assert "Conv2d" in render_svg(graph)
