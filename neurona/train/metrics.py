"""Metrics: how good are the predictions?  The numbers match scikit-learn's.

Every function takes ``(y_true, y_pred)`` in that order (scikit-learn's), as neurona
tensors, NumPy arrays or lists, and returns a Python float (``confusion_matrix`` returns
a NumPy array).

For classification, ``y_pred`` may be labels or the model's raw outputs:

* scores of shape ``(N, C)`` (logits or probabilities) -> the label is the argmax;
* one probability per sample, shape ``(N,)`` or ``(N, 1)`` -> label 1 when ``> 0.5``
  (pass ``threshold=0.0`` for logits of a binary model trained with BCEWithLogitsLoss).

    >>> accuracy([0, 1, 1], [[2.0, 1.0], [0.1, 0.3], [0.0, 1.0]])
    1.0
"""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "precision", "recall", "f1", "f1_score", "precision_recall_f1",
           "confusion_matrix", "mse", "mae", "r2_score", "to_labels",
           "mean_squared_error", "mean_absolute_error", "accuracy_score",
           "precision_score", "recall_score"]


# ----------------------------------------------------------------------------- inputs

def _numpy(x) -> np.ndarray:
    """A NumPy array from a tensor (CPU or GPU, with or without grad), array or list."""
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x)


def to_labels(y, threshold: float = 0.5) -> np.ndarray:
    """Class labels from labels, ``(N, C)`` scores or ``(N,)`` probabilities (see module doc)."""
    y = _numpy(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1) if y.ndim == 2 else y
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        return (y > threshold).astype(np.int64)        # probabilities (or logits)
    if y.dtype.kind == "f":
        return y.astype(np.int64)                      # labels stored as floats
    return y


def _pair_of_labels(y_true, y_pred, threshold):
    t, p = to_labels(y_true, threshold), to_labels(y_pred, threshold)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred hold different numbers of samples: "
                         f"{t.shape[0] if t.ndim else 1} and {p.shape[0] if p.ndim else 1}")
    return t, p


def _pair_of_values(y_true, y_pred):
    """Two float arrays of one shape; (N,) and (N, 1) are treated as the same shape."""
    t, p = _numpy(y_true).astype(np.float64), _numpy(y_pred).astype(np.float64)
    if t.ndim == 2 and t.shape[1] == 1 and p.ndim == 1:
        t = t.reshape(-1)
    if p.ndim == 2 and p.shape[1] == 1 and t.ndim == 1:
        p = p.reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    return t, p


# ----------------------------------------------------------------------------- classification

def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """The fraction of samples whose predicted label is the true one."""
    t, p = _pair_of_labels(y_true, y_pred, threshold)
    return float(np.mean(t == p)) if t.size else 0.0


def confusion_matrix(y_true, y_pred, labels=None, threshold: float = 0.5) -> np.ndarray:
    """``C[i, j]`` = how many samples of true class ``labels[i]`` were predicted ``labels[j]``.

    ``labels`` defaults to the sorted classes seen in either input (as scikit-learn).
    """
    t, p = _pair_of_labels(y_true, y_pred, threshold)
    labels = np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)
    k = len(labels)
    i, j = _positions(labels, t), _positions(labels, p)
    known = (i >= 0) & (j >= 0)                  # samples whose classes are both in labels
    counts = np.bincount(i[known] * k + j[known], minlength=k * k)
    return counts.reshape(k, k).astype(np.int64)


def _positions(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where each value sits in ``labels`` (-1 when it is not there)."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    at = np.clip(np.searchsorted(sorted_labels, values), 0, max(len(labels) - 1, 0))
    found = (sorted_labels[at] == values) if len(labels) else np.zeros(values.shape, bool)
    return np.where(found, order[at] if len(labels) else -1, -1)


def precision_recall_f1(y_true, y_pred, average: str = "binary", pos_label=1,
                        threshold: float = 0.5, zero_division: float = 0.0):
    """``(precision, recall, f1)`` for one ``average``:

    * ``'binary'``: of the class ``pos_label`` only (the inputs must have at most 2 classes);
    * ``'macro'``: the plain mean over classes;
    * ``'weighted'``: the mean over classes weighted by how many true samples each has;
    * ``'micro'``: from the total counts (for single-label data, all three equal accuracy).

    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 TP / (2 TP + FP + FN);
    a 0/0 gives ``zero_division``.
    """
    if average not in ("binary", "macro", "micro", "weighted"):
        raise ValueError(f"unknown average {average!r}: use 'binary', 'macro', 'micro' or "
                         "'weighted'")
    t, p = _pair_of_labels(y_true, y_pred, threshold)
    labels = np.unique(np.concatenate([t, p]))
    cm = confusion_matrix(t, p, labels=labels)
    tp = np.diag(cm).astype(np.float64)          # per class: true positives,
    fp = cm.sum(axis=0) - tp                      # false positives (predicted, not true)
    fn = cm.sum(axis=1) - tp                      # and false negatives (true, missed)
    if average == "binary":
        keep = _binary_class(labels, pos_label)
        if keep is None:                          # pos_label never occurs
            return (float(zero_division),) * 3
        tp, fp, fn = tp[keep:keep + 1], fp[keep:keep + 1], fn[keep:keep + 1]
    if average == "micro":
        tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    precision = _ratio(tp, tp + fp, zero_division)
    recall = _ratio(tp, tp + fn, zero_division)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn, zero_division)
    if average == "weighted":
        support = tp + fn
        weights = support / support.sum() if support.sum() else np.zeros_like(support)
        return tuple(float(np.sum(m * weights)) for m in (precision, recall, f1))
    return tuple(float(np.mean(m)) for m in (precision, recall, f1))


def _binary_class(labels: np.ndarray, pos_label):
    """The index of ``pos_label`` among ``labels`` (None if absent), checking there are 2."""
    present = labels.tolist()
    if len(present) > 2:
        raise ValueError(f"average='binary' needs two classes, but the data has "
                         f"{len(present)} ({present}): choose average='macro', 'micro' or "
                         "'weighted'")
    if pos_label in present:
        return present.index(pos_label)
    if len(present) == 2:
        raise ValueError(f"pos_label={pos_label!r} is not one of the classes {present}")
    return None


def _ratio(num, den, zero_division):
    out = np.full(num.shape, float(zero_division))
    np.divide(num, den, out=out, where=den > 0)
    return out


def precision(y_true, y_pred, average: str = "binary", pos_label=1, threshold: float = 0.5,
              zero_division: float = 0.0) -> float:
    """Of the samples predicted positive, the fraction that are: TP / (TP + FP)."""
    return precision_recall_f1(y_true, y_pred, average, pos_label, threshold, zero_division)[0]


def recall(y_true, y_pred, average: str = "binary", pos_label=1, threshold: float = 0.5,
           zero_division: float = 0.0) -> float:
    """Of the positive samples, the fraction predicted positive: TP / (TP + FN)."""
    return precision_recall_f1(y_true, y_pred, average, pos_label, threshold, zero_division)[1]


def f1(y_true, y_pred, average: str = "binary", pos_label=1, threshold: float = 0.5,
       zero_division: float = 0.0) -> float:
    """The harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN)."""
    return precision_recall_f1(y_true, y_pred, average, pos_label, threshold, zero_division)[2]


# ----------------------------------------------------------------------------- regression

def mse(y_true, y_pred) -> float:
    """Mean squared error: mean((y_true - y_pred)^2)."""
    t, p = _pair_of_values(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mae(y_true, y_pred) -> float:
    """Mean absolute error: mean(|y_true - y_pred|)."""
    t, p = _pair_of_values(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination: 1 - sum((y - y_pred)^2) / sum((y - mean(y))^2).

    1 is perfect, 0 is as good as always predicting the mean.  With several outputs
    (columns), the mean of the per-column scores.  A constant ``y_true`` gives 1.0 for a
    perfect prediction and 0.0 otherwise (as scikit-learn).
    """
    t, p = _pair_of_values(y_true, y_pred)
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                      np.where(ss_res == 0, 1.0, 0.0))
    return float(scores.mean())


# scikit-learn's names, for those who know them
accuracy_score = accuracy
precision_score = precision
recall_score = recall
f1_score = f1
mean_squared_error = mse
mean_absolute_error = mae
