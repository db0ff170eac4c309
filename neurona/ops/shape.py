"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, flatten, cat/stack,
split/chunk/unbind, pad, flip, repeat, and conversions (dtype casts, device moves, copies).

None of these ops changes a number; they only move numbers around.  So every backward
moves the gradient back the same way: reshape it back, transpose it back, slice out the
part each input filled, or sum the copies an op made (expand, repeat):
dL/dx_i = sum over the outputs z_k that are copies of x_i of dL/dz_k.

Views: reshape (when no copy is needed), permute, transpose, squeeze, unsqueeze, expand
and flatten return tensors that share memory with their input, as in PyTorch: changing
one in place (outside autograd) changes the other.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, dtypes
from ..autograd.function import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import norm_dim, norm_dims, unbroadcast, wrap, fmt

__all__ = ["reshape", "view", "permute", "transpose", "swapaxes", "swapdims", "t", "movedim",
           "moveaxis", "squeeze", "unsqueeze", "expand", "expand_as", "broadcast_to",
           "flatten", "unflatten", "cat", "concat", "concatenate", "stack", "hstack", "vstack",
           "split", "chunk", "unbind", "pad", "flip", "repeat", "contiguous", "clone", "to"]

_generic = np.generic
_int_types = (int, np.integer)


def _nd(out):
    """NumPy returns scalars for some 0-d results; tensors hold 0-d arrays instead."""
    return np.asarray(out) if isinstance(out, _generic) else out


def _sizes(args):
    """Sizes given as varargs ``f(2, 3)`` or one sequence ``f((2, 3))``."""
    if len(args) == 1 and not isinstance(args[0], _int_types):
        return tuple(args[0])
    return args


# ----------------------------------------------------------------------------- reshape / view

class Reshape(Function):
    """z = x with a new shape (the same elements in row-major order); a view of x.
    dL/dx = reshape(dL/dz, shape of x)."""
    is_view = True

    def forward(self, x, shape=(), op="reshape"):
        self.in_shape = x.shape
        try:
            out = x.reshape(shape)
        except (ValueError, TypeError):
            raise _reshape_error(op, x, shape) from None
        return out if out.ndim else _nd(out)

    def backward(self, g):
        return g.reshape(self.in_shape)


class ReshapeCopy(Reshape):
    """Reshape of a tensor whose memory layout needs a copy (e.g. after a transpose);
    the same formulas as :class:`Reshape`, but the result does not share memory."""
    is_view = False
    name = "Reshape"

    def forward(self, x, shape=(), op="reshape", out=None, source=None):
        self.in_shape = x.shape
        # ``out`` is the copy _reshape already made of ``source``; when the op runs on
        # other data (the gradient checker re-runs ops on perturbed inputs) reshape afresh
        return out if out is not None and source is x else x.reshape(shape)


def _reshape_error(op, x, shape):
    n = math.prod(x.shape)
    shape = tuple(shape)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        return TypeError(f"{op}: the shape must be ints, got {shape!r}")
    unknown = [s for s in shape if s == -1]
    if len(unknown) > 1:
        why = "only one dimension can be -1 (inferred)"
    elif any(s < -1 for s in shape):
        why = "sizes must be non-negative (or -1 for one inferred dimension)"
    elif unknown:
        rest = math.prod(s for s in shape if s != -1)
        why = (f"the -1 dimension can't be inferred: {n} is not divisible by {rest}"
               if rest else "the -1 dimension is ambiguous for a shape with a 0 size")
    else:
        why = f"it has {math.prod(shape)} elements but the input has {n}"
    hint = ""
    if op == "view":
        hint = (" (view keeps the number of elements; for a non-contiguous tensor use "
                ".reshape() or .contiguous().view())")
    return RuntimeError(f"{op}: shape {shape} is invalid for input of size {n} with shape "
                        f"{tuple(x.shape)}: {why}{hint}")


def _one_shape(s):
    """The shape given as one argument: a sequence, or one int-like size."""
    if isinstance(s, (tuple, list)):
        return tuple(s)
    if isinstance(s, _int_types) or isinstance(s, Tensor) and s._data.ndim == 0:
        return (int(s),)
    return tuple(s)


def _reshape(input, shape, op):
    a = input._data
    if a.flags.c_contiguous:                 # a reshape of contiguous memory is always a view
        return Reshape.apply(input, shape=shape, op=op)
    try:
        out = a.reshape(shape)
    except (ValueError, TypeError):
        raise _reshape_error(op, a, shape) from None
    if xp_of(a).may_share_memory(a, out):
        return Reshape.apply(input, shape=shape, op=op)
    return ReshapeCopy.apply(input, shape=shape, op=op, out=out, source=a)


def reshape(input, *shape):
    """The same elements in a new shape (one size may be -1: inferred).  A view when the
    memory layout allows it, else a copy."""
    if len(shape) == 1 and type(shape[0]) is not int:
        shape = _one_shape(shape[0])
    a = input._data
    if a.flags.c_contiguous:
        return Reshape.apply(input, shape=shape)
    return _reshape(input, shape, "reshape")


def view(input, *shape):
    """The same elements in a new shape, sharing memory (as reshape; here a non-contiguous
    tensor is copied rather than refused).  ``view(dtype)`` reinterprets the bytes (no grad)."""
    if len(shape) == 1 and type(shape[0]) is not int:
        s = shape[0]
        if not isinstance(s, (tuple, list, _int_types, Tensor)) and \
                (isinstance(s, dtypes.DType) or not hasattr(s, "__len__")):
            return _view_dtype(input, s)
        shape = _one_shape(s)
    a = input._data
    if a.flags.c_contiguous:
        return Reshape.apply(input, shape=shape, op="view")
    return _reshape(input, shape, "view")


def _view_dtype(input, dtype):
    dt = dtypes.to_dtype(dtype).np
    a = input._data
    try:
        return wrap(a.view(dt))
    except ValueError:
        raise RuntimeError(f"view: can't view a tensor of {fmt(a)} as {dtypes.to_dtype(dtype)}: "
                           "the last dimension must be contiguous and its size in bytes must "
                           "divide evenly") from None


def _reshape_as(input, other):
    return reshape(input, other.shape)


def _view_as(input, other):
    return view(input, other.shape)


# ----------------------------------------------------------------------------- permute / transpose

class Permute(Function):
    """z = x with its dims reordered: z[i_{p(0)}, i_{p(1)}, ...] = x[i_0, i_1, ...]; a view.
    dL/dx = dL/dz permuted back by the inverse permutation."""
    is_view = True

    def forward(self, x, dims=()):
        try:
            out = x.transpose(dims)
        except (ValueError, TypeError, IndexError):
            raise _permute_error(x, dims) from None
        self.dims = dims
        return out if out.ndim else _nd(out)

    def backward(self, g):
        n = g.ndim
        inv = [0] * n
        for i, d in enumerate(self.dims):
            inv[d % n] = i
        return g.transpose(inv)


def _permute_error(x, dims):
    nd = x.ndim
    if len(dims) != nd:
        return RuntimeError(f"permute: the tensor has {nd} dimension(s) (shape "
                            f"{tuple(x.shape)}) but {len(dims)} dims were given: {tuple(dims)}; "
                            "give each dimension exactly once")
    normed = [norm_dim(d, nd, "permute") for d in dims]
    return RuntimeError(f"permute: dims {tuple(dims)} name the same dimension twice "
                        f"({tuple(normed)} for a tensor of shape {tuple(x.shape)}); "
                        "give each dimension exactly once")


def permute(input, *dims):
    """Reorder the dims: ``x.permute(2, 0, 1)`` makes dim 2 the first.  A view."""
    if len(dims) == 1 and type(dims[0]) is not int:
        dims = tuple(dims[0])
    return Permute.apply(input, dims=dims)


class Transpose(Function):
    """z = x with dims d0 and d1 swapped; a view.    dL/dx = dL/dz with d0 and d1 swapped back."""
    is_view = True

    def forward(self, x, dim0=0, dim1=1):
        try:
            out = x.swapaxes(dim0, dim1)
        except (ValueError, IndexError):
            nd = x.ndim
            norm_dim(dim0, nd, "transpose")
            norm_dim(dim1, nd, "transpose")
            out = np.asarray(x).reshape(()) if isinstance(x, _generic) else x.reshape(())
            dim0 = dim1 = None         # a 0-d tensor: nothing to swap
        self.d0, self.d1 = dim0, dim1
        return out

    def backward(self, g):
        return g if self.d0 is None else g.swapaxes(self.d0, self.d1)


def transpose(input, dim0, dim1):
    """Swap dims ``dim0`` and ``dim1``.  A view."""
    return Transpose.apply(input, dim0=dim0, dim1=dim1)


swapaxes = swapdims = transpose


def t(input):
    """Transpose of a matrix (dims 0 and 1); 0-d and 1-d tensors are returned as they are."""
    nd = input._data.ndim
    if nd < 2:
        return input
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but this one has {nd} "
                           f"(shape {tuple(input.shape)}); use .transpose(dim0, dim1) or .mT")
    return Transpose.apply(input, dim0=0, dim1=1)


def _T(self):
    nd = self._data.ndim
    if nd < 2:
        return self
    if nd == 2:
        return Transpose.apply(self, dim0=0, dim1=1)
    return Permute.apply(self, dims=tuple(range(nd - 1, -1, -1)))


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices, "
                           f"but this tensor has shape {tuple(self.shape)}")
    return Transpose.apply(self, dim0=-2, dim1=-1)


def movedim(input, source, destination):
    """Move dim(s) ``source`` to position(s) ``destination``, keeping the others' order."""
    nd = input._data.ndim
    src = (source,) if isinstance(source, _int_types) else tuple(source)
    dst = (destination,) if isinstance(destination, _int_types) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {src} and destination {dst} must have the same "
                           "number of dims")
    src = [norm_dim(d, nd, "movedim") for d in src]
    dst = [norm_dim(d, nd, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {tuple(src)} or destination "
                           f"{tuple(dst)}")
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(input, dims=tuple(order))


moveaxis = movedim


# ----------------------------------------------------------------------------- squeeze / unsqueeze

class Squeeze(Function):
    """z = x without the listed size-1 dims (all size-1 dims when None); a view.
    dL/dx = reshape(dL/dz, shape of x)."""
    is_view = True

    def forward(self, x, axes=None):
        self.in_shape = x.shape
        out = x.squeeze(axes)
        return out if out.ndim else _nd(out)

    def backward(self, g):
        return g.reshape(self.in_shape)


def squeeze(input, dim=None):
    """Remove dims of size 1: all of them, or only ``dim`` (an int or tuple).  A dim whose
    size is not 1 is left as it is (as PyTorch)."""
    a = input._data
    nd = a.ndim
    if dim is None:
        axes = None
    elif type(dim) is int:
        if -nd <= dim < nd:
            axes = (dim,) if a.shape[dim] == 1 else ()
        else:
            norm_dim(dim, nd, "squeeze")
            axes = ()
    else:
        if isinstance(dim, (tuple, list)):
            dims = norm_dims(dim, nd, "squeeze") if nd else ()
            if not nd:
                for d in dim:
                    norm_dim(d, 0, "squeeze")
        else:
            dims = (norm_dim(dim, nd, "squeeze"),) if nd else ()
        axes = tuple([d for d in dims if a.shape[d] == 1])
    return Squeeze.apply(input, axes=axes)


class Unsqueeze(Function):
    """z = x with a new dim of size 1 at position d; a view.    dL/dx = dL/dz without dim d."""
    is_view = True

    def forward(self, x, dim=0):
        self.d = dim
        return x[(slice(None),) * dim + (None,)]

    def backward(self, g):
        return g.squeeze(self.d)


def unsqueeze(input, dim):
    """Insert a dim of size 1 at position ``dim`` (from -ndim-1 to ndim).  A view."""
    nd = input._data.ndim + 1
    if type(dim) is not int or not -nd <= dim < nd:
        dim = norm_dim(dim, nd, "unsqueeze")
    elif dim < 0:
        dim += nd
    return Unsqueeze.apply(input, dim=dim)


# ----------------------------------------------------------------------------- expand

class Expand(Function):
    """z = x broadcast to a larger shape (size-1 dims repeated, new leading dims added);
    a read-only view.  dL/dx = dL/dz summed over the repeated dims."""
    is_view = True

    def forward(self, x, shape=()):
        self.in_shape = x.shape
        return xp_of(x).broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.in_shape)


def _expand_shape(a_shape, sizes, op):
    nd = len(a_shape)
    lead = len(sizes) - nd
    if lead < 0:
        raise RuntimeError(f"{op}: the number of sizes given ({len(sizes)}) must be greater "
                           f"than or equal to the number of dimensions of the tensor ({nd}); "
                           f"tensor shape {tuple(a_shape)}, sizes {tuple(sizes)}")
    out = list(sizes)
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"{op}: -1 is not allowed for a new leading dimension "
                                   f"(position {i} of sizes {tuple(sizes)})")
            continue
        have = a_shape[i - lead]
        if s == -1:
            out[i] = have
        elif s != have and have != 1:
            raise RuntimeError(
                f"{op}: the expanded size of the tensor ({s}) must match the existing size "
                f"({have}) at non-singleton dimension {i}; target sizes {tuple(sizes)}, tensor "
                f"shape {tuple(a_shape)}. Only dims of size 1 can be expanded (use repeat() "
                "to tile)")
        elif s < 0:
            raise RuntimeError(f"{op}: sizes can't be negative, got {tuple(sizes)}")
    return tuple(out)


def expand(input, *sizes):
    """Broadcast to ``sizes`` (-1 keeps a dim) without copying: a read-only view."""
    if len(sizes) == 1 and type(sizes[0]) is not int:
        sizes = tuple(sizes[0])
    return Expand.apply(input, shape=_expand_shape(input._data.shape, sizes, "expand"))


def expand_as(input, other):
    """Expand to ``other``'s shape."""
    return Expand.apply(input, shape=_expand_shape(input._data.shape, other.shape, "expand_as"))


def broadcast_to(input, shape):
    """Broadcast to ``shape`` (as expand)."""
    return Expand.apply(input, shape=_expand_shape(input._data.shape, tuple(shape),
                                                   "broadcast_to"))


# ----------------------------------------------------------------------------- flatten

def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim`` .. ``end_dim`` into one (a view when the layout allows)."""
    a = input._data
    nd = a.ndim
    if nd == 0:
        return _reshape(input, (1,), "flatten")
    s = norm_dim(start_dim, nd, "flatten")
    e = norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) can't come after end_dim "
                           f"({end_dim}) for a tensor of shape {tuple(a.shape)}")
    if s == e:
        return input
    shape = a.shape
    return _reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:], "flatten")


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into several dims of sizes ``sizes`` (one may be -1)."""
    a = input._data
    d = norm_dim(dim, a.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    n = a.shape[d]
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or \
            (-1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten: sizes {sizes} don't multiply up to the size of dim "
                           f"{dim} ({n}) of the input of shape {tuple(a.shape)}")
    return _reshape(input, a.shape[:d] + sizes + a.shape[d + 1:], "unflatten")


# ----------------------------------------------------------------------------- cat / stack

def _common_dtype(arrays):
    dt = arrays[0].dtype
    for a in arrays[1:]:
        if a.dtype != dt:
            dt = dtypes.result_type(dt, a.dtype)
    return dt


class Cat(Function):
    """z = [x_1; x_2; ...] joined along dim d.
    dL/dx_k = the slice of dL/dz that x_k filled (rows offset_k .. offset_k + n_k along d).

    1-d tensors of shape (0,) are skipped when the others have more dims (PyTorch's legacy
    rule for empty tensors)."""

    def forward(self, *xs, dim=0):
        x0 = xs[0]
        nd, dt = x0.ndim, x0.dtype
        for x in xs:
            if x.ndim != nd or x.dtype != dt:
                return self._forward_mixed(xs, dim)
        if nd == 0:
            raise RuntimeError("cat: zero-dimensional tensor (at position 0) can't be "
                               "concatenated; use stack() or unsqueeze it first")
        d = dim if type(dim) is int and -nd <= dim < nd else norm_dim(dim, nd, "cat")
        if d < 0:
            d += nd
        try:
            out = xp_of(x0).concatenate(xs, axis=d)
        except ValueError:
            raise _cat_error(xs, range(len(xs)), d) from None
        self.d, self.sizes, self.dtypes, self.skipped = d, [x.shape[d] for x in xs], None, None
        return out

    def _forward_mixed(self, xs, dim):
        kept = [i for i, x in enumerate(xs) if not (x.ndim == 1 and x.shape[0] == 0)]
        dt = _common_dtype(xs)
        self.dtypes = [x.dtype for x in xs]
        if not kept:        # only legacy-empty tensors
            self.d, self.sizes, self.skipped = 0, [0] * len(xs), None
            return xp_of(xs[0]).zeros((0,), dtype=dt)
        if xs[kept[0]].ndim == 1:
            kept = list(range(len(xs)))     # all 1-d: nothing is skipped
        ref = xs[kept[0]]
        nd = ref.ndim
        for i in kept:
            if xs[i].ndim == 0:
                raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) can't be "
                                   "concatenated; use stack() or unsqueeze it first")
            if xs[i].ndim != nd:
                raise RuntimeError(
                    f"cat: tensors must have the same number of dimensions, but tensor 0 "
                    f"has {nd} (shape {tuple(ref.shape)}) and tensor {i} has {xs[i].ndim} "
                    f"(shape {tuple(xs[i].shape)})")
        d = norm_dim(dim, nd, "cat")
        parts = [xs[i] if xs[i].dtype == dt else xs[i].astype(dt) for i in kept]
        try:
            out = xp_of(ref).concatenate(parts, axis=d)
        except ValueError:
            raise _cat_error([xs[i] for i in kept], kept, d) from None
        sizes = [0] * len(xs)
        for i in kept:
            sizes[i] = xs[i].shape[d]
        self.d, self.sizes = d, sizes
        self.skipped = [True] * len(xs)
        for i in kept:
            self.skipped[i] = False
        return out

    def backward(self, g):
        d, sizes, needs, dts = self.d, self.sizes, self.needs_input_grad, self.dtypes
        skipped = self.skipped
        pre = (slice(None),) * d
        grads = []
        off = 0
        for k, n in enumerate(sizes):
            if needs[k]:
                gk = g[pre + (slice(off, off + n),)]
                if dts is not None:
                    if skipped is not None and skipped[k]:
                        gk = xp_of(g).zeros((0,), dtype=dts[k])     # a skipped legacy empty
                    elif gk.dtype != dts[k]:
                        gk = gk.astype(dts[k])
                grads.append(gk)
            else:
                grads.append(None)
            off += n
        return tuple(grads)


def _cat_error(xs, positions, d):
    ref = xs[0]
    for x, i in zip(xs, positions):
        for j in range(ref.ndim):
            if j != d and x.shape[j] != ref.shape[j]:
                return RuntimeError(
                    f"cat: sizes of tensors must match except in dimension {d}: expected size "
                    f"{ref.shape[j]} but got size {x.shape[j]} in dimension {j} for tensor "
                    f"number {i} in the list (shapes {tuple(ref.shape)} and {tuple(x.shape)})")
    return RuntimeError(f"cat: can't concatenate tensors of shapes "
                        f"{[tuple(x.shape) for x in xs]} along dim {d}")


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got a single Tensor; "
                        f"use {op}([a, b, ...])")
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: element {i} of the list is a {type(x).__name__}, not a "
                            "Tensor")
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing dim ``dim``; the other dims must match."""
    tensors = _tensor_list(tensors, "cat")
    if len(tensors) == 1:
        x = tensors[0]
        if x._data.ndim == 0:
            raise RuntimeError("cat: zero-dimensional tensor (at position 0) can't be "
                               "concatenated; use stack() or unsqueeze it first")
        norm_dim(dim, x._data.ndim, "cat")
    return Cat.apply(*tensors, dim=dim)


concat = concatenate = cat


class Stack(Function):
    """z = the tensors x_1, x_2, ... stacked along a new dim d: z[..., k, ...] = x_k.
    dL/dx_k = dL/dz[..., k, ...]."""

    def forward(self, *xs, dim=0):
        x0 = xs[0]
        shape = x0.shape
        for i, x in enumerate(xs):
            if x.shape != shape:
                raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                                   f"{tuple(shape)} at entry 0 and {tuple(x.shape)} at entry "
                                   f"{i}")
        d = norm_dim(dim, x0.ndim + 1, "stack")
        dt = _common_dtype(xs)
        self.dtypes = [x.dtype for x in xs]
        self.d = d
        # each x as a view with a size-1 dim at d, then one concatenate (one allocation)
        shape1 = shape[:d] + (1,) + shape[d:]
        parts = [x.reshape(shape1) if x.dtype == dt else x.reshape(shape1).astype(dt)
                 for x in xs]
        return xp_of(x0).concatenate(parts, axis=d)

    def backward(self, g):
        pre = (slice(None),) * self.d
        return tuple([(g[pre + (k, Ellipsis)] if g.dtype == dt else
                       g[pre + (k, Ellipsis)].astype(dt)) if need else None
                      for k, (need, dt) in enumerate(zip(self.needs_input_grad, self.dtypes))])


def stack(tensors, dim=0):
    """Join equal-shape tensors along a new dim ``dim``."""
    return Stack.apply(*_tensor_list(tensors, "stack"), dim=dim)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-d tensors)."""
    tensors = _tensor_list(tensors, "hstack")
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0, treating 1-d tensors as rows."""
    tensors = _tensor_list(tensors, "vstack")
    return cat([x.reshape(1, -1) if x._data.ndim < 2 else x for x in tensors], 0)


# ----------------------------------------------------------------------------- split / unbind

class Split(Function):
    """(z_1, z_2, ...) = consecutive slices of x along dim d, of the given sizes (views).
    dL/dx = [dL/dz_1; dL/dz_2; ...] joined along d (zeros for unused pieces)."""

    def forward(self, x, sizes=(), dim=0):
        self.d = dim
        pre = (slice(None),) * dim
        outs = []
        off = 0
        for n in sizes:
            outs.append(x[pre + (slice(off, off + n),)])
            off += n
        return tuple(outs)

    def backward(self, *gs):
        if len(gs) == 1:
            return gs[0]
        return xp_of(gs[0]).concatenate(gs, axis=self.d)


def split(tensor, split_size_or_sections, dim=0):
    """Split into pieces along ``dim``: of size ``split_size`` each (the last may be smaller),
    or of the listed sizes."""
    a = tensor._data
    d = norm_dim(dim, a.ndim, "split")
    if a.ndim == 0:
        raise RuntimeError("split: a 0-d tensor can't be split")
    n = a.shape[d]
    s = split_size_or_sections
    if isinstance(s, _int_types):
        s = int(s)
        if s < 0 or (s == 0 and n):
            raise RuntimeError(f"split: split_size must be positive (0 only for a dim of size "
                               f"0), got {s} for dim {dim} of size {n}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if n else [0]
    else:
        sizes = [int(v) for v in s]
        if sum(sizes) != n or any(v < 0 for v in sizes):
            raise RuntimeError(
                f"split: split sizes {sizes} must be non-negative and sum exactly to {n} (the "
                f"size of dim {dim} of the input of shape {tuple(a.shape)}), but they sum "
                f"to {sum(sizes)}")
    return Split.apply(tensor, sizes=sizes, dim=d)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of equal size along ``dim`` (the last may be smaller;
    there may be fewer pieces, as in PyTorch)."""
    a = input._data
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}")
    d = norm_dim(dim, a.ndim, "chunk")
    if a.ndim == 0:
        raise RuntimeError("chunk: a 0-d tensor can't be chunked")
    n = a.shape[d]
    if n == 0:
        sizes = [0] * chunks
    else:
        s = -(-n // chunks)
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
    return Split.apply(input, sizes=sizes, dim=d)


class Unbind(Function):
    """(z_0, z_1, ...) = the slices x[..., k, ...] along dim d (views).
    dL/dx = the dL/dz_k stacked along d (zeros for unused slices)."""

    def forward(self, x, dim=0):
        self.d = dim
        pre = (slice(None),) * dim
        return tuple([x[pre + (k, Ellipsis)] for k in range(x.shape[dim])])

    def backward(self, *gs):
        xp = xp_of(gs[0])
        if len(gs) == 1:
            return xp.expand_dims(gs[0], self.d)
        return xp.stack(gs, axis=self.d)


def unbind(input, dim=0):
    """The slices along ``dim`` as a tuple of tensors (without that dim)."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError("unbind: a 0-d tensor can't be unbound")
    return Unbind.apply(input, dim=norm_dim(dim, a.ndim, "unbind"))


# ----------------------------------------------------------------------------- pad

class Pad(Function):
    """Constant padding: z = x surrounded by ``value`` (negative pads crop x).
    dL/dx = the part of dL/dz where x was placed (0 for cropped elements)."""

    def forward(self, x, pads=(), value=0.0):
        xp = xp_of(x)
        shape = x.shape
        src, dst, new = [], [], []
        crop = False
        for n, (lo, hi) in zip(shape, pads):
            m = n + lo + hi
            if n + min(lo, 0) + min(hi, 0) < 0:
                raise RuntimeError(f"pad: negative padding ({lo}, {hi}) crops more than the "
                                   f"{n} elements of a dimension (input shape {tuple(shape)})")
            new.append(m)
            s0, s1 = max(-lo, 0), n - max(-hi, 0)
            if s1 < s0:
                s1 = s0
            src.append(slice(s0, s1))
            dst.append(slice(max(lo, 0), max(lo, 0) + s1 - s0))
            crop = crop or lo < 0 or hi < 0
        self.src, self.dst, self.crop, self.in_shape = tuple(src), tuple(dst), crop, shape
        out = xp.full(tuple(new), value, dtype=x.dtype)
        out[self.dst] = x[self.src]
        return out

    def backward(self, g):
        gx = g[self.dst]
        if self.crop:
            full = xp_of(g).zeros(self.in_shape, dtype=g.dtype)
            full[self.src] = gx
            return full
        return gx


class PadIndexed(Function):
    """Padding by copying elements of x ('reflect', 'replicate', 'circular'):
    z_k = x_{idx(k)} along each padded dim, idx the mode's index map.
    dL/dx_i = sum_{k : idx(k) = i} dL/dz_k  (per dim: a product with a one-hot matrix)."""

    def forward(self, x, pads=(), mode="reflect"):
        xp = xp_of(x)
        self.maps = []
        out = x
        for dim, (n, (lo, hi)) in enumerate(zip(x.shape, pads)):
            if lo == 0 and hi == 0:
                continue
            k = np.arange(-lo, n + hi)
            if mode == "reflect":
                if lo >= n or hi >= n:
                    raise RuntimeError(f"pad: reflect padding ({lo}, {hi}) must be smaller than "
                                       f"the size {n} of dimension {dim} (input shape "
                                       f"{tuple(x.shape)})")
                k = np.abs(k)
                k = np.where(k >= n, 2 * (n - 1) - k, k)
            elif mode == "replicate":
                if n == 0:
                    raise RuntimeError(f"pad: can't replicate-pad dimension {dim} of size 0")
                k = np.clip(k, 0, n - 1)
            else:  # circular
                if lo > n or hi > n:
                    raise RuntimeError(f"pad: circular padding ({lo}, {hi}) can't wrap around "
                                       f"more than once: dimension {dim} has size {n} (input "
                                       f"shape {tuple(x.shape)})")
                k = k % n
            idx = xp.asarray(k)
            out = xp.take(out, idx, axis=dim)
            self.maps.append((dim, n, idx))
        return out

    def backward(self, g):
        xp = xp_of(g)
        for dim, n, idx in reversed(self.maps):
            onehot = (idx[:, None] == xp.arange(n)[None, :]).astype(g.dtype)
            g = xp.moveaxis(xp.tensordot(g, onehot, axes=([dim], [0])), -1, dim)
        return g


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative sizes, crop) the last dims: ``pad`` lists (left, right) for the
    last dim, then (top, bottom) for the one before, and so on (as ``F.pad``).
    ``mode``: 'constant' (fill with ``value``, default 0), 'reflect', 'replicate', 'circular'."""
    a = input._data
    pad = tuple(int(p) for p in pad)
    nd = a.ndim
    if len(pad) % 2:
        raise RuntimeError(f"pad: the padding length must be even (pairs of (before, after) "
                           f"sizes), got {len(pad)}: {pad}")
    if len(pad) // 2 > nd:
        raise RuntimeError(f"pad: padding length {len(pad)} is more than twice the number of "
                           f"dimensions of the input ({nd}, shape {tuple(a.shape)})")
    pairs = [(0, 0)] * (nd - len(pad) // 2) + [(pad[i], pad[i + 1])
                                               for i in range(len(pad) - 2, -1, -2)]
    if mode == "constant":
        return Pad.apply(input, pads=pairs, value=0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f"pad: value can only be given with mode='constant', not {mode!r}")
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    return PadIndexed.apply(input, pads=pairs, mode=mode)



# ----------------------------------------------------------------------------- flip / repeat

class Flip(Function):
    """z = x reversed along the dims D (a copy, as in PyTorch).
    dL/dx = dL/dz reversed along D."""

    def forward(self, x, dims=()):
        self.dims = dims
        out = xp_of(x).flip(x, dims).copy() if dims else x.copy()
        return out if out.ndim else _nd(out)

    def backward(self, g):
        return xp_of(g).flip(g, self.dims) if self.dims else g


def flip(input, *dims):
    """Reverse the order of elements along the given dims."""
    if len(dims) == 1 and type(dims[0]) is not int:
        dims = tuple(dims[0])
    nd = input._data.ndim
    dims = norm_dims(dims, nd, "flip") if dims else ()
    return Flip.apply(input, dims=dims if nd else ())


class Repeat(Function):
    """z = x tiled r_k times along each dim k (new leading dims when len(r) > x.ndim).
    dL/dx = the sum of dL/dz over the r_k copies: reshape dL/dz to (r_0, n_0, r_1, n_1, ...)
    and sum over the r axes."""

    def forward(self, x, reps=()):
        shape = (1,) * (len(reps) - x.ndim) + x.shape
        self.in_shape, self.shape, self.reps = x.shape, shape, reps
        xp = xp_of(x)
        inter = []
        big = []
        for r, n in zip(reps, shape):
            inter += [1, n]
            big += [r, n]
        out = xp.broadcast_to(x.reshape(inter), big).reshape([r * n for r, n in zip(reps, shape)])
        return out if out.ndim else _nd(out)

    def backward(self, g):
        big = []
        for r, n in zip(self.reps, self.shape):
            big += [r, n]
        g = g.reshape(big).sum(axis=tuple(range(0, len(big), 2)))
        return g.reshape(self.in_shape)


def repeat(input, *sizes):
    """Tile the tensor: ``x.repeat(2, 3)`` repeats dim 0 twice and dim 1 three times
    (as ``numpy.tile``; the number of sizes must be at least ``x.ndim``)."""
    sizes = _sizes(sizes)
    reps = tuple(int(s) for s in sizes)
    nd = input._data.ndim
    if len(reps) < nd:
        raise RuntimeError(f"repeat: the number of repeat sizes ({len(reps)}) can't be smaller "
                           f"than the number of dimensions of the tensor ({nd}, shape "
                           f"{tuple(input.shape)})")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"repeat: repeat sizes can't be negative, got {reps}")
    return Repeat.apply(input, reps=reps)


# ----------------------------------------------------------------------------- copies

class Contiguous(Function):
    """z = x copied into row-major (C-contiguous) memory.    dL/dx = dL/dz."""

    def forward(self, x):
        return xp_of(x).ascontiguousarray(x)

    def backward(self, g):
        return g


def contiguous(input, memory_format=None):
    """This tensor when its memory is already row-major, else a row-major copy."""
    if input._data.flags.c_contiguous:
        return input
    return Contiguous.apply(input)


class Clone(Function):
    """z = a copy of x.    dL/dx = dL/dz."""

    def forward(self, x):
        out = x.copy()
        return out if out.ndim else _nd(out)

    def backward(self, g):
        return g


def clone(input, memory_format=None):
    """A copy of the tensor (new memory) that stays in the graph: gradients flow back."""
    return Clone.apply(input)


class Cast(Function):
    """z = x converted to another floating dtype.    dL/dx = dL/dz converted back to x's dtype.
    (A conversion to an integer or bool dtype is not differentiable: it stops the gradient.)"""

    def forward(self, x, dtype=None):
        self.in_dtype = x.dtype
        out = x.astype(dtype)
        return out if out.ndim else _nd(out)

    def backward(self, g):
        return g.astype(self.in_dtype)


def _cast(input, dt, copy=False):
    a = input._data
    if a.dtype == dt:
        return Clone.apply(input) if copy else input
    if dt.kind == "f" and a.dtype.kind == "f":
        return Cast.apply(input, dtype=dt)
    return wrap(_nd(a.astype(dt)))


class ToDevice(Function):
    """z = x copied to another device (CPU <-> GPU).    dL/dx = dL/dz copied back to x's device."""

    def forward(self, x, device=None):
        self.src = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, g):
        return backend.to_device(g, self.src)


def _parse_to_arg(a):
    """One positional argument of ``to``: ('device', d) or ('dtype', dt)."""
    if isinstance(a, (backend.Device, int)) and not isinstance(a, bool):
        return "device", backend.device(a)
    if isinstance(a, str):
        try:
            return "device", backend.device(a)
        except ValueError:
            try:
                return "dtype", dtypes.to_dtype(a).np
            except TypeError:
                raise ValueError(f"to: {a!r} is neither a device ('cpu', 'cuda', 'cuda:N') nor "
                                 "a dtype") from None
    return "dtype", dtypes.to_dtype(a).np


def to(input, *args, dtype=None, device=None, non_blocking=False, copy=False,
       memory_format=None):
    """Convert to a dtype and/or move to a device: ``x.to(neurona.float64)``, ``x.to('cuda')``,
    ``x.to('cpu', neurona.float16)``, ``x.to(other_tensor)`` (other's dtype and device).
    Returns the tensor itself when nothing changes (unless ``copy=True``)."""
    dt = None if dtype is None else dtypes.to_dtype(dtype).np
    dev = None if device is None else backend.device(device)
    for a in args:
        if isinstance(a, Tensor):
            dt = a._data.dtype
            dev = a.device
        else:
            kind, v = _parse_to_arg(a)
            if kind == "device":
                dev = v
            else:
                dt = v
    out = input
    if dt is not None and out._data.dtype != dt:
        out = _cast(out, dt)
    if dev is not None and backend.device_of(out._data) != dev:
        out = ToDevice.apply(out, device=dev)
    if copy and out is input:
        out = Clone.apply(input)
    return out


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
_BY_TYPE_NAME = {v: k for k, v in _TYPE_NAMES.items()}


def _type(self, dtype=None, non_blocking=False):
    """With no argument: the type name ('neurona.FloatTensor').  Else convert to ``dtype``
    (a dtype or a name such as 'torch.DoubleTensor')."""
    if dtype is None:
        name = _TYPE_NAMES[self.dtype.name]
        return f"neurona.{name}" if self.device.type == "cpu" else f"neurona.cuda.{name}"
    if isinstance(dtype, str):
        short = dtype.rsplit(".", 1)[-1]
        if short in _BY_TYPE_NAME:
            dtype = _BY_TYPE_NAME[short]
    return _cast(self, dtypes.to_dtype(dtype).np)


def _caster(np_dtype, name):
    dt = np.dtype(np_dtype)

    def method(self, memory_format=None):
        return _cast(self, dt)
    method.__name__ = name
    method.__doc__ = f"This tensor converted to {name} (itself when it already is)."
    return method


def _cpu(self, memory_format=None):
    """This tensor on the CPU (itself when it already is there)."""
    return to(self, "cpu")


def _cuda(self, device=None, non_blocking=False, memory_format=None):
    """This tensor on a CUDA GPU (needs CuPy and an NVIDIA GPU)."""
    return to(self, backend.device("cuda" if device is None else
                                   (f"cuda:{device}" if isinstance(device, int) else device)))


def _type_as(self, other):
    return _cast(self, other._data.dtype)


# ----------------------------------------------------------------------------- methods

Tensor.reshape = reshape
Tensor.view = view
Tensor.reshape_as = _reshape_as
Tensor.view_as = _view_as
Tensor.permute = permute
Tensor.transpose = Tensor.swapaxes = Tensor.swapdims = transpose
Tensor.t = t
Tensor.T = property(_T, doc="All dims reversed (the transpose of a matrix).")
Tensor.mT = property(_mT, doc="The last two dims swapped (a batch of transposed matrices).")
Tensor.H = property(_T, doc="Conjugate transpose; for real tensors the same as .T")
Tensor.mH = property(_mT, doc="Conjugate transpose of the last two dims; for real tensors .mT")
Tensor.movedim = Tensor.moveaxis = movedim
Tensor.squeeze = squeeze
Tensor.unsqueeze = unsqueeze
Tensor.expand = expand
Tensor.expand_as = expand_as
Tensor.broadcast_to = broadcast_to
Tensor.flatten = flatten
Tensor.unflatten = unflatten
Tensor.split = split
Tensor.chunk = chunk
Tensor.unbind = unbind
Tensor.flip = flip
Tensor.repeat = repeat
Tensor.contiguous = contiguous
Tensor.clone = clone
Tensor.to = to
Tensor.type = _type
Tensor.type_as = _type_as
Tensor.cpu = _cpu
Tensor.cuda = _cuda
Tensor.float = _caster(np.float32, "float")
Tensor.double = _caster(np.float64, "double")
Tensor.half = _caster(np.float16, "half")
Tensor.long = _caster(np.int64, "long")
Tensor.int = _caster(np.int32, "int")
Tensor.short = _caster(np.int16, "short")
Tensor.char = _caster(np.int8, "char")
Tensor.byte = _caster(np.uint8, "byte")
Tensor.bool = _caster(np.bool_, "bool")
