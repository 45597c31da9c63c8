"""A built network as a graph for the "Visualize network" button:
{"nodes": [{"id", "label", "type", "shape", "status", "params"}], "edges": [[from_id, to_id], ...]};
shapes are per image (no batch dimension). Each engine picks its drawing (registry: Framework.graph)."""
import torch

from digits.frameworks.registry import get_framework
from digits.utils.checks import unique_name


def graph_of(network):
    return get_framework(network.framework).graph(network)


def _unique(name, taken):
    return unique_name(name, taken, "#")


def layer_graph(network):
    """Network.layers as written, each bottom wired to the latest layer producing that blob."""
    nodes, edges, producer, taken = [], [], {}, set()
    for info in network.layers:
        node_id = _unique(info.name, taken)
        shape = next(iter(info.output_shapes.values()), None)
        nodes.append({"id": node_id, "label": info.name, "type": info.type, "shape": shape,
                      "status": info.status, "params": info.params})
        for bottom in info.bottoms:
            if bottom in producer and [producer[bottom], node_id] not in edges:
                edges.append([producer[bottom], node_id])
        for top in info.tops:
            producer[top] = node_id
    return {"nodes": nodes, "edges": edges}


def module_graph(network):
    """The traced module's operations, else the layer sequence."""
    try:
        return _fx_graph(network.module, network.input_shape)
    except Exception:  # not symbolically traceable (data-dependent control flow): show the layer sequence
        nodes = [{"id": "input", "label": "input", "type": "Input", "shape": list(network.input_shape),
                  "status": "data", "params": {}}]
        for info in network.layers:
            nodes.append({"id": info.name, "label": info.name, "type": info.type,
                          "shape": next(iter(info.output_shapes.values()), None), "status": "active",
                          "params": info.params})
        return {"nodes": nodes, "edges": [[a["id"], b["id"]] for a, b in zip(nodes, nodes[1:])]}


def _fx_graph(module, input_shape):
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    traced = symbolic_trace(module)
    was_training = traced.training
    traced.eval()
    try:
        with torch.no_grad():
            ShapeProp(traced).propagate(torch.zeros(1, *input_shape))
    finally:
        traced.train(was_training)
    nodes, edges, ids = [], [], {}
    for node in traced.graph.nodes:
        if node.op in ("get_attr", "output"):
            continue
        params = {}
        if node.op == "placeholder":
            kind, label, status = "Input", "input", "data"
        elif node.op == "call_module":
            sub = traced.get_submodule(node.target)
            kind, label, status = type(sub).__name__, str(node.target), "active"
            params = {n: list(t.shape) for n, t in sub.state_dict().items() if not n.endswith("_tracked")}
        else:
            target = node.target
            kind = getattr(target, "__name__", str(target))
            label, status = node.name, "active"
        meta = node.meta.get("tensor_meta")
        shape = list(meta.shape[1:]) if meta is not None and hasattr(meta, "shape") else None
        ids[node] = node.name
        nodes.append({"id": node.name, "label": label, "type": kind, "shape": shape, "status": status,
                      "params": params})
        edges += [[ids[source], node.name] for source in node.all_input_nodes if source in ids]
    return {"nodes": nodes, "edges": edges}
