"""Dropout layers: in training mode zero each element (``Dropout``) or each whole channel
(``Dropout1d/2d/3d``) with probability p and scale the rest by 1/(1-p); in evaluation
mode (``model.eval()``) pass the input through unchanged."""
from __future__ import annotations

from ..ops.dropout import dropout as _dropout, dropout1d as _dropout1d, \
    dropout2d as _dropout2d, dropout3d as _dropout3d
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` while training (scaling the others by
    1/(1-p), so that the expected output equals the input); identity in eval mode."""

    def forward(self, input):
        if not self.training or self.p == 0:
            return input
        return _dropout(input, self.p, True, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs with probability ``p`` while training."""

    def forward(self, input):
        return _dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) inputs with probability ``p`` while training."""

    def forward(self, input):
        return _dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) inputs with probability ``p`` while training."""

    def forward(self, input):
        return _dropout3d(input, self.p, self.training, self.inplace)
