"""Setting a training run up: seeds, the network (built and checked against the image size), and
pretrained weights."""
import os
import random
import secrets
import sys
import traceback

import numpy as np
import torch
import torch.nn.functional as F

from digits.model import snapshot


class TrainingError(RuntimeError):
    """A training failure with a message meant for the user (becomes the job's error)."""

    def __init__(self, message, detail=None):
        super().__init__(message)
        self.detail = detail


def new_seed():
    return secrets.randbelow(2**31 - 1)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


_HIDDEN_DIRS = (os.path.dirname(torch.__file__) + os.sep, os.path.dirname(os.path.abspath(__file__)) + os.sep)


def _excerpt(exc, source=None, limit=12):
    """The last lines of a traceback (the user's network frames come last).

    A network compiled from text has no file linecache can read, so its frames' lines are filled
    in from `source` — the user sees the line that failed.
    """
    lines = source.splitlines() if source else []
    text = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(_HIDDEN_DIRS):  # torch internals and this trainer: noise to users
            continue
        line = frame.line
        if not line and not os.path.isfile(frame.filename) and 0 < (frame.lineno or 0) <= len(lines):
            line = lines[frame.lineno - 1].strip()
        text.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if line:
            text.append(f"    {line}")
    if not text:  # nothing of the user's in the stack: the message says it all
        return ""
    text = ["Traceback (most recent call last):", *text,
            *"".join(traceback.format_exception_only(type(exc), exc)).rstrip().splitlines()]
    return "\n".join(text[-limit:])


def read_source(config):
    with open(config["network"]["file"], encoding="utf-8") as f:
        return f.read()


def build(config, source, input_shape, num_classes):
    """(Network, nn.Module) from the network's source text; failures become a TrainingError."""
    from digits.frameworks import NetworkError, build_network

    framework = config["network"]["framework"]
    try:
        network = build_network(framework, source, input_shape=tuple(input_shape), num_classes=num_classes,
                                aux_losses=True)  # auxiliary classifiers train too (module.aux_outputs)
    except NetworkError as exc:
        raise TrainingError(f"Network error: {exc}") from exc
    except Exception as exc:
        raise TrainingError(f"The network definition raised {type(exc).__name__}: {exc}\n{_excerpt(exc, source)}",
                            detail=_excerpt(exc, source, 40)) from exc
    module = getattr(network, "module", None)
    if not isinstance(module, torch.nn.Module):
        raise TrainingError(f"the {framework} network did not produce a torch nn.Module")
    return network, module


def check_task(network, task):
    from digits.model.tasks import TaskTypeError, check_declared
    try:
        check_declared(getattr(network, "task_type", None), task)
    except TaskTypeError as exc:
        raise TrainingError(str(exc)) from None


def check_fit(module, input_shape, num_classes, source=None, task=None):
    """Runs a 2-image batch through the network so a misfit fails before training starts; its output
    must be what the task type (default: classification) wants."""
    was_training = module.training
    module.eval()
    entered = []  # names of the modules whose forward is running: the last one is where it failed
    names = {id(m): name for name, m in module.named_modules()}

    def enter(mod, _args):
        entered.append(mod)

    def leave(_mod, _args, _out):
        entered.pop()  # returning None keeps the module's output

    hooks = [m.register_forward_pre_hook(enter) for m in module.modules()]
    hooks += [m.register_forward_hook(leave) for m in module.modules()]
    try:
        with torch.no_grad():
            out = module(torch.zeros(2, *input_shape))
    except Exception as exc:
        where = ""
        if entered and entered[-1] is not module:
            where = f"layer '{names.get(id(entered[-1]), '?')}' ({type(entered[-1]).__name__}): "
        raise TrainingError(f"The network does not fit the {input_shape[2]}×{input_shape[1]}×{input_shape[0]} "
                            f"(W×H×C) input: {where}{type(exc).__name__}: {exc}\n{_excerpt(exc, source)}".rstrip(),
                            detail=_excerpt(exc, source, 40) or None) from exc
    finally:
        for hook in hooks:
            hook.remove()
        module.train(was_training)
    if task is None:
        from digits.model.tasks import get_task_type
        task = get_task_type("classification")
    problem = task.check_output(out, num_classes, tuple(input_shape))
    if problem:
        raise TrainingError(problem)


def transfer_pretrained(module, path, warn=None):
    """Loads tensors whose key and shape match; returns (loaded keys, loaded layers, fresh layers).
    A .caffemodel transfers by Caffe layer name into a Caffe network; warn(message) hears of its layers
    this network cannot take (else they go to stderr, the training log). A pretrained model's entries
    that its .caffemodel never gave (only initialised) are not transferred: those layers train fresh."""
    from digits.pretrained_model.job import untrained_keys
    warn = warn or (lambda m: print(m, file=sys.stderr, flush=True))
    if path.lower().endswith(".caffemodel"):
        weights = _caffemodel_weights(module, path, warn)
    else:
        try:
            weights = snapshot.load_weights(path)
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        untrained = set(untrained_keys(path)).intersection(weights)
        if untrained:
            weights = {k: v for k, v in weights.items() if k not in untrained}
            layers = sorted({k.rsplit(".", 1)[0] for k in untrained})
            warn(f"the pretrained model's .caffemodel had no weights for {', '.join(layers)}: they train fresh")
    own = module.state_dict()
    matched = {k: weights[k] for k, v in own.items() if k in weights and tuple(weights[k].shape) == tuple(v.shape)}
    module.load_state_dict(matched, strict=False)
    layers = {}
    for key in own:
        layer = key.rsplit(".", 1)[0] if "." in key else key
        layers.setdefault(layer, []).append(key in matched)
    loaded = [name for name, flags in layers.items() if all(flags)]
    fresh = [name for name, flags in layers.items() if not all(flags)]
    return set(matched), loaded, fresh


def _caffemodel_weights(module, path, warn):
    from digits.frameworks import caffemodel
    if not any(getattr(m, "param_sources", None) for m in module.modules()):
        raise TrainingError("a .caffemodel can start Caffe (prototxt) networks only: its weights go by Caffe "
                            "layer name")
    try:
        weights, report = caffemodel.tensors_for(module, caffemodel.read(path))
    except caffemodel.CaffemodelError as exc:
        raise TrainingError(f"pretrained weights: {exc}") from None
    if report["unmatched"]:
        warn(f"layers of {os.path.basename(path)} this network cannot take: {caffemodel.summary(report)}")
    return weights


TORCHVISION_AUX_WEIGHT = 0.3  # GoogLeNet's (Szegedy et al. 2014, and DIGITS' prototxt) weight


def training_loss(module, output, labels):
    """Cross-entropy of the main logits plus loss_weight × cross-entropy of each auxiliary classifier:
    those a Caffe module reported in this (train-mode) forward as module.aux_outputs, like Caffe's sum
    of weighted loss layers, or the aux_logits* of a torchvision GoogLeNet/Inception built with
    aux_logits=True (a named tuple in train mode)."""
    aux = list(getattr(module, "aux_outputs", None) or ())
    if isinstance(output, tuple) and "logits" in getattr(output, "_fields", ()):
        aux += [(TORCHVISION_AUX_WEIGHT, getattr(output, name)) for name in output._fields
                if name.startswith("aux_logits") and getattr(output, name) is not None]
        output = output.logits
    loss = F.cross_entropy(output, labels)
    for weight, aux_logits in aux:
        loss = loss + weight * F.cross_entropy(aux_logits, labels)
    return loss


def batch_size_for(config, network):
    return int(config.get("batch_size") or getattr(network, "default_batch_size", None) or 64)
