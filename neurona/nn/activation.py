"""Activation functions as modules: ``nn.ReLU()``, ``nn.Sigmoid()`` ... (the functional
forms are in ``neurona.nn.functional``; the formulas and gradients in ``neurona.ops``).

Each is stateless: it exists so an activation can sit in an ``nn.Sequential``.
"""
from __future__ import annotations

from ..ops import pointwise as _pw
from ..ops.softmax import softmax as _softmax, log_softmax as _log_softmax, \
    softmin as _softmin, logsigmoid as _logsigmoid
from . import functional as F
from .module import Module

__all__ = ["Sigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "ELU", "Softmax",
           "LogSoftmax", "Softmin", "Softplus", "LogSigmoid", "Hardtanh", "Mish", "Softsign",
           "Tanhshrink"]


class Sigmoid(Module):
    """sigma(x) = 1 / (1 + e^-x)."""

    def forward(self, input):
        return _pw.Sigmoid.apply(input)


class Tanh(Module):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x)."""

    def forward(self, input):
        return _pw.Tanh.apply(input)


class ReLU(Module):
    """max(0, x).  ``inplace=True`` overwrites the input."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        if self.inplace:
            return _pw.relu(input, inplace=True)
        return _pw.ReLU.apply(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(Module):
    """min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        out = _pw.clamp(input, 0.0, 6.0)
        if self.inplace:
            return _pw._maybe_inplace(input, out, True, "relu6")
        return out

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardtanh(Module):
    """clamp(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        out = _pw.clamp(input, self.min_val, self.max_val)
        if self.inplace:
            return _pw._maybe_inplace(input, out, True, "hardtanh")
        return out

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + \
            (", inplace=True" if self.inplace else "")


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return _pw.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x Phi(x) (Phi the standard normal CDF); ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return _pw.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigma(x) (swish)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Mish(Module):
    """x * tanh(softplus(x))."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        out = input * _pw.tanh(_pw.softplus(input))
        if self.inplace:
            return _pw._maybe_inplace(input, out, True, "mish")
        return out

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return _pw.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """(1/beta) ln(1 + e^(beta x)); linear (x) where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return _pw.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input):
        return input / (_pw.abs(input) + 1)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input):
        return input - _pw.tanh(input)


class LogSigmoid(Module):
    """ln sigma(x) (computed stably)."""

    def forward(self, input):
        return _logsigmoid(input)


class Softmax(Module):
    """e^x_i / sum_j e^x_j along ``dim`` (each slice along dim sums to 1)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return _softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return _softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """ln softmax(x) along ``dim`` (computed stably; pair it with NLLLoss)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return _log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
