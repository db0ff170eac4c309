"""Fine-tuning a pretrained encoder (all-MiniLM-L6-v2) for sentiment on rt-polarity.

    from neurona.recipes import finetune
    r = finetune.train(arch="head", out="runs/finetune-head")      # frozen encoder, minutes
    r = finetune.train(arch="lora", out="runs/finetune-lora")
    r = finetune.train(arch="full", out="runs/finetune-full")      # 3 epochs, ~15-20 min
    r["metrics"]["test_accuracy"], r["metrics"]["trainable_parameters"]
    finetune.predict("runs/finetune-head", ["a gorgeous , witty film", "a dull mess"])

The data and split are the sentiment recipe's (:func:`neurona.recipes.sentiment.load_data`:
the fixed 9,596 / 1,066 train/test split, 10% of train held out for validation, which
picks the checkpoint).  The model is :class:`~neurona.models.classifier_heads.
SentenceClassifier`: MiniLM, mean pooling over the real tokens, dropout, Linear(384, 2).
The three modes (``arch``):

* ``head`` -- the encoder is frozen, so each snippet's embedding u is computed once
  (no_grad) and only the head (770 parameters) trains, on the cached u (Adam).
* ``full`` -- all 22.7M parameters train: AdamW, lr 5e-5, linear warm-up (10% of the
  steps) then linear decay to 0, 3 epochs; options ``layer_decay`` (layer-wise
  learning-rate decay) and ``head_lr`` (see :func:`param_groups`).
* ``lora`` -- LoRA adapters (r = 8, alpha = 16) on the attention's query, key and value
  projections (``options["targets"]``), plus the head: AdamW lr 1e-3, same schedule.

For ``full`` and ``lora``, ``average=k`` also validates the mean of the weights at the last
k validations (checkpoint averaging) and keeps it when validation does not get worse;
``device="cuda"`` trains on a GPU.

Measured on the course's 2-core machine (seed 0 unless said; one thread per run, two runs
at a time; validation twice per epoch; one epoch = 270 steps of 32)::

    mode  trainable   settings                               val acc  test acc  wall
    head         770  Adam 1e-2, 30 epochs on cached u        0.780     0.752   13.5 min
    lora      74,498  r 8 on query, value; 1 epoch            0.799     0.803   17.8 min
    lora     111,362  r 8 on query, key, value; 3 epochs      0.819     0.817    9.0 min
    full  22,713,986  lr 3e-5, 1 epoch                        0.802     0.808   19.6 min
    full  22,713,986  lr 5e-5, 3 epochs (the defaults)        0.851     0.836   19.5 min
    full  22,713,986  lr 8e-5, 3 epochs                       0.858     0.835   20.3 min
    full  22,713,986  lr 5e-5, 3 epochs, seed 1               0.834     0.827   20.4 min
    full  22,713,986  lr 5e-5, 2 epochs                       0.841     0.829   12.5 min
    full  22,713,986  lr 3e-5, batch 16, 3 epochs             0.851     0.829   15.3 min
    full  22,713,986  lr 1e-4, layer_decay 0.85, head 1e-3    0.851     0.827   12.7 min

The models trained from scratch in :mod:`.sentiment` reach 0.76-0.78; full fine-tuning
reaches 0.83-0.84 (best 0.836, every full run's best checkpoint at the end of its second
epoch); one standard error on 1,066 test snippets is 1.1 points, so the full runs are level.

A sweep on a GPU (``python examples/16_finetune_sweep.py --device cuda --workers 12 ...``,
an H100, ``device="cuda"``: 1.5-3 minutes per 3-epoch run with 8-16 runs sharing the GPU)
ran 30 full fine-tunings on one validation split (``split_seed=0``; seeds 0-6 drawing the
head, dropout and batch order), all with ``average=3``::

    lr     epochs  runs  test mean  sd     min    max    validation mean
    3e-5   3       4     0.829      0.008  0.818  0.835  0.843
    3e-5   4       4     0.832      0.006  0.826  0.840  0.850
    5e-5   3       7     0.829      0.008  0.818  0.841  0.855
    8e-5   3       7     0.831      0.006  0.825  0.841  0.861
    1e-4   3       4     0.833      0.006  0.827  0.841  0.860
    1e-4   4 (*)   4     0.826      0.011  0.812  0.838  0.857
    (*) stopped by the sweep's time limit after 959-991 of 1,080 steps

So full fine-tuning of MiniLM on this split gives 0.830 +- 0.007 test accuracy (30 runs);
3 of the 30 reach 0.84.  The pick by validation (0.8635, shared by three runs) has test
accuracies 0.8405, 0.8283 and 0.8405.  Checkpoint averaging (``average=3``) won on
validation in 5 of the 30 runs and changed their test accuracy by -0.6 to +0.7 points
(mean -0.1): no gain, so it stays off by default.

The run folder holds ``finetune.safetensors`` (the *trainable* tensors only -- the head,
the adapters, or for ``full`` the whole model -- with the mode, the hyperparameters and
the tokenizer; the frozen weights are re-read from the pretrained folder),
``metrics.json`` and ``training_curves.png`` (losses and validation accuracy).
"""
from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..nn import functional as F
from ..parallel import get_num_threads, parallel_map
from ..random import manual_seed
from ..tensor import Tensor
from ..train.readings import read_scalars
from ._report import log, write_metrics

__all__ = ["train", "predict", "load_finetuned", "DEFAULTS", "embed_texts", "plot_curves",
           "average_states"]

DATASET = "rt-polarity"
LABEL_NAMES = ["negative", "positive"]
FILE = "finetune.safetensors"

_COMMON = dict(max_length=128, val_fraction=0.1, dropout=0.1, weight_decay=0.01,
               warmup=0.1, eval_batch_size=64, layer_decay=1.0, head_lr=None, average=0)
DEFAULTS = {
    "head": dict(_COMMON, lr=1e-2, epochs=30, batch_size=64, weight_decay=0.0),
    "full": dict(_COMMON, lr=5e-5, epochs=3, batch_size=32),
    "lora": dict(_COMMON, lr=1e-3, epochs=3, batch_size=32, r=8, alpha=16,
                 targets=("query", "key", "value"), lora_dropout=0.0),
}


def _batches(tok, texts, batch_size, max_length, order):
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        b = tok.encode_batch([texts[j] for j in idx], padding=True, truncation=True,
                             max_length=max_length)
        yield idx, b["input_ids"], b["attention_mask"]


def _by_length(tok, texts, max_length):
    lengths = [min(len(ids), max_length) for ids in
               tok.encode_batch(list(texts), truncation=True, max_length=max_length)]
    return np.asarray(lengths)


def _eval_batches(model, fn, tok, texts, batch_size, max_length, width) -> np.ndarray:
    """``fn(ids, mask)`` (N, width) over ``texts`` in eval mode without gradients, in
    batches of similar lengths (little padding); on the CPU the batches run on
    :func:`neurona.get_num_threads` threads at once (tokenized here first: a tokenizer is
    not thread-safe)."""
    order = np.argsort(_by_length(tok, texts, max_length), kind="stable")
    batches = _batches(tok, texts, batch_size, max_length, order)
    threads = get_num_threads() if model.classifier.weight.device.type == "cpu" else 1
    out = np.zeros((len(texts), width), np.float32)
    was = model.training
    model.eval()
    try:
        with no_grad():
            while chunk := list(itertools.islice(batches, 4 * threads)):  # bounded memory
                rows = parallel_map(lambda b: fn(b[1], b[2]).cpu().numpy(), chunk, threads)
                for (idx, _, _), r in zip(chunk, rows):
                    out[idx] = r
    finally:
        model.train(was)
    return out


def embed_texts(model, tok, texts, batch_size=64, max_length=128) -> np.ndarray:
    """The pooled embeddings u (N, d) of ``texts`` (no_grad, eval mode; batches of
    similar lengths, so little padding)."""
    return _eval_batches(model, model.embed, tok, texts, batch_size, max_length,
                         model.classifier.in_features)


def _logits(model, tok, texts, h) -> np.ndarray:
    return _eval_batches(model, model, tok, texts, h["eval_batch_size"], h["max_length"],
                         model.classifier.out_features)


def _scores(logits: np.ndarray, y) -> dict:
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    y = np.asarray(y)
    return {"accuracy": float((logits.argmax(1) == y).mean()),
            "loss": float(-logp[np.arange(len(y)), y].mean())}


def _trainable_state(model) -> dict:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()
            if k in names}


def average_states(states: list[dict]) -> dict:
    """The element-wise mean of several trainable states (checkpoint averaging: the mean
    of the weights at the last evaluations of one run, Izmailov et al. 2018 "Averaging
    weights leads to wider optima"), in float32."""
    return {k: (np.sum([s[k] for s in states], axis=0, dtype=np.float64) / len(states))
            .astype(states[0][k].dtype) for k in states[0]}


def _restore(model, state: dict) -> None:
    model.load_state_dict({k: Tensor(v) for k, v in state.items()}, strict=False)


def _fit_head(model, feats, ys, h, rng, say, max_steps, deadline, device):
    """Train the head alone on cached embeddings; the best validation epoch is kept."""
    (u_tr, u_va), (y_tr, y_va) = feats, ys
    from ..optim import Adam
    opt = Adam(model.classifier.parameters(), lr=h["lr"], weight_decay=h["weight_decay"])
    hist = {"epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": []}
    best, steps, stopped = {"val_accuracy": -1.0, "epoch": 0, "state": None}, 0, "epochs"
    U_va = Tensor(u_va).to(device)
    for epoch in range(1, h["epochs"] + 1):
        model.train()
        perm, losses = rng.permutation(len(y_tr)), []
        for i in range(0, len(perm), h["batch_size"]):
            idx = perm[i:i + h["batch_size"]]
            loss = F.cross_entropy(model.head(Tensor(u_tr[idx]).to(device)),
                                   Tensor(y_tr[idx]).to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())          # read once, at the epoch's end
            steps += 1
            if max_steps is not None and steps >= max_steps:
                stopped = "max_steps"
                break
        model.eval()
        with no_grad():
            va = _scores(model.head(U_va).cpu().numpy(), y_va)
        hist["epoch"].append(epoch)
        hist["train_loss"].append(float(np.mean(read_scalars(losses))))
        hist["val_loss"].append(va["loss"])
        hist["val_accuracy"].append(va["accuracy"])
        if va["accuracy"] > best["val_accuracy"]:
            best = {"val_accuracy": va["accuracy"], "epoch": epoch,
                    "state": _trainable_state(model)}
        if stopped != "epochs" or (deadline is not None and time.perf_counter() > deadline):
            stopped = stopped if stopped != "epochs" else "max_minutes"
            break
    return hist, best, steps, stopped


def param_groups(model, h) -> list[dict]:
    """The trainable parameters in AdamW groups with their own learning rates.

    * layer-wise learning-rate decay (``layer_decay`` = xi < 1): encoder layer l of L
      (0-based) trains at lr * xi^(L - l), the embeddings at lr * xi^(L + 1), so the lower,
      more general layers move less than the top ones (Howard & Ruder 2018; ELECTRA);
    * ``head_lr``: the freshly initialised classifier (and anything outside the encoder)
      at its own rate (default: ``lr``).
    With the defaults (xi = 1, no head_lr) this is one group at ``lr``."""
    lr, xi = h["lr"], h.get("layer_decay", 1.0)
    n_layers = len(model.encoder.encoder.layer)
    groups: dict = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("encoder.embeddings."):
            rate = lr * xi ** (n_layers + 1)
        elif name.startswith("encoder.encoder.layer."):
            rate = lr * xi ** (n_layers - int(name.split(".")[3]))
        elif name.startswith("encoder."):
            rate = lr                                   # the pooler
        else:
            rate = h.get("head_lr") or lr               # the classifier head
        groups.setdefault(rate, []).append(p)
    return [{"params": ps, "lr": rate} for rate, ps in groups.items()]


def _fit_encoder(model, tok, data, h, rng, say, max_steps, deadline, eval_every, device):
    """Train the trainable parameters of the whole model (full or LoRA) with AdamW and a
    linear warm-up / decay; validation every ``eval_every`` steps and at the end.  With
    ``h["average"]`` = k > 1 the mean of the states at the last k validations is
    validated too, and kept as ``best`` when it does at least as well as the best single
    state (the choice is made on validation, as the checkpoint's)."""
    from ..optim import AdamW
    from ..optim.lr_scheduler import LambdaLR
    from .sentiment import length_buckets
    (tr_texts, y_tr), (va_texts, y_va) = data
    lengths = _by_length(tok, tr_texts, h["max_length"])
    per_epoch = -(-len(y_tr) // h["batch_size"])
    total = per_epoch * h["epochs"] if max_steps is None else min(max_steps,
                                                                 per_epoch * h["epochs"])
    warm = max(1, int(h["warmup"] * total))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = AdamW(param_groups(model, h), lr=h["lr"], weight_decay=h["weight_decay"])
    sched = LambdaLR(opt, lambda t: min((t + 1) / warm, max(0.0, (total - t) / max(
        1, total - warm))))
    hist = {"step": [], "step_loss": [], "eval_step": [], "val_loss": [], "val_accuracy": []}
    best = {"val_accuracy": -1.0, "step": 0, "state": None}
    recent = []       # the states at the last h["average"] validations
    steps, stopped, t0 = 0, "epochs", time.perf_counter()
    pending = []      # step losses on the device, moved to hist at log points (one copy)

    def read_pending():
        hist["step_loss"].extend(float(v) for v in read_scalars(pending))
        pending.clear()

    def validate():
        va = _scores(_logits(model, tok, va_texts, h), y_va)
        hist["eval_step"].append(steps)
        hist["val_loss"].append(va["loss"])
        hist["val_accuracy"].append(va["accuracy"])
        say(f"  step {steps}/{total}: val accuracy {va['accuracy']:.4f} (loss "
            f"{va['loss']:.4f}), {time.perf_counter() - t0:.0f} s")
        state = _trainable_state(model) if (va["accuracy"] > best["val_accuracy"]
                                            or h["average"] > 1) else None
        if h["average"] > 1:
            recent[:] = (recent + [state])[-h["average"]:]
        if va["accuracy"] > best["val_accuracy"]:
            best.update(val_accuracy=va["accuracy"], step=steps, state=state)

    done = False
    for epoch in range(h["epochs"]):
        model.train()
        for idx in length_buckets(lengths, h["batch_size"], rng):
            b = tok.encode_batch([tr_texts[j] for j in idx], padding=True, truncation=True,
                                 max_length=h["max_length"])
            loss = F.cross_entropy(model(b["input_ids"], b["attention_mask"]),
                                   Tensor(y_tr[idx]).to(device))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            steps += 1
            hist["step"].append(steps)
            pending.append(loss.detach())
            if steps % 20 == 0:
                read_pending()
                say(f"  step {steps}/{total}: loss {np.mean(hist['step_loss'][-20:]):.4f}, "
                    f"{(time.perf_counter() - t0) / steps:.2f} s/step")
            if max_steps is not None and steps >= max_steps:
                stopped, done = "max_steps", True
            elif deadline is not None and time.perf_counter() > deadline:
                stopped, done = "max_minutes", True
            if done:
                break
            if eval_every and steps % eval_every == 0:
                validate()
        if done:
            break
    read_pending()
    if not hist["eval_step"] or hist["eval_step"][-1] != steps:
        validate()
    if len(recent) > 1:
        _restore(model, average_states(recent))
        va = _scores(_logits(model, tok, va_texts, h), y_va)
        hist["average_val_accuracy"] = va["accuracy"]
        say(f"  mean of the last {len(recent)} validated states: val accuracy "
            f"{va['accuracy']:.4f} (best single {best['val_accuracy']:.4f})")
        if va["accuracy"] >= best["val_accuracy"]:
            # the single best state is kept too, so that the run can say what averaging
            # changed on the test set
            best.update(val_accuracy=va["accuracy"], step=f"mean of {len(recent)}",
                        state=_trainable_state(model), single=dict(best))
    return hist, best, steps, stopped


def train(dataset: str = DATASET, *, data_dir=None, out=None, arch=None, epochs=None,
          lr=None, batch_size=None, seed: int = 0, max_steps=None, max_minutes=None,
          plots: bool = True, quiet: bool = False, model_path=None, texts=None,
          device="cpu", split_seed=None, **options) -> dict:
    """Fine-tune MiniLM (or the BERT folder ``model_path``) on rt-polarity, in mode
    ``arch`` = ``"head"`` (default), ``"full"`` or ``"lora"``; see the module docstring.

    ``options`` override :data:`DEFAULTS` (``max_length``, ``dropout``, ``r``, ``alpha``,
    ``targets``, ``warmup``, ``eval_every`` -- steps between validations for full/lora,
    default once per epoch...).  ``texts``: ``{"train": (texts, labels), "val": ...,
    "test": ...}`` to use instead of the rt-polarity split (the tests use slices of it).
    ``max_minutes`` bounds the training loop (the evaluation after it is extra).
    Returns ``{"metrics", "checkpoint", "plots", "wall_s", "history"}``; ``metrics`` has
    ``test_accuracy``, ``val_accuracy``, ``trainable_parameters``, ``total_parameters``;
    ``plots`` lists ``out/training_curves.png`` (:func:`plot_curves`) when ``plots`` and
    ``out`` are given.  ``device``: where the model trains (``"cuda"`` needs CuPy and a
    GPU; the tokenized batches are moved there).  ``seed`` draws the initial head, the
    dropout masks, the batch order and (unless ``split_seed`` is given) which 10% of the
    training snippets validate; a sweep over seeds that picks by validation accuracy
    should fix ``split_seed``, so that every run is judged on the same snippets.
    """
    from ..models.classifier_heads import MODES, SentenceClassifier, configure
    from ..models.pretrained import from_pretrained, minilm_path
    start = time.perf_counter()
    if dataset != DATASET:
        raise ValueError(f"finetune: only {DATASET!r} is supported, got {dataset!r}")
    arch = arch or "head"
    if arch not in MODES:
        raise ValueError(f"finetune: arch must be one of {MODES}, got {arch!r}")
    h = dict(DEFAULTS[arch])
    eval_every = options.pop("eval_every", None)
    unknown = set(options) - set(h)
    if unknown:
        raise ValueError(f"finetune: unknown options {sorted(unknown)} for arch {arch!r}; "
                         f"known: {sorted(h)}")
    h.update(options)
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if value is not None:
            h[key] = value
    if "targets" in h:
        h["targets"] = list(h["targets"])
    say = (lambda *a: None) if quiet else (lambda *a: log(False, *a))
    deadline = None if max_minutes is None else start + 60.0 * max_minutes

    if texts is None:
        from .sentiment import load_data
        texts = load_data(data_dir, h["val_fraction"], seed if split_seed is None
                          else split_seed)
    (tr, y_tr), (va, y_va), (te, y_te) = (
        (list(texts[k][0]), np.asarray(texts[k][1], np.int64)) for k in ("train", "val", "test"))
    encoder_name = "MiniLM" if model_path is None else Path(model_path).name
    model_path = Path(model_path) if model_path is not None else minilm_path()
    encoder, tok = from_pretrained(model_path)
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SentenceClassifier(encoder, num_labels=len(LABEL_NAMES), dropout=h["dropout"])
    lora_kw = {k: h[k] for k in ("r", "alpha", "targets", "lora_dropout") if k in h}
    n_train = configure(model, arch, **lora_kw)
    model.to(device)
    n_total = sum(p.numel() for p in model.parameters())
    say(f"finetune ({arch}) {model_path.name}: {n_train:,} of {n_total:,} parameters train; "
        f"{len(y_tr)} train / {len(y_va)} val / {len(y_te)} test snippets; lr {h['lr']}, "
        f"batch {h['batch_size']}, {h['epochs']} epoch(s)")
    if arch == "head":
        t0 = time.perf_counter()
        u = {k: embed_texts(model, tok, x, h["eval_batch_size"], h["max_length"])
             for k, x in (("train", tr), ("val", va), ("test", te))}
        embed_s = time.perf_counter() - t0
        say(f"embedded {sum(len(x) for x in (tr, va, te))} snippets once in {embed_s:.0f} s")
        history, best, steps, stopped = _fit_head(model, (u["train"], u["val"]),
                                                  (y_tr, y_va), h, rng, say, max_steps,
                                                  deadline, device)
        _restore(model, best["state"])
        model.eval()
        with no_grad():
            test = _scores(model.head(Tensor(u["test"]).to(device)).cpu().numpy(), y_te)
        picked = {"best_epoch": best["epoch"], "embed_s": embed_s}
    else:
        if eval_every is None:
            eval_every = -(-len(y_tr) // h["batch_size"])
        history, best, steps, stopped = _fit_encoder(model, tok, ((tr, y_tr), (va, y_va)),
                                                     h, rng, say, max_steps, deadline,
                                                     eval_every, device)
        train_s = time.perf_counter() - start
        picked = {"best_step": best["step"], "train_s": train_s}
        if "single" in best:                # averaging won: the single best state's test
            _restore(model, best["single"]["state"])
            picked.update(single_best_step=best["single"]["step"],
                          single_best_val_accuracy=best["single"]["val_accuracy"],
                          single_best_test_accuracy=_scores(_logits(model, tok, te, h),
                                                            y_te)["accuracy"])
        _restore(model, best["state"])
        test = _scores(_logits(model, tok, te, h), y_te)
    wall = time.perf_counter() - start
    say(f"test accuracy {test['accuracy']:.4f} (loss {test['loss']:.4f}), validation "
        f"{best['val_accuracy']:.4f}; {steps} steps, {wall:.0f} s")
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"],
               "val_accuracy": best["val_accuracy"], "trainable_parameters": n_train,
               "total_parameters": n_total, "arch": arch, "steps": steps,
               "stopped_by": stopped, "n_train": len(y_tr), "n_val": len(y_va),
               "n_test": len(y_te), "model": model_path.name, "wall_s": wall, **picked}
    checkpoint, plot_paths = None, []
    if out is not None:
        from ..serialization import save
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        checkpoint = os.fspath(out / FILE)
        save({"format": "neurona.finetune/1", "mode": arch, "hyperparameters": h,
              "model": model_path.name, "labels": LABEL_NAMES, "tokenizer": tok.to_dict(),
              "encoder_config": encoder.get_config(),
              "state": {k: Tensor(v) for k, v in best["state"].items()},
              "test_accuracy": test["accuracy"]}, checkpoint)
        write_metrics(out, metrics, h, history)
        if plots:
            title = f"fine-tuning {encoder_name} ({arch}) on rt-polarity"
            plot_paths.append(plot_curves(history, out / "training_curves.png", title))
    return {"metrics": metrics, "checkpoint": checkpoint, "plots": plot_paths,
            "wall_s": wall, "history": history, "model": model, "tokenizer": tok}


def plot_curves(history: dict, path, title: str | None = None) -> str:
    """The run's curves, from its ``history``: the training loss (left axis; per step for
    ``full``/``lora``, the epoch's mean for ``head``), the validation loss at each
    evaluation, and the validation accuracy (right axis)
    (:func:`neurona.viz_text.plot_training_curves`). Returns the path of the PNG."""
    from ..viz_text import plot_training_curves
    if "step_loss" in history:                   # full / lora: one loss per step
        x, xlabel = history["eval_step"], "step"
        losses = {"train (per step)": (history["step"], history["step_loss"])}
    else:                                        # head: one evaluation per epoch
        x, xlabel = history["epoch"], "epoch"
        losses = {"train (epoch mean)": (x, history["train_loss"])}
    losses["validation"] = (x, history["val_loss"])
    return plot_training_curves(losses, path, xlabel=xlabel, ylabel="cross-entropy (nats)",
                                title=title, right={"validation accuracy":
                                                    (x, history["val_accuracy"])},
                                right_label="accuracy")


def load_finetuned(run, model_path=None):
    """``(model, tokenizer, labels)`` from a run folder (or its ``finetune.safetensors``)
    written by :func:`train`: the pretrained encoder is re-read from ``model_path``
    (default: the installed MiniLM), the mode's adapters are put back and the trained
    tensors loaded."""
    from ..models.classifier_heads import SentenceClassifier, configure
    from ..models.pretrained import from_pretrained, minilm_path
    from ..serialization import load
    from ..text.tokenizers import tokenizer_from_dict
    path = Path(run)
    if path.is_dir():
        path = path / FILE
    if not path.is_file():
        raise FileNotFoundError(f"load_finetuned: no {FILE} at {path}")
    ck = load(str(path))
    if not isinstance(ck, dict) or ck.get("format") != "neurona.finetune/1":
        raise ValueError(f"{path}: not a checkpoint written by neurona.recipes.finetune")
    encoder, _ = from_pretrained(model_path or minilm_path(), tokenizer=False)
    if encoder.get_config() != ck["encoder_config"]:
        raise ValueError(f"{path}: fine-tuned from a different encoder than "
                         f"{model_path or minilm_path()} (configs differ)")
    h = ck["hyperparameters"]
    model = SentenceClassifier(encoder, num_labels=len(ck["labels"]), dropout=h["dropout"])
    configure(model, ck["mode"], **{k: h[k] for k in ("r", "alpha", "targets",
                                                       "lora_dropout") if k in h})
    # the file holds only the trainable tensors: every one of them must be there, and
    # nothing else (the frozen rest came from the pretrained folder)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    result = model.load_state_dict(ck["state"], strict=False)
    missing = sorted(trainable & set(result.missing_keys))
    if missing or result.unexpected_keys:
        raise ValueError(f"{path}: does not fit a {ck['mode']!r} SentenceClassifier: "
                         f"missing trained tensors {missing[:5]}, unexpected "
                         f"{sorted(result.unexpected_keys)[:5]}; was it written by "
                         "neurona.recipes.finetune with this encoder?")
    model.eval()
    model.max_length = h["max_length"]
    return model, tokenizer_from_dict(ck["tokenizer"], f"{path} (tokenizer)"), ck["labels"]


def predict(run_or_model, texts, tokenizer=None, batch_size: int = 64,
            model_path=None) -> dict:
    """Classify ``texts`` with a run folder written by :func:`train` (or a
    ``SentenceClassifier`` and its ``tokenizer``; ``model_path``: the pretrained folder the
    run started from, default the installed MiniLM).  Returns ``{"labels", "names",
    "probabilities" (N, 2)}``."""
    labels = LABEL_NAMES
    if isinstance(run_or_model, (str, os.PathLike)):
        model, tokenizer, labels = load_finetuned(run_or_model, model_path)
    else:
        model = run_or_model
        if tokenizer is None:
            raise ValueError("predict: pass tokenizer= with a model")
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    h = {"max_length": getattr(model, "max_length", 128), "eval_batch_size": batch_size}
    z = _logits(model, tokenizer, texts, h)
    z = z - z.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return {"labels": p.argmax(1).tolist(), "names": [labels[i] for i in p.argmax(1)],
            "probabilities": p}
