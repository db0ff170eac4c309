"""Helpers shared by the ops: turning arguments into tensors, broadcasting, errors."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..backend import xp_of
from ..tensor import Tensor, as_array

__all__ = ["to_tensor", "scalar_tensor", "unbroadcast", "promote", "shape_error", "fmt",
           "norm_dim", "norm_dims", "wrap", "float_dtype_for"]

wrap = Tensor._wrap
_np_float32 = np.dtype(np.float32)


def fmt(t) -> str:
    """'(2, 3) float32' for a tensor or array, for error messages."""
    a = t._data if isinstance(t, Tensor) else t
    if hasattr(a, "shape"):
        return f"{tuple(a.shape)} {a.dtype}"
    return repr(a)


def shape_error(op: str, message: str, *tensors) -> RuntimeError:
    """A RuntimeError naming the op, the shapes and dtypes of its inputs, and the fix."""
    shapes = " and ".join(fmt(t) for t in tensors)
    return RuntimeError(f"{op}: {message} (got {shapes})")


def broadcast_error(op, a, b):
    sa, sb = tuple(np.shape(a._data if isinstance(a, Tensor) else a)), \
        tuple(np.shape(b._data if isinstance(b, Tensor) else b))
    detail = ""
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            detail = f": dimension {-i} is {sa[-i]} in one and {sb[-i]} in the other"
            break
    return shape_error(op, f"shapes {sa} and {sb} can't be broadcast together{detail}; "
                       "each dimension (counted from the right) must be equal or 1", a, b)


def scalar_tensor(value, like: Tensor) -> Tensor:
    """A Python number as a 0-d tensor whose dtype follows PyTorch's promotion with ``like``.

    float tensor (op) number -> the tensor's dtype; int tensor (op) float -> default float;
    bool tensor (op) int -> int64.
    """
    a = like._data
    kind = a.dtype.kind
    if isinstance(value, bool):
        dt = a.dtype
    elif isinstance(value, int):
        dt = a.dtype if kind != "b" else np.dtype(np.int64)
    elif isinstance(value, float):
        dt = a.dtype if kind == "f" else dtypes.get_default_dtype().np
    else:
        arr = as_array(value, None, None, copy=False)
        if arr.ndim == 0 and not isinstance(value, np.ndarray):
            return scalar_tensor(arr.item(), like)
        t = wrap(arr)
        return t
    xp = xp_of(a)
    return wrap(xp.asarray(value, dtype=dt) if xp is not np else np.asarray(value, dtype=dt))


def to_tensor(value, like: Tensor) -> Tensor:
    """``value`` as a tensor for an op with ``like``: tensors pass, numbers become 0-d."""
    if isinstance(value, Tensor):
        return value
    return scalar_tensor(value, like)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}     # bool < integer < floating


def promote(a, b):
    """Cast two arrays to PyTorch's common dtype (int + float32 -> float32, not float64).

    As in PyTorch, a 0-d operand (Python numbers arrive as 0-d arrays) decides the dtype
    only when its category (bool < int < float) is higher than the other operand's:
    float32 tensor * 0-d float64 -> float32, but int64 tensor * 0-d float32 -> float32."""
    if (a.ndim == 0) != (b.ndim == 0):
        dim, zero = (b, a) if a.ndim == 0 else (a, b)
        rt = dim.dtype if _CATEGORY[zero.dtype.kind] <= _CATEGORY[dim.dtype.kind] else \
            dtypes.result_type(a.dtype, b.dtype)
    else:
        rt = dtypes.result_type(a.dtype, b.dtype)
    if a.dtype != rt:
        a = a.astype(rt)
    if b.dtype != rt:
        b = b.astype(rt)
    return a, b


def float_dtype_for(a):
    """The dtype an op that must return floats (div, exp, mean ...) uses for array ``a``."""
    return a.dtype if a.dtype.kind == "f" else dtypes.get_default_dtype().np


def unbroadcast(g, shape, dtype=None):
    """Sum gradient ``g`` down to ``shape`` -- the backward of broadcasting.

    Broadcasting copies x along new leading dims and along dims of size 1, so each copy's
    gradient adds up: dL/dx = sum of dL/dy over the broadcast dims.
    """
    if g.shape != shape:
        nlead = g.ndim - len(shape)
        axes = tuple(range(nlead)) + tuple(
            i + nlead for i, n in enumerate(shape) if n == 1 and g.shape[i + nlead] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        if nlead:
            g = g.reshape(shape)
    if dtype is not None and g.dtype != dtype:
        g = g.astype(dtype)
    return g


def norm_dim(dim, ndim, op="op"):
    """Normalize a possibly negative dim; an out-of-range dim names the op and the range."""
    n = ndim if ndim > 0 else 1
    try:
        d = int(dim)
    except TypeError:
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}") from None
    if not -n <= d < n:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor with {ndim} "
                         f"dimension(s) (expected a value in [{-n}, {n - 1}])")
    return d + n if d < 0 else d


def norm_dims(dim, ndim, op="op"):
    """None -> all dims; int or tuple -> a sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(sorted({norm_dim(d, ndim, op) for d in dim}))
        if len(dims) != len(dim):
            raise RuntimeError(f"{op}: dim {tuple(dim)} names the same dimension twice")
        return dims
    return (norm_dim(dim, ndim, op),)
