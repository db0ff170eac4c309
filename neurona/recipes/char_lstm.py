"""Karpathy's char-rnn: a character-level LSTM language model on tiny-shakespeare.

The model (:class:`neurona.models.RNNLanguageModel`) reads the text one character at a
time and predicts the next one; its loss is the cross-entropy in **nats per character**

    L = -(1/T) sum_t log P(x_{t+1} | x_1..x_t)       (ln 65 = 4.17 for a uniform guess)

(divide by ln 2 for bits per character; exp(L) is the per-character perplexity).

Training, as in char-rnn:

* a :class:`~neurona.text.CharTokenizer` fitted on the whole text (65 characters);
* a fixed split: the first 90% of the characters train, the last 10% validate (nanoGPT's
  ``shakespeare_char``); validation text is unseen, continuous prose;
* **truncated backpropagation through time**: the training text is laid out as
  ``batch_size`` parallel streams (:func:`~neurona.text.batchify`); each step reads the
  next ``seq_len`` characters of every stream, *starting from the state the previous
  step ended with* (detached, so gradients flow back ``seq_len`` steps only) -- the
  model sees far more context than one window;
* Adam with a cosine decay of the learning rate, gradient-norm clipping;
* every ``eval_every`` steps: the validation loss over the validation text (read the same
  way, state carried, dropout off), a sample printed, and the best model kept.

Results with :data:`DEFAULTS` (``neurona train char-lstm``; or
``python examples/12_char_lstm_shakespeare.py``), on this course's shared 2-core machine
with other training jobs running, ``OMP_NUM_THREADS=1``::

    python examples/12_char_lstm_shakespeare.py --out runs/char-lstm
    2 x LSTM 256, embedding 64, dropout 0.1, 876,929 parameters; Adam 2e-3 -> 2e-4,
    32 streams x 64 characters, 2,500 steps (5.1 passes, 5.1M characters):

    step            250    500    750   1000   1500   2000   2500
    val nats/char  2.184  1.920  1.810  1.712  1.631  1.598  1.582
    (train 1.472; val 1.582 nats = 2.28 bits per character, perplexity 4.87;
    the uniform guess is ln 65 = 4.17)

    wall time 15.1 min (903 s; 558 s of CPU time -- the job got 61% of one core) with
    other helpers' trainings running; an identical earlier run took 27.2 min on a
    busier machine. Same seed, same numbers: both runs printed the same losses.

A sample at temperature 0.8 from "ROMEO:" (the best checkpoint)::

    ROMEO:
    Gader thou was the absorjys, that heaven of the
    stay in the day path suck intreen to the wrattless.

    QUEEN ELIZABETH:
    And, ere I not here; my father,
    Fellow unginted to konder worse to him.
"""
from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from ._loop import CharRun, char_data, mean_nll, options as _options
from ._loop import char_metrics, plot_curves  # noqa: F401  (importable here, as before)
from ._report import log

__all__ = ["train", "DEFAULTS", "find_text", "load_text", "evaluate_loss", "DATASET"]

DATASET = "tiny-shakespeare"

DEFAULTS = dict(
    cell="lstm",            # 'lstm' | 'gru' | 'rnn'  (the ``arch`` argument)
    embedding_dim=64,       # 65 characters need few dimensions
    hidden_size=256,
    num_layers=2,
    dropout=0.1,
    seq_len=64,             # characters per truncated-BPTT window
    batch_size=32,          # parallel streams
    lr=2e-3,
    lr_min=2e-4,            # cosine decay from lr to lr_min over the run
    steps=2500,             # ~5 passes over the 1.0M training characters
    clip=1.0,               # gradient-norm clipping
    eval_every=250,
    eval_chars=None,        # validate on the whole validation text (None) or its first N
    val_fraction=0.1,
    sample_chars=200,       # length of the sample printed at each evaluation
    temperature=0.8,
    prompt="ROMEO:",
)


# ---------------------------------------------------------------------------- data
def _candidate_roots(data_dir) -> list[Path]:
    from ..datasets._files import data_search_path
    return data_search_path(data_dir)


def find_text(dataset: str = DATASET, data_dir=None) -> Path:
    """The text file to train on: ``dataset`` is ``'tiny-shakespeare'`` (its
    ``input.txt`` is looked for in ``data_dir/tiny-shakespeare/``, ``data_dir``, or --
    when ``data_dir`` is None -- $NEURONA_DATA, ./data, ../shared/data and the repository's
    neighbours) or the path of any plain-text file."""
    if os.path.isfile(str(dataset)):
        return Path(dataset)
    key = str(dataset).strip().lower().replace("_", "-")
    if key not in (DATASET, "shakespeare", "tinyshakespeare"):
        raise ValueError(f"char-lstm: unknown dataset {dataset!r}; use {DATASET!r} or the "
                         "path of a plain-text file")
    roots = _candidate_roots(data_dir)
    for root in roots:
        for cand in (root / DATASET / "input.txt", root / "input.txt"):
            if cand.is_file():
                return cand
    raise FileNotFoundError(
        f"char-lstm: tiny-shakespeare's input.txt not found (looked in "
        f"{', '.join(str(r / DATASET) for r in roots)}); pass data_dir= (the folder holding "
        "tiny-shakespeare/), or get it with neurona.datasets.tiny_shakespeare(download=True)")


def load_text(dataset: str = DATASET, data_dir=None, val_fraction: float = 0.1):
    """``(train_text, val_text, path)``: the first ``1 - val_fraction`` of the characters
    and the rest (a split at one point, the same every run)."""
    from ..datasets.text import text_corpus
    path = find_text(dataset, data_dir)
    train_text, val_text = text_corpus(path, val_fraction)
    return train_text, val_text, path


def _streams(ids, batch_size: int) -> np.ndarray:
    """(B, T) int64: the text cut into ``batch_size`` consecutive streams, one per row."""
    from ..text import batchify
    return batchify(ids, batch_size).numpy().T.copy()


# ---------------------------------------------------------------------------- evaluation
def evaluate_loss(model, streams: np.ndarray, seq_len: int = 256) -> float:
    """Mean cross-entropy (nats per character) of predicting every next character of
    ``streams`` (B, T), read in windows of ``seq_len`` with the state carried; no
    dropout, no gradients (:func:`._loop.mean_nll`). The model's train/eval mode is
    restored afterwards."""
    def windows():
        for start in range(0, streams.shape[1] - 1, seq_len):
            y = streams[:, start + 1:start + 1 + seq_len]
            yield streams[:, start:start + y.shape[1]], y
    return mean_nll(model, windows(), carry_state=True)


# ---------------------------------------------------------------------------- training
def train(dataset=DATASET, *, data_dir=None, out=None, arch=None, epochs=None, lr=None,
          batch_size=None, seed=0, max_steps=None, max_minutes=None, plots=True,
          quiet=False, **options) -> dict:
    """Train a char-LSTM; see the module docstring. Returns ``{"metrics", "checkpoint",
    "plots", "wall_s", "history", "model", "tokenizer", "sample"}`` (``model`` holds the
    best weights found).

    ``arch`` is the cell (``'lstm'``, ``'gru'``, ``'rnn'``); ``epochs`` (passes over the
    training text) replaces ``steps`` when given; ``max_steps``/``max_minutes`` cut the
    run short (the cosine schedule is planned for the full ``steps``, so a run cut by
    ``max_minutes`` ends at a higher learning rate than a finished one). ``options``
    override the other :data:`DEFAULTS` (``hidden_size=384``, ``seq_len=100``,
    ``eval_every=100``...). The sample at each evaluation is printed unless ``quiet``.
    The loop, evaluations, checkpoint and report are :class:`._loop.CharRun`'s.
    """
    import neurona as nt
    from .. import nn, optim
    from ..models import RNNLanguageModel, count_parameters, detach_state
    from ..creation import tensor

    cfg = _options("char_lstm", DEFAULTS, options, lr, batch_size)
    if arch is not None:
        cfg["cell"] = arch
    say = partial(log, quiet)
    t_start, cpu_start = time.perf_counter(), time.process_time()

    # data
    nt.manual_seed(seed)
    path, train_text, val_text, tokenizer, train_ids, val_ids = char_data(dataset, data_dir,
                                                                          cfg)
    V, B, T = tokenizer.vocab_size, cfg["batch_size"], cfg["seq_len"]
    train_streams = _streams(train_ids, B)
    val_streams = _streams(val_ids, min(16, max(1, len(val_ids) // (4 * T))))
    steps_per_epoch = (train_streams.shape[1] - 1) // T
    steps = cfg["steps"] if epochs is None else int(epochs) * steps_per_epoch
    if max_steps is not None:
        steps = min(steps, int(max_steps))
    say(f"char-lstm: {path} -- {len(train_text):,} train / {len(val_text):,} val characters, "
        f"{V} distinct; {B} streams x {T} characters per step, {steps_per_epoch} steps per "
        f"pass, {steps} steps")

    # model and optimiser
    model = RNNLanguageModel(V, cfg["embedding_dim"], cfg["hidden_size"], cfg["num_layers"],
                             cfg["dropout"], cell=cfg["cell"])
    optimizer = optim.Adam(model.parameters(), lr=cfg["lr"])
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps),
                                                     eta_min=cfg["lr_min"])
    loss_fn = nn.CrossEntropyLoss()
    n_params = count_parameters(model)
    say(f"  {model.name}: {cfg['num_layers']} x {cfg['cell'].upper()} {cfg['hidden_size']}, "
        f"embedding {cfg['embedding_dim']}, dropout {cfg['dropout']}: {n_params:,} parameters")

    # truncated BPTT over the streams: each step reads the next T characters of every
    # stream, starting from the (detached) state the previous step ended with
    carried = {"state": None, "position": 0}

    def one_step(step: int):
        state, position = carried["state"], carried["position"]
        if position + T + 1 > train_streams.shape[1]:       # a new pass: start over
            state, position = None, 0
        x = tensor(train_streams[:, position:position + T])
        y = tensor(train_streams[:, position + 1:position + T + 1])
        logits, state = model(x, state)
        carried["state"] = detach_state(state)               # gradients stop here
        carried["position"] = position + T
        loss = loss_fn(logits.reshape(-1, V), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        optimizer.step()
        scheduler.step()
        return loss.detach()          # read at the next evaluation, not now (no GPU wait)

    run = CharRun("char-lstm", model, tokenizer, optimizer, dataset=dataset, out=out,
                  seed=seed, quiet=quiet, lr=cfg["lr"], prompt=cfg["prompt"],
                  sample_chars=cfg["sample_chars"], temperature=cfg["temperature"],
                  steps_per_pass=steps_per_epoch, t_start=t_start, cpu_start=cpu_start)
    done = run.train(one_step, steps, cfg["eval_every"], max_minutes,
                     lambda: evaluate_loss(model, val_streams))
    hparams = dict(cfg, steps=steps, seed=seed, dataset=str(dataset))
    return run.finish(done, B * T, n_params, hparams, plots, "char-LSTM")


if __name__ == "__main__":
    train(out=sys.argv[1] if len(sys.argv) > 1 else "runs/char-lstm")
