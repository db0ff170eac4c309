"""The single neuron: Rosenblatt's perceptron and the sigmoid unit.

A neuron with weights w = (w_1 .. w_n) and bias b computes

    z = w . x + b                      its weighted input
    y_hat = f(z)                       f = step:    1 if z >= 0 else 0
                                       f = sigmoid: 1 / (1 + exp(-z))

The **perceptron learning rule** (step version) visits the examples one at a time and
nudges the weights only when the neuron is wrong:

    w <- w + alpha (y - y_hat) x
    b <- b + alpha (y - y_hat)

If a straight line separates the two classes (AND, OR), it stops making mistakes after
finitely many updates (the perceptron convergence theorem).  XOR has no such line, so a
single neuron never gets all four cases right: that is why we need hidden layers.

The **sigmoid unit** is differentiable, so it is trained by gradient descent on the
cross-entropy cost (it is then logistic regression with one neuron); autograd gives the
gradient.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import tensor, zeros
from ..nn import functional as F
from ._common import ZooModel, as_features, as_targets, progress_bar

__all__ = ["Perceptron", "LOGIC_GATES"]

#: The truth tables the course starts with: inputs (4, 2) and the targets of each gate.
LOGIC_GATES = {
    "X": np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32),
    "AND": np.array([0, 0, 0, 1]),
    "OR": np.array([0, 1, 1, 1]),
    "NAND": np.array([1, 1, 1, 0]),
    "XOR": np.array([0, 1, 1, 0]),
}


class Perceptron(ZooModel):
    """One neuron y_hat = f(w . x + b) with f the step function or the sigmoid.

    Args:
        in_features: n, the number of inputs.
        activation: ``'step'`` (Rosenblatt's perceptron, trained with the perceptron
            rule) or ``'sigmoid'`` (a sigmoid unit, trained by gradient descent).

    Shapes: input (N, n) -> output (N,): 0/1 (step) or probabilities (sigmoid).

    After ``fit``: ``errors_`` (mistakes per epoch, step) or ``cost_history_``
    (sigmoid), and ``converged_`` (True once an epoch made no mistake).
    """

    name = "perceptron"

    def __init__(self, in_features: int, activation: str = "step"):
        super().__init__()
        if activation not in ("step", "sigmoid"):
            raise ValueError(f"Perceptron: activation must be 'step' or 'sigmoid', "
                             f"got {activation!r}")
        self._config = {"in_features": int(in_features), "activation": activation}
        self.in_features, self.activation = int(in_features), activation
        self.weight = nn.Parameter(zeros(in_features))
        self.bias = nn.Parameter(zeros(()))

    def net_input(self, x):
        """z = w . x + b: (N, n) -> (N,)."""
        if x.shape[-1] != self.in_features:
            raise RuntimeError(f"Perceptron(in_features={self.in_features}): expected input "
                               f"with last dimension {self.in_features}, got shape "
                               f"{tuple(x.shape)}")
        return x @ self.weight + self.bias

    def forward(self, x):
        z = self.net_input(x)
        if self.activation == "sigmoid":
            return F.sigmoid(z)
        return (z >= 0).to(z.dtype)                 # the step: no gradient flows through

    def fit(self, X, y, epochs: int = 100, lr: float = 1.0, shuffle: bool = True,
            seed: int = 0, progress: bool = False) -> "Perceptron":
        """Train on ``X`` (N, n) and labels ``y`` in {0, 1}.

        step: the perceptron rule, one example at a time, for at most ``epochs`` passes;
        it stops at the first pass without a mistake.  sigmoid: ``epochs`` steps of
        full-batch gradient descent on the cross-entropy, step size ``lr``.
        """
        who = "Perceptron.fit"
        X = as_features(X, who, self.in_features).astype(np.float32)
        y = as_targets(y, who, len(X), kind="binary").astype(np.float32)
        if self.activation == "sigmoid":
            return self._fit_sigmoid(X, y, epochs, lr, progress)
        rng = np.random.default_rng(seed)
        w, b = np.zeros(X.shape[1], np.float32), np.float32(0)
        self.errors_, self.converged_ = [], False
        for _ in progress_bar(range(epochs), desc=who, enabled=progress):
            mistakes = 0
            for i in (rng.permutation(len(X)) if shuffle else range(len(X))):
                y_hat = 1.0 if X[i] @ w + b >= 0 else 0.0
                if y_hat != y[i]:                   # wrong: move the boundary towards x
                    w += lr * (y[i] - y_hat) * X[i]
                    b += lr * (y[i] - y_hat)
                    mistakes += 1
            self.errors_.append(mistakes)
            if mistakes == 0:
                self.converged_ = True
                break
        with no_grad():
            self.weight[...] = tensor(w)
            self.bias[...] = tensor(b)
        return self

    def _fit_sigmoid(self, X, y, epochs, lr, progress):
        Xt, yt = tensor(X), tensor(y)
        self.cost_history_ = []
        for _ in progress_bar(range(epochs), desc="Perceptron.fit", enabled=progress):
            cost = F.binary_cross_entropy_with_logits(self.net_input(Xt), yt)
            self.weight.grad = self.bias.grad = None
            cost.backward()
            with no_grad():
                self.weight -= lr * self.weight.grad
                self.bias -= lr * self.bias.grad
            self.cost_history_.append(cost.item())
        self.weight.grad = self.bias.grad = None
        self.converged_ = bool((self.predict(X) == y).all())
        return self

    def loss_fn(self):
        """For a training loop (sigmoid unit): cross-entropy of the output probability."""
        if self.activation != "sigmoid":
            raise TypeError("a step perceptron has no gradient: train it with "
                            "Perceptron.fit (the perceptron rule), or use activation='sigmoid'")
        return _BCE()

    def predict_proba(self, X) -> np.ndarray:
        """sigma(w . x + b) (sigmoid unit), or the step's 0/1 output, as an array (N,)."""
        X = as_features(X, "Perceptron.predict", self.in_features)
        with no_grad():
            return self(tensor(X, dtype=self.weight.dtype)).numpy()

    def predict(self, X) -> np.ndarray:
        """Labels 0/1: 1 where w . x + b >= 0."""
        X = as_features(X, "Perceptron.predict", self.in_features)
        with no_grad():
            z = self.net_input(tensor(X, dtype=self.weight.dtype)).numpy()
        return (z >= 0).astype(np.int64)

    def score(self, X, y) -> float:
        """Accuracy of ``predict`` against ``y``."""
        return float((self.predict(X) == np.asarray(y).reshape(-1)).mean())


class _BCE(nn.Module):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target.reshape(input.shape).to(input.dtype))
