"""Dropout: at training time zero each element with probability p and scale the rest by
1 / (1 - p) ("inverted dropout"), so the expected value is unchanged and evaluation needs
no rescaling.

    z = x * m / (1 - p),   m_i ~ Bernoulli(1 - p)  (drawn from the seeded generator);
    dL/dx = dL/dz * m / (1 - p)   (the same mask).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from ..random import _gen
from .inplace import check_inplace, commit_inplace
from ._util import fmt

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


def _uniform(xp, shape, dtype, generator):
    """Uniform [0, 1) samples: from the seeded NumPy generator on the CPU, from CuPy's
    generator (seeded by neurona.manual_seed) on the GPU."""
    if xp is np:
        g = _gen(generator)
        return g.random(shape, dtype=dtype) if dtype in (np.float32, np.float64) else \
            g.random(shape, dtype=np.float32)
    return xp.random.random_sample(shape, dtype=np.float32 if dtype != np.float64 else dtype)


class Dropout(Function):
    """z = x * m / (1 - p),  m_i ~ Bernoulli(1 - p).    dL/dx = dL/dz * m / (1 - p).

    ``mask_shape`` (broadcast against x) drops whole channels for dropout1d/2d/3d."""

    deterministic = False

    def forward(self, x, p=0.5, generator=None, mask_shape=None):
        xp = xp_of(x)
        shape = x.shape if mask_shape is None else mask_shape
        keep = _uniform(xp, shape, x.dtype, generator) >= p
        if p < 1:
            m = keep * x.dtype.type(1 / (1 - p))       # the scaled mask, in x's dtype
        else:
            m = xp.zeros(shape, dtype=x.dtype)
        self.m = m
        return x * m

    def backward(self, g):
        return g * self.m


def _check_p(op, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) when
    ``training``; otherwise (or when p = 0) return ``input`` itself."""
    if not 0.0 <= p <= 1.0:
        _check_p("dropout", p)
    if not training or p == 0:
        return input
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"dropout: expected a floating point tensor, got {fmt(input)}")
    out = Dropout.apply(input, p=p, generator=generator)
    if inplace:
        check_inplace(input, "dropout_")
        return commit_inplace(input, out, "dropout_")
    return out


def _channel_dropout(op, input, p, training, inplace, generator, spatial):
    """Drop whole channels: one mask value per (sample, channel), shared over the last
    ``spatial`` dims.  Input (N, C, *spatial) or unbatched (C, *spatial)."""
    _check_p(op, p)
    if not training or p == 0:
        return input
    shape = input._data.shape
    if len(shape) not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected a {spatial + 1}-d (unbatched) or {spatial + 2}-d "
                           f"(batched) input of shape (N, C{', L' * spatial}), got {fmt(input)}")
    mask_shape = tuple(shape[:-spatial]) + (1,) * spatial
    out = Dropout.apply(input, p=p, generator=generator, mask_shape=mask_shape)
    if inplace:
        check_inplace(input, op + "_")
        return commit_inplace(input, out, op + "_")
    return out


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, L) input with probability p (scale the rest by 1/(1-p))."""
    return _channel_dropout("dropout1d", input, p, training, inplace, generator, 1)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, H, W) input with probability p."""
    return _channel_dropout("dropout2d", input, p, training, inplace, generator, 2)


def dropout3d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, D, H, W) input with probability p."""
    return _channel_dropout("dropout3d", input, p, training, inplace, generator, 3)
