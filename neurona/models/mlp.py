"""The multi-layer perceptron (feed-forward network), built from ``nn.Sequential``.

With hidden sizes (h_1, ..., h_k) the network computes, layer by layer,

    a_0 = x
    a_l = g(a_{l-1} W_l^T + b_l)         l = 1 .. k     (g: relu, tanh or sigmoid)
    z   = a_k W_{k+1}^T + b_{k+1}                        the output: logits (or values)

optionally with batch normalisation before g and dropout after it.  Training is
backpropagation: ``loss.backward()`` sends dL/dz back through each layer, giving
dL/dW_l and dL/db_l for every layer in one sweep.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import tensor
from ._common import ZooModel, as_features

__all__ = ["MLP", "ACTIVATIONS"]

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid",
               "leaky_relu": "LeakyReLU", "gelu": "GELU"}


class MLP(ZooModel):
    """A feed-forward network: Linear -> [BatchNorm1d] -> activation -> [Dropout], once
    per hidden size, then a last Linear.

    Args:
        in_features: size of each input (inputs with more dimensions, such as images
            (N, 28, 28), are flattened to (N, in_features)).
        hidden: the hidden layers' sizes, e.g. ``(256, 128)``.
        out_features: number of outputs (classes; 1 for regression).
        activation: ``'relu'``, ``'tanh'``, ``'sigmoid'``, ``'leaky_relu'`` or ``'gelu'``.
        dropout: probability of zeroing a hidden unit while training (0: no dropout).
        batch_norm: put ``nn.BatchNorm1d`` after each hidden Linear.

    Shapes: input (N, in_features) -> output (N, out_features) (logits).

        >>> model = MLP(784, (256, 128), 10)
        >>> model.layers
        Sequential(
          (0): Linear(in_features=784, out_features=256, bias=True)
          (1): ReLU()
          ...
    """

    name = "mlp"

    def __init__(self, in_features: int, hidden=(64,), out_features: int = 10,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        if isinstance(hidden, int):
            hidden = (hidden,)
        hidden = tuple(int(h) for h in hidden)
        key = activation.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of "
                             f"{', '.join(ACTIVATIONS)}")
        if not 0 <= dropout < 1:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        self._config = {"in_features": int(in_features), "hidden": list(hidden),
                        "out_features": int(out_features), "activation": key,
                        "dropout": float(dropout), "batch_norm": bool(batch_norm)}
        self.in_features, self.out_features = int(in_features), int(out_features)
        layers, n = [], self.in_features
        for h in hidden:
            layers.append(nn.Linear(n, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(getattr(nn, ACTIVATIONS[key])())
            if dropout:
                layers.append(nn.Dropout(dropout))
            n = h
        layers.append(nn.Linear(n, self.out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim > 2:                       # images and the like: one row per example
            x = x.reshape(x.shape[0], -1)
        return self.layers(x)

    def loss_fn(self):
        """Cross-entropy for classification; the course's half squared error when there is
        one output (regression)."""
        if self.out_features == 1:
            from .linear import HalfMSELoss
            return HalfMSELoss()
        return nn.CrossEntropyLoss()

    def _outputs(self, X) -> np.ndarray:
        X = as_features(np.asarray(X).reshape(len(X), -1) if np.ndim(X) > 2 else X,
                        "MLP.predict", self.in_features)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                out = self(tensor(X, dtype=self.layers[0].weight.dtype)).numpy()
        finally:
            self.train(was_training)
        return out

    def predict_proba(self, X) -> np.ndarray:
        """softmax of the logits: (N, out_features) class probabilities."""
        z = self._outputs(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Class labels (argmax of the logits), or the values (N,) when out_features is 1."""
        z = self._outputs(X)
        return z[:, 0] if self.out_features == 1 else z.argmax(axis=1)

    def score(self, X, y) -> float:
        """Accuracy of ``predict`` against the labels ``y``."""
        return float((self.predict(X) == np.asarray(y).reshape(-1)).mean())
