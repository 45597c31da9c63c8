"""Caffe solver types mapped onto torch optimizers.

Caffe's update rules and the torch optimizer that computes the same thing:

    SGD       v = momentum*v + lr*(g + wd*w); w -= v      → CaffeSGD (digits/model/caffe_sgd.py)
    NESTEROV  v' = momentum*v + lr*(g + wd*w); w -= (1+momentum)*v' - momentum*v
                                                           → CaffeSGD(nesterov=True)
    ADAGRAD   h += g²; w -= lr*g/(sqrt(h)+delta)           → torch Adagrad(eps=delta)
    RMSPROP   h = rms_decay*h + (1-rms_decay)*g²; w -= lr*g/(sqrt(h)+delta)
                                                           → torch RMSprop(alpha=rms_decay, eps=delta)
    ADADELTA  rho = momentum (Caffe reuses the field)      → torch Adadelta(rho=momentum, eps=delta)
    ADAM      beta1 = momentum, beta2 = momentum2 (0.999)  → torch Adam(betas, eps=delta)

torch's own SGD keeps the momentum history without the rate, which matches Caffe only while the
rate is fixed; the adaptive solvers keep no rate in their state, so torch's versions stay exact
under any LR policy (Adam up to where eps is added, ~1e-6 relative).
delta is Caffe's default 1e-8 everywhere. weight_decay is L2 added to the gradient, as in Caffe
(regularization_type "L2"), for every solver. Gradient accumulation (Caffe's iter_size, DIGITS'
batch_accumulation) is handled by the trainer, which divides each mini-batch loss by the count.

`check_settings` imports no torch: the web form uses it to refuse what training would refuse.
"""

from digits.utils.checks import finite_number

SOLVER_TYPES = ("SGD", "NESTEROV", "ADAGRAD", "RMSPROP", "ADADELTA", "ADAM")
CAFFE_DELTA = 1e-8
ADAM_MOMENTUM2 = 0.999


class SolverError(ValueError):
    """Solver settings that cannot be used; the message names the field, `field` holds its name."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def _float(name, value):
    try:
        return finite_number(name, value, ValueError, float32=True)
    except ValueError as exc:
        raise SolverError(str(exc), name) from None


def check_settings(solver_type, learning_rate, momentum=0.9, weight_decay=0.0, rms_decay=0.99):
    """Checked, normalised settings {solver_type, lr, momentum, weight_decay, rms_decay}; raises
    SolverError naming the field."""
    solver_type = str(solver_type or "SGD").upper()
    if solver_type not in SOLVER_TYPES:
        raise SolverError(f"solver_type must be one of {', '.join(SOLVER_TYPES)}, got {solver_type!r}",
                          "solver_type")
    lr = _float("learning_rate", learning_rate)
    if not lr > 0:
        raise SolverError(f"learning_rate must be > 0, got {learning_rate!r}", "learning_rate")
    momentum = _float("momentum", 0.9 if momentum is None else momentum)
    weight_decay = _float("weight_decay", weight_decay or 0.0)
    if not 0.0 <= momentum < 1.0:
        raise SolverError(f"momentum must be in [0, 1), got {momentum}", "momentum")
    if weight_decay < 0:
        raise SolverError(f"weight_decay must be >= 0, got {weight_decay}", "weight_decay")
    if solver_type == "NESTEROV" and momentum <= 0:
        raise SolverError("momentum must be > 0 for the NESTEROV solver", "momentum")
    rms_decay = _float("rms_decay", 0.99 if rms_decay is None else rms_decay)
    if solver_type == "RMSPROP" and not 0.0 < rms_decay < 1.0:
        raise SolverError(f"rms_decay must be in (0, 1), got {rms_decay}", "rms_decay")
    return {"solver_type": solver_type, "lr": lr, "momentum": momentum, "weight_decay": weight_decay,
            "rms_decay": rms_decay}


def optimizer_spec(solver_type, learning_rate, momentum=0.9, weight_decay=0.0, rms_decay=0.99):
    """(torch optimizer class, kwargs) for a Caffe solver type and DIGITS' form fields."""
    import torch

    from digits.model.caffe_sgd import CaffeSGD

    s = check_settings(solver_type, learning_rate, momentum, weight_decay, rms_decay)
    common = {"lr": s["lr"], "weight_decay": s["weight_decay"]}
    kind, momentum = s["solver_type"], s["momentum"]
    if kind in ("SGD", "NESTEROV"):
        return CaffeSGD, dict(common, momentum=momentum, nesterov=kind == "NESTEROV")
    if kind == "ADAGRAD":
        return torch.optim.Adagrad, dict(common, eps=CAFFE_DELTA)
    if kind == "RMSPROP":
        return torch.optim.RMSprop, dict(common, alpha=s["rms_decay"], eps=CAFFE_DELTA)
    if kind == "ADADELTA":
        return torch.optim.Adadelta, dict(common, rho=momentum, eps=CAFFE_DELTA)
    return torch.optim.Adam, dict(common, betas=(momentum, ADAM_MOMENTUM2), eps=CAFFE_DELTA)


def param_groups(module, transferred=(), lr_multiplier=1.0, base_lr=None, weight_decay=None, specs=None):
    """Trainable parameters grouped by their effective LR and weight-decay multipliers.

    `specs` maps parameter names to Caffe's per-blob {"lr_mult", "decay_mult"} (param { ... } in a
    prototxt); `transferred` holds the names loaded from a pretrained model, whose LR is further
    multiplied by `lr_multiplier`. Groups carry their own "lr"/"weight_decay", and LambdaLR scales
    each group from its own initial LR. lr_mult 0 (a frozen blob in Caffe) gives a group with LR 0.
    """
    transferred, specs = set(transferred), specs or {}
    grouped = {}
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        spec = specs.get(name) or {}
        key = (name in transferred, float(spec.get("lr_mult", 1.0)), float(spec.get("decay_mult", 1.0)))
        grouped.setdefault(key, []).append(param)
    if not grouped:
        raise SolverError("the network has no trainable parameters")
    groups = []
    for (pretrained, lr_mult, decay_mult), params in sorted(grouped.items()):
        name = "pretrained" if pretrained else "fresh"
        if (lr_mult, decay_mult) != (1.0, 1.0):
            name += f" lr_mult={lr_mult:g} decay_mult={decay_mult:g}"
        group = {"params": params, "name": name}
        if base_lr is not None:
            group["lr"] = float(base_lr) * lr_mult * (float(lr_multiplier) if pretrained else 1.0)
        if weight_decay is not None:
            group["weight_decay"] = float(weight_decay) * decay_mult
        groups.append(group)
    return groups


def make_optimizer(module, config, transferred=(), specs=None):
    """The torch optimizer for a train_config dict (solver_type, learning_rate, momentum, ...)."""
    cls, kwargs = optimizer_spec(
        config.get("solver_type", "SGD"), config.get("learning_rate", 0.01),
        momentum=config.get("momentum"), weight_decay=config.get("weight_decay"),
        rms_decay=config.get("rms_decay"))
    pretrained = config.get("pretrained") or {}
    multiplier = float(pretrained.get("lr_multiplier", 1.0) if pretrained else 1.0)
    if multiplier < 0:
        raise SolverError(f"pretrained.lr_multiplier must be >= 0, got {multiplier}")
    groups = param_groups(module, transferred, multiplier, base_lr=kwargs["lr"],
                          weight_decay=kwargs["weight_decay"], specs=specs)
    return cls(groups, **kwargs)
