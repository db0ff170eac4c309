"""Datasets: things you can index (``dataset[i]`` -> one sample) and measure (``len``).

* :class:`Dataset` -- the base class: subclass it and write ``__len__`` and ``__getitem__``.
* :class:`TensorDataset` -- samples are rows of tensors that share their first dimension
  (features ``X`` and labels ``y``).
* :class:`Subset`, :class:`ConcatDataset`, :func:`random_split` -- parts and sums of datasets.
* :class:`IterableDataset` -- a stream of samples with no indexing (``__iter__`` only).

The DataLoader fast path
------------------------
A map-style dataset may also define ``get_batch(indices)``: given a NumPy array of indices
it returns the same batch that ``default_collate([self[i] for i in indices])`` would.  The
base class does exactly that, one sample at a time.  Datasets that hold whole arrays
(``TensorDataset``, ``MNIST``) override it with one NumPy fancy-index per array, which is
what makes ``DataLoader`` fast: a batch of 128 rows costs one gather, not 128 Python calls.
``DataLoader`` calls it whenever you use the default ``collate_fn``.
"""
from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

from ... import backend
from ...random import _gen
from ...tensor import Tensor, as_array
from .collate import default_collate

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split"]


class Dataset:
    """A map-style dataset: ``dataset[i]`` for ``0 <= i < len(dataset)``.

    Subclasses write ``__getitem__`` (and ``__len__``, which samplers and ``DataLoader``
    need)::

        class Squares(Dataset):
            def __len__(self):
                return 100
            def __getitem__(self, i):
                return nr.tensor([float(i)]), i * i
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])

    def get_batch(self, indices):
        """The batch ``default_collate([self[i] for i in indices])``; datasets that hold whole
        arrays override this with one gather per array (see the module docstring)."""
        getitems = getattr(self, "__getitems__", None)      # PyTorch's batched-read hook
        if getitems is not None:
            return default_collate(getitems([int(i) for i in indices]))
        return default_collate([self[int(i)] for i in indices])


class IterableDataset(Dataset):
    """A dataset that is a stream: write ``__iter__`` (yielding samples).  ``DataLoader``
    batches the stream in order; it can't shuffle it or use a sampler."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it "
                        "can't be indexed")

    def __add__(self, other):
        raise TypeError("IterableDatasets can't be concatenated with +; chain their "
                        "iterators instead (itertools.chain)")

    def get_batch(self, indices):
        raise TypeError("an IterableDataset can't be indexed by batch")


def _gather(t: Tensor, idx: np.ndarray) -> Tensor:
    """Rows ``idx`` of ``t`` in one fancy-index (on t's device)."""
    if t.requires_grad:                    # keep autograd: go through the recorded op
        return t[Tensor._wrap(idx)]
    arr = t._data
    xp = backend.xp_of(arr)
    if xp is not np:
        idx = xp.asarray(idx)
    return Tensor._wrap(arr[idx])


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: ``dataset[i] == (t0[i], t1[i], ...)``.

    All tensors must have the same size in their first dimension (the number of samples).
    NumPy arrays are accepted too and become tensors (sharing memory).

        ds = TensorDataset(X, y)        # X: (N, D) features, y: (N,) labels
        x0, y0 = ds[0]
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor._wrap(as_array(t, copy=False))
                        for t in tensors)
        for k, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is a scalar (shape ()); each "
                                 "tensor needs a first dimension that counts the samples")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(f"tensor {k}: {tuple(t.shape)}" for k, t in enumerate(tensors))
            raise ValueError("TensorDataset: all tensors must have the same size in the first "
                             f"dimension (the number of samples), got {shapes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        return [_gather(t, idx) for t in self.tensors]     # a list, as default_collate gives


class Subset(Dataset):
    """The samples of ``dataset`` at positions ``indices`` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    @property
    def indices(self):
        return self._indices

    @indices.setter
    def indices(self, value):
        self._indices = value
        self._idx = None            # the NumPy copy used by get_batch, made when first needed

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices):
        inner = getattr(self.dataset, "get_batch", None)
        if inner is None:
            return super().get_batch(indices)
        if self._idx is None:
            self._idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return inner(self._idx[np.asarray(indices, dtype=np.int64)])


class ConcatDataset(Dataset):
    """Several datasets one after another: indices ``0..len(d0)-1`` are ``d0``'s, and so on."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        if idx >= len(self):
            raise IndexError(f"ConcatDataset: index {idx} out of range for {len(self)} samples")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if d == 0 else self.cumulative_sizes[d - 1]
        return self.datasets[d][idx - start]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    ``lengths`` are sample counts that add up to ``len(dataset)``, or fractions that add up
    to 1 (``[0.8, 0.2]``): then each part gets ``floor(fraction * len)`` samples and the
    leftover samples go one each to the parts in order, as in PyTorch.  The same
    ``generator`` seed gives the same split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral)
                       for x in lengths) and math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions that "
                         f"sum to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal "
                         f"the length of the input dataset ({n})")
    perm = _gen(generator).permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out
