"""softmax, log_softmax, softmin and logsigmoid, each one fused op with its own backward.

Notation along the chosen dimension: x is a vector of scores, m = max_j x_j,

    softmax:      y_i = e^(x_i - m) / sum_j e^(x_j - m)           (= e^x_i / sum_j e^x_j)
    log_softmax:  y_i = x_i - m - ln sum_j e^(x_j - m)

Subtracting m changes nothing mathematically but keeps every exponent <= 0, so scores
like 1e4 do not overflow.

On the GPU, softmax and log_softmax along the last dim of a contiguous CuPy array (the
common case: attention scores, logits) run as one row-wise kernel each way
(``cuda_kernels.softmax_rows`` ...); the NumPy code is the reference.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import norm_dim, fmt
from . import cuda_kernels
from .. import dtypes

__all__ = ["softmax", "log_softmax", "softmin", "logsigmoid"]


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m).
    dL/dx_i = y_i (dL/dy_i - sum_j dL/dy_j y_j)."""

    save_output = True

    def forward(self, x, dim=-1, dtype=None):
        self.in_dtype = x.dtype
        if dtype is not None and x.dtype != dtype:
            x = x.astype(dtype)
        self.rows = _rows(x, dim)
        if self.rows:
            self.y, self.dim = cuda_kernels.softmax_rows(x), dim
            return self.y
        z = x - x.max(axis=dim, keepdims=True)
        xp_of(x).exp(z, out=z)
        z /= z.sum(axis=dim, keepdims=True)
        self.y, self.dim = z, dim
        return z

    def backward(self, g):
        y = self.y
        if self.rows:
            gy = cuda_kernels.softmax_rows_back(g, y)
            return gy if gy.dtype == self.in_dtype else gy.astype(self.in_dtype)
        gy = g * y
        gy -= y * gy.sum(axis=self.dim, keepdims=True)
        return gy if gy.dtype == self.in_dtype else gy.astype(self.in_dtype)


class LogSoftmax(Function):
    """y_i = x_i - m - ln sum_j e^(x_j - m).
    dL/dx_i = dL/dy_i - softmax(x)_i sum_j dL/dy_j   (softmax(x) = e^y)."""

    save_output = True

    def forward(self, x, dim=-1, dtype=None):
        self.in_dtype = x.dtype
        if dtype is not None and x.dtype != dtype:
            x = x.astype(dtype)
        xp = xp_of(x)
        self.rows = _rows(x, dim)
        if self.rows:
            self.y, self.dim = cuda_kernels.log_softmax_rows(x), dim
            return self.y
        z = x - x.max(axis=dim, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
        self.y, self.dim = z, dim
        return z

    def backward(self, g):
        if self.rows:
            gx = cuda_kernels.log_softmax_rows_back(g, self.y)
            return gx if gx.dtype == self.in_dtype else gx.astype(self.in_dtype)
        gx = g - xp_of(g).exp(self.y) * g.sum(axis=self.dim, keepdims=True)
        return gx if gx.dtype == self.in_dtype else gx.astype(self.in_dtype)


def _rows(x, dim) -> bool:
    """True for a CuPy array the row kernels take (see ``cuda_kernels.rows_ok``)."""
    return type(x) is not np.ndarray and cuda_kernels.rows_ok(x, dim)


def _args(op, input, dim, dtype):
    """Check the dim and dtype of a softmax-like call; returns (dim for NumPy, NumPy dtype)."""
    a = input._data
    nd = a.ndim
    if dim is None:
        dim = 0 if nd in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the "
                      "call to include dim=X as an argument.", UserWarning, stacklevel=3)
    elif type(dim) is not int or not -nd <= dim < max(nd, 1):
        dim = norm_dim(dim, nd, op)
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype).np
        if dtype.kind != "f":
            raise TypeError(f"{op}: dtype must be a floating dtype, got {dtype}")
    elif a.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got {fmt(a)}; convert "
                           "it with .float() or pass dtype=neurona.float32")
    return dim, dtype


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """e^x_i / sum_j e^x_j along ``dim`` (each slice along dim sums to 1)."""
    dim, dtype = _args("softmax", input, dim, dtype)
    a = input._data
    if a.ndim == 0 or a.size == 0:
        return _special(Softmax, input, dim, dtype)
    return Softmax.apply(input, dim=dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """ln softmax(x) along ``dim``, computed stably: x_i - m - ln sum_j e^(x_j - m)."""
    dim, dtype = _args("log_softmax", input, dim, dtype)
    a = input._data
    if a.ndim == 0 or a.size == 0:
        return _special(LogSoftmax, input, dim, dtype)
    return LogSoftmax.apply(input, dim=dim, dtype=dtype)


def _special(cls, input, dim, dtype):
    """0-d input (a softmax over one element) and empty input (an empty result)."""
    a = input._data
    if a.ndim == 0:
        return cls.apply(input.reshape(1), dim=0, dtype=dtype).reshape(())
    if a.shape[dim]:
        return cls.apply(input, dim=dim, dtype=dtype)     # reductions over non-empty dims
    from ._util import wrap
    return wrap(xp_of(a).empty(a.shape, dtype=dtype or a.dtype))


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``: the smallest scores get the largest weights."""
    if dim is None:
        dim = _args("softmin", input, None, dtype)[0]
    return softmax(-input, dim, dtype=dtype)


class LogSigmoid(Function):
    """y = ln sigma(x) = min(x, 0) - ln(1 + e^-|x|).
    dL/dx = dL/dy * (1 - sigma(x)) = dL/dy * sigma(-x)."""

    save_inputs = (0,)

    def forward(self, x):
        xp = xp_of(x)
        e = xp.exp(-xp.abs(x))
        self.x, self.e = x, e
        return xp.minimum(x, 0) - xp.log1p(e)

    def backward(self, g):
        x, e = self.x, self.e
        # sigma(-x) = e / (1 + e) for x >= 0 and 1 / (1 + e) for x < 0, with e = e^-|x|
        return g * xp_of(g).where(x >= 0, e, 1) / (1 + e)


def logsigmoid(input):
    """ln sigma(x) = -softplus(-x), stable for large |x|."""
    return LogSigmoid.apply(input)


def _softmax_method(self, dim, dtype=None):
    return softmax(self, dim, dtype=dtype)


def _log_softmax_method(self, dim, dtype=None):
    return log_softmax(self, dim, dtype=dtype)


Tensor.softmax = _softmax_method
Tensor.log_softmax = _log_softmax_method
