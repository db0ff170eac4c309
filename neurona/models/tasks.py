"""Datasets made ready for a model: split, standardized, labels as the loss wants them.

    task = load_task("breast-cancer", seed=0)
    task.X_train, task.y_train, task.X_test, task.y_test    # NumPy arrays
    task.kind          # 'classification' or 'regression'
    task.num_classes   # 2 here

What each kind of dataset gets:

* the scikit-learn ones (iris, breast-cancer, diabetes, digits, wine): a seeded 80/20
  split (stratified for classification), then each feature standardized with the
  *training* split's mean and standard deviation (digits, being pixels, with one mean and
  one standard deviation for all of them, as mnist);
* mnist, fashion-mnist: the official 60,000 / 10,000 split; pixels scaled to [0, 1] and
  then by the training set's overall mean and standard deviation (one number each);
* cifar10: the official 50,000 / 10,000 split when its python batches are in the data
  folder, else the shared JPEG copy (10,000 training images, 1,000 per class, and the
  10,000 test images); pixels scaled to [0, 1], then each colour channel by the training
  set's mean and standard deviation of that channel;
* the TensorFlow Playground's 2-D problems (circle, xor, gauss, spiral; plane and
  multi-gauss for regression): 500 generated points (noise 0.1), labels -1/+1 turned
  into 0/1, an 80/20 split and standardization as above.

The statistics (``mean``, ``std``) travel with a checkpoint, so ``neurona evaluate``
prepares new data exactly as training did (:func:`apply_scaling`).

Images (mnist, fashion-mnist, cifar10, digits) are kept as flat rows, one pixel per
column in channel-first order, so that every model of the zoo can read them; their
``image_shape`` -- ``(1, 28, 28)``, ``(3, 32, 32)``, ``(1, 8, 8)`` -- tells a
convolutional network how to fold them back: ``task.images(task.X_train)`` is
``(N, C, H, W)``.  Per-channel statistics are stored repeated for every pixel of their
channel, so that they apply to flat rows as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Task", "load_task", "dataset_names", "canonical_dataset", "apply_scaling",
           "SKLEARN", "PLAYGROUND"]

SKLEARN = ("iris", "breast-cancer", "diabetes", "digits", "wine")
PLAYGROUND = ("circle", "xor", "gauss", "spiral", "plane", "multi-gauss")
_FILES = ("mnist", "fashion-mnist", "cifar10")
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32),
                "digits": (1, 8, 8)}


def dataset_names() -> list[str]:
    """Every name :func:`load_task` accepts."""
    return list(SKLEARN + _FILES + PLAYGROUND)


def canonical_dataset(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    if key not in dataset_names():
        raise ValueError(f"unknown dataset {name!r}; the datasets are: "
                         f"{', '.join(dataset_names())}")
    return key


@dataclass
class Task:
    """A prepared dataset (see the module docstring)."""
    name: str
    kind: str                      # 'classification' or 'regression'
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray               # X_scaled = (X - mean) / std
    std: np.ndarray
    num_classes: int = 0           # 0 for regression
    class_names: list = field(default_factory=list)
    feature_names: list = field(default_factory=list)
    X_train_raw: np.ndarray | None = None     # before scaling (for plots of 2-D data)
    X_test_raw: np.ndarray | None = None
    image_shape: tuple | None = None          # (C, H, W) for images, None otherwise

    @property
    def in_features(self) -> int:
        return int(np.prod(self.X_train.shape[1:]))

    def images(self, X) -> np.ndarray:
        """Flat rows of pixels ``X`` (N, C*H*W) as images ``(N, C, H, W)``."""
        if self.image_shape is None:
            raise ValueError(f"{self.name} is not an image dataset")
        return np.asarray(X).reshape(len(X), *self.image_shape)


def apply_scaling(X, mean, std) -> np.ndarray:
    """(X - mean) / std as float32, with a readable error when the widths differ."""
    X = np.asarray(X, np.float32)
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    if mean.size not in (1, X.shape[-1]):
        raise ValueError(f"the data has {X.shape[-1]} features but the scaling statistics "
                         f"(from training) are for {mean.size}: is this the dataset the "
                         f"model was trained on?")
    return (X - mean) / std


def _numpy(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def load_task(name: str, seed: int = 0, data_dir=None, n_points: int = 500,
              noise: float = 0.1, test_size: float = 0.2) -> Task:
    """Load, split and standardize the dataset ``name`` (see :func:`dataset_names`)."""
    from .. import datasets
    key = canonical_dataset(name)
    class_names, feature_names = [], []
    if key in SKLEARN:
        bunch = getattr(datasets, "load_" + key.replace("-", "_"))()
        X, y = _numpy(bunch.data), _numpy(bunch.target)
        kind = bunch.task
        class_names = list(bunch.target_names or [])
        feature_names = list(bunch.feature_names)
    elif key in PLAYGROUND:
        X, y = datasets.playground(key, n=n_points, noise=noise, seed=seed)
        X, y = _numpy(X), _numpy(y)
        kind = datasets.PLAYGROUND_PROBLEMS[key.replace("-", "_")]
        if kind == "classification":
            y = (y > 0).astype(np.int64)            # -1/+1 -> 0/1
            class_names = ["-1 (orange)", "+1 (blue)"]
        feature_names = ["x1", "x2"]
    elif key == "cifar10":
        return _cifar10_task(data_dir)
    else:                                                          # mnist, fashion-mnist
        fashion = key == "fashion-mnist"
        X, y = datasets.mnist_arrays(data_dir, train=True, fashion=fashion)
        Xt, yt = datasets.mnist_arrays(data_dir, train=False, fashion=fashion)
        X, y, Xt, yt = _numpy(X), _numpy(y), _numpy(Xt), _numpy(yt)
        mean = np.array([X.mean()], np.float32)
        std = np.array([X.std()], np.float32)
        names = (list(datasets.FashionMNIST.classes) if fashion
                 else [str(i) for i in range(10)])
        return Task(key, "classification", apply_scaling(X, mean, std), y.astype(np.int64),
                    apply_scaling(Xt, mean, std), yt.astype(np.int64), mean, std, 10,
                    names, [], X_test_raw=Xt, image_shape=IMAGE_SHAPES[key])
    stratify = y if kind == "classification" else None
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, y, test_size=test_size, seed=seed,
                                                       stratify=stratify)
    if key == "digits":            # pixels: one mean and std for all (as for MNIST)
        mean, std = np.array([X_tr.mean()], np.float32), np.array([X_tr.std()], np.float32)
    else:
        mean = X_tr.mean(axis=0).astype(np.float32)
        std = X_tr.std(axis=0)
        std = np.where(std > 0, std, 1.0).astype(np.float32)
    if kind == "classification":
        y_tr, y_te = y_tr.astype(np.int64), y_te.astype(np.int64)
        num_classes = int(max(y_tr.max(), y_te.max()) + 1)
    else:
        y_tr, y_te = y_tr.astype(np.float32), y_te.astype(np.float32)
        num_classes = 0
    return Task(key, kind, apply_scaling(X_tr, mean, std), y_tr, apply_scaling(X_te, mean, std),
                y_te, mean, std, num_classes, [str(c) for c in class_names], feature_names,
                X_train_raw=X_tr, X_test_raw=X_te, image_shape=IMAGE_SHAPES.get(key))


def _cifar10_task(data_dir) -> Task:
    """CIFAR-10 from the official python batches when they are there, else from the shared
    JPEG copy (10,000 training images, the 10,000 test images): flat rows of 3x32x32
    pixels in [0, 1], scaled per colour channel."""
    from .. import datasets
    official = all(datasets.CIFAR10.find_folder(data_dir, train) is not None
                   for train in (True, False))
    load = datasets.cifar10_arrays if official else datasets.cifar10_jpg
    X, y = load(data_dir, train=True)
    Xt, yt = load(data_dir, train=False)
    X, y, Xt, yt = _numpy(X), _numpy(y), _numpy(Xt), _numpy(yt)
    C, H, W = IMAGE_SHAPES["cifar10"]
    channel_mean = X.mean(axis=(0, 2, 3), dtype=np.float64)            # (3,)
    channel_std = X.std(axis=(0, 2, 3), dtype=np.float64)
    mean = np.repeat(channel_mean, H * W).astype(np.float32)            # (3072,): per pixel
    std = np.repeat(channel_std, H * W).astype(np.float32)
    X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    return Task("cifar10", "classification", apply_scaling(X, mean, std), y.astype(np.int64),
                apply_scaling(Xt, mean, std), yt.astype(np.int64), mean, std, 10,
                list(datasets.CIFAR10_CLASSES), [], X_test_raw=Xt,
                image_shape=IMAGE_SHAPES["cifar10"])
