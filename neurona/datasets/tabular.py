"""Small real datasets bundled with scikit-learn (no download), plus splitting and scaling.

    data = load_iris()                 # a Bunch: data, target, feature_names, target_names
    X_train, X_test, y_train, y_test = train_test_split(data.data, data.target,
                                                        stratify=data.target)
    X_train, X_test = standardize(X_train, X_test)    # statistics of the training set

Features are float32 tensors; class labels int64 (iris, breast_cancer, digits, wine),
regression targets float32 (diabetes).  scikit-learn is an optional dependency:
``pip install scikit-learn`` (or ``pip install 'neurona[sklearn]'``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor

__all__ = ["Bunch", "load_iris", "load_breast_cancer", "load_diabetes", "load_digits",
           "load_wine", "SKLEARN_DATASETS", "train_test_split", "standardize",
           "StandardScaler"]

# name -> (task, number of samples, number of features)
SKLEARN_DATASETS = {"iris": ("classification", 150, 4),
                    "breast_cancer": ("classification", 569, 30),
                    "diabetes": ("regression", 442, 10),
                    "digits": ("classification", 1797, 64),
                    "wine": ("classification", 178, 13)}


class Bunch(dict):
    """A dict whose keys are also attributes: ``b.data is b["data"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __dir__(self):
        return list(self.keys())


def _sklearn_datasets():
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError("this dataset comes bundled with scikit-learn, which is not "
                          "installed: pip install scikit-learn") from None
    return datasets


def _load(name, return_X_y):
    task = SKLEARN_DATASETS[name][0]
    raw = getattr(_sklearn_datasets(), f"load_{name}")()
    X = Tensor._wrap(np.ascontiguousarray(raw.data, dtype=np.float32))
    y_dtype = np.int64 if task == "classification" else np.float32
    y = Tensor._wrap(np.ascontiguousarray(raw.target, dtype=y_dtype))
    if return_X_y:
        return X, y
    target_names = getattr(raw, "target_names", None)
    return Bunch(name=name, task=task, data=X, target=y,
                 feature_names=[str(f) for f in raw.feature_names],
                 target_names=None if target_names is None or task == "regression"
                 else [str(t) for t in target_names],
                 DESCR=raw.DESCR)


def load_iris(return_X_y: bool = False):
    """Fisher's iris: 150 flowers, 4 measurements (cm), 3 species."""
    return _load("iris", return_X_y)


def load_breast_cancer(return_X_y: bool = False):
    """Wisconsin breast cancer: 569 tumours, 30 cell-nucleus features, malignant (0) or
    benign (1)."""
    return _load("breast_cancer", return_X_y)


def load_diabetes(return_X_y: bool = False):
    """Diabetes progression: 442 patients, 10 (already centred and scaled) features, a
    real-valued disease-progression target one year later."""
    return _load("diabetes", return_X_y)


def load_digits(return_X_y: bool = False):
    """Handwritten digits: 1,797 images of 8x8 pixels (values 0-16) flattened to 64
    features, classes 0-9."""
    return _load("digits", return_X_y)


def load_wine(return_X_y: bool = False):
    """Wine recognition: 178 wines, 13 chemical measurements, 3 cultivars."""
    return _load("wine", return_X_y)


# ----------------------------------------------------------------------------- splitting
def _numpy(a):
    return a._data if isinstance(a, Tensor) else np.asarray(a)


def _take(a, idx):
    if isinstance(a, Tensor):
        return Tensor._wrap(a._data[idx])
    if isinstance(a, np.ndarray):
        return a[idx]
    return [a[i] for i in idx.tolist()]


def train_test_split(*arrays, test_size=0.2, seed=0, stratify=None, shuffle: bool = True):
    """Split arrays (tensors, NumPy arrays or lists of equal length) into random train and
    test parts, as scikit-learn does: returns ``X_train, X_test, y_train, y_test, ...``.

    Args:
        test_size: a fraction (0.2) or a number of test samples (the test part gets
            ``ceil(test_size * n)`` samples for a fraction).
        seed: random seed (same seed, same split).
        stratify: labels whose class proportions both parts should keep (usually ``y``).
        shuffle: False takes the last samples as the test set, in order.
    """
    if not arrays:
        raise ValueError("train_test_split: give at least one array")
    n = len(arrays[0])
    for k, a in enumerate(arrays):
        if len(a) != n:
            raise ValueError(f"train_test_split: all arrays must have the same length; array 0 "
                             f"has {n} samples, array {k} has {len(a)}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: test_size must be a fraction in (0, 1) or a "
                             f"count, got {test_size!r}")
        n_test = math.ceil(test_size * n)
    if not 0 < n_test < n:
        raise ValueError(f"train_test_split: test_size={test_size!r} leaves {n_test} test and "
                         f"{n - n_test} training samples out of {n}; both must be > 0")
    rng = np.random.Generator(np.random.PCG64(seed))
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        train_idx, test_idx = np.arange(n - n_test), np.arange(n - n_test, n)
    elif stratify is None:
        perm = rng.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        labels = _numpy(stratify).reshape(n, -1)
        _, cls = np.unique(labels, axis=0, return_inverse=True)
        cls = cls.reshape(-1)
        counts = np.bincount(cls)
        # test samples per class: proportional, rounded by largest remainder to sum n_test
        exact = counts * n_test / n
        per_class = np.floor(exact).astype(np.int64)
        order = np.argsort(-(exact - per_class), kind="stable")
        per_class[order[:n_test - per_class.sum()]] += 1
        test_parts, train_parts = [], []
        for c, k in enumerate(per_class):
            members = rng.permutation(np.flatnonzero(cls == c))
            test_parts.append(members[:k])
            train_parts.append(members[k:])
        test_idx = rng.permutation(np.concatenate(test_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))
    out = []
    for a in arrays:
        out += [_take(a, train_idx), _take(a, test_idx)]
    return out


# ----------------------------------------------------------------------------- scaling
class StandardScaler:
    """Shift and scale each feature (column) to mean 0 and standard deviation 1, using the
    statistics of the data given to :meth:`fit` (the training set) -- as scikit-learn's.
    Features that are constant are only shifted."""

    def fit(self, X):
        a = _numpy(X).astype(np.float64)
        self.mean_ = a.mean(axis=0)
        scale = a.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X):
        a = _numpy(X)
        dt = a.dtype if a.dtype.kind == "f" else np.float32
        out = ((a - self.mean_) / self.scale_).astype(dt)
        return Tensor._wrap(out) if isinstance(X, Tensor) else out

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        a = _numpy(X)
        dt = a.dtype if a.dtype.kind == "f" else np.float32
        out = (a * self.scale_ + self.mean_).astype(dt)
        return Tensor._wrap(out) if isinstance(X, Tensor) else out


def standardize(train, test=None):
    """``train`` scaled to mean 0 / std 1 per feature, and ``test`` scaled with the *training*
    statistics (never the test set's own).  Returns ``(train, test)``, or just ``train``
    when no test set is given."""
    scaler = StandardScaler().fit(train)
    if test is None:
        return scaler.transform(train)
    return scaler.transform(train), scaler.transform(test)
