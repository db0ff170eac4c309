"""RMSprop: divide the gradient by a running root-mean-square of its recent values (Hinton,
Neural Networks for Machine Learning, lecture 6e).

Like Adagrad, each weight gets its own step size, but the average of g² forgets old
gradients (decay α), so the step size does not shrink to zero over a long run::

    v ← α v + (1 − α) g²               g = ∇J(θ)
    θ ← θ − η g / (√v + ε)

Options (PyTorch's formulation):

* ``centered=True``: divide by an estimate of the gradient's *variance* instead of its
  raw second moment: ḡ ← α ḡ + (1 − α) g, and √(v − ḡ²) in place of √v.
* ``momentum`` μ: b ← μ b + g / (√v + ε), θ ← θ − η b.
* ``weight_decay`` λ: g = ∇J(θ) + λθ.   ``maximize``: g = −∇J(θ) (+ λθ).
"""
from __future__ import annotations

from ..backend import xp_of
from ..tensor import Tensor
from .optimizer import Optimizer, _check, _grad_for_update

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    Args:
        params: parameters to optimize, or parameter groups (dicts).
        lr: learning rate η (default 1e-2).
        alpha: decay α of the average of g² (default 0.99).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        momentum: momentum factor μ (default 0).
        centered: normalise by the estimated variance of the gradient (default False).
        maximize: maximize J instead of minimizing it (default False).

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, with
    momentum) and ``grad_avg`` (ḡ, when centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, maximize=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = group["lr"]
        alpha = group["alpha"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        momentum = group["momentum"]
        centered = group["centered"]
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            theta = p._data
            xp = xp_of(theta)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = Tensor._wrap(xp.zeros_like(theta))
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor._wrap(xp.zeros_like(theta))
            if centered and "grad_avg" not in state:
                state["grad_avg"] = Tensor._wrap(xp.zeros_like(theta))
            state["step"] += 1
            g, _ = _grad_for_update(p.grad._data, theta, weight_decay, maximize, xp)

            # v ← α v + (1 − α) g²
            v = state["square_avg"]._data
            v *= alpha
            denom = xp.multiply(g, g)
            denom *= 1 - alpha
            v += denom
            if centered:
                # ḡ ← α ḡ + (1 − α) g;   denominator √(v − ḡ²) + ε
                gbar = state["grad_avg"]._data
                gbar *= alpha
                xp.multiply(g, 1 - alpha, out=denom)
                gbar += denom
                xp.multiply(gbar, gbar, out=denom)
                xp.subtract(v, denom, out=denom)
                xp.sqrt(denom, out=denom)
            else:
                xp.sqrt(v, out=denom)                     # √v + ε
            denom += eps

            xp.divide(g, denom, out=denom)                # g / (√v + ε)
            if momentum > 0:                              # b ← μ b + g / (√v + ε)
                b = state["momentum_buffer"]._data
                b *= momentum
                b += denom
                xp.multiply(b, lr, out=denom)
            else:
                denom *= lr
            theta -= denom                                # θ ← θ − η (...)
            p._version[0] += 1
