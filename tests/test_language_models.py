"""Word-level language models: Bengio's NLM (vs a PyTorch twin), the perplexity function,
and short real-data runs of the PTB recipe (neurona.recipes.language_model)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurona as nr
from neurona import models, nn
from neurona.recipes import language_model as lm
from neurona.text import tokenizer_from_dict
from conftest import shared_data_dir
from helpers import assert_same_grads


class TorchBengio(torch.nn.Module):
    """y = b + W x + U tanh(d + H x), x = the window's embeddings concatenated."""

    def __init__(self, V, k, m, h, direct):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, m)
        self.hidden = torch.nn.Linear(k * m, h)
        self.output = torch.nn.Linear(h, V)
        self.direct = torch.nn.Linear(k * m, V, bias=False) if direct else None

    def forward(self, context):
        x = self.embedding(context).reshape(context.shape[0], -1)
        y = self.output(torch.tanh(self.hidden(x)))
        return y + self.direct(x) if self.direct is not None else y


@pytest.mark.parametrize("direct", [False, True])
def test_bengio_logits_and_gradients_match_torch(direct):
    nr.manual_seed(0)
    V, k, m, h = 50, 3, 8, 16
    model = models.BengioNLM(V, k, m, h, direct=direct)
    twin = TorchBengio(V, k, m, h, direct)
    twin.load_state_dict({n: torch.tensor(v.numpy()) for n, v in model.state_dict().items()})
    rng = np.random.default_rng(0)
    ctx, y = rng.integers(0, V, (6, k)), rng.integers(0, V, 6)
    logits = model(nr.tensor(ctx))
    tl = twin(torch.tensor(ctx))
    assert logits.shape == (6, V)
    np.testing.assert_allclose(logits.detach().numpy(), tl.detach().numpy(), atol=1e-5)
    nn.functional.cross_entropy(logits, nr.tensor(y)).backward()
    torch.nn.functional.cross_entropy(tl, torch.tensor(y)).backward()
    assert_same_grads(model, twin, atol=1e-5)


def test_bengio_causal_call_slides_the_window_and_carries_the_last_words():
    nr.manual_seed(0)
    V, k = 30, 4
    model = models.BengioNLM(V, k, 6, 10, start_id=2).eval()
    ids = np.random.default_rng(1).integers(0, V, (2, 9))
    with nr.no_grad():
        check_sliding_window(model, ids, V, k)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        model(nr.tensor(ids))                # a sequence without state: say what to do
    with pytest.raises(TypeError, match="integer word ids"):
        model(nr.tensor(np.zeros((2, k), np.float32)))
    assert models.get("bengio-nlm", vocab_size=V).context_size == 4


def check_sliding_window(model, ids, V, k):
    logits, state = model(nr.tensor(ids), None)
    assert logits.shape == (2, 9, V) and state.numpy().tolist() == ids[:, -k:].tolist()
    padded = np.concatenate([np.full((2, k), 2), ids], axis=1)
    for t in range(9):                       # position t reads the k words ending at t
        window = model(nr.tensor(padded[:, t + 1:t + 1 + k]))
        np.testing.assert_allclose(logits.numpy()[:, t], window.numpy(), atol=1e-6)
    first, st = model(nr.tensor(ids[:, :5]), None)
    rest, _ = model(nr.tensor(ids[:, 5:]), st)
    np.testing.assert_allclose(rest.numpy(), logits.numpy()[:, 5:], atol=1e-6)


class Uniform(nn.Module):
    """Every word equally likely: logits all zero."""

    def __init__(self, V):
        super().__init__()
        self.V = V

    def forward(self, ids, state=None):
        return nr.zeros((*ids.shape, self.V)), state


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    ids = np.random.default_rng(0).integers(0, 37, 1001)
    loss, n = lm.cross_entropy_per_token(Uniform(37), ids, batch_size=7, bptt=5)
    assert n == 1000                         # every token but the first, once
    assert lm.perplexity(Uniform(37), ids, batch_size=7, bptt=5) == pytest.approx(37, rel=1e-5)


def test_perplexity_carries_the_state_so_batching_does_not_change_it():
    """The LSTM over the whole stream at once (one column, one window) and cut into
    windows of 4 with the state carried give the same perplexity; it equals exp of the
    cross-entropy computed by hand."""
    nr.manual_seed(0)
    V = 20
    model = models.RNNLanguageModel(V, 8, 8, 1)
    ids = np.random.default_rng(0).integers(0, V, 61)
    whole = lm.perplexity(model, ids, batch_size=1, bptt=1000)
    windows = lm.perplexity(model, ids, batch_size=1, bptt=4)
    assert windows == pytest.approx(whole, rel=1e-5)
    model.eval()
    with nr.no_grad():
        logits, _ = model(nr.tensor(ids[None, :-1]))
    z = logits.numpy()[0].astype(np.float64)
    logp = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1,
                                                                                        keepdims=True))
    assert whole == pytest.approx(math.exp(-logp[np.arange(60), ids[1:]].mean()), rel=1e-5)
    assert 1 < lm.perplexity(model, ids, batch_size=6, bptt=4) < 3 * V   # columns: ~ the same


# -- short real-data runs ---------------------------------------------------------------------
SHORT = dict(epochs=1, plots=False, quiet=True, max_train_tokens=40_000, max_eval_tokens=3_000)


@pytest.fixture(scope="module")
def ptb_dir():
    return shared_data_dir("ptb")


@pytest.mark.parametrize("arch,options", [
    ("bengio", dict(embedding_dim=32, hidden_size=64, batch_size=128, lr=1e-2, dropout=0.0,
                    max_steps=120)),
    ("lstm", dict(embedding_dim=64, hidden_size=64, num_layers=1, batch_size=32, bptt=16,
                  lr=1e-2, dropout=0.0, max_steps=60)),
])
def test_short_ptb_run_learns_and_its_checkpoint_round_trips(arch, options, ptb_dir, tmp_path):
    result = lm.train(arch=arch, data_dir=ptb_dir, out=tmp_path, **SHORT, **options)
    m = result["metrics"]
    assert m["vocab_size"] == 10_000 and m["steps"] == options["max_steps"]
    # from 10,000 (a uniform guess) to about 1,000 after a hundred small steps (the
    # first 3,000 validation tokens are harder than the test's: ~940 against ~750)
    assert m["val_perplexity"] < 1200 and m["test_perplexity"] < 1000, m
    model, extra = models.load_checkpoint(result["checkpoint"])
    tok = tokenizer_from_dict(extra["tokenizer"])
    assert len(tok.vocab) == 10_000 and tok.encode("the <unk> <eos>") == [
        result["tokenizer"].vocab["the"], 0, 1]
    _, ids = lm._load_encoded(str(lm.find_ptb(ptb_dir).resolve()))
    assert lm.perplexity(model, ids["valid"][:3000]) == pytest.approx(m["val_perplexity"],
                                                                      rel=1e-4)
    fresh = models.get(model.name, **model.get_config())          # init_from= reloads it
    lm._load_weights(fresh, result["checkpoint"], tok.vocab)
    assert lm.perplexity(fresh, ids["valid"][:500]) == pytest.approx(
        lm.perplexity(model, ids["valid"][:500]), rel=1e-6)
    text = lm.sample(model, tok, "the company", length=8, seed=0)
    assert text.startswith("the company ") and len(text.split()) >= 8


def test_missing_data_and_bad_arguments_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="ptb.train.txt"):
        lm.find_ptb(tmp_path)
    with pytest.raises(ValueError, match="arch must be one of"):
        lm.train(arch="transformer", data_dir=tmp_path)
    with pytest.raises(TypeError, match="unknown option"):
        lm.train(arch="lstm", data_dir=tmp_path, context_size=3)
