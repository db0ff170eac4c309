"""Normalization layers: ``BatchNorm1d``/``BatchNorm2d`` (statistics over the batch, per
channel) and ``LayerNorm`` (statistics over the features, per sample).

The maths and the fused backward live in :mod:`neurona.ops.normalization`.
"""
from __future__ import annotations

import numbers


from .. import creation
from ..ops.normalization import batch_norm as _batch_norm, layer_norm as _layer_norm
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm"]


class _BatchNorm(Module):
    _expected_dims: tuple = ()
    _shape_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        f = dict(dtype=dtype, device=device)
        if affine:
            self.weight = Parameter(creation.empty(num_features, **f))
            if bias:
                self.bias = Parameter(creation.empty(num_features, **f))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, **f))
            self.register_buffer("running_var", creation.ones(num_features, **f))
            self.register_buffer("num_batches_tracked",
                                 creation.tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        nd = input._data.ndim
        if nd not in self._expected_dims:
            raise ValueError(f"{self._get_name()}: expected {self._shape_text} input, got "
                             f"{nd}D input of shape {tuple(input.shape)}")
        if input._data.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected {self.num_features} channels/features in dim 1 of the "
                f"input, got shape {tuple(input.shape)}; check num_features, or the layer "
                "before it")

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            nbt = self.num_batches_tracked
            nbt._data += 1
            nbt._version[0] += 1
            if self.momentum is None:          # cumulative moving average
                factor = 1.0 / float(nbt._data)
        use_batch_stats = self.training or self.running_mean is None
        return _batch_norm(
            input,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def _fill_missing_state(self, state_dict, prefix, own_keys):
        # checkpoints from before PyTorch 0.4.1 have no num_batches_tracked: keep ours
        if self.track_running_stats and prefix + "num_batches_tracked" not in state_dict:
            return {"num_batches_tracked"}
        return set()

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over a (N, C) or (N, C, L) input, per feature/channel c:

        y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c

    Training mode: mean_c and the biased var_c come from the batch (over N, and L), and
    the running estimates are updated: running = (1 - momentum) running + momentum stat,
    with the *unbiased* batch variance for running_var (``momentum=None``: a cumulative
    average over all batches).  Eval mode: the running estimates are used.

    Buffers (PyTorch's names): ``running_mean``, ``running_var``, ``num_batches_tracked``.
    """

    _expected_dims = (2, 3)
    _shape_text = "2D or 3D (N, C) / (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of a (N, C, H, W) input per channel (see BatchNorm1d)."""

    _expected_dims = (4,)
    _shape_text = "4D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of a (N, C, D, H, W) input per channel (see BatchNorm1d)."""

    _expected_dims = (5,)
    _shape_text = "5D (N, C, D, H, W)"


class LayerNorm(Module):
    """Layer normalization over the last dims (``normalized_shape``) of each sample:

        y = (x - mean) / sqrt(var + eps) * weight + bias

    with the mean and the biased variance over those dims.  ``weight`` (ones) and ``bias``
    (zeros) have shape ``normalized_shape`` when ``elementwise_affine`` (and ``bias``).
    Shape: input (*, *normalized_shape) -> output of the same shape.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        f = dict(dtype=dtype, device=device)
        if elementwise_affine:
            self.weight = Parameter(creation.empty(self.normalized_shape, **f))
            if bias:
                self.bias = Parameter(creation.empty(self.normalized_shape, **f))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return _layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


