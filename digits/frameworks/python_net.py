"""Python (torch) network definitions: source text defining `build(input_shape, num_classes)` (or
`network(...)`) that returns an nn.Module. Optional module-level settings: BATCH_SIZE, SCALE, CROP_SIZE, and
a function loss(outputs, labels) -> scalar tensor that replaces the task type's loss in training (outputs:
the module's N×K output in train mode; labels: N class ids, or N×L float targets for generic datasets).

TASK_TYPE (digits.model.tasks; default: a network of scores, N×K) says what the network is for, and so
how its build is checked — wherever it is built (training, the network checks, inference), without
being told: TASK_TYPE = "detection" is a detection network (docs/detection.md §2), checked by an
eval-mode forward returning N×D×6 and a train-mode forward(x, targets) returning a dict of losses;
TASK_TYPE = "segmentation" one returning N×K×H×W scores at the input's size (docs/segmentation.md §2). The
training refuses a network whose TASK_TYPE is not the model's task type (Network.task_type)."""
import linecache
import traceback

import torch
from torch import nn

from digits.frameworks.errors import NetworkError
from digits.frameworks.network import LayerInfo, Network

FILENAME = "<network.py>"


def excerpt(exc, source, limit=8):
    """The traceback's frames in the user's source (with their lines), then the exception line."""
    lines = source.splitlines()
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if f.filename == FILENAME] or frames[-2:]
    text = []
    for frame in own[-limit:]:
        code = frame.line or (lines[frame.lineno - 1].strip() if frame.filename == FILENAME
                              and 0 < (frame.lineno or 0) <= len(lines) else "")
        where = "network.py" if frame.filename == FILENAME else frame.filename
        text.append(f"  {where}, line {frame.lineno}, in {frame.name}" + (f"\n    {code}" if code else ""))
    text.append("".join(traceback.format_exception_only(type(exc), exc)).strip())
    return "\n".join(text)


def _setting(namespace, name, kind):
    value = namespace.get(name)
    if value is None:
        return None
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise NetworkError(f"{name} in the network source must be a number, got {value!r}") from None
    if value <= 0:
        raise NetworkError(f"{name} in the network source must be positive, got {value}")
    return value


def _execute(source):
    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    try:
        code = compile(source, FILENAME, "exec")
    except SyntaxError as exc:
        raise NetworkError(f"Syntax error in the network source at line {exc.lineno}: {exc.msg}"
                           + (f"\n    {exc.text.strip()}" if exc.text else ""), line=exc.lineno) from None
    namespace = {"__name__": "digits_user_network", "__file__": FILENAME}
    try:
        exec(code, namespace)  # noqa: S102 — running the user's own network definition is the feature
    except Exception as exc:
        raise NetworkError(f"The network source raised {type(exc).__name__}: {exc}\n{excerpt(exc, source)}") from None
    return namespace


def _leaf_layers(module, example):
    """LayerInfo per leaf module, with output shapes recorded by forward hooks on `example`."""
    infos, hooks = {}, []
    for name, sub in module.named_modules():
        if name and not any(True for _ in sub.children()):
            params = {n: list(t.shape) for n, t in sub.state_dict().items() if not n.endswith("_tracked")}
            infos[name] = LayerInfo(name, type(sub).__name__, [], [], key=name, params=params)

            def hook(_module, _inputs, output, name=name):
                if isinstance(output, torch.Tensor):
                    infos[name].output_shapes = {name: list(output.shape[1:])}
            hooks.append(sub.register_forward_hook(hook))
    try:
        with torch.no_grad():
            output = module(example)
    finally:
        for handle in hooks:
            handle.remove()
    return list(infos.values()), output


def _task_type(namespace):
    from digits.model.tasks import TaskTypeError, get_task_type
    declared = namespace.get("TASK_TYPE")
    try:
        return declared, get_task_type(declared)
    except TaskTypeError as exc:
        raise NetworkError(f"TASK_TYPE in the network source: {exc}") from None


def _check_task(task, module, output, input_shape, num_classes, source):
    """The built network against its task type: its eval-mode output, and its training forward."""
    problem = task.check_output(output, num_classes, tuple(input_shape))
    if problem:
        kind = "segmentation" if getattr(output, "ndim", 2) == 4 else "detection"
        hint = task.name == "classification" and (isinstance(output, dict) or getattr(output, "ndim", 2) in (3, 4))
        raise NetworkError(problem + (f' (a {kind} network says TASK_TYPE = "{kind}" in its source)'
                                      if hint else ""))
    try:
        problem = task.check_training(module, tuple(input_shape), num_classes or 2)
    except Exception as exc:
        raise NetworkError(f"The network's training forward (module.train(), forward(x, targets)) raised "
                           f"{type(exc).__name__}: {exc}\n{excerpt(exc, source)}") from None
    if problem:
        raise NetworkError(problem)


def build_python(source, input_shape, num_classes):
    namespace = _execute(source)
    declared, task = _task_type(namespace)
    factory = namespace.get("build") or namespace.get("network")
    if not callable(factory):
        raise NetworkError("The network source must define a function build(input_shape, num_classes) "
                           "(or network(input_shape, num_classes)) that returns a torch.nn.Module")
    try:
        module = factory(tuple(input_shape), num_classes)
    except Exception as exc:
        raise NetworkError(f"build() raised {type(exc).__name__}: {exc}\n{excerpt(exc, source)}") from None
    if not isinstance(module, nn.Module):
        raise NetworkError(f"build() must return a torch.nn.Module, got {type(module).__name__}")
    shape_text = "×".join(map(str, input_shape))
    was_training = module.training
    module.eval()
    try:
        layers, output = _leaf_layers(module, torch.zeros(2, *input_shape))
    except Exception as exc:
        raise NetworkError(f"The network does not fit the {shape_text} (C×H×W) input: {type(exc).__name__}: {exc}"
                           f"\n{excerpt(exc, source)}") from None
    finally:
        module.train(was_training)
    _check_task(task, module, output, input_shape, num_classes, source)
    loss_fn = namespace.get("loss")
    if loss_fn is not None and not callable(loss_fn):
        raise NetworkError("`loss` in the network source must be a function loss(outputs, labels) returning a "
                           "scalar tensor")
    return Network(module, "torch", tuple(input_shape), num_classes, scale=_setting(namespace, "SCALE", float),
                   default_batch_size=_setting(namespace, "BATCH_SIZE", int),
                   crop_size=_setting(namespace, "CROP_SIZE", int), layers=layers, loss_fn=loss_fn,
                   task_type=declared)
