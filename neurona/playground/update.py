"""One training update of the playground network: the optimizer's step on the batch
gradient, then the original's regularization of the weights (biases are not regularized).

With learning rate eta, regularization rate lambda and g the mean gradient of the batch::

    SGD        w <- w - eta g                               (the original)
    momentum   b <- 0.9 b + g,  w <- w - eta b              (torch.optim.SGD(momentum=0.9))
    Adam       w <- w - eta m_hat / (sqrt(v_hat) + 1e-8)    (torch.optim.Adam defaults)

then, with w_old the weight before the step::

    L2         w <- w - eta lambda w_old
    L1         w' = w - eta lambda sign(w_old); if w and w' have opposite signs the
               weight crossed zero: it becomes 0 and the link is *dead* -- it stays 0
               and is never updated again (until the network is rebuilt or reset).

This is ``nn.ts`` ``updateWeights`` of the TensorFlow Playground.  ``Updater`` does it on
the layers' arrays; ``fused=False`` takes the gradients from neurona's autograd and the
step from ``neurona.optim`` (the reference), ``fused=True`` does both in NumPy (fast).
"""
from __future__ import annotations

import math

import numpy as np

from neurona import optim

__all__ = ["Updater"]

MOMENTUM = 0.9
BETAS = (0.9, 0.999)
EPS = 1e-8


class Updater:
    """Holds the optimizer state and the dead-link masks of one network."""

    def __init__(self, net, optimizer: str, lr: float, regularization: str, rate: float,
                 fused: bool = True):
        self.net = net
        self.fused = fused
        self.dead = [np.zeros(w.shape, dtype=bool) for w in net.weights]
        self.optimizer = None
        self.configure(optimizer, lr, regularization, rate)

    def configure(self, optimizer: str, lr: float, regularization: str, rate: float) -> None:
        """New hyper-parameters; the optimizer's state restarts only if the optimizer changes."""
        if optimizer != self.optimizer:
            self.optimizer = optimizer
            self.state = [dict() for _ in range(2 * len(self.net.layers))]
            self.steps = 0
            params = list(self.net.model.parameters())
            if optimizer == "adam":
                self.torchlike = optim.Adam(params, lr=lr, betas=BETAS, eps=EPS)
            else:
                self.torchlike = optim.SGD(params, lr=lr,
                                           momentum=MOMENTUM if optimizer == "momentum" else 0)
        self.lr, self.regularization, self.rate = float(lr), regularization, float(rate)
        for group in self.torchlike.param_groups:
            group["lr"] = self.lr

    # -- one batch -------------------------------------------------------------------

    def batch(self, x: np.ndarray, t: np.ndarray) -> None:
        """Train on one batch: x (m, d) features, t (m, n_out) targets."""
        net = self.net
        regularize = self.regularization != "none" and self.rate > 0
        old = [w.copy() for w in net.weights] if regularize else None
        if self.fused:
            gWs, gbs = net.fused_grads(x, t)
            self.steps += 1
            for i, (W, b) in enumerate(zip(net.weights, net.biases)):
                self._step(2 * i, W, gWs[i])
                self._step(2 * i + 1, b, gbs[i])
        else:
            net.reference_grads(x, t)
            self.torchlike.step()
        if regularize:
            self._regularize(old)
        for W, dead in zip(net.weights, self.dead):
            if dead.any():
                W[dead] = 0.0

    def _step(self, k: int, p: np.ndarray, g: np.ndarray) -> None:
        lr = self.lr
        if self.optimizer == "sgd":
            g *= lr
            p -= g
        elif self.optimizer == "momentum":
            buf = self.state[k].get("b")
            if buf is None:
                buf = self.state[k]["b"] = g.copy()
            else:
                buf *= MOMENTUM
                buf += g
            p -= lr * buf
        else:
            st = self.state[k]
            if not st:
                st["m"], st["v"] = np.zeros_like(p), np.zeros_like(p)
            m, v = st["m"], st["v"]
            m *= BETAS[0]
            m += (1 - BETAS[0]) * g
            v *= BETAS[1]
            v += (1 - BETAS[1]) * g * g
            t = self.steps
            denom = np.sqrt(v) / math.sqrt(1 - BETAS[1] ** t) + EPS
            p -= (lr / (1 - BETAS[0] ** t)) * m / denom

    def _regularize(self, old) -> None:
        scale = self.lr * self.rate
        for W, W_old, dead in zip(self.net.weights, old, self.dead):
            if self.regularization == "L2":
                W -= scale * W_old
            else:                                  # L1, with the zero-crossing rule
                new = W - scale * np.sign(W_old)
                crossed = W * new < 0
                new[crossed] = 0.0
                dead |= crossed
                W[...] = new
