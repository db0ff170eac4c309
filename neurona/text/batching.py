"""Turning token-id sequences into batches.

* :func:`pad_batch` / :func:`collate_text` -- sentences of different lengths into one
  padded ``(B, T)`` int64 tensor, with their lengths and a mask (classification, tagging).
* :func:`batchify` / :func:`lm_batches` -- one long token stream into ``B`` parallel
  columns cut into ``bptt``-long windows (the word-level language-model recipe of
  PyTorch's ``examples/word_language_model``).
* :func:`char_windows` -- a character stream into ``(input, target)`` windows shifted by
  one (char-RNN training).

Empty sentences: a length-0 sequence can't be fed to an RNN (no last state) nor to
attention (a softmax over nothing), so :func:`pad_batch` raises ``ValueError`` naming
the sequence by default.  With ``empty="pad"`` it stands in a single pad token instead:
length 1, mask True at that one position -- the model reads one ``<pad>`` and gives
its output for it.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["pad_batch", "collate_text", "batchify", "lm_batches", "char_windows"]


def _ids(seq, where: str) -> np.ndarray:
    if isinstance(seq, Tensor):
        arr = np.asarray(seq.numpy(force=True) if hasattr(seq, "numpy") else seq)
    else:
        arr = np.asarray(seq)
    if arr.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D sequence of token ids, got shape "
                         f"{arr.shape}")
    if arr.size and arr.dtype.kind not in "iub":
        raise TypeError(f"{where}: token ids must be integers, got dtype {arr.dtype} "
                        "(encode the text with a tokenizer or Vocab first)")
    return arr


def pad_batch(sequences, pad_value: int = 0, batch_first: bool = True,
              max_length: int | None = None, empty: str = "error"):
    """Pad sequences of token ids to one length.

    Args:
        sequences: a list of 1-D int sequences (lists, NumPy arrays or Tensors).
        pad_value: the id written after each sequence (``<pad>`` is 0 in a default Vocab).
        batch_first: ``(B, T)`` when True (default), else ``(T, B)``.
        max_length: truncate sequences longer than this (the first tokens are kept).
        empty: ``"error"`` (default) raises on a length-0 sequence; ``"pad"`` replaces it
            by one pad token (length 1, mask True) -- see the module docstring.

    Returns:
        ``(padded, lengths, mask)``: ``padded`` int64 ``(B, T)`` with ``T`` the longest
        length, ``lengths`` int64 ``(B,)``, ``mask`` bool, same shape as ``padded``, True
        at real tokens and False at padding.
    """
    if empty not in ("error", "pad"):
        raise ValueError(f"pad_batch: empty must be 'error' or 'pad', got {empty!r}")
    seqs = [_ids(s, f"pad_batch: sequence {i}") for i, s in enumerate(sequences)]
    if not seqs:
        raise ValueError("pad_batch: got no sequences")
    if max_length is not None:
        if max_length < 1:
            raise ValueError(f"pad_batch: max_length must be >= 1, got {max_length}")
        seqs = [s[:max_length] for s in seqs]
    for i, s in enumerate(seqs):
        if s.size == 0:
            if empty == "error":
                raise ValueError(
                    f"pad_batch: sequence {i} is empty (length 0). Drop empty sentences "
                    "from the data, or pass empty='pad' to stand one pad token in for them.")
            seqs[i] = np.array([pad_value], np.int64)
    lengths = np.array([s.size for s in seqs], np.int64)
    T = int(lengths.max())
    padded = np.full((len(seqs), T), pad_value, np.int64)
    for i, s in enumerate(seqs):
        padded[i, :s.size] = s
    mask = np.arange(T)[None, :] < lengths[:, None]
    if not batch_first:
        padded = np.ascontiguousarray(padded.T)
        mask = np.ascontiguousarray(mask.T)
    return Tensor._wrap(padded), Tensor._wrap(lengths), Tensor._wrap(mask)


def collate_text(batch, pad_value: int = 0, batch_first: bool = True, empty: str = "error"):
    """``collate_fn`` for samples ``(token_ids, label)``: returns ``(padded, lengths,
    labels)`` -- ``padded`` and ``lengths`` as from :func:`pad_batch`, ``labels`` int64
    ``(B,)`` (float32 when the labels are floats).

        loader = DataLoader(data, batch_size=32, shuffle=True, collate_fn=collate_text)

    For another pad id use ``functools.partial(collate_text, pad_value=...)``.
    """
    batch = list(batch)
    if not batch:
        raise ValueError("collate_text: got an empty batch")
    for i, sample in enumerate(batch):
        if not isinstance(sample, (tuple, list)) or len(sample) != 2:
            raise TypeError(f"collate_text: sample {i} is {type(sample).__name__}; expected a "
                            "pair (token_ids, label)")
    padded, lengths, _ = pad_batch([s[0] for s in batch], pad_value, batch_first,
                                   empty=empty)
    labels = [s[1].item() if isinstance(s[1], Tensor) else s[1] for s in batch]
    arr = np.asarray(labels)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iub":
        arr = arr.astype(np.int64)
    else:
        raise TypeError(f"collate_text: labels must be numbers, got {arr.dtype} "
                        f"(first label {labels[0]!r})")
    return padded, lengths, Tensor._wrap(arr)


def batchify(ids, batch_size: int) -> Tensor:
    """Lay one token stream out as ``batch_size`` parallel columns: ``(T, B)`` int64.

    The stream is cut into ``B`` equal contiguous pieces (the last ``len % B`` tokens are
    dropped) and piece ``b`` becomes column ``b``, so ``out[t, b] = ids[b * T + t]``.
    Reading down a column is reading the text in order; the columns are trained side by
    side, each carrying its hidden state from one window to the next.
    """
    arr = _ids(ids, "batchify").astype(np.int64, copy=False)
    if batch_size < 1:
        raise ValueError(f"batchify: batch_size must be >= 1, got {batch_size}")
    T = arr.size // batch_size
    if T == 0:
        raise ValueError(f"batchify: a stream of {arr.size} tokens is too short for "
                         f"batch_size={batch_size}")
    out = np.ascontiguousarray(arr[:T * batch_size].reshape(batch_size, T).T)
    return Tensor._wrap(out)


def lm_batches(stream, bptt: int):
    """Yield ``(input, target)`` windows of a :func:`batchify` stream ``(T, B)``.

    Window ``i`` starts at row ``i * bptt``; ``input`` is ``(L, B)`` and ``target`` the
    same rows shifted one step later (``target[t] = stream[start + t + 1]``), with
    ``L = bptt`` except for a shorter last window; both int64.  (PyTorch's recipe flattens
    the target to ``(L * B,)``: ``target.reshape(-1)`` gives that.)
    """
    if bptt < 1:
        raise ValueError(f"lm_batches: bptt must be >= 1, got {bptt}")
    arr = np.asarray(stream.numpy(force=True) if isinstance(stream, Tensor) else stream)
    if arr.ndim != 2:
        raise ValueError(f"lm_batches: expected a (T, B) stream from batchify, got shape "
                         f"{arr.shape}")
    T = arr.shape[0]
    for start in range(0, T - 1, bptt):
        L = min(bptt, T - 1 - start)
        yield (Tensor._wrap(np.ascontiguousarray(arr[start:start + L], dtype=np.int64)),
               Tensor._wrap(np.ascontiguousarray(arr[start + 1:start + 1 + L], dtype=np.int64)))


def char_windows(ids, seq_len: int, stride: int | None = None):
    """Cut a token stream into ``(inputs, targets)``, each int64 ``(N, seq_len)``, with
    ``targets[n, t] = inputs[n, t + 1]`` (the next character).

    Window ``n`` starts at ``n * stride`` (default ``stride = seq_len``: windows side by
    side, no overlap); ``N`` is as many windows as fit with one extra token for the last
    target.  Shuffle the rows and batch them with ``TensorDataset`` + ``DataLoader``.
    """
    arr = _ids(ids, "char_windows").astype(np.int64, copy=False)
    stride = seq_len if stride is None else stride
    if seq_len < 1 or stride < 1:
        raise ValueError(f"char_windows: seq_len and stride must be >= 1, got {seq_len}, "
                         f"{stride}")
    if arr.size < seq_len + 1:
        raise ValueError(f"char_windows: a stream of {arr.size} tokens is too short for "
                         f"seq_len={seq_len} (needs at least {seq_len + 1})")
    n = (arr.size - 1 - seq_len) // stride + 1
    starts = np.arange(n) * stride
    idx = starts[:, None] + np.arange(seq_len)[None, :]
    return Tensor._wrap(arr[idx]), Tensor._wrap(arr[idx + 1])
