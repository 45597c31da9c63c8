"""LR policies against Caffe's GetLearningRate formulas, with DIGITS' percent conversion."""
import io
import math

import pytest
import torch

from digits.model.lr_policy import (LRPolicyError, caffe_solver_params, learning_rate, lr_curve,
                                    make_scheduler)

BASE = 0.01


def test_percent_conversion_matches_digits():
    # max_iter 90 → scale 0.9: 33% → ceil(29.7) = 30 iterations
    assert caffe_solver_params({"policy": "step", "step_size": 33, "gamma": 0.1}, 90)["stepsize"] == 30
    assert caffe_solver_params({"policy": "multistep", "step_values": [50, 85], "gamma": 0.5}, 90)["stepvalue"] == [45, 77]
    assert caffe_solver_params({"policy": "multistep", "step_values": "50, 85"}, 1000)["stepvalue"] == [500, 850]
    exp = caffe_solver_params({"policy": "exp", "gamma": 0.95}, 1000)
    assert exp["gamma"] == pytest.approx(0.95 ** 0.1, rel=1e-15)
    inv = caffe_solver_params({"policy": "inv", "gamma": 0.1, "power": 0.5}, 1000)
    assert inv["gamma"] == pytest.approx(0.01) and inv["power"] == 0.5
    sig = caffe_solver_params({"policy": "sigmoid", "step_size": 50, "gamma": 0.1}, 1000)
    assert sig["gamma"] == pytest.approx(-0.01) and sig["stepsize"] == 500


@pytest.mark.parametrize("policy,iteration,expected", [
    ({"policy": "fixed"}, 0, BASE),
    ({"policy": "fixed"}, 999, BASE),
    ({"policy": "step", "step_size": 33, "gamma": 0.1}, 329, BASE),
    ({"policy": "step", "step_size": 33, "gamma": 0.1}, 330, BASE * 0.1),
    ({"policy": "step", "step_size": 33, "gamma": 0.1}, 660, BASE * 0.01),
    ({"policy": "step", "step_size": 33, "gamma": 0.1}, 999, BASE * 0.001),
    ({"policy": "multistep", "step_values": [50, 85], "gamma": 0.5}, 499, BASE),
    ({"policy": "multistep", "step_values": [50, 85], "gamma": 0.5}, 500, BASE * 0.5),
    ({"policy": "multistep", "step_values": [50, 85], "gamma": 0.5}, 849, BASE * 0.5),
    ({"policy": "multistep", "step_values": [50, 85], "gamma": 0.5}, 850, BASE * 0.25),
    # Caffe advances at most one step per iteration: equal step values take effect one apart
    ({"policy": "multistep", "step_values": [50, 50], "gamma": 0.5}, 500, BASE * 0.5),
    ({"policy": "multistep", "step_values": [50, 50], "gamma": 0.5}, 501, BASE * 0.25),
    ({"policy": "exp", "gamma": 0.95}, 0, BASE),
    ({"policy": "exp", "gamma": 0.95}, 10, BASE * 0.95),
    ({"policy": "exp", "gamma": 0.95}, 1000, BASE * 0.95 ** 100),
    ({"policy": "inv", "gamma": 0.1, "power": 0.5}, 100, BASE * 2 ** -0.5),
    ({"policy": "inv", "gamma": 0.1, "power": 0.5}, 300, BASE * 4 ** -0.5),
    ({"policy": "poly", "power": 3}, 0, BASE),
    ({"policy": "poly", "power": 3}, 500, BASE * 0.125),
    ({"policy": "poly", "power": 3}, 1000, 0.0),
    ({"policy": "sigmoid", "step_size": 50, "gamma": 0.1}, 500, BASE * 0.5),
    ({"policy": "sigmoid", "step_size": 50, "gamma": 0.1}, 0, BASE / (1 + math.exp(-5))),
    ({"policy": "sigmoid", "step_size": 50, "gamma": 0.1}, 1000, BASE / (1 + math.exp(5))),
])
def test_caffe_formula_values(policy, iteration, expected):
    assert learning_rate(policy, BASE, 1000, iteration) == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_step_policy_with_fractional_scale():
    # 90 iterations, 33% → stepsize 30: iterations 29 / 30 / 60
    policy = {"policy": "step", "step_size": 33, "gamma": 0.1}
    assert [learning_rate(policy, 1.0, 90, i) for i in (29, 30, 60)] == pytest.approx([1.0, 0.1, 0.01])


@pytest.mark.parametrize("policy", [
    {"policy": "step", "step_size": 20, "gamma": 0.5},
    {"policy": "multistep", "step_values": [30, 60], "gamma": 0.3},
    {"policy": "exp", "gamma": 0.9}, {"policy": "inv", "gamma": 0.2, "power": 0.75},
    {"policy": "poly", "power": 2}, {"policy": "sigmoid", "step_size": 40, "gamma": 0.2}])
def test_scheduler_steps_per_iteration_and_resumes(policy):
    max_iter = 50
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": params}], lr=0.1)
    sched = make_scheduler(opt, policy, max_iter)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([learning_rate(policy, 0.1, max_iter, i) for i in range(20)], rel=1e-12)
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    opt2 = torch.optim.SGD([{"params": params}], lr=0.1)
    sched2 = make_scheduler(opt2, policy, max_iter)
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = sched2.get_last_lr()[0]
    for i in range(20, 30):
        assert opt2.param_groups[0]["lr"] == pytest.approx(learning_rate(policy, 0.1, max_iter, i), rel=1e-12)
        opt2.step()
        sched2.step()


def test_scheduler_keeps_group_multipliers():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    sched = make_scheduler(opt, {"policy": "step", "step_size": 10, "gamma": 0.5}, 100)
    for _ in range(10):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])


def test_lr_curve_points():
    curve = lr_curve({"policy": "step", "step_size": 50, "gamma": 0.1}, 0.1, max_iter=1000, points=5)
    assert curve["percent"] == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert curve["iteration"] == [0, 250, 500, 750, 1000]
    assert curve["learning_rate"] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    assert len(lr_curve({"policy": "fixed"}, 0.1)["learning_rate"]) == 101


@pytest.mark.parametrize("policy,field", [
    ({"policy": "bogus"}, "lr_policy.policy"), ({"policy": "step", "step_size": 0}, "lr_policy.step_size"),
    ({"policy": "step", "gamma": "x"}, "lr_policy.gamma"), ({"policy": "multistep", "step_values": []},
                                                            "lr_policy.step_values"),
    ({"policy": "exp", "gamma": -1}, "lr_policy.gamma")])
def test_bad_policy_names_the_field(policy, field):
    with pytest.raises(LRPolicyError, match=field.replace(".", r"\.")):
        caffe_solver_params(policy, 1000)


@pytest.mark.parametrize("policy,where", [
    ({"policy": "exp", "gamma": 1e5}, "overflows at iteration"),
    ({"policy": "step", "step_size": 10, "gamma": 1e200}, "overflows at iteration"),
    ({"policy": "multistep", "step_values": [10, 20], "gamma": 1e300}, "overflows at iteration"),
    ({"policy": "poly", "power": -2}, "not a finite number at iteration 1000")])
def test_overflowing_policy_is_a_policy_error(policy, where):
    """OverflowError/ValueError from math.pow used to escape (a 500 in Visualize LR, a crash mid-training)."""
    with pytest.raises(LRPolicyError, match=where):
        lr_curve(policy, 0.01, max_iter=1000)
    with pytest.raises(LRPolicyError, match=where):  # caught before training starts, not at that iteration
        make_scheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01), policy, 1000)


def test_rate_overflow_from_base_lr_is_a_policy_error():
    with pytest.raises(LRPolicyError, match="too large"):
        learning_rate({"policy": "exp", "gamma": 1e3}, 1e300, 1000, 1000)


def test_visualize_lr_answers_400_on_overflow(client):
    for data in ({"lr_policy": "exp", "learning_rate": "0.1", "lr_exp_gamma": "1e5"},
                 {"lr_policy": "step", "learning_rate": "0.1", "lr_step_size": "33", "lr_step_gamma": "1e200"}):
        response = client.post("/models/visualize-lr.json", data=data)
        assert response.status_code == 400, response.data[:300]
        assert "overflows at iteration" in response.get_data(as_text=True)  # form error or view error
