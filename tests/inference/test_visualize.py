"""Layer visualizations of a Caffe network with a BatchNorm layer that has no Scale: its running
statistics (buffers, not parameters) are shown as its weights."""
import types

import torch

from digits.frameworks import build_network
from digits.inference.visualize import layer_modules, visualizations

NET = '''
name: "bn"
layer { name: "data" type: "Data" top: "data" top: "label" }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc" inner_product_param { num_output: 2 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
'''


def test_batch_norm_statistics_are_its_weights():
    network = build_network("caffe", NET, input_shape=(1, 8, 8), num_classes=2)
    module = next(m for name, _, m in layer_modules(network) if name == "bn1")
    assert not list(module.parameters())   # statistics only
    module.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    module.running_var.copy_(torch.tensor([5.0, 6.0, 7.0, 8.0]))
    network.module.eval()
    loaded = types.SimpleNamespace(network=network, module=network.module, device=torch.device("cpu"))
    entries = visualizations(loaded, torch.rand(1, 1, 8, 8))
    weights = {e["name"]: e for e in entries if e["vis_type"] == "Weights"}
    assert set(weights) == {"conv1", "bn1", "fc"}
    stats = weights["bn1"]["stats"]
    assert stats["shape"] == [2, 4] and stats["mean"] == 4.5
    assert weights["bn1"]["param_count"] == 8 and weights["bn1"]["layer_type"] == "BatchNorm"
    assert weights["bn1"]["image"].startswith("data:image/png;base64,")
