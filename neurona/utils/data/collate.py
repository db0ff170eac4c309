"""Turning a list of samples into one batch: ``default_collate`` and ``default_convert``.

A *sample* is whatever ``dataset[i]`` returns -- a tensor, a NumPy array, a number, or a
tuple/list/dict of those.  ``default_collate`` stacks the samples along a new first
dimension, keeping the structure::

    [(x0, 3), (x1, 7)]          ->  [stack([x0, x1]), tensor([3, 7])]
    [{"x": x0, "y": 1}, ...]    ->  {"x": stack([...]), "y": tensor([...])}

as ``torch.utils.data.default_collate`` does.  One difference: Python floats become the
default float dtype (float32), where PyTorch makes float64 -- neurona never promotes to
float64 behind your back.  Python ints become int64, bools bool, strings stay a list.
"""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from ...tensor import Tensor, as_array
from ... import dtypes

__all__ = ["default_collate", "default_convert"]


def _wrap(arr) -> Tensor:
    return Tensor._wrap(as_array(arr, copy=False))


def _shape_error(kind, batch, shapes):
    first = shapes[0]
    other = next(s for s in shapes if s != first)
    raise RuntimeError(
        f"default_collate: can't stack {kind} of different shapes into one batch: sample 0 has "
        f"shape {first} and another has {other}.  Give all samples the same shape (pad or crop "
        "them), or pass DataLoader(collate_fn=...) to build batches your own way.")


def default_collate(batch):
    """Stack a list of samples into a batch (see the module docstring for the rules)."""
    if not isinstance(batch, (list, tuple)):
        batch = list(batch)
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]

    if isinstance(elem, Tensor):
        shapes = [t.shape for t in batch]
        if any(s != shapes[0] for s in shapes):
            _shape_error("tensors", batch, shapes)
        if any(t.requires_grad for t in batch):      # keep the graph: use the recorded op
            from ...ops import stack
            return stack(list(batch), 0)
        from ... import backend
        xp = backend.xp_of(elem._data)
        return Tensor._wrap(xp.stack([t._data for t in batch]))

    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUS":
            raise TypeError(f"default_collate: NumPy arrays of dtype {elem.dtype} can't become "
                            "tensors; convert them to numbers first or pass a collate_fn")
        shapes = [a.shape for a in batch]
        if any(s != shapes[0] for s in shapes):
            _shape_error("NumPy arrays", batch, shapes)
        return _wrap(np.stack(batch))

    if isinstance(elem, np.generic):                 # NumPy scalars keep their dtype
        if elem.dtype.kind in "OUS":
            return list(batch)
        return _wrap(np.array(batch, dtype=elem.dtype))

    if isinstance(elem, bool):
        return _wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return _wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return _wrap(np.array(batch, dtype=dtypes.get_default_dtype().np))

    if isinstance(elem, (str, bytes)):
        return list(batch)

    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out

    if isinstance(elem, tuple) and hasattr(elem, "_fields"):          # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))

    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("default_collate: each sample in the batch must have the same "
                               f"number of fields; sample 0 has {size}, others differ")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns                                   # a list, as PyTorch does
        try:
            return type(elem)(columns)
        except TypeError:
            return columns

    raise TypeError("default_collate: a batch must hold tensors, NumPy arrays, numbers, "
                    f"strings, dicts or lists; found {type(elem).__name__}.  Pass "
                    "DataLoader(collate_fn=...) to batch other kinds of samples.")


def default_convert(data):
    """What DataLoader(batch_size=None) applies to each sample: NumPy arrays become tensors,
    everything else (numbers, strings) is left as it is; containers are walked."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "OUS":
            return data
        return _wrap(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "OUS":   # NumPy scalars
        return _wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
