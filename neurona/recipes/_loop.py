"""The training loop the two character-level language models share.

:mod:`.char_lstm` (an LSTM reading the text as parallel streams, state carried) and
:mod:`.gpt_char` (a GPT reading random windows, no state) differ in their model, their
batches and their learning-rate schedule -- and in nothing else. What they share is here:

* :func:`options` -- the recipe's :data:`DEFAULTS` overridden by the caller's options;
* :func:`char_data` -- tiny-shakespeare split 90/10, one :class:`~neurona.text.CharTokenizer`;
* :func:`mean_nll` -- the validation loss, the mean cross-entropy in nats per character

      L = -(1/n) sum_i log P(y_i | x)       over every next character y_i,

  read window by window (dropout off, no gradients);
* :class:`CharRun` -- the loop itself::

      run = CharRun("gpt-char", model, tokenizer, optimizer, ...)
      run.train(one_step, steps, eval_every, max_minutes, validate)
      return run.finish(...)

  ``one_step(step)`` does one optimisation step and returns its loss; every
  ``eval_every`` steps (and at the last step, and when the time budget ``max_minutes``
  is spent) the run measures ``validate()``, records it in ``history``, keeps the best
  weights (and writes them to ``out/model.safetensors``), prints one line and a sample.
  ``finish`` puts the best weights back and writes ``metrics.json``, ``sample.txt`` and
  the loss curves.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from ._report import log, write_metrics

__all__ = ["options", "char_data", "mean_nll", "CharRun", "char_metrics", "plot_curves",
           "example_main"]


def options(name: str, defaults: dict, given: dict, lr=None, batch_size=None) -> dict:
    """``defaults`` overridden by ``given`` (and by ``lr``/``batch_size`` when not None);
    an option ``defaults`` does not have raises a TypeError that lists the options."""
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(f"{name}.train: unknown options {sorted(unknown)}; the options "
                        f"are {sorted(defaults)}")
    cfg = dict(defaults, **given)
    if lr is not None:
        cfg["lr"] = lr
    if batch_size is not None:
        cfg["batch_size"] = batch_size
    return cfg


def char_data(dataset, data_dir, cfg: dict):
    """``(path, train_text, val_text, tokenizer, train_ids, val_ids)``: the text split at
    ``1 - cfg['val_fraction']`` (:func:`.char_lstm.load_text`), a character tokenizer
    fitted on all of it, and both parts as int64 ids -- the validation part cut to its
    first ``cfg['eval_chars']`` characters unless that is None."""
    from ..text import CharTokenizer
    from .char_lstm import load_text
    train_text, val_text, path = load_text(dataset, data_dir, cfg["val_fraction"])
    tokenizer = CharTokenizer().fit(train_text + val_text)
    if cfg["eval_chars"] is not None:
        val_text_used = val_text[:cfg["eval_chars"]]
    else:
        val_text_used = val_text
    train_ids = np.asarray(tokenizer.encode(train_text), dtype=np.int64)
    val_ids = np.asarray(tokenizer.encode(val_text_used), dtype=np.int64)
    return path, train_text, val_text, tokenizer, train_ids, val_ids


def mean_nll(model, windows, carry_state: bool = False) -> float:
    """Mean cross-entropy (nats per character) of the next characters: ``windows`` yields
    ``(x, y)`` int arrays of the same shape (N, T), y the characters after x; the model
    is run as ``model(x, state) -> (logits (N, T, V), state)``. With ``carry_state`` the
    state one window ends with starts the next (an RNN reading a stream); without, every
    window starts afresh (a Transformer's context is its window). Dropout off and no
    gradients; the model's train/eval mode is restored afterwards."""
    from .. import nn, no_grad
    from ..creation import tensor
    from ..ops import stack
    from ..train.readings import to_host
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    sums, count, state = [], 0, None       # the windows' loss sums stay on the device
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for x, y in windows:
                logits, new_state = model(tensor(x), state)
                if carry_state:
                    state = new_state
                sums.append(loss_fn(logits.reshape(-1, logits.shape[-1]),
                                    tensor(y.reshape(-1))).double())
                count += y.size
    finally:
        model.train(was_training)
    total = 0.0
    for v in (to_host(stack(sums)) if sums else ()):      # one read, summed in order
        total += float(v)
    return total / count


class CharRun:
    """One training run of a character-level model: the loop, the evaluations, the best
    weights and what is written to ``out``. ``steps_per_pass`` (steps that read the
    training text once) adds ``(pass p)`` to the log line, ``show_lr`` the learning
    rate; ``sample_chars`` characters are sampled from ``prompt`` at each evaluation
    (none when 0 or ``quiet``)."""

    def __init__(self, name: str, model, tokenizer, optimizer, *, dataset, out, seed: int,
                 quiet: bool, lr: float, prompt: str, sample_chars: int, temperature: float,
                 steps_per_pass: int | None = None, show_lr: bool = False,
                 t_start: float | None = None, cpu_start: float | None = None):
        self.name, self.model, self.tokenizer, self.optimizer = name, model, tokenizer, optimizer
        self.dataset, self.seed, self.quiet, self.lr = str(dataset), seed, quiet, lr
        self.prompt, self.sample_chars, self.temperature = prompt, sample_chars, temperature
        self.steps_per_pass, self.show_lr = steps_per_pass, show_lr
        self.t_start = time.perf_counter() if t_start is None else t_start
        self.cpu_start = time.process_time() if cpu_start is None else cpu_start
        self.history = {"step": [], "train_loss": [], "val_loss": [], "lr": [],
                        "elapsed_s": []}
        self.best = {"val_loss": math.inf, "step": 0, "weights": None}
        self.sample = ""
        self.out = Path(out) if out is not None else None
        self.ckpt_path = None
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            self.ckpt_path = self.out / "model.safetensors"

    def say(self, *args) -> None:
        log(self.quiet, *args)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.t_start

    # ------------------------------------------------------------------ the loop
    def train(self, one_step, steps: int, eval_every: int, max_minutes, validate) -> int:
        """Call ``one_step(step)`` (step = 0, 1, ...; it returns the step's loss, a 0-d
        tensor or a number) until ``steps`` steps are done or ``max_minutes`` have passed
        since the run started; evaluate (:meth:`evaluate`) every ``eval_every`` steps, at
        the last step and when stopped by the clock. Returns the number of steps done.

        The steps' losses stay on the device until an evaluation reads them all at once
        (one device-to-host copy, no per-step wait for the GPU); a NaN is reported then,
        with the step that first produced it."""
        budget_s = None if max_minutes is None else 60.0 * float(max_minutes)
        self.model.train()
        step, pending = 0, []
        while step < steps:
            value = one_step(step)
            step += 1
            if not isinstance(value, Tensor):     # a number is on the host: check it now
                self._read_losses([value], first_step=step)
            pending.append(value)
            out_of_time = budget_s is not None and self.elapsed() > budget_s
            if step % eval_every == 0 or step == steps or out_of_time:
                values = self._read_losses(pending, first_step=step - len(pending) + 1)
                pending = []
                self.evaluate(step, sum(float(v) for v in values) / len(values), validate())
            if out_of_time:
                self.say(f"  stopped after {max_minutes} minutes (max_minutes)")
                break
        return step

    def _read_losses(self, losses: list, first_step: int):
        """The losses as a NumPy array (one host copy); FloatingPointError at the first
        one that is not finite (``first_step`` is the step number of ``losses[0]``)."""
        from ..ops import stack
        from ..train.readings import to_host
        if all(isinstance(v, Tensor) for v in losses):
            values = to_host(stack([v.detach().reshape(()).double() for v in losses]))
        else:
            values = np.array([float(v) for v in losses], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise FloatingPointError(
                f"{self.name}: the loss became {values[bad[0]]} at step "
                f"{first_step + int(bad[0])}; lower the learning rate (lr={self.lr})")
        return values

    def evaluate(self, step: int, train_loss: float, val: float) -> None:
        """Record one evaluation: history, best weights (and checkpoint), a log line, a
        sample."""
        from ..models import save_checkpoint
        from ..models.generation import generate_text
        elapsed = self.elapsed()
        lr = self.optimizer.param_groups[0]["lr"]
        for k, v in zip(self.history, (step, train_loss, val, lr, elapsed)):
            self.history[k].append(v)
        mark = ""
        if val < self.best["val_loss"]:
            weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.best.update(val_loss=val, step=step, weights=weights)
            mark = " *"
            if self.ckpt_path is not None:
                save_checkpoint(self.model, self.ckpt_path,
                                tokenizer=self.tokenizer.to_dict(), dataset=self.dataset,
                                step=step, val_loss=val)
        where = f" (pass {step / self.steps_per_pass:4.2f})" if self.steps_per_pass else ""
        lr_note = f"  lr {lr:.2e}" if self.show_lr else ""
        self.say(f"  step {step:5d}{where}  train {train_loss:.3f}  val {val:.3f} nats/char "
                 f"({val / math.log(2):.2f} bits){mark}{lr_note}  {elapsed / 60:5.1f} min")
        if not self.quiet and self.sample_chars:
            self.sample = generate_text(self.model, self.tokenizer, self.prompt,
                                        self.sample_chars, temperature=self.temperature,
                                        seed=self.seed)
            self.say("    | " + (self.prompt + self.sample).replace("\n", "\n    | "))

    # ------------------------------------------------------------------ the end
    def finish(self, steps_done: int, chars_per_step: int, n_params: int, hparams: dict,
               plots: bool, model_name: str) -> dict:
        """Put the best weights back, report, write ``metrics.json`` (with ``hparams``),
        ``sample.txt`` and (``plots``) ``loss_curves.png`` to ``out``. Returns the
        recipe's result ``{"metrics", "checkpoint", "plots", "wall_s", "history",
        "model", "tokenizer", "sample"}``."""
        if self.best["weights"] is not None:
            self.model.load_state_dict(self.best["weights"])
        self.model.eval()
        metrics = char_metrics(self.best, self.history, steps_done, chars_per_step,
                               n_params, self.tokenizer.vocab_size, self.t_start,
                               self.cpu_start, self.say)
        plot_paths = []
        if self.out is not None:
            write_metrics(self.out, metrics, hparams, self.history)
            if self.sample:
                (self.out / "sample.txt").write_text(self.prompt + self.sample + "\n",
                                                     encoding="utf-8")
            if plots and self.history["step"]:
                plot_paths.append(plot_curves(self.history, self.out / "loss_curves.png",
                                              model_name))
        return {"metrics": metrics,
                "checkpoint": str(self.ckpt_path) if self.ckpt_path else None,
                "plots": plot_paths, "wall_s": metrics["wall_s"], "history": self.history,
                "model": self.model, "tokenizer": self.tokenizer, "sample": self.sample}


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


def example_main(recipe, argv, description: str, out: str, max_minutes=None) -> dict:
    """The command line of ``examples/12`` and ``examples/13``: train a character model
    with ``recipe.train`` (:mod:`.char_lstm` or :mod:`.gpt_char`), print the validation
    loss, then reload the best checkpoint as a user would and stream a sample from
    ``--prompt`` (longer than a GPT's window: ``generate_text`` slides it).  Returns the
    recipe's result."""
    import argparse
    from ..models.generation import generate_text, load_causal_lm
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", help="the folder holding tiny-shakespeare/ "
                                           "(default: ./data, ../shared/data)")
    parser.add_argument("--out", default=out, help="where the checkpoint, metrics.json "
                        f"and loss_curves.png go (default {out})")
    parser.add_argument("--max-minutes", type=float, default=max_minutes,
                        help="stop training after this long (default %(default)s)")
    parser.add_argument("--max-steps", type=int, help="stop training after this many steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--chars", type=int, default=500, help="length of the final sample")
    args = parser.parse_args(argv)

    result = recipe.train(data_dir=args.data_dir, out=args.out, seed=args.seed,
                          max_minutes=args.max_minutes, max_steps=args.max_steps)
    m = result["metrics"]
    print(f"\nvalidation loss {m['val_loss']:.3f} nats/char ({m['val_bits_per_char']:.2f} "
          f"bits/char) at step {m['best_step']} of {m['steps']}, "
          f"{result['wall_s'] / 60:.1f} min; checkpoint {result['checkpoint']}")
    model, tokenizer = load_causal_lm(result["checkpoint"])
    print(f"\n--- {args.chars} characters at temperature {args.temperature} ---\n")
    sys.stdout.write(args.prompt)
    generate_text(model, tokenizer, args.prompt, args.chars, temperature=args.temperature,
                  seed=args.seed, stream=sys.stdout)
    print()
    return result
