"""Network definitions -> PyTorch modules.

    build_network(framework, source_text, input_shape=(C, H, W), num_classes=K) -> Network
    network_graph(framework, source_text, input_shape, num_classes) -> {"nodes": [...], "edges": [...]}
    render_svg(graph) -> standalone SVG text

framework "caffe": Caffe prototxt (NetParameter text); "torch": Python source defining
build(input_shape, num_classes). Every failure is a NetworkError with a message for the user.
"""
from digits.frameworks.errors import NetworkError
from digits.frameworks.network import LayerInfo, Network

FRAMEWORKS = ("caffe", "torch")
_ALIASES = {"caffe": "caffe", "prototxt": "caffe", "torch": "torch", "pytorch": "torch", "python": "torch"}


def _check_args(framework, source_text, input_shape, num_classes):
    kind = _ALIASES.get(str(framework).lower())
    if kind is None:
        raise NetworkError(f'unknown framework "{framework}" (use one of: {", ".join(FRAMEWORKS)})')
    if not isinstance(source_text, str) or not source_text.strip():
        raise NetworkError("the network definition is empty")
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise NetworkError(f"input_shape must be (channels, height, width), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise NetworkError(f"input_shape must be three positive numbers (channels, height, width), got {input_shape!r}")
    if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
        raise NetworkError(f"num_classes must be a positive integer, got {num_classes!r}")
    return kind, shape, None if num_classes is None else int(num_classes)


def build_network(framework, source_text, input_shape, num_classes, aux_losses=False):
    """Builds the network and checks it with a dummy forward pass (so misfits fail here, clearly).

    num_classes=None builds without forcing the output InnerProduct size or checking the output shape.
    aux_losses=True (training only): a Caffe network keeps its auxiliary loss branches (GoogLeNet's
    loss1/loss2) under module.aux_layers; in train mode forward() also fills module.aux_outputs with
    [(loss_weight, logits)]. Eval-mode output and the `layers.*` state_dict are the same either way.
    """
    kind, shape, classes = _check_args(framework, source_text, input_shape, num_classes)
    if kind == "caffe":
        from digits.frameworks.caffe_net import build_caffe
        network = build_caffe(source_text, shape, classes, aux_losses=aux_losses)
    else:
        from digits.frameworks.python_net import build_python
        network = build_python(source_text, shape, classes)
    largest = min(shape[1], shape[2])
    if network.crop_size and network.crop_size > largest:
        # DIGITS' behaviour: a network's own crop larger than the images shrinks to fit, with a warning
        network.warnings.append(f"crop_size {network.crop_size} is larger than the {shape[2]}×{shape[1]} input; "
                                f"using {largest}")
        network.crop_size = largest
    return network


def network_graph(framework, source_text, input_shape, num_classes):
    from digits.frameworks.graph import graph_of
    return graph_of(build_network(framework, source_text, input_shape, num_classes))


def render_svg(graph):
    from digits.frameworks.svg import render_svg as render
    return render(graph)


__all__ = ["FRAMEWORKS", "LayerInfo", "Network", "NetworkError", "build_network", "network_graph", "render_svg"]
