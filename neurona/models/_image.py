"""What the convolutional models of the zoo share: NumPy-in, NumPy-out ``predict``.

A CNN's ``forward`` takes a tensor of images ``(N, C, H, W)``, as in PyTorch.  For the
course it is handy to also ask a trained model for labels straight from a NumPy array,
as the other zoo models allow::

    model.predict(X_test)          # X_test: (N, C, H, W), or (N, H, W) for one channel,
                                   # or (N, C*H*W) rows of pixels -- reshaped to the model's
                                   # input_shape
    model.score(X_test, y_test)    # accuracy

These run in eval mode (dropout off, batch-norm running statistics) under ``no_grad``, in
batches so that large test sets do not need much memory.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import tensor
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["ImageClassifier"]


class ImageClassifier(ZooModel):
    """Base of the zoo's CNN classifiers; subclasses set ``self.input_shape = (C, H, W)``."""

    input_shape: tuple = ()

    def loss_fn(self):
        """Cross-entropy on the logits (log-softmax + negative log-likelihood, fused)."""
        return nn.CrossEntropyLoss()

    def as_images(self, X) -> np.ndarray:
        """``X`` as a float array ``(N, C, H, W)`` of this model's ``input_shape``: accepts
        that, ``(N, H, W)`` when C is 1, or flat rows ``(N, C*H*W)``."""
        X = X.detach().numpy() if isinstance(X, Tensor) else np.asarray(X)
        who = f"{type(self).__name__}.predict"
        if X.dtype.kind not in "fiub":
            raise TypeError(f"{who}: X must hold numbers, got dtype {X.dtype}")
        shape = tuple(self.input_shape)
        if shape:
            if X.ndim == 2 and X.shape[1] == int(np.prod(shape)):
                X = X.reshape(len(X), *shape)
            elif X.ndim == 3 and shape[0] == 1 and X.shape[1:] == shape[1:]:
                X = X[:, None]
        if X.ndim != 4:
            raise ValueError(f"{who}: expected images of shape (N, C, H, W) = (N, "
                             f"{', '.join(map(str, shape)) or 'C, H, W'}); got {X.shape}")
        dtype = np.float64 if X.dtype == np.float64 else np.float32
        return X.astype(dtype, copy=False)

    def _param_dtype(self):
        p = next(iter(self.parameters()))
        return p.dtype

    def logits(self, X, batch_size: int = 500) -> np.ndarray:
        """The model's outputs (N, num_classes) for images ``X``, as a NumPy array."""
        X = self.as_images(X)
        was_training = self.training
        self.eval()
        out = []
        try:
            with no_grad():
                for i in range(0, len(X), batch_size):
                    out.append(self(tensor(X[i:i + batch_size],
                                           dtype=self._param_dtype())).numpy())
        finally:
            self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.num_classes), np.float32)

    def predict_proba(self, X, batch_size: int = 500) -> np.ndarray:
        """softmax of the logits: (N, num_classes) class probabilities."""
        z = self.logits(X, batch_size)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X, batch_size: int = 500) -> np.ndarray:
        """Class labels (N,): the argmax of the logits."""
        return self.logits(X, batch_size).argmax(axis=1)

    def score(self, X, y) -> float:
        """Accuracy of ``predict`` against the labels ``y``."""
        return float((self.predict(X) == np.asarray(y).reshape(-1)).mean())

    def conv_layers(self) -> list:
        """``(name, module)`` of every ``nn.Conv2d``, first to last (for plots of filters
        and feature maps)."""
        return [(n, m) for n, m in self.named_modules() if type(m).__name__ == "Conv2d"]

    def _check_input(self, x, sizes: str) -> None:
        """A readable error for a missing batch axis or images of the wrong height or width
        (the wrong number of channels is reported by the first convolution)."""
        C, H, W = self.input_shape
        if x.ndim != 4:
            raise ValueError(
                f"{type(self).__name__} takes a batch of images (N, {C}, {H}, {W}); got a "
                f"tensor of shape {tuple(x.shape)}"
                + (" -- for one image, add the batch axis: x.unsqueeze(0)" if x.ndim == 3
                   else ""))
        if tuple(x.shape[2:]) != (H, W):
            raise ValueError(
                f"{type(self).__name__} takes images of shape (N, {self.input_shape[0]}, "
                f"{H}, {W}) ({sizes}); got a tensor of shape {tuple(x.shape)}")
