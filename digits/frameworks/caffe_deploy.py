"""deploy.prototxt: a network as Caffe runs it for inference, from the prototxt it was trained from.

DIGITS' rule: the layers of Caffe's TEST phase and "deploy" stage, without data, loss and accuracy layers,
fed by an Input layer of shape 1 × C × H × W (the preprocessed input: crop size when the network crops),
with the sizes DIGITS filled in (the output InnerProduct's num_output = the number of classes) written out,
and a Softmax on the output when the network trained with SoftmaxWithLoss and has none. Include/exclude
rules are resolved here, so the file builds the same in any phase (our engine builds Caffe's TRAIN view).
"""
from digits.frameworks.caffe_layers import DATA_TYPES, REMOVED_TYPES, is_loss
from digits.frameworks.prototxt import included, parse_net
from digits.proto import caffe_pb2
from digits.utils.checks import unique_name


class DeployError(ValueError):
    """The network cannot be written as a deploy network (the message says why)."""


def _sizes(module):
    """{Caffe layer name: (convolution or inner product param field values)} of the built modules."""
    sizes = {}
    for sub in getattr(module, "layers", {}).values():
        sources = getattr(sub, "param_sources", None)
        if not sources:
            continue
        kind = type(sub).__name__
        if kind in ("Conv2d", "ConvTranspose2d"):
            sizes[sources[0][1].name] = {"num_output": sub.out_channels, "group": sub.groups}
        elif kind == "InnerProduct":
            sizes[sources[0][1].name] = {"num_output": sub.weight.shape[1 if sub.transpose else 0]}
    return sizes


def _resolved(layer, sizes):
    copy = caffe_pb2.LayerParameter()
    copy.CopyFrom(layer)
    for name in ("include", "exclude", "blobs"):
        del getattr(copy, name)[:]
    copy.ClearField("phase")
    size = sizes.get(layer.name)
    if size and layer.type in ("Convolution", "Deconvolution"):
        copy.convolution_param.num_output = size["num_output"]
        if size["group"] != 1 or copy.convolution_param.HasField("group"):
            copy.convolution_param.group = size["group"]
    elif size and layer.type == "InnerProduct":
        copy.inner_product_param.num_output = size["num_output"]
    return copy


def deploy_net(network_text, module, input_shape, add_softmax=True):
    """NetParameter of the deploy network (see the module docstring); module: the CaffeNet built from
    network_text, whose sizes are written out."""
    net, _ = parse_net(network_text)
    state = caffe_pb2.NetState(phase=caffe_pb2.TEST, level=0, stage=["deploy"])
    sizes = _sizes(module)
    kept = [_resolved(layer, sizes) for layer in net.layer
            if included(layer, state) and layer.type not in DATA_TYPES and not is_loss(layer.type)
            and layer.type not in REMOVED_TYPES]
    if not kept:
        raise DeployError("the network has no layers besides data, loss and accuracy layers")
    produced, inputs = set(), []
    for layer in kept:
        inputs += [b for b in layer.bottom if b not in produced and b not in inputs]
        produced.update(layer.top)
    if len(inputs) != 1:
        raise DeployError(f"the deploy network must read one input blob, it reads {', '.join(inputs) or 'none'}"
                          f"{' (labels only feed loss and accuracy layers)' if 'label' in inputs else ''}")
    names = {layer.name for layer in kept}
    deploy = caffe_pb2.NetParameter(name=net.name)
    source = deploy.layer.add(name=unique_name(inputs[0], names), type="Input", top=[inputs[0]])
    source.input_param.shape.add().dim.extend([1, *(int(d) for d in input_shape)])
    deploy.layer.extend(kept)
    output = getattr(module, "output_blob", None)
    read = {b for layer in kept for b in layer.bottom if not (list(layer.bottom) == list(layer.top))}
    if add_softmax and output in produced and output not in read and not any(
            layer.type == "Softmax" and output in layer.bottom for layer in kept):
        deploy.layer.add(name=unique_name("softmax", names), type="Softmax", bottom=[output], top=["softmax"])
    return deploy
