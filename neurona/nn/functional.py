"""``neurona.nn.functional`` (import it as ``F``): the stateless forms of the layers --
activations, softmax, dropout, losses, linear, embedding, one_hot, pad, normalize.

Every function here is implemented in :mod:`neurona.ops`; this module gathers them under
PyTorch's names and signatures, so ``F.cross_entropy(logits, y)`` reads as in PyTorch.
"""
from __future__ import annotations

from ..ops.pointwise import (relu, leaky_relu, gelu, elu, sigmoid, tanh, softplus,  # noqa: F401
                             SiLU, _maybe_inplace)
from ..ops.softmax import softmax, log_softmax, softmin, logsigmoid  # noqa: F401
from ..ops.dropout import dropout, dropout1d, dropout2d, dropout3d  # noqa: F401
from ..ops.losses import (mse_loss, l1_loss, huber_loss, smooth_l1_loss,  # noqa: F401
                          binary_cross_entropy, binary_cross_entropy_with_logits, nll_loss,
                          cross_entropy, kl_div)
from ..ops.indexing import one_hot, embedding  # noqa: F401
from ..ops.linalg import linear, normalize  # noqa: F401

__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "gelu", "silu", "elu", "elu_",
           "sigmoid", "tanh", "softplus", "softmax", "log_softmax", "softmin", "logsigmoid",
           "dropout", "dropout1d", "dropout2d", "dropout3d", "mse_loss", "l1_loss",
           "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div",
           "one_hot", "embedding", "pad", "linear", "normalize"]


def relu_(input):
    """In-place relu: ``input`` becomes max(0, input)."""
    return relu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return _maybe_inplace(input, SiLU.apply(input), inplace, "silu")


def pad(input, pad, mode="constant", value=None):
    """Pad the last dims: ``pad = (left, right, top, bottom, ...)`` from the last dim back
    (see :func:`neurona.ops.shape.pad`)."""
    from ..ops.shape import pad as _pad
    return _pad(input, pad, mode=mode, value=value)


from ..ops.normalization import layer_norm, batch_norm  # noqa: E402,F401

__all__ += ["layer_norm", "batch_norm"]

from ..ops.conv import conv1d, conv2d  # noqa: E402,F401
from ..ops.pooling import (max_pool1d, max_pool2d, avg_pool1d, avg_pool2d,  # noqa: E402,F401
                           adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,
                           adaptive_max_pool2d)

__all__ += ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
            "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
            "adaptive_max_pool2d"]

from ..ops.attention import scaled_dot_product_attention  # noqa: E402,F401

__all__ += ["scaled_dot_product_attention"]
