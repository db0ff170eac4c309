"""Arithmetic: ``+ - * / ** neg`` with broadcasting, and matrix multiplication ``@``.

Every binary op broadcasts like NumPy/PyTorch; its backward sums the gradient back down
to each input's shape (:func:`~neurona.ops._util.unbroadcast`).  When the inputs have
different dtypes (float32 + float64) the op computes in the promoted dtype, and the backward
hands each input its gradient in that input's own dtype (``x.grad.dtype == x.dtype``), as
PyTorch does.
"""
from __future__ import annotations

import numpy as np

from ..backend import xp_of
from ..tensor import Tensor
from ._util import to_tensor, unbroadcast, promote, broadcast_error, shape_error, float_dtype_for
from .inplace import check_inplace, commit_inplace
from ..autograd.function import Function, crosswise

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "matmul", "true_divide", "rsub"]


class Add(Function):
    """z = a + b.    dL/da = dL/dz,  dL/db = dL/dz  (summed over broadcast dims)."""

    in_dtypes = (None, None)     # set when the inputs' dtypes differ: gradients go back in them

    def forward(self, a, b):
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        self.shapes = (a.shape, b.shape)
        try:
            return a + b
        except ValueError:
            raise broadcast_error("add", a, b) from None

    def backward(self, g):
        sa, sb = self.shapes
        da, db = self.in_dtypes
        na, nb = self.needs_input_grad
        return (unbroadcast(g, sa, da) if na else None, unbroadcast(g, sb, db) if nb else None)


class Sub(Function):
    """z = a - b.    dL/da = dL/dz,  dL/db = -dL/dz."""

    in_dtypes = (None, None)

    def forward(self, a, b):
        if a.dtype.kind == "b" or b.dtype.kind == "b":     # as torch: no bool in `-`
            raise RuntimeError("sub: subtraction with a bool tensor is not supported; to "
                               "invert a mask use ~mask or logical_not(), else convert it "
                               "first (mask.long() or mask.float())")
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        self.shapes = (a.shape, b.shape)
        try:
            return a - b
        except ValueError:
            raise broadcast_error("sub", a, b) from None

    def backward(self, g):
        sa, sb = self.shapes
        da, db = self.in_dtypes
        na, nb = self.needs_input_grad
        return (unbroadcast(g, sa, da) if na else None,
                unbroadcast(-g, sb, db) if nb else None)


class Mul(Function):
    """z = a * b (elementwise).    dL/da = dL/dz * b,  dL/db = dL/dz * a."""

    save_inputs = staticmethod(crosswise)
    in_dtypes = (None, None)

    def forward(self, a, b):
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        self.a, self.b = a, b
        try:
            return a * b
        except ValueError:
            raise broadcast_error("mul", a, b) from None

    def backward(self, g):
        a, b = self.a, self.b
        da, db = self.in_dtypes
        na, nb = self.needs_input_grad
        return (unbroadcast(g * b, a.shape, da) if na else None,
                unbroadcast(g * a, b.shape, db) if nb else None)


class Div(Function):
    """z = a / b (true division; integers give floats).
    dL/da = dL/dz / b,  dL/db = -dL/dz * a / b^2 = -dL/dz * z / b."""

    save_inputs = (1,)
    save_output = True
    in_dtypes = (None, None)

    def forward(self, a, b):
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        if a.dtype.kind != "f":
            ft = float_dtype_for(a)
            a, b = a.astype(ft), b.astype(ft)
        self.b = b
        self.a_shape = a.shape
        try:
            self.z = a / b
        except ValueError:
            raise broadcast_error("div", a, b) from None
        return self.z

    def backward(self, g):
        b = self.b
        da, db = self.in_dtypes
        na, nb = self.needs_input_grad
        ga = unbroadcast(g / b, self.a_shape, da) if na else None
        gb = unbroadcast(-g * self.z / b, b.shape, db) if nb else None
        return ga, gb


class Pow(Function):
    """z = a ** b.    dL/da = dL/dz * b * a^(b-1),  dL/db = dL/dz * z * ln(a)."""

    save_inputs = (0, 1)
    save_output = True
    in_dtypes = (None, None)

    def forward(self, a, b):
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        if a.dtype.kind in "iu" and b.dtype.kind in "iu" and (b < 0).any():
            raise RuntimeError("pow: integers to negative integer powers are not allowed; "
                               "use a float base (e.g. x.float() ** -1)")
        self.a, self.b = a, b
        try:
            self.z = a ** b
        except ValueError:
            raise broadcast_error("pow", a, b) from None
        return self.z

    def backward(self, g):
        a, b, z = self.a, self.b, self.z
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            if b.ndim == 0 and b == 2:
                ga = g * (2 * a)
            else:
                xp = xp_of(a)
                # b * a^(b-1); where a == 0 and b == 0 the derivative is 0 (as torch)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ga = g * xp.where(b == 0, 0, b * a ** (b - 1))
            ga = unbroadcast(ga, a.shape, self.in_dtypes[0])
        if nb:
            xp = xp_of(a)
            with np.errstate(divide="ignore", invalid="ignore"):
                # d/db a^b = a^b ln a; torch defines it as 0 where a == 0 and b >= 0
                gb = g * xp.where((a == 0) & (b >= 0), 0, z * xp.log(a))
            gb = unbroadcast(gb, b.shape, self.in_dtypes[1])
        return ga, gb


class Neg(Function):
    """z = -a.    dL/da = -dL/dz."""

    def forward(self, a):
        if a.dtype.kind == "b":
            raise RuntimeError("neg: negation of a bool tensor is not supported; use "
                               "logical_not() or ~x")
        return -a

    def backward(self, g):
        return -g


class MatMul(Function):
    """Z = A @ B, batched over leading dims (broadcast) like ``numpy.matmul``.

    Shapes: (n,) @ (n,) -> (); (m, n) @ (n,) -> (m,); (n,) @ (n, p) -> (p,);
    (..., m, n) @ (..., n, p) -> (..., m, p).
    dL/dA = dL/dZ @ B^T,   dL/dB = A^T @ dL/dZ   (summed over broadcast batch dims).
    """

    save_inputs = staticmethod(crosswise)
    in_dtypes = (None, None)

    def forward(self, a, b):
        if a.dtype != b.dtype:
            self.in_dtypes = (a.dtype, b.dtype)
            a, b = promote(a, b)
        if a.ndim == 0 or b.ndim == 0:
            raise shape_error("matmul", "both arguments need at least 1 dimension; use * to "
                              "multiply by a scalar", a, b)
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise shape_error(
                "matmul", f"the last dimension of the first ({ka}) must equal the "
                f"{'first' if b.ndim == 1 else 'second-to-last'} dimension of the second "
                f"({kb}); for x @ W with W of shape (out, in) use x @ W.T", a, b)
        self.a, self.b = a, b
        try:
            return a @ b
        except ValueError:
            raise shape_error("matmul", "batch dimensions can't be broadcast together", a, b) \
                from None

    def backward(self, g):
        ga, gb = self._grads(g)
        da, db = self.in_dtypes
        if da is not None:
            ga = None if ga is None else ga.astype(da, copy=False)
            gb = None if gb is None else gb.astype(db, copy=False)
        return ga, gb

    def _grads(self, g):
        a, b = self.a, self.b
        na, nb = self.needs_input_grad
        ga = gb = None
        if a.ndim == 2 and b.ndim == 2:                 # the common case: plain GEMMs
            if na:
                ga = g @ b.T
            if nb:
                gb = a.T @ g
            return ga, gb
        if a.ndim == 1 and b.ndim == 1:                 # dot product: z = sum_i a_i b_i
            return (g * b if na else None), (g * a if nb else None)
        xp = xp_of(a)
        # promote 1-d operands to matrices, as matmul does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        if na:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape)
            if a.ndim == 1:
                ga = ga.reshape(a.shape)
        if nb:
            if a2.ndim >= 2 and b2.ndim == 2 and g2.ndim > 2:
                # fold the batch into rows: one GEMM instead of a batch of small ones
                gb = a2.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])
            else:
                gb = xp.swapaxes(a2, -1, -2) @ g2
                gb = unbroadcast(gb, b2.shape)
            if b.ndim == 1:
                gb = gb.reshape(b.shape)
        return ga, gb


# ----------------------------------------------------------------------------- functions

def add(input, other, alpha=1):
    """input + alpha * other."""
    if not isinstance(other, Tensor):
        other = to_tensor(other, input)
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(input, other)


def sub(input, other, alpha=1):
    """input - alpha * other."""
    if alpha != 1:
        other = mul(to_tensor(other, input), alpha)
    return Sub.apply(input, to_tensor(other, input))


def rsub(input, other):
    return Sub.apply(to_tensor(other, input), input)


def mul(input, other):
    if not isinstance(other, Tensor):
        other = to_tensor(other, input)
    return Mul.apply(input, other)


def div(input, other, rounding_mode=None):
    """input / other; ``rounding_mode='floor'`` or ``'trunc'`` gives rounded results (no grad)."""
    if rounding_mode is None:
        return Div.apply(input, to_tensor(other, input))
    other = to_tensor(other, input)
    a, b = promote(input._data, other._data)
    xp = xp_of(a)
    if rounding_mode == "floor":
        r = xp.floor_divide(a, b)
    elif rounding_mode == "trunc":
        r = xp.trunc(a / b).astype(a.dtype) if a.dtype.kind == "f" else \
            (xp.trunc(a / b)).astype(a.dtype)
    else:
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got "
                         f"{rounding_mode!r}")
    return Tensor._wrap(r)


true_divide = div


def pow(input, exponent):
    """input ** exponent (either may be a number)."""
    if not isinstance(input, Tensor):
        return Pow.apply(to_tensor(input, exponent), exponent)
    return Pow.apply(input, to_tensor(exponent, input))


def neg(input):
    return Neg.apply(input)


def matmul(input, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul: expected a Tensor, got {type(other).__name__}")
    return MatMul.apply(input, other)


# ----------------------------------------------------------------------------- in place

def _inplace(name, fn):
    def method(self, other, *args, **kwargs):
        check_inplace(self, name)
        return commit_inplace(self, fn(self, other, *args, **kwargs), name)
    method.__name__ = name
    method.__doc__ = f"In-place version of {fn.__name__}: changes this tensor and returns it."
    return method


def _rpow(self, other):
    return pow(to_tensor(other, self), self)


def _rtruediv(self, other):
    return Div.apply(to_tensor(other, self), self)


def _rmatmul(self, other):
    return matmul(Tensor(other) if not isinstance(other, Tensor) else other, self)


Tensor.__add__ = Tensor.__radd__ = Tensor.add = add
Tensor.__sub__ = Tensor.sub = sub
Tensor.__rsub__ = rsub
Tensor.__mul__ = Tensor.__rmul__ = Tensor.mul = mul
Tensor.__truediv__ = Tensor.div = Tensor.divide = Tensor.true_divide = div
Tensor.__rtruediv__ = _rtruediv
Tensor.__pow__ = Tensor.pow = pow
Tensor.__rpow__ = _rpow
Tensor.__neg__ = Tensor.neg = Tensor.negative = neg
Tensor.__matmul__ = Tensor.matmul = matmul
Tensor.__rmatmul__ = _rmatmul
Tensor.__floordiv__ = lambda self, other: div(self, other, rounding_mode="floor")
Tensor.__pos__ = lambda self: self

Tensor.add_ = Tensor.__iadd__ = _inplace("add_", add)
Tensor.sub_ = Tensor.__isub__ = _inplace("sub_", sub)
Tensor.mul_ = Tensor.__imul__ = _inplace("mul_", mul)
Tensor.div_ = Tensor.__itruediv__ = _inplace("div_", div)
Tensor.pow_ = Tensor.__ipow__ = _inplace("pow_", pow)
