"""Making tensors: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``,
``randn``, ``rand``, ``randint``, ``randperm``, the ``*_like`` forms, and array exchange
(``from_numpy``, ``as_tensor``, ``from_dlpack``).

Sizes are given as PyTorch does: ``zeros(2, 3)`` or ``zeros((2, 3))``.  Floats default to
float32; ``dtype=``, ``device=`` and ``requires_grad=`` are accepted everywhere.
"""
from __future__ import annotations

import operator

import numpy as np

from . import backend, dtypes
from .random import _gen
from .tensor import Tensor, as_array

__all__ = ["tensor", "as_tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty",
           "arange", "linspace", "eye", "randn", "rand", "randint", "randperm", "normal",
           "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
           "randint_like", "scalar_tensor"]


def _size(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        size = tuple(operator.index(s) for s in size)    # ints only: 2.5 or "3" are errors
    except TypeError:
        raise TypeError(f"{op}: size must be ints or one tuple of ints, got {size!r}") from None
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}: sizes can't be negative, got {size}")
    return size


def _finish(arr, device, requires_grad):
    if device is not None:
        dev = backend.device(device)
        if dev.type != "cpu":
            arr = backend.to_device(arr, dev)
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_np(dtype):
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return d.np


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, NumPy arrays, or any
    array-like such as PyTorch/JAX/CuPy tensors)."""
    t = Tensor._wrap(as_array(data, dtype, device, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but shares memory with ``data`` when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor._wrap(as_array(data, dtype, device, copy=False))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with a NumPy array (changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(as_array(array, None, None, copy=False))


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any DLPack-capable array (PyTorch, JAX, CuPy, NumPy)."""
    if isinstance(ext, Tensor):
        return ext
    dev_type = ext.__dlpack_device__()[0] if hasattr(ext, "__dlpack_device__") else 1
    if dev_type == 2:
        cp = backend._load_cupy()
        if cp is None:
            raise RuntimeError("from_dlpack: the array lives on a CUDA GPU but CuPy is not "
                               "available here; install neurona[cuda]")
        return Tensor._wrap(as_array(cp.from_dlpack(ext), copy=False))
    return Tensor._wrap(as_array(np.from_dlpack(ext), copy=False))


def scalar_tensor(value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.zeros(_size(size, "zeros"), _float_np(dtype)), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.ones(_size(size, "ones"), _float_np(dtype)), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.empty(_size(size, "empty"), _float_np(dtype)), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    if dtype is None:
        dtype = dtypes.bool_ if isinstance(fill_value, bool) else \
            dtypes.int64 if isinstance(fill_value, int) else dtypes.get_default_dtype()
    size = _size((size,) if isinstance(size, int) else tuple(size), "full")
    return _finish(np.full(size, fill_value, dtypes.to_dtype(dtype).np), device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Numbers from ``start`` up to (not including) ``end`` in steps of ``step``.
    Integers give int64, any float argument gives float32."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError(f"arange: end={vals[1]} can't be reached from start={vals[0]} in "
                           f"steps of {vals[2]}; flip the sign of step")
    if dtype is None:
        dtype = dtypes.int64 if all(isinstance(v, int) for v in vals) else \
            dtypes.get_default_dtype()
    dt = dtypes.to_dtype(dtype).np
    if dt.kind == "f":
        # compute in float64 like torch, then cast
        n = int(np.ceil((vals[1] - vals[0]) / vals[2]))
        arr = (vals[0] + np.arange(max(n, 0), dtype=np.float64) * vals[2]).astype(dt)
    else:
        arr = np.arange(*vals, dtype=dt)
    return _finish(arr, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced numbers from ``start`` to ``end`` inclusive."""
    return _finish(np.linspace(start, end, int(steps), dtype=np.float64).astype(_float_np(dtype)),
                   device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix (n x m; square when m is None)."""
    return _finish(np.eye(n, m, dtype=_float_np(dtype)), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from the standard normal distribution N(0, 1)."""
    dt = _float_np(dtype)
    g = _gen(generator)
    shape = _size(size, "randn")
    arr = g.standard_normal(shape, dtype=dt) if dt in (np.float32, np.float64) else \
        g.standard_normal(shape).astype(dt)
    return _finish(arr, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from the uniform distribution on [0, 1)."""
    dt = _float_np(dtype)
    g = _gen(generator)
    shape = _size(size, "rand")
    arr = g.random(shape, dtype=dt) if dt in (np.float32, np.float64) else \
        g.random(shape).astype(dt)
    return _finish(arr, device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high).  ``randint(high, size)`` also works."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint: give high (and size), e.g. randint(0, 10, (3,))")
    if size is None:
        raise TypeError("randint: size is required, e.g. randint(0, 10, (3,))")
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    dt = dtypes.int64.np if dtype is None else dtypes.to_dtype(dtype).np
    arr = _gen(generator).integers(low, high, size=_size((size,) if isinstance(size, int)
                                                         else tuple(size), "randint"))
    return _finish(arr.astype(dt), device, requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n-1."""
    dt = dtypes.int64.np if dtype is None else dtypes.to_dtype(dtype).np
    return _finish(_gen(generator).permutation(int(n)).astype(dt), device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Samples from N(mean, std^2) of shape ``size`` (or of the shape of tensor arguments)."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = np.broadcast_shapes(np.shape(m), np.shape(s)) if size is None else \
        _size((size,) if isinstance(size, int) else tuple(size), "normal")
    dt = _float_np(dtype)
    arr = (m + s * _gen(generator).standard_normal(shape)).astype(dt)
    return _finish(arr, device, requires_grad)


# ----------------------------------------------------------------------------- *_like

def _like(t, dtype, device):
    dt = t._data.dtype if dtype is None else dtypes.to_dtype(dtype).np
    dev = t.device if device is None else backend.device(device)
    return dt, dev


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return _finish(np.zeros(input.shape, dt), dev, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return _finish(np.ones(input.shape, dt), dev, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return _finish(np.empty(input.shape, dt), dev, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return _finish(np.full(input.shape, fill_value, dt), dev, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return rand(*input.shape, generator=generator, dtype=dt, device=dev,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    dt, dev = _like(input, dtype, device)
    return randn(*input.shape, generator=generator, dtype=dt, device=dev,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, generator=None) -> Tensor:
    if high is None:
        low, high = 0, low
    dt, dev = _like(input, dtype, device)
    return randint(low, high, input.shape, generator=generator, dtype=dt, device=dev)


# ----------------------------------------------------------------------------- new_*

def _new_method(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad, **kw)
    method.__name__ = "new_" + fn.__name__
    return method


Tensor.new_zeros = _new_method(zeros)
Tensor.new_ones = _new_method(ones)
Tensor.new_empty = _new_method(empty)
Tensor.new_full = lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: \
    full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
         requires_grad=requires_grad)
Tensor.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: \
    tensor(data, dtype=dtype or self.dtype, device=device or self.device,
           requires_grad=requires_grad)
