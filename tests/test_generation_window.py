"""Generation past the context window: a sliding window over the last block_size tokens.

* greedy and seeded sampling with the KV cache (cached steps while the context fits, the
  window re-read once it is full) give exactly the tokens of the no-cache reference that
  at every step feeds the last ``block_size`` tokens from scratch (nanoGPT's loop),
  for hypothesis-drawn prompt lengths and models;
* ``crop_prompt``: a prompt longer than block_size raises unless asked to keep its end;
* ``generate_text`` and ``neurona generate`` give more than block_size tokens.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import neurona
from neurona.models import save_checkpoint
from neurona.models.generation import generate, generate_text, sample_next
from neurona.models.gpt import GPT
from neurona.text import CharTokenizer

BLOCK = 8
CHARS = "abcdefghij \n"


def _tiny_gpt(seed=0, vocab=len(CHARS), n_layer=2, n_head=2, n_embd=16, scale=4.0):
    """A random GPT with block_size 8 whose weights are scaled up, so its greedy output
    is not one token repeated (a 0.02-init model scores nearly uniformly)."""
    neurona.manual_seed(seed)
    model = GPT(vocab_size=vocab, block_size=BLOCK, n_layer=n_layer, n_head=n_head,
                n_embd=n_embd).eval()
    for name, p in model.named_parameters():
        if name.endswith("weight") and ".ln_" not in name and "ln_f" not in name:
            p.data[...] = p.data * scale
    return model


class _Recorder(neurona.nn.Module):
    """The model, recording the last position's scores of every call generate makes."""

    def __init__(self, model):
        super().__init__()
        self.model, self.max_length, self.scores, self.lengths = model, model.max_length, [], []

    def forward(self, ids, state=None):
        logits, state = self.model(ids, state)
        self.scores.append(logits[0, -1].numpy().copy())
        self.lengths.append(ids.shape[1])
        return logits, state


def _window_reference(model, prompt, n_new, choose, scores=None):
    """nanoGPT's loop, no cache: each step reads the last block_size tokens from scratch
    and ``choose`` picks the next token from the last position's scores (appended to
    ``scores`` when given)."""
    seq = list(prompt)
    with neurona.no_grad():
        for _ in range(n_new):
            logits, _ = model(neurona.tensor([seq[-BLOCK:]]), None)
            z = logits[0, -1].numpy()
            if scores is not None:
                scores.append(z.copy())
            seq.append(choose(z))
    return seq[len(prompt):]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 50), prompt_len=st.integers(1, BLOCK),
       n_layer=st.integers(1, 2), n_head=st.sampled_from([1, 2, 4]))
def test_greedy_past_block_size_equals_the_window_reference(seed, prompt_len, n_layer,
                                                              n_head):
    model = _tiny_gpt(seed, n_layer=n_layer, n_head=n_head)
    prompt = list(np.random.default_rng(seed).integers(0, len(CHARS), prompt_len))
    rec = _Recorder(model)
    got = generate(rec, prompt, 30, greedy=True)
    ref_scores = []
    ref = _window_reference(model, prompt, 30, lambda z: int(np.argmax(z)), ref_scores)
    assert len(got) == 30 and got == ref
    # every step's scores, not only their argmax (greedy output of a random model is
    # often one token repeated): cached steps and window re-reads both match
    assert len(rec.scores) == 30
    np.testing.assert_allclose(np.stack(rec.scores), np.stack(ref_scores), rtol=1e-4,
                               atol=1e-4)
    # the prompt once, one-token cached steps until 8 tokens are read, then windows of 8
    n_cached = BLOCK - prompt_len
    assert rec.lengths == [prompt_len] + [1] * n_cached + [BLOCK] * (29 - n_cached)


def test_sampling_past_block_size_equals_the_window_reference():
    model = _tiny_gpt(seed=3, scale=2.0)
    prompt = [1, 2, 3]
    got = generate(model, prompt, 30, temperature=1.0, top_k=6, top_p=0.95, seed=11)
    rng = np.random.default_rng(11)
    ref = _window_reference(model, prompt, 30, lambda z: sample_next(z, 1.0, 6, 0.95, rng))
    assert got == ref and len(set(got)) > 2


def test_the_window_matters():
    """A generator that kept reading the whole prefix would give other scores: the same
    weights with a longer position table (block_size 40, positions >= 8 reuse the last
    one) agree while the context fits and differ once it slides."""
    model = _tiny_gpt(seed=5)
    prompt = [0, 1, 2, 3]
    wide = GPT(vocab_size=len(CHARS), block_size=40, n_layer=2, n_head=2, n_embd=16).eval()
    sd = dict(model.state_dict())
    wpe = np.empty((40, 16), np.float32)
    wpe[:BLOCK] = sd["transformer.wpe.weight"].numpy()
    wpe[BLOCK:] = wpe[BLOCK - 1]
    sd["transformer.wpe.weight"] = wpe
    wide.load_state_dict(sd)
    a, b = _Recorder(model), _Recorder(wide)
    ta = generate(a, prompt, 30, temperature=1.0, seed=4)
    tb = generate(b, prompt, 30, temperature=1.0, seed=4)
    fits = BLOCK - len(prompt) + 1                 # steps that read <= 8 tokens
    np.testing.assert_allclose(np.stack(a.scores[:fits]), np.stack(b.scores[:fits]),
                               rtol=1e-5, atol=1e-5)
    assert ta[:fits] == tb[:fits]
    later = np.abs(np.stack(a.scores[fits:]) - np.stack(b.scores[fits:])).max(axis=1)
    assert later.min() > 1e-3, later              # every windowed step differs


def test_a_long_prompt_raises_unless_cropped():
    model = _tiny_gpt(seed=1)
    prompt = list(range(10)) + [1, 2]                              # 12 > block_size 8
    with pytest.raises(ValueError, match=r"12 tokens.*max_length=8.*crop_prompt=True"):
        generate(model, prompt, 5, greedy=True)
    got = generate(model, prompt, 12, greedy=True, crop_prompt=True)
    assert got == generate(model, prompt[-BLOCK:], 12, greedy=True)
    assert got == _window_reference(model, prompt, 12, lambda z: int(np.argmax(z)))


def test_generate_text_and_the_cli_go_past_block_size(tmp_path, capsys):
    model, tok = _tiny_gpt(seed=2), CharTokenizer.from_vocab(CHARS)
    text = generate_text(model, tok, "abc", 25, greedy=True)
    assert len(text) == 25 > BLOCK
    assert text == tok.decode(_window_reference(model, tok.encode("abc"), 25,
                                                lambda z: int(np.argmax(z))))
    path = tmp_path / "gpt.safetensors"
    save_checkpoint(model, path, tokenizer=tok.to_dict())
    from neurona.cli import main
    assert main(["generate", str(path), "--prompt", "abc", "--greedy",
                 "--max-new-tokens", "25"]) == 0
    assert capsys.readouterr().out == "abc" + text + "\n"
    long = "abcdefghij"                                           # 10 > 8 characters
    assert main(["generate", str(path), "--prompt", long, "--max-new-tokens", "5"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""                                   # nothing half-printed
    assert re.search(r"10 tokens.*max_length=8.*--crop-prompt", captured.err)
    assert main(["generate", str(path), "--prompt", long, "--greedy",
                 "--max-new-tokens", "20", "--crop-prompt"]) == 0
    out = capsys.readouterr().out
    assert out == long + generate_text(model, tok, long[-BLOCK:], 20, greedy=True) + "\n"
    assert len(out) == len(long) + 20 + 1
