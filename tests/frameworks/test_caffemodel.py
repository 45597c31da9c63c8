"""Caffe .caffemodel weights in and out (digits.frameworks.caffemodel): files written here through
caffe.proto, as Caffe lays them out, load by layer name into the caffe engine's modules."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from digits.frameworks import build_network, caffemodel
from digits.frameworks.caffe_engine import ENGINE
from digits.model.trainer_setup import TrainingError, transfer_pretrained
from digits.proto import caffe_pb2
from tests.frameworks.conftest import input_net


def blob(array, legacy=False):
    """A BlobProto as Caffe writes it: `shape`, or (legacy=True) num/channels/height/width."""
    array = np.asarray(array, dtype=np.float32)
    proto = caffe_pb2.BlobProto()
    if legacy:
        proto.num, proto.channels, proto.height, proto.width = (1,) * (4 - array.ndim) + array.shape
    else:
        proto.shape.dim.extend(array.shape)
    proto.data.extend(array.ravel().tolist())
    return proto


def caffemodel_bytes(layers, v1=False, legacy=False):
    """layers: [(name, type, [arrays])] → a serialized NetParameter (V1 `layers` when v1)."""
    net = caffe_pb2.NetParameter(name="test")
    for name, type_, arrays in layers:
        if v1:
            layer = net.layers.add(name=name, type=getattr(caffe_pb2.V1LayerParameter, type_))
        else:
            layer = net.layer.add(name=name, type=type_)
        layer.blobs.extend(blob(a, legacy) for a in arrays)
    return net.SerializeToString()


def lenet(seed, text=None):
    torch.manual_seed(seed)
    return build_network("caffe", text or ENGINE.standard_network("lenet"), (1, 28, 28), 10).module.eval()


def lenet_layers(module, v1=False):
    """LeNet's weights in Caffe's layout, with the weightless layers a real file has too."""
    sd = {k: v.numpy() for k, v in module.state_dict().items()}
    kind = (lambda t: {"Convolution": "CONVOLUTION", "InnerProduct": "INNER_PRODUCT", "ReLU": "RELU",
                       "Data": "DATA"}[t]) if v1 else (lambda t: t)
    weights = [(name, kind(t), [sd[f"layers.{name}.weight"], sd[f"layers.{name}.bias"]])
               for name, t in (("conv1", "Convolution"), ("conv2", "Convolution"), ("ip1", "InnerProduct"),
                               ("ip2", "InnerProduct"))]
    return [("train-data", kind("Data"), [])] + weights[:3] + [("relu1", kind("ReLU"), [])] + weights[3:]


def test_lenet_caffemodel_classifies_exactly_like_the_torch_model(tmp_path):
    source = lenet(1)
    path = tmp_path / "lenet.caffemodel"
    path.write_bytes(caffemodel_bytes(lenet_layers(source)))
    fresh = lenet(2)
    x = torch.rand(16, 1, 28, 28) * 255 * 0.0125
    assert not torch.allclose(fresh(x), source(x))
    report = caffemodel.load(fresh, str(path))
    assert report == {"loaded": ["conv1", "conv2", "ip1", "ip2"], "unmatched": [], "missing": [],
                      "channel_order": None}
    with torch.no_grad():
        assert (fresh(x) - source(x)).abs().max() < 1e-5
        assert torch.equal(fresh(x).argmax(1), source(x).argmax(1))


def test_v1_layers_with_legacy_blob_shapes_load(tmp_path):
    source = lenet(3)
    data = caffemodel_bytes(lenet_layers(source, v1=True), v1=True, legacy=True)   # ip weights 1×1×N×K
    assert caffe_pb2.NetParameter.FromString(data).layers[3].blobs[0].height == 500
    fresh = lenet(4)
    report = caffemodel.load(fresh, data)
    assert report["loaded"] == ["conv1", "conv2", "ip1", "ip2"] and not report["unmatched"]
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert (fresh(x) - source(x)).abs().max() < 1e-5


# BVLC's AlexNet (models/bvlc_alexnet/deploy.prototxt), at a small input to stay fast.
ALEXNET = input_net(*[
    f'layer {{ name: "conv{i}" type: "Convolution" bottom: "{bottom}" top: "conv{i}" convolution_param {{ '
    f'num_output: {n} kernel_size: {k} stride: {s} pad: {p} group: {g} }} }}\n'
    f'layer {{ name: "relu{i}" type: "ReLU" bottom: "conv{i}" top: "conv{i}" }}\n' + extra
    for i, bottom, n, k, s, p, g, extra in [
        (1, "data", 96, 11, 4, 0, 1, 'layer { name: "norm1" type: "LRN" bottom: "conv1" top: "norm1" lrn_param { '
                                     'local_size: 5 alpha: 0.0001 beta: 0.75 } }\nlayer { name: "pool1" type: '
                                     '"Pooling" bottom: "norm1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 '
                                     'stride: 2 } }'),
        (2, "pool1", 256, 5, 1, 2, 2, 'layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2" '
                                      'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }'),
        (3, "pool2", 384, 3, 1, 1, 1, ""), (4, "conv3", 384, 3, 1, 1, 2, ""),
        (5, "conv4", 256, 3, 1, 1, 2, 'layer { name: "pool5" type: "Pooling" bottom: "conv5" top: "pool5" '
                                      'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }')]] + [
    f'layer {{ name: "fc{i}" type: "InnerProduct" bottom: "{bottom}" top: "fc{i}" inner_product_param {{ '
    f'num_output: {n} }} }}' + (f'\nlayer {{ name: "relu{i}" type: "ReLU" bottom: "fc{i}" top: "fc{i}" }}\n'
                                f'layer {{ name: "drop{i}" type: "Dropout" bottom: "fc{i}" top: "fc{i}" }}' if i < 8
                                else "")
    for i, bottom, n in [(6, "pool5", 4096), (7, "fc6", 4096), (8, "fc7", 1000)]] +
    ['layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }'], shape=(10, 3, 67, 67))
ALEXNET_BLOBS = {"conv1": (96, 3, 11, 11), "conv2": (256, 48, 5, 5), "conv3": (384, 256, 3, 3),
                 "conv4": (384, 192, 3, 3), "conv5": (256, 192, 3, 3), "fc6": (4096, 256), "fc7": (4096, 4096),
                 "fc8": (1000, 4096)}


def test_bvlc_alexnet_random_caffemodel_round_trips():
    rng = np.random.default_rng(0)
    stored = {name: [rng.standard_normal(shape, dtype=np.float32) * 0.01,
                     rng.standard_normal(shape[:1], dtype=np.float32)] for name, shape in ALEXNET_BLOBS.items()}
    data = caffemodel_bytes([(name, "InnerProduct" if name.startswith("fc") else "Convolution", blobs)
                             for name, blobs in stored.items()])
    module = build_network("caffe", ALEXNET, (3, 67, 67), None).module.eval()
    report = caffemodel.load(module, data)
    assert report["loaded"] == list(ALEXNET_BLOBS) and not report["unmatched"] and not report["missing"]
    assert report["channel_order"] == "BGR (Caffe) ↔ RGB: input channels of conv1 reversed"
    x = torch.rand(2, 3, 67, 67)
    with torch.no_grad():   # our RGB input through conv1 is Caffe's conv1 on the BGR image
        caffe_conv1 = F.conv2d(x.flip(1), torch.from_numpy(stored["conv1"][0]), torch.from_numpy(stored["conv1"][1]),
                               stride=4)
        assert (module.layers.conv1(x) - caffe_conv1).abs().max() < 1e-5
    written, deploy = caffemodel.write(module, ALEXNET, (3, 67, 67))
    again = caffemodel.read(written)
    assert list(again) == list(ALEXNET_BLOBS)
    for name, blobs in stored.items():
        assert all(np.array_equal(a, b) for a, b in zip(again[name].blobs, blobs)), name
    rebuilt = build_network("caffe", deploy, (3, 67, 67), None).module.eval()
    assert caffemodel.load(rebuilt, written)["unmatched"] == []
    with torch.no_grad():
        assert (rebuilt(x) - module(x)).abs().max() < 1e-5


BN_NET = input_net(
    'layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 '
    'kernel_size: 3 pad: 1 } }',
    'layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" batch_norm_param { use_global_stats: true } }',
    'layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }',
    'layer { name: "prelu1" type: "PReLU" bottom: "conv1" top: "conv1" }',
    'layer { name: "up" type: "Deconvolution" bottom: "conv1" top: "up" convolution_param { num_output: 2 '
    'kernel_size: 4 stride: 2 pad: 1 } }', shape=(1, 3, 8, 8))


def test_batchnorm_scale_prelu_and_deconvolution_follow_caffe():
    rng = np.random.default_rng(1)
    r = lambda *shape: rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    factor = np.float32(1 + 0.999 + 0.999 ** 2)   # Caffe's moving-average factor after 3 iterations
    mean, var = r(4), np.abs(r(4)) + 0.5
    layers = [("conv1", "Convolution", [r(4, 3, 3, 3), r(4)]),
              ("bn1", "BatchNorm", [mean * factor, var * factor, [factor]]),
              ("scale1", "Scale", [r(4), r(4)]), ("prelu1", "PReLU", [np.abs(r(4))]),
              ("up", "Deconvolution", [r(4, 2, 4, 4), r(2)])]
    data = caffemodel_bytes(layers)
    module = build_network("caffe", BN_NET, (3, 8, 8), None).module.eval()
    report = caffemodel.load(module, data)
    assert report["loaded"] == ["conv1", "bn1", "scale1", "prelu1", "up"] and not report["missing"]
    bn = module.layers.bn1
    assert torch.allclose(bn.running_mean, torch.from_numpy(mean), atol=1e-6) and int(bn.num_batches_tracked) == 3
    x = torch.rand(2, 3, 8, 8)
    t = {name: [torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in arrays] for name, _, arrays in layers}
    y = F.conv2d(x.flip(1), *t["conv1"], padding=1)   # Caffe's forward on the BGR image
    y = (y - t["bn1"][0].view(1, -1, 1, 1) / factor) / torch.sqrt(t["bn1"][1].view(1, -1, 1, 1) / factor + 1e-5)
    y = F.prelu(y * t["scale1"][0].view(1, -1, 1, 1) + t["scale1"][1].view(1, -1, 1, 1), t["prelu1"][0])
    y = F.conv_transpose2d(y, *t["up"], stride=2, padding=1)
    with torch.no_grad():
        assert (module(x) - y).abs().max() < 1e-5
    again = caffemodel.read(caffemodel.write(module, BN_NET, (3, 8, 8))[0])
    assert np.allclose(again["bn1"].blobs[2], factor) and np.allclose(again["bn1"].blobs[0], mean * factor, atol=1e-5)
    assert all(np.array_equal(a, np.asarray(b, np.float32)) for a, b in zip(again["up"].blobs, layers[4][2]))


def test_unknown_and_mis_shaped_layers_are_listed_not_skipped():
    source = lenet(5)
    layers = lenet_layers(source)
    layers[-1] = ("ip2", "InnerProduct", [np.zeros((5, 500)), np.zeros(5)])       # 5 classes, the network 10
    layers.append(("extra", "Convolution", [np.zeros((2, 1, 3, 3))]))
    fresh = lenet(6)
    before = fresh.state_dict()["layers.ip2.weight"].clone()
    report = caffemodel.load(fresh, caffemodel_bytes(layers[:1] + layers[2:]))   # and conv1 left out
    assert report["loaded"] == ["conv2", "ip1"]
    assert report["unmatched"] == [
        {"layer": "ip2", "type": "InnerProduct",
         "reason": "blob 0 has shape 5×500, the network's layers.ip2.weight is 10×500"},
        {"layer": "extra", "type": "Convolution", "reason": "the network has no layer of that name with weights"}]
    assert report["missing"] == ["conv1", "ip2"]   # ip2 keeps its initialisation too
    assert torch.equal(fresh.state_dict()["layers.ip2.weight"], before)


@pytest.mark.parametrize("data,message", [
    (b"", "is empty"),
    (ENGINE.standard_network("lenet").encode(), "is text (a network definition .prototxt?)"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "is not a Caffe .caffemodel (a binary NetParameter)"),
    (b"PK\x03\x04 a torch zip", "is a zip file (a PyTorch .pt?)"),
    (caffe_pb2.NetParameter(name="only a name").SerializeToString(), "holds no layer weights"),
])
def test_files_that_are_not_caffemodels_are_refused(data, message):
    with pytest.raises(caffemodel.CaffemodelError) as caught:
        caffemodel.read(data, "upload.caffemodel")
    assert message in str(caught.value) and "upload.caffemodel" in str(caught.value)


def test_a_blob_whose_data_disagrees_with_its_shape_is_refused():
    net = caffe_pb2.NetParameter()
    layer = net.layer.add(name="conv1", type="Convolution")
    bad = layer.blobs.add()
    bad.shape.dim.extend([20, 1, 5, 5])
    bad.data.extend([0.0] * 499)
    with pytest.raises(caffemodel.CaffemodelError) as caught:
        caffemodel.read(net.SerializeToString())
    assert str(caught.value) == 'layer "conv1" blob 0: 499 values for its shape 20×1×5×5 (500 expected)'


def test_deploy_prototxt_drops_data_loss_and_accuracy_and_builds():
    module = lenet(7)
    _, deploy = caffemodel.write(module, ENGINE.standard_network("lenet"), (1, 28, 28))
    net = caffe_pb2.NetParameter()
    from google.protobuf import text_format
    text_format.Parse(deploy, net)
    assert [(layer.name, layer.type) for layer in net.layer] == [
        ("data", "Input"), ("scale", "Power"), ("conv1", "Convolution"), ("pool1", "Pooling"),
        ("conv2", "Convolution"), ("pool2", "Pooling"), ("ip1", "InnerProduct"), ("relu1", "ReLU"),
        ("ip2", "InnerProduct"), ("softmax", "Softmax")]
    assert list(net.layer[0].input_param.shape[0].dim) == [1, 1, 28, 28]
    assert net.layer[8].inner_product_param.num_output == 10 and not any(layer.include for layer in net.layer)
    built = build_network("caffe", deploy, (1, 28, 28), None)   # the deploy net scales its own input (Power)
    assert built.module.output_blob == "ip2"


def test_training_transfer_from_a_caffemodel_keeps_a_renamed_last_layer_fresh(tmp_path):
    path = tmp_path / "snapshot_iter_100.caffemodel"
    path.write_bytes(caffemodel_bytes(lenet_layers(lenet(8))))
    renamed = lenet(9, ENGINE.standard_network("lenet").replace('"ip2"', '"ip2_new"'))
    warnings = []
    keys, loaded, fresh = transfer_pretrained(renamed, str(path), warn=warnings.append)
    assert loaded == ["layers.conv1", "layers.conv2", "layers.ip1"] and fresh == ["layers.ip2_new"]
    assert "layers.conv1.weight" in keys and "layers.ip2_new.weight" not in keys
    assert len(warnings) == 1 and "ip2 (the network has no layer of that name with weights)" in warnings[0]
    with pytest.raises(TrainingError, match="Caffe \\(prototxt\\) networks only"):
        transfer_pretrained(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)), str(path))
    (tmp_path / "bad.caffemodel").write_bytes(b"not weights")
    with pytest.raises(TrainingError, match="bad.caffemodel is not a Caffe .caffemodel"):
        transfer_pretrained(renamed, str(tmp_path / "bad.caffemodel"))
    (tmp_path / "labels.pt").write_text("0\n1\n")   # custom_network_snapshot may name any file: one plain line
    with pytest.raises(TrainingError) as caught:
        transfer_pretrained(renamed, str(tmp_path / "labels.pt"))
    assert "not a PyTorch file that loads safely (weights_only)" in str(caught.value)
    assert "weights_only` set to `False" not in str(caught.value) and "\n" not in str(caught.value)


def test_layers_a_caffemodel_lacked_are_not_transferred_from_the_pretrained_weights(tmp_path):
    """weights.pt is complete (the pretrained model runs), but what the caffemodel did not give is only
    initialised: a fine-tune leaves it fresh, without the pretrained learning-rate multiplier."""
    from digits.pretrained_model import upload
    from digits.pretrained_model.job import untrained_keys
    source = lenet(10)
    layers = [layer if layer[0] != "ip1" else ("ip1", "InnerProduct", [np.zeros((7, 3)), np.zeros(7)])
              for layer in lenet_layers(source) if layer[0] != "ip2"]   # ip2 lacking, ip1 mis-shaped
    weights = tmp_path / "weights.pt"
    report = caffemodel.convert(caffemodel_bytes(layers), ENGINE.standard_network("lenet"), (1, 28, 28), 10,
                                str(weights))
    assert report["missing"] == ["ip1", "ip2"]
    assert report["untrained"] == ["layers.ip1.bias", "layers.ip1.weight", "layers.ip2.bias", "layers.ip2.weight"]
    assert sorted(torch.load(weights, weights_only=True)) == sorted(source.state_dict())   # still complete
    upload.write_info(str(tmp_path), {"source": "upload", "caffemodel": report})
    assert untrained_keys(str(weights)) == report["untrained"]
    target = lenet(11)
    initial = target.layers.ip2.weight.detach().clone()
    warnings = []
    keys, loaded, fresh = transfer_pretrained(target, str(weights), warn=warnings.append)
    assert loaded == ["layers.conv1", "layers.conv2"] and fresh == ["layers.ip1", "layers.ip2"]
    assert keys == {"layers.conv1.weight", "layers.conv1.bias", "layers.conv2.weight", "layers.conv2.bias"}
    assert torch.equal(target.layers.ip2.weight, initial) and torch.equal(target.layers.conv1.weight,
                                                                          source.layers.conv1.weight)
    assert warnings == ["the pretrained model's .caffemodel had no weights for layers.ip1, layers.ip2: "
                        "they train fresh"]
    renamed = tmp_path / "snapshot.pt"   # any other weights file: every entry is real
    renamed.write_bytes(weights.read_bytes())
    assert untrained_keys(str(renamed)) == [] and transfer_pretrained(lenet(12), str(renamed))[2] == []
