"""Sentence classifiers (many-to-one): a sequence of token ids in, one label out.

* :class:`EmbeddingBagClassifier` (``"embedding-bag"``) -- the course's model: look up
  each word's embedding, average them (ignoring the padding), and classify the average
  with a feed-forward network.  Word order is lost ("a bag of embeddings").
* :class:`LSTMClassifier` (``"lstm-classifier"``) -- read the words in order with a
  (bidirectional) LSTM and classify its final states.

**One-hot versus dense word vectors.**  A word w of a vocabulary of V words can be the
one-hot vector x_w (V numbers, a single 1): every two words are then equally far apart,
and a layer reading it needs V weights per unit.  An embedding table E (V x d, d of a
few dozen to a few hundred) gives each word a dense vector e_w = x_w^T E -- row w of E,
which is what ``nn.Embedding`` looks up without building x_w (``F.one_hot(ids, V).float()
@ E`` gives the same numbers).  E is learned with the rest of the network, so words used
alike end up close (see :func:`neurona.text.similarity.nearest_neighbours`).

Both take a padded batch ``ids`` (N, T) int64 (``<pad>`` = 0 after each sentence, as
:func:`neurona.text.pad_batch` makes it) and the true ``lengths`` (N,) -- or a ``mask``
(N, T), True at real tokens -- and return logits (N, num_classes).

The padded positions must not change the answer: the pooling functions here
(:func:`masked_sum`, :func:`masked_mean`, :func:`masked_max`) sum or take the max over the
real tokens only, and the LSTM reads a packed sequence that never contains the padding.
A sentence's prediction is therefore the same whatever batch (and padding) it is in.

No length limit: neither model has positional parameters, so sentences of any length
work (longer ones just cost more time).  Empty sentences: give them one ``<pad>`` token
(``pad_batch(..., empty="pad")``): the bag model's average is then the zero vector, the
LSTM reads one zero input; both give the "no evidence" output of their biases.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..creation import tensor
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from ..ops.shape import cat
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["EmbeddingBagClassifier", "LSTMClassifier", "masked_sum", "masked_mean",
           "masked_max", "lengths_to_mask"]


# ------------------------------------------------------------------------ masked pooling

def _as_array(a) -> np.ndarray:
    return a.numpy(force=True) if isinstance(a, Tensor) else np.asarray(a)


def lengths_to_mask(lengths, max_len: int | None = None) -> Tensor:
    """The bool mask (N, T) with ``mask[n, t] = t < lengths[n]`` (True at real tokens);
    ``T = max_len`` or the longest length."""
    lengths = _as_array(lengths).astype(np.int64).reshape(-1)
    T = int(lengths.max(initial=0)) if max_len is None else int(max_len)
    if (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"lengths_to_mask: lengths must be in [0, {T}], got "
                         f"{lengths.tolist()[:10]}")
    return tensor(np.arange(T)[None, :] < lengths[:, None])


def _float_mask(x, mask, who: str) -> Tensor:
    """``mask`` as a float tensor (N, T, 1) of x's dtype, after checking the shapes."""
    if not isinstance(x, Tensor) or x.ndim != 3:
        raise ValueError(f"{who}: x must be a tensor of shape (N, T, E), got "
                         f"{tuple(getattr(x, 'shape', ())) or type(x).__name__}")
    m = mask if isinstance(mask, Tensor) else tensor(np.asarray(mask))
    if tuple(m.shape) != tuple(x.shape[:2]):
        raise ValueError(f"{who}: the mask has shape {tuple(m.shape)} but x has shape "
                         f"{tuple(x.shape)}; the mask must be (N, T) = {tuple(x.shape[:2])}, "
                         "True (or 1) at real tokens and False (0) at padding")
    return m.to(x.dtype).unsqueeze(-1)


def masked_sum(x, mask) -> Tensor:
    """Sum of the vectors at the real positions: ``s_n = sum_t m_{n,t} x_{n,t}``.

    x (N, T, E) float, mask (N, T) bool or 0/1 (True at real tokens) -> (N, E).
    Backward: ``dL/dx_{n,t} = m_{n,t} dL/ds_n`` (the padding gets no gradient)."""
    return (x * _float_mask(x, mask, "masked_sum")).sum(1)


def masked_mean(x, mask) -> Tensor:
    """Mean of the vectors at the real positions:
    ``mean_n = sum_t m_{n,t} x_{n,t} / max(1, sum_t m_{n,t})``.

    x (N, T, E), mask (N, T) -> (N, E).  A row with no real token (an empty sentence)
    gives the zero vector instead of 0/0.  Backward: ``dL/dx_{n,t} = m_{n,t} dL/dmean_n /
    max(1, sum_t m_{n,t})``."""
    m = _float_mask(x, mask, "masked_mean")
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def masked_max(x, mask) -> Tensor:
    """Element-wise max over the real positions: ``max_n[e] = max_{t: m_{n,t}} x_{n,t,e}``.

    x (N, T, E), mask (N, T) -> (N, E); a row with no real token gives zeros.  The
    gradient goes to the position of each maximum (the padding gets none)."""
    m = _float_mask(x, mask, "masked_max")
    big = float(np.finfo(np.float32).max) / 4
    out = (x - (1.0 - m) * big).max(1).values       # padding pushed far below any value
    has_any = (m.sum(1) > 0).to(x.dtype)
    return out * has_any


_POOLING = {"mean": masked_mean, "sum": masked_sum, "max": masked_max}


def _pool_fn(pooling: str, who: str, allowed):
    if pooling not in allowed:
        raise ValueError(f"{who}: pooling must be one of {', '.join(map(repr, allowed))}, "
                         f"got {pooling!r}")
    return _POOLING.get(pooling)


def _mask_and_lengths(ids, lengths, mask, padding_idx, who: str):
    """Check ``ids`` (N, T) int and return (mask (N, T) bool Tensor, lengths (N,) int64
    array) from ``lengths``, ``mask`` or, when neither is given, ``ids != padding_idx``."""
    if not isinstance(ids, Tensor):
        ids = tensor(np.asarray(ids))
    if ids.ndim != 2:
        raise ValueError(f"{who}: ids must have shape (N, T) (a padded batch of token ids), "
                         f"got shape {tuple(ids.shape)}; for one sentence use ids[None]")
    if ids.dtype.is_floating_point:
        raise TypeError(f"{who}: ids must be integer token ids, got {ids.dtype} (encode "
                        "the text with a tokenizer first)")
    N, T = ids.shape
    if lengths is not None:
        lens = _as_array(lengths).astype(np.int64).reshape(-1)
        if lens.size != N:
            raise ValueError(f"{who}: {lens.size} lengths for a batch of {N} sentences")
        if (lens < 1).any() or (lens > T).any():
            i = int(np.flatnonzero((lens < 1) | (lens > T))[0])
            raise ValueError(f"{who}: lengths[{i}] = {lens[i]} is outside [1, {T}] (T, the "
                             "padded length). Empty sentences must get one <pad> token: "
                             "pad_batch(..., empty='pad')")
        m = lengths_to_mask(lens, T)
    elif mask is not None:
        m = mask if isinstance(mask, Tensor) else tensor(np.asarray(mask))
        if tuple(m.shape) != (N, T):
            raise ValueError(f"{who}: the mask has shape {tuple(m.shape)}, ids {(N, T)}")
        m = m.to(bool) if m.dtype != bool else m
        lens = _as_array(m).sum(1).astype(np.int64)
    else:
        m = ids != padding_idx
        lens = _as_array(m).sum(1).astype(np.int64)
    return ids, m, lens


def _embedding_layer(vocab_size, embedding_dim, padding_idx, freeze, init_std, who):
    if int(vocab_size) < 2:
        raise ValueError(f"{who}: vocab_size must be at least 2 (the padding token and one "
                         f"word), got {vocab_size}")
    if not init_std > 0:
        raise ValueError(f"{who}: embedding_init_std must be > 0, got {init_std}")
    emb = nn.Embedding(int(vocab_size), int(embedding_dim), padding_idx=padding_idx)
    if init_std != 1.0:                    # nn.Embedding draws N(0, 1); rescale to N(0, std^2)
        emb.weight._data *= np.float32(init_std)
    if freeze:
        emb.weight.requires_grad_(False)
    return emb


class _TextClassifier(ZooModel):
    """What both classifiers share: the embedding table and pretrained vectors."""

    def load_pretrained_embeddings(self, weight, freeze: bool = True) -> None:
        """Copy pretrained vectors (vocab_size, embedding_dim) (e.g. GloVe rows in this
        vocabulary's order) into the embedding table; ``freeze`` keeps them fixed while the
        rest trains.  The padding row is set to zero."""
        w = _as_array(weight).astype(np.float32)
        table = self.embedding.weight
        if w.shape != tuple(table.shape):
            raise ValueError(f"load_pretrained_embeddings: the vectors have shape {w.shape}, "
                             f"the embedding table {tuple(table.shape)} (vocab_size, "
                             "embedding_dim); build them in this vocabulary's order")
        table._data[...] = w
        if self.embedding.padding_idx is not None:
            table._data[self.embedding.padding_idx] = 0
        table.requires_grad_(not freeze)
        self._config["freeze_embedding"] = bool(freeze)

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings


class EmbeddingBagClassifier(_TextClassifier):
    """Averaged word embeddings, then a feed-forward network (the course's sentiment model).

        e_{n,t} = E[ids_{n,t}]                               embedding lookup (N, T, E)
        x_n     = sum_t m_{n,t} e_{n,t} / sum_t m_{n,t}      masked mean (N, E)
        a_n     = g(x_n W_1^T + b_1)  ...                    hidden layer(s), g = relu
        z_n     = a_n W_out^T + b_out                        logits (N, num_classes)

    p(y | sentence) = softmax(z_n) (for two classes this is sigmoid(z_1 - z_0)).  Train
    with ``nn.CrossEntropyLoss``.

    Args:
        vocab_size: rows of the embedding table (the vocabulary's size, specials included).
        embedding_dim: size E of each word vector.
        hidden: sizes of the hidden layers (``()`` for none: logistic regression on the
            average embedding).
        num_classes: number of labels (2 for positive/negative).
        pooling: ``"mean"`` (default) or ``"sum"`` or ``"max"``.
        dropout: dropout on the pooled vector and after each hidden layer.
        padding_idx: the id of ``<pad>`` (its row stays zero and is ignored by pooling).
        freeze_embedding: do not train the embedding table (pretrained vectors).
        embedding_init_std: the table starts as N(0, std^2).  PyTorch's default is std 1;
            0.1 trains better here: with std 1 the random starting vectors are large next
            to the steps training takes, and their noise dominates the average (on
            rt-polarity the bag model then needed 7 epochs and reached 0.754 test
            accuracy, against 2 epochs and 0.770 with 0.1).

    forward(ids (N, T) int64, lengths (N,) = None, mask (N, T) = None) -> (N, num_classes).
    Without ``lengths`` or ``mask`` the mask is ``ids != padding_idx``.
    """

    name = "embedding-bag"

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden=(64,),
                 num_classes: int = 2, pooling: str = "mean", dropout: float = 0.0,
                 padding_idx: int = 0, freeze_embedding: bool = False,
                 embedding_init_std: float = 0.1):
        super().__init__()
        who = "EmbeddingBagClassifier"
        self._pool = _pool_fn(pooling, who, ("mean", "sum", "max"))
        if isinstance(hidden, int):
            hidden = (hidden,)
        hidden = tuple(int(h) for h in hidden)
        if not 0 <= dropout < 1:
            raise ValueError(f"{who}: dropout must be in [0, 1), got {dropout}")
        if num_classes < 2:
            raise ValueError(f"{who}: num_classes must be >= 2 (two logits and softmax for "
                             f"a yes/no label), got {num_classes}")
        self._config = {"vocab_size": int(vocab_size), "embedding_dim": int(embedding_dim),
                        "hidden": list(hidden), "num_classes": int(num_classes),
                        "pooling": pooling, "dropout": float(dropout),
                        "padding_idx": int(padding_idx),
                        "freeze_embedding": bool(freeze_embedding),
                        "embedding_init_std": float(embedding_init_std)}
        self.padding_idx = int(padding_idx)
        self.embedding = _embedding_layer(vocab_size, embedding_dim, padding_idx,
                                          freeze_embedding, embedding_init_std, who)
        layers, n = [], int(embedding_dim)
        if dropout:
            layers.append(nn.Dropout(dropout))
        for h in hidden:
            layers += [nn.Linear(n, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            n = h
        layers.append(nn.Linear(n, int(num_classes)))
        self.classifier = nn.Sequential(*layers)

    def sentence_vectors(self, ids, lengths=None, mask=None) -> Tensor:
        """The pooled embedding x_n of each sentence: (N, embedding_dim)."""
        ids, m, _ = _mask_and_lengths(ids, lengths, mask, self.padding_idx,
                                      "EmbeddingBagClassifier")
        return self._pool(self.embedding(ids), m)

    def forward(self, ids, lengths=None, mask=None) -> Tensor:
        return self.classifier(self.sentence_vectors(ids, lengths, mask))


class LSTMClassifier(_TextClassifier):
    """A (bidirectional) LSTM reads the sentence; its final states are classified.

        e_t = E[ids_t]                                           (N, T, E)
        forward LSTM:   h->_t = LSTM(e_t, h->_{t-1})   t = 1 .. L_n  (the real tokens only)
        backward LSTM:  h<-_t = LSTM(e_t, h<-_{t+1})   t = L_n .. 1
        s_n = [h->_{L_n} ; h<-_1]                                 (N, 2H)   pooling="last"
        z_n = dropout(s_n) W^T + b                                logits (N, num_classes)

    The batch is packed (``pack_padded_sequence`` with the true lengths), so each
    direction starts and ends at the sentence's own ends, never on padding.  With
    ``pooling="max"`` or ``"mean"`` the sentence vector is instead the masked max/mean of
    the outputs [h->_t ; h<-_t] over the real tokens.

    Args:
        vocab_size, embedding_dim, padding_idx, freeze_embedding, embedding_init_std: the
            embedding table (as :class:`EmbeddingBagClassifier`).
        hidden_size: H, the state size of each direction.
        num_layers: stacked LSTM layers.
        bidirectional: read both ways (default True: a BiLSTM).
        num_classes: number of labels.
        dropout: on the embeddings, between LSTM layers and on the sentence vector.
        pooling: ``"last"`` (final states), ``"max"`` or ``"mean"``.

    forward(ids (N, T) int64, lengths (N,) = None, mask (N, T) = None) -> (N, num_classes).
    """

    name = "lstm-classifier"

    def __init__(self, vocab_size: int, embedding_dim: int = 100, hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = True, num_classes: int = 2,
                 dropout: float = 0.5, pooling: str = "last", padding_idx: int = 0,
                 freeze_embedding: bool = False, embedding_init_std: float = 0.1):
        super().__init__()
        who = "LSTMClassifier"
        self._pool = _pool_fn(pooling, who, ("last", "max", "mean"))
        if not 0 <= dropout < 1:
            raise ValueError(f"{who}: dropout must be in [0, 1), got {dropout}")
        if num_classes < 2:
            raise ValueError(f"{who}: num_classes must be >= 2, got {num_classes}")
        self._config = {"vocab_size": int(vocab_size), "embedding_dim": int(embedding_dim),
                        "hidden_size": int(hidden_size), "num_layers": int(num_layers),
                        "bidirectional": bool(bidirectional), "num_classes": int(num_classes),
                        "dropout": float(dropout), "pooling": pooling,
                        "padding_idx": int(padding_idx),
                        "freeze_embedding": bool(freeze_embedding),
                        "embedding_init_std": float(embedding_init_std)}
        self.padding_idx = int(padding_idx)
        self.pooling = pooling
        self.embedding = _embedding_layer(vocab_size, embedding_dim, padding_idx,
                                          freeze_embedding, embedding_init_std, who)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(int(embedding_dim), int(hidden_size), num_layers=int(num_layers),
                            bidirectional=bool(bidirectional), batch_first=True,
                            dropout=float(dropout) if num_layers > 1 else 0.0)
        directions = 2 if bidirectional else 1
        self.fc = nn.Linear(directions * int(hidden_size), int(num_classes))

    def sentence_vectors(self, ids, lengths=None, mask=None) -> Tensor:
        """The sentence vector s_n fed to the last layer: (N, directions * hidden_size)."""
        ids, m, lens = _mask_and_lengths(ids, lengths, mask, self.padding_idx,
                                         "LSTMClassifier")
        if (lens < 1).any():
            i = int(np.flatnonzero(lens < 1)[0])
            raise ValueError(f"LSTMClassifier: sentence {i} has no tokens (length 0); give "
                             "empty sentences one <pad> token: pad_batch(..., empty='pad')")
        x = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        if self.pooling == "last":
            if self.lstm.bidirectional:       # last layer: forward is h_n[-2], backward h_n[-1]
                return cat([h_n[-2], h_n[-1]], 1)
            return h_n[-1]
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return self._pool(out, m)

    def forward(self, ids, lengths=None, mask=None) -> Tensor:
        return self.fc(self.dropout(self.sentence_vectors(ids, lengths, mask)))
