"""``DataLoader``: iterate over a dataset in (shuffled) mini-batches.

    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True,
                        generator=nr.Generator().manual_seed(0))
    for xb, yb in loader:           # one epoch
        ...

How a batch is made: the *sampler* gives an order of indices (``SequentialSampler``, or
``RandomSampler`` when ``shuffle=True``); the *batch sampler* cuts it into lists of
``batch_size`` indices; for each list the *collate function* turns the samples into
tensors.  With the default ``collate_fn`` the DataLoader asks the dataset for the whole
batch at once (``dataset.get_batch(indices)``): a ``TensorDataset`` answers with one NumPy
fancy-index per tensor, which is much faster than collating samples one by one.

Differences from PyTorch
------------------------
* ``num_workers`` is accepted but loading runs in the main process (NumPy gathers whole
  batches at once, so worker processes would mostly add start-up time).  ``pin_memory``,
  ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and ``persistent_workers`` are
  accepted and ignored for the same reason.
* Python floats in samples collate to float32 (PyTorch: float64).
"""
from __future__ import annotations

import numbers

import numpy as np

from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


def get_worker_info():
    """Always ``None``: neurona loads data in the main process."""
    return None


class DataLoader:
    """Mini-batches of ``dataset``.

    Args:
        dataset: a map-style dataset (``__getitem__`` + ``__len__``) or an IterableDataset.
        batch_size: samples per batch (``None``: no batching, yield samples one by one).
        shuffle: visit the samples in a new random order each epoch.
        sampler: an iterable of indices giving the order (excludes ``shuffle``).
        batch_sampler: an iterable of lists of indices (excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: accepted for compatibility; loading is in-process.
        collate_fn: turns a list of samples into a batch (default: ``default_collate``).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: the ``neurona.Generator`` for shuffling (same seed, same batches).

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True):
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 "
                             "to disable multiprocessing.")
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size <= 0):
            raise ValueError("batch_size should be a positive integer value or None, but got "
                             f"batch_size={batch_size!r}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if batch_size is not None or batch_sampler is not None \
                else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)        # TypeError when the stream has no length
            if self.batch_size is not None:
                return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:                       # batch_size=None: one by one
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

    # -- map-style datasets -----------------------------------------------------------
    def _iter_batches(self):
        ds = self.dataset
        fast = self.collate_fn is default_collate and hasattr(ds, "get_batch")
        getitems = getattr(ds, "__getitems__", None)
        if isinstance(self.batch_sampler, BatchSampler):
            batches = self.batch_sampler._arrays()
        else:
            batches = (np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler)
        for idx in batches:
            if fast:
                yield ds.get_batch(idx)
            elif getitems is not None:                       # PyTorch's batched-read hook
                yield self.collate_fn(getitems(idx.tolist()))
            else:
                yield self.collate_fn([ds[i] for i in idx.tolist()])

    # -- iterable datasets ------------------------------------------------------------
    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size="
                f"{self.batch_size}, sampler={type(self.sampler).__name__}, "
                f"drop_last={self.drop_last}, batches={len(self) if not self._iterable else '?'})")
