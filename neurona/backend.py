"""The array backend: which array library a tensor's numbers live in.

neurona keeps every tensor's numbers in an *array*: a ``numpy.ndarray`` on the CPU
or a ``cupy.ndarray`` on an NVIDIA GPU.  Op code never names NumPy or CuPy
directly for array functions; it asks this module for the array module ``xp``
that matches its inputs (Chainer's idiom)::

    xp = backend.xp_of(a)          # numpy or cupy
    y = xp.exp(a)

so the same op code runs on both devices.  Array *methods* (``a.sum()``,
``a.reshape()``) are already the same on both.

This module is the only place that knows about devices.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Device", "device", "cpu", "xp_of", "array_module", "device_of",
           "to_device", "cuda_is_available", "cuda_device_count", "scatter_add_at",
           "scatter_multiply_at", "as_strided"]


class Device:
    """Where a tensor's numbers live: ``Device('cpu')`` or ``Device('cuda', 0)``.

    Accepts the same strings as PyTorch: ``'cpu'``, ``'cuda'``, ``'cuda:1'``.
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None):
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return (isinstance(other, Device) and self.type == other.type
                and (self.index or 0) == (other.index or 0))

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


cpu = Device("cpu")


def device(spec) -> Device:
    """Parse ``spec`` (a Device, ``'cpu'``, ``'cuda'``, ``'cuda:N'``, or None) into a Device."""
    if spec is None:
        return cpu
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, int):
        return Device("cuda", spec)
    if isinstance(spec, str):
        name, _, idx = spec.partition(":")
        if name == "cpu" and not idx:
            return cpu
        if name == "cuda":
            if idx and not idx.isdigit():
                raise ValueError(f"invalid device string '{spec}': expected 'cuda' or 'cuda:N'")
            return Device("cuda", int(idx) if idx else 0)
    raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")


# --------------------------------------------------------------------------- CuPy

_cupy = None
_cupy_checked = False


def _load_cupy():
    """Import CuPy once, lazily; return the module or None when it cannot run here."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: F401
            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
        except Exception:  # not installed, no driver, no GPU
            _cupy = None
        if _cupy is not None:   # let ops recognise CuPy arrays as arrays (indexing, tensor())
            from .autograd import function
            if _cupy.ndarray not in function.array_types:
                function.array_types = function.array_types + (_cupy.ndarray,)
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA GPU."""
    return _load_cupy() is not None


def cuda_device_count() -> int:
    cp = _load_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def _require_cuda(dev: Device, what: str | None = None):
    """CuPy, or a RuntimeError saying what asked for CUDA and how to get it."""
    cp = _load_cupy()
    asked = what or f"device '{dev}'"
    if cp is None:
        raise RuntimeError(
            f"{asked} was asked for, but CUDA is not available here: neurona runs on "
            "NVIDIA GPUs through CuPy, which is not installed or sees no GPU. On a machine "
            "with an NVIDIA GPU and driver, install it with `pip install neurona[cuda]` "
            "(the CuPy wheel for CUDA 12, cupy-cuda12x; for CUDA 13 `pip install "
            "cupy-cuda13x`), or use device='cpu' (neurona.cuda.is_available() tells which).")
    n = cp.cuda.runtime.getDeviceCount()
    if (dev.index or 0) >= n:
        raise RuntimeError(f"{asked} was asked for, but only {n} CUDA device(s) exist "
                           f"(cuda:0 to cuda:{n - 1})")
    return cp


# --------------------------------------------------------------------------- arrays

def array_module(dev: Device):
    """The array module (numpy or cupy) for a device."""
    if dev.type == "cpu":
        return np
    return _require_cuda(dev)


def xp_of(a):
    """The array module an array belongs to (numpy for ndarrays and scalars)."""
    if type(a) is np.ndarray:
        return np
    cp = _cupy
    if cp is not None and isinstance(a, cp.ndarray):
        return cp
    return np


def device_of(a) -> Device:
    """The Device an array lives on."""
    if type(a) is np.ndarray:
        return cpu
    cp = _cupy
    if cp is not None and isinstance(a, cp.ndarray):
        return Device("cuda", a.device.id)
    return cpu


device_moves = 0    # arrays copied to another device so far (optimizers watch it, see
#                     Optimizer.step: their state follows parameters that moved)


def to_device(a, dev: Device):
    """Return ``a`` on ``dev`` (the same array when it is already there)."""
    global device_moves
    if dev.type == "cpu":
        if type(a) is np.ndarray:
            return a
        device_moves += 1
        return a.get()
    cp = _require_cuda(dev)
    if device_of(a) != dev:
        device_moves += 1
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(a)


# --------------------------------------------------------------------------- scatter-add

def scatter_add_at(xp, target, index, values) -> None:
    """``target[index] += values`` where repeated indices *accumulate* (unbuffered add).

    Plain ``target[index] += values`` adds only once per distinct index; the backward of
    indexing (embedding lookups, gather) needs every copy's gradient.  ``index`` is
    anything array indexing accepts (an integer array, or a tuple of arrays, slices,
    None and Ellipsis); ``values`` must broadcast to ``target[index]``.

    NumPy: ``np.add.at``, or, for one long integer array along dim 0 (the embedding
    backward), a sort + ``np.add.reduceat`` (about 1.5x faster there).  CuPy:
    ``cupyx.scatter_add`` (atomic adds on the GPU).
    """
    if xp is np:
        if (type(index) is np.ndarray and index.ndim == 1 and index.size >= 256
                and index.dtype.kind in "iu" and values.shape == index.shape + target.shape[1:]):
            idx = index if index.dtype.kind == "u" or index.min() >= 0 else \
                np.where(index < 0, index + target.shape[0], index)
            order = np.argsort(idx, kind="stable")
            s = idx[order]
            starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
            target[s[starts]] += np.add.reduceat(values[order], starts, axis=0)
            return
        np.add.at(target, index, values)
        return
    import cupyx
    cupyx.scatter_add(target, index, values)


def scatter_multiply_at(xp, target, index, values) -> None:
    """``target[index] *= values`` where repeated indices multiply *every* copy in
    (unbuffered, like :func:`scatter_add_at`).  NumPy: ``np.multiply.at``.  CuPy has no
    atomic multiply, so this is CPU-only (``scatter(reduce='multiply')`` says so)."""
    if xp is np:
        np.multiply.at(target, index, values)
        return
    raise NotImplementedError(
        "scatter(reduce='multiply') runs on the CPU only (CuPy has no scatter-multiply): "
        "move the tensors there with .cpu(), or use reduce='add'")


# --------------------------------------------------------------------------- strided views

def as_strided(a, shape, strides):
    """A view of ``a`` with the given shape and strides (in bytes), sharing its memory:
    element (i0, i1, ...) is read at byte offset sum_k i_k * strides[k].  No copy, no
    checks: the caller makes sure every position falls inside ``a`` (im2col's windows).
    NumPy: ``np.lib.stride_tricks.as_strided``; CuPy: ``cupy.lib.stride_tricks.as_strided``."""
    return xp_of(a).lib.stride_tricks.as_strided(a, shape=shape, strides=strides)
