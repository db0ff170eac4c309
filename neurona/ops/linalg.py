"""Fused linear-algebra ops of the networks: ``linear`` (x W^T + b) and ``normalize``.

``linear`` is the hot path of every MLP: one GEMM forward, two GEMMs and a column sum
backward, with the leading dims of a 3-d input folded into rows so that each step is a
single GEMM.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, crosswise
from ..backend import xp_of
from ._util import fmt, norm_dim

__all__ = ["linear", "normalize"]


class Linear(Function):
    """y = x W^T + b    (x: (..., in), W: (out, in), b: (out,), y: (..., out)).

    With X the rows of x (leading dims flattened) and G = dL/dY:
    dL/dX = G W,   dL/dW = G^T X,   dL/db = sum over rows of G."""

    save_inputs = staticmethod(crosswise)      # x is read for dL/dW only, W for dL/dX only

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        if x.ndim == 2:
            y = x @ w.T
        elif x.ndim > 2:
            y = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            y = w @ x
        if b is not None:
            y += b
        return y

    def backward(self, g):
        x, w = self.x, self.w
        need = self.needs_input_grad
        gx = gw = gb = None
        if x.ndim == 1:
            if need[0]:
                gx = g @ w
            if need[1]:
                gw = xp_of(g).outer(g, x)
            if len(need) > 2 and need[2]:
                gb = g
            return gx, gw, gb
        if x.ndim > 2:
            g2 = g.reshape(-1, g.shape[-1])
            if need[0]:
                gx = (g2 @ w).reshape(x.shape)
            if need[1]:
                gw = g2.T @ x.reshape(-1, x.shape[-1])
        else:
            g2 = g
            if need[0]:
                gx = g @ w
            if need[1]:
                gw = g.T @ x
        if len(need) > 2 and need[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """x W^T + b with W of shape (out_features, in_features) (PyTorch's layout)."""
    x, w = input._data, weight._data
    if x.dtype != w.dtype or w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        _linear_error(x, w)
    if bias is None:
        return Linear.apply(input, weight)
    if bias._data.shape != (w.shape[0],):
        raise RuntimeError(f"linear: bias must have shape ({w.shape[0]},) (out_features), "
                           f"got {fmt(bias)}")
    return Linear.apply(input, weight, bias)


def _linear_error(x, w):
    if w.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-d (out_features, in_features), got "
                           f"{fmt(w)}")
    if x.ndim == 0:
        raise RuntimeError("linear: the input must have at least 1 dimension (..., "
                           f"in_features), got a 0-d tensor")
    if x.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"linear: the input's last dimension ({x.shape[-1]}) must equal in_features "
            f"({w.shape[1]}), the second dimension of weight (input {fmt(x)}, weight "
            f"{fmt(w)}); check the layer's in_features or flatten the input first")
    raise RuntimeError(
        f"linear: input and weight must have the same dtype (input {fmt(x)}, weight "
        f"{fmt(w)}); convert the input, e.g. x.float() for float32 weights")


class Normalize(Function):
    """y = x / max(||x||_p, eps) along ``dim``.
    With n = ||x||_p and d = max(n, eps):
    dL/dx = g / d - [n > eps] (sum(g x) / d^2) dn/dx,   dn/dx = sign(x) |x|^(p-1) / n^(p-1)
    (for p = 2: dn/dx = x / n;  for p = inf: sign(x) at the largest |x|)."""

    save_inputs = (0,)

    def forward(self, x, p=2.0, dim=1, eps=1e-12):
        xp = xp_of(x)
        if p == 2:
            n = xp.sqrt((x * x).sum(axis=dim, keepdims=True))
        elif p == np.inf:
            n = xp.abs(x).max(axis=dim, keepdims=True)
        else:
            n = (xp.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
        d = xp.maximum(n, x.dtype.type(eps))
        self.x, self.n, self.d, self.p, self.dim, self.eps = x, n, d, p, dim, eps
        return x / d

    def backward(self, g):
        x, n, d, p, dim = self.x, self.n, self.d, self.p, self.dim
        xp = xp_of(g)
        gx = g / d
        s = (g * x).sum(axis=dim, keepdims=True) / (d * d)
        s = xp.where(n > self.eps, s, 0).astype(g.dtype, copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                dn = xp.where(n > 0, x / n, 0)
            elif p == np.inf:
                dn = xp.sign(x) * (xp.abs(x) == n)
            else:
                dn = xp.where(n > 0, xp.sign(x) * xp.abs(x) ** (p - 1) / n ** (p - 1), 0)
        return gx - s * dn.astype(g.dtype, copy=False)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along ``dim`` (unit vectors; default: L2 over dim 1)."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported")
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"normalize: expected a floating point tensor, got {fmt(x)}")
    if not (p > 0):
        raise ValueError(f"normalize: p must be positive, got {p}")
    dim = norm_dim(dim, x.ndim, "normalize")
    return Normalize.apply(input, p=float(p), dim=dim if x.ndim else None, eps=eps)
