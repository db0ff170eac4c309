"""Convolution layers ``Conv1d`` and ``Conv2d``.

``Conv2d(in_channels, out_channels, kernel_size)`` slides ``out_channels`` learned
filters of shape (in_channels/groups, kH, kW) over the input and adds a bias per output
channel: y = conv(x, W) + b (the maths, im2col + GEMM, is in :mod:`neurona.ops.conv`).
Parameters have PyTorch's names and layouts -- ``weight`` (C_out, C_in/groups, kH, kW),
``bias`` (C_out,) -- so a state dict loads from ``torch.nn.Conv2d`` unchanged.
"""
from __future__ import annotations

import math

from .. import creation
from ..ops.conv import conv1d as _conv1d, conv2d as _conv2d
from ..ops.shape import pad as _pad
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d"]


def _ntuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


class _ConvNd(Module):
    _n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        n = self._n
        kernel_size, stride, dilation = (_ntuple(kernel_size, n), _ntuple(stride, n),
                                         _ntuple(dilation, n))
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError(f"in_channels must be divisible by groups (in_channels="
                             f"{in_channels}, groups={groups})")
        if out_channels % groups != 0:
            raise ValueError(f"out_channels must be divisible by groups (out_channels="
                             f"{out_channels}, groups={groups})")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'same', 'valid'}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError("padding_mode must be one of {'zeros', 'reflect', 'replicate', "
                             f"'circular'}}, but got padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = False
        self.output_padding = (0,) * n
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's (left, right, top, bottom) order: the last dim first
        if isinstance(padding, str):
            rev = [0, 0] * n
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(n - 1, -1, -1)):
                    total = d * (k - 1)
                    rev[2 * i], rev[2 * i + 1] = total // 2, total - total // 2
        else:
            rev = [p for p in reversed(padding) for _ in range(2)]
        self._reversed_padding_repeated_twice = rev
        f = dict(device=device, dtype=dtype)
        self.weight = Parameter(creation.empty(out_channels, in_channels // groups,
                                               *kernel_size, **f))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, **f))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with fan_in = C_in/groups * kH * kW; b ~ U(-1/sqrt(fan_in), same)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    _fn = staticmethod(_conv2d)

    def _conv_forward(self, input, weight, bias):
        """The convolution with the given weight and bias (PyTorch's hook for subclasses
        that transform the weight first); padding modes other than 'zeros' pad here."""
        if self.padding_mode != "zeros":
            input = _pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding = 0
        else:
            padding = self.padding
        try:
            return self._fn(input, weight, bias, self.stride, padding, self.dilation,
                            self.groups)
        except RuntimeError as e:
            raise RuntimeError(f"{self!r}: {e}") from None

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)


class Conv2d(_ConvNd):
    """2-d convolution layer: y = conv2d(x, W) + b.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size: an int or (kH, kW).
        stride, padding, dilation: ints or pairs; padding may be 'same' or 'valid'.
        groups: split the channels into that many independent convolutions.
        bias: learn a bias per output channel (default True).
        padding_mode: 'zeros' (default), 'reflect', 'replicate' or 'circular'.

    Shape: input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, Ho, Wo) with
    Ho = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1.

    Attributes:
        weight: (C_out, C_in/groups, kH, kW), U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
            fan_in = C_in/groups kH kW (PyTorch's default initialization).
        bias: (C_out,), same distribution.
    """
    _n = 2
    _fn = staticmethod(_conv2d)


class Conv1d(_ConvNd):
    """1-d convolution layer over (N, C_in, L) or (C_in, L) (see :class:`Conv2d`);
    weight (C_out, C_in/groups, k)."""
    _n = 1
    _fn = staticmethod(_conv1d)
