"""neurona.models.generation: greedy / temperature / top-k / top-p sampling, the state
carried between steps, stop sequences and strings, streaming, prompts and checkpoints.
All on tiny seeded models (fast)."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import neurona as nt
from neurona.models import CheckpointError, RNNLanguageModel, save_checkpoint
from neurona.models.generation import (generate, generate_text, load_causal_lm, sample_next,
                                       softmax, top_k_filter, top_p_filter)
from neurona.text import CharTokenizer

V = 11
CHARS = list("abcdefgh .\n")          # 11 characters, ids 0..10


def tiny_lm(cell="lstm", seed=0, dropout=0.0, num_layers=2):
    nt.manual_seed(seed)
    model = RNNLanguageModel(V, embedding_dim=8, hidden_size=16, num_layers=num_layers,
                             dropout=dropout, cell=cell)
    # larger weights than the initialisation's, so the outputs depend strongly on the
    # input and the next-token distributions are far from uniform
    for name, p in model.named_parameters():
        scale = 20 if name.startswith("embedding") else 8 if name.startswith("decoder") else 3
        p.data[...] = p.data * scale
    return model


def full_prefix_logits(model, ids) -> np.ndarray:
    """The last position's scores after reading ``ids`` from scratch (no carried state)."""
    with nt.no_grad():
        logits, _ = model(nt.tensor([ids]), None)
    return logits[0, -1].numpy()


class FixedLM(nt.nn.Module):
    """A 'model' whose next-token scores are always ``scores`` (follows the protocol)."""
    max_length = None

    def __init__(self, scores, max_length=None):
        super().__init__()
        self.scores = np.asarray(scores, dtype=np.float32)
        self.max_length = max_length
        self.calls = []

    def forward(self, ids, state=None):
        n, t = ids.shape
        self.calls.append(t)
        return nt.tensor(np.broadcast_to(self.scores, (n, t, self.scores.size)).copy()), state


# ---------------------------------------------------------------------------- the state
@pytest.mark.parametrize("cell, seed", [("lstm", 1), ("gru", 0), ("rnn", 0)])
def test_greedy_with_state_equals_rereading_the_prefix(cell, seed):
    model = tiny_lm(cell, seed)
    prompt = [1, 4, 2]
    got = generate(model, prompt, 25, greedy=True)
    seq = list(prompt)
    for _ in range(25):
        seq.append(int(np.argmax(full_prefix_logits(model, seq))))
    assert got == seq[len(prompt):]
    assert len(set(got)) > 1               # not a degenerate constant sequence


def test_sampling_with_state_equals_rereading_the_prefix():
    model = tiny_lm("lstm", seed=3)
    prompt = [0, 5]
    got = generate(model, prompt, 30, temperature=1.0, top_k=6, top_p=0.95, seed=11)
    rng, seq = np.random.default_rng(11), list(prompt)
    for _ in range(30):
        seq.append(sample_next(full_prefix_logits(model, seq), 1.0, 6, 0.95, rng))
    assert got == seq[len(prompt):]


def test_each_new_token_costs_one_step():
    model = FixedLM(np.arange(V))
    generate(model, [1, 2, 3, 4], 6, greedy=True)
    assert model.calls == [4, 1, 1, 1, 1, 1]     # the prompt once, then one token a step


# ---------------------------------------------------------------------------- reproducible
def test_same_seed_same_tokens_and_other_seed_differs():
    model = tiny_lm()
    a = generate(model, [2], 40, seed=7)
    assert a == generate(model, [2], 40, seed=7)
    assert a != generate(model, [2], 40, seed=8)


def test_manual_seed_makes_default_generator_runs_repeat():
    model = tiny_lm()
    nt.manual_seed(5)
    a = generate(model, [2], 30)
    nt.manual_seed(5)
    assert a == generate(model, [2], 30)
    g = nt.Generator().manual_seed(9)
    b = generate(model, [2], 30, generator=g)
    assert b == generate(model, [2], 30, generator=nt.Generator().manual_seed(9))


def test_eval_mode_during_generation_and_mode_restored():
    model = tiny_lm(dropout=0.5)
    model.train()
    a = generate(model, [1, 2], 20, greedy=True)
    assert model.training                       # restored
    assert a == generate(model, [1, 2], 20, greedy=True)   # dropout was off
    model.eval()
    generate(model, [1], 3, greedy=True)
    assert not model.training


# ---------------------------------------------------------------------------- temperature
def test_temperature_zero_and_tiny_temperature_are_greedy():
    model = tiny_lm(seed=1)
    greedy = generate(model, [3, 1], 30, greedy=True)
    assert generate(model, [3, 1], 30, temperature=0) == greedy
    assert generate(model, [3, 1], 30, temperature=1e-4, seed=0) == greedy
    assert generate(model, [3, 1], 30, temperature=1.5, seed=0) != greedy


def test_temperature_sharpens_and_flattens_the_distribution():
    z = np.array([2.0, 1.0, 0.0, -1.0])
    rng = np.random.default_rng(0)
    share = {t: np.mean([sample_next(z, t, rng=rng) == 0 for _ in range(3000)])
             for t in (0.3, 1.0, 3.0)}
    assert abs(share[1.0] - softmax(z)[0]) < 0.03
    assert share[0.3] > share[1.0] + 0.2 > share[3.0] + 0.2


# ---------------------------------------------------------------------------- top-k / top-p
def test_top_k_filter_keeps_the_k_best():
    z = np.array([0.1, 3.0, -2.0, 2.5, 1.0, 0.0])
    kept = np.isfinite(top_k_filter(z, 3))
    assert kept.tolist() == [False, True, False, True, True, False]
    assert np.isfinite(top_k_filter(z, 10)).all()
    assert np.isfinite(top_k_filter(z, 1)).sum() == 1


def test_top_k_never_samples_outside_the_k_best():
    z = np.random.default_rng(1).normal(size=20)
    best3 = set(np.argsort(-z)[:3].tolist())
    rng = np.random.default_rng(2)
    seen = {sample_next(z, 2.0, top_k=3, rng=rng) for _ in range(1500)}
    assert seen == best3                     # only the 3 best, and each of them
    model = FixedLM(z)
    assert set(generate(model, [0], 300, top_k=3, temperature=3.0, seed=0)) <= best3


def test_top_p_keeps_the_smallest_set_with_enough_mass():
    z = np.log([0.5, 0.05, 0.3, 0.15])      # sorted: 0 (.5), 2 (.3), 3 (.15), 1 (.05)
    kept = lambda p: set(np.flatnonzero(np.isfinite(top_p_filter(z, p))).tolist())
    assert kept(0.3) == {0}
    assert kept(0.75) == {0, 2}
    assert kept(0.85) == {0, 2, 3}
    assert kept(0.99) == {0, 1, 2, 3}
    assert kept(1.0) == {0, 1, 2, 3}
    rng = np.random.default_rng(0)
    draws = [sample_next(z, 1.0, top_p=0.75, rng=rng) for _ in range(2000)]
    assert set(draws) == {0, 2}
    assert abs(np.mean(np.array(draws) == 0) - 0.5 / 0.8) < 0.04   # renormalised


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=12), st.floats(0.01, 0.999))
def test_top_p_property(scores, p):
    z = np.array(scores)
    probs = softmax(z)
    kept = np.isfinite(top_p_filter(z, p))
    mass = probs[kept].sum()
    assert mass >= p - 1e-9
    # minimal: dropping the least probable kept token leaves less than p
    assert mass - probs[kept].min() < p + 1e-9
    # a nucleus: everything kept is at least as probable as everything dropped
    if (~kept).any():
        assert probs[kept].min() >= probs[~kept].max() - 1e-12


def test_bad_sampling_arguments_are_errors():
    z = np.zeros(4)
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(z, 0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(z, 0.0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(z, 1.5)
    with pytest.raises(ValueError, match="temperature"):
        sample_next(z, -1.0)
    with pytest.raises(ValueError, match="empty"):
        generate(tiny_lm(), [], 3)
    with pytest.raises(ValueError, match="seed or generator"):
        generate(tiny_lm(), [1], 3, seed=1, generator=np.random.default_rng(1))


# ---------------------------------------------------------------------------- stopping
def test_stop_token_sequences_stop_and_are_included():
    model = tiny_lm(seed=1)
    full = generate(model, [1], 40, greedy=True)
    pairs = [full[i:i + 2] for i in range(len(full) - 1)]
    first = next(k for k in range(3, len(pairs)) if pairs.index(pairs[k]) == k)
    got = generate(model, [1], 40, greedy=True, stop=[pairs[first], [99, 98]])
    assert got == full[:first + 2]
    assert generate(model, [1], 40, greedy=True, stop=[[full[0]]]) == full[:1]
    seen = []
    generate(model, [1], 40, greedy=True, on_token=lambda t: seen.append(t) or len(seen) == 4)
    assert seen == full[:4]                  # on_token returning True stops


def chars_tokenizer():
    return CharTokenizer.from_vocab(CHARS)


def test_stop_strings_cut_the_text_and_are_never_streamed():
    model, tok = tiny_lm(seed=1), chars_tokenizer()
    full = generate_text(model, tok, "ab", 60, greedy=True)
    assert len(full) == 60
    # a two-character stop string that first appears at least 5 characters in
    at = next(k for k in range(5, 58) if full.index(full[k:k + 2]) == k)
    stop = full[at:at + 2]
    pieces = []
    got = generate_text(model, tok, "ab", 60, greedy=True, stop=["zz", stop], stream=pieces.append)
    assert got == full[:at]
    assert "".join(pieces) == got
    buf = io.StringIO()
    assert generate_text(model, tok, "ab", 60, greedy=True, stop=stop, stream=buf) == got
    assert buf.getvalue() == got


def test_text_streams_token_by_token_and_matches_generate():
    model, tok = tiny_lm(seed=5), chars_tokenizer()
    pieces = []
    text = generate_text(model, tok, "he", 25, temperature=0.8, seed=3, stream=pieces.append)
    assert len(pieces) == 25 and all(len(p) == 1 for p in pieces)
    assert text == "".join(pieces)
    assert tok.encode(text) == generate(model, tok.encode("he"), 25, temperature=0.8, seed=3)


# ---------------------------------------------------------------------------- prompts
def test_unknown_character_in_prompt_names_it_and_its_position():
    with pytest.raises(ValueError, match=r"'Z'.*position 3"):
        generate_text(tiny_lm(), chars_tokenizer(), "abcZ", 5)


def test_empty_prompt_needs_a_start_token():
    with pytest.raises(ValueError, match="empty.*no start token"):
        generate_text(tiny_lm(), chars_tokenizer(), "", 5)
    tok = CharTokenizer.from_vocab(["<bos>"] + CHARS[:-1])      # still 11 ids
    model = tiny_lm()
    text = generate_text(model, tok, "", 8, greedy=True)       # starts from <bos> (id 0)
    assert text == tok.decode(generate(model, [0], 8, greedy=True))
    assert len(text) >= 8


def test_empty_prompt_of_a_word_model_starts_after_an_eos():
    """PTB marks only sentence ends: with no <bos>, an empty prompt starts from <eos>."""
    from neurona.models.generation import start_token_id
    from neurona.text import Vocab, WordTokenizer
    tok = WordTokenizer(pattern=r"\S+", vocab=Vocab(["<unk>", "<eos>"] + list("abcdefghi"),
                                                      specials=["<unk>", "<eos>"]))
    assert start_token_id(tok) == tok.vocab["<eos>"]
    model = tiny_lm()
    text = generate_text(model, tok, "", 6, greedy=True)
    assert text.split() == tok.decode(generate(model, [1], 6, greedy=True)).split()


def test_max_length_limits_the_prompt_and_the_window_slides():
    model = FixedLM(np.arange(V), max_length=5)
    with pytest.raises(ValueError, match="max_length=5.*crop_prompt=True"):
        generate(model, [1] * 6, 3)
    assert generate(model, [1] * 6, 2, greedy=True, crop_prompt=True) == [V - 1] * 2
    assert model.calls == [5, 5]           # the prompt's last 5 tokens, then the window
    model.calls.clear()
    got = generate(model, [1, 2, 3], 10, greedy=True)  # past max_length: a sliding window
    assert got == [V - 1] * 10
    # prompt (3), then cached steps to 5 tokens, then the last 5 tokens re-read each step
    assert model.calls == [3, 1, 1] + [5] * 7


# ---------------------------------------------------------------------------- checkpoints
def test_load_causal_lm_round_trip_and_errors(tmp_path):
    model, tok = tiny_lm(seed=6), chars_tokenizer()
    path = tmp_path / "lm.safetensors"
    save_checkpoint(model, path, tokenizer=tok.to_dict())
    loaded, tok2 = load_causal_lm(path)
    assert tok2.itos == tok.itos
    assert (generate_text(loaded, tok2, "a", 20, greedy=True)
            == generate_text(model, tok, "a", 20, greedy=True))

    save_checkpoint(model, tmp_path / "bare.safetensors")
    with pytest.raises(CheckpointError, match="no tokenizer"):
        load_causal_lm(tmp_path / "bare.safetensors")
    small = CharTokenizer.from_vocab(CHARS[:5])
    save_checkpoint(model, tmp_path / "wrong.safetensors", tokenizer=small.to_dict())
    with pytest.raises(CheckpointError, match="5 tokens .* 11 embedding rows"):
        load_causal_lm(tmp_path / "wrong.safetensors")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_causal_lm(tmp_path / "missing.safetensors")
