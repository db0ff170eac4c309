"""A small GPT trained from scratch on tiny-shakespeare, one character per token.

The model (:class:`neurona.models.GPT`: token + position embeddings, pre-norm blocks of
causal self-attention and an MLP, weight tying) reads ``block_size`` characters and
predicts the next one at every position; the loss is the cross-entropy in **nats per
character**

    L = -(1/T) sum_t log P(x_{t+1} | x_1..x_t)       (ln 65 = 4.17 for a uniform guess)

Training follows nanoGPT's ``shakespeare_char`` recipe, scaled down to a 2-core CPU:

* the same data as :mod:`.char_lstm` (its :func:`~.char_lstm.load_text`): a
  :class:`~neurona.text.CharTokenizer` of 65 characters, the first 90% of the text to
  train, the last 10% to validate;
* each step reads ``batch_size`` **random windows** of ``block_size + 1`` characters of
  the training text: x = window[:-1], y = window[1:] (unlike the LSTM, no state is
  carried between steps -- the context is the window);
* AdamW (betas 0.9, 0.99), weight decay 0.1 on the matrices only (embeddings and Linear
  weights; biases and LayerNorm gains are not decayed), gradient-norm clipping at 1.0;
* the learning rate rises linearly over ``warmup`` steps, then follows a cosine from
  ``lr`` down to ``lr_min``. The cosine is planned over the run's budget, whichever of
  ``steps`` and ``max_minutes`` comes first: progress p = max(step / steps,
  elapsed / max_minutes), lr = lr_min + (lr - lr_min)(1 + cos(pi p)) / 2, so a run cut by
  the clock still ends with a small learning rate (at the price of not repeating
  exactly: the schedule depends on the machine's speed);
* every ``eval_every`` steps: the validation loss over the validation text cut into
  consecutive windows of ``block_size`` characters (dropout off), a sample printed
  (:func:`~neurona.models.generation.generate_text`, with the KV cache), and the best
  model kept (checkpoint with its tokenizer, so ``neurona generate`` reads it).

Results with :data:`DEFAULTS` (``OMP_NUM_THREADS=1 python examples/13_gpt_shakespeare.py``,
30 minutes, one thread) on the course's 2-core machine, sharing it with a fine-tuning run
on the other core (0.63 s per step on average)::

    4 layers x 4 heads, n_embd 128, block 128, dropout 0.1: 818,048 parameters;
    32 windows x 128 characters, AdamW 2e-3 -> 2e-4, 2,844 steps (11.6M characters)

    step            250    500   1000   1500   2000   2500   2844
    val nats/char  2.358  2.097  1.854  1.705  1.645  1.596  1.578
    (train 1.45; 2.28 bits per character, perplexity 4.84; ln 65 = 4.17 for a uniform guess)

A sample at temperature 0.8 after those 30 minutes::

    ROMEO:
    Ha! which Comillanus speaks to be his fiends;
    One grace that ancient such diving on thy proclouds:
    I to not so rather, but as it news the hand.

(An earlier run on a more crowded machine, 1.15 s per step for its first 15 minutes, got
2,768 steps and 1.617: the result depends on how many steps the 30 minutes allow.)
"""
from __future__ import annotations

import math
import sys
import time
from functools import partial

import numpy as np

from ._loop import CharRun, char_data, mean_nll, options as _options
from ._loop import plot_curves as _plot_curves
from ._report import log
from .char_lstm import DATASET

__all__ = ["train", "DEFAULTS", "evaluate_loss", "random_windows", "val_windows",
           "lr_at", "param_groups"]

DEFAULTS = dict(
    block_size=128,         # characters of context (the window)
    n_layer=4,
    n_head=4,
    n_embd=128,             # d; each head has d_k = n_embd / n_head = 32
    dropout=0.1,
    batch_size=32,          # windows per step
    lr=2e-3,
    lr_min=2e-4,
    warmup=100,             # steps of linear warm-up
    weight_decay=0.1,       # on matrices only
    beta2=0.99,             # nanoGPT's choice for small data (few tokens per step)
    steps=6000,             # the step budget; max_minutes usually ends the run first
    clip=1.0,
    eval_every=250,
    eval_chars=None,        # validate on the whole validation text (None) or its first N
    val_fraction=0.1,
    sample_chars=100,       # length of the sample printed at each evaluation
    temperature=0.8,
    prompt="ROMEO:",
)

FULL_RUN_MINUTES = 30       # ``max_minutes`` when neither it nor ``max_steps`` is given


# ---------------------------------------------------------------------------- batches
def random_windows(ids: np.ndarray, batch_size: int, block_size: int,
                   rng: np.random.Generator):
    """``(x, y)``, each (batch_size, block_size) int64: random windows of the text ``ids``
    and the same windows shifted by one character (the next character at every
    position)."""
    if len(ids) < block_size + 2:
        raise ValueError(f"gpt-char: the text has {len(ids)} characters, fewer than "
                         f"block_size + 2 = {block_size + 2}; lower block_size")
    starts = rng.integers(0, len(ids) - block_size - 1, size=batch_size)
    idx = starts[:, None] + np.arange(block_size + 1)[None, :]
    w = ids[idx]
    return w[:, :-1], w[:, 1:]


def val_windows(ids: np.ndarray, block_size: int):
    """``(x, y)``, each (n, block_size): the text cut into consecutive, non-overlapping
    windows (every character but the first is predicted exactly once; the tail that does
    not fill a window is left out)."""
    n = (len(ids) - 1) // block_size
    if n < 1:
        raise ValueError(f"gpt-char: the validation text has {len(ids)} characters, "
                         f"fewer than block_size + 1 = {block_size + 1}")
    idx = np.arange(n)[:, None] * block_size + np.arange(block_size + 1)[None, :]
    w = ids[idx]
    return w[:, :-1], w[:, 1:]


def evaluate_loss(model, x: np.ndarray, y: np.ndarray, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per character) of the next characters ``y`` given the
    windows ``x`` (both (n, T)), ``batch_size`` windows at a time, each read afresh (no
    state carried); no dropout, no gradients, the model's mode restored
    (:func:`._loop.mean_nll`)."""
    batches = ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size))
    return mean_nll(model, batches)


# ---------------------------------------------------------------------------- optimisation
def lr_at(progress: float, step: int, cfg: dict) -> float:
    """Linear warm-up over ``cfg['warmup']`` steps, then a cosine from ``lr`` to ``lr_min``
    as ``progress`` goes from 0 to 1."""
    if step < cfg["warmup"]:
        return cfg["lr"] * (step + 1) / cfg["warmup"]
    p = min(1.0, max(0.0, progress))
    return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1.0 + math.cos(math.pi * p))


def param_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: matrices (ndim >= 2: embeddings, Linear weights) decayed, vectors
    (biases, LayerNorm gains and shifts) not. A tied weight is listed once."""
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


# ---------------------------------------------------------------------------- training
def train(dataset=DATASET, *, data_dir=None, out=None, arch=None, epochs=None, lr=None,
          batch_size=None, seed=0, max_steps=None, max_minutes=None, plots=True,
          quiet=False, **options) -> dict:
    """Train a character-level GPT; see the module docstring. Returns ``{"metrics",
    "checkpoint", "plots", "wall_s", "history", "model", "tokenizer", "sample"}``
    (``model`` holds the best weights found).

    ``arch`` is ignored unless it is ``None`` or ``'gpt'`` (one architecture); ``epochs``
    (passes' worth of characters over the training text) replaces ``steps`` when given;
    ``max_steps`` caps the steps; ``max_minutes`` stops the run (default
    :data:`FULL_RUN_MINUTES` when neither ``max_steps`` nor ``max_minutes`` is given).
    ``options`` override the other :data:`DEFAULTS` (``n_embd=192``, ``block_size=256``,
    ``eval_every=100``...). The sample at each evaluation is printed unless ``quiet``.
    """
    import neurona as nt
    from .. import nn, optim
    from ..models import GPT, count_parameters
    from ..creation import tensor

    cfg = _options("gpt_char", DEFAULTS, options, lr, batch_size)
    if arch not in (None, "gpt"):
        raise ValueError(f"gpt_char.train: arch must be 'gpt' (or None), got {arch!r}")
    for key in ("block_size", "n_layer", "n_head", "n_embd", "batch_size", "steps",
                "eval_every"):
        if int(cfg[key]) < 1:
            raise ValueError(f"gpt_char.train: {key} must be a positive integer, got "
                             f"{cfg[key]!r}")
    if not 0.0 <= float(cfg["dropout"]) < 1.0:
        raise ValueError(f"gpt_char.train: dropout must be in [0, 1), got {cfg['dropout']}")
    if not (float(cfg["lr"]) > 0 and 0 <= float(cfg["lr_min"]) <= float(cfg["lr"])):
        raise ValueError(f"gpt_char.train: need lr > 0 and 0 <= lr_min <= lr, got "
                         f"lr={cfg['lr']}, lr_min={cfg['lr_min']}")
    if max_minutes is None and max_steps is None:
        max_minutes = FULL_RUN_MINUTES
    say = partial(log, quiet)
    t_start, cpu_start = time.perf_counter(), time.process_time()

    # data
    nt.manual_seed(seed)
    rng = np.random.default_rng(seed)
    path, train_text, val_text, tokenizer, train_ids, val_ids = char_data(dataset, data_dir,
                                                                          cfg)
    V, B, T = tokenizer.vocab_size, int(cfg["batch_size"]), int(cfg["block_size"])
    val_x, val_y = val_windows(val_ids, T)
    steps = int(cfg["steps"]) if epochs is None else max(1, int(
        float(epochs) * len(train_ids) / (B * T)))
    if max_steps is not None:
        steps = min(steps, int(max_steps))
    budget_s = None if max_minutes is None else 60.0 * float(max_minutes)
    say(f"gpt-char: {path} -- {len(train_text):,} train / {len(val_text):,} val characters, "
        f"{V} distinct; {B} random windows x {T} characters per step, {steps} steps"
        + (f" or {max_minutes} minutes" if budget_s else ""))

    # model and optimiser
    model = GPT(V, T, int(cfg["n_layer"]), int(cfg["n_head"]), int(cfg["n_embd"]),
                dropout=float(cfg["dropout"]))
    optimizer = optim.AdamW(param_groups(model, cfg["weight_decay"]), lr=cfg["lr"],
                            betas=(0.9, cfg["beta2"]))
    loss_fn = nn.CrossEntropyLoss()
    n_params = count_parameters(model)
    say(f"  GPT: {cfg['n_layer']} layers x {cfg['n_head']} heads, n_embd {cfg['n_embd']}, "
        f"block {T}, dropout {cfg['dropout']}: {n_params:,} parameters; validation on "
        f"{len(val_x)} windows")

    run = CharRun("gpt-char", model, tokenizer, optimizer, dataset=dataset, out=out,
                  seed=seed, quiet=quiet, lr=cfg["lr"], prompt=cfg["prompt"],
                  sample_chars=max(0, min(int(cfg["sample_chars"] or 0),
                                          T - len(cfg["prompt"]))),
                  temperature=cfg["temperature"], show_lr=True, t_start=t_start,
                  cpu_start=cpu_start)

    def one_step(step: int):
        """Set the learning rate (:func:`lr_at`), then one AdamW step on random windows."""
        progress = max(step / steps, run.elapsed() / budget_s if budget_s else 0.0)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(progress, step, cfg)
        xb, yb = random_windows(train_ids, B, T, rng)
        logits, _ = model(tensor(xb))
        loss = loss_fn(logits.reshape(-1, V), tensor(yb).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        optimizer.step()
        return loss.detach()          # read at the next evaluation, not now (no GPU wait)

    done = run.train(one_step, steps, cfg["eval_every"], max_minutes,
                     lambda: evaluate_loss(model, val_x, val_y))
    hparams = dict(cfg, steps=steps, seed=seed, dataset=str(dataset),
                   max_minutes=max_minutes)
    return run.finish(done, B * T, n_params, hparams, plots, "character-level GPT")


def plot_curves(history: dict, path) -> str:
    """The loss curves (train, validation) of a run: :func:`._loop.plot_curves`."""
    return _plot_curves(history, path, model_name="character-level GPT")


if __name__ == "__main__":
    train(out=sys.argv[1] if len(sys.argv) > 1 else "runs/gpt-char")
