"""Stochastic gradient descent, with momentum and Nesterov momentum.

Plain gradient descent takes a step of size η (the learning rate) against the gradient
of the loss J on the current mini-batch::

    θ ← θ − η ∇J(θ)

Options (PyTorch's formulation; g is the gradient the step follows):

* ``weight_decay`` λ: L2 regularisation, g = ∇J(θ) + λθ.
* ``maximize``: climb J instead, g = −∇J(θ) (+ λθ).
* ``momentum`` μ: a velocity b that remembers past steps, so the descent keeps going
  through shallow, noisy valleys and damps oscillation across steep ones::

      b ← μ b + (1 − τ) g        (the first step sets b = g)
      θ ← θ − η b

  ``dampening`` τ scales the new gradient's share (0 by default).
* ``nesterov=True``: look ahead along the velocity, θ ← θ − η (g + μ b) (needs μ > 0
  and τ = 0).

Note: the momentum form here (PyTorch's) folds η outside the velocity; the textbook form
v ← μ v − η g, θ ← θ + v gives the same steps while η is constant.
"""
from __future__ import annotations

from ..backend import xp_of
from ..tensor import Tensor
from .optimizer import Optimizer, _check, _grad_for_update

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Args:
        params: parameters to optimize, or parameter groups (dicts).
        lr: learning rate η (default 1e-3).
        momentum: momentum factor μ (default 0).
        dampening: dampening τ of the gradient's share in the velocity (default 0).
        weight_decay: L2 penalty λ (default 0).
        nesterov: use Nesterov momentum (default False).
        maximize: maximize J instead of minimizing it (default False).

    State per parameter: ``momentum_buffer`` (the velocity b) when momentum is used.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = group["lr"]
        momentum = group["momentum"]
        dampening = group["dampening"]
        nesterov = group["nesterov"]
        weight_decay = group["weight_decay"]
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            theta = p._data
            xp = xp_of(theta)
            # g = ±∇J(θ) (+ λθ); `owned`: g is a scratch array we may overwrite
            g, owned = _grad_for_update(p.grad._data, theta, weight_decay, maximize, xp)

            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:                          # first step: b = g
                    b = g if owned else g.copy()
                    state["momentum_buffer"] = Tensor._wrap(b)
                else:                                    # b ← μ b + (1 − τ) g
                    b = buf._data
                    b *= momentum
                    if dampening == 0:
                        b += g
                    elif owned:
                        g *= 1 - dampening
                        b += g
                    else:
                        b += xp.multiply(g, 1 - dampening)
                if nesterov:                             # step along g + μ b
                    step = xp.multiply(b, momentum)
                    step += g
                    g, owned = step, True
                else:                                    # step along b (keep b intact)
                    g, owned = b, False

            # θ ← θ − η g
            if owned:
                g *= lr
                theta -= g
            else:
                theta -= xp.multiply(g, lr)
            p._version[0] += 1
