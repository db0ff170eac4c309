"""The playground's network: a stack of ``nn.Linear`` layers and one activation.

Shapes for ``networkShape="4,2"`` with the features x, y (the default)::

    features (n, 2) -> Linear(2, 4) -> act -> Linear(4, 2) -> act -> Linear(2, 1) -> out_act

``out_act`` depends on the problem and the loss: tanh (classification, square loss, the
original), identity (regression), sigmoid (binary cross-entropy), softmax (K > 2 classes
with cross-entropy; with square loss each of the K outputs is a tanh aiming at +-1).

Initial weights follow the original: every weight ~ U(-0.5, 0.5), every bias 0.1, drawn
from ``numpy.random.default_rng(init_seed)`` so a reset can restore the same start.

Two ways to get the gradients of one batch (they agree; tests check it):

* ``reference_grads`` -- neurona's autograd: forward through the ``nn`` modules, loss,
  ``loss.backward()``.  The plain path, easy to read.
* ``fused_grads`` -- the same backpropagation written out in NumPy on the layers' arrays
  (no graph recorded).  A tiny network is dominated by per-op Python overhead, so this
  path is what lets a playground epoch run faster than PyTorch.  With a_0 = features,
  z_l = a_{l-1} W_l^T + b_l, a_l = f(z_l) and delta_L = dJ/dz_L::

      dJ/dW_l = delta_l^T a_{l-1}      dJ/db_l = sum over the batch of delta_l
      delta_{l-1} = (delta_l W_l) * f'(z_{l-1})

  with f' written from the activation's output (tanh: 1 - a^2, sigmoid: a (1 - a),
  relu: [a > 0], linear: 1).
"""
from __future__ import annotations

import numpy as np

import neurona as nr
from neurona import nn
from neurona.nn import functional as F

__all__ = ["Net", "ACTIVATIONS"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def _act_np(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(z, out=z)
    if name == "relu":
        return np.maximum(z, 0, out=z)
    if name == "sigmoid":
        return _sigmoid(z)
    return z


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1)        # = 1 / (1 + e^-z), without overflow


def _act_grad_np(name: str, a: np.ndarray) -> np.ndarray | None:
    """f'(z) from a = f(z); None for the identity (f' = 1)."""
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "sigmoid":
        return a * (1 - a)
    return None


def softmax_np(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Net:
    """The layers, their initial weights and the forward / backward passes.

    Args:
        sizes: [n_features, hidden..., n_out].
        activation: hidden activation name (relu / tanh / sigmoid / linear).
        out_act: "tanh" | "linear" | "sigmoid" | "softmax".
        loss: "square" (J = mean over the batch of 1/2 sum_k (o_k - t_k)^2) or
            "crossentropy" (J = mean cross-entropy; targets {0, 1} for sigmoid,
            one-hot rows for softmax).
    """

    def __init__(self, sizes, activation: str, out_act: str, loss: str, init_seed: int):
        self.sizes = list(sizes)
        self.activation = activation
        self.out_act = out_act
        self.loss = loss
        self.layers = [nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        mods = []
        for i, layer in enumerate(self.layers):
            mods.append(layer)
            if i < len(self.layers) - 1:
                mods.append(ACTIVATIONS[activation]())
        self.model = nn.Sequential(*mods)      # features -> logits z_L (no output activation)
        self.init(init_seed)

    # -- parameters ------------------------------------------------------------------

    def init(self, init_seed: int) -> None:
        """Weights ~ U(-0.5, 0.5), biases 0.1 (the original's ``buildNetwork``)."""
        rng = np.random.default_rng(init_seed)
        for layer in self.layers:
            layer.weight._data[...] = rng.uniform(-0.5, 0.5, layer.weight._data.shape)
            layer.bias._data[...] = 0.1

    @property
    def weights(self) -> list[np.ndarray]:
        return [layer.weight._data for layer in self.layers]

    @property
    def biases(self) -> list[np.ndarray]:
        return [layer.bias._data for layer in self.layers]

    def finite(self) -> bool:
        return all(np.isfinite(w).all() for w in self.weights + self.biases)

    # -- forward ---------------------------------------------------------------------

    def forward_all(self, x: np.ndarray):
        """Every layer's output for features x (n, d): ([a_1 .. a_{L-1}], z_L, o).

        a_l (n, size_l) are the hidden activations, z_L the output layer's pre-activation
        (logits) and o = out_act(z_L).  One batched pass, float32."""
        hidden = []
        a = x
        with np.errstate(all="ignore"):
            for i, (W, b) in enumerate(zip(self.weights, self.biases)):
                z = a @ W.T
                z += b
                if i < len(self.layers) - 1:
                    a = _act_np(self.activation, z)
                    hidden.append(a)
            return hidden, z, self.output(z)

    def output(self, z):
        """o = out_act(z_L)."""
        if self.out_act == "tanh":
            return np.tanh(z)
        if self.out_act == "sigmoid":
            return _sigmoid(z)
        if self.out_act == "softmax":
            return softmax_np(z)
        return z.copy()

    # -- gradients of one batch ------------------------------------------------------

    def fused_grads(self, x: np.ndarray, t: np.ndarray):
        """dJ/dW_l and dJ/db_l of one batch by hand-written backprop (see the module doc).

        x: (m, d) features; t: (m, n_out) targets.  Returns ([gW_l], [gb_l])."""
        acts = [x]
        a = x
        n_layers = len(self.layers)
        Ws, bs = self.weights, self.biases
        for i in range(n_layers):
            z = a @ Ws[i].T
            z += bs[i]
            a = _act_np(self.activation, z) if i < n_layers - 1 else z
            acts.append(a)
        z = acts[-1]
        m = x.shape[0]
        if self.loss == "crossentropy":          # sigmoid / softmax: dJ/dz = (p - t) / m
            delta = self.output(z)
            delta -= t
        elif self.out_act == "tanh":             # dJ/dz = (o - t)(1 - o^2) / m
            o = np.tanh(z)
            delta = (o - t) * (1 - o * o)
        else:                                    # linear output
            delta = z - t
        delta /= m
        gWs, gbs = [None] * n_layers, [None] * n_layers
        for i in range(n_layers - 1, -1, -1):
            gWs[i] = delta.T @ acts[i]
            gbs[i] = delta.sum(axis=0)
            if i > 0:
                delta = delta @ Ws[i]
                d = _act_grad_np(self.activation, acts[i])
                if d is not None:
                    delta *= d
        return gWs, gbs

    def reference_loss(self, x: np.ndarray, t: np.ndarray):
        """The batch loss J as a neurona tensor, through the nn modules (autograd on)."""
        z = self.model(nr.tensor(x))
        if self.loss == "crossentropy":
            if self.out_act == "softmax":
                return F.cross_entropy(z, nr.tensor(t.argmax(axis=1)))
            return F.binary_cross_entropy_with_logits(z, nr.tensor(t))
        o = nr.tanh(z) if self.out_act == "tanh" else z
        return ((o - nr.tensor(t)) ** 2).sum(dim=1).mean() * 0.5

    def reference_grads(self, x: np.ndarray, t: np.ndarray):
        """dJ/dW_l and dJ/db_l of one batch by neurona's autograd."""
        for p in self.model.parameters():
            p.grad = None
        self.reference_loss(x, t).backward()
        return ([layer.weight.grad._data for layer in self.layers],
                [layer.bias.grad._data for layer in self.layers])
