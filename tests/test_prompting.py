"""Attention maps (recorded weights vs transformers' output_attentions), few-shot prompting
of a tiny GPT, load_causal_lm on GPT-2 folders, and the embedding helpers."""
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import neurona
from neurona import models
from neurona.models import GPT, pretrained
from neurona.models.attention_maps import (AttentionMaps, attention_maps, plot_attention,
                                           plot_attention_heads, record_attention)
from neurona.models.generation import load_causal_lm
from neurona.models.prompting import complete, embed_sentences, few_shot_prompt, nearest
from neurona.text import CharTokenizer

import transformers            # noqa: E402 - a test dependency: missing fails, never skips
from hypothesis import given, settings, strategies as st

SENTENCE = "The cat sat on the mat because it was tired."


@pytest.fixture(scope="module")
def minilm():
    return pretrained.from_pretrained(pretrained.minilm_path())


# ---------------------------------------------------------------------------- attention maps
def test_bert_attention_matches_transformers(minilm, tmp_path):
    model, tok = minilm
    maps = attention_maps(model, tok, SENTENCE)
    assert maps.tokens[0] == "[CLS]" and maps.tokens[-1] == "[SEP]" and "cat" in maps.tokens
    T = len(maps.tokens)
    assert maps.weights.shape == (6, 12, T, T)
    np.testing.assert_allclose(maps.weights.sum(-1), 1.0, atol=1e-5)
    hf = transformers.AutoModel.from_pretrained(str(pretrained.minilm_path()),
                                                attn_implementation="eager").eval()
    with torch.no_grad():
        out = hf(torch.tensor([tok.encode(SENTENCE)]), output_attentions=True)
    ref = np.stack([a[0].numpy() for a in out.attentions])
    assert np.abs(ref - maps.weights).max() < 1e-4
    assert np.array_equal(maps.head(2, 3), maps.weights[2, 3])
    with pytest.raises(IndexError, match="6 layers"):
        maps.head(6, 0)
    with pytest.raises(IndexError, match="12 heads"):
        maps.head(0, 12)
    # plotting: one head, and the grid of a layer's heads
    p = plot_attention(maps.head(0, 0), maps.tokens, maps.tokens, tmp_path / "h.png", "L0 H0")
    g = plot_attention_heads(maps.weights[0], maps.tokens, tmp_path / "grid.png", "layer 0")
    assert p.stat().st_size > 1000 and g.stat().st_size > 1000
    with pytest.raises(ValueError, match=r"\(L, S\)"):
        plot_attention(maps.head(0, 0), maps.tokens[:-1], maps.tokens, tmp_path / "x.png")


def test_recording_changes_nothing_and_gpt_is_causal():
    neurona.manual_seed(0)
    model = GPT(11, block_size=16, n_layer=2, n_head=2, n_embd=8).eval()
    ids = neurona.tensor([[1, 2, 3, 4, 5]])
    plain, _ = model(ids)
    plain.square().sum().backward()
    g = model.transformer.h[0].attn.c_attn.weight.grad.numpy().copy()
    model.zero_grad()
    with record_attention() as maps:
        rec, _ = model(ids)
    rec.square().sum().backward()              # the gradients are unchanged too
    assert np.array_equal(model.transformer.h[0].attn.c_attn.weight.grad.numpy(), g)
    with neurona.no_grad():
        after, _ = model(ids)
    plain, rec = plain.detach(), rec.detach()
    assert np.array_equal(plain.numpy(), rec.numpy())
    assert len(maps) == 2 and maps[0].shape == (1, 2, 5, 5)
    w = maps[1][0, 1]
    assert np.allclose(np.triu(w, 1), 0) and np.allclose(w.sum(-1), 1, atol=1e-6)
    # outside the block nothing is recorded and the function is the original again
    assert len(maps) == 2
    from neurona.nn import functional as F
    from neurona.ops.attention import scaled_dot_product_attention
    assert F.scaled_dot_product_attention is scaled_dot_product_attention
    # (no_grad runs GPT's array fast path: the same formulas, rounded differently)
    np.testing.assert_allclose(after.numpy(), plain.numpy(), rtol=1e-5, atol=1e-6)
    # against the formula P = softmax(QK^T/sqrt(d_k) + M) from the first layer's weights
    blk = model.transformer.h[0]
    with neurona.no_grad():
        x = blk.ln_1(model.transformer.wte(ids) + model.transformer.wpe(neurona.arange(5)))
        q, k, _ = blk.attn.c_attn(x).split(8, dim=2)
    q, k = (z.view(1, 5, 2, 4).transpose(1, 2).numpy() for z in (q, k))
    s = q @ k.swapaxes(-1, -2) / 2.0 + np.where(np.tri(5, dtype=bool), 0, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    assert np.abs(p[0] - maps[0][0]).max() < 1e-5
    tok = CharTokenizer().fit("abcdefghijk")
    am = attention_maps(model, tok, "abcde")
    assert isinstance(am, AttentionMaps) and am.tokens == list("abcde")
    assert am.weights.shape == (2, 2, 5, 5)


@settings(max_examples=5, deadline=None)
@given(n_layer=st.integers(1, 2), n_head=st.integers(1, 3), d_k=st.integers(1, 4),
       t=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_gpt2_folder_attention_matches_transformers(n_layer, n_head, d_k, t, seed):
    """Recorded GPT weights == transformers' GPT-2 output_attentions (a folder path in)."""
    torch.manual_seed(seed)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=n_layer, n_head=n_head, n_embd=n_head * d_k, n_positions=16, vocab_size=20,
        attn_implementation="eager")).eval()
    tok = CharTokenizer().fit("abcdefghijklmnopqrst")
    sentence = "".join(np.random.default_rng(seed).choice(list("abcdefghijklmnopqrst"), t))
    with tempfile.TemporaryDirectory() as d:
        hf.save_pretrained(Path(d), safe_serialization=True)
        maps = attention_maps(Path(d), tok, sentence)
    with torch.no_grad():
        out = hf(torch.tensor([tok.encode(sentence)]), output_attentions=True)
    ref = np.stack([a[0].numpy() for a in out.attentions])
    assert maps.weights.shape == (n_layer, n_head, t, t)
    assert np.abs(ref - maps.weights).max() < 1e-5


# ---------------------------------------------------------------------------- prompting
def test_few_shot_prompt_format():
    p = few_shot_prompt([("cat", "chat"), ("dog", "chien")], "bird")
    assert p == "Input: cat\nOutput: chat\n\nInput: dog\nOutput: chien\n\nInput: bird\nOutput: "
    assert few_shot_prompt([], "x", "{x}={y};") == "x="
    with pytest.raises(ValueError, match=r"\{y\}"):
        few_shot_prompt([], "x", "{x} ->")
    with pytest.raises(ValueError, match="pair"):
        few_shot_prompt([("a", "b", "c")], "x")


LETTERS = "abcdefgh"


def _templated_text(rng, n):
    """n examples 'x>X\\n' (a letter, then its capital): the pattern a prompt shows."""
    xs = rng.choice(list(LETTERS), n)
    return "".join(f"{x}>{x.upper()}\n" for x in xs)


@pytest.fixture(scope="module")
def tiny_gpt():
    """A tiny GPT trained for a few seconds on the templated text."""
    neurona.manual_seed(0)
    rng = np.random.default_rng(0)
    tok = CharTokenizer().fit(LETTERS + LETTERS.upper() + ">\n")
    model = GPT(len(tok), block_size=32, n_layer=1, n_head=2, n_embd=32)
    opt = neurona.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        batch = np.array([tok.encode(_templated_text(rng, 9))[:33] for _ in range(16)])
        logits, _ = model(neurona.tensor(batch[:, :-1]))
        loss = neurona.nn.functional.cross_entropy(logits.reshape(-1, len(tok)),
                                                   neurona.tensor(batch[:, 1:].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tok, loss.item()


def test_tiny_gpt_completes_a_few_shot_pattern(tiny_gpt):
    model, tok, loss = tiny_gpt
    assert loss < 0.6, loss      # floor: the random next letter, ln 8 / 4 ~ 0.52 per char
    shots = [("a", "A"), ("f", "F"), ("c", "C")]
    for q in "bdegh":
        prompt = few_shot_prompt(shots, q, template="{x}>{y}\n")
        assert prompt.endswith(f"{q}>")
        out = io.StringIO()
        assert complete(model, tok, prompt, 5, stop="\n", stream=out) == q.upper()
        assert out.getvalue() == q.upper()


def test_prompt_longer_than_context(tiny_gpt):
    model, tok, _ = tiny_gpt
    prompt = few_shot_prompt([(x, x.upper()) for x in LETTERS * 2], "a", template="{x}>{y}\n")
    assert len(prompt) > model.max_length
    with pytest.raises(ValueError, match="max_length=32"):
        complete(model, tok, prompt)


# ---------------------------------------------------------------------------- GPT-2 folders
def test_load_causal_lm_reads_gpt2_folders(tmp_path):
    from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers, trainers
    tok = Tokenizer(tmodels.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["the cat sat on the mat"] * 5, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=16, n_positions=32, vocab_size=tok.get_vocab_size())).eval()
    folder = tmp_path / "gpt2"
    hf.save_pretrained(folder, safe_serialization=True)
    with pytest.raises(models.CheckpointError, match="no tokenizer"):
        load_causal_lm(folder)
    tok.save(str(folder / "tokenizer.json"))
    model, tokenizer = load_causal_lm(folder)
    assert isinstance(model, GPT) and model.max_length == 32
    ids = tokenizer.encode("the cat")
    with torch.no_grad():
        ref = hf(torch.tensor([ids])).logits.numpy()
    with neurona.no_grad():
        ours = model(neurona.tensor([ids]))[0].numpy()
    assert np.abs(ours - ref).max() < 1e-4
    text = complete(model, tokenizer, "the cat", 4, stop=None)
    assert isinstance(text, str)
    with pytest.raises(ValueError, match="max_length=32"):
        complete(model, tokenizer, "the cat sat on the mat " * 10)
    # other folders: a clear error
    with pytest.raises(models.CheckpointError, match="model_type 'bert'"):
        load_causal_lm(pretrained.minilm_path())
    with pytest.raises(models.CheckpointError, match="no config.json"):
        load_causal_lm(tmp_path)


# ---------------------------------------------------------------------------- embeddings
def test_embed_and_nearest(minilm):
    model, tok = minilm
    E = embed_sentences(None, ["A man is eating food.", "A man rides a horse."])
    assert E.shape == (2, 384) and np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
    ref = pretrained.SentenceEncoder(model, tok).encode(["A man is eating food."])
    assert np.abs(E[0] - ref[0]).max() < 1e-5
    corpus = list(pretrained.DEMO_CORPUS)
    hits = nearest(None, "Someone is eating a meal.", corpus, k=2)
    assert [h[0] for h in hits] == ["A man is eating food.", "A man is eating a piece of bread."]
    assert hits[0][1] >= hits[1][1] > 0.3
    with pytest.raises(ValueError, match="empty"):
        nearest(None, "x", [], 1)
