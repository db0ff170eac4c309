"""Input features: the playground's seven ways of looking at a point (x1, x2).

The network never sees (x1, x2) directly; it sees the columns switched on among

    name      x    y    xSquared  ySquared  xTimesY  sinX     sinY
    value     x1   x2   x1^2      x2^2      x1 x2    sin x1   sin x2

always in this fixed order (the order of the original's input column).  With only x and y
a single layer draws straight lines; with x1^2 and x2^2 it can draw a circle.
"""
from __future__ import annotations

import numpy as np

__all__ = ["FEATURES", "LABELS", "features"]

FEATURES = ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")
LABELS = {"x": "X1", "y": "X2", "xSquared": "X1²", "ySquared": "X2²", "xTimesY": "X1X2",
          "sinX": "sin(X1)", "sinY": "sin(X2)"}

_FUNCS = {
    "x": lambda a, b: a,
    "y": lambda a, b: b,
    "xSquared": lambda a, b: a * a,
    "ySquared": lambda a, b: b * b,
    "xTimesY": lambda a, b: a * b,
    "sinX": lambda a, b: np.sin(a),
    "sinY": lambda a, b: np.sin(b),
}


def features(X, names) -> np.ndarray:
    """The feature matrix: X (n, 2) -> (n, len(names)) float32, columns in ``names`` order.

    ``names`` must be a sub-sequence of ``FEATURES`` (the engine passes them in that order)."""
    X = np.asarray(X, dtype=np.float32)
    a, b = X[:, 0], X[:, 1]
    out = np.empty((X.shape[0], len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        out[:, j] = _FUNCS[name](a, b)
    return out
