"""What the image datasets read from fixed-size arrays (MNIST, CIFAR-10) have in common."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset, default_collate


class ArrayImageDataset(Dataset):
    """Base of datasets whose images are one uint8 array: the DataLoader's whole-batch
    gather, ``class_to_idx`` and a torchvision-style ``repr``.

    A subclass provides ``_uint8_images(idx)`` -> uint8 ``(B, C, H, W)`` and
    ``_int_targets(idx)`` -> int64 ``(B,)``, plus ``classes``, ``root``, ``train``,
    ``transform`` and ``target_transform``.
    """

    def get_batch(self, indices):
        """A whole batch in one gather: float32 ``(B, C, H, W)`` images in [0, 1] and int64
        labels (item by item when a transform is set)."""
        if self.transform is not None or self.target_transform is not None:
            return default_collate([self[int(i)] for i in indices])
        idx = np.asarray(indices, dtype=np.int64)
        imgs = np.divide(self._uint8_images(idx), np.float32(255), dtype=np.float32)
        return [Tensor._wrap(imgs), Tensor._wrap(self._int_targets(idx))]

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
