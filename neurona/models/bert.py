"""BERT (Devlin et al. 2019): a stack of Transformer encoder layers over word + position +
segment embeddings, in Hugging Face's layout.

The module tree and parameter names are those of ``transformers.BertModel``, so the
``model.safetensors`` of a pretrained BERT checkpoint loads with ``load_state_dict``
(see :func:`neurona.models.pretrained.from_pretrained`, which also reads
``config.json`` and the tokenizer)::

    embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.*
    encoder.layer.{i}.attention.self.{query,key,value}.{weight,bias}
    encoder.layer.{i}.attention.output.{dense,LayerNorm}.*
    encoder.layer.{i}.intermediate.dense.*    encoder.layer.{i}.output.{dense,LayerNorm}.*
    pooler.dense.*

The math, for a batch of N token sequences of length T, hidden size d, h heads of
d_k = d / h, and an attention mask m (1 at real tokens, 0 at padding):

    X_0   = LayerNorm(E_word[ids] + E_pos[0..T-1] + E_type[token_type_ids])   (N, T, d)
    per layer (post-norm):
      Q, K, V = X W_Q^T + b_Q, X W_K^T + b_K, X W_V^T + b_V   split into h heads (N, h, T, d_k)
      A     = softmax(Q K^T / sqrt(d_k) + M) V      M: 0 where m = 1, -inf where m = 0 (padding)
      X'    = LayerNorm(X + concat_heads(A) W_O^T + b_O)
      X_new = LayerNorm(X' + GELU(X' W_1^T + b_1) W_2^T + b_2)   (GELU: x Phi(x), exact erf)
    pooler: tanh(W_P X_L[:, 0] + b_P)   (the [CLS] token's final state)

Dropout (after the embeddings, on the attention weights and after each sub-layer) acts
in training mode only.  The backward pass is autograd's through these ops.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import nn
from ..nn import functional as F
from ..creation import arange, zeros
from ..dtypes import int64
from ..tensor import Tensor
from ._common import ZooModel

__all__ = ["BertModel", "BertModelOutput", "BERT_CONFIG_FIELDS"]

# config.json fields BertModel takes (the names of transformers.BertConfig).
BERT_CONFIG_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                      "intermediate_size", "hidden_act", "hidden_dropout_prob",
                      "attention_probs_dropout_prob", "max_position_embeddings",
                      "type_vocab_size", "layer_norm_eps", "pad_token_id")

_ACTIVATIONS = {"gelu": lambda: nn.GELU(), "gelu_new": lambda: nn.GELU(approximate="tanh"),
                "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"),
                "relu": lambda: nn.ReLU(), "tanh": lambda: nn.Tanh()}


class BertModelOutput(NamedTuple):
    """``last_hidden_state`` (N, T, d): every token's final state; ``pooler_output``
    (N, d): tanh(W_P h_[CLS] + b_P), or None for a model without a pooler."""
    last_hidden_state: Tensor
    pooler_output: Tensor | None


def _tensor(x, device=None) -> Tensor:
    """``x`` (a Tensor, NumPy array or nested list) as a Tensor on ``device`` (the model's:
    token ids given as NumPy arrays go to the GPU with a model that is there)."""
    t = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    return t if device is None else t.to(device)


def _attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None,
               dropout_p: float) -> Tensor:
    """softmax(Q K^T / sqrt(d_k)) V with the keys where ``mask`` (N, 1, 1, T) is False
    left out; q, k, v: (N, h, T, d_k).  One fused op with a hand-written backward."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


class BertEmbeddings(nn.Module):
    """X_0 = Dropout(LayerNorm(E_word[ids] + E_pos[positions] + E_type[token_type_ids]))."""

    def __init__(self, vocab_size, hidden_size, max_position_embeddings, type_vocab_size,
                 layer_norm_eps, hidden_dropout_prob, pad_token_id):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=pad_token_id)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        T = input_ids.shape[1]
        positions = arange(T, device=input_ids.device).unsqueeze(0)        # (1, T)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head attention: Q, K, V projections (``query``, ``key``, ``value``), h heads,
    softmax(Q K^T / sqrt(d_k) + M) V, heads concatenated back to (N, T, d)."""

    def __init__(self, hidden_size, num_attention_heads, attention_probs_dropout_prob):
        super().__init__()
        if hidden_size % num_attention_heads:
            raise ValueError(f"BertSelfAttention: hidden_size {hidden_size} is not a multiple "
                             f"of num_attention_heads {num_attention_heads}")
        self.num_attention_heads = num_attention_heads
        self.attention_head_size = hidden_size // num_attention_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.dropout_p = attention_probs_dropout_prob

    def _heads(self, x: Tensor) -> Tensor:          # (N, T, d) -> (N, h, T, d_k)
        N, T, _ = x.shape
        return x.reshape(N, T, self.num_attention_heads, self.attention_head_size) \
                .transpose(1, 2)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        N, T, d = x.shape
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        a = _attention(q, k, v, mask, self.dropout_p if self.training else 0.0)
        return a.transpose(1, 2).reshape(N, T, d)


class BertSelfOutput(nn.Module):
    """X' = LayerNorm(X + Dropout(A W_O^T + b_O)) (post-norm residual)."""

    def __init__(self, hidden_size, layer_norm_eps, hidden_dropout_prob):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(hidden_dropout_prob)

    def forward(self, a: Tensor, x: Tensor) -> Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(a)))


class BertAttention(nn.Module):
    """Self-attention (``self``) then its projection and residual LayerNorm (``output``)."""

    def __init__(self, hidden_size, num_attention_heads, attention_probs_dropout_prob,
                 layer_norm_eps, hidden_dropout_prob):
        super().__init__()
        # ``self`` is the submodule's name in Hugging Face's checkpoints
        self.add_module("self", BertSelfAttention(hidden_size, num_attention_heads,
                                                  attention_probs_dropout_prob))
        self.output = BertSelfOutput(hidden_size, layer_norm_eps, hidden_dropout_prob)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.output(self._modules["self"](x, mask), x)


class BertIntermediate(nn.Module):
    """GELU(X W_1^T + b_1): d -> intermediate_size (4d in BERT)."""

    def __init__(self, hidden_size, intermediate_size, hidden_act):
        super().__init__()
        if hidden_act not in _ACTIVATIONS:
            raise ValueError(f"BertModel: hidden_act {hidden_act!r} is not supported; use one "
                             f"of {', '.join(sorted(_ACTIVATIONS))}")
        self.dense = nn.Linear(hidden_size, intermediate_size)
        self.intermediate_act_fn = _ACTIVATIONS[hidden_act]()

    def forward(self, x: Tensor) -> Tensor:
        return self.intermediate_act_fn(self.dense(x))


class BertOutput(nn.Module):
    """LayerNorm(X' + Dropout(H W_2^T + b_2)): intermediate_size -> d, residual, norm."""

    def __init__(self, intermediate_size, hidden_size, layer_norm_eps, hidden_dropout_prob):
        super().__init__()
        self.dense = nn.Linear(intermediate_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(hidden_dropout_prob)

    def forward(self, h: Tensor, x: Tensor) -> Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(h)))


class BertLayer(nn.Module):
    """One encoder layer: attention sub-layer then feed-forward sub-layer, each post-norm."""

    def __init__(self, c: dict):
        super().__init__()
        self.attention = BertAttention(c["hidden_size"], c["num_attention_heads"],
                                       c["attention_probs_dropout_prob"], c["layer_norm_eps"],
                                       c["hidden_dropout_prob"])
        self.intermediate = BertIntermediate(c["hidden_size"], c["intermediate_size"],
                                             c["hidden_act"])
        self.output = BertOutput(c["intermediate_size"], c["hidden_size"], c["layer_norm_eps"],
                                 c["hidden_dropout_prob"])

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    """``layer``: the L encoder layers, applied in turn."""

    def __init__(self, c: dict):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    """tanh(W_P h_[CLS] + b_P): the first token's final state through a dense layer."""

    def __init__(self, hidden_size):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.dense(x[:, 0]))


class BertModel(ZooModel):
    """BERT encoder (Hugging Face ``BertModel`` layout and config names).

    ``model(input_ids, attention_mask=None, token_type_ids=None)`` with int ids (N, T)
    (T <= max_position_embeddings), the mask (N, T) of 1 at real tokens and 0 at padding
    (all ones by default) and segment ids (N, T) (all zeros by default) returns a
    :class:`BertModelOutput` ``(last_hidden_state (N, T, d), pooler_output (N, d))``.
    The defaults are BERT-base's (d = 768, 12 layers, 12 heads).
    """

    name = "bert"

    def __init__(self, vocab_size: int = 30522, hidden_size: int = 768,
                 num_hidden_layers: int = 12, num_attention_heads: int = 12,
                 intermediate_size: int = 3072, hidden_act: str = "gelu",
                 hidden_dropout_prob: float = 0.1, attention_probs_dropout_prob: float = 0.1,
                 max_position_embeddings: int = 512, type_vocab_size: int = 2,
                 layer_norm_eps: float = 1e-12, pad_token_id: int | None = 0,
                 add_pooling_layer: bool = True):
        super().__init__()
        c = dict(vocab_size=vocab_size, hidden_size=hidden_size,
                 num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
                 intermediate_size=intermediate_size, hidden_act=hidden_act,
                 hidden_dropout_prob=hidden_dropout_prob,
                 attention_probs_dropout_prob=attention_probs_dropout_prob,
                 max_position_embeddings=max_position_embeddings,
                 type_vocab_size=type_vocab_size, layer_norm_eps=layer_norm_eps,
                 pad_token_id=pad_token_id, add_pooling_layer=add_pooling_layer)
        self._config = c
        self.embeddings = BertEmbeddings(vocab_size, hidden_size, max_position_embeddings,
                                         type_vocab_size, layer_norm_eps, hidden_dropout_prob,
                                         pad_token_id)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(hidden_size) if add_pooling_layer else None

    @classmethod
    def from_config(cls, config: dict, **overrides) -> "BertModel":
        """Build from a ``config.json`` dict (fields of ``BERT_CONFIG_FIELDS``; others,
        such as ``architectures``, are ignored)."""
        kw = {k: config[k] for k in BERT_CONFIG_FIELDS if k in config}
        kw.update(overrides)
        return cls(**kw)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> BertModelOutput:
        device = self.embeddings.word_embeddings.weight.device
        ids = _tensor(input_ids, device)
        if ids.ndim != 2 or ids.dtype.is_floating_point:
            raise ValueError(f"BertModel: input_ids must be integer token ids of shape (N, T); "
                             f"got shape {tuple(ids.shape)}, dtype {ids.dtype}")
        N, T = ids.shape
        limit = self._config["max_position_embeddings"]
        if T > limit:
            raise ValueError(f"BertModel: sequences of {T} tokens are longer than the "
                             f"{limit} positions the model has; truncate them "
                             f"(encode_batch(..., truncation=True, max_length={limit}))")
        token_type_ids = (zeros(N, T, dtype=int64, device=device) if token_type_ids is None
                          else _tensor(token_type_ids, device))
        mask = None
        if attention_mask is not None:
            m = _tensor(attention_mask, device)
            if tuple(m.shape) != (N, T):
                raise ValueError(f"BertModel: attention_mask has shape {tuple(m.shape)} but "
                                 f"input_ids has shape {(N, T)}; they must match")
            # (N, 1, 1, T) bool: True where the key is a real token (broadcast over heads
            # and queries).
            mask = (m != 0).reshape(N, 1, 1, T)
        x = self.embeddings(ids, token_type_ids)
        x = self.encoder(x, mask)
        pooled = self.pooler(x) if self.pooler is not None else None
        return BertModelOutput(x, pooled)
