"""Whole Caffe networks: which layers run, what the output is, DIGITS' rules, and the error messages."""
import pytest
import torch

from digits.frameworks import NetworkError, build_network, network_graph, render_svg
from digits.networks import standard_network

LENET = standard_network("lenet", "caffe")

SMALL = """name: "small"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        transform_param { scale: 0.5 crop_size: 8 mirror: true } data_param { batch_size: 16 } }
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST } data_param { batch_size: 4 } }
layer { name: "conv.1" type: "Convolution" bottom: "data" top: "conv1"
        param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "test_only" type: "Dropout" bottom: "conv1" top: "conv1" include { phase: TEST } }
layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc" inner_product_param { num_output: 10 } }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
"""


def test_lenet_gives_logits_and_digits_settings():
    network = build_network("caffe", LENET, (1, 28, 28), 10)
    assert network.module(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert network.scale == 0.0125 and network.default_batch_size == 64 and network.crop_size is None
    assert network.input_blob == "scaled" and network.output_blob == "ip2" and network.loss == "SoftmaxWithLoss"
    assert network.param_specs["layers.conv1.bias"] == {"lr_mult": 2.0, "decay_mult": 0.0}


def test_last_inner_product_gets_the_number_of_classes():
    network = build_network("caffe", LENET, (1, 28, 28), 3)
    state = network.module.state_dict()
    assert tuple(state["layers.ip2.weight"].shape) == (3, 500)
    assert tuple(state["layers.ip1.weight"].shape) == (500, 800)
    explicit = build_network("caffe", SMALL, (1, 8, 8), 5)
    assert tuple(explicit.module.state_dict()["layers.fc.weight"].shape) == (5, 144)
    assert any("num_output 10 replaced" in w for w in explicit.warnings)


def test_train_view_state_dict_keys_and_settings():
    network = build_network("caffe", SMALL, (1, 8, 8), 5)
    assert list(network.module.state_dict()) == ["layers.conv_1.weight", "layers.conv_1.bias",
                                                  "layers.fc.weight", "layers.fc.bias"]
    again = build_network("caffe", SMALL, (1, 8, 8), 5)
    assert list(again.module.state_dict()) == list(network.module.state_dict())
    assert "test_only" not in [info.name for info in network.layers]  # TEST-phase layer not in the TRAIN view
    assert (network.scale, network.crop_size, network.mirror, network.default_batch_size) == (0.5, 8, True, 16)
    assert network.param_specs["layers.conv_1.weight"] == {"lr_mult": 1.0, "decay_mult": 1.0}


def test_crop_larger_than_the_images_shrinks_with_a_warning():
    network = build_network("caffe", SMALL, (1, 6, 6), 5)
    assert network.crop_size == 6 and any("crop_size 8" in w for w in network.warnings)


def test_deploy_network_with_input_layer_and_softmax_returns_logits():
    text = """input: "data" input_shape { dim: 1 dim: 1 dim: 4 dim: 4 }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 7 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }"""
    network = build_network("caffe", text, (1, 4, 4), 3)
    out = network.module(torch.randn(5, 1, 4, 4))
    assert out.shape == (5, 3) and not torch.allclose(out.sum(dim=1), torch.ones(5))


def test_v1_layers_format_is_upgraded():
    text = """name: "old"
layers { name: "data" type: DATA top: "data" top: "label" }
layers { name: "ip" type: INNER_PRODUCT bottom: "data" top: "ip" blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
         inner_product_param { num_output: 2 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip" bottom: "label" }"""
    network = build_network("caffe", text, (1, 3, 3), 2)
    assert network.module(torch.randn(2, 1, 3, 3)).shape == (2, 2)
    assert network.param_specs["layers.ip.bias"] == {"lr_mult": 2.0, "decay_mult": 0.0}


def test_syntax_error_names_the_line():
    broken = LENET.replace('type: "Pooling"', 'type: "Pooling" kernel: 3', 1)
    line = broken[:broken.index("kernel: 3")].count("\n") + 1
    with pytest.raises(NetworkError, match=f"line {line}") as info:
        build_network("caffe", broken, (1, 28, 28), 10)
    assert info.value.line == line


def test_unknown_layer_type_names_the_layer_and_its_line():
    text = SMALL.replace('name: "relu1" type: "ReLU"', 'name: "mystery" type: "Frobnicate"')
    line = text[:text.index('"mystery"')].count("\n") + 1
    with pytest.raises(NetworkError, match=f'layer "mystery" \\(Frobnicate, line {line}\\).*unknown layer type'):
        build_network("caffe", text, (1, 8, 8), 5)


def test_bottom_never_produced_names_layer_and_blob():
    text = SMALL.replace('bottom: "conv1" top: "fc"', 'bottom: "conv9" top: "fc"')
    with pytest.raises(NetworkError, match='layer "fc".*bottom blob "conv9" is not produced'):
        build_network("caffe", text, (1, 8, 8), 5)


def test_label_feeding_a_hidden_layer_is_rejected():
    text = SMALL.replace('bottom: "conv1" top: "fc"', 'bottom: "label" top: "fc"')
    with pytest.raises(NetworkError, match='layer "fc".*"label"'):
        build_network("caffe", text, (1, 8, 8), 5)


def test_network_too_big_for_the_image_is_a_clear_error():
    with pytest.raises(NetworkError, match=r'layer "conv2".*20×2×2.*Kernel size.*may not fit the 1×8×8'):
        build_network("caffe", LENET, (1, 8, 8), 10)


def test_missing_num_output_on_a_hidden_layer():
    text = SMALL.replace("num_output: 4 ", "")
    with pytest.raises(NetworkError, match='layer "conv.1".*num_output is required'):
        build_network("caffe", text, (1, 8, 8), 5)


def test_output_that_is_not_one_score_per_class():
    text = SMALL.replace('layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc" '
                         'inner_product_param { num_output: 10 } }',
                         'layer { name: "fc" type: "Pooling" bottom: "conv1" top: "fc" pooling_param { kernel_size: 2 } }')
    with pytest.raises(NetworkError, match='output "fc" has shape 4×5×5'):
        build_network("caffe", text, (1, 8, 8), 5)


def test_bad_arguments():
    with pytest.raises(NetworkError, match="unknown framework"):
        build_network("tensorflow", LENET, (1, 28, 28), 10)
    with pytest.raises(NetworkError, match="input_shape"):
        build_network("caffe", LENET, (28, 28), 10)
    with pytest.raises(NetworkError, match="empty"):
        build_network("caffe", "  ", (1, 28, 28), 10)


def test_graph_nodes_edges_and_svg():
    graph = network_graph("caffe", LENET, (1, 28, 28), 10)
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert nodes["conv1"]["shape"] == [20, 24, 24] and nodes["pool1"]["shape"] == [20, 12, 12]
    assert nodes["ip2"]["shape"] == [10] and nodes["loss"]["status"] == "removed"
    assert ["train-data", "conv1"] in graph["edges"] and ["relu1", "ip2"] in graph["edges"]
    assert ["ip2", "loss"] in graph["edges"]
    svg = render_svg(graph)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count("<rect") == len(graph["nodes"]) and "20×24×24" in svg


def test_module_keys_for_duplicate_and_reserved_layer_names():
    text = """layer { name: "data" type: "Input" top: "data" }
layer { name: "keys" type: "ReLU" bottom: "data" top: "a" }
layer { name: "keys" type: "InnerProduct" bottom: "a" top: "b" inner_product_param { num_output: 3 } }
layer { name: "" type: "InnerProduct" bottom: "b" top: "c" }"""
    network = build_network("caffe", text, (1, 2, 2), 4)
    assert [info.key for info in network.layers[1:]] == ["keys_", "keys__2", "innerproduct3"]
    assert list(network.module.state_dict())[:2] == ["layers.keys__2.weight", "layers.keys__2.bias"]


STAGES = """name: "stages"
layer { name: "data" type: "Data" top: "data" top: "label" }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }
layer { name: "val_only" type: "Dropout" bottom: "fc" top: "fc" include { stage: "val" } }
layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "label" exclude { stage: "deploy" }
        loss_weight: 2 }
layer { name: "prob" type: "Sigmoid" bottom: "fc" top: "prob" include { stage: "deploy" } }
"""


def test_digits_stage_rules_and_the_loss_layer_spec():
    # DIGITS builds the training net with stage "train": val-only and deploy-only layers are left out,
    # layers excluded from deploy are kept; the loss layer's type and weight reach the trainer.
    network = build_network("caffe", STAGES, (1, 4, 4), 2)
    names = {info.name for info in network.layers}
    assert "val_only" not in names and "prob" not in names and "loss" in names
    assert network.output_blob == "fc"
    assert network.loss_spec == {"type": "EuclideanLoss", "layer": "loss", "weight": 2.0, "ignore_label": None,
                                 "normalization": "valid"}


def test_softmax_loss_parameters_reach_the_spec():
    text = SMALL.replace('name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }',
                         'name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" '
                         'loss_param { ignore_label: 255 normalize: false } }')
    spec = build_network("caffe", text, (1, 8, 8), 10).loss_spec
    assert spec["ignore_label"] == 255 and spec["normalization"] == "batch_size"
