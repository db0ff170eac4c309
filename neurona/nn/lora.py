"""LoRA (Hu et al. 2021): low-rank adapters on a frozen ``Linear``.

A pretrained weight W (out, in) stays frozen; the update it would get from fine-tuning is
modelled as a product of two thin matrices, B (out, r) and A (r, in) with r << in, out:

    y = x W^T + b + (alpha / r) * dropout(x) A^T B^T

A starts random (kaiming-uniform, as PyTorch's ``Linear``) and B at zero, so at
initialisation the layer computes exactly the pretrained ``Linear``.  Only A and B train:
r (in + out) parameters per layer instead of in * out + out (for MiniLM's 384 x 384
projections and r = 8: 6,144 instead of 147,840).  After training the update can be folded
into the weight, W' = W + (alpha / r) B A (:func:`merge_lora`), so inference costs nothing
extra.

    model = ...                                              # e.g. a BertModel
    apply_lora(model, target_names=("query", "value"), r=8, alpha=16)
    [n for n, p in model.named_parameters() if p.requires_grad]
    # ['encoder.layer.0.attention.self.query.lora_A', '...query.lora_B', ...]

The backward pass is autograd's: dL/dB = s * (dL/dy)^T (x A^T), dL/dA = s * B^T (dL/dy)^T x
(summed over the batch, s = alpha / r); W and b get no gradient.
"""
from __future__ import annotations

import math

from .. import creation
from . import init
from .dropout import Dropout
from .linear import Identity, Linear
from .module import Module
from .parameter import Parameter

__all__ = ["LoRALinear", "apply_lora", "merge_lora", "lora_state_dict", "trainable_parameters"]


class LoRALinear(Module):
    """A frozen ``Linear`` plus a trainable low-rank update:
    y = x W^T + b + (alpha / r) * dropout(x) A^T B^T.

    Args:
        base: the ``Linear`` to adapt (its weight and bias are frozen: requires_grad False).
        r: the rank of the update (A is (r, in), B is (out, r)).
        alpha: the scale numerator; the update is scaled by alpha / r.
        dropout: dropout probability on the adapter's input (0: none).

    Shape: input (*, in_features) -> output (*, out_features).  Trainable parameters:
    ``lora_A`` (r, in) and ``lora_B`` (out, r), r (in + out) in all.  ``weight`` and
    ``bias`` are the base layer's (its state_dict keys become ``base.weight``/``base.bias``).
    """

    def __init__(self, base: Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, Linear):
            raise TypeError(f"LoRALinear: base must be an nn.Linear, got {type(base).__name__}")
        if int(r) != r or r < 1:
            raise ValueError(f"LoRALinear: the rank r must be a positive integer, got {r!r}")
        r = int(r)
        if r > min(base.in_features, base.out_features):
            raise ValueError(f"LoRALinear: rank r={r} is larger than the layer "
                             f"({base.out_features} x {base.in_features}); use r <= "
                             f"{min(base.in_features, base.out_features)}")
        self.base = base
        self.in_features, self.out_features = base.in_features, base.out_features
        self.r, self.alpha = r, float(alpha)
        self.scaling = self.alpha / r
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)
        w = base.weight
        self.lora_A = Parameter(creation.empty(r, self.in_features, dtype=w.dtype,
                                               device=w.device))
        self.lora_B = Parameter(creation.empty(self.out_features, r, dtype=w.dtype,
                                               device=w.device))
        self.lora_dropout = Dropout(dropout) if dropout > 0 else Identity()
        self.merged = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """A ~ kaiming-uniform (a = sqrt(5), as ``Linear``), B = 0: the update starts at 0."""
        init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        init.zeros_(self.lora_B)

    @property
    def weight(self):
        return self.base.weight

    @property
    def bias(self):
        return self.base.bias

    def forward(self, x):
        y = self.base(x)
        if self.merged:
            return y
        h = self.lora_dropout(x) @ self.lora_A.transpose(0, 1)     # (*, r)
        return y + (h @ self.lora_B.transpose(0, 1)) * self.scaling

    def merge(self) -> Linear:
        """W <- W + (alpha / r) B A in place; the adapter stops being added.  Returns the
        base ``Linear`` (which now computes the adapted layer on its own)."""
        if not self.merged:
            delta = (self.lora_B.detach() @ self.lora_A.detach()) * self.scaling
            self.base.weight._data = self.base.weight._data + delta._data
            self.merged = True
        return self.base

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"r={self.r}, alpha={self.alpha:g}")


def _replace(model: Module, path: str, new: Module) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, leaf, new)


def apply_lora(model: Module, target_names=("query", "value"), r: int = 8,
               alpha: float = 16, dropout: float = 0.0, freeze: bool = True) -> list[str]:
    """Wrap every ``Linear`` of ``model`` whose own name (the last part of its path, e.g.
    ``query`` in ``encoder.layer.0.attention.self.query``) is in ``target_names`` in a
    :class:`LoRALinear`, in place.  With ``freeze`` (default) every other parameter of
    ``model`` is frozen first, so only the adapters train (unfreeze a head afterwards).
    Returns the paths of the wrapped layers; raises ``ValueError`` if none matched."""
    if isinstance(target_names, str):
        target_names = (target_names,)
    targets = [name for name, m in model.named_modules()
               if isinstance(m, Linear) and name.rpartition(".")[2] in set(target_names)]
    if not targets:
        linears = sorted({n.rpartition(".")[2] for n, m in model.named_modules()
                          if isinstance(m, Linear)})
        raise ValueError(f"apply_lora: no nn.Linear named {list(target_names)} in "
                         f"{type(model).__name__}; its Linear layers are named {linears}")
    if freeze:
        model.requires_grad_(False)
    for name in targets:
        _replace(model, name, LoRALinear(model.get_submodule(name), r=r, alpha=alpha,
                                         dropout=dropout))
    return targets


def merge_lora(model: Module) -> Module:
    """Fold every adapter into its weight (W + (alpha/r) B A) and put the plain ``Linear``
    back in its place: the model computes the same function with no extra cost."""
    for name, m in list(model.named_modules()):
        if isinstance(m, LoRALinear):
            _replace(model, name, m.merge())
    return model


def lora_state_dict(model: Module) -> dict:
    """Only the adapters' tensors (``...lora_A``, ``...lora_B``): what a LoRA fine-tune
    needs to save on top of the pretrained checkpoint."""
    return {k: v for k, v in model.state_dict().items()
            if k.endswith(("lora_A", "lora_B"))}


def trainable_parameters(model: Module) -> int:
    """The number of scalars in the parameters of ``model`` that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
