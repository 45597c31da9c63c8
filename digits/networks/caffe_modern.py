"""ResNet-18/50 (in the layout of Kaiming He's Caffe release) and MobileNet-V2 as Caffe network text,
generated: BatchNorm+Scale after every convolution, global average pooling, so any image size
large enough for the strides works."""
from digits.networks.caffe_classic import NUM_OUTPUT_NOTE
from digits.networks.prototxt_writer import NetWriter

_MSRA = {"type": "msra"}


def _conv_bn(w, conv, bn, scale, bottom, num, kernel, stride=1, pad=0, group=1, relu=None):
    w.conv(conv, bottom, num, kernel, stride, pad, group, bias=False, weight_filler=_MSRA)
    w.batch_norm(bn, scale, conv)
    if relu:
        w.relu(relu, conv)
    return conv


def _resnet_block(w, tag, bottom, in_channels, width, stride, bottleneck):
    """res<tag>: branch2 (a, b[, c]) + identity or branch1 projection, summed, then ReLU."""
    out_channels = width * 4 if bottleneck else width
    name = lambda branch: (f"res{tag}_branch{branch}", f"bn{tag}_branch{branch}", f"scale{tag}_branch{branch}")  # noqa: E731
    shortcut = bottom
    if stride != 1 or in_channels != out_channels:
        shortcut = _conv_bn(w, *name("1"), bottom, out_channels, 1, stride)
    if bottleneck:
        blob = _conv_bn(w, *name("2a"), bottom, width, 1, stride, relu=f"res{tag}_branch2a_relu")
        blob = _conv_bn(w, *name("2b"), blob, width, 3, 1, 1, relu=f"res{tag}_branch2b_relu")
        blob = _conv_bn(w, *name("2c"), blob, out_channels, 1)
    else:
        blob = _conv_bn(w, *name("2a"), bottom, width, 3, stride, 1, relu=f"res{tag}_branch2a_relu")
        blob = _conv_bn(w, *name("2b"), blob, width, 3, 1, 1)
    w.layer(f"res{tag}", "Eltwise", [shortcut, blob], f"res{tag}", eltwise_param={"operation": "SUM"})
    w.relu(f"res{tag}_relu", f"res{tag}")
    return f"res{tag}", out_channels


def resnet(depth):
    blocks, bottleneck = {18: ((2, 2, 2, 2), False), 50: ((3, 4, 6, 3), True)}[depth]
    w = NetWriter(f"ResNet-{depth}")
    w.digits_data("data", 64 if depth == 18 else 32, 32, crop_size=224, mirror=True)
    _conv_bn(w, "conv1", "bn_conv1", "scale_conv1", "data", 64, 7, 2, 3, relu="conv1_relu")
    w.pool("pool1", "conv1", "MAX", 3, 2)
    blob, channels = "pool1", 64
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=2):
        for i in range(count):
            stride = 2 if stage > 2 and i == 0 else 1
            blob, channels = _resnet_block(w, f"{stage}{chr(ord('a') + i)}", blob, channels, width, stride,
                                           bottleneck)
    w.pool("pool5", blob, "AVE", global_pooling=True)
    w.inner_product("fc", "pool5", weight_filler=_MSRA)
    w.digits_outputs("fc")
    return w.text(f"ResNet-{depth} (224×224 color images; any size ≥ 32 works thanks to global pooling)\n"
                  f"{NUM_OUTPUT_NOTE}")


# MobileNet-V2 inverted residual stages: expansion t, channels c, repeats n, first stride s.
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))


def _relu6(w, name, blob):
    w.layer(name, "Clip", blob, blob, clip_param={"min": 0, "max": 6})


def _conv_bn_relu6(w, conv, bottom, num, kernel, stride=1, pad=0, group=1, relu=True):
    _conv_bn(w, conv, f"{conv}/bn", f"{conv}/scale", bottom, num, kernel, stride, pad, group)
    if relu:
        _relu6(w, f"{conv}/relu", conv)
    return conv


def mobilenet_v2():
    w = NetWriter("MobileNet-V2")
    w.digits_data("data", 64, 64, crop_size=224, mirror=True)
    blob = _conv_bn_relu6(w, "conv1", "data", 32, 3, 2, 1)
    channels = 32
    for stage, (t, c, n, s) in enumerate(_MOBILENET_V2, start=2):
        for i in range(1, n + 1):
            stride, p, entry = (s if i == 1 else 1), f"conv{stage}_{i}", blob
            hidden = channels * t
            if t != 1:
                blob = _conv_bn_relu6(w, f"{p}/expand", blob, hidden, 1)
            blob = _conv_bn_relu6(w, f"{p}/dwise", blob, hidden, 3, stride, 1, group=hidden)
            blob = _conv_bn_relu6(w, f"{p}/linear", blob, c, 1, relu=False)
            if stride == 1 and channels == c:
                w.layer(f"block_{stage}_{i}", "Eltwise", [entry, blob], f"block_{stage}_{i}",
                        eltwise_param={"operation": "SUM"})
                blob = f"block_{stage}_{i}"
            channels = c
    blob = _conv_bn_relu6(w, "conv_last", blob, 1280, 1)
    w.pool("pool_last", blob, "AVE", global_pooling=True)
    w.layer("drop_last", "Dropout", "pool_last", "pool_last", dropout_param={"dropout_ratio": 0.2})
    w.inner_product("fc", "pool_last", weight_filler={"type": "gaussian", "std": 0.01})
    w.digits_outputs("fc")
    return w.text("MobileNet-V2 (224×224 color images; any size ≥ 32 works thanks to global pooling)\n"
                  "Depthwise convolutions are Convolution layers with group = channels; ReLU6 is Clip [0, 6].\n"
                  + NUM_OUTPUT_NOTE)
