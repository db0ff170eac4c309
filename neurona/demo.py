"""``neurona demo``: train a two-layer network with nothing but tensors and autograd.

The data is the "spiral" of the TensorFlow Playground: two interleaved arms of points
in the plane, one per class, which no straight line separates.  The network

    h = tanh(x W1 + b1)          x: (B, 2)    W1: (2, 64)   b1: (64,)
    z = h W2 + b2                z: (B, 2)    W2: (64, 2)   b2: (2,)
    L = cross_entropy(z, y)      mean over the batch of  -log softmax(z)[y]

is trained by mini-batch gradient descent written out by hand: ``L.backward()`` fills
each parameter's ``.grad`` with dL/dparameter, and the update

    p <- p - lr * dL/dp

runs inside ``neurona.no_grad()`` so that it is not itself recorded for backward.
Later in the course ``nn.Linear``, ``optim.SGD`` and ``DataLoader`` do these steps for us.
"""
from __future__ import annotations

import math
import time

import numpy as np

import neurona as nr
import neurona.nn.functional as F

__all__ = ["spiral", "main"]


def spiral(n_per_class: int = 200, noise: float = 0.02, seed: int = 0):
    """The Playground's two-arm spiral: points (x, y) in about [-1, 1]^2 and labels 0/1.

    Arm c (c = 0, 1) has points at radius r_i = i / n and angle
    t_i = 3.5 pi r_i + c pi  (1.75 turns), each coordinate plus uniform noise in
    [-noise, noise].
    Returns ``(X, y)``: float32 array (2n, 2) and int64 array (2n,).
    """
    rng = np.random.default_rng(seed)
    r = np.arange(n_per_class) / n_per_class
    points, labels = [], []
    for c in (0, 1):
        t = 1.75 * 2 * math.pi * r + c * math.pi
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        xy += rng.uniform(-noise, noise, size=xy.shape)
        points.append(xy)
        labels.append(np.full(n_per_class, c))
    return np.concatenate(points).astype(np.float32), np.concatenate(labels).astype(np.int64)


def main(epochs: int = 800, seed: int = 0, hidden: int = 64, lr: float = 0.2,
         batch_size: int = 40, print_every: int | None = None) -> dict:
    """Train and print the loss as it falls; return ``{"losses": [...], "accuracy": a}``."""
    X, y = spiral(seed=seed)
    nr.manual_seed(seed)
    shuffle = np.random.default_rng(seed + 1)

    # Parameters: leaf tensors that require grad.  The first layer starts with large
    # weights (std ~3.5) so that tanh units can bend along the tightly wound spiral.
    W1 = (nr.randn(2, hidden) * (5 / math.sqrt(2))).requires_grad_()
    b1 = nr.zeros(hidden, requires_grad=True)
    W2 = (nr.randn(hidden, 2) / math.sqrt(hidden)).requires_grad_()
    b2 = nr.zeros(2, requires_grad=True)
    params = [W1, b1, W2, b2]

    def forward(x):
        return nr.tanh(x @ W1 + b1) @ W2 + b2

    X_all, y_all = nr.tensor(X), nr.tensor(y)
    print_every = print_every or max(1, epochs // 10)
    print(f"spiral: {len(X)} points, 2 classes;  network 2-{hidden}-2 (tanh);  "
          f"SGD lr={lr}, batch {batch_size}, {epochs} epochs")
    losses = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = shuffle.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(forward(nr.tensor(X[idx])), nr.tensor(y[idx]))
            loss.backward()                    # p.grad = dL/dp for every parameter
            with nr.no_grad():                 # the update itself is not differentiated
                for p in params:
                    p -= lr * p.grad
                    p.grad = None              # gradients accumulate: clear them
        if epoch == 1 or epoch % print_every == 0 or epoch == epochs:
            with nr.no_grad():
                full_loss = F.cross_entropy(forward(X_all), y_all).item()
            losses.append(full_loss)
            print(f"epoch {epoch:4d}   loss {full_loss:.4f}")

    with nr.no_grad():
        predicted = forward(X_all).numpy().argmax(axis=1)
    accuracy = float((predicted == y).mean())
    print(f"final loss {losses[-1]:.4f}   accuracy {accuracy:.1%}   "
          f"({time.perf_counter() - start:.1f} s)")
    return {"losses": losses, "accuracy": accuracy}


if __name__ == "__main__":
    main()
