"""GPT inference on plain arrays: the forward pass of :class:`~neurona.models.gpt.GPT`
without autograd, with a preallocated KV cache.

Why a second path? Generating one token at batch 1 runs about 90 small ops (four blocks
of LayerNorm, Linear, split, view, transpose, attention, GELU, ...), each on a few hundred
numbers. Through autograd every op costs a ``Function.apply`` (tensor wrapping, graph
bookkeeping): more than its arithmetic. With no gradient to record (inside
``no_grad()``, dropout off) :meth:`GPT.forward` calls :func:`gpt_forward_arrays` instead,
which computes the *same formulas* directly on the arrays:

    h^0 = wte[x] + wpe[t]
    per block:  u = LN_1(h);  Q, K, V = split(u W_attn^T + b_attn)         (N, h, T, d_k)
                K, V appended to the cache (written in place, no copy)
                A = softmax(Q K^T / sqrt(d_k) + M) V;   a = h + A W_proj^T + b_proj
                h' = a + GELU(LN_2(a) W_fc^T + b_fc) W_proj2^T + b_proj2
    logits = LN_f(h^L) wte^T

The autograd path (:class:`~neurona.models.gpt.Block` and friends) is the reference: the
tests check that both give the same logits and the same generated tokens.

**Preallocated KV cache.** The autograd path grows K and V with ``cat`` at every token
(copying the whole cache: O(T) per token). Here each layer's K and V live in one buffer
of ``block_size`` positions, (n_layer, N, n_head, block_size, d_k); a new token's K, V are
written at position T_past and the state's (K, V) are views of the first T_past + 1
positions. A state can be reused (e.g. two continuations of one prompt): if a later call
already wrote past a state's end, the buffer is copied before writing, so an old state
never changes.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import xp_of
from ..tensor import Tensor

__all__ = ["KVBuffers", "fast_path_applies", "gpt_forward_arrays"]

class KVBuffers:
    """Keys and values of every layer, preallocated: ``k``, ``v`` (n_layer, N, n_head,
    capacity, d_k); ``length`` = how many positions the newest state written here uses."""

    def __init__(self, xp, n_layer, n, n_head, capacity, d_k, dtype):
        shape = (n_layer, n, n_head, capacity, d_k)
        self.k = xp.empty(shape, dtype)
        self.v = xp.empty(shape, dtype)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k.shape[3]


def fast_path_applies(model) -> bool:
    """True when :func:`gpt_forward_arrays` computes exactly what the modules would: no
    gradient recorded, no dropout, every submodule one of GPT's own plain layers (no LoRA
    adapter or other replacement), no forward hooks and no attention recording."""
    from ..autograd import is_grad_enabled
    if is_grad_enabled() or (model.training and model._config["dropout"] > 0):
        return False
    from ..nn import functional as F
    from ..ops.attention import scaled_dot_product_attention
    if F.scaled_dot_product_attention is not scaled_dot_product_attention:
        return False                          # record_attention() is listening
    if model.transformer.wte.weight.dtype.name not in ("float32", "float64"):
        return False                          # (LayerNorm computes float16 in float32)
    plain = _plain_layer_types()
    todo = list(model._modules.values())      # (the _modules dicts: no __getattr__ cost)
    while todo:
        m = todo.pop()
        if type(m) not in plain or m._forward_hooks or m._forward_pre_hooks:
            return False
        todo.extend(m._modules.values())
    return not (model._forward_hooks or model._forward_pre_hooks)


_PLAIN = None


def _plain_layer_types() -> frozenset:
    """The module types a GPT is built from (exactly these: a subclass may compute
    something else)."""
    global _PLAIN
    if _PLAIN is None:
        from .. import nn
        from .gpt import MLP, Block, CausalSelfAttention
        _PLAIN = frozenset({nn.ModuleDict, nn.ModuleList, nn.Embedding, nn.Dropout,
                            nn.LayerNorm, nn.Linear, nn.GELU, nn.ReLU, Block,
                            CausalSelfAttention, MLP})
    return _PLAIN


def _layer_norm(x, ln):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last dim of x (rows, d)."""
    xp = xp_of(x)
    inv_d = 1.0 / x.shape[-1]
    xc = x - xp.add.reduce(x, axis=-1, keepdims=True) * inv_d
    var = xp.add.reduce(xc * xc, axis=-1, keepdims=True)
    var *= inv_d
    var += ln.eps
    xc /= xp.sqrt(var)
    p = ln._parameters
    if p.get("weight") is not None:
        xc *= p["weight"]._data
    if p.get("bias") is not None:
        xc += p["bias"]._data
    return xc


def _linear(x, lin):
    """x W^T + b for x (rows, in)."""
    p = lin._parameters
    y = x @ p["weight"]._data.T
    if p.get("bias") is not None:
        y += p["bias"]._data
    return y


def _activation(z, act):
    """The MLP's nonlinearity on the array z: the GELU op's own forward (the same
    arithmetic as the modules, blocked kernels included), or max(z, 0) in place."""
    from .. import nn
    from ..ops.pointwise import GELU
    if type(act) is nn.ReLU:
        return xp_of(z).maximum(z, 0, out=z)
    return GELU.__new__(GELU).forward(z, approximate=act.approximate)


def _softmax_rows(s):
    """softmax over the last dim, in place."""
    xp = xp_of(s)
    s -= s.max(axis=-1, keepdims=True)
    xp.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s


def _buffers_for(model, state, n, dtype, xp):
    """The KVBuffers to write the next tokens into (reused when this state is the newest
    one written there, else a fresh copy of the state's keys and values)."""
    past = 0 if state is None else int(state.offset)
    buf = None if state is None else getattr(state, "buffers", None)
    if buf is not None and buf.length == past and buf.k.shape[1] == n:
        return buf
    d_k = model.n_embd // model.n_head
    buf = KVBuffers(xp, model.n_layer, n, model.n_head, model.block_size, d_k, dtype)
    if past:
        for i, (k, v) in enumerate(state.layers):
            buf.k[i, :, :, :past] = k._data
            buf.v[i, :, :, :past] = v._data
    buf.length = past
    return buf


def gpt_forward_arrays(model, ids: np.ndarray, state):
    """ids (N, T) integer array, state = KVCache or None -> (logits (N, T, V) array,
    KVCache). The caller (:meth:`GPT.forward`) has checked the shapes and lengths."""
    from .gpt import KVCache
    tr = model.transformer
    wte = tr.wte.weight._data
    xp = xp_of(wte)
    n, t = ids.shape
    past = 0 if state is None else int(state.offset)
    end = past + t
    h_, d = model.n_head, model.n_embd
    d_k = d // h_
    x = (wte[ids] + tr.wpe.weight._data[past:end]).reshape(n * t, d)   # rows (N T, d)
    buf = _buffers_for(model, state, n, x.dtype, xp)
    scale = x.dtype.type(1 / math.sqrt(d_k))
    if t > 1:   # query i (absolute position past + i) sees keys j <= past + i
        blocked = xp.arange(end)[None, :] > past + xp.arange(t)[:, None]
    layers = []
    for i, block in enumerate(tr.h._modules.values()):
        mods = block._modules
        attn, mlp = mods["attn"]._modules, mods["mlp"]._modules
        qkv = _linear(_layer_norm(x, mods["ln_1"]), attn["c_attn"])
        qkv = qkv.reshape(n, t, 3, h_, d_k).transpose(2, 0, 3, 1, 4)   # (3, N, h, T, d_k)
        buf.k[i, :, :, past:end] = qkv[1]
        buf.v[i, :, :, past:end] = qkv[2]
        k, v = buf.k[i, :, :, :end], buf.v[i, :, :, :end]
        s = qkv[0] @ k.swapaxes(-1, -2)                                 # (N, h, T, T_all)
        s *= scale
        if t > 1:
            s[..., blocked] = -np.inf
        y = _softmax_rows(s) @ v                                        # (N, h, T, d_k)
        y = y.transpose(0, 2, 1, 3).reshape(n * t, d)
        x = x + _linear(y, attn["c_proj"])
        z = _activation(_linear(_layer_norm(x, mods["ln_2"]), mlp["c_fc"]), mlp["act"])
        x += _linear(z, mlp["c_proj"])
        layers.append((Tensor._wrap(k), Tensor._wrap(v)))
    buf.length = end
    logits = _linear(_layer_norm(x, tr.ln_f), model.lm_head).reshape(n, t, -1)
    return logits, KVCache(tuple(layers), end, buf)
