"""Network definitions -> PyTorch modules.

    build_network(framework, source_text, input_shape=(C, H, W), num_classes=K) -> Network
    network_graph(framework, source_text, input_shape, num_classes) -> {"nodes": [...], "edges": [...]}
    render_svg(graph) -> standalone SVG text

framework: an engine's name or alias (digits.frameworks.registry: "caffe" for Caffe prototxt, "torch"
for Python source defining build(input_shape, num_classes), plus plugins). Every failure is a
NetworkError with a message for the user.
"""
from digits.frameworks.errors import NetworkError
from digits.frameworks.network import LayerInfo, Network
from digits.frameworks.registry import frameworks, get_framework


def _check_args(framework, source_text, input_shape, num_classes):
    engine = get_framework(framework)
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
    return engine, shape, None if num_classes is None else int(num_classes)


def build_network(framework, source_text, input_shape, num_classes, aux_losses=False):
    """Builds the network and checks it with a dummy forward pass (so misfits fail here, clearly).

    num_classes=None builds without forcing the output InnerProduct size or checking the output shape.
    aux_losses=True (training only): a Caffe network keeps its auxiliary loss branches (GoogLeNet's
    loss1/loss2) under module.aux_layers; in train mode forward() also fills module.aux_outputs with
    [(loss_weight, logits)]. Eval-mode output and the `layers.*` state_dict are the same either way.
    """
    engine, shape, classes = _check_args(framework, source_text, input_shape, num_classes)
    network = engine.build(source_text, shape, classes, aux_losses=aux_losses)
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


__all__ = ["LayerInfo", "Network", "NetworkError", "build_network", "frameworks", "get_framework", "network_graph",
           "render_svg"]
