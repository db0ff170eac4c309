"""Datasets, samplers and the DataLoader, with PyTorch's names (``torch.utils.data``).

    from neurona.utils.data import TensorDataset, DataLoader, random_split

    train, val = random_split(TensorDataset(X, y), [0.8, 0.2],
                              generator=nr.Generator().manual_seed(0))
    for xb, yb in DataLoader(train, batch_size=64, shuffle=True):
        ...
"""
from .collate import default_collate, default_convert
from .dataset import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset,
                      random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,
                      WeightedRandomSampler, BatchSampler)
from .dataloader import DataLoader, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info"]
