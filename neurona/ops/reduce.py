"""Reductions: sum, mean, var, std, max/min (with indices), amax/amin, argmax/argmin,
logsumexp, prod, all/any, cumsum, norm.

Notation: x is the input, z the result, and a reduction runs over the dims D (``dim``;
all dims when ``dim`` is None).  For an element x_i, z_j is the result it contributes to.
The backward of a reduction "un-reduces": dL/dz has the reduced shape and is broadcast
back over the dims D before the local derivative is applied, e.g. for the sum
dL/dx_i = dL/dz_j for every i in the group j.

``keepdim=True`` keeps the reduced dims with size 1, so the result broadcasts against x.
"""
from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from .. import dtypes
from ..autograd.function import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import norm_dim, norm_dims, wrap, fmt

__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "max", "min", "amax", "amin",
           "argmax", "argmin", "logsumexp", "prod", "all", "any", "cumsum", "norm"]

_bsum, _bmax, _bmin, _ball, _bany = builtins.sum, builtins.max, builtins.min, builtins.all, \
    builtins.any
_int64 = np.dtype(np.int64)
_f16 = np.dtype(np.float16)
_generic = np.generic


def _nd(out):
    """NumPy reductions give scalars for 0-d results; tensors hold 0-d arrays instead."""
    return np.asarray(out) if isinstance(out, _generic) else out


# ----------------------------------------------------------------------------- dims

def _axes(dim, nd, op):
    """``dim`` (None, int, or tuple/list) -> a sorted tuple of non-negative dims, or None
    meaning "all dims".  Out-of-range dims raise an IndexError naming ``op`` and the range."""
    if dim is None:
        return None
    if type(dim) is int:
        if -nd <= dim < nd:
            return (dim + nd if dim < 0 else dim,)
        norm_dim(dim, nd, op)          # raises unless a 0-d tensor's dim 0 / -1
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None                # torch: an empty dim list reduces everything
        if nd == 0:
            for d in dim:
                norm_dim(d, 0, op)
            return None
        return norm_dims(dim, nd, op)
    d = norm_dim(dim, nd, op)          # numpy ints, 0-d tensors ... (TypeError otherwise)
    return (d,) if nd else None


def _kshape(shape, axes):
    """The shape of a keepdim=True result: ``shape`` with the dims in ``axes`` set to 1."""
    if axes is None:
        return (1,) * len(shape)
    s = list(shape)
    for d in axes:
        s[d] = 1
    return tuple(s)


def _count(shape, axes):
    """How many elements each result element summarizes."""
    if axes is None:
        return math.prod(shape)
    return math.prod([shape[d] for d in axes])


_SMALL = 1 << 16


def _unreduce(g, shape, axes, keepdim):
    """dL/dz (reduced shape) broadcast back to the input's shape.

    Small results are filled into a new array (cheaper than ``broadcast_to``'s Python-level
    set-up); large ones are a read-only broadcast view (no memory traffic)."""
    if not keepdim and axes is not None:
        g = g.reshape(_kshape(shape, axes))
    xp = xp_of(g)
    if math.prod(shape) <= _SMALL:
        out = xp.empty(shape, g.dtype)
        out[...] = g
        return out
    return xp.broadcast_to(g, shape)


def _keep(a, shape, axes, keepdim):
    """A reduced array with its reduced dims as size 1 (to broadcast against the input)."""
    if keepdim or axes is None:       # (a 0-d result broadcasts as it is)
        return a
    return a.reshape(_kshape(shape, axes))


def _float_only(a, op):
    if a.dtype.kind != "f":
        raise RuntimeError(f"{op}(): input dtype must be floating point, got "
                           f"{dtypes.from_numpy_dtype(a.dtype)}; convert first, e.g. x.float()."
                           f"{op}(...)")


def _dtype_arg(dtype):
    return None if dtype is None else dtypes.to_dtype(dtype).np


# ----------------------------------------------------------------------------- sum / mean

class Sum(Function):
    """z_j = sum_{i in group j} x_i.    dL/dx_i = dL/dz_j  (broadcast back over the summed dims).

    Integer and bool inputs sum to int64 (as PyTorch); ``dtype=`` converts x before summing.
    """

    def forward(self, x, dim=None, keepdim=False, dtype=None):
        if dtype is None and x.dtype.kind in "biu":
            dtype = _int64
        self.shape, self.keepdim, self.in_dtype = x.shape, keepdim, x.dtype
        if dim is None:
            self.axes = None
            if not keepdim:       # into a 0-d array: cheaper than NumPy's scalar result
                return x.sum(dtype=dtype, out=xp_of(x).empty((), dtype or x.dtype))
            return x.sum(keepdims=True, dtype=dtype)
        axes = self.axes = _axes(dim, x.ndim, "sum")
        out = x.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        return out if out.ndim else _nd(out)

    def backward(self, g):
        if g.dtype != self.in_dtype:
            g = g.astype(self.in_dtype)
        return _unreduce(g, self.shape, self.axes, self.keepdim)


class Mean(Function):
    """z_j = (1/N) sum_{i in group j} x_i  (N elements per group).
    dL/dx_i = dL/dz_j / N."""

    def forward(self, x, dim=None, keepdim=False):
        axes = None if dim is None else _axes(dim, x.ndim, "mean")
        n = _count(x.shape, axes)
        self.shape, self.axes, self.keepdim, self.n = x.shape, axes, keepdim, n
        if x.dtype == _f16:
            out = x.mean(axis=axes, keepdims=keepdim)     # accumulates in float32
        elif n:
            if axes is None and not keepdim:
                out = x.sum(out=xp_of(x).empty((), x.dtype))
            else:
                out = x.sum(axis=axes, keepdims=keepdim)
            if not isinstance(out, _generic):
                out /= n                                   # in place: no second array
            else:
                out = out / n
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = x.sum(axis=axes, keepdims=keepdim) / x.dtype.type(0)
        return out if out.ndim else _nd(out)

    def backward(self, g):
        n = self.n
        return _unreduce(g / n if n else g, self.shape, self.axes, self.keepdim)


class Var(Function):
    """Variance with Bessel-style correction c (c = 1: the unbiased estimate):
    m_j = (1/N) sum_i x_i,  z_j = sum_i (x_i - m_j)^2 / (N - c).
    dL/dx_i = dL/dz_j * 2 (x_i - m_j) / (N - c).

    With ``sqrt=True`` it is the standard deviation s_j = sqrt(z_j):
    dL/dx_i = dL/ds_j * (x_i - m_j) / ((N - c) s_j)   (0 where s_j = 0, as PyTorch).
    """

    def forward(self, x, dim=None, correction=1, keepdim=False, sqrt=False, op="var"):
        axes = None if dim is None else _axes(dim, x.ndim, op)
        n = _count(x.shape, axes)
        denom = _bmax(0, n - correction)
        if n:
            m = x.sum(axis=axes, keepdims=True)
            m /= n
            d = x - m
        else:
            d = x
        sq = d * d
        out = sq.sum(axis=axes, keepdims=keepdim)
        if not denom:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = out / x.dtype.type(0)
        elif out.ndim:
            out /= denom
        else:
            out = out / denom
        if sqrt:
            out = xp_of(x).sqrt(out)
        self.d, self.denom, self.shape, self.axes, self.keepdim = d, denom, x.shape, axes, keepdim
        self.sqrt = sqrt
        if sqrt:
            self.s = out
        return out if out.ndim else _nd(out)

    def backward(self, g):
        if self.sqrt:
            s = self.s
            with np.errstate(invalid="ignore", divide="ignore"):
                g = xp_of(g).where(s == 0, g.dtype.type(0), g / s)
        else:
            g = g * g.dtype.type(2)
        g = _keep(g, self.shape, self.axes, self.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return g * self.d / g.dtype.type(self.denom)


# ----------------------------------------------------------------------------- max / min

def _return_type(name):
    base = collections.namedtuple(name, ("values", "indices"))

    def __repr__(self):
        return f"neurona.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                                "__module__": "neurona.return_types",
                                "__doc__": f"The result of {name}(dim): a named tuple "
                                           "(values, indices)."})


class return_types:
    """Named tuples returned by reductions with indices (as ``torch.return_types``)."""
    max = _return_type("max")
    min = _return_type("min")


class MaxAll(Function):
    """z = max_i x_i (``largest=False``: min).  With ties the gradient is shared evenly:
    dL/dx_i = dL/dz * [x_i == z] / #{k : x_k == z}   (as PyTorch's max() without dim)."""
    save_inputs = (0,)
    save_output = True

    def forward(self, x, largest=True):
        if x.size == 0:
            op = "max" if largest else "min"
            raise RuntimeError(f"{op}(): the input has no elements (shape {tuple(x.shape)}); "
                               f"specify the reduction dim with the 'dim' argument")
        self.x = x
        out = xp_of(x).empty((), x.dtype)
        self.z = x.max(out=out) if largest else x.min(out=out)
        return self.z

    def backward(self, g):
        x, z = self.x, self.z
        xp = xp_of(x)
        mask = x == z
        count = mask.sum(dtype=g.dtype)
        if not count:                  # the maximum is NaN: it comes from the NaN inputs
            mask = xp.isnan(x)
            count = mask.sum(dtype=g.dtype)
        return xp.where(mask, g / count, g.dtype.type(0))


class MaxDim(Function):
    """values_j = max_i x_ij along ``dim`` (``largest=False``: min), indices_j = the argmax
    (the first one on ties).  The gradient goes to the chosen element only:
    dL/dx_ij = dL/dvalues_j * [i == indices_j]."""

    def forward(self, x, dim=0, keepdim=False, largest=True, idx=None):
        self.idx, self.dim, self.keepdim, self.shape = idx, dim, keepdim, x.shape
        if x.ndim == 0:
            return x.copy() if not isinstance(x, _generic) else np.asarray(x)
        out = x.max(axis=dim, keepdims=keepdim) if largest else x.min(axis=dim, keepdims=keepdim)
        return out if out.ndim else _nd(out)

    def backward(self, g):
        shape, d = self.shape, self.dim
        if not shape:
            return g
        xp = xp_of(g)
        if not self.keepdim:
            g = xp.expand_dims(g, d)
        n = shape[d]
        pos = xp.arange(n).reshape((n,) + (1,) * (len(shape) - d - 1))
        return xp.where(pos == self.idx, g, g.dtype.type(0))


def _max_dim(input, dim, keepdim, largest, op):
    a = input._data
    nd = a.ndim
    d = norm_dim(dim, nd, op)
    xp = xp_of(a)
    if nd == 0:
        idx = xp.zeros((), dtype=_int64)
    else:
        if a.shape[d] == 0:
            raise IndexError(f"{op}(): expected reduction dim {dim} to have non-zero size, but "
                             f"the input has shape {tuple(a.shape)}")
        idx = (a.argmax if largest else a.argmin)(axis=d, keepdims=True)
        if idx.dtype != _int64:
            idx = idx.astype(_int64)
    values = MaxDim.apply(input, dim=d, keepdim=keepdim, largest=largest, idx=idx)
    if nd and not keepdim:
        idx = _nd(idx.squeeze(d))
    rt = return_types.max if largest else return_types.min
    return rt(values, wrap(idx))


def max(input, dim=None, keepdim=False, *, other=None):
    """``max(x)``: the largest element.  ``max(x, dim, keepdim=False)``: a named tuple
    ``(values, indices)`` along ``dim``.  ``max(x, other_tensor)``: elementwise maximum."""
    if dim is None:
        if other is not None:
            from .pointwise import maximum
            return maximum(input, other)
        return MaxAll.apply(input, largest=True)
    if isinstance(dim, Tensor):
        from .pointwise import maximum
        return maximum(input, dim)
    return _max_dim(input, dim, keepdim, True, "max")


def min(input, dim=None, keepdim=False, *, other=None):
    """``min(x)``, ``min(x, dim)`` -> (values, indices), or elementwise ``min(x, other)``."""
    if dim is None:
        if other is not None:
            from .pointwise import minimum
            return minimum(input, other)
        return MaxAll.apply(input, largest=False)
    if isinstance(dim, Tensor):
        from .pointwise import minimum
        return minimum(input, dim)
    return _max_dim(input, dim, keepdim, False, "min")


class AMax(Function):
    """z_j = max_{i in group j} x_i (``largest=False``: min), over one or several dims.
    Ties share the gradient evenly:  dL/dx_i = dL/dz_j * [x_i == z_j] / #{k : x_k == z_j}."""
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dim=None, keepdim=False, largest=True):
        op = "amax" if largest else "amin"
        axes = None if dim is None else _axes(dim, x.ndim, op)
        self.x, self.shape, self.axes, self.keepdim = x, x.shape, axes, keepdim
        try:
            out = x.max(axis=axes, keepdims=keepdim) if largest else \
                x.min(axis=axes, keepdims=keepdim)
        except ValueError:
            bad = [d for d in (axes or range(x.ndim)) if x.shape[d] == 0]
            raise IndexError(f"{op}(): expected reduction dim {bad[0] if bad else dim} to have "
                             f"non-zero size, but the input has shape {tuple(x.shape)}") from None
        self.z = out if out.ndim else _nd(out)
        return self.z

    def backward(self, g):
        x = self.x
        xp = xp_of(x)
        zk = _keep(self.z, self.shape, self.axes, self.keepdim)
        gk = _keep(g, self.shape, self.axes, self.keepdim)
        mask = x == zk
        count = mask.sum(axis=self.axes, keepdims=True, dtype=g.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.where(mask, gk / count, g.dtype.type(0))


def amax(input, dim=(), keepdim=False):
    """The largest elements over ``dim`` (int or tuple; all dims by default); ties share
    the gradient evenly."""
    return AMax.apply(input, dim=dim, keepdim=keepdim, largest=True)


def amin(input, dim=(), keepdim=False):
    """The smallest elements over ``dim`` (int or tuple; all dims by default)."""
    return AMax.apply(input, dim=dim, keepdim=keepdim, largest=False)


def _arg(input, dim, keepdim, largest):
    op = "argmax" if largest else "argmin"
    a = input._data
    if a.size == 0 and (dim is None or a.ndim and a.shape[norm_dim(dim, a.ndim, op)] == 0):
        raise IndexError(f"{op}(): expected reduction dim to have non-zero size, but the input "
                         f"has shape {tuple(a.shape)}; pass a dim whose size is not 0")
    f = a.argmax if largest else a.argmin
    if dim is None:
        out = f()
        if keepdim:
            out = np.asarray(out).reshape((1,) * a.ndim) if isinstance(out, _generic) else \
                out.reshape((1,) * a.ndim)
    else:
        d = norm_dim(dim, a.ndim, op)
        out = f(axis=d, keepdims=keepdim) if a.ndim else f()
    out = _nd(out)
    if out.dtype != _int64:
        out = out.astype(_int64)
    return wrap(out)


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when ``dim`` is None); int64,
    no gradient.  Ties give the first index."""
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    return _arg(input, dim, keepdim, False)


# ----------------------------------------------------------------------------- logsumexp, prod

class LogSumExp(Function):
    """z_j = log sum_i e^(x_i), computed stably as m_j + log sum_i e^(x_i - m_j) with
    m_j = max_i x_i.    dL/dx_i = dL/dz_j * e^(x_i - z_j) = dL/dz_j * softmax(x)_i."""
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dim=None, keepdim=False):
        xp = xp_of(x)
        if x.dtype.kind != "f":
            x = x.astype(dtypes.get_default_dtype().np)
        axes = None if dim is None else _axes(dim, x.ndim, "logsumexp")
        self.x, self.shape, self.axes, self.keepdim = x, x.shape, axes, keepdim
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if x.size and x.ndim:
                m = x.max(axis=axes, keepdims=True)
                if not xp.isfinite(m).all():                 # all -inf (or +inf) groups
                    m = xp.where(xp.isinf(m), x.dtype.type(0), m)
                e = x - m
                xp.exp(e, out=e)                             # in place: one temporary
                zk = e.sum(axis=axes, keepdims=True)
                xp.log(zk, out=zk)
                zk += m
            elif x.ndim == 0:                                # 0-d: log e^x = x
                zk = _nd(x).copy()
            else:
                zk = xp.log(xp.exp(x).sum(axis=axes, keepdims=True))
        self.zk = zk
        out = zk if keepdim else (zk.reshape(()) if axes is None else zk.squeeze(axes))
        return out if out.ndim else _nd(out)

    def backward(self, g):
        gk = _keep(g, self.shape, self.axes, self.keepdim)
        with np.errstate(invalid="ignore", over="ignore"):
            return gk * xp_of(g).exp(self.x - self.zk)


def logsumexp(input, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim`` (int or tuple; all dims when None), without overflow."""
    return LogSumExp.apply(input, dim=dim, keepdim=keepdim)


class Prod(Function):
    """z_j = prod_{i in group j} x_i.

    dL/dx_i = dL/dz_j * prod_{k != i} x_k, computed without dividing by zero:
    no zero in the group:  prod_{k != i} x_k = z_j / x_i;
    one zero (at i0):      it is prod_{k != i0} x_k for i = i0 and 0 elsewhere;
    two or more zeros:     it is 0 everywhere.
    """
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dim=None, keepdim=False, dtype=None):
        axes = None if dim is None else _axes(dim, x.ndim, "prod")
        if dtype is None and x.dtype.kind in "biu":
            dtype = _int64
        self.x, self.shape, self.axes, self.keepdim = x, x.shape, axes, keepdim
        out = x.prod(axis=axes, keepdims=keepdim, dtype=dtype)
        self.z = out if out.ndim else _nd(out)
        return self.z

    def backward(self, g):
        x = self.x
        xp = xp_of(x)
        shape, axes, keepdim = self.shape, self.axes, self.keepdim
        gk = _keep(g, shape, axes, keepdim)
        if gk.dtype != x.dtype:
            gk = gk.astype(x.dtype)
        zero = x == 0
        if not zero.any():
            return gk * (_keep(self.z, shape, axes, keepdim).astype(x.dtype, copy=False) / x)
        one = x.dtype.type(1)
        safe = xp.where(zero, one, x)
        nz = zero.sum(axis=axes, keepdims=True)                    # zeros per group
        p = safe.prod(axis=axes, keepdims=True)                    # product of the non-zeros
        others = xp.where(nz == 0, p / safe, xp.where(zero & (nz == 1), p, x.dtype.type(0)))
        return gk * others


def prod(input, dim=None, keepdim=False, dtype=None):
    """The product of the elements (over ``dim`` when given).  Ints multiply to int64."""
    return Prod.apply(input, dim=dim, keepdim=keepdim, dtype=_dtype_arg(dtype))


# ----------------------------------------------------------------------------- all / any / cumsum

def all(input, dim=None, keepdim=False):
    """True where every element (over ``dim``) is non-zero.  Bool result, no gradient."""
    a = input._data
    axes = None if dim is None else _axes(dim, a.ndim, "all")
    return wrap(_nd(xp_of(a).all(a, axis=axes, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):
    """True where some element (over ``dim``) is non-zero.  Bool result, no gradient."""
    a = input._data
    axes = None if dim is None else _axes(dim, a.ndim, "any")
    return wrap(_nd(xp_of(a).any(a, axis=axes, keepdims=keepdim)))


class CumSum(Function):
    """z_k = sum_{i <= k} x_i along ``dim``.
    dL/dx_i = sum_{k >= i} dL/dz_k   (a cumulative sum of the gradient, from the end)."""

    def forward(self, x, dim=0, dtype=None):
        if dtype is None and x.dtype.kind in "biu":
            dtype = _int64
        self.in_dtype = x.dtype
        if x.ndim == 0:
            self.dim = None
            return np.asarray(x, dtype=dtype) if isinstance(x, _generic) else \
                x.astype(dtype or x.dtype)
        d = self.dim = norm_dim(dim, x.ndim, "cumsum")
        return xp_of(x).cumsum(x, axis=d, dtype=dtype)

    def backward(self, g):
        d = self.dim
        if d is not None:
            xp = xp_of(g)
            g = xp.flip(xp.cumsum(xp.flip(g, d), axis=d), d)
        return g if g.dtype == self.in_dtype else g.astype(self.in_dtype)


def cumsum(input, dim, dtype=None):
    """Running sums along ``dim``.  Ints sum to int64."""
    return CumSum.apply(input, dim=dim, dtype=_dtype_arg(dtype))


# ----------------------------------------------------------------------------- norm

class Norm(Function):
    """The p-norm over dims D:  z_j = (sum_i |x_i|^p)^(1/p).

    p = 2 ('fro'):  dL/dx_i = dL/dz_j * x_i / z_j
    p = 1:          dL/dx_i = dL/dz_j * sign(x_i)
    p = inf:        z_j = max_i |x_i|;  dL/dx_i = dL/dz_j * sign(x_i) [|x_i| = z_j] / #ties
                    (p = -inf: the same with min)
    p = 0:          z_j = #{i : x_i != 0};  no gradient (None, as PyTorch)
    other p:        dL/dx_i = dL/dz_j * sign(x_i) |x_i|^(p-1) / z_j^(p-1)
    The gradient is 0 where z_j = 0 (instead of 0/0), as in PyTorch.
    """
    save_inputs = (0,)
    save_output = True

    def forward(self, x, p=2, dim=None, keepdim=False):
        xp = xp_of(x)
        axes = None if dim is None else _axes(dim, x.ndim, "norm")
        self.x, self.p, self.shape, self.axes, self.keepdim = x, p, x.shape, axes, keepdim
        if p == 2:
            out = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        elif p == 1:
            out = xp.abs(x).sum(axis=axes, keepdims=keepdim)
        elif p == math.inf or p == -math.inf:
            ax = xp.abs(x)
            if x.size == 0:
                raise RuntimeError(f"norm: the {p}-norm of an empty tensor is not defined "
                                   f"(shape {tuple(x.shape)})")
            out = ax.max(axis=axes, keepdims=keepdim) if p > 0 else \
                ax.min(axis=axes, keepdims=keepdim)
        elif p == 0:
            out = (x != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype)
        else:
            with np.errstate(divide="ignore", over="ignore"):
                out = (xp.abs(x) ** x.dtype.type(p)).sum(axis=axes, keepdims=keepdim) \
                    ** x.dtype.type(1 / p)
        self.z = out if out.ndim else _nd(out)
        return self.z

    def backward(self, g):
        x, p = self.x, self.p
        xp = xp_of(x)
        dt = x.dtype.type
        shape, axes, keepdim = self.shape, self.axes, self.keepdim
        gk = _keep(g, shape, axes, keepdim)
        zk = _keep(self.z, shape, axes, keepdim)
        zero = dt(0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 2:
                return x * xp.where(zk == 0, zero, gk / zk)
            if p == 1:
                return xp.sign(x) * gk
            if p == 0:
                return None               # piecewise constant: no gradient (as PyTorch)
            if p == math.inf or p == -math.inf:
                mask = xp.abs(x) == zk
                count = mask.sum(axis=axes, keepdims=True, dtype=x.dtype)
                return xp.where(mask, xp.sign(x) * (gk / count), zero)
            ax = xp.abs(x)
            scaled = xp.where(x == 0, zero, xp.sign(x) * ax ** dt(p - 1))
            return scaled * xp.where(zk == 0, zero, gk / zk ** dt(p - 1))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm (default: the 2-norm of all elements, 'fro').  ``p`` may be a number,
    ``inf``/``-inf``, or 'fro'; ``dim`` an int or tuple."""
    if dtype is not None:
        from .shape import to
        input = to(input, dtype)
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"norm: expected a floating point tensor as input, got "
                           f"{fmt(a)}; convert first, e.g. x.float().norm()")
    if p == "fro" or p is None:
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported; use a number, inf, -inf or 'fro' "
                         "(for the nuclear norm compute the singular values)")
    return Norm.apply(input, p=p, dim=dim, keepdim=keepdim)


# ----------------------------------------------------------------------------- functions

def sum(input, dim=None, keepdim=False, dtype=None):
    """The sum of the elements (over ``dim``, an int or tuple, when given).
    Ints and bools sum to int64."""
    return Sum.apply(input, dim=dim, keepdim=keepdim,
                     dtype=None if dtype is None else dtypes.to_dtype(dtype).np)


def mean(input, dim=None, keepdim=False, dtype=None):
    """The mean of the elements (over ``dim`` when given).  Needs a float tensor
    (or ``dtype=`` to convert to one first)."""
    if dtype is not None:
        from .shape import to
        input = to(input, dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            f"mean(): could not infer the output dtype: the input must be floating point, but "
            f"it is {input.dtype}; convert it first (x.float().mean()) or pass dtype=")
    return Mean.apply(input, dim=dim, keepdim=keepdim)


def _correction(unbiased, correction, op):
    if correction is not None:
        if unbiased is not None:
            raise RuntimeError(f"{op}(): pass either unbiased or correction, not both")
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _var(input, dim, unbiased, keepdim, correction, sqrt, op):
    if isinstance(dim, builtins.bool):          # var(x, True): the legacy unbiased flag
        dim, unbiased = None, dim
    c = _correction(unbiased, correction, op)
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"{op}(): std and var only support floating point dtypes, got "
                           f"{input.dtype}; convert first, e.g. x.float().{op}()")
    return Var.apply(input, dim=dim, correction=c, keepdim=keepdim, sqrt=sqrt, op=op)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance over ``dim``: sum (x - mean)^2 / (N - correction); correction=1 (the
    unbiased estimate) by default, ``unbiased=False`` means correction=0."""
    return _var(input, dim, unbiased, keepdim, correction, False, "var")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The standard deviation: sqrt(var(...)) with the same arguments as :func:`var`."""
    return _var(input, dim, unbiased, keepdim, correction, True, "std")


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var(input, ...), mean(input, ...))."""
    if isinstance(dim, builtins.bool):
        dim, unbiased = None, dim
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std(input, ...), mean(input, ...))."""
    if isinstance(dim, builtins.bool):
        dim, unbiased = None, dim
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


# ----------------------------------------------------------------------------- methods

for _name in ("sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
              "logsumexp", "prod", "all", "any", "cumsum", "norm"):
    setattr(Tensor, _name, globals()[_name])
