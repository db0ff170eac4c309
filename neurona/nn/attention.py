"""``MultiheadAttention``: h attention heads side by side, PyTorch's layer and layout.

With model width E and h heads of width d_k = E / h, for a query sequence X_q (L, E) and
key/value sequences X_k (S, kdim), X_v (S, vdim)::

    Q = X_q W_q^T + b_q,   K = X_k W_k^T + b_k,   V = X_v W_v^T + b_v      (L or S, E)
    Q, K, V are cut into h slices of width d_k (one per head)
    head_i = softmax(Q_i K_i^T / sqrt(d_k) + M) V_i                       (L, d_k)
    out = concat(head_1 .. head_h) W_o^T + b_o                            (L, E)

Two extra key/value slots, as in PyTorch (each adds one column to the scores)::

    add_bias_kv:   K <- [K; b_k],  V <- [V; b_v]   learned rows bias_k, bias_v (1, 1, E)
    add_zero_attn: K <- [K; 0],    V <- [V; 0]     a key with score 0 and value 0

(in that order, after the projections; masks get an extra "may attend" column for each).
A query can then put weight on a key that carries no content ("attend to nothing").

Parameters are stored as in PyTorch, so a PyTorch ``state_dict`` loads unchanged:
``in_proj_weight`` (3E, E) = [W_q; W_k; W_v] and ``in_proj_bias`` (3E,) when kdim = vdim
= E, else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight``
(E, vdim); ``bias_k``, ``bias_v`` (1, 1, E) with add_bias_kv; ``out_proj.weight``
(E, E), ``out_proj.bias`` (E,).
"""
from __future__ import annotations

import numpy as np

from .. import creation
from ..backend import xp_of
from ..ops.attention import scaled_dot_product_attention
from ..ops.linalg import linear
from ..ops.shape import cat, pad
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under the name PyTorch gives ``MultiheadAttention.out_proj``."""


def _empty(shape, device, dtype):
    return creation.empty(*shape, dtype=dtype, device=device)


def _additive(mask: Tensor, dtype, what: str) -> Tensor:
    """PyTorch's convention for MHA masks: bool True = NOT allowed -> -inf; float masks
    are added to the scores as they are."""
    a = mask._data
    if a.dtype.kind == "b":
        xp = xp_of(a)
        return Tensor(xp.where(a, dtype.type(-np.inf), dtype.type(0)))
    if a.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: only bool and floating types of {what} are "
                        f"supported, got {a.dtype}")
    return mask


class MultiheadAttention(Module):
    """Multi-head attention (see the module docstring for the formulas).

    Args:
        embed_dim: E, the model width (query features and output features).
        num_heads: h; E must be divisible by h (each head has width E // h).
        dropout: dropout probability on the attention weights (training only).
        bias: learn b_q, b_k, b_v and b_o.
        add_bias_kv: learn bias_k, bias_v (1, 1, E), appended to the projected keys and
            values as one more key/value position (S -> S + 1).
        add_zero_attn: append a zero key and a zero value after the projection (and after
            bias_k/bias_v): one more position (S -> S + 1) whose score is 0.
        kdim, vdim: feature sizes of key and value (default E).
        batch_first: inputs/outputs are (N, L, E) instead of (L, N, E).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights or None)

    Shapes: query (L, N, E) / (N, L, E) if batch_first / (L, E) unbatched; key (S, N,
    kdim) ...; value (S, N, vdim) ...; key_padding_mask (N, S) or (S,), True (or -inf)
    marks padding keys to ignore; attn_mask (L, S) or (N*h, L, S), True (or -inf) marks
    pairs that may NOT attend -- the opposite of the bool mask of
    ``F.scaled_dot_product_attention``.  attn_output has the query's shape; attn_weights
    (N, L, S') averaged over heads, or (N, h, L, S') with ``average_attn_weights=False``
    (without the N for unbatched input), where S' = S + add_bias_kv + add_zero_attn (the
    extra key positions are never masked).  ``is_causal`` is a hint that attn_mask is the
    causal mask (as in PyTorch, attn_mask must then be given too).

    Differences from PyTorch: a query whose keys are all masked gets zero weights and
    attention output 0 (so out_proj gives its bias) whether or not need_weights -- PyTorch
    2.13 does that with need_weights=False but returns NaN output and weights with
    need_weights=True.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater "
                             f"than 0, got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads "
                             f"(got embed_dim={embed_dim}, num_heads={num_heads})")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(_empty((E, E), device, dtype))
            self.k_proj_weight = Parameter(_empty((E, self.kdim), device, dtype))
            self.v_proj_weight = Parameter(_empty((E, self.vdim), device, dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(_empty((3 * E, E), device, dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_empty((3 * E,), device, dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, device=device,
                                                        dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(_empty((1, 1, E), device, dtype))
            self.bias_v = Parameter(_empty((1, 1, E), device, dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform input projections, zero biases (out_proj.weight keeps Linear's
        init), Xavier-normal bias_k and bias_v (std sqrt(1/E)), as PyTorch."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

    # -- forward ---------------------------------------------------------------------
    def _projections(self):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = (w[0:E], w[E:2 * E], w[2 * E:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[0:E], b[E:2 * E], b[2 * E:])
        return ws, bs

    def _check(self, query, key, value, batched):
        nd = 3 if batched else 2
        if query.dim() not in (2, 3) or key.dim() != nd or value.dim() != nd:
            raise RuntimeError(
                f"MultiheadAttention: query, key and value must all be 3-D (batched) or all "
                f"2-D (unbatched), got {tuple(query.shape)}, {tuple(key.shape)} and "
                f"{tuple(value.shape)}")
        for name, t, n in (("query", query, self.embed_dim), ("key", key, self.kdim),
                           ("value", value, self.vdim)):
            if t.shape[-1] != n:
                raise RuntimeError(
                    f"MultiheadAttention: {name} has {t.shape[-1]} features (last dim) but "
                    f"the layer expects {n} (embed_dim/kdim/vdim); shape {tuple(t.shape)}")
        if key.shape[:-1] != value.shape[:-1]:
            raise RuntimeError(f"MultiheadAttention: key and value must have the same "
                               f"sequence length and batch, got {tuple(key.shape)} and "
                               f"{tuple(value.shape)}")

    def _extra_keys(self, k, v):
        """Append bias_k/bias_v and then a zero slot (add_zero_attn) to the projected keys
        and values (N, h, S, d) along S; returns k, v and the number of slots added."""
        N, h, _, d = k.shape
        extra = 0
        if self.bias_k is not None:           # (1, 1, E) -> (N, h, 1, d), E = h * d
            k = cat([k, self.bias_k.reshape(1, h, 1, d).expand(N, h, 1, d)], dim=2)
            v = cat([v, self.bias_v.reshape(1, h, 1, d).expand(N, h, 1, d)], dim=2)
            extra += 1
        if self.add_zero_attn:
            a = k._data
            zero = Tensor(xp_of(a).zeros((N, h, 1, d), dtype=a.dtype))
            k, v = cat([k, zero], dim=2), cat([v, zero], dim=2)
            extra += 1
        return k, v, extra

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        batched = query.dim() == 3
        self._check(query, key, value, batched)
        if not batched:                       # (L, E) -> (1, L, E)
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:            # (L, N, E) -> (N, L, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        N, L, E = query.shape
        S = key.shape[1]
        h, d = self.num_heads, self.head_dim
        if query.shape[0] != key.shape[0]:
            raise RuntimeError(f"MultiheadAttention: query and key have different batch "
                               f"sizes ({query.shape[0]} and {key.shape[0]})")

        (wq, wk, wv), (bq, bk, bv) = self._projections()
        # (N, T, E) -> (N, h, T, d): one slice of width d per head
        q = linear(query, wq, bq).reshape(N, L, h, d).transpose(1, 2)
        k = linear(key, wk, bk).reshape(N, S, h, d).transpose(1, 2)
        v = linear(value, wv, bv).reshape(N, S, h, d).transpose(1, 2)
        k, v, extra = self._extra_keys(k, v)

        mask = None
        dt = query._data.dtype
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: need attn_mask if specifying the "
                               "is_causal hint (pass the causal mask as attn_mask too)")
        use_causal = is_causal and key_padding_mask is None and not need_weights
        if attn_mask is not None and not use_causal:
            am = attn_mask
            if am.dim() == 2:
                if tuple(am.shape) != (L, S):
                    raise RuntimeError(f"MultiheadAttention: the shape of the 2D attn_mask "
                                       f"is {tuple(am.shape)}, but should be {(L, S)}")
            elif am.dim() == 3 and tuple(am.shape) == (N * h, L, S):
                am = am.reshape(N, h, L, S)
            else:
                raise RuntimeError(f"MultiheadAttention: attn_mask must be (L, S) = {(L, S)} "
                                   f"or (N*num_heads, L, S) = {(N * h, L, S)}, got "
                                   f"{tuple(am.shape)}")
            mask = _additive(am, dt, "attn_mask")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (N, S):
                raise RuntimeError(f"MultiheadAttention: expected key_padding_mask of shape "
                                   f"{(N, S) if batched else (S,)}, got "
                                   f"{tuple(key_padding_mask.shape)}")
            kpm = _additive(key_padding_mask, dt, "key_padding_mask").reshape(N, 1, 1, S)
            mask = kpm if mask is None else mask + kpm

        if mask is not None and extra:        # the extra keys may always be attended to
            mask = pad(mask, (0, extra))

        p = self.dropout if self.training else 0.0
        res = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                           is_causal=use_causal, _need_weights=need_weights)
        o, w = res if need_weights else (res, None)
        out = self.out_proj(o.transpose(1, 2).reshape(N, L, E))
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if w is not None:
            if average_attn_weights:
                w = w.mean(dim=1)
            if not batched:
                w = w.squeeze(0)
        return out, w
