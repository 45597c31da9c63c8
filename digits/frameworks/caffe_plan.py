"""Deciding what the inference module runs, from a parsed NetParameter: the TRAIN/"train" view,
the input and output blobs, DIGITS' num_output rule, dead branches and BatchNorm+Scale fusion."""
from dataclasses import dataclass, field

from digits.frameworks.caffe_layers import DATA_TYPES, LAYERS, REMOVED_TYPES, is_loss
from digits.frameworks.errors import NetworkError, where
from digits.frameworks.network import LayerInfo
from digits.frameworks.prototxt import included, train_state


@dataclass
class Step:
    """One layer (or a fused pair) the module runs."""
    layer: object              # LayerParameter
    info: LayerInfo
    bottoms: list
    tops: list
    options: dict = field(default_factory=dict)


@dataclass
class Plan:
    input_blob: str
    output_blob: str
    steps: list
    infos: list                # LayerInfo for every layer in the view, in order
    data_layer: object = None  # the LayerParameter whose first top is the input
    loss: str = None
    loss_spec: dict = None     # the main loss layer as the trainer computes it (see _loss_spec)
    warnings: list = field(default_factory=list)
    aux: list = field(default_factory=list)       # [AuxLoss] kept for training (build with aux_losses)


@dataclass
class AuxLoss:
    """An auxiliary classifier's loss (GoogLeNet's loss1/loss2): its logits blob and loss_weight."""
    blob: str
    weight: float
    info: object               # the loss layer's LayerInfo
    position: int = None       # the loss layer's position in the view (blob versions: in-place)


def _fail(info, message):
    raise NetworkError(f"{where(info.name, info.type, info.line)}: {message}", layer=info.name, line=info.line)


def _in_place(info):
    return len(info.bottoms) == 1 and len(info.tops) == 1 and info.bottoms[0] == info.tops[0]


def _unconsumed_tops(infos, in_place_writes=False):
    """DIGITS' "network outputs": tops no other layer reads (in-place layers do not read, and write
    only when `in_place_writes`: a network made of in-place layers still has an output)."""
    tops, read = [], set()
    for info in infos:
        if _in_place(info):
            if in_place_writes and info.tops[0] not in tops:
                tops.append(info.tops[0])
            continue
        tops += [t for t in info.tops if t not in tops]
        read.update(info.bottoms)
    return [t for t in tops if t not in read]


def _input_blob(net, data, hidden):
    if data:
        if not data[0][1].tops:
            _fail(data[0][1], "a data layer needs a top blob")
        return data[0][1].tops[0]
    if net.input:
        return net.input[0]
    bottoms = [b for _, info in hidden for b in info.bottoms]
    if "data" in bottoms:
        return "data"
    if not hidden[0][1].bottoms:
        _fail(hidden[0][1], "the first layer has no bottom blob and there is no data or Input layer")
    return hidden[0][1].bottoms[0]


def _check_bottoms(view, input_blob, data_tops):
    available = {input_blob}
    for layer, info in view:
        if info.status == "data":
            continue
        # loss/accuracy layers leave the module: their first bottom (the output) must exist, and the
        # others be a data layer's top ("label", also implicit for networks without a data layer)
        if info.status == "removed":
            for bottom in info.bottoms[1:]:
                if bottom not in available and bottom not in data_tops and bottom != "label":
                    _fail(info, f'bottom blob "{bottom}" is not produced by any layer (the labels are "label")')
        for bottom in info.bottoms if info.status == "active" else info.bottoms[:1]:
            if bottom in data_tops and bottom not in available and info.status == "active":
                _fail(info, f'bottom blob "{bottom}" comes from the data layer (labels) and can only feed '
                            f"loss or accuracy layers")
            if bottom not in available and bottom not in data_tops:
                _fail(info, f'bottom blob "{bottom}" is not produced by any earlier layer')
        available.update(info.tops)


def _loss_weight(layer):
    return float(layer.loss_weight[0]) if layer.loss_weight else 1.0


def _choose_output(view, hidden, plan):
    losses = [(layer, info) for layer, info in view if info.status == "removed" and is_loss(info.type)]
    if losses:
        best = max(_loss_weight(layer) for layer, _ in losses)
        layer, info = next(item for item in losses if _loss_weight(item[0]) == best)
        if not info.bottoms:
            _fail(info, "a loss layer needs the network output as its first bottom")
        plan.loss = info.type
        plan.loss_spec = _loss_spec(layer, info)
        _note_losses(losses, info, plan)
        return info.bottoms[0], info
    infos = [info for _, info in hidden]
    outputs = _unconsumed_tops(infos, in_place_writes=True)
    for info in infos:  # a deploy-style trailing Softmax: keep the logits it was applied to
        if info.type == "Softmax" and info.tops and info.tops[0] in outputs and len(outputs) == 1:
            info.status = "removed"
            return info.bottoms[0], info
    if not outputs:
        raise NetworkError("The network has no output: every blob is consumed by a later layer")
    if len(outputs) > 1:
        plan.warnings.append(f'the network has several outputs ({", ".join(outputs)}); using "{outputs[-1]}"')
    return outputs[-1], None


# Loss layers the trainer computes (digits/model/tasks.py); Caffe's formulas, per image of the batch.
TRAINED_LOSSES = ("SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "L1Loss")
_NORMALIZATION = {0: "full", 1: "valid", 2: "batch_size", 3: "none"}


def _loss_spec(layer, info):
    """{type, weight, ignore_label, normalization}: what the main loss layer asks of training."""
    param = layer.loss_param
    normalization = _NORMALIZATION[param.normalization] if param.HasField("normalization") else "valid"
    if not param.HasField("normalization") and param.HasField("normalize"):
        normalization = "valid" if param.normalize else "batch_size"   # Caffe's legacy flag
    return {"type": info.type, "layer": info.name, "weight": _loss_weight(layer),
            "ignore_label": param.ignore_label if param.HasField("ignore_label") else None,
            "normalization": normalization}


def _note_losses(losses, main, plan):
    """The other weighted SoftmaxWithLoss layers become auxiliary losses (Caffe sums every loss layer);
    loss types we cannot train with are reported, and softmax cross-entropy stands in for them."""
    for layer, info in losses:
        if info.type not in TRAINED_LOSSES:
            plan.warnings.append(f"{where(info.name, info.type, info.line)}: this loss type is not supported; the "
                                 f"network is trained with softmax cross-entropy (SoftmaxWithLoss) instead")
        if info is main or not info.bottoms or _loss_weight(layer) == 0:
            continue
        if info.type == "SoftmaxWithLoss":
            plan.aux.append(AuxLoss(info.bottoms[0], _loss_weight(layer), info))
        else:
            plan.warnings.append(f"{where(info.name, info.type, info.line)}: auxiliary loss left out of training")


def _replaced(info, param, num_classes, warnings):
    if param.HasField("num_output") and param.num_output != num_classes:
        warnings.append(f'{where(info.name, info.type, info.line)}: num_output {param.num_output} replaced by the '
                        f"number of classes ({num_classes})")


def _override_num_output(hidden, num_classes, warnings, output_blob):
    """{id(layer): options} giving the output the dataset's number of classes (DIGITS' rule for the
    InnerProduct of the output, and its counterpart for a fully convolutional network's score path)."""
    outputs = set(_unconsumed_tops([info for _, info in hidden if info.status == "active"]))
    overrides = {}
    for layer, info in hidden:
        if info.status == "active" and info.type == "InnerProduct" and outputs.intersection(info.tops):
            _replaced(info, layer.inner_product_param, num_classes, warnings)
            overrides[id(layer)] = {"num_output": num_classes}
    return overrides or _override_score_path(hidden, num_classes, warnings, output_blob)


def _override_score_path(hidden, num_classes, warnings, blob):
    """An FCN's output (DIGITS' fcn_alexnet: score_fr → upscore → Crop) has as many channels as its score
    convolution and the per-class upsampling Deconvolution (group = num_output) after it, both written
    for the classes of the dataset the prototxt came from (PASCAL VOC's 21): walking back from the output
    through Crops, they are set to the number of classes. Only a path through such a Deconvolution counts."""
    found, upsampled = {}, False
    for layer, info in reversed([item for item in hidden if item[1].status == "active"]):
        if blob not in info.tops or _in_place(info):
            continue
        conv = layer.convolution_param
        if info.type == "Crop" and info.bottoms:
            blob = info.bottoms[0]
        elif info.type == "Deconvolution" and conv.group > 1 and conv.group == conv.num_output and info.bottoms:
            found[id(layer)] = ({"num_output": num_classes, "group": num_classes}, info, conv)
            upsampled, blob = True, info.bottoms[0]
        elif info.type == "Convolution" and conv.group == 1:
            found[id(layer)] = ({"num_output": num_classes}, info, conv)
            break
        else:
            break
    if not upsampled:
        return {}
    for _, info, conv in reversed(list(found.values())):   # in the file's order
        _replaced(info, conv, num_classes, warnings)
    return {key: options for key, (options, _, _) in found.items()}


def _producers(hidden, input_blob, targets):
    """Index into `hidden` of the layer writing each (blob, limit) target as the loss layer reads it
    (blob versions matter: in-place), plus each layer's dependencies.

    hidden: [(view position, info)]; limit: view position of the loss layer reading the blob, or None.
    """
    producer, deps, found = {input_blob: -1}, [], [None] * len(targets)
    for i, (position, info) in enumerate(hidden):
        for t, (blob, limit) in enumerate(targets):
            if limit is not None and position > limit and found[t] is None:
                found[t] = producer.get(blob)
        deps.append({producer[b] for b in info.bottoms if b in producer})
        for top in info.tops:
            producer[top] = i
    found = [producer.get(blob) if index is None else index for index, (blob, _) in zip(found, targets)]
    return found, deps


def _closure(start, deps):
    needed, stack = set(), [start]
    while stack:
        i = stack.pop()
        if i >= 0 and i not in needed:
            needed.add(i)
            stack.extend(deps[i])
    return needed


def _fuse_scale(steps, deps, order):
    """Folds Scale layers into the BatchNorm they directly follow (the affine part of a torch BatchNorm)."""
    fused, i = [], 0
    while i < len(steps):
        step = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if (step.info.type == "BatchNorm" and nxt is not None and nxt.info.type == "Scale"
                and nxt.bottoms == step.tops[:1] and len(step.tops) == 1
                and deps[order[i + 1]] == {order[i]}
                and sum(order[i] in d for d in deps) == 1
                and step.options.get("aux_only") == nxt.options.get("aux_only")):
            step.options["fused_scale"] = nxt.layer
            step.options["aux_outputs"] = step.options.get("aux_outputs", []) + nxt.options.get("aux_outputs", [])
            step.tops = list(nxt.tops)
            nxt.info.status = "fused"
            fused.append(step)
            i += 2
            continue
        fused.append(step)
        i += 1
    return fused


def make_plan(net, lines, num_classes, aux_losses=False):
    """aux_losses: keep the auxiliary loss branches (training); else they are "unused"."""
    state = train_state()
    view = []
    for i, layer in enumerate(net.layer):
        if included(layer, state):
            line = lines[i] if i < len(lines) else None
            info = LayerInfo(layer.name or f"{layer.type.lower()}{i}", layer.type, list(layer.bottom),
                             list(layer.top), line)
            if layer.type in DATA_TYPES:
                info.status = "data"
            elif is_loss(layer.type) or layer.type in REMOVED_TYPES:
                info.status = "removed"
            elif layer.type not in LAYERS:
                _fail(info, f'unknown layer type "{layer.type}"')
            view.append((layer, info))
    data = [(layer, info) for layer, info in view if info.status == "data"]
    hidden = [(layer, info) for layer, info in view if info.status == "active"]
    if not hidden:
        raise NetworkError("The network has no layers besides data, loss and accuracy layers")
    input_blob = _input_blob(net, data, hidden)
    data_tops = {t for _, info in data for t in info.tops} - {input_blob}
    _check_bottoms(view, input_blob, data_tops)
    plan = Plan(input_blob, None, [], [info for _, info in view], data[0][0] if data else None)
    plan.output_blob, stop_info = _choose_output(view, hidden, plan)
    hidden = [(layer, info) for layer, info in hidden if info.status == "active"]
    overrides = _override_num_output(hidden, num_classes, plan.warnings, plan.output_blob) if num_classes else {}
    position = {id(info): i for i, (_, info) in enumerate(view)}
    limit = position[id(stop_info)] if stop_info is not None else None
    aux = plan.aux if aux_losses else []
    targets = [(plan.output_blob, limit)] + [(a.blob, position[id(a.info)]) for a in aux]
    found, deps = _producers([(position[id(info)], info) for _, info in hidden], input_blob, targets)
    if found[0] is None or found[0] == -1:
        raise NetworkError(f'The network output "{plan.output_blob}" is the input itself: there are no layers to '
                           f"train")
    needed = _closure(found[0], deps)
    plan.aux, aux_needed = [], set()
    for item, index in zip(aux, found[1:]):
        if index is None or index == -1 or index in needed:  # the input, or a blob of the main path
            plan.warnings.append(f"{where(item.info.name, item.info.type, item.info.line)}: its input is not an "
                                 f"auxiliary classifier; this loss is left out of training")
            continue
        item.position = index
        plan.aux.append(item)
        aux_needed |= _closure(index, deps)
    order = []
    for i, (layer, info) in enumerate(hidden):
        if i not in needed and i not in aux_needed:
            info.status = "unused"
            continue
        options = dict(overrides.get(id(layer), {}))
        if i not in needed:
            options["aux_only"] = True
        options["aux_outputs"] = [k for k, a in enumerate(plan.aux) if a.position == i]
        plan.steps.append(Step(layer, info, list(info.bottoms), list(info.tops), options))
        order.append(i)
    plan.steps = _fuse_scale(plan.steps, deps, order)
    return plan
