"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

With plain Adam, an L2 penalty λ/2 ‖θ‖² enters the gradient and is then divided by
√v̂ like the rest of it: weights with large gradients are barely regularised.  AdamW
applies the decay to the weights directly, outside the adaptive step::

    θ ← θ (1 − ηλ)                     decay, the same for every weight
    m ← β1 m + (1 − β1) g
    v ← β2 v + (1 − β2) g²
    θ ← θ − η m̂ / (√v̂ + ε)            m̂, v̂ bias-corrected as in Adam

This is the optimizer Transformers are usually trained and fine-tuned with.  The update
is :class:`~neurona.optim.Adam`'s with ``decoupled_weight_decay=True``; only the default
λ differs (1e-2).
"""
from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Args:
        params: parameters to optimize, or parameter groups (dicts).
        lr: learning rate η (default 1e-3).
        betas: (β1, β2) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: decoupled weight decay λ (default 1e-2).
        amsgrad: use the AMSGrad variant (default False).
        maximize: maximize J instead of minimizing it (default False).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
