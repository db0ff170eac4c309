"""A BiLSTM part-of-speech tagger: one tag per word (many-to-many).

For a sentence of T words w_1 .. w_T, each word becomes a vector

    e_t = [ E_word[w_t] ; c_t ]                     word embedding, then character features
    c_t = tanh( max_j ( Conv1d(E_char[chars of w_t]) )_j )   a char CNN, max over positions j

(the character features see the spelling -- capitals, suffixes such as -ly, -ing, -ed,
digits -- so even a word never seen in training gets a sensible vector).  A bidirectional
LSTM reads the sentence both ways,

    h_t^fwd = LSTM(e_t, h_{t-1}^fwd),   h_t^bwd = LSTM(e_t, h_{t+1}^bwd),   h_t = [h_t^fwd ; h_t^bwd]

so h_t knows the words on both sides of w_t, and a linear layer scores every tag:

    z_t = W h_t + b                                  logits (num_tags,); the tag is argmax z_t

Padding never leaks into the real words: the LSTM gets a ``PackedSequence`` built from
the sentence lengths, and the char CNN's max ignores the positions after a word's last
character, so a sentence is tagged the same alone or in a padded batch.

Shapes: ``forward(word_ids (N, T), char_ids (N, T, C) or None, lengths (N,))`` ->
logits (N, T, num_tags); id 0 is padding in both vocabularies, id 1 (``<unk>``) the unknown
word / character.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import tensor
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from ..ops.shape import cat
from ..random import _gen
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["BiLSTMTagger", "CharCNN"]

PAD_INDEX, UNK_INDEX = 0, 1      # the Vocab defaults: <pad> = 0, <unk> = 1


def _ids(x, what: str, ndim: int) -> np.ndarray:
    """Integer ids as an int64 array of ``ndim`` dimensions (a Tensor, array or list)."""
    a = x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim != ndim:
        raise ValueError(f"BiLSTMTagger: {what} must have {ndim} dimensions, got shape "
                         f"{a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"BiLSTMTagger: {what} must hold integer ids, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


class CharCNN(nn.Module):
    """Character features of each word: embed the characters, convolve with
    ``num_filters`` filters of width ``kernel_size``, max over the word's positions, tanh.

    Shapes: char_ids (W, C) (W words of at most C characters, 0 = padding) -> (W, num_filters).
    A row of zeros only (a padding word) gives tanh(max of the conv at position 0)."""

    def __init__(self, num_chars: int, embedding_dim: int = 30, num_filters: int = 50,
                 kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"CharCNN: kernel_size must be odd (same-length output), got "
                             f"{kernel_size}")
        self.embedding = nn.Embedding(num_chars, embedding_dim, padding_idx=PAD_INDEX)
        self.conv = nn.Conv1d(embedding_dim, num_filters, kernel_size,
                              padding=kernel_size // 2)

    def forward(self, char_ids: np.ndarray):
        W, C = char_ids.shape
        x = self.embedding(tensor(char_ids))            # (W, C, E)
        y = self.conv(x.transpose(1, 2))               # (W, F, C): one score per position
        outside = char_ids == PAD_INDEX                  # positions after the word's end
        outside[:, 0] = False                            # (keep one, for padding words)
        y = y.masked_fill(tensor(outside[:, None, :]), -1e9)
        return y.amax(dim=2).tanh()                      # (W, F)


class BiLSTMTagger(ZooModel):
    """Word embeddings (+ char CNN features) -> BiLSTM -> dropout -> Linear to tag scores.

    Args:
        vocab_size: words in the word vocabulary (row 0 = ``<pad>``, row 1 = ``<unk>``).
        num_tags: tags to choose from (17 for UD's UPOS).
        num_chars: characters in the char vocabulary (0: no character features).
        embedding_dim: size of a word embedding.
        char_embedding_dim, char_filters, char_kernel_size: the char CNN.
        hidden_size: LSTM units per direction (the output h_t has 2 * hidden_size).
        num_layers: stacked BiLSTM layers.
        dropout: dropout on the word vectors e_t and on h_t (and between LSTM layers).
        word_dropout: while training, replace each word id by ``<unk>`` with this
            probability, so the ``<unk>`` row learns to stand for unseen words (the char
            features still see the real spelling).
    """

    name = "bilstm-tagger"

    def __init__(self, vocab_size: int, num_tags: int, num_chars: int = 0,
                 embedding_dim: int = 100, char_embedding_dim: int = 30,
                 char_filters: int = 50, char_kernel_size: int = 3, hidden_size: int = 128,
                 num_layers: int = 1, dropout: float = 0.5, word_dropout: float = 0.0):
        super().__init__()
        for what, v in (("vocab_size", vocab_size), ("num_tags", num_tags)):
            if int(v) < 1:
                raise ValueError(f"BiLSTMTagger: {what} must be >= 1, got {v}")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"BiLSTMTagger: word_dropout must be in [0, 1), got {word_dropout}")
        self._config = dict(vocab_size=int(vocab_size), num_tags=int(num_tags),
                            num_chars=int(num_chars), embedding_dim=int(embedding_dim),
                            char_embedding_dim=int(char_embedding_dim),
                            char_filters=int(char_filters),
                            char_kernel_size=int(char_kernel_size),
                            hidden_size=int(hidden_size), num_layers=int(num_layers),
                            dropout=float(dropout), word_dropout=float(word_dropout))
        self.word_dropout = float(word_dropout)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_INDEX)
        self.chars = (CharCNN(num_chars, char_embedding_dim, char_filters, char_kernel_size)
                      if num_chars > 0 else None)
        in_size = embedding_dim + (char_filters if num_chars > 0 else 0)
        self.lstm = nn.LSTM(in_size, hidden_size, num_layers=num_layers, batch_first=True,
                            bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size, num_tags)
        self.reset_embeddings()

    def reset_embeddings(self) -> None:
        """Embedding rows ~ U(-sqrt(3/d), sqrt(3/d)) (variance 1/d, so a vector has length
        about 1; Ma & Hovy 2016) instead of ``nn.Embedding``'s N(0, 1), whose length-sqrt(d)
        vectors saturate the LSTM gates at first: with it the tagger learns several times
        more slowly.  The padding row stays zero."""
        tables = [self.embedding] + ([self.chars.embedding] if self.chars is not None else [])
        with no_grad():
            for emb in tables:
                bound = math.sqrt(3.0 / emb.embedding_dim)
                nn.init.uniform_(emb.weight, -bound, bound)
                emb.weight._data[PAD_INDEX] = 0

    @property
    def num_tags(self) -> int:
        return self.classifier.out_features

    def forward(self, word_ids, char_ids=None, lengths=None):
        words = _ids(word_ids, "word_ids (N, T)", 2)
        N, T = words.shape
        if lengths is None:
            lengths = np.full(N, T, np.int64)
        lengths = _ids(lengths, "lengths (N,)", 1)
        if lengths.shape[0] != N or (lengths < 1).any() or (lengths > T).any():
            raise ValueError(f"BiLSTMTagger: lengths must be N={N} values in 1..T={T}, got "
                             f"{lengths.tolist()[:10]}")
        if self.training and self.word_dropout > 0:
            drop = _gen(None).random(words.shape) < self.word_dropout   # seeded
            words = np.where(drop & (words != PAD_INDEX), UNK_INDEX, words)
        x = self.embedding(tensor(words))                          # (N, T, E)
        if self.chars is not None:
            if char_ids is None:
                raise ValueError("BiLSTMTagger: this model uses character features; pass "
                                 "char_ids (N, T, C)")
            chars = _ids(char_ids, "char_ids (N, T, C)", 3)
            if chars.shape[:2] != (N, T):
                raise ValueError(f"BiLSTMTagger: char_ids has shape {chars.shape}, expected "
                                 f"({N}, {T}, C) to match word_ids")
            c = self.chars(chars.reshape(N * T, -1)).reshape(N, T, -1)   # (N, T, F)
            x = cat([x, c], 2)
        x = self.dropout(x)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=T)   # (N, T, 2H)
        return self.classifier(self.dropout(h))                            # (N, T, K)
