"""Caffe semantics of individual layers, checked against hand-written reference computations."""
import numpy as np
import pytest
import torch

from digits.frameworks import build_network
from digits.frameworks.caffe_ops import caffe_pool_size


def caffe_pool_reference(x, kernel, stride, pad, method):
    """Caffe's PoolingLayer forward (CPU code), written out with loops."""
    h = x.shape[0]
    out = caffe_pool_size(h, kernel, stride, pad)
    y = np.zeros((out, out))
    for ph in range(out):
        for pw in range(out):
            hs, ws = ph * stride - pad, pw * stride - pad
            he, we = min(hs + kernel, h + pad), min(ws + kernel, h + pad)
            size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, h)
            window = x[hs:he, ws:we]
            y[ph, pw] = window.max() if method == "MAX" else window.sum() / size
    return y


@pytest.mark.parametrize("size,kernel,stride,pad,method", [
    (6, 3, 2, 0, "MAX"), (7, 3, 2, 1, "AVE"), (6, 3, 2, 1, "AVE"), (5, 2, 2, 0, "AVE"), (13, 3, 2, 0, "MAX"),
    (5, 2, 2, 1, "MAX"), (5, 2, 2, 1, "AVE")])
def test_pooling_uses_caffe_ceil_mode(make_net, size, kernel, stride, pad, method):
    text = make_net(f'layer {{ name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param {{ '
                    f'pool: {method} kernel_size: {kernel} stride: {stride} pad: {pad} }} }}', shape=(1, 1, size, size))
    network = build_network("caffe", text, (1, size, size), None)
    x = torch.randn(1, 1, size, size)
    y = network.module(x)[0, 0].detach().numpy()
    expected = caffe_pool_reference(x[0, 0].numpy(), kernel, stride, pad, method)
    assert y.shape == expected.shape
    assert np.allclose(y, expected, atol=1e-6)


def test_caffe_pool_size_rounds_up():
    assert caffe_pool_size(6, 3, 2, 0) == 3          # floor would give 2
    assert caffe_pool_size(55, 3, 2, 0) == 27        # AlexNet pool1
    assert caffe_pool_size(112, 3, 2, 0) == 56       # GoogLeNet/ResNet pool1
    assert caffe_pool_size(6, 3, 2, 1) == 4
    assert caffe_pool_size(5, 2, 2, 1) == 3          # the last window must start inside the image


def test_global_pooling_gives_one_value_per_channel(make_net):
    text = make_net('layer { name: "gp" type: "Pooling" bottom: "data" top: "gp" '
                    'pooling_param { pool: AVE global_pooling: true } }', shape=(1, 2, 5, 7))
    network = build_network("caffe", text, (2, 5, 7), None)
    x = torch.randn(3, 2, 5, 7)
    assert torch.allclose(network.module(x)[:, :, 0, 0], x.mean(dim=(2, 3)), atol=1e-6)


@pytest.mark.parametrize("operation,coeffs,expected", [
    ("SUM", "coeff: 2 coeff: -1", lambda a: a), ("SUM", "", lambda a: 2 * a), ("PROD", "", lambda a: a * a),
    ("MAX", "", lambda a: a)])
def test_eltwise(make_net, operation, coeffs, expected):
    text = make_net(f'layer {{ name: "e" type: "Eltwise" bottom: "data" bottom: "data" top: "e" '
                    f'eltwise_param {{ operation: {operation} {coeffs} }} }}')
    network = build_network("caffe", text, (1, 6, 6), None)
    x = torch.randn(2, 1, 6, 6)
    assert torch.allclose(network.module(x), expected(x), atol=1e-6)


def test_concat_and_slice(make_net):
    text = make_net('layer { name: "c" type: "Concat" bottom: "data" bottom: "data" top: "c" }',
                    'layer { name: "s" type: "Slice" bottom: "c" top: "s1" top: "s2" slice_param { slice_point: 1 } }',
                    'layer { name: "sum" type: "Eltwise" bottom: "s1" bottom: "s2" top: "out" }')
    network = build_network("caffe", text, (1, 6, 6), None)
    by_name = {info.name: info for info in network.layers}
    assert by_name["c"].output_shapes == {"c": [2, 6, 6]}
    x = torch.randn(2, 1, 6, 6)
    assert torch.allclose(network.module(x), 2 * x)


def test_batchnorm_and_scale_fuse_into_one_affine_batchnorm(make_net):
    text = make_net('layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" }',
                    'layer { name: "sc" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }',
                    shape=(1, 3, 4, 4))
    network = build_network("caffe", text, (3, 4, 4), None)
    keys = set(network.module.state_dict())
    assert {"layers.bn.weight", "layers.bn.bias", "layers.bn.running_mean", "layers.bn.running_var"} <= keys
    assert not any(key.startswith("layers.sc.") for key in keys)
    assert [info.status for info in network.layers if info.name == "sc"] == ["fused"]
    bn = network.module.layers["bn"]
    assert torch.equal(bn.weight.detach(), torch.ones(3)) and torch.equal(bn.bias.detach(), torch.zeros(3))

    # Caffe's running statistics: Σ λ^k·mean_k / Σ λ^k (usable from the first iteration on)
    network.module.train()
    lam = 0.999
    batches = [torch.randn(8, 3, 4, 4) * 2 + 5, torch.randn(8, 3, 4, 4) - 3]
    for batch in batches:
        network.module(batch)
    means = [b.mean(dim=(0, 2, 3)) for b in batches]
    expected = (lam * means[0] + means[1]) / (lam + 1)
    assert torch.allclose(bn.running_mean, expected, atol=1e-5)
    network.module.eval()
    x = batches[1]
    var = bn.running_var
    manual = (x - bn.running_mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-5)
    assert torch.allclose(network.module(x), manual, atol=1e-4)


def test_scale_with_bias_after_a_non_batchnorm_layer_stays_a_scale(make_net):
    text = make_net('layer { name: "sc" type: "Scale" bottom: "data" top: "out" '
                    'scale_param { bias_term: true filler { type: "constant" value: 3 } '
                    'bias_filler { type: "constant" value: 1 } } }', shape=(1, 2, 3, 3))
    network = build_network("caffe", text, (2, 3, 3), None)
    assert network.layers[1].params == {"weight": [2], "bias": [2]}
    x = torch.randn(2, 2, 3, 3)
    assert torch.allclose(network.module(x), 3 * x + 1)


def test_lrn_across_channels_matches_caffe_formula(make_net):
    text = make_net('layer { name: "n" type: "LRN" bottom: "data" top: "n" '
                    'lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }', shape=(1, 4, 2, 2))
    network = build_network("caffe", text, (4, 2, 2), None)
    x = torch.randn(1, 4, 2, 2)
    sq = torch.nn.functional.pad(x * x, (0, 0, 0, 0, 1, 1))
    window = sq[:, 0:4] + sq[:, 1:5] + sq[:, 2:6]
    assert torch.allclose(network.module(x), x / (2 + 0.5 / 3 * window) ** 0.75, atol=1e-6)


def test_deconvolution_and_crop_restore_the_input_size(make_net):
    text = make_net('layer { name: "down" type: "Convolution" bottom: "data" top: "down" '
                    'convolution_param { num_output: 4 kernel_size: 3 stride: 2 weight_filler { type: "msra" } } }',
                    'layer { name: "up" type: "Deconvolution" bottom: "down" top: "up" '
                    'convolution_param { num_output: 2 kernel_size: 4 stride: 2 bias_term: false '
                    'weight_filler { type: "bilinear" } } }',
                    'layer { name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "score" '
                    'crop_param { axis: 2 offset: 1 } }', shape=(1, 2, 9, 9))
    network = build_network("caffe", text, (2, 9, 9), None)
    by_name = {info.name: info for info in network.layers}
    assert by_name["down"].output_shapes == {"down": [4, 4, 4]}
    assert by_name["up"].output_shapes == {"up": [2, 10, 10]}
    assert network.module(torch.randn(2, 2, 9, 9)).shape == (2, 2, 9, 9)
    # Caffe's bilinear filler for a 4×4 kernel, factor 2
    assert torch.allclose(network.module.layers["up"].weight[0, 0, 0], torch.tensor([0.0625, 0.1875, 0.1875, 0.0625]))


def test_reshape_flatten_and_softmax(make_net):
    text = make_net('layer { name: "r" type: "Reshape" bottom: "data" top: "r" '
                    'reshape_param { shape { dim: 0 dim: -1 } } }',
                    'layer { name: "f" type: "Flatten" bottom: "data" top: "f" }',
                    'layer { name: "sum" type: "Eltwise" bottom: "r" bottom: "f" top: "sum" }',
                    'layer { name: "prob" type: "Softmax" bottom: "sum" top: "prob" }', shape=(1, 2, 2, 3))
    network = build_network("caffe", text, (2, 2, 3), None)
    x = torch.randn(4, 2, 2, 3)
    # a trailing Softmax is dropped: the module gives the scores it was applied to
    assert torch.allclose(network.module(x), 2 * x.flatten(1))
    assert [i.status for i in network.layers if i.name == "prob"] == ["removed"]


def test_fillers_follow_caffe(make_net):
    text = make_net('layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { '
                    'num_output: 400 weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.5 } } }',
                    'layer { name: "g" type: "InnerProduct" bottom: "ip" top: "g" inner_product_param { '
                    'num_output: 300 weight_filler { type: "gaussian" std: 0.01 } } }', shape=(1, 1, 10, 10))
    network = build_network("caffe", text, (1, 10, 10), None)
    ip, g = network.module.layers["ip"], network.module.layers["g"]
    bound = (3.0 / 100) ** 0.5  # xavier: uniform ±sqrt(3 / fan_in)
    assert ip.weight.abs().max() <= bound and ip.weight.abs().max() > 0.9 * bound
    assert torch.all(ip.bias == 0.5)
    assert abs(g.weight.std().item() - 0.01) < 0.001 and torch.all(g.bias == 0)


def test_relu_slope_sigmoid_tanh_power_clip(make_net):
    text = make_net('layer { name: "a" type: "ReLU" bottom: "data" top: "a" relu_param { negative_slope: 0.1 } }',
                    'layer { name: "b" type: "Sigmoid" bottom: "data" top: "b" }',
                    'layer { name: "c" type: "TanH" bottom: "data" top: "c" }',
                    'layer { name: "d" type: "Power" bottom: "data" top: "d" power_param { power: 2 scale: 3 shift: 1 } }',
                    'layer { name: "e" type: "Clip" bottom: "data" top: "e" clip_param { min: -0.5 max: 0.5 } }',
                    'layer { name: "all" type: "Concat" bottom: "a" bottom: "b" bottom: "c" bottom: "d" bottom: "e" '
                    'top: "all" }')
    network = build_network("caffe", text, (1, 6, 6), None)
    x = torch.randn(2, 1, 6, 6)
    expected = torch.cat([torch.where(x > 0, x, 0.1 * x), torch.sigmoid(x), torch.tanh(x), (3 * x + 1) ** 2,
                          x.clamp(-0.5, 0.5)], dim=1)
    assert torch.allclose(network.module(x), expected, atol=1e-5)


def test_batchnorm_whose_output_is_also_used_elsewhere_is_not_fused(make_net):
    text = make_net('layer { name: "bn" type: "BatchNorm" bottom: "data" top: "bn" }',
                    'layer { name: "sc" type: "Scale" bottom: "bn" top: "sc" '
                    'scale_param { filler { type: "constant" value: 2 } } }',
                    'layer { name: "sum" type: "Eltwise" bottom: "bn" bottom: "sc" top: "sum" }', shape=(1, 2, 3, 3))
    network = build_network("caffe", text, (2, 3, 3), None)
    assert {info.name: info.status for info in network.layers}["sc"] == "active"
    module = network.module.eval()
    x = torch.randn(2, 2, 3, 3)
    normalized = x / (1 + 1e-5) ** 0.5  # fresh running statistics: mean 0, variance 1
    assert torch.allclose(module(x), 3 * normalized, atol=1e-5)


@pytest.mark.parametrize("layer,needle", [
    ('type: "Pooling" bottom: "data" top: "out" pooling_param { kernel_size: 2 stride: 0 }',
     "pooling_param stride must be at least 1, got 0"),
    ('type: "Pooling" bottom: "data" top: "out" pooling_param { kernel_h: 2 kernel_w: 0 }',
     r"pooling_param kernel_size must be at least 1, got \(2, 0\)"),
    ('type: "Convolution" bottom: "data" top: "out" convolution_param { num_output: 4 kernel_size: 3 stride: 0 }',
     "convolution_param stride must be at least 1, got 0"),
    ('type: "Convolution" bottom: "data" top: "out" convolution_param { num_output: 4 kernel_size: 0 }',
     "convolution_param kernel_size must be at least 1, got 0"),
    ('type: "Convolution" bottom: "data" top: "out" convolution_param { num_output: 4 kernel_size: 3 dilation: 0 }',
     "convolution_param dilation must be at least 1, got 0"),
    ('type: "Convolution" bottom: "data" top: "out" convolution_param { num_output: 4 kernel_size: 3 group: 2 }',
     r"group 2 must divide both the input channels \(3\)"),
    ('type: "LRN" bottom: "data" top: "out" lrn_param { local_size: 0 }', "local_size must be odd, got 0")])
def test_bad_geometry_names_the_layer_and_line(layer, needle):
    from digits.frameworks import NetworkError
    text = ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            f'layer {{ name: "bad" {layer} }}\n')
    with pytest.raises(NetworkError, match=needle) as info:
        build_network("caffe", text, (3, 8, 8), None)
    assert '"bad"' in str(info.value) and "line 3" in str(info.value)
    assert info.value.layer == "bad" and info.value.line == 3
