"""Gradient clipping: keep one bad batch from throwing the weights far away (exploding
gradients in RNNs, for instance).

``clip_grad_norm_`` rescales all gradients together so that their combined norm is at
most ``max_norm``:

    total = || (||g_1||_p, ||g_2||_p, ...) ||_p       (the p-norm of all gradients as one vector)
    g_i  <- g_i * min(1, max_norm / (total + 1e-6))

so the direction of the update is kept.  ``clip_grad_value_`` clamps each gradient
element to [-clip_value, clip_value].  Both change ``p.grad`` in place, as PyTorch's.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import xp_of
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _grads(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _norm(a, p, xp):
    a = xp.abs(a.reshape(-1))
    if a.size == 0:
        return a.dtype.type(0)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return a.dtype.type((a != 0).sum())
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt(xp.dot(a, a))
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (as one long vector)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    arrays = [t._data for t in tensors]
    xp = xp_of(arrays[0])
    norms = xp.stack([xp.asarray(_norm(a, norm_type, xp)) for a in arrays])
    total = xp.asarray(_norm(norms, norm_type, xp))
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    xp = xp_of(grads[0]._data)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g._data *= coef.astype(g._data.dtype)
        g._version[0] += 1


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total
    ``norm_type``-norm is at most ``max_norm``; returns the total norm *before* clipping
    (worth logging: it shows when gradients explode).

    Call it between ``loss.backward()`` and ``optimizer.step()``."""
    parameters = _as_list(parameters)        # a generator (model.parameters()) is read twice
    grads = _grads(parameters)
    if not grads:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element of ``parameters`` to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp_of(g._data).clip(g._data, -clip_value, clip_value, out=g._data)
        g._version[0] += 1
