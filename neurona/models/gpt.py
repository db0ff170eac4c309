"""GPT: a decoder-only Transformer language model (Radford et al. 2018, 2019).

The model reads token ids x_1 ... x_T and scores the next token at every position, like
:class:`RNNLanguageModel`, but with self-attention instead of a recurrence:

    h^0_t = wte[x_t] + wpe[t]                         (token + position embeddings)
    for each of the n_layer blocks (pre-norm, residual):
        a  = h + CausalSelfAttention(LN_1(h))
        h' = a + MLP(LN_2(a))                         (MLP: Linear 4d -> GELU -> Linear d)
    logits_t = LN_f(h^L_t) wte^T                      (weight tying: lm_head = wte)

**Causal self-attention** with n_head heads of size d_k = n_embd / n_head: one Linear
(``c_attn``) gives Q, K, V (each (N, n_head, T, d_k)), then per head

    A = softmax(Q K^T / sqrt(d_k) + M) V,   M_ij = 0 if j <= i else -inf

so position i sees only positions 1..i, and ``c_proj`` mixes the heads back to n_embd.

**KV cache** (the state of the causal-LM protocol, see :mod:`neurona.models.generation`):
the keys and values of the tokens already read do not change when a token is added, so
``model(ids, state)`` keeps them: state = ``KVCache(layers=[(K, V) per layer], offset)``
with K, V of shape (N, n_head, T_past, d_k). Calling again with new tokens computes only
their Q, K, V, appends K, V to the cache, and the new query i (at absolute position
T_past + i) attends to all T_past past keys and to new keys j <= i. The logits are the
same as re-reading the whole prefix; each generated token costs O(T) instead of O(T^2).

Parameter names follow GPT-2 / nanoGPT (``transformer.wte``, ``transformer.h.0.attn.c_attn``,
...), so :func:`load_gpt2` can read a Hugging Face GPT-2 checkpoint (``config.json`` +
``model.safetensors`` + ``tokenizer.json``; never a pickle).

Shapes: ids ``(N, T)`` int64 (T_past + T <= block_size) -> logits ``(N, T, vocab_size)``.
"""
from __future__ import annotations

import json
import math
import os
from typing import NamedTuple

import numpy as np

from .. import nn
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["GPT", "KVCache", "load_gpt2", "causal_attention", "causal_attention_reference"]


class KVCache(NamedTuple):
    """The state a :class:`GPT` carries between calls: per layer the keys and values
    (each (N, n_head, T_past, d_k)) of the tokens read so far, and ``offset`` = T_past
    (the position the next token gets). ``buffers``: the preallocated
    :class:`~neurona.models.gpt_inference.KVBuffers` the layers are views of, when the
    state comes from the no-grad fast path (None otherwise)."""
    layers: tuple
    offset: int
    buffers: object = None


def _causal_mask(t_new: int, t_total: int) -> np.ndarray:
    """(t_new, t_total) bool, True where attention is allowed: new query i sits at
    absolute position t_total - t_new + i and sees keys j <= that position."""
    past = t_total - t_new
    return np.arange(t_total)[None, :] <= past + np.arange(t_new)[:, None]


def causal_attention(q, k, v, dropout_p: float = 0.0):
    """softmax(Q K^T / sqrt(d_k) + M) V with the causal mask M aligned to the *end* of the
    keys (queries are the last T_q positions of the T_k keys, as with a KV cache).

    q (N, h, T_q, d_k), k and v (N, h, T_k, d_k) with T_q <= T_k -> (N, h, T_q, d_k).
    ``dropout_p`` drops attention weights (pass 0 in eval). Runs the fused
    ``nn.functional.scaled_dot_product_attention``; :func:`causal_attention_reference`
    is the same formula spelled out (and tested against it).
    """
    from ..nn.functional import scaled_dot_product_attention as sdpa
    from ..creation import tensor
    t_q, t_k = q.shape[-2], k.shape[-2]
    if t_q > t_k:
        raise ValueError(f"causal_attention: {t_q} queries but only {t_k} keys; the "
                         "queries must be the last positions of the keys")
    if t_q == t_k:                     # no past: torch's upper-left causal mask is right
        return sdpa(q, k, v, dropout_p=dropout_p, is_causal=True)
    if t_q == 1:                       # one new token sees every key
        return sdpa(q, k, v, dropout_p=dropout_p)
    # a chunk after a cache: query i sees every past key and new keys <= i (bottom-right)
    mask = tensor(_causal_mask(t_q, t_k), device=q.device)
    return sdpa(q, k, v, attn_mask=mask, dropout_p=dropout_p)


def causal_attention_reference(q, k, v, dropout_p: float = 0.0):
    """:func:`causal_attention` spelled out with existing ops (matmul, masked_fill,
    softmax, dropout): S = Q K^T / sqrt(d_k); S_ij = -inf where key j lies after query i;
    A = softmax(S) (row-wise); out = A V."""
    from ..nn import functional as F
    from ..creation import tensor
    t_q, t_k = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if t_q > 1:
        blocked = tensor(~_causal_mask(t_q, t_k), device=q.device)
        scores = scores.masked_fill(blocked, float("-inf"))
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p, training=True)
    return weights @ v


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: x (N, T, d) -> (N, T, d), with a KV cache.

    Q, K, V = split(c_attn(x)) into n_head heads of d_k = d / n_head; each head computes
    softmax(Q K^T / sqrt(d_k) + M) V; the heads are concatenated and projected by c_proj.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.n_head, self.n_embd = n_head, n_embd
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)
        self.attn_dropout_p = dropout

    def forward(self, x, past=None):
        """x (N, T, d), past = (K, V) of earlier tokens or None -> (y (N, T, d), (K, V))."""
        n, t, d = x.shape
        h = self.n_head
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(n, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            from .. import cat
            k, v = cat([past[0], k], dim=2), cat([past[1], v], dim=2)
        y = causal_attention(q, k, v, self.attn_dropout_p if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(n, t, d)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(d, 4d) -> GELU -> Linear(4d, d) -> dropout."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True,
                 activation: str = "gelu_tanh"):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.act = _activation(activation)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


def _activation(name: str):
    acts = {"gelu_tanh": lambda: nn.GELU(approximate="tanh"), "gelu": lambda: nn.GELU(),
            "relu": lambda: nn.ReLU()}
    if name not in acts:
        raise ValueError(f"GPT: activation must be one of {sorted(acts)}, got {name!r}")
    return acts[name]()


class Block(nn.Module):
    """One pre-norm Transformer block: a = h + attn(LN_1(h)); h' = a + mlp(LN_2(a))."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, activation="gelu_tanh",
                 eps=1e-5):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=eps, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, eps=eps, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias, activation)

    def forward(self, x, past=None):
        a, kv = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), kv


class GPT(ZooModel):
    """Decoder-only Transformer LM in GPT-2's layout (nanoGPT's names).

    Args:
        vocab_size: V, the number of token ids.
        block_size: the longest sequence the model reads (``max_length``; GPT-2: 1024).
        n_layer, n_head, n_embd: depth, heads per layer, model width d (n_head | d).
        dropout: on embeddings, attention weights and residual branches (training only).
        bias: biases in the Linear and LayerNorm layers (GPT-2: True).
        tie_weights: ``lm_head.weight`` is ``transformer.wte.weight``.
        activation: the MLP's nonlinearity, ``'gelu_tanh'`` (GPT-2's "gelu_new"),
            ``'gelu'`` (exact) or ``'relu'``.
        layer_norm_eps: the LayerNorms' epsilon.

    Initialisation as GPT-2: weights ~ N(0, 0.02), biases 0, and the residual projections
    (``attn.c_proj``, ``mlp.c_proj``) ~ N(0, 0.02 / sqrt(2 n_layer)).

    ``model(ids, state=None) -> (logits, state)`` with state a :class:`KVCache`.
    """

    name = "gpt"

    def __init__(self, vocab_size: int, block_size: int = 256, n_layer: int = 4,
                 n_head: int = 4, n_embd: int = 128, dropout: float = 0.0, bias: bool = True,
                 tie_weights: bool = True, activation: str = "gelu_tanh",
                 layer_norm_eps: float = 1e-5):
        super().__init__()
        for arg, val in (("vocab_size", vocab_size), ("block_size", block_size),
                         ("n_layer", n_layer), ("n_head", n_head), ("n_embd", n_embd)):
            if int(val) < 1:
                raise ValueError(f"GPT: {arg} must be positive, got {val}")
        if n_embd % n_head:
            raise ValueError(f"GPT: n_embd ({n_embd}) must be divisible by n_head "
                             f"({n_head}): each head gets d_k = n_embd / n_head")
        _activation(activation)
        self._config = dict(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer,
                            n_head=n_head, n_embd=n_embd, dropout=dropout, bias=bias,
                            tie_weights=tie_weights, activation=activation,
                            layer_norm_eps=layer_norm_eps)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            wpe=nn.Embedding(block_size, n_embd),
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(n_embd, n_head, dropout, bias, activation, layer_norm_eps)
                             for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd, eps=layer_norm_eps, bias=bias),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self._init_weights()
        if tie_weights:
            self.lm_head.weight = self.transformer.wte.weight

    @property
    def max_length(self) -> int:
        """The longest sequence (past + new tokens) the model reads: ``block_size``."""
        return self.block_size

    @property
    def embedding(self):
        """The token embedding ``transformer.wte`` (the name every causal LM of neurona
        exposes, so :func:`~neurona.models.generation.load_causal_lm` can check that a
        tokenizer's vocabulary fits the model)."""
        return self.transformer.wte

    def _init_weights(self):
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or "ln_f" in name:
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.n_layer))
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids, state: KVCache | None = None):
        """ids (N, T) int64 [or (T,)], state = KVCache or None -> (logits (N, T, V), KVCache)."""
        if not isinstance(ids, Tensor):
            from ..creation import tensor
            ids = tensor(ids)
        if ids.is_floating_point() or ids.dtype.name == "bool":
            raise TypeError(f"GPT: expected integer token ids, got {ids.dtype} (encode the "
                            "text with the model's tokenizer)")
        single = ids.ndim == 1
        if single:
            ids = ids.unsqueeze(0)
        if ids.ndim != 2:
            raise ValueError(f"GPT: expected token ids of shape (N, T), got "
                             f"{tuple(ids.shape)}")
        n, t = ids.shape
        if t == 0:
            raise ValueError("GPT: got an empty sequence (T = 0); give at least one token")
        past = 0 if state is None else int(state.offset)
        if state is not None and len(state.layers) != self.n_layer:
            raise ValueError(f"GPT: the state holds {len(state.layers)} layers' keys and "
                             f"values but the model has n_layer={self.n_layer}; pass the "
                             "state this model returned")
        if state is not None and state.layers and state.layers[0][0].shape[0] != n:
            raise ValueError(f"GPT: the state is for a batch of "
                             f"{state.layers[0][0].shape[0]} sequences but ids has N={n}")
        if past + t > self.block_size:
            raise ValueError(f"GPT: {past} cached + {t} new tokens = {past + t} exceeds "
                             f"block_size={self.block_size}, the longest sequence this "
                             f"model reads; keep the last {self.block_size} tokens")
        from .gpt_inference import fast_path_applies, gpt_forward_arrays
        if fast_path_applies(self):      # no_grad, no dropout: the same formulas on arrays
            logits, new_state = gpt_forward_arrays(self, ids._data, state)
            logits = Tensor._wrap(logits)
            return (logits[0] if single else logits), new_state
        from ..creation import arange
        pos = arange(past, past + t, device=ids.device)
        tr = self.transformer
        x = tr.drop(tr.wte(ids) + tr.wpe(pos))
        layers = []
        for i, block in enumerate(tr.h):
            x, kv = block(x, None if state is None else state.layers[i])
            layers.append(kv)
        logits = self.lm_head(tr.ln_f(x))
        new_state = KVCache(tuple(layers), past + t)
        return (logits[0] if single else logits), new_state

    @classmethod
    def from_pretrained(cls, folder):
        """A GPT-2 checkpoint folder -> GPT (see :func:`load_gpt2`; the tokenizer is
        dropped, use ``load_gpt2`` to get it too)."""
        return load_gpt2(folder)[0]


# ---------------------------------------------------------------------------- GPT-2 loader
_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
           "mlp.c_proj.weight")
_BUFFERS = (".attn.bias", ".attn.masked_bias")     # the causal-mask buffers


def _read_gpt2_config(folder: str) -> dict:
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_gpt2: {folder} has no config.json; a GPT-2 "
                                "checkpoint folder holds config.json, model.safetensors "
                                "and tokenizer files (save_pretrained writes them)")
    with open(path, encoding="utf-8") as f:
        try:
            cfg = json.load(f)
        except ValueError as e:
            raise ValueError(f"load_gpt2: {path} is not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"load_gpt2: {path} is not a JSON object")
    if cfg.get("model_type") != "gpt2":
        raise ValueError(f"load_gpt2: {path} has model_type={cfg.get('model_type')!r}, "
                         "not 'gpt2'; this loader reads GPT-2-family checkpoints only")
    act = cfg.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh", "gelu", "relu"):
        raise ValueError(f"load_gpt2: activation_function {act!r} in {path} is not "
                         "supported (gelu_new, gelu_pytorch_tanh, gelu, relu)")
    missing = [k for k in ("vocab_size", "n_layer", "n_head", "n_embd") if k not in cfg]
    if missing:
        raise ValueError(f"load_gpt2: {path} lacks {', '.join(missing)} (GPT-2's sizes); "
                         "write the folder with save_pretrained")
    return cfg


def load_gpt2(folder, dtype=None):
    """Read a Hugging Face GPT-2-layout folder -> ``(GPT, tokenizer or None)``.

    The folder holds ``config.json`` (model_type "gpt2": n_layer, n_head, n_embd,
    n_positions, vocab_size, layer_norm_epsilon, activation_function), ``model.safetensors``
    (never a pickle) and optionally ``tokenizer.json`` (read with
    :meth:`neurona.text.SubwordTokenizer.from_file`) or GPT-2's ``vocab.json`` +
    ``merges.txt`` (byte-level BPE). ``dtype`` (e.g. ``np.float64``): the weights' dtype,
    float32 by default.

    GPT-2 stores its Linear layers as ``Conv1D`` with weight (in, out); they are
    transposed into ``nn.Linear``'s (out, in). The causal-mask buffers (``attn.bias``,
    ``attn.masked_bias``) are skipped. The model comes back in eval mode.
    """
    from ..serialization import load
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"load_gpt2: no folder {folder}")
    cfg = _read_gpt2_config(folder)
    weights = os.path.join(folder, "model.safetensors")
    if not os.path.isfile(weights):
        from .pretrained import conversion_hint
        hint = conversion_hint(folder, "AutoModelForCausalLM")
        raise FileNotFoundError(f"load_gpt2: {folder} has no model.safetensors.{hint}")
    act = cfg.get("activation_function", "gelu_new")
    act = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}.get(act, act)
    model = GPT(vocab_size=cfg["vocab_size"], block_size=cfg.get("n_positions", 1024),
                n_layer=cfg["n_layer"], n_head=cfg["n_head"], n_embd=cfg["n_embd"],
                dropout=0.0, bias=True, tie_weights=cfg.get("tie_word_embeddings", True),
                activation=act, layer_norm_eps=cfg.get("layer_norm_epsilon", 1e-5))
    tensors = load(weights)
    params = dict(model.named_parameters())
    state, seen = {}, set()
    for key, value in tensors.items():
        name = key[len("transformer."):] if key.startswith("transformer.") else key
        if name.endswith(_BUFFERS):
            continue
        if name != "lm_head.weight":
            name = "transformer." + name
        if name not in params:
            raise ValueError(f"load_gpt2: {weights} has a tensor {key!r} that does not fit "
                             f"a GPT-2 model (no parameter {name!r})")
        arr = value.numpy()
        if arr.dtype.kind != "f":
            raise ValueError(f"load_gpt2: tensor {key!r} in {weights} has dtype {arr.dtype}; "
                             "GPT-2's weights are floating point (not this model's file?)")
        if name.endswith(_CONV1D):
            arr = arr.T                          # Conv1D (in, out) -> Linear (out, in)
        want = tuple(params[name].shape)
        if tuple(arr.shape) != want:         # shapes as the file stores them (Conv1D)
            need = want[::-1] if name.endswith(_CONV1D) else want
            raise ValueError(f"load_gpt2: tensor {key!r} in {weights} has shape "
                             f"{tuple(value.shape)} but the model built from config.json "
                             f"needs {need} for {name!r}")
        state[name] = arr
        seen.add(name)
    tied = model.lm_head.weight is model.transformer.wte.weight
    missing = [k for k in params if k not in seen and not (tied and k == "lm_head.weight")]
    if missing:
        raise ValueError(f"load_gpt2: {weights} lacks {len(missing)} tensors the model "
                         f"needs, e.g. {missing[:3]}")
    for name, arr in state.items():
        p = params[name]
        p.data = np.ascontiguousarray(arr, dtype=dtype or p._data.dtype)
    model.eval()
    return model, _gpt2_tokenizer(folder)


def _gpt2_tokenizer(folder: str):
    """tokenizer.json, else GPT-2's byte-level BPE from vocab.json + merges.txt, else None."""
    from ..text import SubwordTokenizer
    tok_path = os.path.join(folder, "tokenizer.json")
    if os.path.isfile(tok_path):
        return SubwordTokenizer.from_file(tok_path)
    vocab, merges = (os.path.join(folder, f) for f in ("vocab.json", "merges.txt"))
    if os.path.isfile(vocab) and os.path.isfile(merges):
        from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers
        tok = Tokenizer(tmodels.BPE.from_file(vocab, merges))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        return SubwordTokenizer(tok)
    return None
