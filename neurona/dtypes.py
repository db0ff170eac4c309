"""Data types: ``neurona.float32`` (the default), ``float64``, ``int64``, ``bool`` and a few more.

A ``DType`` wraps a NumPy dtype so that it prints like PyTorch's (``neurona.float32``)
and knows its category.  Type promotion follows PyTorch, not NumPy:

* int tensor (op) float tensor -> the float tensor's dtype (NumPy would give float64);
* float32 tensor (op) Python float -> float32 (a Python number never widens a tensor);
* int tensor (op) Python float -> the default float dtype, float32;
* ``/`` on integers -> float32 (true division).
"""
from __future__ import annotations

import numpy as np

__all__ = ["DType", "float16", "float32", "float64", "int8", "uint8", "int16", "int32",
           "int64", "bool_", "get_default_dtype", "set_default_dtype", "to_dtype",
           "from_numpy_dtype", "result_type", "is_floating"]


class DType:
    """A tensor element type; ``np`` is the NumPy dtype holding the numbers."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"neurona.{self.name}"

    def __eq__(self, other):
        if isinstance(other, DType):
            return self.np == other.np
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.np)


float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
int8 = DType("int8", np.int8)
uint8 = DType("uint8", np.uint8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
bool_ = DType("bool", np.bool_)

_BY_NP = {d.np: d for d in (float16, float32, float64, int8, uint8, int16, int32, int64, bool_)}
_BY_NAME = {d.name: d for d in _BY_NP.values()}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "bool_": bool_})

_default_float = float32


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(d) -> None:
    """Set the dtype of Python floats turned into tensors (float32 or float64)."""
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype takes a floating dtype, got {d}")
    _default_float = d


def from_numpy_dtype(npd) -> DType:
    """The DType of a NumPy dtype; unsupported ones raise a TypeError that lists the supported."""
    try:
        return _BY_NP[npd]
    except KeyError:
        pass
    except TypeError:
        npd = np.dtype(npd)
    d = _BY_NP.get(np.dtype(npd))
    if d is None:
        raise TypeError(f"neurona has no dtype for NumPy's {np.dtype(npd)}; supported: "
                        + ", ".join(sorted(x.name for x in _BY_NP.values())))
    return d


def to_dtype(d) -> DType:
    """Accept a DType, a NumPy dtype, a name ('float32') or a Python type (float, int, bool)."""
    if isinstance(d, DType):
        return d
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str):
        found = _BY_NAME.get(d.replace("neurona.", "").replace("torch.", ""))
        if found is not None:
            return found
    # torch dtypes and anything else with a NumPy spelling
    name = getattr(d, "__str__", None) and str(d).replace("torch.", "")
    if name in _BY_NAME:
        return _BY_NAME[name]
    return from_numpy_dtype(d)


def is_floating(npd) -> bool:
    return npd.kind == "f"


_PROMOTE: dict = {}


def result_type(a, b):
    """PyTorch's promotion of two NumPy dtypes of *tensors*: float beats int beats bool."""
    if a is b or a == b:
        return a
    key = (a, b)
    r = _PROMOTE.get(key)
    if r is None:
        fa, fb = a.kind == "f", b.kind == "f"
        if fa != fb:
            r = a if fa else b
        elif a.kind == "b":
            r = b
        elif b.kind == "b":
            r = a
        else:
            r = np.promote_types(a, b)
        _PROMOTE[key] = r
    return r
