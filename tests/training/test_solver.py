"""Each solver type against Caffe's update rule written out by hand (sgd_solver.cpp & friends)."""
import io

import numpy as np
import pytest
import torch

from digits.model.caffe_sgd import CaffeSGD
from digits.model.lr_policy import make_scheduler
from digits.model.solver import SolverError, make_optimizer, optimizer_spec

LR, MOM, WD, RMS, DELTA = 0.05, 0.9, 0.01, 0.95, 1e-8


SOLVERS = ["SGD", "NESTEROV", "ADAGRAD", "RMSPROP", "ADADELTA", "ADAM"]


def caffe_steps(solver, w, grads, rates=None):
    """Caffe's ComputeUpdateValue for `solver` with L2 weight decay; rates[t] is the LR of iteration
    t (GetLearningRate), fixed LR when None. Returns the weights."""
    w = w.astype(np.float64).copy()
    h = np.zeros_like(w)
    h2 = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        LR = rates[t - 1] if rates is not None else globals()["LR"]
        g = g + WD * w                                    # Regularize (L2)
        if solver == "SGD":
            h = MOM * h + LR * g
            w -= h
        elif solver == "NESTEROV":
            prev = h.copy()
            h = MOM * h + LR * g
            w -= (1 + MOM) * h - MOM * prev
        elif solver == "ADAGRAD":
            h += g * g
            w -= LR * g / (np.sqrt(h) + DELTA)
        elif solver == "RMSPROP":
            h = RMS * h + (1 - RMS) * g * g
            w -= LR * g / (np.sqrt(h) + DELTA)
        elif solver == "ADADELTA":
            h = MOM * h + (1 - MOM) * g * g
            update = g * np.sqrt(h2 + DELTA) / np.sqrt(h + DELTA)
            h2 = MOM * h2 + (1 - MOM) * update * update
            w -= LR * update
        elif solver == "ADAM":
            b2 = 0.999
            h = MOM * h + (1 - MOM) * g
            h2 = b2 * h2 + (1 - b2) * g * g
            correction = np.sqrt(1 - b2 ** t) / (1 - MOM ** t)
            w -= LR * correction * h / (np.sqrt(h2) + DELTA)
    return w


def _problem(n=4):
    rng = np.random.default_rng(1)
    return rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) for _ in range(n)]


def _module(w0):
    module = torch.nn.Linear(3, 4, bias=False).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w0))
    return module


def _config(solver, policy=None):
    return {"solver_type": solver, "learning_rate": LR, "momentum": MOM, "weight_decay": WD, "rms_decay": RMS,
            "lr_policy": policy or {"policy": "fixed"}}


def _train(module, opt, grads, scheduler=None):
    rates = []
    for g in grads:
        rates.append(opt.param_groups[0]["lr"])
        module.weight.grad = torch.from_numpy(g.copy())
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return rates


def _rtol(solver):
    # torch's Adam adds eps after the bias correction of sqrt(v), Caffe before: ~1e-6 apart
    return 2e-5 if solver == "ADAM" else 1e-9


@pytest.mark.parametrize("solver", SOLVERS)
def test_solver_matches_caffe_update(solver):
    w0, grads = _problem()
    module = _module(w0)
    _train(module, make_optimizer(module, _config(solver)), grads)
    np.testing.assert_allclose(module.weight.detach().numpy(), caffe_steps(solver, w0, grads), rtol=_rtol(solver),
                               atol=1e-12)


# 8 iterations, stepsize 2 (25%): the rate drops 10× three times, the last time to 0 (gamma 0 is
# allowed: Caffe then moves the weights by momentum alone).
STEP_POLICIES = [{"policy": "step", "step_size": 25, "gamma": 0.1}, {"policy": "step", "step_size": 75, "gamma": 0.0},
                 {"policy": "inv", "gamma": 5.0, "power": 0.75}]


@pytest.mark.parametrize("policy", STEP_POLICIES, ids=["step", "step-to-zero", "inv"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_solver_matches_caffe_when_the_rate_changes(solver, policy):
    w0, grads = _problem(8)
    module = _module(w0)
    opt = make_optimizer(module, _config(solver, policy))
    rates = _train(module, opt, grads, make_scheduler(opt, policy, len(grads)))
    assert len(set(rates)) > 1                       # the policy did change the rate
    np.testing.assert_allclose(module.weight.detach().numpy(), caffe_steps(solver, w0, grads, rates),
                               rtol=_rtol(solver), atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_resumed_optimizer_continues_the_caffe_trajectory(solver):
    policy = STEP_POLICIES[0]
    w0, grads = _problem(8)
    module = _module(w0)
    opt = make_optimizer(module, _config(solver, policy))
    sched = make_scheduler(opt, policy, len(grads))
    rates = _train(module, opt, grads[:3], sched)
    saved = io.BytesIO()
    torch.save({"model": module.state_dict(), "optimizer": opt.state_dict(), "lr": sched.state_dict()}, saved)
    saved.seek(0)
    state = torch.load(saved, weights_only=True)     # as a snapshot is read back
    module = _module(w0)
    module.load_state_dict(state["model"])
    opt = make_optimizer(module, _config(solver, policy))
    opt.load_state_dict(state["optimizer"])
    sched = make_scheduler(opt, policy, len(grads))
    sched.load_state_dict(state["lr"])
    rates += _train(module, opt, grads[3:], sched)
    np.testing.assert_allclose(module.weight.detach().numpy(), caffe_steps(solver, w0, grads, rates),
                               rtol=_rtol(solver), atol=1e-12)


def test_snapshot_of_torch_sgd_momentum_is_converted():
    """A snapshot written when the solver was torch's SGD (history without the rate) resumes the same."""
    w0, grads = _problem(4)
    torch_module, module = _module(w0), _module(w0)
    reference = torch.optim.SGD(torch_module.parameters(), lr=LR, momentum=MOM, weight_decay=WD)
    _train(torch_module, reference, grads[:2])
    opt = CaffeSGD(module.parameters(), lr=LR, momentum=MOM, weight_decay=WD)
    module.load_state_dict(torch_module.state_dict())
    opt.load_state_dict(reference.state_dict())
    _train(torch_module, reference, grads[2:])       # fixed rate: both rules agree
    _train(module, opt, grads[2:])
    np.testing.assert_allclose(module.weight.detach().numpy(), torch_module.weight.detach().numpy(), rtol=1e-12)


def test_spec_maps_hyper_parameters():
    cls, kw = optimizer_spec("RMSPROP", 0.1, momentum=0.5, weight_decay=0.2, rms_decay=0.9)
    assert cls is torch.optim.RMSprop and kw == {"lr": 0.1, "weight_decay": 0.2, "alpha": 0.9, "eps": 1e-8}
    cls, kw = optimizer_spec("ADAM", 0.1, momentum=0.8)
    assert cls is torch.optim.Adam and kw["betas"] == (0.8, 0.999)
    cls, kw = optimizer_spec("ADADELTA", 1.0, momentum=0.95)
    assert cls is torch.optim.Adadelta and kw["rho"] == 0.95
    cls, kw = optimizer_spec("nesterov", 0.1)
    assert cls is CaffeSGD and kw["nesterov"] is True


def test_caffe_lr_mult_and_decay_mult_make_groups():
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    specs = {"0.weight": {"lr_mult": 1, "decay_mult": 1}, "0.bias": {"lr_mult": 2, "decay_mult": 0},
             "1.weight": {"lr_mult": 0, "decay_mult": 1}}
    opt = make_optimizer(module, {"solver_type": "SGD", "learning_rate": 0.1, "weight_decay": 0.01}, specs=specs)
    groups = {g["name"]: (g["lr"], g["weight_decay"], len(g["params"])) for g in opt.param_groups}
    assert groups == {"fresh": (0.1, 0.01, 2),  # 0.weight and 1.bias (no spec)
                      "fresh lr_mult=2 decay_mult=0": (pytest.approx(0.2), 0.0, 1),
                      "fresh lr_mult=0 decay_mult=1": (0.0, 0.01, 1)}
    before = module[1].weight.detach().clone()
    module(torch.ones(1, 2)).sum().backward()
    opt.step()
    assert torch.equal(module[1].weight, before)  # lr_mult 0: frozen, as in Caffe


def test_pretrained_layers_get_the_multiplier():
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    config = {"solver_type": "SGD", "learning_rate": 0.1, "pretrained": {"file": "x", "lr_multiplier": 0.1}}
    opt = make_optimizer(module, config, transferred={"0.weight", "0.bias"})
    lrs = {g["name"]: (g["lr"], len(g["params"])) for g in opt.param_groups}
    assert lrs == {"fresh": (0.1, 2), "pretrained": (pytest.approx(0.01), 2)}


@pytest.mark.parametrize("kwargs,field", [
    ({"solver_type": "LBFGS"}, "solver_type"), ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"), ({"momentum": 1.5}, "momentum"),
    ({"weight_decay": -1}, "weight_decay"), ({"solver_type": "RMSPROP", "rms_decay": 1.0}, "rms_decay")])
def test_bad_settings_name_the_field(kwargs, field):
    args = {"solver_type": "SGD", "learning_rate": 0.1}
    args.update(kwargs)
    with pytest.raises(SolverError, match=field):
        optimizer_spec(**args)
