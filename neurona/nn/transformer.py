"""Transformer layers ("Attention Is All You Need", Vaswani et al. 2017), as PyTorch's
``nn.TransformerEncoderLayer``, ``nn.TransformerDecoderLayer``, ``nn.TransformerEncoder``,
``nn.TransformerDecoder`` and ``nn.Transformer``: same arguments, same submodule names,
so a torch state_dict loads into them and back (``layers.0.self_attn.in_proj_weight``,
``layers.0.linear1.weight``, ``layers.0.norm1.weight`` ...).

One layer is a stack of *sublayers*, each wrapped in a residual connection and a layer
norm.  With SA the multi-head self-attention, CA the cross-attention to the encoder's
output (the *memory*) and FF(x) = linear2(dropout(activation(linear1(x)))) the
position-wise feed-forward network (d_model -> dim_feedforward -> d_model):

* post-norm (``norm_first=False``, the original paper and PyTorch's default)::

      x = LN1(x + SA(x))
      x = LN2(x + CA(x, memory))             (decoder only; then the FF norm is LN3)
      x = LN2(x + FF(x))

* pre-norm (``norm_first=True``, GPT-2 and most modern models; trains more stably)::

      x = x + SA(LN1(x))
      x = x + CA(LN2(x), memory)             (decoder only)
      x = x + FF(LN2(x))                      (LN3 in the decoder)

Each sublayer's output goes through dropout (``dropout1``, ``dropout2``, ``dropout3``)
before it is added to x.  The backward needs no code of its own: autograd runs it through
the attention, linear, layer-norm and activation ops; the residual x + f(x) passes dL/dx
straight through to the layer below (plus f's own contribution), which is why deep
stacks train.

Shapes: E = d_model, S = source length, T = target length, N = batch.  ``batch_first=False``
(PyTorch's default): src (S, N, E), tgt (T, N, E); ``batch_first=True``: (N, S, E),
(N, T, E); unbatched: (S, E).  Masks, as ``nn.MultiheadAttention``: ``src_mask`` /
``tgt_mask`` / ``memory_mask`` of shape (L, S) or (N*nhead, L, S), boolean (True = may NOT
attend) or float (added to the scores, -inf to block); ``*_key_padding_mask`` (N, S),
True at padding positions.  ``generate_square_subsequent_mask(T)`` is the causal mask.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import creation
from .container import ModuleList
from .dropout import Dropout
from . import functional as F
from .attention import MultiheadAttention
from .init import xavier_uniform_
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "Transformer", "generate_square_subsequent_mask"]


def generate_square_subsequent_mask(sz: int, device=None, dtype=None):
    """The (sz, sz) causal mask: 0 on and below the diagonal, -inf above it, so position t
    attends to positions 0..t only (float32 unless ``dtype`` says otherwise)."""
    mask = np.triu(np.full((sz, sz), -np.inf), k=1)
    return creation.tensor(mask, dtype=dtype or "float32", device=device)


def _get_activation_fn(activation, owner):
    """'relu' / 'gelu' -> the function; a callable (function or Module) is used as is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"{owner}: activation should be 'relu', 'gelu' or a callable, "
                           f"not {activation!r}")
    if not callable(activation):
        raise TypeError(f"{owner}: activation should be 'relu', 'gelu' or a callable, got "
                        f"a {type(activation).__name__}")
    return activation


def _check_width(owner, name, x, d_model):
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(f"{owner}: {name} should have shape (L, N, E), (N, L, E) or "
                         f"(L, E) with E = d_model = {d_model}, got {tuple(x.shape)}; "
                         "check d_model and batch_first")


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward network, each with a residual and a LayerNorm:

        post-norm (norm_first=False):  x = LN1(x + SA(x));   x = LN2(x + FF(x))
        pre-norm  (norm_first=True):   x = x + SA(LN1(x));   x = x + FF(LN2(x))

    with SA(x) = dropout1(MultiheadAttention(x, x, x)) and
    FF(x) = dropout2(linear2(dropout(activation(linear1(x))))).

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: src (S, N, E)
    (or (N, S, E) with ``batch_first``, or (S, E)) -> the same shape.  ``activation``:
    'relu' (default), 'gelu' or any callable.  ``bias=False`` drops the biases of the
    linear layers, the attention projections and the layer norms."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        f = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **f)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **f)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **f)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _get_activation_fn(activation, type(self).__name__)
        self.d_model = d_model

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        _check_width(type(self).__name__, "src", src, self.d_model)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        """dropout1(SA(x)), SA(x) = MultiheadAttention(x, x, x)."""
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        """dropout2(linear2(dropout(activation(linear1(x)))))."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention to the encoder's output (memory), then a
    feed-forward network, each with a residual and a LayerNorm:

        post-norm:  x = LN1(x + SA(x));  x = LN2(x + CA(x, mem));  x = LN3(x + FF(x))
        pre-norm:   x = x + SA(LN1(x));  x = x + CA(LN2(x), mem);  x = x + FF(LN3(x))

    with SA(x) = dropout1(self_attn(x, x, x)) (queries, keys and values from the target),
    CA(x, mem) = dropout2(multihead_attn(x, mem, mem)) (queries from the target, keys and
    values from the memory) and FF(x) = dropout3(linear2(dropout(activation(linear1(x))))).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``: tgt
    (T, N, E), memory (S, N, E) (batch first with ``batch_first``) -> (T, N, E).
    ``tgt_mask = generate_square_subsequent_mask(T)`` keeps position t from seeing the
    later targets it must predict."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        f = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, **f)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias, **f)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **f)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **f)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation, type(self).__name__)
        self.d_model = d_model

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        owner = type(self).__name__
        _check_width(owner, "tgt", tgt, self.d_model)
        _check_width(owner, "memory", memory, self.d_model)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        """dropout1(self_attn(x, x, x))."""
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        """dropout2(multihead_attn(x, mem, mem)): the target queries the memory."""
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        """dropout3(linear2(dropout(activation(linear1(x)))))."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _detect_is_causal_mask(mask, is_causal, size):
    """``is_causal`` if given; else whether ``mask`` is exactly the (size, size) float
    causal mask (PyTorch's rule: a hint that lets attention skip reading the mask)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None or tuple(mask.shape) != (size, size) or mask.dtype.name == "bool":
        return False
    causal = np.triu(np.full((size, size), -np.inf), k=1)
    return bool(np.array_equal(np.asarray(mask.detach().cpu().numpy()), causal))


def _seq_len(x, batch_first):
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies: each has its own weights,
    all starting equal) applied in turn, then ``norm`` if given (pre-norm stacks need a
    final LayerNorm: their residual stream is never normalized otherwise).

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``; submodules
    ``layers.0``, ``layers.1`` ... and ``norm``, as PyTorch.  ``enable_nested_tensor`` and
    ``mask_check`` are accepted and ignored (PyTorch's fast inference path: in eval mode
    under no_grad with a ``src_key_padding_mask``, PyTorch returns zeros at the padding
    positions; neurona computes them like any other position -- only the non-padding
    outputs are meaningful in either)."""

    def __init__(self, encoder_layer, num_layers: int, norm=None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        batch_first = getattr(self.layers[0].self_attn, "batch_first", False) \
            if len(self.layers) else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal,
                         src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, each attending to the
    same ``memory``, then ``norm`` if given.  ``forward(tgt, memory, tgt_mask=None,
    memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, decoder_layer, num_layers: int, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None,
                memory_is_causal: bool = False):
        batch_first = getattr(self.layers[0].self_attn, "batch_first", False) \
            if len(self.layers) else False
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _seq_len(tgt, batch_first))
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder of "Attention Is All You Need": ``encoder`` (a
    TransformerEncoder of ``num_encoder_layers`` layers and a final LayerNorm) reads the
    source; ``decoder`` (``num_decoder_layers`` layers and a final LayerNorm) reads the
    target, attending to the encoder's output.  Matrices are initialized Xavier-uniform.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)``: src (S, N, E), tgt
    (T, N, E) -> (T, N, E) (batch first with ``batch_first``).  No embeddings and no output
    projection: add them around it."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        f = dict(device=device, dtype=dtype)
        common = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                  batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*common, **f), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*common, **f), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **f))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal: bool = False):
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal, "
                               f"got src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                               f"(batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal "
                               f"to d_model={self.d_model}, got src {tuple(src.shape)} and "
                               f"tgt {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None):
        """The (sz, sz) causal mask: 0 on and below the diagonal, -inf above."""
        return generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)
