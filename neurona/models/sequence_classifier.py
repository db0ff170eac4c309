"""A many-to-one recurrent network: read a sequence, classify it from the last state.

The course's plain RNN classifier (and the model of the vanishing-gradient experiment in
:mod:`neurona.recipes.gradients`): the same network with a vanilla RNN, an LSTM or a GRU
as its cell, so the three can be compared on one task.
"""
from __future__ import annotations

from .. import nn
from ..autograd import no_grad
from ._common import ZooModel

__all__ = ["RecurrentClassifier", "ARCHS"]

ARCHS = ("rnn", "lstm", "gru")


class RecurrentClassifier(ZooModel):
    """Many-to-one sequence classifier: Embedding -> RNN / LSTM / GRU -> Linear on h_T.

    Shapes: x int64 (N, T) -> logits (N, num_classes).

        e_t = E[x_t]                                  (N, embedding_dim)
        h_t = cell(e_t, h_{t-1})                      (N, hidden_size)
        z   = h_T W^T + b                             (N, num_classes)

    ``forget_bias`` is written at construction into the slice of ``bias_ih_l0`` of the gate
    that keeps the memory: the LSTM's forget gate f (gates i, f, g, o), the GRU's update gate
    z (gates r, z, n); the RNN has none. ``nonlinearity`` ('tanh' or 'relu') is for the RNN.
    """

    name = "recurrent-classifier"

    def __init__(self, arch: str = "lstm", vocab_size: int = 4, embedding_dim: int = 16,
                 hidden_size: int = 32, num_classes: int = 4, forget_bias: float = 0.0,
                 nonlinearity: str = "tanh"):
        super().__init__()
        arch = str(arch).lower()
        if arch not in ARCHS:
            raise ValueError(f"RecurrentClassifier: unknown arch {arch!r}; choose one of {ARCHS}")
        self._config = dict(arch=arch, vocab_size=int(vocab_size),
                            embedding_dim=int(embedding_dim), hidden_size=int(hidden_size),
                            num_classes=int(num_classes), forget_bias=float(forget_bias),
                            nonlinearity=nonlinearity)
        self.arch = arch
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        if arch == "rnn":
            self.rnn = nn.RNN(embedding_dim, hidden_size, nonlinearity=nonlinearity,
                              batch_first=True)
        else:
            self.rnn = (nn.LSTM if arch == "lstm" else nn.GRU)(embedding_dim, hidden_size,
                                                                batch_first=True)
        if arch in ("lstm", "gru") and forget_bias:
            # LSTM gates (i, f, g, o): the forget gate f is slice 1; GRU gates (r, z, n): the
            # update gate z (h_t = (1 - z) n + z h_{t-1}, z ~ 1 keeps the memory) is slice 1
            H = hidden_size
            with no_grad():
                self.rnn.bias_ih_l0.data[H:2 * H] = float(forget_bias)
                self.rnn.bias_hh_l0.data[H:2 * H] = 0.0
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out, _ = self.rnn(self.embedding(x))
        return self.fc(out[:, -1])
