"""Vanishing and exploding gradients, shown: a vanilla RNN versus an LSTM on a task with a
long-range dependency.

The task (:func:`long_range_task`): a sequence of T random symbols x_1 .. x_T from an
alphabet of K; the label is the FIRST symbol (``task="first"``), or whether the first symbol
equals the last (``task="first-equals-last"``, balanced). The model reads the whole sequence
and classifies from its last hidden state h_T, so the error signal must travel back through
all T steps to reach the step that matters.

Backpropagation through time multiplies Jacobians, one per step:

    RNN:   h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)
           dL/dh_{t-1} = W_hh^T diag(1 - h_t^2) dL/dh_t
           ||dL/dh_0|| <= prod_t ||W_hh|| max|1 - h_t^2| * ||dL/dh_T||   -- shrinks (or grows)
                                                                       geometrically in T
    LSTM:  c_t = f_t * c_{t-1} + i_t * g_t,   h_t = o_t * tanh(c_t)
           dL/dc_{t-1} = f_t * dL/dc_t + (paths through h)              -- the "constant error
                                                                          carousel": ~1 when f_t ~ 1

What this module measures (each function returns plain numbers, ``train()`` runs them all):

* :func:`gradient_norms_over_time` -- ||dL/dh_t|| for every t (the vanishing gradient as a
  curve, one per architecture);
* :func:`accuracy_vs_length` -- small RNN / LSTM / GRU models trained for a bounded number
  of steps at each T: the RNN falls to chance (1/K) as T grows, the LSTM holds longer;
* :func:`exploding_gradients` -- a ReLU RNN with large recurrent weights trained by SGD with
  a high learning rate, without and with ``nn.utils.clip_grad_norm_`` (whose return value,
  the total norm before clipping, is recorded);
* :func:`truncated_bptt` -- an LSTM trained on 1,000-step sequences, the state carried from
  chunk to chunk and detached every k steps (no recursion limit is hit: the backward engine
  is iterative); :func:`full_bptt_depth` backpropagates through all 1,000 steps at once.

An important practical detail (Gers et al. 2000; Jozefowicz et al. 2015): the LSTM's advantage
in a short run needs its forget gate to start open. With PyTorch's default init the forget
gate's bias is 0, f_t ~ sigmoid(0) = 0.5 and the cell's memory halves every step; the recipe
sets the forget bias to ``forget_bias`` (default 5: f_t ~ 0.99 at the start).

Results with DEFAULTS (``neurona train gradients --out DIR``, or
``python examples/10_vanishing_gradients.py``; seed 0; 108 s wall, 47 s CPU, on 2 CPU cores
shared with 4 other training jobs -- the same numbers from both commands):

* ||dL/dh_1|| / ||dL/dh_T|| at T=50, at init: RNN 6.0e-18, LSTM (forget bias 5) 0.21, LSTM
  with PyTorch's default forget bias 0 1.7e-11; after 1000 steps: RNN 1.5e-11 (it never
  learned), LSTM 3.4e-2. ||dL/dh_1|| itself: RNN 3.0e-18 versus LSTM 0.10 at init.
* Test accuracy (1,000 sequences, chance 0.25), 1000 Adam steps per T:

      T      5      10     20     50     100
      RNN    1.000  1.000  1.000  0.251  0.276
      LSTM   1.000  1.000  1.000  1.000  1.000
      LSTM, forget bias 0   1.000  1.000  0.244  0.268  0.256    (forget_bias=0)
      GRU, update bias 0    1.000  1.000  1.000  0.278  0.269    (arch='gru', forget_bias=0)
      GRU, update bias 5    -      -      1.000  1.000  1.000    (arch='gru')

  So in a short run the gate bias decides: with PyTorch's default init the LSTM does no
  better than the RNN here (worse at T=20), because f ~ 0.5 halves the stored memory (and
  its gradient) every step.
* Exploding (ReLU RNN, W_hh = 2 x orthogonal, T=20, SGD lr 0.05): without clipping the
  gradient norm goes 225 -> 4.8e4 -> inf and the loss is NaN at step 4; with
  ``clip_grad_norm_(1.0)`` the loss goes 16.5 -> 0.44 in 200 steps (pre-clip norm 225 at
  the start).
* Truncated BPTT, T=1,000, k=50, echo task with delay 3: mean loss per pass 1.22, 0.86,
  0.46, 0.14, 0.024, 0.008 (ln 4 = 1.39 at the start), 1.8 s; one backward pass through
  1,000 LSTMCell steps (recursion limit 1000): 0.2 s, ||dL/dx_1|| = 0.31.
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..creation import tensor
from ._report import json_safe as _json_safe, write_metrics
from ..models.sequence_classifier import ARCHS, RecurrentClassifier
from ..nn import functional as F
from ..random import manual_seed

__all__ = ["DEFAULT", "DEFAULTS", "TASKS", "ALIASES", "ARCHS", "long_range_task", "RecurrentClassifier",
           "gradient_norms_over_time", "train_classifier", "evaluate_accuracy",
           "accuracy_vs_length", "exploding_gradients", "truncated_bptt", "full_bptt_depth",
           "train"]

DEFAULT = "first-symbol"
TASKS = ("first-symbol", "first-equals-last")
ALIASES = {"long-range": "first-symbol"}       # the CLI's name for the default task

DEFAULTS = {
    "archs": ("rnn", "lstm"),        # compared side by side
    "vocab_size": 4,                 # K symbols: chance = 1/K for "first-symbol"
    "embedding_dim": 16,
    "hidden_size": 32,
    "forget_bias": 5.0,              # LSTM forget-gate bias at init (0 = PyTorch's default)
    "lengths": (5, 10, 20, 50, 100), # the T of accuracy_vs_length
    "steps": 1000,                   # Adam steps per (arch, T)
    "batch_size": 64,
    "lr": 1e-2,                      # Adam
    "clip": 1.0,                     # clip_grad_norm_ in accuracy_vs_length
    "grad_T": 50,                    # the T of the gradient-norm curves
    # exploding gradients: ReLU RNN, W_hh = gain * orthogonal, SGD with a high lr
    "explode_T": 20, "explode_gain": 2.0, "explode_lr": 0.05, "explode_steps": 200,
    "explode_max_norm": 1.0,
    # truncated BPTT
    "tbptt_T": 1000, "tbptt_k": 50, "tbptt_delay": 3, "tbptt_batch": 16, "tbptt_epochs": 6,
}


# ----------------------------------------------------------------------------- the task

def long_range_task(n: int, T: int, vocab_size: int = 4, task: str = DEFAULT, seed=0):
    """``n`` sequences of ``T`` random symbols and their labels.

    Returns ``(x, y)``: x int64 (n, T) with symbols in [0, vocab_size); y int64 (n,):
    ``task="first-symbol"``: y = x[:, 0] (K classes, chance 1/K);
    ``task="first-equals-last"``: y = 1 if x[:, 0] == x[:, -1] else 0, with the last symbol
    set equal to the first for half of the sequences (2 balanced classes, chance 1/2).
    ``seed``: an int or a ``np.random.Generator``."""
    task = ALIASES.get(task, task)
    if task not in TASKS:
        raise ValueError(f"long_range_task: unknown task {task!r}; choose one of {TASKS}")
    if int(T) < 1 or int(n) < 1:
        raise ValueError(f"long_range_task: need n >= 1 sequences of length T >= 1, "
                         f"got n={n}, T={T}")
    if int(vocab_size) < 2:
        raise ValueError(f"long_range_task: vocab_size must be >= 2, got {vocab_size}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = rng.integers(0, vocab_size, size=(int(n), int(T)), dtype=np.int64)
    if task == "first-symbol":
        return x, x[:, 0].copy()
    if T < 2:
        raise ValueError("long_range_task: 'first-equals-last' needs T >= 2")
    same = rng.random(int(n)) < 0.5
    x[same, -1] = x[same, 0]
    y = (x[:, 0] == x[:, -1]).astype(np.int64)
    return x, y


def _num_classes(task, vocab_size):
    return vocab_size if ALIASES.get(task, task) == "first-symbol" else 2


# ----------------------------------------------------------------------------- the model

# ----------------------------------------------------------------------------- gradients

def gradient_norms_over_time(model: RecurrentClassifier, batch, with_cell: bool = False):
    """||dL_n/dh_t|| for t = 1..T, averaged over the examples n of ``batch``.

    ``batch``: ``(x, y)`` -- x int64 (N, T), y int64 (N,). The sequence is fed ONE STEP AT A
    TIME through ``model.rnn`` (the state h_t -- and c_t for an LSTM -- carried from step to
    step), each h_t keeps its gradient (``retain_grad()``), then the summed cross-entropy of
    the classifier on h_T is backpropagated. Because the loss is a sum over examples,
    row n of h_t.grad is dL_n/dh_t^n, the gradient of example n's own loss.

    Returns a float64 array (T,) (index 0 is the first step); with ``with_cell`` and an
    LSTM, ``(norms_h, norms_c)`` with ||dL_n/dc_t|| too. The parameters' gradients are left
    untouched (zeroed before and after)."""
    x, y = batch
    x = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
    y = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
    if x.ndim != 2:
        raise ValueError(f"gradient_norms_over_time: x must have shape (N, T), got {x.shape}")
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    e = model.embedding(tensor(x))                    # (N, T, E)
    state = None
    hs, cs = [], []
    for t in range(x.shape[1]):
        _, state = model.rnn(e[:, t:t + 1], state)    # h_n: (1, N, H)
        if isinstance(state, tuple):
            h, c = state
            c.retain_grad()
            cs.append(c)
        else:
            h = state
        h.retain_grad()
        hs.append(h)
    loss = F.cross_entropy(model.fc(hs[-1][0]), tensor(y), reduction="sum")
    loss.backward()
    model.zero_grad(set_to_none=True)
    model.train(was_training)

    def norms(states):
        return np.array([float(np.linalg.norm(s.grad.numpy()[0].astype(np.float64),
                                              axis=-1).mean()) for s in states])
    if with_cell and cs:
        return norms(hs), norms(cs)
    return norms(hs)


# ----------------------------------------------------------------------------- training

def evaluate_accuracy(model, x, y, batch_size: int = 1024) -> float:
    """Fraction of sequences whose argmax logit is the label."""
    was_training = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch_size):
            pred = model(tensor(x[i:i + batch_size])).numpy().argmax(-1)
            correct += int((pred == y[i:i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x)


def train_classifier(arch: str, T: int, *, task=DEFAULT, steps=None, batch_size=None, lr=None,
                     clip=None, seed=0, vocab_size=None, embedding_dim=None, hidden_size=None,
                     forget_bias=None, n_test=1000, eval_every=None, deadline=None,
                     log=None):
    """Train a :class:`RecurrentClassifier` on fresh batches of :func:`long_range_task`
    (Adam, ``clip_grad_norm_(.., clip)``) for ``steps`` steps.

    Returns ``(model, info)``; info: ``test_accuracy`` on ``n_test`` held-out sequences,
    ``losses`` (per step), ``curve`` [(step, test accuracy)] every ``eval_every`` steps,
    ``steps`` (done; fewer when ``deadline`` (time.time() value) passed), ``wall_s``."""
    d = DEFAULTS
    steps = d["steps"] if steps is None else int(steps)
    batch_size = batch_size or d["batch_size"]
    lr = lr or d["lr"]
    clip = d["clip"] if clip is None else clip
    K = vocab_size or d["vocab_size"]
    fb = d["forget_bias"] if forget_bias is None else forget_bias
    manual_seed(seed)
    model = RecurrentClassifier(arch, K, embedding_dim or d["embedding_dim"],
                                hidden_size or d["hidden_size"], _num_classes(task, K), fb)
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng([seed, T, 1])
    x_test, y_test = long_range_task(n_test, T, K, task, np.random.default_rng([seed, T, 2]))
    losses, curve = [], []
    t0 = time.time()
    done = 0
    for step in range(1, steps + 1):
        x, y = long_range_task(batch_size, T, K, task, rng)
        loss = F.cross_entropy(model(tensor(x)), tensor(y))
        opt.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(float(loss.item()))
        done = step
        if eval_every and step % eval_every == 0:
            curve.append((step, evaluate_accuracy(model, x_test, y_test)))
            if log:
                log(f"  {arch:>4} T={T:<4} step {step:>5}  loss {losses[-1]:.3f}  "
                    f"test acc {curve[-1][1]:.3f}")
        if deadline is not None and time.time() > deadline:
            break
    acc = evaluate_accuracy(model, x_test, y_test)
    return model, {"test_accuracy": acc, "losses": losses, "curve": curve, "steps": done,
                   "wall_s": time.time() - t0}


def accuracy_vs_length(arch="rnn", Ts=(5, 10, 20, 50, 100), *, task=DEFAULT, steps=None,
                       seed=0, deadline=None, log=None, **kw):
    """Test accuracy of a model trained for ``steps`` steps at each sequence length T.

    ``arch``: 'rnn', 'lstm', 'gru' or a tuple of them. Returns ``{arch: {T: accuracy}}`` for
    a tuple, ``{T: accuracy}`` for one arch; keyword arguments go to
    :func:`train_classifier`."""
    if not isinstance(arch, str):
        return {a: accuracy_vs_length(a, Ts, task=task, steps=steps, seed=seed,
                                      deadline=deadline, log=log, **kw) for a in arch}
    out = {}
    for T in Ts:
        _, info = train_classifier(arch, int(T), task=task, steps=steps, seed=seed,
                                   deadline=deadline, **kw)
        out[int(T)] = info["test_accuracy"]
        if log:
            log(f"  {arch:>4} T={T:<4} test accuracy {info['test_accuracy']:.3f} "
                f"({info['steps']} steps, {info['wall_s']:.1f} s)")
    return out


# ----------------------------------------------------------------------------- exploding

def exploding_gradients(max_norm=None, *, T=None, gain=None, lr=None, steps=None, seed=0,
                        vocab_size=None, hidden_size=None, batch_size=None):
    """Train a ReLU RNN whose recurrent weights start large (W_hh = gain * orthogonal,
    spectral radius ``gain`` > 1) with plain SGD at a high learning rate on the
    first-symbol task; clip with ``nn.utils.clip_grad_norm_(params, max_norm)`` unless
    ``max_norm`` is None.

    Returns ``{"loss": [...], "grad_norm": [...], "finite": bool, "first_nonfinite_step":
    int or None}``: the loss of every step (NaN/inf kept as they are) and the total gradient
    norm BEFORE clipping (the value clip_grad_norm_ returns; inf when it overflowed float32).
    The run stops at the first non-finite loss (everything after it would be NaN)."""
    d = DEFAULTS
    T = T or d["explode_T"]
    gain = gain or d["explode_gain"]
    lr = lr or d["explode_lr"]
    steps = steps or d["explode_steps"]
    K = vocab_size or d["vocab_size"]
    manual_seed(seed)
    model = RecurrentClassifier("rnn", K, d["embedding_dim"], hidden_size or d["hidden_size"],
                                K, nonlinearity="relu")
    nn.init.orthogonal_(model.rnn.weight_hh_l0, gain=gain)
    opt = optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 3])
    losses, norms = [], []
    first_bad = None
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            x, y = long_range_task(batch_size or d["batch_size"], T, K, DEFAULT, rng)
            loss = F.cross_entropy(model(tensor(x)), tensor(y))
            opt.zero_grad()
            loss.backward()
            if max_norm is None:
                total = nn.utils.get_total_norm([p.grad for p in model.parameters()
                                                 if p.grad is not None])
            else:
                total = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            losses.append(float(loss.item()))
            norms.append(float(total.item()))
            if not math.isfinite(losses[-1]):
                first_bad = step
                break
            opt.step()                  # even with an infinite gradient, as a naive loop would
    return {"loss": losses, "grad_norm": norms, "finite": first_bad is None,
            "first_nonfinite_step": first_bad}


# ----------------------------------------------------------------------------- truncated BPTT

def _echo_stream(n, T, K, delay, rng):
    """x int64 (n, T) random symbols; target y_t = x_{t - delay} (and -100, ignored, for
    t < delay)."""
    x = rng.integers(0, K, size=(n, T), dtype=np.int64)
    y = np.full_like(x, -100)
    y[:, delay:] = x[:, :-delay]
    return x, y


def truncated_bptt(*, T=None, k=None, delay=None, epochs=None, batch_size=None,
                   hidden_size=None, vocab_size=None, lr=None, seed=0, log=None):
    """Truncated backpropagation through time on sequences of ``T`` (default 1,000) steps.

    The task: at every step output the symbol seen ``delay`` steps earlier (a many-to-many
    echo). Each sequence is cut into chunks of ``k`` steps; the LSTM's state (h, c) is
    carried from one chunk to the next but DETACHED, so each backward pass runs through at
    most k steps (memory and time O(k), not O(T)) while the forward pass still sees the
    whole history:

        for chunk in x.split(k):
            out, state = lstm(chunk, state)
            loss = CE(fc(out), targets); loss.backward(); opt.step()
            state = tuple(s.detach() for s in state)

    Returns ``{"loss": [mean loss of each chunk ...], "epoch_loss": [...], "chunks": int,
    "wall_s": float}``; the loss starts near ln K and falls towards 0."""
    d = DEFAULTS
    T = T or d["tbptt_T"]
    k = k or d["tbptt_k"]
    delay = d["tbptt_delay"] if delay is None else delay
    epochs = epochs or d["tbptt_epochs"]
    N = batch_size or d["tbptt_batch"]
    H = hidden_size or d["hidden_size"]
    K = vocab_size or d["vocab_size"]
    if not 0 < delay < k:
        raise ValueError(f"truncated_bptt: the delay ({delay}) must be in 1 .. k-1 (k={k}): "
                         "a dependency longer than the truncation cannot be learned")
    manual_seed(seed)
    emb, lstm, fc = nn.Embedding(K, d["embedding_dim"]), nn.LSTM(d["embedding_dim"], H,
                                                                 batch_first=True), nn.Linear(H, K)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(fc.parameters())
    opt = optim.Adam(params, lr=lr or d["lr"])
    rng = np.random.default_rng([seed, 4])
    losses, epoch_loss = [], []
    t0 = time.time()
    for epoch in range(epochs):
        x, y = _echo_stream(N, T, K, delay, rng)
        state = None
        for s in range(0, T, k):
            out, state = lstm(emb(tensor(x[:, s:s + k])), state)
            logits = fc(out)                                   # (N, k, K)
            loss = F.cross_entropy(logits.reshape(-1, K), tensor(y[:, s:s + k].reshape(-1)),
                                   ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            state = tuple(h.detach() for h in state)           # truncate: no gradient past here
            losses.append(float(loss.item()))
        epoch_loss.append(float(np.mean(losses[-math.ceil(T / k):])))
        if log:
            log(f"  truncated BPTT epoch {epoch + 1}: {T} steps in chunks of {k}, "
                f"mean loss {epoch_loss[-1]:.3f}")
    return {"loss": losses, "epoch_loss": epoch_loss, "chunks": len(losses),
            "wall_s": time.time() - t0}


def full_bptt_depth(T: int = 1000, hidden_size: int = 16, forget_bias: float = 5.0,
                    seed: int = 0) -> dict:
    """Backpropagate through ALL ``T`` steps of an ``nn.LSTMCell`` applied one step at a
    time: a chain of T cell ops (plus the indexing of x_t), the case where a recursive
    backward would pass Python's recursion limit (``sys.getrecursionlimit()``, usually
    1000). With the forget gate open (bias ``forget_bias``) the gradient still reaches x_1.

    Returns ``{"T", "recursion_limit", "wall_s", "grad_norm_x1", "grad_norm_xT"}`` --
    ||dL/dx_1|| and ||dL/dx_T|| for L = sum(h_T)."""
    manual_seed(seed)
    cell = nn.LSTMCell(4, hidden_size)
    with no_grad():
        cell.bias_ih.data[hidden_size:2 * hidden_size] = float(forget_bias)
    rng = np.random.default_rng(seed)
    xs = tensor(rng.standard_normal((T, 2, 4)).astype(np.float32), requires_grad=True)
    t0 = time.time()
    h = c = None
    state = None
    for t in range(T):
        h, c = cell(xs[t], state)
        state = (h, c)
    h.sum().backward()
    g = xs.grad.numpy()
    return {"T": T, "recursion_limit": sys.getrecursionlimit(), "wall_s": time.time() - t0,
            "grad_norm_x1": float(np.linalg.norm(g[0])),
            "grad_norm_xT": float(np.linalg.norm(g[-1]))}


# ----------------------------------------------------------------------------- the recipe

def train(dataset=DEFAULT, *, data_dir=None, out=None, arch=None, epochs=None, lr=None,
          batch_size=None, seed=0, max_steps=None, max_minutes=None, plots=True,
          quiet=False, **options) -> dict:
    """Run the whole demonstration and return its numbers.

    ``dataset``: the synthetic task, 'first-symbol' or 'first-equals-last' (no files are
    read; ``data_dir`` is ignored). ``arch``: 'rnn', 'lstm', 'gru' or a comma-separated list
    (default 'rnn,lstm'). ``max_steps``: training steps per (arch, T) (default
    DEFAULTS['steps']); ``epochs``: truncated-BPTT epochs. ``max_minutes`` bounds the
    accuracy-versus-length part. ``options``: any key of DEFAULTS (``lengths=(5, 20)``,
    ``grad_T=30``, ``forget_bias=0`` ...).

    Writes to ``out`` (when given): ``metrics.json``, ``model.safetensors`` (the LSTM -- or
    the last arch -- trained at the longest T) and the plots ``gradient_norms.png``,
    ``accuracy_vs_length.png``, ``clipping.png``, ``truncated_bptt.png``."""
    t_start = time.time()
    dataset = ALIASES.get(dataset, dataset)
    if dataset not in TASKS:
        raise ValueError(f"gradients recipe: unknown dataset {dataset!r}; this recipe makes "
                         f"its own synthetic data, choose one of {TASKS}")
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"gradients recipe: unknown option(s) {sorted(unknown)}; the options "
                        f"are the keys of DEFAULTS: {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **options}
    if arch is None:
        archs = tuple(cfg["archs"])
    else:
        archs = tuple(a.strip().lower() for a in
                      (arch.split(",") if isinstance(arch, str) else arch) if a.strip())
    for a in archs:
        if a not in ARCHS:
            raise ValueError(f"gradients recipe: unknown arch {a!r}; choose from {ARCHS} "
                             "(several: 'rnn,lstm')")
    steps = int(max_steps) if max_steps else cfg["steps"]
    lr = lr or cfg["lr"]
    batch_size = batch_size or cfg["batch_size"]
    K = cfg["vocab_size"]
    model_kw = dict(vocab_size=K, embedding_dim=cfg["embedding_dim"],
                    hidden_size=cfg["hidden_size"], forget_bias=cfg["forget_bias"])
    log = (lambda *a: None) if quiet else (lambda s: print(s, flush=True))
    deadline = t_start + 60 * max_minutes if max_minutes else None
    metrics, history = {"task": dataset, "vocab_size": K,
                        "chance_accuracy": 1 / _num_classes(dataset, K)}, {}

    # 1. gradient norm over time at initialisation (T = grad_T)
    T = cfg["grad_T"]
    batch = long_range_task(batch_size, T, K, dataset, np.random.default_rng([seed, 5]))
    n_classes = _num_classes(dataset, K)
    grad_curves = {}
    if "lstm" in archs and cfg["forget_bias"]:       # PyTorch's default init, for contrast
        manual_seed(seed)
        default = RecurrentClassifier("lstm", num_classes=n_classes,
                                      **{**model_kw, "forget_bias": 0.0})
        grad_curves["lstm, forget bias 0 (init)"] = gradient_norms_over_time(default, batch)
    for a in archs:
        manual_seed(seed)
        init_model = RecurrentClassifier(a, num_classes=n_classes, **model_kw)
        grad_curves[f"{a} (init)"] = gradient_norms_over_time(init_model, batch)

    # 2. accuracy versus T (and the gradient curves again after training at T = grad_T)
    lengths = [int(L) for L in cfg["lengths"]]
    acc, last_model = {}, None
    for a in archs:
        acc[a] = {}
        for L in lengths + ([] if T in lengths else [T]):
            model, info = train_classifier(a, L, task=dataset, steps=steps,
                                           batch_size=batch_size, lr=lr, clip=cfg["clip"],
                                           seed=seed, deadline=deadline, **model_kw)
            history[f"{a}_T{L}_loss"] = info["losses"]
            if L == T:
                grad_curves[f"{a} (trained)"] = gradient_norms_over_time(model, batch)
            if L not in lengths:
                continue
            acc[a][L] = info["test_accuracy"]
            log(f"accuracy {a:>4} T={L:<4} {info['test_accuracy']:.3f}  "
                f"({info['steps']} steps, {info['wall_s']:.1f} s)")
            if a == "lstm" or last_model is None or last_model[0] != "lstm":
                last_model = (a, model, L)
    for name, v in grad_curves.items():
        log(f"gradient norms at T={T}, {name:<26}: ||dL/dh_1|| = {v[0]:.2e}, "
            f"||dL/dh_T|| = {v[-1]:.2e}, ratio {v[0] / v[-1]:.2e}")
    metrics["grad_T"] = T
    metrics["grad_norm_ratio_first_to_last"] = {k: float(v[0] / v[-1])
                                                for k, v in grad_curves.items()}
    metrics["grad_norm_first_step"] = {k: float(v[0]) for k, v in grad_curves.items()}
    history["grad_norms"] = {k: v.tolist() for k, v in grad_curves.items()}
    metrics["accuracy_vs_length"] = {a: {str(L): v for L, v in d.items()}
                                     for a, d in acc.items()}
    for a in archs:                       # flat summaries (the CLI prints these)
        metrics[f"{a}_log10_grad_ratio_init_T{T}"] = math.log10(
            metrics["grad_norm_ratio_first_to_last"][f"{a} (init)"])
        if acc[a]:
            metrics[f"{a}_accuracy_T{max(acc[a])}"] = acc[a][max(acc[a])]

    # 3. exploding gradients without / with clipping
    ex_kw = dict(T=cfg["explode_T"], gain=cfg["explode_gain"], lr=cfg["explode_lr"],
                 steps=cfg["explode_steps"], seed=seed, vocab_size=K,
                 hidden_size=cfg["hidden_size"], batch_size=batch_size)
    explode = {"no clipping": exploding_gradients(None, **ex_kw),
               f"clip_grad_norm_({cfg['explode_max_norm']})":
                   exploding_gradients(cfg["explode_max_norm"], **ex_kw)}
    for name, r in explode.items():
        log(f"exploding, {name}: " + (
            f"loss non-finite at step {r['first_nonfinite_step']}" if not r["finite"] else
            f"loss {r['loss'][0]:.3g} -> {r['loss'][-1]:.3g}") +
            f", largest pre-clip grad norm {np.nanmax(r['grad_norm']):.3g}")
    metrics["exploding"] = {name: {"finite": r["finite"],
                                   "first_nonfinite_step": r["first_nonfinite_step"],
                                   "first_loss": r["loss"][0], "last_loss": r["loss"][-1],
                                   "max_grad_norm": float(np.nanmax(r["grad_norm"]))}
                            for name, r in explode.items()}
    history["exploding"] = explode
    wild, tamed = explode.values()
    metrics["unclipped_first_nonfinite_step"] = wild["first_nonfinite_step"] or 0
    metrics["clipped_final_loss"] = tamed["loss"][-1]

    # 4. truncated BPTT on 1,000 steps, and full BPTT through 1,000 steps
    tb = truncated_bptt(T=cfg["tbptt_T"], k=cfg["tbptt_k"], delay=cfg["tbptt_delay"],
                        epochs=epochs or cfg["tbptt_epochs"], batch_size=cfg["tbptt_batch"],
                        hidden_size=cfg["hidden_size"], vocab_size=K, seed=seed, log=log)
    deep = full_bptt_depth(cfg["tbptt_T"], forget_bias=cfg["forget_bias"] or 5.0, seed=seed)
    log(f"full BPTT through {deep['T']} LSTMCell steps: fine in {deep['wall_s']:.1f} s "
        f"(recursion limit {deep['recursion_limit']})")
    metrics["truncated_bptt"] = {"T": cfg["tbptt_T"], "k": cfg["tbptt_k"],
                                 "first_chunk_loss": tb["loss"][0],
                                 "last_epoch_loss": tb["epoch_loss"][-1],
                                 "epoch_loss": tb["epoch_loss"], "wall_s": tb["wall_s"]}
    metrics["full_bptt"] = deep
    history["truncated_bptt_loss"] = tb["loss"]

    checkpoint, plot_paths = None, []
    if out:
        from ..models import save_checkpoint
        os.makedirs(out, exist_ok=True)
        a, model, L = last_model
        checkpoint = save_checkpoint(model, os.path.join(out, "model.safetensors"),
                                     task=dataset, T=L, arch=a,
                                     test_accuracy=acc[a][L])
        if plots:
            from .. import viz_sequences as vs
            plot_paths = [
                vs.plot_gradient_norms(grad_curves, os.path.join(out, "gradient_norms.png"),
                                       title=f"||dL/dh_t|| on the {dataset} task, T={T}"),
                vs.plot_accuracy_vs_length(acc, os.path.join(out, "accuracy_vs_length.png"),
                                           chance=metrics["chance_accuracy"]),
                vs.plot_clipping(explode, os.path.join(out, "clipping.png")),
                vs.plot_truncated_bptt(tb["loss"], os.path.join(out, "truncated_bptt.png"),
                                       chunks_per_epoch=math.ceil(cfg["tbptt_T"] /
                                                                  cfg["tbptt_k"]),
                                       k=cfg["tbptt_k"]),
            ]
    wall = time.time() - t_start
    metrics["wall_s"] = wall
    if out:
        write_metrics(out, metrics, {**cfg, "seed": seed}, history)
    return {"metrics": metrics, "checkpoint": checkpoint, "plots": plot_paths, "wall_s": wall,
            "history": history}
