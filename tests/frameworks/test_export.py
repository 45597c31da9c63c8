"""Built Caffe networks survive what the model download does: TorchScript tracing and ONNX export."""
import io

import pytest
import torch

from digits.frameworks import build_network
from digits.networks import standard_network

BN_NET = """layer { name: "data" type: "Input" top: "data" }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
"""


def _trained_bn_net():
    network = build_network("caffe", BN_NET, (3, 8, 8), 3)
    network.module.train()
    with torch.no_grad():
        network.module(torch.randn(4, 3, 8, 8) * 3 + 1)  # non-trivial running statistics
    return network.module.eval()


def _lenet():
    return build_network("caffe", standard_network("lenet", "caffe"), (1, 28, 28), 10).module.eval()


@pytest.mark.parametrize("make,shape", [(_trained_bn_net, (3, 8, 8)), (_lenet, (1, 28, 28))])
def test_torchscript_trace_round_trip(make, shape):
    module = make()
    x = torch.randn(2, *shape)
    traced = torch.jit.trace(module, x)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    other = torch.randn(3, *shape)
    assert torch.equal(loaded(other), module(other))


def test_onnx_export_matches():
    ort = pytest.importorskip("onnxruntime")
    module = _trained_bn_net()
    x = torch.randn(2, 3, 8, 8)
    buffer = io.BytesIO()
    torch.onnx.export(module, (x,), buffer, input_names=["x"], output_names=["y"], dynamo=False,
                      dynamic_axes={"x": {0: "n"}})
    session = ort.InferenceSession(buffer.getvalue())
    batch = torch.randn(5, 3, 8, 8)
    y = session.run(None, {"x": batch.numpy()})[0]
    assert y.shape == (5, 3)
    assert torch.allclose(torch.from_numpy(y), module(batch), atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_caffe_resnet_trains_on_gpu_with_amp_and_channels_last():
    network = build_network("caffe", standard_network("resnet18", "caffe"), (3, 64, 64), 5)
    module = network.module.cuda().to(memory_format=torch.channels_last).train()
    x = torch.randn(8, 3, 64, 64, device="cuda").to(memory_format=torch.channels_last)
    y = torch.arange(8, device="cuda") % 5
    optimizer = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(module(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert int(module.layers["bn_conv1"].num_batches_tracked) == 6
