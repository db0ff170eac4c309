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

import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ._report import write_metrics

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
    dropout, no gradients. The model's train/eval mode is restored afterwards."""
    from .. import nn, no_grad
    from ..creation import tensor
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, count, state = 0.0, 0, None
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for start in range(0, streams.shape[1] - 1, seq_len):
                x = streams[:, start:start + seq_len]
                y = streams[:, start + 1:start + 1 + seq_len]
                x = x[:, :y.shape[1]]
                logits, state = model(tensor(x), state)
                total += float(loss_fn(logits.reshape(-1, logits.shape[-1]),
                                       tensor(y.reshape(-1))).item())
                count += y.size
    finally:
        model.train(was_training)
    return total / count


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
    """
    import neurona as nt
    from .. import nn, optim
    from ..models import RNNLanguageModel, count_parameters, detach_state, save_checkpoint
    from ..models.generation import generate_text
    from ..creation import tensor
    from ..text import CharTokenizer

    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"char_lstm.train: unknown options {sorted(unknown)}; the options "
                        f"are {sorted(DEFAULTS)}")
    cfg = dict(DEFAULTS, **options)
    if arch is not None:
        cfg["cell"] = arch
    if lr is not None:
        cfg["lr"] = lr
    if batch_size is not None:
        cfg["batch_size"] = batch_size
    say = (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, flush=True))
    t_start, cpu_start = time.perf_counter(), time.process_time()

    # data
    nt.manual_seed(seed)
    train_text, val_text, path = load_text(dataset, data_dir, cfg["val_fraction"])
    tokenizer = CharTokenizer().fit(train_text + val_text)
    V, B, T = tokenizer.vocab_size, cfg["batch_size"], cfg["seq_len"]
    train_streams = _streams(tokenizer.encode(train_text), B)
    val_ids = tokenizer.encode(val_text if cfg["eval_chars"] is None
                               else val_text[:cfg["eval_chars"]])
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

    history = {"step": [], "train_loss": [], "val_loss": [], "lr": [], "elapsed_s": []}
    best = {"val_loss": math.inf, "step": 0, "weights": None}
    out = Path(out) if out is not None else None
    ckpt_path = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        ckpt_path = out / "model.safetensors"
    sample = ""

    def evaluate_and_keep(step: int, train_loss: float):
        nonlocal sample, ckpt_path
        val = evaluate_loss(model, val_streams)
        elapsed = time.perf_counter() - t_start
        for k, v in zip(history, (step, train_loss, val, optimizer.param_groups[0]["lr"],
                                  elapsed)):
            history[k].append(v)
        mark = ""
        if val < best["val_loss"]:
            best.update(val_loss=val, step=step,
                        weights={k: v.detach().clone() for k, v in model.state_dict().items()})
            mark = " *"
            if out is not None:
                save_checkpoint(model, ckpt_path, tokenizer=tokenizer.to_dict(), dataset=str(dataset),
                      step=step, val_loss=val)
        say(f"  step {step:5d} (pass {step / steps_per_epoch:4.2f})  train {train_loss:.3f}  "
            f"val {val:.3f} nats/char ({val / math.log(2):.2f} bits){mark}  "
            f"{elapsed / 60:5.1f} min")
        if not quiet and cfg["sample_chars"]:
            sample = generate_text(model, tokenizer, cfg["prompt"], cfg["sample_chars"],
                                   temperature=cfg["temperature"], seed=seed)
            say("    | " + (cfg["prompt"] + sample).replace("\n", "\n    | "))

    # truncated BPTT over the streams
    model.train()
    state, position, step = None, 0, 0
    running, n_running = 0.0, 0
    deadline = None if max_minutes is None else t_start + 60.0 * float(max_minutes)
    while step < steps:
        if position + T + 1 > train_streams.shape[1]:       # a new pass: start over
            state, position = None, 0
        x = tensor(train_streams[:, position:position + T])
        y = tensor(train_streams[:, position + 1:position + T + 1])
        position += T
        logits, state = model(x, state)
        state = detach_state(state)                          # gradients stop here
        loss = loss_fn(logits.reshape(-1, V), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        optimizer.step()
        scheduler.step()
        step += 1
        value = float(loss.item())
        if not math.isfinite(value):
            raise FloatingPointError(f"char-lstm: the loss became {value} at step {step}; "
                                     f"lower the learning rate (lr={cfg['lr']})")
        running, n_running = running + value, n_running + 1
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if step % cfg["eval_every"] == 0 or step == steps or out_of_time:
            evaluate_and_keep(step, running / n_running)
            running, n_running = 0.0, 0
        if out_of_time:
            say(f"  stopped after {max_minutes} minutes (max_minutes)")
            break

    if best["weights"] is not None:
        model.load_state_dict(best["weights"])
    model.eval()
    metrics = char_metrics(best, history, step, B * T, n_params, V, t_start, cpu_start, say)
    wall = metrics["wall_s"]

    plot_paths = []
    if out is not None:
        hparams = dict(cfg, steps=steps, seed=seed, dataset=str(dataset))
        write_metrics(out, metrics, hparams, history)
        if sample:
            (out / "sample.txt").write_text(cfg["prompt"] + sample + "\n", encoding="utf-8")
        if plots and history["step"]:
            plot_paths.append(plot_curves(history, out / "loss_curves.png"))
    return {"metrics": metrics, "checkpoint": str(ckpt_path) if ckpt_path else None,
            "plots": plot_paths, "wall_s": wall, "history": history, "model": model,
            "tokenizer": tokenizer, "sample": sample}


def char_metrics(best: dict, history: dict, step: int, chars_per_step: int, n_params: int,
                 vocab_size: int, t_start: float, cpu_start: float, say) -> dict:
    """The numbers a character-level LM run reports (best validation loss in nats and bits
    per character, perplexity, steps, time), and the one line that says them."""
    wall = time.perf_counter() - t_start
    val = best["val_loss"]
    say(f"  best val loss {val:.4f} nats/char ({val / math.log(2):.3f} bits/char, "
        f"perplexity {math.exp(val):.2f}) at step {best['step']}; {wall / 60:.1f} min")
    return {"val_loss": val, "val_bits_per_char": val / math.log(2),
            "val_perplexity": math.exp(val), "best_step": best["step"], "steps": step,
            "train_loss": history["train_loss"][-1] if history["train_loss"] else None,
            "characters_seen": step * chars_per_step, "parameters": n_params, "wall_s": wall,
            "cpu_s": time.process_time() - cpu_start, "vocab_size": vocab_size}


def plot_curves(history: dict, path, model_name: str = "char-LSTM") -> str:
    """Training (mean over the steps since the last evaluation) and validation loss, in
    nats per character, against the step (:func:`neurona.viz_text.plot_training_curves`)."""
    from ..viz_text import plot_training_curves
    steps = history["step"]
    best = min(history["val_loss"])
    return plot_training_curves(
        {"train (running mean)": (steps, history["train_loss"]),
         "validation": (steps, history["val_loss"])}, path, xlabel="step",
        ylabel="cross-entropy (nats per character)",
        title=f"{model_name} on tiny-shakespeare (best validation {best:.3f})")


if __name__ == "__main__":
    train(out=sys.argv[1] if len(sys.argv) > 1 else "runs/char-lstm")
