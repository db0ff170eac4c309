"""In-place ops (``add_``, ``mul_``, ``zero_``, ``x[i] = v`` ...) and their rules.

An in-place op is computed as its out-of-place twin, then the result is put into the
tensor:

* Outside the graph (no tensor involved requires grad, or inside ``no_grad()``) the
  numbers are written into the tensor's memory, so views of it see the change.
* Inside the graph the tensor takes the result's numbers and ``grad_fn``: it now stands
  for the new value, and backward goes through the op.  (Views taken earlier keep the
  old numbers in that case.)

Either way the tensor's *version counter* goes up.  An op that saved the old value for
its backward notices the new version and raises, as PyTorch does, instead of silently
using changed numbers.  A leaf that requires grad (a parameter) may only be changed in
place inside ``no_grad()``: otherwise its gradient would be lost.
"""
from __future__ import annotations

from ..autograd.grad_mode import state
from ..backend import xp_of

__all__ = ["check_inplace", "commit_inplace"]


def check_inplace(t, op: str) -> None:
    """Refuse in-place changes autograd could not follow; call before computing."""
    if state.grad and t.requires_grad and t.grad_fn is None:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (such as a parameter) can't be changed in "
            "place while gradients are recorded, or its gradient would be lost. For a "
            "parameter update, wrap it in `with neurona.no_grad():`; otherwise use the "
            "out-of-place form (x = x + y instead of x += y).")


def commit_inplace(t, out, op: str):
    """Make ``t`` hold the result ``out`` of the out-of-place op (see module docstring)."""
    src = out._data
    dst = t._data
    if src.dtype != dst.dtype:
        if src.dtype.kind == "f" and dst.dtype.kind != "f" or \
                src.dtype.kind in "iu" and dst.dtype.kind == "b":
            raise RuntimeError(f"{op}: the result has dtype {src.dtype}, which can't be "
                               f"stored in place in a tensor of dtype {dst.dtype}; use the "
                               "out-of-place op or convert the tensor first")
    if src.shape != dst.shape:
        raise RuntimeError(f"{op}: the result has shape {tuple(src.shape)}, which can't be "
                           f"stored in place in a tensor of shape {tuple(dst.shape)} "
                           "(in-place ops can't broadcast the tensor they change)")
    counter = t._version
    if out.requires_grad:
        if t._base is not None and t._base.requires_grad:
            raise RuntimeError(
                f"{op}: in-place change of a view of a tensor that requires grad is not "
                "supported; change the base tensor (e.g. base[index] = value) or use the "
                "out-of-place op")
        node = out.grad_fn
        t._data = src if src.dtype == dst.dtype else src.astype(dst.dtype)
        # Older nodes that saved the old value (and views of the old array) see a new
        # version and complain at backward, as in PyTorch.  The old array itself stays
        # intact, and t now holds a new one: t gets a counter of its own, so later
        # in-place changes of t only trouble nodes that saved t's *new* value.
        counter[0] += 1
        fresh = [counter[0]]
        if node.saved_versions:
            node.saved_versions = [(fresh, fresh[0]) if c is out._version else
                                   (counter, counter[0]) if c is counter else (c, v)
                                   for c, v in node.saved_versions]
        t._version = fresh
        t.grad_fn = node
        t._out_idx = out._out_idx
        t.requires_grad = True
    else:
        xp_of(dst).copyto(dst, src, casting="unsafe")
        counter[0] += 1
    return t
