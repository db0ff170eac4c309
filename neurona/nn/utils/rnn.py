"""Batches of sequences of different lengths, as ``torch.nn.utils.rnn``.

A ``PackedSequence`` holds the real steps of B sequences sorted by length (longest first),
step by step: ``data`` = [step 0 of every sequence, step 1 of those with length > 1, ...]
and ``batch_sizes[t]`` = how many sequences have a step t.  The RNN modules accept one
and never see the padding.

    padded = pad_sequence([a, b, c])                       # (L_max, B, *)
    packed = pack_padded_sequence(padded, [5, 3, 2])       # lengths sorted, or enforce_sorted=False
    out, h_n = lstm(packed)
    out, lengths = pad_packed_sequence(out)                 # back to (L_max, B, *), zeros at pads
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...autograd import function as _fn
from ...backend import xp_of
from ...ops.shape import cat as _cat, transpose as _transpose
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]


def _as_int_array(x, what):
    if isinstance(x, Tensor):
        x = x._data
    if hasattr(x, "get"):      # cupy -> numpy
        x = x.get()
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{what} must be a 1-d sequence of integers, got shape {a.shape}")
    return a.astype(np.int64)


def _itensor(a):
    return _fn._make(np.ascontiguousarray(a, dtype=np.int64))


def invert_permutation(permutation):
    """The permutation p^-1 with p^-1[p[i]] = i (None stays None)."""
    if permutation is None:
        return None
    p = _as_int_array(permutation, "permutation")
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return _itensor(inv)


class PackedSequence(NamedTuple):
    """The steps of a batch of sequences, without padding (see the module docstring).

    data (sum of lengths, *), batch_sizes (L_max,) int64, sorted_indices (B,) int64 or None
    (the original batch index of each sorted sequence), unsorted_indices (its inverse)."""
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs):
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self):
        return self.data.is_cuda


def _packed_layout(batch_sizes):
    """mask (T, B) of the real steps in sorted order; its True cells in row-major order
    are the rows of ``data``."""
    bs = _as_int_array(batch_sizes, "batch_sizes")
    return np.arange(int(bs[0]))[None, :] < bs[:, None]


def _gather_with_pad(data, idx, value=0.0):
    """data[idx] where idx == len(data) gives a row of ``value`` (differentiable)."""
    xp_data = data._data
    xp = xp_of(xp_data)
    pad = _fn._make(xp.full((1,) + xp_data.shape[1:], value, xp_data.dtype))
    if isinstance(idx, np.ndarray):      # host index math, used on data's device (as an
        idx = _fn._make(xp.asarray(idx))  # integer tensor: indexing takes no CuPy arrays)
    return _cat([data, pad], 0)[idx]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (L, B, *) (or (B, L, *) with ``batch_first``) of sequences of the
    given ``lengths``.  With ``enforce_sorted`` the lengths must be in decreasing order;
    otherwise the batch is sorted here and the RNN's h_n comes back in the original order."""
    lengths = _as_int_array(lengths, "lengths")
    if (lengths <= 0).any():
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           f"element in 'lengths' that is <= 0 (lengths={lengths.tolist()})")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        order = np.arange(lengths.size)
        sorted_indices = unsorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = _itensor(order)
        unsorted_indices = invert_permutation(order)
    if batch_first:
        input = _transpose(input, 0, 1)
    T, B = input.shape[0], input.shape[1]
    if lengths.size != B:
        raise ValueError(f"pack_padded_sequence: {lengths.size} lengths for a batch of {B} "
                         f"sequences (input shape {tuple(input.shape)}, batch_first="
                         f"{batch_first})")
    if lengths.max() > T:
        raise ValueError(f"pack_padded_sequence: a length of {lengths.max()} is longer than "
                         f"the input's {T} steps")
    sl = lengths[order]
    T = int(sl[0])
    batch_sizes = (sl[None, :] > np.arange(T)[:, None]).sum(1)
    mask = _packed_layout(batch_sizes)
    flat = (np.arange(T)[:, None] * B + order[None, :])[mask]
    data = input.reshape(-1, *input.shape[2:])[flat]
    return PackedSequence(data, _itensor(batch_sizes), sorted_indices, unsorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: returns (padded (L, B, *) or (B, L, *), lengths (B,)
    int64), in the original batch order, ``padding_value`` at the padded steps."""
    data, batch_sizes = sequence.data, sequence.batch_sizes
    mask = _packed_layout(batch_sizes)
    T, B = mask.shape
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        mask = np.concatenate([mask, np.zeros((total_length - T, B), bool)])
    idx = np.full(mask.shape, data.shape[0], np.int64)
    idx[mask] = np.arange(data.shape[0])
    lengths = mask.sum(0)
    if sequence.unsorted_indices is not None:
        un = _as_int_array(sequence.unsorted_indices, "unsorted_indices")
        idx, lengths = idx[:, un], lengths[un]
    out = _gather_with_pad(data, idx, padding_value)
    if batch_first:
        out = _transpose(out, 0, 1)
    return out, _itensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors (L_i, *) into one (L_max, B, *) (or (B, L_max, *)), padded with
    ``padding_value`` on the right (or on the left with padding_side='left')."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    lens = np.array([s.shape[0] for s in seqs], np.int64)
    T, B = int(lens.max()), len(seqs)
    total = int(lens.sum())
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    steps = np.arange(T)[:, None]
    if padding_side == "right":
        valid = steps < lens[None, :]
        src = starts[None, :] + steps
    else:
        valid = steps >= (T - lens)[None, :]
        src = starts[None, :] + steps - (T - lens)[None, :]
    idx = np.where(valid, src, total)
    out = _gather_with_pad(_cat(seqs, 0), idx, padding_value)
    return _transpose(out, 0, 1) if batch_first else out


def pack_sequence(sequences, enforce_sorted=True):
    """``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of tensors (L_i, *) inside a padded batch."""
    if not batch_first:
        padded_sequences = _transpose(padded_sequences, 0, 1)
    lengths = _as_int_array(lengths, "lengths")
    return [padded_sequences[i][:int(n)] for i, n in enumerate(lengths)]


def unpack_sequence(packed_sequences):
    """The list of tensors (L_i, *) inside a PackedSequence."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
