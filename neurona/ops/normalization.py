"""Layer normalization and batch normalization, each one fused op with a hand-written
backward.

Both standardize x over some elements, then scale and shift per feature:

    mu = mean(x),   s2 = mean((x - mu)^2)           (the *biased* variance)
    x^ = (x - mu) / sqrt(s2 + eps)                   (eps keeps the division safe)
    y  = gamma * x^ + beta

* layer norm: the mean is over the last dims (``normalized_shape``) of each sample,
  gamma and beta have that shape;
* batch norm: the mean is over the batch (and length/spatial) dims of each channel c
  (dim 1), gamma and beta have shape (C,).

Backward, with g = dL/dy, g' = g * gamma, r = 1/sqrt(s2 + eps), and mean() over the same
elements as the forward's:

    dL/dx     = r * (g' - mean(g') - x^ * mean(g' * x^))
    dL/dgamma = sum of g * x^    (over everything but gamma's dims)
    dL/dbeta  = sum of g

(The two subtracted terms are the gradient flowing through mu and through s2: each x_i
moves the mean and the variance that every other output was normalized with.)

Batch norm in evaluation mode uses the running estimates instead of the batch's
statistics; these are constants, so y = x * (gamma r) + (beta - mu gamma r) and
dL/dx = g * gamma * r.

A naive composition of ``mean``, ``sub``, ``pow``, ``rsqrt``... records about ten ops and
keeps as many intermediate arrays; the fused op keeps x^ and r only.  On the GPU, layer
norm's x^ and r come from one row-wise kernel (``cuda_kernels.layer_norm_rows``).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from ._util import fmt
from . import cuda_kernels

__all__ = ["layer_norm", "batch_norm"]


def _work_dtype(x):
    """float16 is computed in float32 (its sums overflow and lose precision)."""
    return np.float32 if x.dtype == np.float16 else x.dtype


# ----------------------------------------------------------------------------- layer norm

class LayerNorm(Function):
    """Layer norm over the last ``k`` dims (see the module docstring for the formulas):

        x^ = (x - mu) / sqrt(s2 + eps),  y = gamma * x^ + beta;
        dL/dx = r (g' - mean(g') - x^ mean(g' x^)),  g' = g gamma,  r = 1/sqrt(s2 + eps);
        dL/dgamma = sum_rows g x^,  dL/dbeta = sum_rows g.

    Inputs: x, then gamma if ``has_w``, then beta if ``has_b``."""

    def forward(self, x, *params, k=1, eps=1e-5, has_w=False, has_b=False):
        xp = xp_of(x)
        in_dt = x.dtype
        wd = np.dtype(_work_dtype(x))
        pshape = x.shape[x.ndim - k:]
        d = math.prod(pshape)
        x2 = x.reshape(-1, d)
        if x2.dtype != wd:
            x2 = x2.astype(wd)
        if type(x2) is not np.ndarray and cuda_kernels.rows_ok(x2, -1):
            xhat, r = cuda_kernels.layer_norm_rows(x2, eps)   # one CUDA kernel, same formulas
        else:
            # row sums as matrix-vector products with a column of ones: BLAS is 3-4x
            # faster than ndarray.sum over rows of a few hundred numbers (measured: 14 vs
            # 49 us on 512 x 384)
            ones = xp.ones((d, 1), wd)
            mu = x2 @ ones
            mu /= d
            xhat = x2 - mu
            var = (xhat * xhat) @ ones
            var /= d
            var += wd.type(eps)
            r = 1.0 / xp.sqrt(var)
            xhat *= r
        w = params[0].reshape(1, d) if has_w else None
        b = params[-1].reshape(1, d) if has_b else None
        if w is not None:
            y = xhat * w
            if b is not None:
                y += b
        elif b is not None:
            y = xhat + b
        else:
            y = xhat.copy()
        self.xhat, self.r, self.w, self.has_b = xhat, r, w, has_b
        self.shape, self.pshape, self.in_dt = x.shape, pshape, in_dt
        return y.reshape(x.shape).astype(in_dt, copy=False)

    def backward(self, g):
        xhat, r, w = self.xhat, self.r, self.w
        d = xhat.shape[1]
        g2 = g.reshape(-1, d)
        if g2.dtype != xhat.dtype:
            g2 = g2.astype(xhat.dtype)
        need = self.needs_input_grad
        out = [None]
        if need[0]:
            gp = g2 * w if w is not None else g2
            gx = gp - gp.mean(axis=1, keepdims=True)
            gx -= xhat * (gp * xhat).mean(axis=1, keepdims=True)
            gx *= r
            out[0] = gx.reshape(self.shape).astype(self.in_dt, copy=False)
        if w is not None:
            out.append((g2 * xhat).sum(axis=0).reshape(self.pshape).astype(self.in_dt, copy=False)
                       if need[len(out)] else None)
        if self.has_b:
            out.append(g2.sum(axis=0).reshape(self.pshape).astype(self.in_dt, copy=False)
                       if need[len(out)] else None)
        return tuple(out) if len(out) > 1 else out[0]


class LayerNormAffine(LayerNorm):
    """Layer norm with gamma (input 1): backward reads gamma, so changing it in place
    before backward is an error."""
    save_inputs = (1,)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` dims of each sample:
    y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance), as torch's
    ``F.layer_norm``.  ``weight`` and ``bias`` (optional) have shape ``normalized_shape``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    x = input._data
    k = len(normalized_shape)
    if x.dtype.kind != "f":
        raise RuntimeError(f"layer_norm: expected a floating point input, got {fmt(x)}")
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise RuntimeError(
            f"layer_norm: the input's last {k} dimension(s) must be normalized_shape="
            f"{normalized_shape}, but the input has shape {tuple(x.shape)}; expected input "
            f"of shape (*, {', '.join(map(str, normalized_shape))})")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p._data.shape) != normalized_shape:
            raise RuntimeError(f"layer_norm: {name} must have shape normalized_shape="
                               f"{normalized_shape}, got {fmt(p)}")
    params = [p for p in (weight, bias) if p is not None]
    cls = LayerNormAffine if weight is not None else LayerNorm
    out = cls.apply(input, *params, k=k, eps=float(eps), has_w=weight is not None,
                    has_b=bias is not None)
    return out


# ----------------------------------------------------------------------------- batch norm

class BatchNorm(Function):
    """Batch norm of x (N, C, *) per channel c (see the module docstring for formulas).

    Training (batch statistics over N and the * dims, n values per channel):
        x^ = (x - mu_c) / sqrt(s2_c + eps),  y = gamma_c x^ + beta_c;
        dL/dx = gamma_c r_c (g - mean(g) - x^ mean(g x^)),  r_c = 1/sqrt(s2_c + eps);
    evaluation (running estimates m_c, v_c, constants):
        y = gamma_c (x - m_c) / sqrt(v_c + eps) + beta_c;  dL/dx = g gamma_c / sqrt(v_c + eps).
    Both: dL/dgamma_c = sum g x^,  dL/dbeta_c = sum g.

    In training, the running estimates (arrays, changed in place) become
        m <- (1 - momentum) m + momentum mu,   v <- (1 - momentum) v + momentum s2 n/(n-1)
    (the unbiased variance, as PyTorch).  Inputs: x, then gamma if ``has_w``, then beta
    if ``has_b``."""

    def forward(self, x, *params, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5, has_w=False, has_b=False):
        xp = xp_of(x)
        in_dt = x.dtype
        wd = np.dtype(_work_dtype(x))
        if x.dtype != wd:
            x = x.astype(wd)
        C = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, C) + (1,) * (x.ndim - 2)
        w = params[0] if has_w else None
        b = params[-1] if has_b else None
        if training:
            n = x.size // C
            mu = x.mean(axis=axes, keepdims=True)
            xc = x - mu
            var = (xc * xc).mean(axis=axes, keepdims=True)
            r = 1.0 / xp.sqrt(var + wd.type(eps))
            xhat = xc
            xhat *= r
            if running_mean is not None:
                m = momentum
                running_mean *= 1 - m
                running_mean += (m * mu.reshape(C)).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                m = momentum
                unbiased = var.reshape(C) * (n / (n - 1) if n > 1 else float("nan"))
                running_var *= 1 - m
                running_var += (m * unbiased).astype(running_var.dtype, copy=False)
        else:
            mu = running_mean.reshape(bshape).astype(wd, copy=False)
            r = 1.0 / xp.sqrt(running_var.reshape(bshape).astype(wd, copy=False) + wd.type(eps))
            xhat = (x - mu) * r
        if w is not None:
            y = xhat * w.reshape(bshape)
            if b is not None:
                y += b.reshape(bshape)
        elif b is not None:
            y = xhat + b.reshape(bshape)
        else:
            y = xhat.copy()
        self.xhat, self.r, self.w, self.has_b = xhat, r, w, has_b
        self.training, self.axes, self.bshape, self.in_dt = training, axes, bshape, in_dt
        return y.astype(in_dt, copy=False)

    def backward(self, g):
        xhat, r, w, axes, bshape = self.xhat, self.r, self.w, self.axes, self.bshape
        if g.dtype != xhat.dtype:
            g = g.astype(xhat.dtype)
        need = self.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            scale = r if w is None else r * w.reshape(bshape)
            if self.training:
                gx = g - g.mean(axis=axes, keepdims=True)
                gx -= xhat * (g * xhat).mean(axis=axes, keepdims=True)
                gx *= scale
            else:
                gx = g * scale
            gx = gx.astype(self.in_dt, copy=False)
        out = [gx]
        i = 1
        if w is not None:
            if need[i]:
                gw = (g * xhat).sum(axis=axes).astype(w.dtype, copy=False)
            out.append(gw)
            i += 1
        if self.has_b:
            if need[i]:
                gb = g.sum(axis=axes).astype(self.in_dt, copy=False)
            out.append(gb)
        return tuple(out) if len(out) > 1 else gx


class BatchNormAffine(BatchNorm):
    """Batch norm with gamma (input 1): backward reads gamma."""
    save_inputs = (1,)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization of ``input`` (N, C) or (N, C, *) per channel (dim 1), as torch's
    ``F.batch_norm``.

    ``training=True``: normalize with the batch's mean and biased variance, and (when
    given) update ``running_mean``/``running_var`` in place with ``momentum`` (the running
    variance uses the *unbiased* batch variance).  ``training=False``: normalize with
    ``running_mean``/``running_var``."""
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"batch_norm: expected a floating point input, got {fmt(x)}")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, *), got "
                         f"{fmt(x)}")
    C = x.shape[1]
    for name, p in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if p is not None and tuple(p._data.shape) != (C,):
            raise RuntimeError(f"batch_norm: {name} must have shape ({C},), one entry per "
                               f"channel (dim 1 of the input {fmt(x)}), got {fmt(p)}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm: running_mean and running_var must be given when "
                           "training=False")
    if training and x.size // max(C, 1) <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {tuple(x.shape)}: batch norm needs a batch of 2 or more "
                         "samples in training mode (use model.eval() to predict one sample)")
    rm = None if running_mean is None else running_mean._data
    rv = None if running_var is None else running_var._data
    params = [p for p in (weight, bias) if p is not None]
    cls = BatchNormAffine if weight is not None else BatchNorm
    out = cls.apply(input, *params, running_mean=rm, running_var=rv, training=bool(training),
                    momentum=0.0 if momentum is None else float(momentum), eps=float(eps),
                    has_w=weight is not None, has_b=bias is not None)
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._version[0] += 1
    return out

