"""Attention maps: record the attention weights P of every self-attention call, and plot them.

Every attention layer of :class:`~neurona.models.bert.BertModel` and
:class:`~neurona.models.gpt.GPT` computes, per head, with queries Q (T_q, d_k), keys
K (T_k, d_k) and an additive mask M (padding for BERT, causal for GPT)::

    P = softmax(Q K^T / sqrt(d_k) + M)      attention weights (T_q, T_k), rows sum to 1
    O = P V

P[i, j] is how much token i reads from token j.  Both models call
``neurona.nn.functional.scaled_dot_product_attention``; :func:`record_attention` swaps that
function, for the duration of a ``with`` block, for one that also asks the fused op for P
(its ``_need_weights`` path: the same numbers, no second computation) and keeps a copy.
Nothing in the models changes, and outside the block nothing is recorded::

    with record_attention() as maps:
        model(ids)
    maps[l]          # layer l: array (N, h, T_q, T_k), in call order (layer 0 first)
    maps[l][0, h]    # sentence 0, head h: (T_q, T_k)

:func:`attention_maps` does this for a sentence and a Hugging Face BERT folder or a GPT,
returning the tokens too; :func:`plot_attention` draws one head as a heatmap with the
tokens as labels, :func:`plot_attention_heads` all heads of a layer as a grid.
"""
from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["record_attention", "attention_maps", "AttentionMaps", "plot_attention",
           "plot_attention_heads"]


@contextlib.contextmanager
def record_attention():
    """``with record_attention() as maps:`` -- every call of
    ``nn.functional.scaled_dot_product_attention`` inside the block appends its weights
    P = softmax(QK^T/sqrt(d_k) + M) as a NumPy array (..., L, S) to the list ``maps``
    (one entry per attention layer and forward call; with a KV cache, L is the number of
    new tokens and S the number of all keys).  Recording does not change the outputs or
    their gradients.  Not thread-safe: the function is swapped module-wide.  Layers that
    call the op directly (``nn.MultiheadAttention``, hence ``nn.Transformer*``) are not
    recorded: they return their weights themselves (``need_weights=True``)."""
    from ..nn import functional as F
    original = F.scaled_dot_product_attention
    maps: list = []

    def recording(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                  scale=None, enable_gqa=False, generator=None, _need_weights=False):
        out, w = original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p,
                          is_causal=is_causal, scale=scale, enable_gqa=enable_gqa,
                          generator=generator, _need_weights=True)
        maps.append(w.detach().cpu().numpy().copy())
        return (out, w) if _need_weights else out

    F.scaled_dot_product_attention = recording
    try:
        yield maps
    finally:
        F.scaled_dot_product_attention = original


class AttentionMaps:
    """The weights of one sentence: ``weights`` (n_layer, n_head, T, T) float array and the
    ``tokens`` (T strings); ``head(l, h)`` -> (T, T)."""

    def __init__(self, weights: np.ndarray, tokens: list[str]):
        self.weights, self.tokens = weights, tokens

    @property
    def n_layer(self) -> int:
        return self.weights.shape[0]

    @property
    def n_head(self) -> int:
        return self.weights.shape[1]

    def head(self, layer: int, head: int) -> np.ndarray:
        """P of layer ``layer``, head ``head``: (T, T), row i = where token i looks."""
        self._check(layer, head)
        return self.weights[layer, head]

    def _check(self, layer, head=0):
        if not -self.n_layer <= layer < self.n_layer:
            raise IndexError(f"attention maps: layer {layer} out of range; the model has "
                             f"{self.n_layer} layers (0..{self.n_layer - 1})")
        if not -self.n_head <= head < self.n_head:
            raise IndexError(f"attention maps: head {head} out of range; each layer has "
                             f"{self.n_head} heads (0..{self.n_head - 1})")


def attention_maps(model, tokenizer, sentence: str) -> AttentionMaps:
    """Run ``model`` (a BertModel, or a GPT / any causal LM calling ``model(ids)``) on one
    sentence and return its attention weights (n_layer, n_head, T, T) with the tokens.

    ``model`` may also be the path of a Hugging Face BERT or GPT-2 folder (then
    ``tokenizer`` may be None: the folder's own is used).  BERT sentences get
    [CLS] ... [SEP] as in training.
    """
    from ..autograd import no_grad
    from ..creation import tensor
    from .bert import BertModel
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        from .pretrained import from_pretrained, load_config
        if load_config(model).get("model_type") == "gpt2":
            from .gpt import load_gpt2
            model, own = load_gpt2(model)
        else:
            model, own = from_pretrained(model, tokenizer=tokenizer is None)
        tokenizer = tokenizer or own
        if tokenizer is None:
            raise ValueError("attention_maps: the checkpoint folder has no tokenizer files; "
                             "pass the tokenizer")
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"attention_maps: give a non-empty sentence, got {sentence!r}")
    ids = list(tokenizer.encode(sentence))
    limit = (model.get_config()["max_position_embeddings"] if isinstance(model, BertModel)
             else getattr(model, "max_length", None))
    if limit is not None and len(ids) > limit:
        raise ValueError(f"attention_maps: the sentence has {len(ids)} tokens but the model "
                         f"reads at most {limit}; shorten it")
    was_training = model.training
    model.eval()
    try:
        with no_grad(), record_attention() as maps:
            model(tensor([ids]))
    finally:
        model.train(was_training)
    if not maps:
        raise TypeError(f"attention_maps: {type(model).__name__} made no call to "
                        "nn.functional.scaled_dot_product_attention, so there is nothing "
                        "to record (BertModel and GPT do)")
    weights = np.stack([m[0] for m in maps])            # (n_layer, h, T, T)
    return AttentionMaps(weights, _token_strings(tokenizer, ids))


def _token_strings(tokenizer, ids) -> list[str]:
    if hasattr(tokenizer, "id_to_token"):                   # SubwordTokenizer
        out = [tokenizer.id_to_token(int(i)) for i in ids]
        # GPT-2's byte-level BPE writes a leading space as "Ġ"
        return [t.replace("\u0120", " ").replace("\u010a", "\\n") if t else "?" for t in out]
    if hasattr(tokenizer, "decode"):
        return [tokenizer.decode([int(i)]) for i in ids]
    return [str(int(i)) for i in ids]


def _heatmap(ax, weights, tokens_q, tokens_k, title, fontsize=8):
    im = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=max(float(weights.max()), 1e-9),
                   aspect="auto")
    ax.set_xticks(range(len(tokens_k)))
    ax.set_xticklabels(tokens_k, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(tokens_q)))
    ax.set_yticklabels(tokens_q, fontsize=fontsize)
    ax.set_xlabel("key (attended to)", fontsize=fontsize)
    ax.set_ylabel("query", fontsize=fontsize)
    if title:
        ax.set_title(title, fontsize=fontsize + 1)
    return im


def _check_plot(weights, tokens_q, tokens_k, what):
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape != (len(tokens_q), len(tokens_k)):
        raise ValueError(f"{what}: weights must be (L, S) = ({len(tokens_q)}, "
                         f"{len(tokens_k)}) for {len(tokens_q)} query and {len(tokens_k)} key "
                         f"tokens, got {w.shape}")
    return w


def plot_attention(weights, tokens_q, tokens_k, path, title: str = ""):
    """Heatmap of one head's attention weights ``weights`` (L, S) -- row i: how much query
    token ``tokens_q[i]`` reads from each key token ``tokens_k[j]`` -- saved to ``path``
    (png/pdf/svg by its extension).  Returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    w = _check_plot(weights, list(tokens_q), list(tokens_k), "plot_attention")
    size = 2.5 + 0.3 * max(len(tokens_q), len(tokens_k))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = _heatmap(ax, w, tokens_q, tokens_k, title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_attention_heads(weights, tokens, path, title: str = "", cols: int = 4):
    """All heads of one layer, ``weights`` (h, T, T), as a grid of heatmaps saved to
    ``path``.  Returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 3:
        raise ValueError(f"plot_attention_heads: weights must be (heads, T, T), got {w.shape}")
    for h in range(w.shape[0]):
        _check_plot(w[h], tokens, tokens, "plot_attention_heads")
    n = w.shape[0]
    cols = max(1, min(int(cols), n))
    rows = -(-n // cols)
    size = 1.5 + 0.22 * len(tokens)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h < n:
            _heatmap(ax, w[h], tokens, tokens, f"head {h}", fontsize=6)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
