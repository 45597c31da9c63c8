"""Caffe's SGD and Nesterov updates as a torch optimizer.

Caffe keeps the learning rate inside the momentum history:

    SGD       v = m·v + lr_t·(g + wd·w);   w -= v
    NESTEROV  v' = m·v + lr_t·(g + wd·w);  w -= (1+m)·v' − m·v

torch's SGD keeps v without the rate and multiplies by the *current* rate, so after an LR step the
whole history is rescaled by the new rate — a different trajectory as soon as the policy changes
the rate (and no motion at all once it reaches 0, where Caffe still coasts on its momentum).
This optimizer stores Caffe's v as "momentum_buffer", so snapshots resume the same trajectory.
"""
import torch

CAFFE_HISTORY = "caffe_history"   # param-group marker: buffers hold Caffe's v (rate included)


class CaffeSGD(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        defaults = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "nesterov": nesterov,
                    CAFFE_HISTORY: True}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params)
        return loss

    def _update(self, group, params):
        lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
        grads = [p.grad for p in params]
        if decay:
            grads = torch._foreach_add(grads, params, alpha=decay)   # new tensors: .grad stays as computed
        history = []
        for p in params:
            state = self.state[p]
            if state.get("momentum_buffer") is None:   # torch's SGD may have stored None
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            history.append(state["momentum_buffer"])
        if group["nesterov"] and momentum:   # the "+ m·v" half of the step, while v is still the old one
            torch._foreach_add_(params, history, alpha=momentum)
        torch._foreach_mul_(history, momentum)
        torch._foreach_add_(history, grads, alpha=lr)
        torch._foreach_add_(params, history, alpha=-(1.0 + momentum) if group["nesterov"] else -1.0)

    def load_state_dict(self, state_dict):
        # A snapshot taken with torch's SGD holds v without the rate: v_caffe = lr·v_torch.
        converted = [not group.get(CAFFE_HISTORY) for group in state_dict["param_groups"]]
        super().load_state_dict(state_dict)
        for group, convert in zip(self.param_groups, converted):
            if convert:
                group[CAFFE_HISTORY] = True
                for p in group["params"]:
                    state = self.state.get(p, {})
                    if state.get("momentum_buffer") is not None:   # not in place: may be the caller's tensor
                        state["momentum_buffer"] = state["momentum_buffer"] * group["lr"]
