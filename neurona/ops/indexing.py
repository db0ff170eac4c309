"""Indexing: ``x[i]``, ``x[i] = v``, gather / scatter, index_select, take_along_dim,
embedding lookups, one_hot, nonzero, masked_select.

Notation: z = x[I] picks the elements of x at the positions I.  Every position of x that
was picked k times receives k copies of the gradient, every other position none:

    dL/dx = zeros(x.shape);  dL/dx[I] += dL/dz      (a *scatter-add*: repeats accumulate)

Semantics follow PyTorch (which follows NumPy here):

* ints, slices (positive steps only), ``None`` and ``...`` are *basic* indexing: the
  result is a view that shares memory (and the in-place version counter) with x;
* integer tensors / lists / arrays and boolean masks are *advanced* indexing: the
  result is a copy; several index tensors broadcast together, and when they are
  separated by a slice the broadcast dimensions come first;
* integers next to index tensors are applied first, as PyTorch does: x[0, :, [1, 2]] of
  a (3, 4, 5) tensor is x[0][:, [1, 2]], shape (4, 2) (NumPy would give (2, 4)).
"""
from __future__ import annotations

import operator

import numpy as np

from ..autograd.function import Function, array_types
from ..autograd.grad_mode import state
from .. import backend
from ..backend import xp_of, scatter_add_at
from ..tensor import Tensor
from ._util import wrap, fmt, norm_dim, unbroadcast, scalar_tensor
from .inplace import check_inplace, commit_inplace

__all__ = ["gather", "scatter", "scatter_add", "index_select", "take_along_dim", "nonzero",
           "argwhere", "masked_select"]


class IndexOutOfRange(IndexError, RuntimeError):
    """An index outside its dimension.  Both an IndexError (as for Python sequences and
    ``x[i]`` in PyTorch) and a RuntimeError (as PyTorch's gather/scatter raise)."""


def _oob(op, value, dim, size, negative_ok=True):
    """The error for an index outside its dimension, naming the index, dim and size."""
    if not size:
        valid = "the dimension is empty: no index is valid"
    elif negative_ok:
        valid = f"valid indices are {-size} ... {size - 1}"
    else:
        valid = f"valid indices are 0 ... {size - 1}; negative indices are not allowed here"
    return IndexOutOfRange(f"{op}: index {value} is out of bounds for dimension {dim} with "
                           f"size {size} ({valid})")


# ============================================================================ x[index]

class Slice(Function):
    """Basic indexing z = x[ints, slices, None, ...]: a view of x.
    dL/dx = zeros(x.shape) with dL/dx[index] = dL/dz (every position is picked at most once)."""

    is_view = True

    def forward(self, x, index=None):
        self.index = index
        self.shape = x.shape
        try:
            return x[index]
        except IndexError:
            raise _index_error(x.shape, index) from None

    def backward(self, g):
        gx = xp_of(g).zeros(self.shape, dtype=g.dtype)
        gx[self.index] = g
        return gx


class Index(Function):
    """Advanced indexing z = x[I] with integer or boolean index tensors: a copy.
    dL/dx = zeros(x.shape);  dL/dx[I] += dL/dz  (repeated indices accumulate).

    ``basic``: PyTorch applies integers (and slices, None) first, then the index tensors
    to that view; NumPy would treat integers as index arrays, which moves dimensions
    differently (x[0, :, [1, 2]] is (4, 2) in PyTorch, (2, 4) in NumPy).  So with
    integers present the index is applied in two steps, x[basic][index]."""

    def forward(self, x, index=None, basic=None, unique=False, full=None):
        self.index, self.basic, self.unique = index, basic, unique
        self.shape = x.shape
        if xp_of(x) is not np:
            _check_index(x.shape, full)      # CuPy wraps bad indices around silently
        try:
            return (x if basic is None else x[basic])[index]
        except IndexError:
            raise _index_error(x.shape, full) from None

    def backward(self, g):
        xp = xp_of(g)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        region = gx if self.basic is None else gx[self.basic]     # a view into gx
        if self.unique:                      # boolean masks: each position at most once
            region[self.index] = g
        else:
            scatter_add_at(xp, region, self.index, g)
        return gx


def _bad_step(step):
    return ValueError(f"indexing: slice step must be greater than zero, got {step}: neurona "
                      "(like PyTorch) has no negative strides; to reverse a dimension use "
                      "x.flip(dim) or an index tensor such as x[arange(n - 1, -1, -1)]")


def _parse(index, a):
    """Turn a Python index into a tuple NumPy understands.

    Returns (index tuple, advanced?, unique?, split) where ``unique`` says that no position
    can be picked twice (only boolean masks and basic indices), so backward may assign
    instead of scatter-add, and ``split`` is None or, for advanced indices mixed with
    integers, the (basic, advanced) pair to apply one after the other as PyTorch does.
    A trailing ``...`` is added so that picking one element still gives a 0-d array
    (NumPy would return a scalar)."""
    if type(index) is not tuple:
        index = (index,)
    out = []
    advanced = False
    unique = True
    ellipsis = False
    has_int = False
    xp = None
    for i in index:
        ti = type(i)
        if ti is int:
            has_int = True
            out.append(i)
            continue
        if i is None:
            out.append(i)
            continue
        if ti is slice:
            if i.step is not None and i.step <= 0:
                raise _bad_step(i.step)
            out.append(i)
            continue
        if i is Ellipsis:
            if ellipsis:
                raise IndexError("indexing: an index can only have a single ellipsis ('...')")
            ellipsis = True
            out.append(i)
            continue
        if ti is bool:
            advanced = True
            out.append(i)
            continue
        if isinstance(i, Tensor):
            arr = i._data
        elif isinstance(i, array_types):
            arr = i
        elif isinstance(i, (list, tuple, range)):
            arr = np.asarray(i)
            if arr.size == 0:
                arr = arr.astype(np.int64)
        elif hasattr(i, "__index__"):             # NumPy integers and the like
            has_int = True
            out.append(operator.index(i))
            continue
        else:
            raise IndexError(
                f"indexing: a {type(i).__name__} can't be used as an index; use ints, slices, "
                "None, ..., integer tensors or bool tensors")
        kind = arr.dtype.kind
        if kind == "b":
            pass
        elif kind in "iu":
            if arr.dtype == np.uint8:                 # PyTorch: byte tensors are masks
                arr = arr.astype(np.bool_)
            else:
                unique = False
        else:
            raise IndexError(
                f"indexing: tensors used as indices must be long, int, byte or bool tensors, "
                f"got {arr.dtype}; convert the index with .long() (or compare to get a mask)")
        if xp is None:
            xp = xp_of(a)
        if xp is not np and type(arr) is np.ndarray:
            arr = xp.asarray(arr)
        advanced = True
        out.append(arr)
    if not ellipsis:
        out.append(Ellipsis)
    split = _split(out) if advanced and has_int else None
    return tuple(out), advanced, unique, split


def _split(index):
    """(basic, advanced): ints, slices and None applied first (index arrays replaced by
    full slices), then the index arrays on the view that leaves."""
    basic, adv = [], []
    for i in index:
        if type(i) is int:
            basic.append(i)
        elif type(i) is slice:
            basic.append(i)
            adv.append(slice(None))
        elif i is None:
            basic.append(None)
            adv.append(slice(None))
        elif i is Ellipsis:
            basic.append(i)
            adv.append(i)
        elif type(i) is bool:
            adv.append(i)
        else:
            n = i.ndim if i.dtype.kind == "b" else 1
            basic.extend([slice(None)] * n)
            adv.append(i)
    return tuple(basic), tuple(adv)


def _is_array(i):
    return isinstance(i, array_types)


def _check_index(shape, index):
    """Raise an IndexError naming the dimension, index and size of the first problem."""
    ndim = len(shape)
    used = 0
    for i in index:
        if type(i) is int or type(i) is slice:
            used += 1
        elif _is_array(i):
            used += i.ndim if i.dtype.kind == "b" else 1
    if used > ndim:
        raise IndexError(f"indexing: too many indices for a tensor of dimension {ndim} "
                         f"(shape {tuple(shape)}): {used} dimensions were indexed"
                         + ("; use .item() to read a 0-d tensor" if ndim == 0 else ""))
    dim = 0
    shapes = []
    for i in index:
        if i is None or type(i) is bool:
            continue
        if i is Ellipsis:
            dim += ndim - used
            continue
        if type(i) is int:
            n = shape[dim]
            if not -n <= i < n:
                raise _oob("indexing", i, dim, n)
            dim += 1
        elif type(i) is slice:
            dim += 1
        elif i.dtype.kind == "b":
            covered = tuple(shape[dim:dim + i.ndim])
            if tuple(i.shape) != covered:
                raise IndexError(
                    f"indexing: the boolean mask of shape {tuple(i.shape)} does not match the "
                    f"tensor's shape {covered} in dimension(s) {dim}..{dim + i.ndim - 1} "
                    f"(tensor shape {tuple(shape)}); a mask must have exactly the shape of "
                    "the dimensions it covers")
            shapes.append((int(i.sum()),) if i.ndim else ())
            dim += i.ndim
        else:
            n = shape[dim]
            if i.size:
                lo, hi = int(i.min()), int(i.max())
                if lo < -n or hi >= n:
                    raise _oob("indexing", lo if lo < -n else hi, dim, n)
            shapes.append(tuple(i.shape))
            dim += 1
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError(
            "indexing: shape mismatch: the index tensors could not be broadcast together "
            f"with shapes {', '.join(str(s) for s in shapes)} (boolean masks count as 1-d "
            "tensors of their number of True elements)") from None


def _index_error(shape, index):
    _check_index(shape, index)
    return IndexError(f"indexing: invalid index {index!r} for a tensor of shape {tuple(shape)}")


def getitem(self, index):
    """``x[index]`` with PyTorch's rules (see the module docstring)."""
    ti = type(index)
    if ti is int:
        return Slice.apply(self, index=(index, Ellipsis))
    if ti is slice:
        if index.step is not None and index.step <= 0:
            raise _bad_step(index.step)
        return Slice.apply(self, index=(index, Ellipsis))
    idx, advanced, unique, split = _parse(index, self._data)
    if advanced:
        if split is None:
            return Index.apply(self, index=idx, unique=unique, full=idx)
        return Index.apply(self, index=split[1], basic=split[0], unique=unique, full=idx)
    return Slice.apply(self, index=idx)


# ============================================================================ x[index] = v

class IndexPut(Function):
    """z = x with z[I] = v (v broadcast to the region x[I]).
    dL/dx = dL/dz with the region I zeroed (those values were overwritten);
    dL/dv = dL/dz[I], summed down to v's shape (the backward of broadcasting)."""

    def forward(self, x, v, index=None, basic=None, full=None):
        out = x.copy()
        _assign(out, index, basic, full, v)
        self.index, self.basic = index, basic
        self.vmeta = (v.shape, v.dtype)
        return out

    def backward(self, g):
        nx, nv = self.needs_input_grad
        basic, index = self.basic, self.index
        gx = gv = None
        if nx:
            gx = g.copy()
            (gx if basic is None else gx[basic])[index] = 0
        if nv:
            vshape, vdtype = self.vmeta
            r = (g if basic is None else g[basic])[index]
            if r.dtype != vdtype:               # sum in the value's dtype, as PyTorch
                r = r.astype(vdtype)
            if r.ndim < len(vshape):            # v had extra leading 1-dims
                r = r.reshape((1,) * (len(vshape) - r.ndim) + r.shape)
            gv = unbroadcast(r, vshape, vdtype)
        return gx, gv


def _assign(a, index, basic, full, v):
    """a[index] = v (after the basic step, when given) with errors that name the shapes."""
    if xp_of(a) is not np:
        _check_index(a.shape, full)
    region = a if basic is None else a[basic]
    try:
        region[index] = v
    except IndexError:
        raise _index_error(a.shape, full) from None
    except ValueError:
        raise RuntimeError(
            f"index assignment: a value of shape {tuple(np.shape(v))} can't be broadcast to "
            f"the indexed region of shape {tuple(region[index].shape)} (tensor shape "
            f"{tuple(a.shape)}); the value's dimensions, counted from the right, must equal "
            "the region's or be 1") from None


def setitem(self, index, value):
    """``x[index] = value`` (value: a number, a tensor or an array-like; broadcast).

    Outside the graph the numbers are written into x's memory.  When x or the value
    requires grad, x takes the result of the out-of-place op :class:`IndexPut` (see
    :mod:`neurona.ops.inplace`)."""
    check_inplace(self, "index assignment (x[i] = v)")
    ti = type(index)
    basic = None
    if ti is int:
        idx = full = (index, Ellipsis)
    elif ti is slice:
        if index.step is not None and index.step <= 0:
            raise _bad_step(index.step)
        idx = full = (index, Ellipsis)
    else:
        full, _, _, split = _parse(index, self._data)
        basic, idx = split if split is not None else (None, full)
    is_t = isinstance(value, Tensor)
    if state.grad and (self.requires_grad or (is_t and value.requires_grad)):
        v = value if is_t else scalar_tensor(value, self) if isinstance(value, (int, float)) \
            else Tensor(value)
        out = IndexPut.apply(self, v, index=idx, basic=basic, full=full)
        commit_inplace(self, out, "index assignment (x[i] = v)")
        return
    a = self._data
    if is_t:
        v = value._data
    elif isinstance(value, (list, tuple)):
        v = np.asarray(value)
    else:
        v = value
    if type(v) is np.ndarray and xp_of(a) is not np:
        v = xp_of(a).asarray(v)
    _assign(a, idx, basic, full, v)
    self._version[0] += 1


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem


# ============================================================================ gather / scatter

def _grid(index, dim):
    """Index arrays that address position (i0, .., index[i], .., ik) for every element i of
    ``index``: arange along each other dim (broadcastable), ``index`` itself along ``dim``."""
    xp = xp_of(index)
    nd = index.ndim
    out = []
    for d in range(nd):
        if d == dim:
            out.append(index)
        else:
            shp = [1] * nd
            shp[d] = index.shape[d]
            out.append(xp.arange(index.shape[d]).reshape(shp))
    return tuple(out)


def _corner(index):
    """The slices covering index's extent in every dim: the part of src a scatter uses."""
    return tuple(slice(0, n) for n in index.shape)


def _int_index(op, index, what="index"):
    a = index._data if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: {what} must be an integer (int64) tensor, got {a.dtype}; "
                           "convert it with .long()")
    return a


def _check_range(op, a, size, dim, negative_ok=False):
    """One min/max over an index array: raise naming the first bad value."""
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        low = -size if negative_ok else 0
        if lo < low or hi >= size:
            raise _oob(op, lo if lo < low else hi, dim, size, negative_ok)


def _gather_checks(op, x, dim, index, what="input"):
    """PyTorch's gather/scatter shape rules: same number of dims, index no larger than x
    in every dim but ``dim``."""
    if index.ndim != x.ndim and not (index.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError(f"{op}: index must have the same number of dimensions as {what} "
                           f"(index {fmt(index)}, {what} {fmt(x)})")
    for d in range(index.ndim):
        if d != dim and index.shape[d] > x.shape[d]:
            raise RuntimeError(
                f"{op}: index {tuple(index.shape)} must be no larger than {what} "
                f"{tuple(x.shape)} in every dimension except dim={dim} (dimension {d} is "
                f"{index.shape[d]} > {x.shape[d]})")


class Gather(Function):
    """z = gather(x, dim, index):  z[i][j][k] = x[index[i][j][k]][j][k]  (dim = 0; likewise
    for other dims).  dL/dx[index[i][j][k]][j][k] += dL/dz[i][j][k]."""

    def forward(self, x, dim=0, index=None):
        self.shape = x.shape
        self.grid = grid = _grid(index, dim)     # the positions picked, one array per dim
        return x[grid]

    def backward(self, g):
        xp = xp_of(g)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        scatter_add_at(xp, gx, self.grid, g)
        return gx


def gather(input, dim, index, *, sparse_grad=False):
    """Pick values along ``dim``: out[i][j][k] = input[index[i][j][k]][j][k] (dim=0).

    ``index`` has input's number of dims and is no larger than input in the other dims;
    the result has index's shape."""
    x = input._data
    dim = norm_dim(dim, x.ndim, "gather")
    a = _int_index("gather", index)
    _gather_checks("gather", x, dim, a)
    if x.ndim == 0 or a.ndim == 0:            # 0-d input or index: as 1-element vectors
        x1 = input.reshape(1) if x.ndim == 0 else input
        a1 = a.reshape(1) if a.ndim == 0 else a
        _check_range("gather", a1, x1.shape[dim], dim)
        return Gather.apply(x1, dim=dim, index=a1).reshape(a.shape)
    _check_range("gather", a, x.shape[dim], dim)
    return Gather.apply(input, dim=dim, index=a)


class ScatterAdd(Function):
    """z = scatter_add(x, dim, index, src):  z = x, then z[index[i][j][k]][j][k] += src[i][j][k]
    (dim = 0).  dL/dx = dL/dz;  dL/dsrc[i][j][k] = dL/dz[index[i][j][k]][j][k]  (a gather;
    0 for elements of src outside index's extent)."""

    def forward(self, x, src, dim=0, index=None):
        out = x.copy()
        s = src if src.shape == index.shape else src[_corner(index)]
        scatter_add_at(xp_of(x), out, _grid(index, dim), s)
        self.dim, self.index, self.sshape = dim, index, src.shape
        return out

    def backward(self, g):
        nx, ns = self.needs_input_grad
        return (g if nx else None,
                _gather_back(g, self.dim, self.index, self.sshape) if ns else None)


def _gather_back(g, dim, index, sshape):
    """dL/dsrc of a scatter: gather dL/dz at the scattered positions, zeros elsewhere."""
    xp = xp_of(g)
    picked = g[_grid(index, dim)]
    if picked.shape == tuple(sshape):
        return picked
    gs = xp.zeros(sshape, dtype=g.dtype)
    gs[_corner(index)] = picked
    return gs


class Scatter(Function):
    """z = scatter(x, dim, index, src):  z = x, then z[index[i][j][k]][j][k] = src[i][j][k]
    (dim = 0).  dL/dx = dL/dz with the written positions zeroed;
    dL/dsrc[i][j][k] = dL/dz[index[i][j][k]][j][k].  (With repeated indices one write wins,
    as in PyTorch, where the winner is unspecified.)"""

    def forward(self, x, src, dim=0, index=None):
        out = x.copy()
        grid = _grid(index, dim)
        if src.ndim == 0:
            out[grid] = src
        else:
            out[grid] = src if src.shape == index.shape else src[_corner(index)]
        self.dim, self.index, self.sshape = dim, index, src.shape
        return out

    def backward(self, g):
        nx, ns = self.needs_input_grad
        gx = gs = None
        if nx:
            gx = g.copy()
            gx[_grid(self.index, self.dim)] = 0
        if ns:
            if len(self.sshape) == 0:           # a number was scattered everywhere
                gs = xp_of(g).asarray(_gather_back(g, self.dim, self.index,
                                                   self.index.shape).sum())
            else:
                gs = _gather_back(g, self.dim, self.index, self.sshape)
        return gx, gs


def _scatter_args(op, input, dim, index, src):
    x = input._data
    dim = norm_dim(dim, x.ndim, op)
    a = _int_index(op, index)
    _gather_checks(op, x, dim, a, "input")
    if isinstance(src, Tensor) and src.ndim:
        sa = src._data
        if sa.ndim != a.ndim or any(i > n for i, n in zip(a.shape, sa.shape)):
            raise RuntimeError(f"{op}: index {tuple(a.shape)} must have src's number of "
                               f"dimensions and be no larger than src {tuple(sa.shape)} in "
                               "every dimension")
        if src._data.dtype != x.dtype:
            raise RuntimeError(f"{op}: src {fmt(src)} must have the dtype of input {fmt(input)}; "
                               f"convert it with src.to({input.dtype})")
    if x.ndim:
        _check_range(op, a, x.shape[dim], dim)
    elif a.size:
        _check_range(op, a, 1, 0)
    return dim, a


def scatter_add(input, dim, index, src):
    """out = input.clone(); out[index[i][j][k]][j][k] += src[i][j][k] (dim=0): repeats add up."""
    dim, a = _scatter_args("scatter_add", input, dim, index, src)
    if input.ndim == 0 or a.ndim == 0:        # 0-d input or index: as 1-element vectors
        x1 = input.reshape(1) if input.ndim == 0 else input
        s1 = src.reshape(1) if src.ndim == 0 else src
        return ScatterAdd.apply(x1, s1, dim=dim, index=a.reshape(1) if a.ndim == 0 else a) \
            .reshape(input.shape)
    return ScatterAdd.apply(input, src, dim=dim, index=a)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """out = input.clone(); out[index[i][j][k]][j][k] = src[i][j][k] (dim=0); ``src`` may be a
    number (or pass ``value=``).  ``reduce='add'`` is scatter_add; 'multiply' has no gradient."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: give src (a tensor or a number) or value=")
    if not isinstance(src, Tensor):
        src = scalar_tensor(src, input)
    dim, a = _scatter_args("scatter", input, dim, index, src)
    if reduce is not None:
        if reduce == "add":
            if src.ndim == 0:
                src = wrap(xp_of(a).broadcast_to(src._data, a.shape).copy())
            return ScatterAdd.apply(input, src, dim=dim, index=a)
        if reduce == "multiply":
            if state.grad and (input.requires_grad or src.requires_grad):
                raise RuntimeError("scatter(reduce='multiply') has no gradient; use "
                                   "no_grad() or compute it with gather and mul")
            out = input._data.copy()
            s = src._data if src.ndim == 0 else src._data[_corner(a)]
            backend.scatter_multiply_at(xp_of(out), out, _grid(a, dim), s)
            return wrap(out)
        raise ValueError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
    if input.ndim == 0 or a.ndim == 0:        # 0-d input or index: as 1-element vectors
        x1 = input.reshape(1) if input.ndim == 0 else input
        s1 = src.reshape(1) if src.ndim == 1 and a.ndim == 0 else src
        return Scatter.apply(x1, s1, dim=dim, index=a.reshape(1) if a.ndim == 0 else a) \
            .reshape(input.shape)
    return Scatter.apply(input, src, dim=dim, index=a)


def _scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    check_inplace(self, "scatter_")
    return commit_inplace(self, scatter(self, dim, index, src, value, reduce=reduce), "scatter_")


def _scatter_add_(self, dim, index, src):
    check_inplace(self, "scatter_add_")
    return commit_inplace(self, scatter_add(self, dim, index, src), "scatter_add_")


# ============================================================================ index_select

class IndexSelect(Function):
    """z = index_select(x, dim, i):  z[.., k, ..] = x[.., i[k], ..]  (k along ``dim``).
    dL/dx[.., i[k], ..] += dL/dz[.., k, ..]."""

    def forward(self, x, dim=0, index=None):
        self.shape, self.dim, self.index = x.shape, dim, index
        return xp_of(x).take(x, index, axis=dim)

    def backward(self, g):
        xp = xp_of(g)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        dim = self.dim
        scatter_add_at(xp, gx, self.index if dim == 0 else
                       (slice(None),) * dim + (self.index,), g)
        return gx


def index_select(input, dim, index):
    """The slices ``index[0], index[1], ...`` of ``input`` along ``dim`` (index: 1-d integer)."""
    x = input._data
    dim = norm_dim(dim, x.ndim, "index_select")
    a = _int_index("index_select", index)
    if a.ndim > 1:
        raise IndexError(f"index_select: index must be a 1-d (or 0-d) tensor, got shape "
                         f"{tuple(a.shape)}; flatten it, or use x[index] for N-d lookups")
    if a.ndim == 0:
        a = a.reshape(1)
    if x.ndim == 0:
        _check_range("index_select", a, 1, 0)
        return IndexSelect.apply(input.reshape(1), dim=0, index=a)
    _check_range("index_select", a, x.shape[dim], dim)
    return IndexSelect.apply(input, dim=dim, index=a)


# ============================================================================ take_along_dim

class TakeAlongDim(Function):
    """z = take_along_dim(x, index, dim): like gather, but x and index broadcast against each
    other in the dims other than ``dim``.  dL/dx: scatter-add dL/dz back, then sum over the
    broadcast dims."""

    def forward(self, x, dim=0, index=None):
        self.shape, self.dim, self.index = x.shape, dim, index
        return xp_of(x).take_along_axis(x, index, axis=dim)

    def backward(self, g):
        xp = xp_of(g)
        full = list(g.shape)
        full[self.dim] = self.shape[self.dim]
        gx = xp.zeros(full, dtype=g.dtype)
        idx = xp.broadcast_to(self.index, g.shape)
        scatter_add_at(xp, gx, _grid(idx, self.dim), g)
        return unbroadcast(gx, self.shape)


def take_along_dim(input, indices, dim=None):
    """Values of ``input`` at ``indices`` along ``dim`` (input and indices broadcast in the
    other dims); ``dim=None`` works on the flattened input."""
    a = _int_index("take_along_dim", indices, "indices")
    if dim is None:
        x = input.reshape(-1)
        a = a.reshape(-1)
        _check_range("take_along_dim", a, x.shape[0], 0)
        return TakeAlongDim.apply(x, dim=0, index=a)
    x = input._data
    dim = norm_dim(dim, x.ndim, "take_along_dim")
    if a.ndim != x.ndim:
        raise RuntimeError(f"take_along_dim: input and indices should have the same number of "
                           f"dimensions (input {fmt(x)}, indices {fmt(a)})")
    try:
        np.broadcast_shapes(tuple(s for d, s in enumerate(x.shape) if d != dim),
                            tuple(s for d, s in enumerate(a.shape) if d != dim))
    except ValueError:
        raise RuntimeError(f"take_along_dim: input {tuple(x.shape)} and indices "
                           f"{tuple(a.shape)} can't be broadcast together in the dimensions "
                           f"other than dim={dim}") from None
    _check_range("take_along_dim", a, x.shape[dim], dim)
    return TakeAlongDim.apply(input, dim=dim, index=a)


# ============================================================================ embedding

class Embedding(Function):
    """z[..., :] = W[i[...], :]  (one row of the table W per index).
    dL/dW[r] = sum of dL/dz over the positions where i == r (0 for the padding row)."""

    def forward(self, w, index=None, padding_idx=None, scale_grad_by_freq=False):
        self.index, self.shape = index, w.shape
        self.padding_idx, self.scale = padding_idx, scale_grad_by_freq
        return xp_of(w).take(w, index, axis=0)

    def backward(self, g):
        xp = xp_of(g)
        idx = self.index.reshape(-1)
        g2 = g.reshape(idx.shape[0], -1)
        if self.scale:          # divide each row's gradient by how often it was looked up
            counts = xp.bincount(idx, minlength=self.shape[0])
            g2 = g2 / counts[idx][:, None].astype(g.dtype)
        gw = xp.zeros((self.shape[0], g2.shape[1]), dtype=g.dtype)
        scatter_add_at(xp, gw, idx, g2)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw.reshape(self.shape)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input``
    (any shape); the result has shape input.shape + (embedding_dim,).

    ``padding_idx``: that row gets no gradient.  ``max_norm``: rows that are looked up and
    whose ``norm_type``-norm exceeds it are rescaled in place to that norm first (as
    PyTorch).  ``scale_grad_by_freq``: divide gradients by the lookups' frequency in the
    batch.  ``sparse`` is accepted and ignored (gradients are dense)."""
    a = _int_index("embedding", input, "input")
    w = weight._data
    if w.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), "
                           f"got {fmt(w)}")
    n = w.shape[0]
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexOutOfRange(
                f"embedding: index {bad} is out of range for an embedding table with {n} rows "
                f"(valid indices are 0 ... {n - 1}); make num_embeddings larger than the "
                "largest token id (e.g. the vocabulary size)")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"[{-n}, {n - 1}] for {n} embeddings")
        if padding_idx < 0:
            padding_idx += n
    if max_norm is not None:
        xp = xp_of(w)
        rows = xp.unique(a.reshape(-1))
        norms = xp.linalg.norm(w[rows], ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] *= scale[:, None]
        weight._version[0] += 1
    return Embedding.apply(weight, index=a, padding_idx=padding_idx,
                           scale_grad_by_freq=scale_grad_by_freq)


# ============================================================================ no-grad helpers

def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each class index.
    ``num_classes=-1`` takes the largest value + 1."""
    a = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: the input must be an integer tensor of class indices, "
                           f"got {a.dtype}; convert it with .long()")
    xp = xp_of(a)
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {lo}")
        if num_classes == -1:
            num_classes = hi + 1
        elif hi >= num_classes:
            raise RuntimeError(f"one_hot: class value {hi} is out of range for "
                               f"num_classes={num_classes}; values must lie in "
                               f"[0, num_classes), so pass num_classes={hi + 1} or more")
    elif num_classes == -1:
        raise RuntimeError("one_hot: can't infer the number of classes from an empty tensor; "
                           "pass num_classes")
    return wrap((a[..., None] == xp.arange(num_classes)).astype(np.int64))


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: an int64 tensor of shape (count, ndim), or with
    ``as_tuple=True`` one 1-d tensor per dimension (usable as an index)."""
    a = input._data
    xp = xp_of(a)
    if as_tuple:
        return tuple(wrap(i.astype(np.int64, copy=False))
                     for i in xp.nonzero(a if a.ndim else a.reshape(1)))
    return wrap(xp.argwhere(a).astype(np.int64, copy=False))


def argwhere(input):
    """Same as ``nonzero(input)``: a (count, ndim) int64 tensor."""
    return nonzero(input)


class MaskedSelect(Function):
    """z = x[mask] (a 1-d tensor; x and mask broadcast together).
    dL/dx = zeros with dL/dz written into the True positions, summed over broadcast dims."""

    def forward(self, x, mask=None):
        xp = xp_of(x)
        try:
            xb, mb = xp.broadcast_arrays(x, mask)
        except ValueError:
            raise RuntimeError(f"masked_select: mask of shape {tuple(mask.shape)} and input "
                               f"of shape {tuple(x.shape)} can't be broadcast together") from None
        self.mask, self.shape = mb, x.shape
        return xb[mb]

    def backward(self, g):
        mb = self.mask
        full = xp_of(g).zeros(mb.shape, dtype=g.dtype)
        full[mb] = g
        return unbroadcast(full, self.shape)


def masked_select(input, mask):
    """The elements of ``input`` where the bool ``mask`` is True, as a 1-d tensor."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_select: mask must be a bool tensor, got {m.dtype}; "
                           "compare first, e.g. x > 0")
    return MaskedSelect.apply(input, mask=m)


Tensor.gather = gather
Tensor.scatter = scatter
Tensor.scatter_ = _scatter_
Tensor.scatter_add = scatter_add
Tensor.scatter_add_ = _scatter_add_
Tensor.index_select = index_select
Tensor.take_along_dim = take_along_dim
Tensor.nonzero = nonzero
Tensor.argwhere = argwhere
Tensor.masked_select = masked_select
