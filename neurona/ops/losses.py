"""Loss functions, each one fused op with its own backward.

Notation: x is the input (prediction), t the target, l_n the loss of element (or sample)
n, and N the number of terms.  ``reduction`` chooses what is returned:

    'none' -> every l_n;   'sum' -> L = sum_n l_n;   'mean' -> L = (1/N) sum_n l_n

so in backward dL/dl_n is the incoming gradient g ('none'), g ('sum') or g / N ('mean').
Weighted class losses (nll_loss, cross_entropy) divide 'mean' by the sum of the weights
of the counted targets instead of N, as PyTorch does.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import promote, fmt, broadcast_error, unbroadcast, to_tensor
from .indexing import IndexOutOfRange
from .pointwise import sigmoid_array

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div"]

_NONE, _MEAN, _SUM, _BATCHMEAN = 0, 1, 2, 3
_REDUCTIONS = {"none": _NONE, "mean": _MEAN, "sum": _SUM}


def _reduction(op, reduction, size_average=None, reduce=None):
    """'none' | 'mean' | 'sum' as a code; the legacy size_average / reduce flags as PyTorch."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    try:
        return _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; use "
                         "'none', 'mean' or 'sum'") from None


def _reduce(l, red):
    """Apply the reduction to the array of losses; a 0-d array for 'mean' and 'sum'."""
    if red == _NONE:
        return l
    xp = xp_of(l)
    if red == _SUM:
        return xp.asarray(l.sum())
    if l.size == 0:
        return xp.asarray(xp.nan, dtype=l.dtype)
    return xp.asarray(l.sum() / l.size)       # cheaper than l.mean() on small arrays


def _div(a, d):
    """a / d; d == 0 (every target ignored, an empty batch) gives nan or inf silently."""
    if d:
        return a / d
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / d


def _mul(a, b):
    with np.errstate(invalid="ignore"):
        return a * b


def _scale(g, red, n):
    """dL/dl_n from the incoming gradient: g, or g / N for 'mean'."""
    return g / n if red == _MEAN else g


def _as_tensor(value, like, op, what):
    if isinstance(value, Tensor):
        return value
    if value is None:
        return None
    return to_tensor(value, like) if isinstance(value, (int, float)) else Tensor(value)


def _float_input(op, x):
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: the input must be a floating point tensor, got {fmt(x)}; "
                           "convert it with .float()")


def _size_warning(op, x, t):
    if x._data.shape != t._data.shape:
        warnings.warn(
            f"{op}: Using a target size ({tuple(t.shape)}) that is different to the input size "
            f"({tuple(x.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", UserWarning, stacklevel=3)


# ============================================================================ x - t losses

class _DiffLoss(Function):
    """Losses of the difference d = x - t:  l = f(d);  dl/dx = f'(d),  dl/dt = -f'(d).
    (Backward reads only d, which forward computed: x and t may change afterwards.)"""

    name = None

    def forward(self, x, t, reduction=_MEAN, param=None):
        if x.dtype != t.dtype:
            x, t = promote(x, t)
        try:
            d = x - t
        except ValueError:
            raise broadcast_error(self.name, x, t) from None
        self.d, self.red, self.param = d, reduction, param
        self.shapes = (x.shape, t.shape)
        return _reduce(self.f(d), reduction)

    def backward(self, g):
        gd = self.fprime(self.d)
        gd *= _scale(g, self.red, self.d.size)
        sx, st = self.shapes
        nx, nt = self.needs_input_grad
        return (unbroadcast(gd, sx) if nx else None, unbroadcast(-gd, st) if nt else None)


class MSELoss(_DiffLoss):
    """l = (x - t)^2.    dl/dx = 2 (x - t),  dl/dt = -2 (x - t)."""
    name = "mse_loss"

    def f(self, d):
        return d * d

    def fprime(self, d):
        return d * d.dtype.type(2)


class L1Loss(_DiffLoss):
    """l = |x - t|.    dl/dx = sign(x - t),  dl/dt = -sign(x - t)."""
    name = "l1_loss"

    def f(self, d):
        return xp_of(d).abs(d)

    def fprime(self, d):
        return xp_of(d).sign(d)


class HuberLoss(_DiffLoss):
    """l = d^2 / 2 if |d| < delta else delta (|d| - delta / 2),  d = x - t.
    dl/dx = clip(d, -delta, delta),  dl/dt = -dl/dx."""
    name = "huber_loss"

    def f(self, d):
        xp = xp_of(d)
        a = xp.abs(d)
        delta, half = d.dtype.type(self.param), d.dtype.type(0.5)
        return xp.where(a < delta, half * d * d, delta * (a - half * delta))

    def fprime(self, d):
        return xp_of(d).clip(d, -self.param, self.param).astype(d.dtype, copy=False)


class SmoothL1Loss(_DiffLoss):
    """l = d^2 / (2 beta) if |d| < beta else |d| - beta / 2,  d = x - t.
    dl/dx = d / beta if |d| < beta else sign(d),  dl/dt = -dl/dx."""
    name = "smooth_l1_loss"

    def f(self, d):
        xp = xp_of(d)
        a = xp.abs(d)
        beta = d.dtype.type(self.param)
        half = d.dtype.type(0.5)
        return xp.where(a < beta, half * d * d / beta, a - half * beta)

    def fprime(self, d):
        xp = xp_of(d)
        beta = d.dtype.type(self.param)
        return xp.where(xp.abs(d) < beta, d / beta, xp.sign(d))


def _diff_loss(cls, input, target, red, param=None):
    if not isinstance(target, Tensor):
        target = _as_tensor(target, input, cls.name, "target")
    if input._data.shape != target._data.shape:
        _size_warning(cls.name, input, target)
    return cls.apply(input, target, reduction=red, param=param)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: l_n = (x_n - t_n)^2."""
    red = _reduction("mse_loss", reduction, size_average, reduce)
    if weight is not None:
        raise NotImplementedError("mse_loss: weight is not supported; multiply the "
                                  "reduction='none' losses by the weights instead")
    return _diff_loss(MSELoss, input, target, red)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error: l_n = |x_n - t_n|."""
    return _diff_loss(L1Loss, input, target,
                      _reduction("l1_loss", reduction, size_average, reduce))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: quadratic for |x - t| < delta, linear (slope delta) beyond."""
    red = _reduction("huber_loss", reduction)
    if not delta > 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    if weight is not None:
        raise NotImplementedError("huber_loss: weight is not supported; multiply the "
                                  "reduction='none' losses by the weights instead")
    return _diff_loss(HuberLoss, input, target, red, float(delta))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    """Smooth L1: quadratic (d^2 / 2 beta) for |d| < beta, |d| - beta/2 beyond.
    ``beta=0`` is the L1 loss.  huber_loss(delta) = delta * smooth_l1_loss(beta=delta)."""
    red = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return _diff_loss(L1Loss, input, target, red)
    return _diff_loss(SmoothL1Loss, input, target, red, float(beta))


# ============================================================================ binary losses

class BinaryCrossEntropy(Function):
    """l = -w [t ln x + (1 - t) ln(1 - x)]  (each log clamped to >= -100, as PyTorch).
    dl/dx = w (x - t) / max(x (1 - x), 1e-12);   dl/dt = w ln((1 - x) / x)."""

    save_inputs = (0, 1)

    def forward(self, x, t, weight=None, reduction=_MEAN):
        xp = xp_of(x)
        if x.dtype != t.dtype:
            x, t = promote(x, t)
        with np.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log1p(-x), -100)
        l = (t - 1) * l1x - t * lx
        if weight is not None:
            l = l * weight
        self.x, self.t, self.w, self.red = x, t, weight, reduction
        return _reduce(l, reduction)

    def backward(self, g):
        x, t, w = self.x, self.t, self.w
        xp = xp_of(x)
        c = _scale(g, self.red, x.size)
        if w is not None:
            c = c * w
        nx, nt = self.needs_input_grad
        gx = gt = None
        if nx:
            gx = c * (x - t) / xp.maximum(x * (1 - x), x.dtype.type(1e-12))
        if nt:
            with np.errstate(divide="ignore"):
                gt = c * (xp.log1p(-x) - xp.log(x))
            gt = unbroadcast(gt, t.shape)
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-w [t ln x + (1 - t) ln(1 - x)] for probabilities x in [0, 1] (e.g. sigmoid outputs).
    For raw scores use binary_cross_entropy_with_logits: it is more stable."""
    red = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    _float_input("binary_cross_entropy", input)
    target = _as_tensor(target, input, "binary_cross_entropy", "target")
    x = input._data
    if target._data.shape != x.shape:
        raise ValueError(
            f"binary_cross_entropy: the target's shape {tuple(target.shape)} must equal the "
            f"input's shape {tuple(x.shape)}; reshape one of them (e.g. target.view_as(input) "
            "or input.squeeze(-1))")
    if x.size:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise RuntimeError(
                f"binary_cross_entropy: all elements of input should be between 0 and 1, but "
                f"they range from {lo:g} to {hi:g}; apply sigmoid first, or better use "
                "binary_cross_entropy_with_logits on the raw scores")
    w = _weight_array("binary_cross_entropy", weight, x.dtype)
    if w is not None:
        _broadcast_to("binary_cross_entropy", w, x.shape, "weight")
    return BinaryCrossEntropy.apply(input, target, weight=w, reduction=red)


def _weight_array(op, weight, dt):
    if weight is None:
        return None
    w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
    if isinstance(weight, Tensor) and weight.requires_grad:
        warnings.warn(f"{op}: no gradient is computed for weight (as in PyTorch)", UserWarning,
                      stacklevel=3)
    return w if w.dtype == dt else w.astype(dt)


def _broadcast_to(op, w, shape, what):
    try:
        if np.broadcast_shapes(w.shape, shape) == tuple(shape):
            return
    except ValueError:
        pass
    raise RuntimeError(f"{op}: {what} of shape {tuple(w.shape)} can't be broadcast to the "
                       f"input's shape {tuple(shape)}")


class BCEWithLogits(Function):
    """Binary cross-entropy on scores x (probabilities sigma(x)), stable for large |x|:
        l = w [(1 - t) x + (1 + (p - 1) t) softplus(-x)],
        softplus(-x) = -ln sigma(x) = max(-x, 0) + ln(1 + e^-|x|)   (p: pos_weight, 1 if none)
    dl/dx = w [(1 + (p - 1) t) sigma(x) - p t]   (= w (sigma(x) - t) without pos_weight);
    dl/dt = w [(p - 1) softplus(-x) - x]."""

    save_inputs = (0, 1)

    def forward(self, x, t, weight=None, pos_weight=None, reduction=_MEAN):
        xp = xp_of(x)
        if x.dtype != t.dtype:
            x, t = promote(x, t)
        sp = xp.log1p(xp.exp(-xp.abs(x)))
        sp += xp.maximum(-x, 0)
        if pos_weight is None:
            l = (1 - t) * x + sp
        else:
            l = (1 - t) * x + ((pos_weight - 1) * t + 1) * sp
        if weight is not None:
            l = l * weight
        self.x, self.t, self.sp, self.w, self.pw, self.red = x, t, sp, weight, pos_weight, \
            reduction
        self.n = l.size
        return _reduce(l, reduction)

    def backward(self, g):
        x, t, w, p = self.x, self.t, self.w, self.pw
        c = _scale(g, self.red, self.n)
        if w is not None:
            c = c * w
        nx, nt = self.needs_input_grad
        gx = gt = None
        if nx:
            s = sigmoid_array(x)
            if p is None:
                gx = c * (s - t)
            else:
                pt = p * t
                gx = c * ((pt + 1 - t) * s - pt)
            gx = unbroadcast(gx, x.shape)
        if nt:
            gt = c * (-x if p is None else (p - 1) * self.sp - x)
            gt = unbroadcast(gt, t.shape)
        return gx, gt


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(input) and target, computed from the raw scores in a
    way that never overflows.  ``pos_weight`` (broadcast over the last dim, one per class)
    multiplies the loss of positive targets: > 1 favours recall."""
    op = "binary_cross_entropy_with_logits"
    red = _reduction(op, reduction, size_average, reduce)
    _float_input(op, input)
    target = _as_tensor(target, input, op, "target")
    x = input._data
    if target._data.shape != x.shape:
        raise ValueError(f"{op}: the target's shape {tuple(target.shape)} must equal the "
                         f"input's shape {tuple(x.shape)}; reshape one of them (e.g. "
                         "target.view_as(input) or input.squeeze(-1))")
    w = _weight_array(op, weight, x.dtype)
    if w is not None:
        _broadcast_to(op, w, x.shape, "weight")
    pw = _weight_array(op, pos_weight, x.dtype)
    if pw is not None:
        _broadcast_to(op, pw, x.shape, "pos_weight")
    return BCEWithLogits.apply(input, target, weight=w, pos_weight=pw, reduction=red)


# ============================================================================ class losses

def _rows(x):
    """Scores (N, C, d1, ...) as rows (N*d1*..., C); (C,) as (1, C); (N, C) unchanged."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, -1)
    return xp_of(x).moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(g2, shape):
    """The inverse of ``_rows``: gradient rows back to the input's layout."""
    if len(shape) == 2:
        return g2
    if len(shape) == 1:
        return g2.reshape(shape)
    g = g2.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return xp_of(g).moveaxis(g, -1, 1)


def _class_target(op, x, target, ignore_index):
    """Check integer class targets for scores ``x`` (N, C, d1, ...) or (C,).

    Returns (flat targets with ignored entries replaced by 0, mask of the counted targets
    or None when all count, target shape)."""
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if type(t) is np.ndarray and xp_of(x) is not np:
        t = xp_of(x).asarray(t)
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            f"{op}: the target must hold class indices as an integer (int64) tensor, got "
            f"{fmt(t)}; convert it with target.long()" + (
                "" if op == "nll_loss" else
                f", or pass class probabilities as a float tensor of the input's shape "
                f"{tuple(x.shape)}"))
    xs = x.shape
    if x.ndim == 0:
        raise RuntimeError(f"{op}: the input must have a class dimension, got a 0-d tensor")
    expected = () if x.ndim == 1 else (xs[0],) + tuple(xs[2:])
    if t.shape != expected:
        raise ValueError(
            f"{op}: the target's shape {tuple(t.shape)} does not match the input's shape "
            f"{tuple(xs)}: scores of shape (N, C) take targets of shape (N,) (and (N, C, d1, "
            f"...) take (N, d1, ...)), so expected a target of shape {expected}")
    C = xs[0] if x.ndim == 1 else xs[1]
    tshape = t.shape
    t = t.reshape(-1)
    mask = None
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= C:
            bad = ((t < 0) | (t >= C)) & (t != ignore_index)
            if bad.any():
                v = int(t[bad][0])
                fix = (f"check the labels (1-based labels need target - 1) or give the "
                       f"model {v + 1} outputs") if v >= C else \
                    "pass ignore_index=<that value> to skip such targets (e.g. padding)"
                raise IndexOutOfRange(
                    f"{op}: target {v} is out of bounds: there are {C} classes, so class "
                    f"indices must lie in [0, {C}) (or equal ignore_index={ignore_index}); "
                    + fix)
        if lo <= ignore_index <= hi:
            mask = t != ignore_index
            t = xp_of(t).where(mask, t, 0)
    return t, mask, tshape


def _class_weight(op, weight, x, C):
    w = _weight_array(op, weight, x.dtype)
    if w is not None and w.shape != (C,):
        raise RuntimeError(f"{op}: weight must have one entry per class, shape ({C},), got "
                           f"{fmt(w)} for input {fmt(x)}")
    return w


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities x (rows n, classes c), targets t_n:
        l_n = -w_{t_n} x[n, t_n]   (0 where t_n = ignore_index);
        'mean': L = sum_n l_n / sum_n w_{t_n}   (over the counted n).
    dL/dx[n, c] = -w_{t_n} dL/dl_n  for c = t_n, 0 for the other classes."""

    def forward(self, x, target=None, mask=None, weight=None, reduction=_MEAN, tshape=None):
        xp = xp_of(x)
        x2 = _rows(x)
        M = x2.shape[0]
        ar = xp.arange(M)
        picked = x2[ar, target]
        if weight is not None:
            wt = weight[target]
            if mask is not None:
                wt = wt * mask
        elif mask is not None:
            wt = mask.astype(x.dtype)
        else:
            wt = None
        l = -picked if wt is None else -(picked * wt)
        self.target, self.wt, self.red, self.shape, self.ar = target, wt, reduction, x.shape, ar
        self.mask = mask
        if reduction == _NONE:
            return l.reshape(tshape)
        s = l.sum()
        if reduction == _SUM:
            return xp.asarray(s)
        self.denom = denom = M if wt is None else wt.sum()
        return xp.asarray(_div(s, denom), dtype=x.dtype)

    def backward(self, g):
        xp = xp_of(g)
        shape, wt = self.shape, self.wt
        if self.red == _NONE:
            c = -g.reshape(-1)
        elif self.red == _SUM:
            c = -g
        else:
            c = _div(-g, self.denom)
            if wt is not None:
                c = _mul(c, wt)
            if self.mask is not None and not self.denom:
                # every target ignored: the loss is nan (0/0) but, as in PyTorch, the
                # ignored rows get gradient 0
                c = xp.where(self.mask, c, 0)
            wt = None
        if wt is not None:
            c = c * wt
        C = shape[0] if len(shape) == 1 else shape[1]
        gx2 = xp.zeros((self.ar.shape[0], C), dtype=g.dtype)
        gx2[self.ar, self.target] = c
        return _unrows(gx2, shape)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood: -w_t x[n, t_n] for log-probabilities ``input`` (N, C) (or
    (N, C, d1, ...) with target (N, d1, ...), or (C,) with a 0-d target).  Targets equal to
    ``ignore_index`` count for nothing; 'mean' divides by the summed weight of the rest."""
    red = _reduction("nll_loss", reduction, size_average, reduce)
    x = input._data
    t, mask, tshape = _class_target("nll_loss", x, target, ignore_index)
    w = _class_weight("nll_loss", weight, x, x.shape[0] if x.ndim == 1 else x.shape[1])
    return NLLLoss.apply(input, target=t, mask=mask, weight=w, reduction=red, tshape=tshape)


class CrossEntropy(Function):
    """Cross-entropy of scores x (rows n, C classes) with class targets t_n, fused:
        p = softmax(x_n),  ln p_c = x_c - m - ln sum_j e^(x_j - m);
        l_n = -(1 - eps) w_{t_n} ln p_{t_n} - (eps / C) sum_c w_c ln p_c    (eps: label_smoothing)
        (0 where t_n = ignore_index; 'mean' divides by sum_n w_{t_n} over the counted n).
    dl_n/dx = (1 - eps) w_{t_n} (p - onehot(t_n)) + (eps / C) (W p - w),  W = sum_c w_c;
    without weights and smoothing simply  dl_n/dx = p - onehot(t_n)."""

    def forward(self, x, target=None, mask=None, weight=None, reduction=_MEAN,
                label_smoothing=0.0, tshape=None):
        xp = xp_of(x)
        x2 = _rows(x)
        M, C = x2.shape
        z = x2 - x2.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s).reshape(-1)
        ar = xp.arange(M)
        l = lse - z[ar, target]                         # -ln p_t
        w, eps = weight, label_smoothing
        if w is not None:
            u = w[target]
            if mask is not None:
                u = u * mask
            l *= u
        elif mask is not None:
            u = mask
            l *= mask
        else:
            u = None
        if eps:
            # -sum_c w_c ln p_c = W lse - sum_c w_c z_c
            smooth = C * lse - z.sum(axis=1) if w is None else w.sum() * lse - z @ w
            if mask is not None:
                smooth *= mask
            l = (1 - eps) * l + (eps / C) * smooth
        self.e, self.s, self.target, self.u, self.mask, self.w, self.ar = \
            e, s, target, u, mask, w, ar
        self.red, self.eps, self.shape = reduction, eps, x.shape
        if reduction == _NONE:
            return l.reshape(tshape)
        total = l.sum()
        if reduction == _SUM:
            return xp.asarray(total)
        if u is None:
            self.denom = denom = M
        else:
            self.denom = denom = u.sum() if w is not None else int(mask.sum())
        return xp.asarray(_div(total, denom), dtype=x.dtype)

    def backward(self, g):
        p = self.e / self.s                             # softmax, from forward's e^(x - m)
        t, u, ar, eps = self.target, self.u, self.ar, self.eps
        if self.red == _NONE:
            c = g.reshape(-1)
        elif self.red == _SUM:
            c = g
        else:
            c = _div(g, self.denom)
            if self.mask is not None and not self.denom:
                # every target ignored: the loss is nan (0/0) but, as in PyTorch, the
                # ignored rows get gradient 0
                c = xp_of(g).where(self.mask, c, 0)
        if not eps:
            cu = c if u is None else c * u              # per-row factor (1-d or 0-d)
            gx = p
            gx *= cu[:, None] if cu.ndim else cu
            gx[ar, t] -= cu
            return _unrows(gx, self.shape)
        M, C = p.shape
        w, mask = self.w, self.mask
        a = (1 - eps) * (c if u is None else c * u)     # weight of (p - onehot)
        r = c if mask is None else c * mask             # row is counted
        W = C if w is None else w.sum()
        b = (eps / C) * r
        coef = a + b * W
        gx = p * (coef[:, None] if coef.ndim else coef)
        gx[ar, t] -= a
        if w is None:
            gx -= b[:, None] if b.ndim else b
        else:
            gx -= (b[:, None] if b.ndim else b) * w
        return _unrows(gx, self.shape)


class CrossEntropyProbs(Function):
    """Cross-entropy of scores x with class probabilities T (same shape), fused:
        T' = (1 - eps) T + eps / C;   l_n = -sum_c w_c T'_c ln p_c,  p = softmax(x_n);
        'mean' divides by the number of rows N.
    dl_n/dx = p sum_c w_c T'_c - w T';   dl_n/dT = -(1 - eps) w ln p."""

    save_inputs = (1,)          # w T' may be the target's own array
    def forward(self, x, t, weight=None, reduction=_MEAN, label_smoothing=0.0):
        xp = xp_of(x)
        if t.dtype != x.dtype:
            t = t.astype(x.dtype)
        x2, t2 = _rows(x), _rows(t)
        M, C = x2.shape
        z = x2 - x2.max(axis=1, keepdims=True)
        logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
        eps = label_smoothing
        tt = t2 * (1 - eps) + eps / C if eps else t2
        wt = tt if weight is None else tt * weight
        l = -(logp * wt).sum(axis=1)
        self.logp, self.wt, self.w, self.eps, self.red = logp, wt, weight, eps, reduction
        self.shape, self.M = x.shape, M
        if reduction == _NONE:
            return l.reshape(() if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:]))
        if reduction == _SUM:
            return xp.asarray(l.sum())
        if M == 0:
            return xp.asarray(xp.nan, dtype=x.dtype)
        return xp.asarray(l.sum() / M, dtype=x.dtype)

    def backward(self, g):
        xp = xp_of(g)
        logp, wt = self.logp, self.wt
        if self.red == _NONE:
            c = g.reshape(-1, 1)
        elif self.red == _SUM:
            c = g
        else:
            c = g / self.M
        nx, nt = self.needs_input_grad
        gx = gt = None
        if nx:
            p = xp.exp(logp)
            gx = _unrows(c * (p * wt.sum(axis=1, keepdims=True) - wt), self.shape)
        if nt:
            gl = -logp if self.w is None else -(logp * self.w)
            gt = _unrows(c * (1 - self.eps) * gl if self.eps else c * gl, self.shape)
        return gx, gt


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of raw scores (logits) ``input`` and ``target``: one fused
    log_softmax + nll_loss with the short backward (softmax - onehot) * g / N.

    ``target``: class indices (N,) for input (N, C) (or (N, d1, ...) for (N, C, d1, ...), or
    0-d for (C,)), or class probabilities of the input's shape (float).
    ``weight``: one weight per class.  ``ignore_index``: targets with this value count for
    nothing.  ``label_smoothing`` eps in [0, 1]: the target becomes (1 - eps) onehot + eps/C.
    """
    op = "cross_entropy"
    red = _reduction(op, reduction, size_average, reduce)
    x = input._data
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: the input must hold floating point scores, got {fmt(x)}; "
                           "convert it with .float()")
    C = x.shape[0] if x.ndim == 1 else (x.shape[1] if x.ndim > 1 else 0)
    t_arr = target._data if isinstance(target, Tensor) else None
    if t_arr is not None and t_arr.shape == x.shape and x.ndim >= 1 and t_arr.dtype.kind != "b":
        if t_arr.dtype.kind != "f":
            raise RuntimeError(
                f"{op}: a target of the input's shape {tuple(x.shape)} holds class "
                f"probabilities and must be floating point, got {fmt(t_arr)}; for class "
                "indices give a target of shape (N,)")
        if ignore_index >= 0:
            raise RuntimeError(f"{op}: ignore_index is not supported for class-probability "
                               "targets")
        w = _class_weight(op, weight, x, C)
        return CrossEntropyProbs.apply(input, target, weight=w, reduction=red,
                                       label_smoothing=float(label_smoothing))
    t, mask, tshape = _class_target(op, x, target, ignore_index)
    w = _class_weight(op, weight, x, C)
    return CrossEntropy.apply(input, target=t, mask=mask, weight=w, reduction=red,
                              label_smoothing=float(label_smoothing), tshape=tshape)


# ============================================================================ KL divergence

class KLDiv(Function):
    """Kullback-Leibler divergence with log-probabilities x and target t:
        l = t (ln t - x)   (0 where t = 0);   log_target: l = e^t (t - x).
    dl/dx = -t  (log_target: -e^t);   dl/dt = ln t + 1 - x  (log_target: e^t (t - x + 1))."""

    save_inputs = (0, 1)

    def forward(self, x, t, reduction=_MEAN, log_target=False):
        xp = xp_of(x)
        if x.dtype != t.dtype:
            x, t = promote(x, t)
        try:
            if log_target:
                l = xp.exp(t) * (t - x)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    l = xp.where(t == 0, 0, t * xp.log(t)).astype(x.dtype, copy=False) - t * x
        except ValueError:
            raise broadcast_error("kl_div", x, t) from None
        self.x, self.t, self.red, self.log_target = x, t, reduction, log_target
        self.n = l.size
        self.batch = x.shape[0] if x.ndim else 1
        if reduction == _BATCHMEAN:
            return xp.asarray(l.sum() / self.batch, dtype=l.dtype)
        return _reduce(l, reduction)

    def backward(self, g):
        x, t = self.x, self.t
        xp = xp_of(g)
        if self.red == _BATCHMEAN:
            c = g / self.batch
        else:
            c = _scale(g, self.red, self.n)
        nx, nt = self.needs_input_grad
        gx = gt = None
        if self.log_target:
            et = xp.exp(t)
            if nx:
                gx = -c * et
            if nt:
                gt = c * et * (t - x + 1)
        else:
            if nx:
                gx = -c * t
            if nt:
                with np.errstate(divide="ignore", invalid="ignore"):
                    gt = xp.where(t == 0, 0, c * (xp.log(t) + 1 - x)).astype(t.dtype, copy=False)
        return (None if gx is None else unbroadcast(gx, x.shape),
                None if gt is None else unbroadcast(gt, t.shape))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || model) with ``input`` = log-probabilities of the model (as PyTorch).
    Use reduction='batchmean' for the mathematical KL divergence per sample."""
    if reduction == "batchmean" and size_average is None and reduce is None:
        red = _BATCHMEAN
    else:
        red = _reduction("kl_div", reduction, size_average, reduce)
        if red == _MEAN:
            warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch "
                          "size and the support size; 'batchmean' divides only by the batch "
                          "size and matches the math definition of KL divergence.",
                          UserWarning, stacklevel=2)
    target = _as_tensor(target, input, "kl_div", "target")
    return KLDiv.apply(input, target, reduction=red, log_target=bool(log_target))
