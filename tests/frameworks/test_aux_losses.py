"""Auxiliary loss branches (GoogLeNet's loss1/loss2): trained with their loss_weight, absent at inference."""
import pytest
import torch
import torch.nn.functional as F

from digits.frameworks import build_network
from digits.model.trainer_setup import training_loss

AUX_NET = """
name: "aux"
input: "data"
input_shape { dim: 1 dim: 1 dim: 8 dim: 8 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "aux/fc" type: "InnerProduct" bottom: "conv1" top: "aux/fc" inner_product_param { num_output: 7 } }
layer { name: "aux/loss" type: "SoftmaxWithLoss" bottom: "aux/fc" bottom: "label" top: "aux/loss"
        loss_weight: 0.3 }
layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "fc" type: "InnerProduct" bottom: "conv2" top: "fc" inner_product_param { num_output: 7 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
"""


def _build(aux_losses, text=AUX_NET):
    torch.manual_seed(0)
    return build_network("caffe", text, (1, 8, 8), 3, aux_losses=aux_losses)


def test_inference_build_leaves_the_auxiliary_branch_out():
    network = _build(False)
    status = {info.name: info.status for info in network.layers}
    assert status["aux/fc"] == "unused" and status["fc"] == "active"
    assert not any(k.startswith("aux_layers.") for k in network.module.state_dict())
    network.module.train()
    network.module(torch.zeros(2, 1, 8, 8))
    assert network.module.aux_outputs == []


def test_training_build_returns_weighted_aux_logits_in_train_mode_only():
    inference, training = _build(False), _build(True)
    module = training.module
    assert training.aux == [("aux/fc", 0.3)]
    assert {k for k in module.state_dict() if k.startswith("aux_layers.")} == {"aux_layers.aux/fc.weight",
                                                                              "aux_layers.aux/fc.bias"}
    assert training.param_specs["aux_layers.aux/fc.weight"] == {"lr_mult": 1.0, "decay_mult": 1.0}
    x = torch.randn(5, 1, 8, 8)
    module.train()
    logits = module(x)
    assert logits.shape == (5, 3)
    [(weight, aux)] = module.aux_outputs
    assert weight == 0.3 and aux.shape == (5, 3)           # num_output forced to the class count
    module.eval()
    # the main path and its state_dict are the inference network's: the same weights give the same output
    main = {k: v for k, v in module.state_dict().items() if not k.startswith("aux_layers.")}
    inference.module.load_state_dict(main, strict=True)
    inference.module.eval()
    assert torch.equal(module(x), inference.module(x)) and module.aux_outputs == []


def test_training_loss_adds_weighted_aux_cross_entropy_and_trains_the_branch():
    module = _build(True).module.train()
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    logits = module(x)
    [(weight, aux)] = module.aux_outputs
    loss = training_loss(module, logits, y)
    expected = F.cross_entropy(logits, y) + 0.3 * F.cross_entropy(aux, y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() > F.cross_entropy(logits, y).item()
    loss.backward()
    assert module.aux_layers["aux/fc"].weight.grad.abs().sum() > 0


def test_torchvision_style_aux_outputs_are_weighted():
    from collections import namedtuple
    Outputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
    main, aux2, aux1 = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 1])
    loss = training_loss(torch.nn.Identity(), Outputs(main, aux2, aux1), y)
    expected = F.cross_entropy(main, y) + 0.3 * (F.cross_entropy(aux2, y) + F.cross_entropy(aux1, y))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_other_loss_types_are_reported():
    text = AUX_NET.replace('name: "aux/loss" type: "SoftmaxWithLoss"', 'name: "aux/loss" type: "EuclideanLoss"')
    network = _build(True, text)
    assert network.aux == []
    # EuclideanLoss is trained (regression) as a main loss; as an auxiliary one it is left out, and said so
    assert any('"aux/loss" (EuclideanLoss' in w and "left out of training" in w for w in network.warnings), \
        network.warnings
    main = AUX_NET.replace('name: "loss" type: "SoftmaxWithLoss"', 'name: "loss" type: "HingeLoss"')
    assert any('"loss" (HingeLoss' in w for w in _build(False, main).warnings)


def test_standard_googlenet_trains_both_auxiliary_classifiers():
    from digits.networks import standard_network
    network = build_network("caffe", standard_network("googlenet", "caffe"), (3, 224, 224), 4, aux_losses=True)
    status = {info.name: info.status for info in network.layers}
    assert status["loss1/classifier"] == "active" and status["loss2/fc"] == "active"
    assert [w for _, w in network.aux] == [0.3, 0.3]
    module = network.module.train()
    y = torch.tensor([1])
    loss = training_loss(module, module(torch.randn(1, 3, 224, 224)), y)  # DIGITS' minimum size, batch 1
    assert [tuple(aux.shape) for _, aux in module.aux_outputs] == [(1, 4), (1, 4)]
    loss.backward()
    assert module.aux_layers["loss1/classifier"].weight.grad.abs().sum() > 0
    assert module.aux_layers["loss2/classifier"].weight.grad.abs().sum() > 0
    module.eval()
    with torch.no_grad():
        assert module(torch.randn(1, 3, 224, 224)).shape == (1, 4) and module.aux_outputs == []
