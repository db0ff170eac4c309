"""Adam: adaptive moment estimation (Kingma & Ba, 2015), and its AMSGrad variant.

Adam keeps, for every parameter, running averages of the gradient g = ∇J(θ) and of its
square (element by element), and divides one by the square root of the other: each
weight gets its own step size, large where gradients are small and steady, small where
they are large or noisy.  At step t (t = 1, 2, ...)::

    m ← β1 m + (1 − β1) g              first moment: a momentum of the gradient
    v ← β2 v + (1 − β2) g²             second moment: the gradient's typical size²
    m̂ = m / (1 − β1ᵗ)                  bias correction: m and v start at 0, so early
    v̂ = v / (1 − β2ᵗ)                  averages are too small by those factors
    θ ← θ − η m̂ / (√v̂ + ε)

Options:

* ``weight_decay`` λ: L2 regularisation added to the gradient, g = ∇J(θ) + λθ (classic
  Adam).  With ``decoupled_weight_decay=True`` (that is :class:`~neurona.optim.AdamW`)
  the weights shrink directly instead, θ ← θ (1 − ηλ), before the Adam step.
* ``amsgrad=True``: use the largest v seen so far, v_max ← max(v_max, v), in place of v
  in v̂ (Reddi et al., 2018), so the step size never grows back.
* ``maximize``: follow −∇J(θ).

Implementation: the last line is computed in the paper's "more efficient" order,
θ ← θ − αₜ m / (√v + ε̂) with αₜ = η √(1 − β2ᵗ) / (1 − β1ᵗ) and ε̂ = ε √(1 − β2ᵗ)
(equal to the formula above, one pass less), and (1 − β2) g² as (√(1 − β2) g)².  The
results agree with PyTorch's to float32 rounding.  On the GPU the moment updates and the
step are one fused kernel (``neurona.ops.cuda_kernels.adam_update``, same formulas).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import xp_of
from ..ops import cuda_kernels
from ..tensor import Tensor
from .optimizer import Optimizer, _check, _grad_for_update

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``.

    Args:
        params: parameters to optimize, or parameter groups (dicts).
        lr: learning rate η (default 1e-3).
        betas: (β1, β2), decay rates of the moment averages (default (0.9, 0.999)).
        eps: ε added to the denominator for stability (default 1e-8).
        weight_decay: weight decay λ (default 0): L2 on the gradient, or decoupled.
        amsgrad: use the AMSGrad variant (default False).
        maximize: maximize J instead of minimizing it (default False).
        decoupled_weight_decay: shrink weights directly as AdamW does (default False).

    State per parameter: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
    amsgrad, ``max_exp_avg_sq`` (v_max).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        amsgrad = group["amsgrad"]
        decoupled = group["decoupled_weight_decay"]
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            theta = p._data
            xp = xp_of(theta)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = Tensor._wrap(xp.zeros_like(theta))
                state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(theta))
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = Tensor._wrap(xp.zeros_like(theta))
            t = state["step"] = state["step"] + 1
            m = state["exp_avg"]._data
            v = state["exp_avg_sq"]._data

            if weight_decay != 0 and decoupled:            # AdamW: θ ← θ (1 − ηλ)
                theta *= 1 - lr * weight_decay
                g, _ = _grad_for_update(p.grad._data, theta, 0, maximize, xp)
            else:
                g, _ = _grad_for_update(p.grad._data, theta, weight_decay, maximize, xp)

            bc1 = 1 - beta1 ** t
            bc2_sqrt = math.sqrt(1 - beta2 ** t)
            if xp is not np and theta.dtype in (np.float32, np.float64):
                # on the GPU: the lines below in one fused kernel (ops/cuda_kernels.py)
                cuda_kernels.adam_update(
                    theta, m, v, g, beta1, beta2, lr * bc2_sqrt / bc1, eps * bc2_sqrt,
                    state["max_exp_avg_sq"]._data if amsgrad else None)
                p._version[0] += 1
                continue

            tmp = xp.empty_like(theta)
            # m ← β1 m + (1 − β1) g
            m *= beta1
            xp.multiply(g, 1 - beta1, out=tmp)
            m += tmp
            # v ← β2 v + (1 − β2) g², the last term as (√(1 − β2) g)²
            v *= beta2
            xp.multiply(g, math.sqrt(1 - beta2), out=tmp)
            xp.square(tmp, out=tmp)
            v += tmp
            if amsgrad:                                    # v_max ← max(v_max, v)
                v = state["max_exp_avg_sq"]._data
                xp.maximum(v, state["exp_avg_sq"]._data, out=v)

            # θ ← θ − αₜ m / (√v + ε̂)   (= θ − η m̂ / (√v̂ + ε))
            xp.sqrt(v, out=tmp)
            tmp += eps * bc2_sqrt
            xp.divide(m, tmp, out=tmp)
            tmp *= lr * bc2_sqrt / bc1
            theta -= tmp
            p._version[0] += 1
