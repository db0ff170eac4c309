"""The loop both character-level recipes share (neurona.recipes._loop): when it
evaluates, which weights it keeps, what it prints, how it stops. A fake model and fake
steps, so every branch is seen in well under a second (the real recipes run in
test_char_lstm.py and test_gpt_recipe.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import neurona as nr
import neurona.nn as nn
from neurona.recipes._loop import CharRun, mean_nll, options


class _Tok:
    vocab_size = 3


def _run(quiet=True, **kw):
    nr.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = nr.optim.SGD(model.parameters(), lr=0.5)
    return CharRun("fake-lm", model, _Tok(), opt, dataset="x", out=None, seed=0,
                   quiet=quiet, lr=0.5, prompt="", sample_chars=0, temperature=1.0, **kw)


def _step_adding_one(run):
    def one_step(step):
        with nr.no_grad():
            run.model.bias.add_(1.0)           # the bias counts the steps done
        return 5.0 - step
    return one_step


def test_evaluates_every_eval_every_and_at_the_end_and_keeps_the_best(capsys):
    run = _run(quiet=False, steps_per_pass=4, show_lr=True)
    b0 = float(run.model.bias.item())
    vals = iter([3.0, 1.0, 2.0])               # the best is the second evaluation
    done = run.train(_step_adding_one(run), steps=7, eval_every=3, max_minutes=None,
                     validate=lambda: next(vals))
    assert done == 7 and run.history["step"] == [3, 6, 7]
    # train_loss: the mean over the steps since the last evaluation (5, 4, 3 | 2, 1, 0 | -1)
    assert run.history["train_loss"] == [4.0, 1.0, -1.0]
    assert run.history["val_loss"] == [3.0, 1.0, 2.0] and run.history["lr"] == [0.5] * 3
    result = run.finish(done, 10, 3, {"h": 1}, plots=True, model_name="fake")
    assert float(run.model.bias.item()) == pytest.approx(b0 + 6)   # weights of step 6
    m = result["metrics"]
    assert (m["best_step"], m["steps"], m["characters_seen"]) == (6, 7, 70)
    assert m["val_loss"] == 1.0 and m["val_bits_per_char"] == pytest.approx(1 / math.log(2))
    assert result["checkpoint"] is None and result["plots"] == []          # no out
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("  step     3 (pass 0.75)  train 4.000  val 3.000 nats/char "
                               "(4.33 bits) *  lr 5.00e-01")
    assert " * " not in lines[2] and lines[3].startswith("  best val loss 1.0000")


def test_a_nan_loss_stops_with_advice():
    run = _run()
    with pytest.raises(FloatingPointError, match=r"fake-lm: the loss became nan at step 2"
                                                 r".*lower the learning rate \(lr=0.5\)"):
        run.train(lambda s: [1.0, math.nan][s], steps=5, eval_every=10, max_minutes=None,
                  validate=lambda: 1.0)


def test_the_clock_stops_the_run_after_an_evaluation(capsys):
    run = _run(quiet=False)
    done = run.train(_step_adding_one(run), steps=100, eval_every=50, max_minutes=1e-9,
                     validate=lambda: 2.0)
    assert done == 1 and run.history["step"] == [1]
    assert "stopped after 1e-09 minutes (max_minutes)" in capsys.readouterr().out


def test_options_override_and_reject_unknown_names():
    cfg = options("fake", {"lr": 1.0, "batch_size": 2, "depth": 3}, {"depth": 4}, lr=0.1)
    assert cfg == {"lr": 0.1, "batch_size": 2, "depth": 4}
    with pytest.raises(TypeError, match=r"fake.train: unknown options \['width'\]"):
        options("fake", {"lr": 1.0}, {"width": 3})


class _Counter(nn.Module):
    """A 'language model' whose state counts the windows it has read; its logits favour
    class state % 3, so the loss tells whether the state was carried."""
    def forward(self, x, state=None):
        k = 0 if state is None else state
        logits = np.full(x.shape + (3,), -10.0, np.float32)
        logits[..., k % 3] = 10.0
        return nr.tensor(logits), k + 1


def test_mean_nll_carries_the_state_only_when_asked():
    windows = [(np.zeros((2, 4), np.int64), np.full((2, 4), k, np.int64)) for k in range(3)]
    assert mean_nll(_Counter(), windows, carry_state=True) < 1e-6      # k-th window: k
    assert mean_nll(_Counter(), windows) == pytest.approx(40.0 / 3, rel=1e-4)  # always 0
