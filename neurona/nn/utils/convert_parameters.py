"""Flatten parameters into one vector and back (for second-order methods, line searches,
or looking at a model's weights as a single point)."""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """All parameters, flattened and concatenated into one 1-d tensor (differentiable)."""
    from ...ops.shape import cat
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters (in place, so an
    optimizer holding them sees the new values)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a neurona Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec must be 1-d with {total} elements (the "
                         f"parameters' total), got shape {tuple(vec.shape)}")
    v = vec._data
    i = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p._data[...] = v[i:i + n].reshape(p.shape)
            p._version[0] += 1
            i += n
