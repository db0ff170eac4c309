"""Adagrad: per-weight step sizes from the sum of all past squared gradients (Duchi, Hazan &
Singer, 2011).

Weights that have seen large gradients take small steps, rarely-updated weights (rare
words' embeddings, say) keep large ones::

    s ← s + g²                         g = ∇J(θ); s starts at initial_accumulator_value
    θ ← θ − ηₜ g / (√s + ε)
    ηₜ = η / (1 + (t − 1) · lr_decay)

Because s only grows, the steps shrink over training (RMSprop and Adam forget old
gradients instead).  ``weight_decay`` λ: g = ∇J(θ) + λθ; ``maximize``: g = −∇J(θ).
"""
from __future__ import annotations

from ..backend import xp_of
from ..tensor import Tensor
from .optimizer import Optimizer, _check, _grad_for_update

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    Args:
        params: parameters to optimize, or parameter groups (dicts).
        lr: learning rate η (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty λ (default 0).
        initial_accumulator_value: starting value of s (default 0).
        eps: ε added to the denominator (default 1e-10).
        maximize: maximize J instead of minimizing it (default False).

    State per parameter (made at construction, as in PyTorch): ``step`` (t) and
    ``sum`` (s).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, *, maximize=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = 0
        state["sum"] = Tensor._wrap(
            xp_of(p._data).full_like(p._data, group["initial_accumulator_value"]))
        return state

    def _update_group(self, group):
        lr = group["lr"]
        lr_decay = group["lr_decay"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            theta = p._data
            xp = xp_of(theta)
            state = self.state[p]
            if not state:                  # a group added after construction
                state = self._init_state(p, group)
            t = state["step"] = state["step"] + 1
            g, _ = _grad_for_update(p.grad._data, theta, weight_decay, maximize, xp)
            clr = lr / (1 + (t - 1) * lr_decay)

            s = state["sum"]._data
            tmp = xp.multiply(g, g)        # s ← s + g²
            s += tmp
            xp.sqrt(s, out=tmp)            # θ ← θ − ηₜ g / (√s + ε)
            tmp += eps
            xp.divide(g, tmp, out=tmp)
            tmp *= clr
            theta -= tmp
            p._version[0] += 1
