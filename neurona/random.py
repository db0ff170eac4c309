"""Random numbers: a seeded :class:`Generator` and ``manual_seed`` (same seed, same numbers).

Every random op (``randn``, ``rand``, ``randint``, ``randperm``, dropout, ``nn.init``,
``DataLoader(shuffle=True)``) draws from ``neurona.default_generator`` unless given a
``generator=``.  The bits come from NumPy's PCG64, so the numbers differ from PyTorch's
for the same seed, but a neurona program seeded the same way repeats itself exactly.
"""
from __future__ import annotations

import json

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"]


class Generator:
    """A source of random numbers with its own seed and state."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721      # PyTorch's default seed, for familiarity
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < 0:
            seed &= 0xFFFF_FFFF_FFFF_FFFF
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Re-seed from the operating system's entropy; returns the new seed."""
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (save it to restore the stream later)."""
        from .tensor import Tensor
        blob = json.dumps({"seed": self._seed, "state": self._rng.bit_generator.state})
        return Tensor._wrap(np.frombuffer(blob.encode(), dtype=np.uint8).copy())

    def set_state(self, state) -> "Generator":
        data = np.asarray(state, dtype=np.uint8).tobytes().decode()
        blob = json.loads(data)
        self._seed = blob["seed"]
        bg = np.random.PCG64()
        bg.state = blob["state"]
        self._rng = np.random.Generator(bg)
        return self

    @property
    def numpy(self) -> np.random.Generator:
        """The NumPy generator that produces the numbers."""
        return self._rng


default_generator = Generator()


def _gen(generator) -> np.random.Generator:
    return (generator or default_generator)._rng


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and the GPU's, when CUDA is in use)."""
    from . import cuda
    default_generator.manual_seed(seed)
    cuda.manual_seed_all(seed)      # no-op without CuPy or without a GPU
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)
