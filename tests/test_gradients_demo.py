"""The gradient-problems demonstration (neurona.recipes.gradients): vanishing gradients in a
vanilla RNN versus an LSTM, exploding gradients tamed by clip_grad_norm_, truncated BPTT on
1,000-step sequences. Small, seeded settings; the whole file runs in well under a minute."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

import neurona as nr
from neurona import models, nn
from neurona.random import manual_seed
from neurona.recipes import gradients as G


def _torch_twin(model):
    """A torch Embedding -> RNN/LSTM -> Linear with ``model``'s weights."""
    cfg = model.get_config()
    E, H = cfg["embedding_dim"], cfg["hidden_size"]
    emb = torch.nn.Embedding(cfg["vocab_size"], E)
    rnn = (torch.nn.RNN if cfg["arch"] == "rnn" else torch.nn.LSTM)(E, H, batch_first=True)
    fc = torch.nn.Linear(H, cfg["num_classes"])
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    for prefix, m in (("embedding.", emb), ("rnn.", rnn), ("fc.", fc)):
        m.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)})
    return emb, rnn, fc


def _torch_gradient_norms(model, x, y):
    emb, rnn, fc = _torch_twin(model)
    e = emb(torch.tensor(x))
    state, hs = None, []
    for t in range(x.shape[1]):
        _, state = rnn(e[:, t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    torch.nn.functional.cross_entropy(fc(hs[-1][0]), torch.tensor(y), reduction="sum").backward()
    return np.array([h.grad[0].norm(dim=-1).mean().item() for h in hs])


def test_long_range_task_labels_and_seeding():
    x, y = G.long_range_task(200, 12, 4, seed=3)
    assert x.shape == (200, 12) and x.dtype == np.int64 and (y == x[:, 0]).all()
    x2, _ = G.long_range_task(200, 12, 4, seed=3)
    assert (x == x2).all()
    x, y = G.long_range_task(400, 7, 4, task="first-equals-last", seed=0)
    assert (y == (x[:, 0] == x[:, -1])).all() and 0.4 < y.mean() < 0.7
    with pytest.raises(ValueError, match="unknown task"):
        G.long_range_task(4, 5, task="copy")


@pytest.mark.parametrize("arch", ["rnn", "lstm"])
def test_gradient_norms_over_time_match_torch(arch):
    manual_seed(0)
    model = G.RecurrentClassifier(arch, vocab_size=4, embedding_dim=8, hidden_size=16,
                                  num_classes=4, forget_bias=1.0)
    x, y = G.long_range_task(16, 10, 4, seed=1)
    ours = G.gradient_norms_over_time(model, (x, y))
    assert ours.shape == (10,)
    np.testing.assert_allclose(ours, _torch_gradient_norms(model, x, y), rtol=1e-3)
    assert all(p.grad is None for p in model.parameters())     # parameters left untouched


def test_rnn_gradient_vanishes_lstm_gradient_survives():
    x, y = G.long_range_task(64, 40, 4, seed=1)
    curves = {}
    for arch, fb in (("rnn", 0.0), ("lstm", 0.0), ("lstm-open", 5.0)):
        manual_seed(0)
        model = G.RecurrentClassifier(arch.split("-")[0], forget_bias=fb)
        curves[arch] = G.gradient_norms_over_time(model, (x, y))
    rnn, lstm0, lstm = curves["rnn"], curves["lstm"], curves["lstm-open"]
    # the same size at the last step, where the loss is ...
    assert 0.2 < rnn[-1] / lstm[-1] < 5
    # ... but 40 steps back the RNN's gradient has shrunk by > 10 orders of magnitude,
    assert rnn[0] / rnn[-1] < 1e-10
    # the LSTM with an open forget gate keeps a sizeable fraction,
    assert lstm[0] / lstm[-1] > 1e-2
    assert lstm[0] / rnn[0] > 1e8
    # and with PyTorch's default forget bias 0 (f ~ 1/2) the LSTM's vanishes too, if slower
    assert rnn[0] < lstm0[0] < 1e-3 * lstm[0]
    # the decay is geometric: log-norm falls roughly linearly with the distance to T
    slope = np.polyfit(np.arange(40), np.log10(rnn), 1)[0]
    assert slope > 0.2          # > 0.2 decades per step


def test_clipping_keeps_the_loss_finite_where_the_unclipped_run_blows_up():
    wild = G.exploding_gradients(None, steps=30)
    clipped = G.exploding_gradients(1.0, steps=30)
    assert not wild["finite"] and wild["first_nonfinite_step"] <= 10
    assert wild["grad_norm"][0] > 100                        # large from the first step
    assert clipped["finite"] and all(map(math.isfinite, clipped["loss"]))
    assert clipped["loss"][0] == pytest.approx(wild["loss"][0])          # same start
    assert clipped["loss"][-1] < clipped["loss"][0] / 5                  # and it falls
    assert clipped["grad_norm"][0] == pytest.approx(wild["grad_norm"][0], rel=1e-5)


def test_clip_grad_norm_returns_the_pre_clip_norm_like_torch():
    manual_seed(0)
    model = G.RecurrentClassifier("rnn", nonlinearity="relu")
    nn.init.orthogonal_(model.rnn.weight_hh_l0, gain=2.0)
    x, y = G.long_range_task(32, 20, 4, seed=0)
    nn.functional.cross_entropy(model(nr.tensor(x)), nr.tensor(y)).backward()
    names = [n for n, _ in model.named_parameters()]
    t_params = []
    for _, p in model.named_parameters():
        tp = torch.nn.Parameter(torch.tensor(p.detach().numpy()))
        tp.grad = torch.tensor(p.grad.numpy().copy())
        t_params.append(tp)
    for max_norm, norm_type in ((1.0, 2.0), (0.5, math.inf), (3.0, 1.0)):
        ours = nn.utils.clip_grad_norm_(model.parameters(), max_norm, norm_type)
        theirs = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type)
        assert float(ours.item()) == pytest.approx(float(theirs), rel=1e-5)
        for name, p, tp in zip(names, model.parameters(), t_params):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5,
                                       atol=1e-7, err_msg=name)
    after = nn.utils.get_total_norm([p.grad for p in model.parameters()])
    assert float(after.item()) <= 3.0 * (1 + 1e-4)


def test_truncated_bptt_on_1000_steps_learns():
    r = G.truncated_bptt(T=1000, k=50, epochs=3, seed=0)
    assert r["chunks"] == 60
    assert r["loss"][0] == pytest.approx(math.log(4), abs=0.1)       # starts at ln K
    assert r["epoch_loss"][-1] < 0.8 * r["epoch_loss"][0]
    assert np.mean(r["loss"][-5:]) < 0.7


def test_backward_through_1000_steps_needs_no_recursion():
    """1,000 LSTMCell steps backpropagated at once, with the recursion limit set to only a
    little above the current stack depth: a recursive backward would fail."""
    import inspect
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 200)
    try:
        r = G.full_bptt_depth(1000)
    finally:
        sys.setrecursionlimit(old)
    assert r["T"] == 1000
    assert math.isfinite(r["grad_norm_x1"]) and r["grad_norm_x1"] > 1e-3


def test_lstm_beats_rnn_at_a_long_T():
    """T=40, 400 Adam steps, hidden 16 (about 15 s on two busy cores): the RNN stays at
    chance (0.25), the LSTM (forget bias 5) solves the task."""
    accs = G.accuracy_vs_length(("rnn", "lstm"), Ts=(40,), steps=400, hidden_size=16,
                                n_test=500, seed=0)
    assert accs["rnn"][40] < 0.45
    assert accs["lstm"][40] > 0.7 and accs["lstm"][40] > accs["rnn"][40] + 0.3


def test_train_writes_metrics_plots_and_checkpoint(tmp_path):
    result = G.train(out=tmp_path, max_steps=30, lengths=(5,), grad_T=8, tbptt_T=100,
                     explode_steps=5, epochs=1, quiet=True)
    m = result["metrics"]
    assert set(m["accuracy_vs_length"]) == {"rnn", "lstm"}
    assert m["exploding"]["no clipping"]["finite"] is False
    assert m["exploding"]["clip_grad_norm_(1.0)"]["finite"] is True
    assert m["grad_norm_ratio_first_to_last"]["rnn (init)"] < \
        m["grad_norm_ratio_first_to_last"]["lstm (init)"]
    assert len(result["plots"]) == 4 and all((tmp_path / p).exists() for p in result["plots"])
    json.loads((tmp_path / "metrics.json").read_text())             # strict JSON, no NaN
    model, _ = models.load_checkpoint(result["checkpoint"])      # the registry rebuilds it
    assert isinstance(model, models.RecurrentClassifier) and model.arch == "lstm"
    with pytest.raises(ValueError, match="unknown arch"):
        G.train(arch="transformer", quiet=True)
    with pytest.raises(TypeError, match="unknown option"):
        G.train(lenghts=(5,), quiet=True)
