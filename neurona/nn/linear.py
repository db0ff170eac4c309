"""``Identity``, the fully connected layer ``Linear``, and ``Flatten`` /
``Unflatten``.

``Linear(in_features, out_features)`` computes y = x W^T + b with W of shape
(out_features, in_features) -- PyTorch's layout, so weights load from PyTorch unchanged.
"""
from __future__ import annotations

import math

from .. import creation
from ..ops.linalg import linear as _linear
from ..ops.shape import flatten as _flatten, unflatten as _unflatten
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Flatten", "Unflatten"]


def _empty(shape, device=None, dtype=None):
    return creation.empty(*shape, dtype=dtype, device=device)


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer of a model).
    Any constructor arguments are ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """A fully connected layer: y = x W^T + b.

    Args:
        in_features: size of each input sample (the last dim of x).
        out_features: size of each output sample.
        bias: learn the additive bias b (default True).

    Shape: input (*, in_features) -> output (*, out_features).

    Attributes:
        weight: (out_features, in_features), initialized U(-1/sqrt(in), 1/sqrt(in))
            (``kaiming_uniform_`` with a = sqrt(5), as PyTorch).
        bias: (out_features,), initialized U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in_features), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input._data.shape[-1:] != (self.in_features,):
            self._shape_error(input)
        return _linear(input, self.weight, self.bias)

    def _shape_error(self, input):
        shape = tuple(input.shape)
        n = self.in_features
        hint = "check in_features of this layer and the output size of the layer before it"
        if len(shape) >= 3 and math.prod(shape[1:]) == n:
            hint = ("did you forget nn.Flatten() (or x.flatten(1)) before this layer? "
                    f"Flattening (N, {', '.join(map(str, shape[1:]))}) gives (N, {n})")
        elif len(shape) >= 1:
            hint = (f"the input has {shape[-1]} features: make this layer "
                    f"Linear({shape[-1]}, {self.out_features}), or change what feeds it")
        raise RuntimeError(f"{self!r}: expected input with last dimension {n}, got shape "
                           f"{shape}; {hint}")

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge dims ``start_dim``..``end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by
    default (start_dim=1 keeps the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return _flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) turns
    (N, C*H*W) into (N, C, H, W)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: named dimensions are not supported; give dim as an int")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        return _unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
