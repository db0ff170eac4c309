"""A recurrent language model: predict the next token from all the tokens before it.

The model reads a sequence of token ids x_1 ... x_T and at every step t gives a
probability distribution over the vocabulary for the next token x_{t+1}:

    e_t = E[x_t]                                   (embedding: row x_t of E, V x d)
    h_t, c_t = LSTM(e_t, (h_{t-1}, c_{t-1}))       (num_layers stacked, dropout between)
    logits_t = W_hy h_t + b_y                      (V scores)
    P(x_{t+1} = w | x_1..x_t) = softmax(logits_t)_w

and is trained with the cross-entropy of the true next token, averaged over positions;
``exp`` of that loss is the **perplexity**. The same class is a word-level LM (PTB,
vocabulary of 10,000 words) and Karpathy's character-level char-rnn (tiny-shakespeare,
65 characters).

**Weight tying** (Press & Wolf 2017; Inan et al. 2017): with ``tie_weights=True`` the
output layer uses the embedding matrix itself, W_hy = E (so ``embedding_dim`` must equal
``hidden_size``): fewer parameters and usually a lower perplexity.

**State across calls** (the causal-LM protocol every neurona language model follows):
``model(ids, state)`` returns ``(logits, state)``; passing the state back continues the
sequence where it stopped. Training on a long stream carries the state from one window
to the next and detaches it (``detach_state``): truncated backpropagation through time.
Generation (:mod:`neurona.models.generation`) feeds the prompt once, then one token at a
time with the state, so each new token costs one step, not a re-read of the prefix.

Shapes: ids ``(N, T)`` int64 -> logits ``(N, T, V)``; state ``(h, c)`` each
``(num_layers, N, hidden_size)`` for ``cell='lstm'``, ``h`` alone for 'gru'/'rnn'.
"""
from __future__ import annotations

from .. import nn
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["RNNLanguageModel", "detach_state"]

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def detach_state(state):
    """The state with its history cut off (truncated BPTT): the same numbers, no graph."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(s.detach() for s in state)
    return state.detach()


class RNNLanguageModel(ZooModel):
    """Embedding -> stacked LSTM (or GRU / vanilla RNN) -> linear to vocabulary scores.

    Args:
        vocab_size: V, the number of token ids.
        embedding_dim: d, the size of each token's vector.
        hidden_size: the size of the recurrent state h_t.
        num_layers: stacked recurrent layers (a "deep RNN").
        dropout: dropout on the embeddings, between layers and before the output layer
            (Zaremba et al. 2014's regularisation), active in training mode only.
        tie_weights: use the embedding matrix as the output layer (needs
            ``embedding_dim == hidden_size``).
        cell: ``'lstm'`` (default), ``'gru'`` or ``'rnn'`` (tanh).
        padding_idx: an id whose embedding stays zero (optional).
    """

    name = "rnn-lm"
    max_length = None          # a recurrent model has no context limit

    def __init__(self, vocab_size: int, embedding_dim: int = 128, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.0, tie_weights: bool = False,
                 cell: str = "lstm", padding_idx: int | None = None):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"RNNLanguageModel: cell must be one of {sorted(_CELLS)}, "
                             f"got {cell!r}")
        if vocab_size < 1:
            raise ValueError(f"RNNLanguageModel: vocab_size must be positive, got {vocab_size}")
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(f"RNNLanguageModel: tie_weights needs embedding_dim == "
                             f"hidden_size (the output layer reuses the {vocab_size} x "
                             f"{embedding_dim} embedding), got {embedding_dim} and "
                             f"{hidden_size}")
        self._config = dict(vocab_size=vocab_size, embedding_dim=embedding_dim,
                            hidden_size=hidden_size, num_layers=num_layers, dropout=dropout,
                            tie_weights=tie_weights, cell=cell, padding_idx=padding_idx)
        self.vocab_size, self.cell = vocab_size, cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.drop = nn.Dropout(dropout)
        self.rnn = _CELLS[cell](embedding_dim, hidden_size, num_layers=num_layers,
                                batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            if padding_idx is not None:
                self.embedding.weight.data[padding_idx] = 0

    def forward(self, ids, state=None):
        """ids (N, T) int64 [or (T,) for one sequence] -> (logits (N, T, V), state)."""
        if not isinstance(ids, Tensor):
            from ..creation import tensor
            ids = tensor(ids)
        if ids.is_floating_point() or ids.dtype.name == "bool":
            raise TypeError(f"{type(self).__name__}: expected integer token ids, got "
                            f"{ids.dtype} (encode the text with the model's tokenizer)")
        single = ids.ndim == 1
        if single:
            ids = ids.unsqueeze(0)
        if ids.ndim != 2:
            raise ValueError(f"{type(self).__name__}: expected token ids of shape (N, T), "
                             f"got {tuple(ids.shape)}")
        if ids.shape[1] == 0:
            raise ValueError(f"{type(self).__name__}: got an empty sequence (T = 0); give "
                             "at least one token (e.g. <bos> or a prompt)")
        x = self.drop(self.embedding(ids))
        out, state = self.rnn(x, state)
        logits = self.decoder(self.drop(out))
        return (logits[0] if single else logits), state

    def init_state(self, batch_size: int = 1):
        """A zero state for ``batch_size`` sequences (the same as passing ``None``)."""
        from ..creation import zeros
        p = self.decoder.weight
        shape = (self.rnn.num_layers, batch_size, self.rnn.hidden_size)
        h = zeros(shape, dtype=p.dtype, device=p.device)
        return (h, zeros(shape, dtype=p.dtype, device=p.device)) if self.cell == "lstm" else h
