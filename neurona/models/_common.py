"""Helpers shared by the models: checked inputs, and what every zoo model carries."""
from __future__ import annotations

import numpy as np

from .. import nn
from ..tensor import Tensor

__all__ = ["as_features", "as_targets", "ZooModel", "progress_bar"]


def _array(a) -> np.ndarray:
    if isinstance(a, Tensor):
        return a.detach().numpy()
    return np.asarray(a)


def as_features(X, who: str, in_features: int | None = None) -> np.ndarray:
    """``X`` as a float array of shape (N, n), refusing NaN/Inf and wrong widths with a
    message that says where the problem is."""
    X = _array(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{who}: X must hold numbers, got an array of dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{who}: X must have shape (N, features); got shape {X.shape}")
    X = X.astype(np.float32 if X.dtype != np.float64 else np.float64, copy=False)
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{who}: X contains {int(bad.sum())} NaN or infinite value(s), "
                         f"the first at row {r}, column {c}. Remove or impute them first "
                         f"(e.g. replace them with the column mean).")
    if in_features is not None and X.shape[1] != in_features:
        raise ValueError(f"{who}: the model takes {in_features} features per example, "
                         f"but X has {X.shape[1]} (shape {X.shape})")
    return X


def as_targets(y, who: str, n: int, kind: str = "float") -> np.ndarray:
    """``y`` as an (N,) array; ``kind`` 'float' (regression) or 'binary' (labels 0/1)."""
    y = _array(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{who}: y must have shape (N,); got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{who}: X has {n} examples but y has {len(y)}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"{who}: y contains NaN or infinite values (the first at index {i})")
    if kind == "binary":
        values = np.unique(y)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"{who}: y must hold the labels 0 and 1 only; found "
                             f"{values[:10].tolist()}{' ...' if len(values) > 10 else ''}")
    return y


class ZooModel(nn.Module):
    """A model of the zoo: a Module that remembers the arguments it was built with, so a
    checkpoint can rebuild it (``neurona.models.get(model.name, **model.get_config())``)."""

    name = ""

    def get_config(self) -> dict:
        """The constructor's keyword arguments (JSON-friendly)."""
        return dict(self._config)


def progress_bar(iterable, desc: str = "", enabled: bool = True, **kw):
    """``iterable`` wrapped in a tqdm bar when ``enabled`` and stderr is a terminal (tqdm
    is a dependency of neurona; the bar disappears when done)."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True, disable=None, **kw)
