"""GPT (decoder-only Transformer) and the GPT-2 checkpoint loader.

* logits match a random ``transformers.GPT2LMHeadModel`` saved as safetensors;
* the KV cache: whole sequence == token by token == chunks; generation with the cache
  gives the same tokens as re-reading the prefix every step (greedy and seeded sampling);
* forward and backward match an equivalent torch model holding the same weights
  (hypothesis-drawn configurations); the causal attention with an offset (cached) mask
  matches torch, and gradchecks in float64;
* weight tying, checkpoints, and clear errors.
"""
import json
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import neurona
from neurona import models
from neurona.models.generation import generate
from neurona.models.gpt import (GPT, KVCache, load_gpt2, causal_attention,
                                causal_attention_reference)
from helpers import gradcheck64

import transformers            # noqa: E402 - a test dependency: missing fails, never skips


# ---------------------------------------------------------------------------- helpers
def _hf_folder(tmp_path, seed=0, **cfg):
    """A tiny random GPT-2 saved by transformers (config.json + model.safetensors)."""
    torch.manual_seed(seed)
    conf = dict(n_layer=2, n_head=2, n_embd=32, n_positions=64, vocab_size=100)
    conf.update(cfg)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**conf)).eval()
    folder = tmp_path / "gpt2-tiny"
    hf.save_pretrained(folder, safe_serialization=True)
    return hf, folder


def _np(t):
    return np.asarray(t.detach().numpy())


class _NoCache(neurona.nn.Module):
    """The same model without a cache: every call re-reads the whole prefix (the state is
    the list of ids so far) -- what generation would cost without a KV cache."""

    def __init__(self, model):
        super().__init__()
        self.model, self.max_length = model, model.max_length

    def forward(self, ids, state=None):
        prefix = ids if state is None else neurona.cat([state, ids], dim=1)
        logits, _ = self.model(prefix, None)
        return logits[:, -ids.shape[1]:], prefix


def _tiny(seed=0, **kw):
    neurona.manual_seed(seed)
    cfg = dict(vocab_size=23, block_size=40, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    return GPT(**cfg).eval()


# ---------------------------------------------------------------------------- GPT-2 loader
def test_matches_transformers_gpt2(tmp_path):
    hf, folder = _hf_folder(tmp_path)
    model, tok = load_gpt2(folder)
    assert tok is None                                  # no tokenizer files saved
    assert not model.training
    ids = np.random.default_rng(0).integers(0, 100, (3, 30))
    with torch.no_grad():
        ref = hf(torch.tensor(ids)).logits.numpy()
    logits, state = model(neurona.tensor(ids))
    diff = np.abs(_np(logits) - ref).max()
    assert logits.shape == (3, 30, 100) and diff <= 1e-4, diff
    assert state.offset == 30 and len(state.layers) == 2
    assert state.layers[0][0].shape == (3, 2, 30, 16)
    # the GPT-2 checkpoint ties lm_head to wte
    assert model.lm_head.weight is model.transformer.wte.weight
    assert GPT.from_pretrained(folder).block_size == 64


def test_loader_keys_without_prefix_and_tokenizer(tmp_path):
    """Checkpoints without the ``transformer.`` prefix (GPT2Model) load the same; a
    tokenizer.json is read with SubwordTokenizer and generate_text runs through it."""
    import io
    import safetensors.numpy
    from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers, trainers
    from neurona.models.generation import generate_text
    tok = Tokenizer(tmodels.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)   # as GPT-2
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["the cat sat on the mat"] * 5,
                            trainers.BpeTrainer(vocab_size=60, special_tokens=["<unk>"]))
    hf, folder = _hf_folder(tmp_path, seed=1, vocab_size=tok.get_vocab_size())
    tok.save(str(folder / "tokenizer.json"))
    path = folder / "model.safetensors"
    arrays = safetensors.numpy.load_file(str(path))
    assert any(k.startswith("transformer.") for k in arrays)
    safetensors.numpy.save_file({k.removeprefix("transformer."): v
                                 for k, v in arrays.items()}, str(path))
    model, tokenizer = load_gpt2(folder)
    assert tokenizer is not None
    ids = np.arange(12)[None] % tok.get_vocab_size()
    with torch.no_grad():
        ref = hf(torch.tensor(ids)).logits.numpy()
    assert np.abs(_np(model(neurona.tensor(ids))[0]) - ref).max() <= 1e-4
    out = io.StringIO()
    text = generate_text(model, tokenizer, "the cat", 6, greedy=True, stream=out)
    assert isinstance(text, str) and text and out.getvalue().endswith(text)
    # GPT-2's original files (vocab.json + merges.txt) instead of tokenizer.json
    tok.model.save(str(folder))
    os.remove(folder / "tokenizer.json")
    _, again = load_gpt2(folder)
    assert again.encode("the cat sat") == tokenizer.encode("the cat sat")
    assert again.decode(again.encode("the mat")) == "the mat"


def test_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder"):
        load_gpt2(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_gpt2(empty)
    _, folder = _hf_folder(tmp_path)
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    # wrong model_type
    cfg_path.write_text(json.dumps(dict(cfg, model_type="bert")))
    with pytest.raises(ValueError, match="model_type='bert'"):
        load_gpt2(folder)
    # a config that does not fit the tensors: the tensor and both shapes are named
    cfg_path.write_text(json.dumps(dict(cfg, vocab_size=101)))
    with pytest.raises(ValueError, match=r"wte.weight.*\(100, 32\).*\(101, 32\)"):
        load_gpt2(folder)
    cfg_path.write_text(json.dumps(cfg))
    # pickle only: say to convert
    os.rename(folder / "model.safetensors", folder / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin.*safetensors"):
        load_gpt2(folder)


# ---------------------------------------------------------------------------- KV cache
@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.integers(1, 2))
def test_cache_equals_full_sequence(chunks, n):
    model = _tiny()
    t = sum(chunks)
    ids = np.random.default_rng(t).integers(0, 23, (n, t))
    full, _ = model(neurona.tensor(ids))
    outs, state, start = [], None, 0
    for c in chunks:
        out, state = model(neurona.tensor(ids[:, start:start + c]), state)
        outs.append(_np(out))
        start += c
    assert state.offset == t and state.layers[1][1].shape == (n, 2, t, 8)
    np.testing.assert_allclose(np.concatenate(outs, axis=1), _np(full), atol=1e-5)


def test_cache_token_by_token():
    model = _tiny(seed=3)
    ids = np.random.default_rng(1).integers(0, 23, (2, 15))
    full, _ = model(neurona.tensor(ids))
    state, outs = None, []
    for i in range(15):
        out, state = model(neurona.tensor(ids[:, i:i + 1]), state)
        outs.append(_np(out))
    np.testing.assert_allclose(np.concatenate(outs, axis=1), _np(full), atol=1e-5)


def test_generate_greedy_equals_recompute():
    model = _tiny(seed=5, vocab_size=31)
    prompt = [3, 1, 4, 1, 5]
    got = generate(model, prompt, 20, greedy=True)
    ids = list(prompt)                      # greedy by hand, re-reading the prefix
    for _ in range(20):
        logits, _ = model(neurona.tensor([ids]))
        ids.append(int(np.argmax(_np(logits)[0, -1])))
    assert got == ids[len(prompt):]
    assert got == generate(_NoCache(model), prompt, 20, greedy=True)


def test_generate_sampled_same_with_and_without_cache():
    model = _tiny(seed=6, vocab_size=31)
    kw = dict(temperature=1.5, top_k=10, top_p=0.95, seed=123)
    a = generate(model, [2, 7], 25, **kw)
    b = generate(_NoCache(model), [2, 7], 25, **kw)
    assert a == b and len(a) == 25
    assert generate(model, [2, 7], 25, **dict(kw, seed=124)) != a   # the seed matters


def test_generate_slides_past_block_size():
    model = _tiny(block_size=10)          # details in test_generation_window.py
    out = generate(model, [1, 2, 3], 20, greedy=True)
    assert len(out) == 20


# ---------------------------------------------------------------------------- torch twin
class _TorchGPT(torch.nn.Module):
    """nanoGPT in torch, the same parameter names and layouts as neurona's GPT."""

    def __init__(self, sd, n_layer, n_head, eps=1e-5):
        super().__init__()
        self.p = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(
            torch.tensor(v)) for k, v in sd.items()})
        self.n_layer, self.n_head, self.eps = n_layer, n_head, eps

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def ln(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w(name + ".weight"),
                                              self.w(name + ".bias"), self.eps)

    def lin(self, x, name, bias=True):
        return torch.nn.functional.linear(x, self.w(name + ".weight"),
                                          self.w(name + ".bias") if bias else None)

    def forward(self, ids):
        n, t = ids.shape
        x = self.w("transformer.wte.weight")[ids] + self.w("transformer.wpe.weight")[:t]
        for i in range(self.n_layer):
            b = f"transformer.h.{i}"
            q, k, v = self.lin(self.ln(x, b + ".ln_1"), b + ".attn.c_attn").split(
                x.shape[-1], dim=2)
            q, k, v = (z.view(n, t, self.n_head, -1).transpose(1, 2) for z in (q, k, v))
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.lin(y.transpose(1, 2).reshape(n, t, -1), b + ".attn.c_proj")
            h = torch.nn.functional.gelu(self.lin(self.ln(x, b + ".ln_2"), b + ".mlp.c_fc"),
                                         approximate="tanh")
            x = x + self.lin(h, b + ".mlp.c_proj")
        return self.lin(self.ln(x, "transformer.ln_f"), "lm_head", bias=False)


@settings(max_examples=6, deadline=None)
@given(n_layer=st.integers(1, 2), n_head=st.integers(1, 3), d_k=st.integers(1, 4),
       vocab=st.integers(2, 12), n=st.integers(1, 3), t=st.integers(1, 7),
       tie=st.booleans())
def test_forward_backward_match_torch(n_layer, n_head, d_k, vocab, n, t, tie):
    neurona.manual_seed(n_layer * 100 + n_head * 10 + d_k)
    model = GPT(vocab, block_size=8, n_layer=n_layer, n_head=n_head, n_embd=n_head * d_k,
                tie_weights=tie).double()
    rng = np.random.default_rng(t)
    for p in model.parameters():            # not the init's zero biases / unit LN scales
        p.data = rng.normal(0, 0.3, p.shape)
    sd = {k: np.array(v.detach().numpy()) for k, v in model.state_dict().items()}
    ref = _TorchGPT(sd, n_layer, n_head)
    ids = rng.integers(0, vocab, (n, t))
    target = rng.normal(size=(n, t, vocab))
    logits, _ = model(neurona.tensor(ids))
    (logits * neurona.tensor(target)).sum().backward()
    tl = ref(torch.tensor(ids))
    (tl * torch.tensor(target)).sum().backward()
    np.testing.assert_allclose(_np(logits), tl.detach().numpy(), rtol=1e-9, atol=1e-9)
    grads = dict(model.named_parameters())
    for k, p in grads.items():
        want = ref.w(k).grad.numpy()
        if tie and k in ("lm_head.weight", "transformer.wte.weight"):
            want = (ref.w("lm_head.weight").grad + ref.w("transformer.wte.weight").grad)
            want = want.numpy()
        np.testing.assert_allclose(_np(p.grad), want, rtol=1e-7, atol=1e-9, err_msg=k)


@settings(max_examples=10, deadline=None)
@given(t_q=st.integers(1, 5), past=st.integers(0, 4), d=st.integers(1, 4))
def test_offset_causal_attention_matches_torch(t_q, past, d):
    """New query i (after ``past`` cached keys) sees all past keys and new keys <= i."""
    rng = np.random.default_rng(t_q * 10 + past)
    t_k = t_q + past
    q, k, v = (rng.normal(size=(2, 3, s, d)) for s in (t_q, t_k, t_k))
    mask = torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=past)
    want = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), attn_mask=mask).numpy()
    for fn in (causal_attention, causal_attention_reference):
        got = fn(*(neurona.tensor(a) for a in (q, k, v)))
        np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-12)


def test_attention_gradcheck():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(1, 2, 3, 2)), rng.normal(size=(1, 2, 5, 2)), \
        rng.normal(size=(1, 2, 5, 2))
    gradcheck64(causal_attention_reference, q, k, v)     # raises on a mismatch
    gradcheck64(causal_attention, q, k, v)


# ---------------------------------------------------------------------------- the model
def test_weight_tying_and_init():
    model = _tiny(n_layer=3, n_embd=64, n_head=4)
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [k for k, _ in model.named_parameters()]
    assert "lm_head.weight" not in names        # one tensor, listed once
    assert "transformer.h.2.attn.c_attn.weight" in names
    assert abs(model.transformer.wte.weight.detach().numpy().std() - 0.02) < 0.003
    proj = model.transformer.h[0].mlp.c_proj.weight.detach().numpy()
    assert abs(proj.std() - 0.02 / math.sqrt(6)) < 0.001
    assert not model.transformer.h[0].attn.c_attn.bias.detach().numpy().any()
    untied = _tiny(tie_weights=False)
    assert untied.lm_head.weight is not untied.transformer.wte.weight


def test_checkpoint_roundtrip(tmp_path):
    model = models.get("gpt", vocab_size=23, block_size=16, n_layer=1, n_head=2, n_embd=8)
    path = models.save_checkpoint(model, tmp_path / "gpt.safetensors")
    back, _ = models.load_checkpoint(path)
    ids = neurona.tensor([[1, 2, 3]])
    np.testing.assert_array_equal(_np(back.eval()(ids)[0]), _np(model.eval()(ids)[0]))
    assert back.lm_head.weight is back.transformer.wte.weight


def test_dropout_in_training_only():
    model = _tiny(dropout=0.5).train()
    ids = neurona.tensor([[1, 2, 3, 4]])
    a, b = _np(model(ids)[0]), _np(model(ids)[0])
    assert not np.allclose(a, b)
    model.eval()
    np.testing.assert_array_equal(_np(model(ids)[0]), _np(model(ids)[0]))


def test_errors():
    model = _tiny(block_size=8)
    with pytest.raises(ValueError, match="block_size=8"):
        model(neurona.tensor([list(range(9))]))
    _, state = model(neurona.tensor([[1] * 6]))
    with pytest.raises(ValueError, match=r"6 cached \+ 3 new.*block_size=8"):
        model(neurona.tensor([[1, 2, 3]]), state)
    with pytest.raises(ValueError, match="batch of 1"):
        model(neurona.tensor([[1], [2]]), state)
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPT(10, n_embd=10, n_head=3)
    with pytest.raises(TypeError, match="integer token ids"):
        model(neurona.tensor([[0.5]]))
    with pytest.raises(ValueError, match="empty"):
        model(neurona.tensor(np.zeros((1, 0), dtype=np.int64)))
    with pytest.raises(ValueError, match="activation"):
        GPT(10, activation="swish")
    assert isinstance(state, KVCache)


def test_learns_a_periodic_sequence():
    """A few Adam steps teach a tiny GPT to continue 0 1 2 ... 6 0 1 2 ... (it has to use
    attention/positions: the next token depends on the current one)."""
    neurona.manual_seed(0)
    model = GPT(7, block_size=16, n_layer=1, n_head=2, n_embd=16)
    opt = neurona.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for step in range(60):
        starts = rng.integers(0, 7, (8, 1))
        seq = (starts + np.arange(13)) % 7
        logits, _ = model(neurona.tensor(seq[:, :-1]))
        loss = neurona.nn.functional.cross_entropy(logits.reshape(-1, 7),
                                                   neurona.tensor(seq[:, 1:].reshape(-1)))
        if step == 0:
            first = loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.5 and loss.item() < 0.1, (first, loss.item())
    assert generate(model, [3, 4], 8, greedy=True) == [5, 6, 0, 1, 2, 3, 4, 5]


def test_load_causal_lm_with_tokenizer(tmp_path):
    from neurona.models.generation import load_causal_lm
    from neurona.text import SubwordTokenizer
    tok = SubwordTokenizer.train(["the cat sat on the mat"] * 5, vocab_size=270)
    model = _tiny(vocab_size=len(tok))
    path = models.save_checkpoint(model, tmp_path / "gpt.safetensors", tokenizer=tok.to_dict())
    back, tok2 = load_causal_lm(path)
    assert isinstance(back, GPT) and len(tok2) == len(tok)
    assert back.embedding is back.transformer.wte
    assert "embedding.weight" not in back.state_dict()        # a view, not a second module
    bad = _tiny(vocab_size=len(tok) + 1)
    models.save_checkpoint(bad, tmp_path / "bad.safetensors", tokenizer=tok.to_dict())
    with pytest.raises(models.CheckpointError, match="vocabulary size mismatch"):
        load_causal_lm(tmp_path / "bad.safetensors")
