"""``Tensor``: an array of numbers plus what automatic differentiation needs.

A tensor holds

* ``_data``: the numbers, a NumPy array (CPU) or CuPy array (GPU);
* ``requires_grad``: whether gradients should flow to it;
* ``grad``: dL/d(this tensor), filled by ``backward()`` for leaves (and for tensors
  that called ``retain_grad()``);
* ``grad_fn``: the recorded op (a :class:`~neurona.autograd.function.Function` node) that
  produced it, ``None`` for leaves (tensors made by the user, and parameters).

This module defines the class, its attributes and the autograd entry points
(``backward``, hooks).  The maths -- ``+``, ``@``, ``exp``, ``sum``, indexing ... -- lives
in :mod:`neurona.ops`, where each op also installs itself as a Tensor method; this keeps
the dependencies one-way (ops import tensor, never the reverse).
"""
from __future__ import annotations

import numpy as np

from . import backend, dtypes
from .autograd import function as _function
from .autograd.grad_mode import state as _grad_state

__all__ = ["Tensor", "as_array"]


class Tensor:
    """A multi-dimensional array that records the ops applied to it for backward.

    Make tensors with :func:`neurona.tensor`, :func:`neurona.zeros`, :func:`neurona.randn` ...
    ``Tensor(data)`` is the same as ``neurona.tensor(data)``.
    """

    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_out_idx", "_version",
                 "_hooks", "_base", "_retains_grad", "__weakref__")

    # NumPy must not treat a Tensor as an array in `ndarray (op) Tensor`: returning
    # NotImplemented there lets Python call our reflected operator instead.
    __array_ufunc__ = None

    def __init__(self, data=None, dtype=None, device=None, requires_grad=False):
        arr = as_array([] if data is None else data, dtype, device, copy=True)
        self._data = arr
        self.grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._version = [0]
        self._hooks = None
        self._base = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- fast constructors used by ops (no checks) -------------------------------------
    @staticmethod
    def _wrap(arr, requires_grad=False):
        if isinstance(arr, np.generic):      # NumPy ops on 0-d arrays return scalars
            arr = np.asarray(arr)
        t = _new(Tensor)
        t._data = arr
        t.requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._out_idx = 0
        t._version = [0]
        t._hooks = None
        t._base = None
        t._retains_grad = False
        return t

    # -- what a tensor is -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return self._data.shape
        return self._data.shape[_norm_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_numpy_dtype(self._data.dtype)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (no ``grad_fn``); only leaves get ``.grad``."""
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        """The same numbers as a tensor outside the graph (shares memory)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        value = as_array(value, None, None, copy=False)
        self._data = value

    @property
    def version(self) -> int:
        """How many times this tensor (or a view of its memory) was changed in place."""
        return self._version[0]

    _version_value = version

    # -- leaving the graph ------------------------------------------------------------
    def detach(self) -> "Tensor":
        """The same numbers (shared memory) without history: ``requires_grad=False``."""
        t = Tensor._wrap(self._data)
        t._version = self._version
        return t

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Ask for (or stop asking for) gradients of this leaf tensor."""
        if self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad of leaf tensors; this tensor was made by "
                f"{self.grad_fn.op_name()}. Use .detach() to get a leaf with the same values.")
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, but this one is "
                f"{self.dtype}: convert it first, e.g. x.float().requires_grad_()")
        self.requires_grad = bool(requires_grad)
        return self

    # -- converting out -----------------------------------------------------------------
    def item(self):
        """The single number in this tensor, as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"item() needs a tensor with exactly one element, but this one "
                               f"has {self._data.size} (shape {tuple(self.shape)})")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, force: bool = False):
        """The numbers as a NumPy array that shares memory with this tensor."""
        if self.requires_grad and not force:
            raise RuntimeError("can't call numpy() on a tensor that requires grad: use "
                               "tensor.detach().numpy() instead")
        if type(self._data) is not np.ndarray:
            if force:
                return self._data.get()
            raise TypeError(f"can't convert a {self.device} tensor to NumPy: copy it to the "
                            "CPU first with tensor.cpu()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data if type(self._data) is np.ndarray else self._data.get()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        if copy:
            return a.copy()
        return a

    def __dlpack__(self, *args, **kwargs):
        if self.requires_grad:
            raise RuntimeError("can't export a tensor that requires grad through DLPack: "
                               "use tensor.detach() first")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    # -- Python protocols ---------------------------------------------------------------
    __hash__ = object.__hash__

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._data.size} elements is "
                               "ambiguous: use .any() or .all()")
        return bool(self._data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.item())

    def __repr__(self):
        return _format(self)

    # -- autograd entry points ----------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute dself/dleaf for every leaf of the graph and accumulate it into ``leaf.grad``.

        ``gradient`` is dL/dself; it may be left out only for a single-element tensor
        (then it is 1).  Saved arrays are freed unless ``retain_graph=True``.
        """
        from .autograd import backward as _backward
        _backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                  inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when the gradient of this tensor is computed; if it returns
        a tensor, that replaces the gradient.  Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            table = self._hooks
        else:
            node = self.grad_fn
            if node.out_hooks is None:
                node.out_hooks = {}
            table = node.out_hooks.setdefault(self._out_idx, {})
        return _HookHandle(table, hook)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        import weakref
        ref = weakref.ref(self)

        def store(g):
            t = ref()
            if t is not None:
                if t.grad is None:
                    t.grad = Tensor._wrap(g._data.copy())
                else:
                    t.grad = Tensor._wrap(t.grad._data + g._data)
        self.register_hook(store)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad


_new = object.__new__


class _HookHandle:
    _next_id = 0

    def __init__(self, table, hook):
        _HookHandle._next_id += 1
        self.id = _HookHandle._next_id
        self.table = table
        table[self.id] = hook

    def remove(self):
        self.table.pop(self.id, None)


def _norm_dim(dim, ndim, op):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor with {ndim} "
                         f"dimension(s) (expected a value in [{-n}, {n - 1}])")
    return dim + n if dim < 0 else dim


# ----------------------------------------------------------------------------- arrays in

def as_array(data, dtype=None, device=None, copy=True):
    """Turn anything array-like into a backend array of a neurona dtype.

    Python floats become the default float dtype (float32), ints int64, bools bool.
    NumPy arrays keep their dtype (float64 stays float64, as in PyTorch).  Objects with
    ``__dlpack__`` (PyTorch, JAX, CuPy tensors) are taken through DLPack.
    """
    dt = None if dtype is None else dtypes.to_dtype(dtype).np
    dev = None if device is None else backend.device(device)
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, _function.array_types):
        arr = data           # a CuPy array
    elif isinstance(data, (list, tuple)) or np.isscalar(data) or data is None:
        arr = np.asarray(data, dtype=dt)
        if dt is None and arr.dtype == np.float64 and not _has_float64(data):
            arr = arr.astype(dtypes.get_default_dtype().np)
        copy = False
    else:
        arr = _foreign(data)
    if arr.dtype.kind in "OUSVc":
        raise TypeError(f"can't make a tensor from data of NumPy dtype {arr.dtype}: neurona "
                        "tensors hold floats, ints or bools")
    if dt is not None and arr.dtype != dt:
        arr = arr.astype(dt)
        copy = False
    elif arr.dtype not in _SUPPORTED:
        arr = arr.astype(_coerce(arr.dtype))
        copy = False
    if dev is not None and backend.device_of(arr) != dev:
        arr = backend.to_device(arr, dev)
        copy = False
    if copy:
        arr = arr.copy()
    return arr


_SUPPORTED = {np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int8, np.uint8,
                                    np.int16, np.int32, np.int64, np.bool_)}


def _coerce(npd):
    if npd.kind == "f":
        return np.float64
    if npd.kind == "u":
        return np.int64
    return np.int64


def _has_float64(data):
    """True when a nested list holds NumPy float64 scalars (which keep float64, as in torch)."""
    if isinstance(data, np.floating):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)) and data:
        return _has_float64(data[0])
    return False


def _foreign(data):
    """An array from another library (PyTorch, JAX, CuPy ...) or any array-like."""
    if hasattr(data, "__dlpack__") and hasattr(data, "__dlpack_device__"):
        dev_type = data.__dlpack_device__()[0]
        if dev_type == 1:      # kDLCPU
            try:
                return np.from_dlpack(data)
            except (RuntimeError, BufferError, TypeError):
                if hasattr(data, "detach"):
                    return np.from_dlpack(data.detach())
        elif dev_type == 2:    # kDLCUDA
            cp = backend._load_cupy()
            if cp is not None:
                return cp.from_dlpack(data)
    if hasattr(data, "detach") and hasattr(data, "cpu"):   # a torch tensor that needs grad
        data = data.detach().cpu()
    return np.asarray(data)


# ----------------------------------------------------------------------------- printing

def _format(t: Tensor) -> str:
    a = t._data if type(t._data) is np.ndarray else t._data.get()
    kind = a.dtype.kind
    if kind == "f":
        # as torch: whole numbers print as `1.`, otherwise 4 decimals for every element
        finite = a[np.isfinite(a)]
        whole = finite.size == 0 or bool((finite == np.round(finite)).all())
        body = np.array2string(a, separator=", ", prefix="tensor(", precision=4,
                               floatmode="maxprec_equal" if whole else "fixed",
                               threshold=1000, edgeitems=3)
    else:
        body = np.array2string(a, separator=", ", prefix="tensor(", threshold=1000,
                               edgeitems=3)
        if kind == "b":
            body = body.replace("True", "True").replace("False", "False")
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if a.dtype not in (np.float32, np.int64, np.bool_) or (a.size == 0 and a.dtype != np.float32):
        extras.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.op_name()}Backward>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"


# ----------------------------------------------------------------------------- wiring

def _make_out(arr, node, idx):
    if isinstance(arr, np.generic):          # NumPy ops on 0-d arrays return scalars
        arr = np.asarray(arr)
    t = _new(Tensor)
    t._data = arr
    t.requires_grad = True
    t.grad = None
    t.grad_fn = node
    t._out_idx = idx
    t._version = [0]
    t._hooks = None
    t._base = None
    t._retains_grad = False
    return t


_function._make = Tensor._wrap
_function._make_out = _make_out
