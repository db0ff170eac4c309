"""Positional encodings: how a Transformer learns *where* a token is.

Self-attention treats its input as a set: permute the tokens and the outputs are permuted
the same way.  Word order enters by adding a vector that depends on the position t to
each token's embedding, x_t <- x_t + PE(t):

* ``SinusoidalPositionalEncoding`` -- the fixed encoding of "Attention Is All You Need":

      PE(t, 2i)   = sin(t / 10000^(2i / d_model))
      PE(t, 2i+1) = cos(t / 10000^(2i / d_model))

  Each pair of columns is a sine/cosine of one frequency, the wavelengths going from 2 pi
  to 10000 * 2 pi; PE(t + k) is a fixed rotation of PE(t), which makes relative positions
  easy to read out.  A buffer, not a parameter: nothing to learn, any length up to
  ``max_len``.
* ``LearnedPositionalEmbedding`` -- an ``Embedding`` over positions (BERT, GPT-2): row t
  of a (max_len, d_model) table is learned like any other weight.

Both take token embeddings x of shape (N, T, d_model) (``batch_first=True``, the default)
or (T, N, d_model), or an unbatched (T, d_model), and return x + PE[offset:offset+T]
(``offset``: the position of the first token, for decoding one token at a time).
"""
from __future__ import annotations

import numpy as np

from .. import creation
from .dropout import Dropout
from .module import Module
from .sparse import Embedding

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
           "sinusoidal_table"]


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """The (max_len, d_model) float64 NumPy table PE[t, 2i] = sin(t / 10000^(2i/d_model)),
    PE[t, 2i+1] = cos(t / 10000^(2i/d_model)) (an odd d_model drops the last cosine)."""
    t = np.arange(max_len, dtype=np.float64)[:, None]              # (max_len, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)             # (ceil(d/2),)
    angle = t / np.power(10000.0, two_i / d_model)                 # (max_len, ceil(d/2))
    pe = np.zeros((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, :d_model // 2])
    return pe


def _check_input(module, x, offset):
    """The sequence length T of ``x``; a clear error if x has the wrong rank or width, or
    if positions offset .. offset+T-1 don't fit in max_len."""
    name = type(module).__name__
    shape = tuple(x.shape)
    if len(shape) not in (2, 3) or shape[-1] != module.d_model:
        layout = "(N, T, d_model)" if module.batch_first else "(T, N, d_model)"
        raise ValueError(f"{name}: expected token embeddings of shape {layout} or "
                         f"(T, d_model) with d_model={module.d_model}, got shape {shape}")
    seq_dim = 1 if (len(shape) == 3 and module.batch_first) else 0
    length = shape[seq_dim]
    if offset < 0 or offset + length > module.max_len:
        raise ValueError(
            f"{name}: a sequence of length {length} (input shape {shape}) from offset "
            f"{offset} needs positions {offset} .. {offset + length - 1}, but "
            f"max_len={module.max_len}; build "
            f"it with max_len >= {offset + length}, or feed shorter sequences")
    return length, seq_dim


def _add_positions(x, pe, seq_dim):
    """x + pe with pe (T, d_model) broadcast over the batch dimension."""
    if x.ndim == 3 and seq_dim == 0:             # (T, N, d): put a batch axis in pe
        pe = pe.unsqueeze(1)
    if pe.dtype != x.dtype:
        pe = pe.to(x.dtype)
    return x + pe


class SinusoidalPositionalEncoding(Module):
    """x + PE[offset:offset+T], then dropout (see the module docstring for PE).

    Shapes: (N, T, d_model) if ``batch_first`` (default) else (T, N, d_model), or
    (T, d_model) -> the same shape.  ``pe`` (max_len, d_model) is a non-persistent buffer:
    it moves with ``.to()`` but is not saved in the state_dict (it is a formula)."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 batch_first: bool = True, device=None, dtype=None):
        super().__init__()
        self.d_model = d_model
        self.max_len = max_len
        self.batch_first = batch_first
        self.dropout = Dropout(dropout)
        table = sinusoidal_table(max_len, d_model)
        self.register_buffer(
            "pe", creation.tensor(table, dtype=dtype or "float32", device=device),
            persistent=False)

    def forward(self, input, offset: int = 0):
        length, seq_dim = _check_input(self, input, offset)
        return self.dropout(_add_positions(input, self.pe[offset:offset + length], seq_dim))

    def extra_repr(self) -> str:
        return f"{self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(Embedding):
    """x + E[offset:offset+T] with E = ``weight`` (max_len, d_model), a learned table (an
    ``Embedding`` looked up at the positions offset .. offset+T-1; initialized N(0, 1) as
    nn.Embedding -- GPT-2 uses N(0, 0.02^2), set it with ``nn.init.normal_``).

    Shapes as ``SinusoidalPositionalEncoding``; the gradient of row t is the sum over the
    batch of dL/dx at position t."""

    def __init__(self, max_len: int, d_model: int, batch_first: bool = True, device=None,
                 dtype=None):
        super().__init__(max_len, d_model, device=device, dtype=dtype)
        self.max_len = max_len
        self.d_model = d_model
        self.batch_first = batch_first

    def forward(self, input, offset: int = 0):
        length, seq_dim = _check_input(self, input, offset)
        positions = creation.arange(offset, offset + length, device=self.weight.device)
        return _add_positions(input, super().forward(positions), seq_dim)

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.d_model}, batch_first={self.batch_first}"
