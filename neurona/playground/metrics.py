"""What the playground shows about a network: losses, accuracy, confusion, R², RMSE.

All take the network's logits z (n, n_out) / outputs o (n, n_out) and the targets t
(n, n_out) as the engine stores them (+-1 for binary classification, {0, 1} for binary
cross-entropy, one-hot rows (+-1 or {0, 1}) for K classes, the value for regression).

    square loss     J = 1/n sum_i 1/2 sum_k (o_ik - t_ik)^2          (the original)
    cross-entropy   J = -1/n sum_i [t_i log p_i + (1 - t_i) log(1 - p_i)]   (sigmoid)
                    J = -1/n sum_i log p_i,y_i                             (softmax)
    R²  = 1 - sum (o - t)^2 / sum (t - mean t)^2,   RMSE = sqrt(mean (o - t)^2)

A NaN or infinite value comes back as None (JSON's null): the page shows "diverged".
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["loss", "predicted_classes", "true_classes", "accuracy", "confusion", "r2", "rmse",
           "finite_or_none"]


def finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def loss(kind: str, out_act: str, z, o, t) -> float:
    """The mean loss over the set (float; NaN when the network diverged; 0 for no points)."""
    if len(t) == 0:
        return 0.0
    with np.errstate(all="ignore"):
        if kind == "crossentropy" and out_act == "sigmoid":     # log(1 + e^z) - t z, stable
            z = z.astype(np.float64)
            per = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
            return float(per.mean())
        if kind == "crossentropy":                              # softmax over K classes
            z = z.astype(np.float64)
            zmax = z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
            return float((lse - (z * t).sum(axis=1)).mean())
        d = o.astype(np.float64) - t
        return float(0.5 * (d * d).sum(axis=1).mean())


def predicted_classes(o) -> np.ndarray:
    """Class index per point: output >= 0 (tanh) / >= 0.5 (sigmoid) -> 1 for one output
    (the caller passes o centred at 0), argmax for K outputs."""
    if o.shape[1] == 1:
        return (o[:, 0] >= 0).astype(np.int64)
    return o.argmax(axis=1)


def true_classes(t) -> np.ndarray:
    if t.shape[1] == 1:
        return (t[:, 0] > 0).astype(np.int64)
    return t.argmax(axis=1)


def accuracy(pred, true):
    return None if len(true) == 0 else float((pred == true).mean())


def confusion(pred, true, k: int) -> list:
    """K x K counts: row = true class, column = predicted (binary: index 0 = -1, 1 = +1)."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (true, np.clip(pred, 0, k - 1)), 1)
    return m.tolist()


def r2(o, t):
    if len(t) == 0:
        return None
    with np.errstate(all="ignore"):
        ss_res = float(((o.astype(np.float64) - t) ** 2).sum())
        ss_tot = float(((t - t.mean()) ** 2).sum())
        return finite_or_none(1 - ss_res / ss_tot) if ss_tot > 0 else None


def rmse(o, t):
    if len(t) == 0:
        return None
    with np.errstate(all="ignore"):
        return finite_or_none(math.sqrt(float(((o.astype(np.float64) - t) ** 2).mean())))
