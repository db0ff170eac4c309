"""The PyTorch side of the Transformer benchmarks (bench only; the library never imports torch).

* :class:`TorchGPT` -- nanoGPT in torch with GPT-2 / nanoGPT parameter names, so
  ``load_state_dict`` takes neurona's ``GPT.state_dict()`` as is. Attention runs
  ``torch.nn.functional.scaled_dot_product_attention`` (is_causal when there is no past;
  one new token sees every cached key), and ``model(ids, past)`` keeps a KV cache: per
  layer (K, V) of shape (N, n_head, T_past, d_k), grown with ``torch.cat`` -- the same
  scheme as neurona's :class:`~neurona.models.gpt.KVCache`.
* :func:`torch_generate_greedy` -- the greedy loop with that cache under ``torch.no_grad``:
  read the prompt once, then one token at a time (argmax of the last position's logits),
  the same steps as :func:`neurona.models.generation.generate` with ``greedy=True``.
* :func:`hf_sentence_embed` -- transformers ``AutoModel`` + mean pooling + L2 normalise,
  the sentence-transformers recipe of all-MiniLM-L6-v2.
"""
from __future__ import annotations

import torch
import torch.nn as tnn
import torch.nn.functional as TF

__all__ = ["TorchGPT", "torch_generate_greedy", "hf_sentence_embed"]


class CausalSelfAttention(tnn.Module):
    """Q, K, V = split(c_attn(x)); softmax(QK^T/sqrt(d_k) + M) V per head; c_proj."""

    def __init__(self, n_embd, n_head, bias=True):
        super().__init__()
        self.n_head = n_head
        self.c_attn = tnn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = tnn.Linear(n_embd, n_embd, bias=bias)

    def forward(self, x, past=None):
        n, t, d = x.shape
        h = self.n_head
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(n, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        if past is None:
            y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif t == 1:
            y = TF.scaled_dot_product_attention(q, k, v)
        else:                              # a chunk after a cache: bottom-right causal mask
            t_k = k.shape[2]
            mask = torch.arange(t_k)[None, :] <= (t_k - t) + torch.arange(t)[:, None]
            y = TF.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).contiguous().view(n, t, d)
        return self.c_proj(y), (k, v)


class MLP(tnn.Module):
    def __init__(self, n_embd, bias=True):
        super().__init__()
        self.c_fc = tnn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.act = tnn.GELU(approximate="tanh")
        self.c_proj = tnn.Linear(4 * n_embd, n_embd, bias=bias)

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class Block(tnn.Module):
    def __init__(self, n_embd, n_head, bias=True, eps=1e-5):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(n_embd, eps=eps, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, bias)
        self.ln_2 = tnn.LayerNorm(n_embd, eps=eps, bias=bias)
        self.mlp = MLP(n_embd, bias)

    def forward(self, x, past=None):
        a, kv = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), kv


class TorchGPT(tnn.Module):
    """nanoGPT (dropout 0, GELU tanh, tied lm_head) with neurona's GPT parameter names.

    ``forward(ids (N, T), past=None) -> (logits (N, T, V), [(K, V) per layer])``.
    """

    def __init__(self, vocab_size, block_size=256, n_layer=4, n_head=4, n_embd=128,
                 bias=True, tie_weights=True, eps=1e-5):
        super().__init__()
        self.transformer = tnn.ModuleDict(dict(
            wte=tnn.Embedding(vocab_size, n_embd),
            wpe=tnn.Embedding(block_size, n_embd),
            h=tnn.ModuleList([Block(n_embd, n_head, bias, eps) for _ in range(n_layer)]),
            ln_f=tnn.LayerNorm(n_embd, eps=eps, bias=bias),
        ))
        self.lm_head = tnn.Linear(n_embd, vocab_size, bias=False)
        if tie_weights:
            self.lm_head.weight = self.transformer.wte.weight

    @classmethod
    def twin_of(cls, model):
        """A TorchGPT with the config and weights of neurona's ``GPT`` ``model``."""
        cfg = model.get_config()
        twin = cls(cfg["vocab_size"], cfg["block_size"], cfg["n_layer"], cfg["n_head"],
                   cfg["n_embd"], cfg["bias"], cfg["tie_weights"], cfg["layer_norm_eps"])
        state = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
        twin.load_state_dict(state)
        return twin

    def forward(self, ids, past=None):
        n, t = ids.shape
        t_past = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(t_past, t_past + t)
        tr = self.transformer
        x = tr.wte(ids) + tr.wpe(pos)
        cache = []
        for i, block in enumerate(tr.h):
            x, kv = block(x, None if past is None else past[i])
            cache.append(kv)
        return self.lm_head(tr.ln_f(x)), cache


@torch.no_grad()
def torch_generate_greedy(model, prompt_ids, max_new_tokens: int) -> list[int]:
    """Greedy continuation of ``prompt_ids`` (a list of ids) with the KV cache."""
    model.eval()
    logits, past = model(torch.tensor([list(prompt_ids)]))
    new = []
    for i in range(max_new_tokens):
        token = int(torch.argmax(logits[0, -1]))
        new.append(token)
        if i + 1 < max_new_tokens:
            logits, past = model(torch.tensor([[token]]), past)
    return new


@torch.no_grad()
def hf_sentence_embed(model, tokenizer, sentences, batch_size: int = 32,
                      max_length: int = 256):
    """(N, d) float32 numpy: tokenize (pad to the longest), BERT, mean pooling over the
    attention mask, L2 normalise -- all-MiniLM-L6-v2 as sentence-transformers runs it."""
    import numpy as np
    out = []
    for i in range(0, len(sentences), batch_size):
        batch = tokenizer(sentences[i:i + batch_size], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
        h = model(input_ids=batch["input_ids"],
                  attention_mask=batch["attention_mask"]).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
        u = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        out.append(TF.normalize(u, p=2, dim=1).numpy())
    return np.concatenate(out, 0)
