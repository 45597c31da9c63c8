"""Learning-rate policies with Caffe's formulas, parameterised the way DIGITS' form does it.

DIGITS' form expresses the policy relative to the whole training run (percent of the total number
of iterations), and converts it to Caffe's SolverParameter exactly like DIGITS' caffe_train.py did
(scale = max_iter / 100):

    step       stepsize  = ceil(step_size% * scale),           gamma as given
    multistep  stepvalue = ceil(v% * scale) for each value,    gamma as given
    exp        gamma     = gamma ** (1 / scale)                 (gamma = decay per 1% of training)
    inv        gamma     = gamma / scale,                       power as given
    poly       power as given
    sigmoid    gamma     = -gamma / scale, stepsize = ceil(step_size% * scale)

Then Caffe's SGDSolver::GetLearningRate gives the rate at iteration `iter` (0-based; one iteration
is one optimizer step, i.e. `batch_accumulation` mini-batches):

    fixed      base_lr
    step       base_lr * gamma ^ floor(iter / stepsize)
    exp        base_lr * gamma ^ iter
    inv        base_lr * (1 + gamma * iter) ^ (-power)
    multistep  base_lr * gamma ^ current_step   (current_step advances by at most one per iteration
                                                  once iter >= stepvalue[current_step])
    poly       base_lr * (1 - iter / max_iter) ^ power
    sigmoid    base_lr * 1 / (1 + exp(-gamma * (iter - stepsize)))

This module imports no torch at import time so the web server can use `lr_curve` cheaply.
"""
import math

from digits.utils.checks import FLOAT32_MAX, finite_number

POLICIES = ("fixed", "step", "multistep", "exp", "inv", "poly", "sigmoid")

# The form's defaults (DIGITS' values), used when a policy parameter is missing.
DEFAULTS = {
    "step": {"step_size": 33.0, "gamma": 0.1},
    "multistep": {"step_values": [50.0, 85.0], "gamma": 0.5},
    "exp": {"gamma": 0.95},
    "inv": {"gamma": 0.1, "power": 0.5},
    "poly": {"power": 3.0},
    "sigmoid": {"step_size": 50.0, "gamma": 0.1},
}


class LRPolicyError(ValueError):
    """A learning-rate policy that cannot be used; the message names the field."""


def _number(params, name, policy):
    value = params.get(name)
    if value is None:
        value = DEFAULTS[policy][name]
    return finite_number(f"lr_policy.{name}", value, LRPolicyError)


def _step_values(params):
    values = params.get("step_values")
    if values is None:
        values = DEFAULTS["multistep"]["step_values"]
    if isinstance(values, str):  # the form's comma-separated text
        values = [v for v in values.replace(" ", "").split(",") if v]
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise LRPolicyError(f"lr_policy.step_values must be numbers (percent), got {values!r}") from None
    if not values:
        raise LRPolicyError("lr_policy.step_values must list at least one percentage")
    if any(v <= 0 for v in values):
        raise LRPolicyError(f"lr_policy.step_values must be positive percentages, got {values!r}")
    return values


def caffe_solver_params(policy_params, max_iter):
    """DIGITS' percent-based policy → Caffe SolverParameter fields (dict), for `max_iter` iterations."""
    params = dict(policy_params or {})
    policy = params.get("policy", "fixed")
    if policy not in POLICIES:
        raise LRPolicyError(f"lr_policy.policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    max_iter = int(max_iter)
    if max_iter < 1:
        raise LRPolicyError(f"the training run must have at least one iteration, got max_iter={max_iter}")
    scale = float(max_iter) / 100.0
    out = {"lr_policy": policy, "max_iter": max_iter}
    if policy == "step":
        step_size = _number(params, "step_size", policy)
        if step_size <= 0:
            raise LRPolicyError(f"lr_policy.step_size must be a positive percentage, got {step_size}")
        out["stepsize"] = int(math.ceil(step_size * scale))
        out["gamma"] = _number(params, "gamma", policy)
    elif policy == "multistep":
        out["stepvalue"] = [int(math.ceil(v * scale)) for v in _step_values(params)]
        out["gamma"] = _number(params, "gamma", policy)
    elif policy == "exp":
        gamma = _number(params, "gamma", policy)
        if gamma < 0:
            raise LRPolicyError(f"lr_policy.gamma must be >= 0 for policy exp, got {gamma}")
        out["gamma"] = math.pow(gamma, 1.0 / scale)
    elif policy == "inv":
        out["gamma"] = _number(params, "gamma", policy) / scale
        out["power"] = _number(params, "power", policy)
    elif policy == "poly":
        out["power"] = _number(params, "power", policy)
    elif policy == "sigmoid":
        step_size = _number(params, "step_size", policy)
        if step_size <= 0:
            raise LRPolicyError(f"lr_policy.step_size must be a positive percentage, got {step_size}")
        out["gamma"] = -1.0 * _number(params, "gamma", policy) / scale
        out["stepsize"] = int(math.ceil(step_size * scale))
    if out.get("gamma", 0.0) < 0 and policy in ("step", "multistep", "exp", "inv"):
        raise LRPolicyError(f"lr_policy.gamma must be >= 0 for policy {policy}, got {out['gamma']}")
    if policy == "step" and out["stepsize"] < 1:
        raise LRPolicyError("lr_policy.step_size is too small for this run (stepsize < 1 iteration)")
    return out


def _multistep_count(stepvalues, iteration):
    """Caffe's current_step after evaluating iterations 0..iteration in order.

    Caffe advances current_step by at most one per iteration, so the k-th advance happens at
    e_k = max(stepvalue[k], e_{k-1} + 1); the count is the number of e_k <= iteration.
    """
    count, last = 0, -1
    for value in stepvalues:
        last = max(value, last + 1)
        if last > iteration:
            break
        count += 1
    return count


def caffe_factor(solver, iteration):
    """Caffe's rate at `iteration` divided by base_lr, for fields from `caffe_solver_params`.

    A factor that overflows or is not a finite number (gamma 1e5 with exp, a negative poly power at
    the end of the run) raises LRPolicyError naming the iteration, never OverflowError.
    """
    it = int(iteration)
    try:
        factor = _factor(solver, it)
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        if isinstance(exc, LRPolicyError):
            raise
        factor = math.inf if isinstance(exc, OverflowError) else math.nan
    if not math.isfinite(factor):
        raise LRPolicyError(_not_finite(solver, it, factor))
    return factor


def _not_finite(solver, iteration, factor):
    policy = solver["lr_policy"]
    if factor == math.inf:
        culprit = "lr_policy.gamma or power is too large" if policy == "inv" else "lr_policy.gamma is too large"
        return f"the learning rate overflows at iteration {iteration} with policy {policy}: {culprit}"
    culprit = "check lr_policy.power" if policy in ("poly", "inv") else "check lr_policy.gamma"
    return f"the learning rate is not a finite number at iteration {iteration} with policy {policy}: {culprit}"


def _factor(solver, it):
    policy = solver["lr_policy"]
    if policy == "fixed":
        return 1.0
    if policy == "step":
        return math.pow(solver["gamma"], it // solver["stepsize"])
    if policy == "exp":
        return math.pow(solver["gamma"], it)
    if policy == "inv":
        return math.pow(1.0 + solver["gamma"] * it, -solver["power"])
    if policy == "multistep":
        return math.pow(solver["gamma"], _multistep_count(solver["stepvalue"], it))
    if policy == "poly":
        # Caffe is undefined past max_iter (negative base); the run never gets there.
        remaining = max(0.0, 1.0 - float(it) / float(solver["max_iter"]))
        return math.pow(remaining, solver["power"])
    if policy == "sigmoid":
        z = -solver["gamma"] * (float(it) - float(solver["stepsize"]))
        if z > 700:  # exp would overflow; the rate is 0 to double precision
            return 0.0
        return 1.0 / (1.0 + math.exp(z))
    raise LRPolicyError(f"unknown lr policy {policy!r}")


def _rate(base_lr, factor, iteration):
    rate = base_lr * factor
    if not math.isfinite(rate) or rate > FLOAT32_MAX:
        raise LRPolicyError(f"the learning rate overflows at iteration {iteration}: learning_rate × policy "
                            f"factor ({base_lr:g} × {factor:g}) is too large")
    return rate


def learning_rate(policy_params, base_lr, max_iter, iteration):
    """The learning rate at `iteration` of a run with `max_iter` iterations."""
    return _rate(float(base_lr), caffe_factor(caffe_solver_params(policy_params, max_iter), iteration), iteration)


class CaffeLRLambda:
    """Callable iteration → multiplier of the base LR, usable as torch LambdaLR's lr_lambda.

    Holds only plain numbers/lists, so LambdaLR.state_dict() (which stores this object's __dict__)
    round-trips through torch.save/torch.load(weights_only=True).
    """

    def __init__(self, policy_params, max_iter):
        self.solver = caffe_solver_params(policy_params, max_iter)
        # Every policy is monotonic in the iteration, so its extremes are at the ends of the run:
        # checking them here stops a policy that would overflow midway before training starts.
        caffe_factor(self.solver, 0)
        caffe_factor(self.solver, self.solver["max_iter"])

    def __call__(self, iteration):
        return caffe_factor(self.solver, iteration)


def make_scheduler(optimizer, policy_params, max_iter):
    """A LambdaLR applying the Caffe policy; call .step() once after every optimizer step.

    Each param group's LR is its own initial LR times the policy factor, so per-group LR
    multipliers (pretrained layers) are preserved.
    """
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, CaffeLRLambda(policy_params, max_iter))


def lr_curve(policy_params, base_lr, max_iter=None, points=101):
    """Points for the "Visualize LR" preview.

    Returns {"percent": [...], "iteration": [...], "learning_rate": [...]} with `points` samples
    evenly spread over the run (0%..100%). Without max_iter a nominal 10000-iteration run is used,
    which shows the same shape since the policy is expressed in percent of training.
    """
    max_iter = int(max_iter or 10000)
    points = max(2, int(points))
    solver = caffe_solver_params(policy_params, max_iter)
    base_lr = float(base_lr)
    if not base_lr > 0:
        raise LRPolicyError(f"learning_rate must be > 0, got {base_lr}")
    percent, iterations, rates = [], [], []
    for i in range(points):
        it = int(round(i * max_iter / (points - 1)))
        percent.append(100.0 * it / max_iter)
        iterations.append(it)
        rates.append(_rate(base_lr, caffe_factor(solver, it), it))
    return {"percent": percent, "iteration": iterations, "learning_rate": rates}
