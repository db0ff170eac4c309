"""The Transformer benchmark workloads (bench/workloads.py): each side runs, and where the
computation is deterministic both libraries give the same result from the same weights."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

torch = pytest.importorskip("torch")

from bench import workloads as W                                       # noqa: E402
from bench.transformer_twins import TorchGPT, torch_generate_greedy   # noqa: E402

import neurona as nr                                                   # noqa: E402
from neurona.models import GPT                                         # noqa: E402
from neurona.models.generation import generate                         # noqa: E402


def _workload(name):
    (w,) = [w for w in W.WORKLOADS if w.name == name]
    return w


def test_new_workloads_are_registered_with_descriptions():
    for name in ("GPT train step", "GPT generate 200 (KV cache)", "MiniLM embed 64"):
        assert _workload(name).description


def test_gpt_train_step_runs_and_both_sides_update_the_same_way():
    model, twin = W._gpt_pair()
    x = np.random.default_rng(0).integers(0, 65, (2, 16))
    logits_nr = model(nr.tensor(x))[0].detach().numpy()
    logits_t = twin(torch.tensor(x))[0].detach().numpy()
    np.testing.assert_allclose(logits_nr, logits_t, atol=1e-5, rtol=1e-4)
    step_nr, step_t = _workload("GPT train step").setup()
    step_nr()
    step_t()


def test_torch_twin_kv_cache_matches_a_full_reread():
    _, twin = W._gpt_pair()
    ids = torch.tensor(np.random.default_rng(3).integers(0, 65, (2, 12)))
    full, _ = twin(ids)
    a, past = twin(ids[:, :5])
    b, past = twin(ids[:, 5:9], past)                       # a chunk after the cache
    c, _ = twin(ids[:, 9:10], past)                         # one token
    torch.testing.assert_close(torch.cat([a, b, c], 1), full[:, :10], atol=1e-5, rtol=1e-4)


def test_greedy_generation_gives_the_same_tokens_in_both_libraries():
    # the bench model is untrained (near-uniform logits, a constant output); weights with a
    # larger spread make the greedy tokens vary, so agreement means something
    nr.manual_seed(1)
    model = GPT(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=32)
    for i, p in enumerate(model.parameters()):
        p.data = np.random.default_rng(i).normal(0, 1.0, p.shape).astype(np.float32)
    twin = TorchGPT.twin_of(model)
    prompt = [5, 17, 3, 40, 8]
    ours = generate(model, prompt, 30, greedy=True)
    theirs = torch_generate_greedy(twin, prompt, 30)
    assert len(set(ours)) > 3, "the test model should not repeat one token"
    assert ours == theirs


def test_gpt_generate_workload_agrees():
    step_nr, step_t = _workload("GPT generate 200 (KV cache)").setup()
    ours, theirs = step_nr(), step_t()
    assert len(ours) == W.GEN_NEW_TOKENS
    assert ours == theirs


def test_minilm_embed_workload_agrees():
    sentences = W.minilm_sentences()
    assert len(sentences) == 64 and len(set(sentences)) == 64
    step_nr, step_t = _workload("MiniLM embed 64").setup()
    ours, theirs = step_nr(), step_t()
    assert ours.shape == theirs.shape == (64, 384)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
