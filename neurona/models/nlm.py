"""Bengio et al.'s neural probabilistic language model (JMLR 2003).

Predict the next word w_t from the n-1 words before it, through a learned vector for
every word. In the paper's notation, with a vocabulary of |V| words:

    x = (C(w_{t-1}), C(w_{t-2}), ..., C(w_{t-n+1}))     concatenation, (n-1) m numbers
    y = b + W x + U tanh(d + H x)                        |V| scores (logits)
    P(w_t = i | w_{t-1}, ..., w_{t-n+1}) = e^{y_i} / sum_j e^{y_j}      (softmax)

* C (|V| x m): the word feature matrix -- row C(i) is the m-dimensional vector of word
  i, the same matrix at every context position. It is this model's first layer, an
  ``nn.Embedding``: **the first layer's weights are the word embeddings**, learned
  together with the rest so that words used alike end up with nearby vectors.
* H (h x (n-1) m) and d (h): the hidden layer, h tanh units.
* U (|V| x h) and b (|V|): the output layer, a score for every word.
* W (|V| x (n-1) m): optional *direct connections* from the word vectors to the output
  (the paper tries both; ``direct=True``). They cost |V| (n-1) m more weights.

Training maximises the log-likelihood of the corpus, i.e. minimises the cross-entropy
-1/T sum_t ln P(w_t | context_t) of the true next word; ``exp`` of it is the perplexity.
Almost all the work is the softmax over |V| (10,000 words for the Penn Treebank): the
product U h alone is |V| h multiply-adds per word.

Two ways to call it (``model(...)``):

* ``model(context)`` -- the paper's function: ``context`` (N, n-1) int64 word ids, oldest
  first (``context[:, -1]`` is w_{t-1}) -> logits (N, |V|) for w_t.
* ``model(ids, state)`` -- the causal-LM protocol of every neurona language model (pass
  ``state``, ``None`` at the start of a text): ``ids`` (N, T) -> ``(logits (N, T, |V|),
  state)``. The window slides along the sequence: logits[:, t] is the prediction after
  ids[:, t] from the n-1 words ending there. ``state`` is simply the last n-1 ids
  (N, n-1); before the first word the context is filled with ``start_id`` (the recipe
  uses ``<eos>``, since every PTB sentence follows one). The model sees nothing further
  back than n-1 words, however long the sequence.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["BengioNLM"]

_WINDOW = object()        # "no state passed": model(context) scores fixed windows


def _int_ids(ids, who: str) -> np.ndarray:
    arr = ids.detach().numpy() if isinstance(ids, Tensor) else np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: expected integer word ids, got dtype {arr.dtype} (encode the "
                        "text with the model's tokenizer/vocabulary)")
    return arr.astype(np.int64, copy=False)


class BengioNLM(ZooModel):
    """Word window -> shared embeddings C -> tanh hidden layer -> softmax over words.

    Args:
        vocab_size: |V|, the number of word ids.
        context_size: n-1, how many previous words the model reads (n = 5: a 5-gram model).
        embedding_dim: m, the size of each word's feature vector C(w).
        hidden_size: h, the number of tanh hidden units.
        direct: add the direct connections W x from the word vectors to the output.
        dropout: dropout on x and on the hidden units while training (not in the paper;
            0 = the paper's model).
        start_id: the id standing in for the words before the start of a text in the
            causal call ``model(ids, None)``.

    Shapes: ``model(context)``: (N, n-1) -> (N, |V|); ``model(ids, state)``: (N, T) ->
    ((N, T, |V|), (N, n-1)).
    """

    name = "bengio-nlm"
    max_length = None          # the window slides: any length, but only n-1 words of context

    def __init__(self, vocab_size: int, context_size: int = 4, embedding_dim: int = 100,
                 hidden_size: int = 200, direct: bool = False, dropout: float = 0.0,
                 start_id: int = 0):
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"BengioNLM: vocab_size must be positive, got {vocab_size}")
        if context_size < 1:
            raise ValueError(f"BengioNLM: context_size (n-1, the number of previous words) "
                             f"must be >= 1, got {context_size}")
        if not 0 <= start_id < vocab_size:
            raise ValueError(f"BengioNLM: start_id must be a word id in [0, {vocab_size}), "
                             f"got {start_id}")
        self._config = dict(vocab_size=vocab_size, context_size=context_size,
                            embedding_dim=embedding_dim, hidden_size=hidden_size,
                            direct=direct, dropout=dropout, start_id=start_id)
        self.vocab_size, self.context_size, self.start_id = vocab_size, context_size, start_id
        self.embedding = nn.Embedding(vocab_size, embedding_dim)                 # C
        self.hidden = nn.Linear(context_size * embedding_dim, hidden_size)       # H, d
        self.output = nn.Linear(hidden_size, vocab_size)                         # U, b
        self.direct = (nn.Linear(context_size * embedding_dim, vocab_size, bias=False)
                       if direct else None)                                      # W
        self.drop = nn.Dropout(dropout)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)

    def scores(self, context: Tensor) -> Tensor:
        """y = b + W x + U tanh(d + H x) for windows ``context`` (..., n-1) -> (..., |V|)."""
        e = self.embedding(context)                                # (..., n-1, m)
        x = self.drop(e.reshape(*context.shape[:-1], -1))          # (..., (n-1) m)
        h = self.drop(self.hidden(x).tanh())                       # (..., h)
        y = self.output(h)
        if self.direct is not None:
            y = y + self.direct(x)
        return y

    def forward(self, ids, state=_WINDOW):
        """``model(context)`` (N, n-1) -> logits (N, |V|); ``model(ids, state)`` (N, T) ->
        (logits (N, T, |V|), state (N, n-1)) -- see the module docstring."""
        who = type(self).__name__
        arr = _int_ids(ids, who)
        if state is _WINDOW:
            if arr.ndim != 2 or arr.shape[1] != self.context_size:
                raise ValueError(
                    f"{who}: model(context) takes windows of the {self.context_size} previous "
                    f"word ids, shape (N, {self.context_size}); got {arr.shape}. To score a "
                    f"sequence (N, T) use the causal call model(ids, state) with state=None")
            return self.scores(Tensor._wrap(arr))
        single = arr.ndim == 1
        if single:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] == 0:
            raise ValueError(f"{who}: expected word ids of shape (N, T) with T >= 1, got "
                             f"{arr.shape if not single else arr.shape[1:]}")
        N, T, k = arr.shape[0], arr.shape[1], self.context_size
        if state is None:
            past = np.full((N, k), self.start_id, np.int64)
        else:
            past = _int_ids(state, f"{who} state")
            if past.shape != (N, k):
                raise ValueError(f"{who}: state must be the last {k} word ids of each "
                                 f"sequence, shape ({N}, {k}); got {past.shape}")
        full = np.concatenate([past, arr], axis=1)                  # (N, k + T)
        windows = full[:, np.arange(T)[:, None] + np.arange(1, k + 1)[None, :]]  # (N, T, k)
        logits = self.scores(Tensor._wrap(np.ascontiguousarray(windows)))
        new_state = Tensor._wrap(np.ascontiguousarray(full[:, -k:]))
        return (logits[0] if single else logits), new_state
