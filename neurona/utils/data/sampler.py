"""Samplers: the order in which a DataLoader visits a dataset's indices.

A sampler is any iterable of indices (``__iter__``, usually ``__len__``).  A batch sampler
is an iterable of lists of indices.  Random samplers draw from a ``neurona.Generator``
(or ``neurona.default_generator``): the same seed gives the same order, and each new pass
(epoch) continues the generator's stream, so epochs differ from each other.

Each of neurona's samplers also has ``_epoch()``, which returns the whole epoch's indices
as one NumPy array; :class:`BatchSampler` slices it into batches without a Python loop
over samples.  Iterating a sampler gives the same indices as ``_epoch()``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...random import _gen
from ...tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: subclasses define ``__iter__`` (yielding indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def _epoch(self):
        """One pass of indices as an int64 array (subclasses override it)."""
        return np.fromiter((int(i) for i in self), dtype=np.int64)


class _ArraySampler(Sampler):
    def __iter__(self):
        return iter(self._epoch().tolist())


class SequentialSampler(_ArraySampler):
    """``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __len__(self) -> int:
        return len(self.data_source)

    def _epoch(self):
        return np.arange(len(self.data_source), dtype=np.int64)


class RandomSampler(_ArraySampler):
    """A random order of the indices (a new one each pass).

    ``replacement=True`` draws ``num_samples`` indices independently (repeats possible);
    otherwise each pass is a permutation (``num_samples`` larger than the dataset chains
    several permutations, as in PyTorch).
    """

    def __init__(self, data_source, replacement: bool = False, num_samples=None,
                 generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got {replacement!r}")
        if not isinstance(self.num_samples, numbers.Integral) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def _epoch(self):
        rng = _gen(self.generator)
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        perms = [rng.permutation(n) for _ in range(-(-k // n))]
        return np.concatenate(perms)[:k].astype(np.int64, copy=False)


class SubsetRandomSampler(_ArraySampler):
    """The given ``indices`` in a random order (a new one each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __len__(self) -> int:
        return len(self.indices)

    def _epoch(self):
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return idx[_gen(self.generator).permutation(len(idx))]


class WeightedRandomSampler(_ArraySampler):
    """``num_samples`` indices ``0..len(weights)-1`` drawn with probability proportional to
    ``weights`` (with replacement by default).  Balances classes: give each sample the
    weight ``1 / (count of its class)``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool) \
                or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got {replacement!r}")
        w = weights.numpy() if isinstance(weights, Tensor) else weights
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1-D sequence, got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: can't draw {num_samples} samples without "
                             f"replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __len__(self) -> int:
        return self.num_samples

    def _epoch(self):
        p = self.weights / self.weights.sum()
        return _gen(self.generator).choice(len(p), size=self.num_samples,
                                           replace=self.replacement, p=p).astype(np.int64)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; the last, shorter
    batch is dropped when ``drop_last=True``.

        list(BatchSampler(SequentialSampler(range(10)), 3, False))
        # [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) \
                or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _arrays(self):
        """The batches as int64 arrays (what DataLoader uses)."""
        bs = self.batch_size
        if type(self.sampler).__iter__ is _ArraySampler.__iter__:   # neurona's own samplers
            idx = self.sampler._epoch()
            stop = len(idx) - len(idx) % bs if self.drop_last else len(idx)
            for start in range(0, stop, bs):
                yield idx[start:start + bs]
            return
        batch = []                                # any iterable of indices (a list, a range)
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == bs:
                yield np.array(batch, dtype=np.int64)
                batch = []
        if batch and not self.drop_last:
            yield np.array(batch, dtype=np.int64)

    def __iter__(self):
        for b in self._arrays():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
