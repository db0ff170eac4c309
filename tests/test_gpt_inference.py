"""The GPT's no-grad fast path (models.gpt_inference) against the autograd modules."""
import numpy as np
import pytest

import neurona as nr
from neurona import nn
from neurona.models import GPT
from neurona.models.generation import generate
from neurona.models.gpt_inference import fast_path_applies


def _model(**kw):
    nr.manual_seed(0)
    cfg = dict(vocab_size=23, block_size=24, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    m = GPT(**cfg)
    # larger weights than GPT-2's init so that the layers do something visible
    rng = np.random.default_rng(0)
    for p in m.parameters():
        if p.ndim > 1:
            p._data *= 10
        else:
            p._data += rng.normal(0, 0.1, p.shape).astype(np.float32)
    return m.eval()


def _reference(model, ids, state=None):
    """The modules' forward with grad mode on (the autograd path)."""
    assert not fast_path_applies(model)
    return model(ids, state)


@pytest.mark.parametrize("kw", [dict(), dict(activation="gelu"), dict(activation="relu"),
                                dict(bias=False, tie_weights=False)])
def test_fast_path_gives_the_modules_logits_and_cache(kw):
    model = _model(**kw)
    ids = np.random.default_rng(1).integers(0, 23, (3, 9))
    want, want_state = _reference(model, ids[:, :5])
    want2, want_state2 = _reference(model, ids[:, 5:], want_state)
    with nr.no_grad():
        assert fast_path_applies(model)
        got, state = model(ids[:, :5])
        got2, state2 = model(ids[:, 5:], state)       # a chunk of 4 after a cache of 5
    assert state2.offset == want_state2.offset == 9 and state2.buffers is not None
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(got2.numpy(), want2.detach().numpy(), rtol=1e-5, atol=2e-5)
    for (k, v), (wk, wv) in zip(state2.layers, want_state2.layers):
        assert k.shape == wk.shape == (3, 2, 9, 8)
        np.testing.assert_allclose(k.numpy(), wk.detach().numpy(), rtol=1e-5, atol=2e-5)
        np.testing.assert_allclose(v.numpy(), wv.detach().numpy(), rtol=1e-5, atol=2e-5)


def test_fast_path_state_and_autograd_state_mix():
    """A state from either path continues on the other with the same logits."""
    model = _model()
    ids = np.random.default_rng(2).integers(0, 23, (1, 12))
    with nr.no_grad():
        _, fast_state = model(ids[:, :7])
        fast_next, _ = model(ids[:, 7:], fast_state)
    slow_state = _reference(model, ids[:, :7])[1]
    slow_next, _ = _reference(model, ids[:, 7:], fast_state)       # fast state, slow path
    with nr.no_grad():
        mixed_next, _ = model(ids[:, 7:], slow_state)              # slow state, fast path
    np.testing.assert_allclose(slow_next.detach().numpy(), fast_next.numpy(), atol=2e-5)
    np.testing.assert_allclose(mixed_next.numpy(), fast_next.numpy(), atol=2e-5)


def test_reusing_an_old_state_never_changes_it():
    """Two continuations of one prompt: the second must not see the first's keys (the
    preallocated buffer is copied when a state is reused)."""
    model = _model()
    with nr.no_grad():
        _, s = model(np.array([[1, 2, 3]]))
        a, s_a = model(np.array([[4]]), s)
        k_a = s_a.layers[0][0].numpy().copy()
        b, s_b = model(np.array([[5]]), s)                 # branch from the same state
        a_again, _ = model(np.array([[4]]), s)
        assert s_b.buffers is not s_a.buffers
    np.testing.assert_array_equal(s_a.layers[0][0].numpy(), k_a)   # untouched by branch b
    np.testing.assert_array_equal(a.numpy(), a_again.numpy())
    assert not np.allclose(a.numpy(), b.numpy())
    ref_b, _ = _reference(model, np.array([[1, 2, 3, 5]]))
    np.testing.assert_allclose(b.numpy()[0, -1], ref_b.detach().numpy()[0, -1], atol=2e-5)


def test_generation_gives_the_same_tokens_on_both_paths():
    model = _model(block_size=64)
    prompt = [3, 1, 4, 1, 5]
    fast = generate(model, prompt, 40, greedy=True)
    assert len(fast) == 40

    class Slow(nn.Module):          # the same model behind a wrapper: no fast path
        def __init__(self, m):
            super().__init__()
            self.m = m
            self.max_length = m.max_length

        def forward(self, ids, state=None):
            with nr.enable_grad():
                logits, st = self.m(ids, state)
            return logits.detach(), st

    assert generate(Slow(model), prompt, 40, greedy=True) == fast
    sampled = generate(model, prompt, 30, temperature=1.0, top_k=5, seed=3)
    assert generate(Slow(model), prompt, 30, temperature=1.0, top_k=5, seed=3) == sampled


def test_fast_path_is_skipped_when_it_would_differ():
    from neurona.models.attention_maps import record_attention
    from neurona.nn import apply_lora
    model = _model()
    with nr.no_grad():
        assert fast_path_applies(model)
        model.train()                  # dropout 0: still the same formulas
        assert fast_path_applies(model)
        dropout_model = _model(dropout=0.1).train()
        assert not fast_path_applies(dropout_model)
        with record_attention() as maps:
            model(np.array([[1, 2, 3]]))
        assert len(maps) == 2          # recorded through the modules
        handle = model.transformer.h[0].register_forward_hook(lambda m, i, o: None)
        assert not fast_path_applies(model)
        handle.remove()
        apply_lora(model, target_names=("c_attn",), r=2)
        assert not fast_path_applies(model)
    assert not fast_path_applies(_model())       # grad mode on
