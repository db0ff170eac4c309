"""``Parameter``: a tensor that a :class:`~neurona.nn.Module` owns and an optimizer trains.

A parameter is an ordinary :class:`~neurona.Tensor` with two differences:

* it requires grad by default (``Parameter(t, requires_grad=False)`` for a frozen one);
* assigning it as an attribute of a module (``self.weight = nn.Parameter(...)``)
  *registers* it, so ``module.parameters()`` -- the list an optimizer is given -- and
  ``module.state_dict()`` include it.

``Parameter(t)`` shares memory with ``t`` (no copy), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor, as_array

__all__ = ["Parameter", "is_lazy"]


class Parameter(Tensor):
    """A trainable tensor of a module: ``nn.Parameter(neurona.zeros(3))``.

    Args:
        data: a tensor (shared, not copied) or anything ``neurona.tensor`` accepts
            (default: an empty float tensor).
        requires_grad: whether the optimizer should train it (default True).
    """

    __slots__ = ()     # Tensor uses __slots__; a subclass adds none

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            arr = np.empty((0,), dtype=dtypes.get_default_dtype().np)
            version = [0]
        elif isinstance(data, Tensor):
            arr = data._data
            version = data._version            # same memory, same version counter
        else:
            arr = as_array(data, None, None, copy=False)
            version = [0]
        self._data = arr
        self.grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._version = version
        self._hooks = None
        self._base = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor._wrap(self._data.copy()), requires_grad=self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor._wrap(self.grad._data.copy())
        memo[id(self)] = p
        return p

    def __copy__(self):
        return Parameter(self, requires_grad=self.requires_grad)

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach().numpy().copy() if
                                      type(self._data) is np.ndarray else self._data.get(),
                                      self.requires_grad))


def _rebuild_parameter(arr, requires_grad):
    return Parameter(Tensor._wrap(arr), requires_grad=requires_grad)


def is_lazy(param) -> bool:
    """Always False: neurona has no lazy (uninitialized) parameters."""
    return False

