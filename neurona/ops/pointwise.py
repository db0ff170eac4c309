"""Elementwise maths and activations: exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu,
leaky_relu, gelu, softplus, clamp, maximum/minimum, where, masked_fill, comparisons.

Notation: z = f(x) elementwise; the backward multiplies the incoming gradient dL/dz by the
local derivative f'(x):  dL/dx = dL/dz * f'(x).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import to_tensor, unbroadcast, promote, broadcast_error, float_dtype_for, wrap, fmt
from .inplace import check_inplace, commit_inplace
from .blockwise import BLOCK, blockwise
from .special import erf, normal_cdf_float32

__all__ = ["exp", "log", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "abs", "sin",
           "cos", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "softplus", "clamp",
           "clip", "maximum", "minimum", "where", "masked_fill", "sign", "floor", "ceil",
           "round", "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and",
           "logical_or", "logical_xor", "isnan", "isinf", "isfinite", "silu", "elu"]


def _float(a):
    """Ops like exp return floats: integer input is converted to the default float dtype."""
    return a if a.dtype.kind == "f" else a.astype(float_dtype_for(a))


class Exp(Function):
    """z = e^x.    dL/dx = dL/dz * z."""
    save_output = True

    def forward(self, x):
        self.z = xp_of(x).exp(_float(x))
        return self.z

    def backward(self, g):
        return g * self.z


class Log(Function):
    """z = ln x.    dL/dx = dL/dz / x."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = _float(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp_of(x).log(self.x)

    def backward(self, g):
        return g / self.x


class Log1p(Function):
    """z = ln(1 + x).    dL/dx = dL/dz / (1 + x)."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = _float(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp_of(x).log1p(self.x)

    def backward(self, g):
        return g / (1 + self.x)


class Sqrt(Function):
    """z = sqrt(x).    dL/dx = dL/dz / (2 z)."""
    save_output = True

    def forward(self, x):
        with np.errstate(invalid="ignore"):
            self.z = xp_of(x).sqrt(_float(x))
        return self.z

    def backward(self, g):
        with np.errstate(divide="ignore"):
            return g / (2 * self.z)


class Rsqrt(Function):
    """z = 1 / sqrt(x).    dL/dx = -dL/dz * z^3 / 2."""
    save_output = True

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            self.z = 1 / xp_of(x).sqrt(_float(x))
        return self.z

    def backward(self, g):
        return -0.5 * g * self.z ** 3


class Square(Function):
    """z = x^2.    dL/dx = dL/dz * 2x."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return g * (2 * self.x)


class Reciprocal(Function):
    """z = 1 / x.    dL/dx = -dL/dz * z^2."""
    save_output = True

    def forward(self, x):
        with np.errstate(divide="ignore"):
            self.z = 1 / _float(x)
        return self.z

    def backward(self, g):
        return -g * self.z * self.z


class Abs(Function):
    """z = |x|.    dL/dx = dL/dz * sign(x)  (0 at x = 0)."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = x
        return xp_of(x).abs(x)

    def backward(self, g):
        return g * xp_of(g).sign(self.x)


class Sin(Function):
    """z = sin x.    dL/dx = dL/dz * cos x."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = _float(x)
        return xp_of(x).sin(self.x)

    def backward(self, g):
        return g * xp_of(g).cos(self.x)


class Cos(Function):
    """z = cos x.    dL/dx = -dL/dz * sin x."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = _float(x)
        return xp_of(x).cos(self.x)

    def backward(self, g):
        return -g * xp_of(g).sin(self.x)


class Tanh(Function):
    """z = tanh x.    dL/dx = dL/dz * (1 - z^2)."""
    save_output = True

    def forward(self, x):
        self.z = xp_of(x).tanh(_float(x))
        return self.z

    def backward(self, g):
        z = self.z
        return g * (1 - z * z)


def sigmoid_array(x):
    """sigma(x) = 1 / (1 + e^-x), computed without overflow for large |x|."""
    xp = xp_of(x)
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


class Sigmoid(Function):
    """z = sigma(x) = 1 / (1 + e^-x).    dL/dx = dL/dz * z (1 - z)."""
    save_output = True

    def forward(self, x):
        self.z = sigmoid_array(_float(x))
        return self.z

    def backward(self, g):
        z = self.z
        return g * z * (1 - z)


class ReLU(Function):
    """z = max(0, x).    dL/dx = dL/dz * [x > 0]."""

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, g):
        return g * self.mask


class LeakyReLU(Function):
    """z = x if x > 0 else a x.    dL/dx = dL/dz * (1 if x > 0 else a)."""

    def forward(self, x, negative_slope=0.01):
        self.mask = x > 0
        self.slope = negative_slope
        return xp_of(x).where(self.mask, x, x * x.dtype.type(negative_slope))

    def backward(self, g):
        return xp_of(g).where(self.mask, g, g * g.dtype.type(self.slope))


class ELU(Function):
    """z = x if x > 0 else a (e^x - 1).    dL/dx = dL/dz * (1 if x > 0 else z + a)."""
    save_output = True

    def forward(self, x, alpha=1.0):
        xp = xp_of(x)
        self.alpha = alpha
        self.mask = x > 0
        self.z = xp.where(self.mask, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype)
        return self.z

    def backward(self, g):
        return g * xp_of(g).where(self.mask, 1, self.z + self.alpha).astype(g.dtype)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)


class GELU(Function):
    """Gaussian Error Linear Unit.

    exact:  z = x Phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2;
            dL/dx = dL/dz * (Phi(x) + x phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi).
    'tanh': z = x (1 + tanh u) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3);
            dL/dx = dL/dz * ((1 + t)/2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2).

    Big NumPy arrays are computed block by block in the CPU cache (the ``_gelu_*``
    kernels with :func:`~neurona.ops.blockwise.blockwise`); small ones with whole-array
    expressions (the reference the tests compare the kernels with); CuPy arrays with one
    fused CUDA kernel each way (:mod:`~neurona.ops.cuda_kernels`).
    """
    save_inputs = (0,)

    def forward(self, x, approximate="none"):
        xp = xp_of(x)
        self.x = x
        self.approximate = approximate
        dt = x.dtype.type
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        if _use_gpu_kernels(x):                   # one fused CUDA kernel (cuda_kernels.py)
            from . import cuda_kernels
            if approximate == "tanh":
                z, self.t = cuda_kernels.gelu_tanh(x)
            else:
                z, self.cdf = cuda_kernels.gelu(x)
            return z
        blocked = _use_blocks(x)
        if approximate == "tanh":
            if blocked:
                z, self.t = blockwise(_gelu_tanh_kernel, [x], 2)
                return z
            self.t = xp.tanh(dt(_SQRT_2_OVER_PI) * (x + dt(0.044715) * x * x * x))
            return dt(0.5) * x * (1 + self.t)
        if blocked and x.dtype == np.float32:
            z, self.cdf = normal_cdf_float32(x, times_x=True)  # blocked, in the CPU cache
            return z
        self.cdf = (dt(0.5) * (1 + erf(x * dt(_INV_SQRT_2)))).astype(x.dtype, copy=False)
        return x * self.cdf

    def backward(self, g):
        x = self.x
        xp = xp_of(x)
        dt = x.dtype.type
        if _use_gpu_kernels(x) and g.dtype == x.dtype:
            from . import cuda_kernels
            if self.approximate == "tanh":
                return cuda_kernels.gelu_tanh_grad(g, x, self.t)
            return cuda_kernels.gelu_grad(g, x, self.cdf)
        if self.approximate == "tanh":
            t = self.t
            if _use_blocks(x) and g.dtype == x.dtype:
                return blockwise(_gelu_tanh_grad_kernel, [g, x, t], 1, 1)[0]
            inner = dt(_SQRT_2_OVER_PI) * (1 + dt(3 * 0.044715) * x * x)
            return g * (dt(0.5) * (1 + t) + dt(0.5) * x * (1 - t * t) * inner)
        if _use_blocks(x) and g.dtype == x.dtype:
            return blockwise(_gelu_grad_kernel, [g, x, self.cdf], 1, 1)[0]
        pdf = xp.exp(dt(-0.5) * x * x) * dt(_INV_SQRT_2PI)
        return g * (self.cdf + x * pdf)


def _use_gpu_kernels(x) -> bool:
    """CuPy float32/float64 arrays go to the fused kernels of ``cuda_kernels``."""
    return type(x) is not np.ndarray and x.dtype in (np.float32, np.float64)


def _use_blocks(x) -> bool:
    return (type(x) is np.ndarray and x.dtype in (np.float32, np.float64)
            and x.size >= BLOCK)


def _gelu_tanh_kernel(x, z, t):
    """z = x (1 + t) / 2 and t = tanh(sqrt(2/pi) (x + 0.044715 x^3)), in place."""
    np.multiply(x, x, out=t)
    t *= 0.044715
    t += 1
    t *= x
    t *= _SQRT_2_OVER_PI
    np.tanh(t, out=t)
    np.add(t, 1, out=z)
    z *= x
    z *= 0.5


def _gelu_tanh_grad_kernel(g, x, t, gx, s):
    """gx = g ((1 + t)/2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2)."""
    np.multiply(x, x, out=gx)
    gx *= 3 * 0.044715
    gx += 1
    gx *= 0.5 * _SQRT_2_OVER_PI
    gx *= x
    np.multiply(t, t, out=s)
    np.subtract(1, s, out=s)
    gx *= s
    np.add(t, 1, out=s)
    s *= 0.5
    gx += s
    gx *= g


def _gelu_grad_kernel(g, x, cdf, gx, s):
    """gx = g (Phi(x) + x phi(x)), phi(x) = e^(-x^2/2) / sqrt(2 pi)."""
    np.multiply(x, x, out=s)
    s *= -0.5
    np.exp(s, out=s)
    s *= _INV_SQRT_2PI
    s *= x
    s += cdf
    np.multiply(g, s, out=gx)


class SiLU(Function):
    """z = x sigma(x).    dL/dx = dL/dz * s (1 + x (1 - s)),  s = sigma(x)."""
    save_inputs = (0,)

    def forward(self, x):
        self.x = x
        self.s = sigmoid_array(x)
        return x * self.s

    def backward(self, g):
        s = self.s
        return g * s * (1 + self.x * (1 - s))


class Softplus(Function):
    """z = ln(1 + e^(beta x)) / beta  (z = x where beta x > threshold).
    dL/dx = dL/dz * sigma(beta x)  (1 above the threshold)."""
    save_inputs = (0,)

    def forward(self, x, beta=1.0, threshold=20.0):
        xp = xp_of(x)
        self.x, self.beta, self.threshold = x, beta, threshold
        bx = x * x.dtype.type(beta)
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / x.dtype.type(beta)
        return xp.where(bx > threshold, x, soft)

    def backward(self, g):
        bx = self.x * self.x.dtype.type(self.beta)
        return g * xp_of(g).where(bx > self.threshold, 1, sigmoid_array(bx)).astype(g.dtype)


class Clamp(Function):
    """z = min(max(x, lo), hi).    dL/dx = dL/dz * [lo <= x <= hi]."""

    def forward(self, x, min=None, max=None):
        xp = xp_of(x)
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of min and max must be given")
        z = x
        mask = None
        if min is not None:
            mask = x >= min
            z = xp.maximum(z, xp.asarray(min, dtype=x.dtype))
        if max is not None:
            m = x <= max
            mask = m if mask is None else mask & m
            z = xp.minimum(z, xp.asarray(max, dtype=x.dtype))
        self.mask = mask
        return z

    def backward(self, g):
        return g * self.mask


class Maximum(Function):
    """z = max(a, b) elementwise.  The gradient goes to the larger input (split in half on ties):
    dL/da = dL/dz * ([a > b] + [a == b]/2),  dL/db = dL/dz * ([b > a] + [a == b]/2)."""

    take_larger = True
    in_dtypes = (None, None)     # set when the inputs' dtypes differ: gradients go back in them

    def forward(self, a, b):
        xp = xp_of(a)
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        try:
            z = xp.maximum(a, b) if self.take_larger else xp.minimum(a, b)
        except ValueError:
            raise broadcast_error(type(self).__name__.lower(), a, b) from None
        wins = (a > b) if self.take_larger else (a < b)
        ties = a == b
        self.wa = wins + 0.5 * ties
        self.shapes = (a.shape, b.shape)
        return z

    def backward(self, g):
        wa = self.wa.astype(g.dtype, copy=False)
        sa, sb = self.shapes
        da, db = self.in_dtypes
        na, nb = self.needs_input_grad
        return (unbroadcast(g * wa, sa, da) if na else None,
                unbroadcast(g * (1 - wa), sb, db) if nb else None)


class Minimum(Maximum):
    """z = min(a, b) elementwise; the gradient goes to the smaller input (half each on ties)."""
    take_larger = False


class Where(Function):
    """z = a where cond else b.    dL/da = dL/dz * [cond],  dL/db = dL/dz * [not cond]."""

    in_dtypes = (None, None)

    def forward(self, a, b, cond=None):
        xp = xp_of(a)
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        try:
            z = xp.where(cond, a, b)
        except ValueError:
            raise RuntimeError(f"where: condition {tuple(cond.shape)}, input {fmt(a)} and other "
                               f"{fmt(b)} can't be broadcast together") from None
        self.cond = cond
        self.shapes = (a.shape, b.shape)
        return z

    def backward(self, g):
        xp = xp_of(g)
        zero = g.dtype.type(0)
        sa, sb = self.shapes
        da, db = self.in_dtypes
        na, nb = self.needs_input_grad
        return (unbroadcast(xp.where(self.cond, g, zero), sa, da) if na else None,
                unbroadcast(xp.where(self.cond, zero, g), sb, db) if nb else None)


class MaskedFill(Function):
    """z = value where mask else x (mask and x broadcast together, as in torch).
    dL/dx = dL/dz * [not mask]  (summed over broadcast dims)."""

    def forward(self, x, mask=None, value=0.0):
        xp = xp_of(x)
        if mask.dtype != np.bool_:
            raise RuntimeError(f"masked_fill: the mask must be a bool tensor, got {mask.dtype}")
        try:
            z = xp.where(mask, xp.asarray(value, dtype=x.dtype), x)
        except ValueError:
            raise RuntimeError(f"masked_fill: mask of shape {tuple(mask.shape)} can't be "
                               f"broadcast with the input's shape {tuple(x.shape)}") from None
        self.mask = mask
        self.x_shape = x.shape
        return z

    def backward(self, g):
        return unbroadcast(xp_of(g).where(self.mask, g.dtype.type(0), g), self.x_shape)


# ----------------------------------------------------------------------------- functions

def exp(input): return Exp.apply(input)
def log(input): return Log.apply(input)
def log1p(input): return Log1p.apply(input)
def sqrt(input): return Sqrt.apply(input)
def rsqrt(input): return Rsqrt.apply(input)
def square(input): return Square.apply(input)
def reciprocal(input): return Reciprocal.apply(input)
def abs(input): return Abs.apply(input)
def sin(input): return Sin.apply(input)
def cos(input): return Cos.apply(input)
def tanh(input): return Tanh.apply(input)
def sigmoid(input): return Sigmoid.apply(input)
def silu(input): return SiLU.apply(input)


def relu(input, inplace=False):
    """max(0, x)."""
    out = ReLU.apply(input)
    return _maybe_inplace(input, out, inplace, "relu")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = LeakyReLU.apply(input, negative_slope=negative_slope)
    return _maybe_inplace(input, out, inplace, "leaky_relu")


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, ELU.apply(input, alpha=alpha), inplace, "elu")


def gelu(input, approximate="none"):
    """x Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    return GELU.apply(input, approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(input, beta=beta, threshold=threshold)


def _maybe_inplace(input, out, inplace, name):
    if not inplace:
        return out
    check_inplace(input, name + "_")
    return commit_inplace(input, out, name + "_")


def _scalar(v, name):
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise RuntimeError(f"clamp: {name} must be a number or a one-element tensor")
        return v.item()
    return v


def clamp(input, min=None, max=None):
    """Limit every element to [min, max] (either bound may be None).

    As in torch, the result's dtype is that of ``input`` combined with the bounds: an
    integer tensor clamped with a float bound gives floats, a bool tensor with an int
    bound gives int64."""
    lo, hi = _scalar(min, "min"), _scalar(max, "max")
    kind = input._data.dtype.kind
    if kind != "f":
        if any(isinstance(v, (float, np.floating)) for v in (lo, hi)):
            input = wrap(input._data.astype(float_dtype_for(input._data)))
        elif kind == "b" and any(v is not None and not isinstance(v, (bool, np.bool_))
                                 for v in (lo, hi)):
            input = wrap(input._data.astype(np.int64))
    return Clamp.apply(input, min=lo, max=hi)


clip = clamp


def maximum(input, other):
    return Maximum.apply(input, to_tensor(other, input))


def minimum(input, other):
    return Minimum.apply(input, to_tensor(other, input))


def _bool_array(cond, op):
    a = cond._data if isinstance(cond, Tensor) else np.asarray(cond)
    if a.dtype != np.bool_:
        raise TypeError(f"{op}: the condition must be a bool tensor, got dtype {a.dtype}; "
                        "compare first, e.g. x > 0")
    return a


def where(condition, input=None, other=None):
    """Elementwise choice: ``input`` where ``condition`` is True, else ``other``.

    With only ``condition``, returns the indices of its True elements (as ``nonzero``)."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    cond = _bool_array(condition, "where")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(input)
        if isinstance(condition, Tensor):           # two numbers: made where the condition is
            input = input.to(condition.device)
    if not isinstance(input, Tensor):
        input = to_tensor(input, other)
    other = to_tensor(other, input)
    return Where.apply(input, other, cond=cond)


def masked_fill(input, mask, value):
    """Replace the elements where ``mask`` is True by ``value``."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError("masked_fill: value must be a number or a 0-d tensor")
        value = value.item()
    return MaskedFill.apply(input, mask=_bool_array(mask, "masked_fill"), value=value)


# -- no-gradient elementwise ops --------------------------------------------------------------

def _nograd_unary(name, f):
    def op(input):
        return wrap(f(xp_of(input._data), input._data))
    op.__name__ = name
    op.__doc__ = f"{name}(x) elementwise (no gradient)."
    return op


sign = _nograd_unary("sign", lambda xp, a: xp.sign(a))
floor = _nograd_unary("floor", lambda xp, a: xp.floor(a))
ceil = _nograd_unary("ceil", lambda xp, a: xp.ceil(a))
round = _nograd_unary("round", lambda xp, a: xp.round(a))
isnan = _nograd_unary("isnan", lambda xp, a: xp.isnan(a))
isinf = _nograd_unary("isinf", lambda xp, a: xp.isinf(a))
isfinite = _nograd_unary("isfinite", lambda xp, a: xp.isfinite(a))
logical_not = _nograd_unary("logical_not", lambda xp, a: xp.logical_not(a))


def _compare(name, f):
    def op(input, other):
        b = other._data if isinstance(other, Tensor) else other
        a = input._data
        if isinstance(b, (list, tuple)):
            b = np.asarray(b)
        try:
            return wrap(f(a, b))
        except ValueError:
            raise broadcast_error(name, input, other) from None
    op.__name__ = name
    op.__doc__ = f"Elementwise comparison {name} (bool result, no gradient)."
    return op


eq = _compare("eq", lambda a, b: a == b)
ne = _compare("ne", lambda a, b: a != b)
lt = _compare("lt", lambda a, b: a < b)
le = _compare("le", lambda a, b: a <= b)
gt = _compare("gt", lambda a, b: a > b)
ge = _compare("ge", lambda a, b: a >= b)
logical_or = _compare("logical_or", lambda a, b: xp_of(a).logical_or(a, b))
logical_xor = _compare("logical_xor", lambda a, b: xp_of(a).logical_xor(a, b))
logical_and = _compare("logical_and", lambda a, b: xp_of(a).logical_and(a, b))


def _bitwise(name, f):
    def op(self, other):
        b = other._data if isinstance(other, Tensor) else other
        return wrap(f(self._data, b))
    op.__name__ = name
    return op


def _clamp_(self, min=None, max=None):
    check_inplace(self, "clamp_")
    return commit_inplace(self, clamp(self, min, max), "clamp_")


def _masked_fill_(self, mask, value):
    check_inplace(self, "masked_fill_")
    return commit_inplace(self, masked_fill(self, mask, value), "masked_fill_")


def _unary_inplace(name, fn):
    def method(self):
        check_inplace(self, name)
        return commit_inplace(self, fn(self), name)
    method.__name__ = name
    return method


for _name in ("exp", "log", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "abs", "sin",
              "cos", "tanh", "sigmoid", "relu", "sign", "floor", "ceil", "round", "isnan",
              "isinf", "isfinite", "logical_not", "silu"):
    setattr(Tensor, _name, globals()[_name])
for _name in ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "square",
              "reciprocal", "floor", "ceil", "round", "neg"):
    if _name in globals():
        setattr(Tensor, _name + "_", _unary_inplace(_name + "_", globals()[_name]))
Tensor.__abs__ = abs
Tensor.clamp = Tensor.clip = clamp
Tensor.clamp_ = Tensor.clip_ = _clamp_
Tensor.maximum = maximum
Tensor.minimum = minimum
Tensor.where = lambda self, condition, other: where(condition, self, other)
Tensor.masked_fill = masked_fill
Tensor.masked_fill_ = _masked_fill_
Tensor.leaky_relu = leaky_relu
Tensor.gelu = gelu
Tensor.softplus = softplus
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    setattr(Tensor, _name, globals()[_name])
Tensor.__eq__, Tensor.__ne__ = eq, ne
Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = lt, le, gt, ge
Tensor.greater, Tensor.less, Tensor.greater_equal, Tensor.less_equal = gt, lt, ge, le
Tensor.__invert__ = lambda self: wrap(~self._data)
Tensor.__and__ = Tensor.__rand__ = _bitwise("__and__", lambda a, b: a & b)
Tensor.__or__ = Tensor.__ror__ = _bitwise("__or__", lambda a, b: a | b)
Tensor.__xor__ = Tensor.__rxor__ = _bitwise("__xor__", lambda a, b: a ^ b)
