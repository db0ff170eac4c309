"""No hidden device-to-host copies in the training loops.

On a GPU every ``.item()``, ``float(t)``, ``.numpy()``, ``.tolist()`` of a tensor waits for
the GPU and copies over the bus.  ``fit`` and the char-model recipes' loop read numbers
back only at log points (every ``log_every`` batches), at the end of an epoch, and for
evaluations.  These tests count every way a tensor's numbers can reach the host while
training on the CPU (the code paths are the same on CUDA) and assert the bound.
"""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import neurona as nr
from neurona import nn, optim
from neurona.train import Callback, fit
from neurona.utils.data import DataLoader, TensorDataset

READS = ("item", "tolist", "numpy", "__array__", "__float__", "__int__", "__bool__",
         "__index__")


@pytest.fixture
def host_reads(monkeypatch):
    """A list that gets one entry (the method's name) per read of a tensor's numbers.

    Reads made by the metric functions (``neurona.train.metrics``) are not counted: they
    run on the host copies that the loop made once per epoch (and counted)."""
    calls = []
    for name in READS:
        orig = getattr(nr.Tensor, name, None)
        if orig is None:
            continue

        def counted(self, *a, _orig=orig, _name=name, **k):
            if sys._getframe(1).f_globals.get("__name__") != "neurona.train.metrics":
                calls.append(_name)
            return _orig(self, *a, **k)
        monkeypatch.setattr(nr.Tensor, name, counted)
    return calls


def _data(n=96, batch_size=8, nan_at=None):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    if nan_at is not None:
        X[nan_at, 1] = np.nan
    return DataLoader(TensorDataset(nr.tensor(X), nr.tensor(y)), batch_size=batch_size)


def _model():
    nr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize("log_every,metrics,expected", [
    (4, (), 3),            # 12 batches: read at batches 4, 8, 12; the epoch end has none left
    (5, (), 3),            # read at 5, 10, and the 2 left at the epoch's end
    (50, (), 1),           # once, at the epoch's end
    (4, ("accuracy",), 3 + 2),    # + outputs and targets, once each, for the metric
])
def test_fit_reads_back_only_at_log_points(host_reads, log_every, metrics, expected):
    loader = _data()                       # 96 samples, 12 batches of 8
    model = _model()
    host_reads.clear()
    hist = fit(model, loader, epochs=2, loss_fn=nn.CrossEntropyLoss(), metrics=metrics,
               optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False,
               log_every=log_every)
    assert len(host_reads) == 2 * expected, host_reads      # two epochs
    assert set(host_reads) <= {"numpy"}
    assert all(math.isfinite(v) for v in hist["loss"])


def test_fit_loss_is_the_same_whatever_log_every():
    """Deferring the reads changes nothing in the numbers."""
    losses = []
    for log_every in (1, 7, 100):
        model = _model()
        h = fit(model, _data(), epochs=2, loss_fn=nn.CrossEntropyLoss(), metrics=(),
                optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False,
                log_every=log_every)
        losses.append(h["loss"])
    assert losses[0] == losses[1] == losses[2]


def test_a_batch_callback_gets_every_batch_as_a_number(host_reads):
    class Losses(Callback):
        def __init__(self):
            self.seen = []

        def on_batch_end(self, state, logs):
            self.seen.append((logs["batch"], logs["loss"]))

    cb = Losses()
    model = _model()
    host_reads.clear()
    fit(model, _data(), epochs=1, loss_fn=nn.CrossEntropyLoss(), metrics=(),
        optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False, callbacks=[cb])
    assert [b for b, _ in cb.seen] == list(range(12))
    assert all(isinstance(v, float) for _, v in cb.seen)
    assert len(host_reads) == 12          # the user asked for every batch: one read each


def test_nan_is_still_reported_with_its_batch_when_read_late():
    model = _model()
    with pytest.raises(nr.train.NonFiniteError, match=r"epoch 1, batch 4: the inputs"):
        fit(model, _data(nan_at=37), epochs=1, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False, log_every=50)


def test_log_every_must_be_positive():
    model = _model()
    with pytest.raises(ValueError, match="log_every"):
        fit(model, _data(), epochs=1, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False, log_every=0)


def test_char_run_reads_losses_once_per_evaluation(host_reads, tmp_path):
    from neurona.recipes._loop import CharRun
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = nr.randn(16, 4)
    y = (x[:, 0] > 0).long()

    def one_step(step):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    class Tok:
        def to_dict(self):
            return {}

    run = CharRun("t", model, Tok(), opt, dataset="d", out=None, seed=0, quiet=True,
                  lr=0.1, prompt="", sample_chars=0, temperature=1.0)
    host_reads.clear()
    done = run.train(one_step, steps=20, eval_every=5, max_minutes=None,
                     validate=lambda: 1.0)
    assert done == 20 and run.history["step"] == [5, 10, 15, 20]
    assert len(host_reads) == 4, host_reads           # one read per evaluation
    assert all(math.isfinite(v) for v in run.history["train_loss"])

    def bad_step(step):
        return nr.tensor(float("nan") if step == 6 else 1.0)
    with pytest.raises(FloatingPointError, match="at step 7"):
        run.train(bad_step, steps=20, eval_every=5, max_minutes=None, validate=lambda: 1.0)


@pytest.mark.skipif(not nr.backend.cuda_is_available(),
                    reason="no CUDA GPU: CuPy is not installed or sees no device")
def test_fit_on_cuda_reads_back_only_at_log_points(host_reads):
    """The same bound on the GPU, where each read is a real device-to-host copy."""
    def run(device):
        model = _model()
        host_reads.clear()
        hist = fit(model, _data(), epochs=2, loss_fn=nn.CrossEntropyLoss(),
                   metrics=("accuracy",), optimizer=optim.Adam(model.parameters(), lr=0.01),
                   progress=False, log_every=4, device=device)
        assert model[0].weight.device.type == device
        assert len(host_reads) == 2 * (3 + 2), host_reads
        return hist
    on_gpu, on_cpu = run("cuda"), run("cpu")      # the same training on both devices
    np.testing.assert_allclose(on_gpu["loss"], on_cpu["loss"], rtol=1e-4)
    np.testing.assert_allclose(on_gpu["accuracy"], on_cpu["accuracy"], atol=1.5 / 96)  # a tie
