"""Word-level neural language models on the Penn Treebank: Bengio's NLM and an LSTM.

    from neurona.recipes import language_model as lm
    result = lm.train(arch="bengio", out="runs/nlm-bengio")     # or arch="lstm"
    result["metrics"]["test_perplexity"]
    lm.sample(result["model"], result["tokenizer"], "the company said", length=30)

A language model gives P(w_t | w_1 .. w_{t-1}), the probability of the next word after
all the words before it. Two ways to compute it:

* ``arch="bengio"`` -- :class:`neurona.models.BengioNLM` (Bengio et al. 2003): the n-1 = 4
  previous words, looked up in the embedding matrix C, concatenated, a tanh hidden
  layer, a softmax over the 10,000 words. Trained on shuffled windows (context, next
  word), like an ordinary classifier with 10,000 classes.
* ``arch="lstm"`` -- :class:`neurona.models.RNNLanguageModel`: a 2-layer LSTM reads the
  text word by word, so its prediction can use everything before (not just n-1 words).
  Trained on the stream cut into ``batch_size`` parallel columns and windows of ``bptt``
  words, carrying the state from one window to the next (truncated backpropagation
  through time), with gradient-norm clipping.

Both minimise the mean cross-entropy of the next word, L = -1/T sum_t ln P(w_t | ...),
and are measured by the **perplexity** exp(L) on the validation and test text: the
number of words the model is "as uncertain as" choosing uniformly among (a uniform
guess over the 10,000 words scores exactly 10,000). :func:`perplexity` scores every
token of a split (batched, dropout off, the LSTM's state carried along).

Training: Adam; after every epoch the validation perplexity decides -- the best weights
are kept (those are tested), the learning rate is multiplied by ``lr_decay`` from epoch
``decay_after`` on and whenever validation did not improve, and training stops after
``patience`` epochs without improvement.

Results with :data:`DEFAULTS` (one CPU thread per run, on the 2-core course machine
with other trainings running at the same time, so the wall times are inflated),
``neurona train nlm --arch bengio|lstm`` / ``python examples/11_ptb_language_models.py``:

    bengio (n = 5: 4 words of context, m = 100, h = 200, 3,090,200 parameters):
        val 223.2 / 181.5 / 168.4 after epochs 1 / 2 / 3 -> test perplexity 157.6
        (validation 168.4); 39.5 min wall, 11-17 min per epoch shared with other jobs
        (about 5 min per epoch alone: 0.16 s per step of 512 windows)
    lstm (2 x 256 LSTM, tied embeddings, dropout 0.25, bptt 35, 20 columns; 3,622,672
        parameters): val 232.9 / 182.9 / 161.9 / 153.1 / 149.0 after epochs 1-5 (lr 2e-3,
        2e-3, 1e-3, 5e-4, 2.5e-4) -> test perplexity 143.8 (validation 149.0); 26 min
        wall, 5.2 min per epoch (0.23 s per step of 20 x 35 words), three other jobs
        running. (With epochs=4, the same first 4 epochs: test 147.8.)

    Bengio et al. (2003) report a test perplexity of about 109 on the (different,
    larger) AP News corpus after many epochs; on PTB, feed-forward NLMs reach ~140 and
    medium LSTMs ~80 with long training. These runs are a few epochs on one CPU core.

The checkpoint carries the vocabulary (a ``WordTokenizer`` splitting on spaces, as
PTB's text is already tokenised), so ``neurona generate CHECKPOINT --prompt "the"``
samples from it.
"""
from __future__ import annotations

import math
import os
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from ._report import log as _log, save_run

from .. import nn, optim
from ..autograd import no_grad
from ..creation import tensor
from ..datasets.text import ptb
from ..ops import stack
from ..train.readings import to_host
from ..models import BengioNLM, RNNLanguageModel, detach_state, load_checkpoint
from ..random import manual_seed
from ..text import Vocab, WordTokenizer, batchify

__all__ = ["DEFAULT", "ARCHS", "DEFAULTS", "find_ptb", "build_tokenizer", "load_ptb",
           "cross_entropy_per_token", "perplexity", "train", "sample", "nearest_words"]

DEFAULT = "ptb"
ARCHS = ("bengio", "lstm")
SPECIALS = ("<unk>", "<eos>")        # PTB has both in its text: 10,000 word types in all
TOKEN_PATTERN = r"\S+"               # PTB is tokenised already: a word is what spaces delimit
IGNORE = -100

#: The tuned hyper-parameters of each architecture (``None`` arguments take these).
DEFAULTS = {
    "bengio": dict(epochs=3, lr=1e-3, batch_size=512, context_size=4, embedding_dim=100,
                   hidden_size=200, direct=False, dropout=0.2, lr_decay=0.5,
                   decay_after=2, patience=2, clip_grad_norm=0.0, eval_batch_size=10,
                   bptt=35, max_train_tokens=None, max_eval_tokens=None, log_every=0,
                   init_from=None),
    "lstm": dict(epochs=5, lr=2e-3, batch_size=20, bptt=35, embedding_dim=256,
                 hidden_size=256, num_layers=2, dropout=0.25, tie_weights=True,
                 lr_decay=0.5, decay_after=2, patience=2, clip_grad_norm=0.5,
                 eval_batch_size=10, max_train_tokens=None, max_eval_tokens=None,
                 log_every=0, init_from=None),
}


# -- data -----------------------------------------------------------------------------------
def _candidate_roots(data_dir) -> list:
    from ..datasets._files import data_search_path
    return data_search_path(data_dir)


def find_ptb(data_dir=None, dataset: str = DEFAULT) -> Path:
    """The folder holding ``ptb.train.txt``: ``data_dir/ptb`` or ``data_dir`` itself (with
    ``data_dir=None``: $NEURONA_DATA, ./data, ../shared/data, and the same next to the
    repository). Raises ``FileNotFoundError`` listing where it looked."""
    looked = []
    for root in _candidate_roots(data_dir):
        for folder in (root / dataset, root):
            looked.append(str(folder))
            if (folder / "ptb.train.txt").is_file():
                return folder
    raise FileNotFoundError(
        f"language_model: the Penn Treebank (ptb.train.txt, ptb.valid.txt, ptb.test.txt) "
        f"was not found; looked in {', '.join(looked)}. Pass data_dir= the folder holding "
        f"them (or a data folder with ptb/ in it).")


def load_ptb(folder) -> dict:
    """``{"train": [...], "valid": [...], "test": [...]}``: each split's tokens, an
    ``<eos>`` after every sentence."""
    return {s: ptb(folder, s) for s in ("train", "valid", "test")}


@lru_cache(maxsize=2)
def _load_encoded(folder: str) -> tuple:
    """(tokenizer, {split: int64 ids}) for a PTB folder, read once per process."""
    splits = load_ptb(folder)
    tokenizer = build_tokenizer(splits["train"])
    ids = {s: _encode(t, tokenizer.vocab) for s, t in splits.items()}
    for a in ids.values():
        a.setflags(write=False)
    return tokenizer, ids


def build_tokenizer(train_tokens) -> WordTokenizer:
    """The vocabulary of the training split (ids by decreasing count, ``<unk>`` = 0 and
    ``<eos>`` = 1 first) in a tokenizer that splits text at spaces."""
    vocab = Vocab.build(Counter(train_tokens), specials=SPECIALS)
    return WordTokenizer(lower=False, pattern=TOKEN_PATTERN, vocab=vocab)


def _encode(tokens, vocab: Vocab) -> np.ndarray:
    return np.asarray(vocab.lookup_indices(tokens), np.int64)


# -- evaluation -----------------------------------------------------------------------------
def cross_entropy_per_token(model, ids, batch_size: int = 10, bptt: int = 35) -> tuple:
    """(mean cross-entropy in nats, number of tokens scored) of a causal LM on a stream.

    Every token of ``ids`` but the first is a target exactly once: the stream is cut into
    ``batch_size`` contiguous columns (the last padded and its padding ignored), read in
    windows of ``bptt`` tokens with the model's state carried from one window to the next
    -- so the LSTM sees all of its column before each word (only each column's first
    words are read from a fresh state: with 10 columns, a handful of the 73k validation
    words). The result does not depend on ``bptt``. Runs in eval mode (no dropout)
    without building a graph. ``model(ids (N, T), state) -> (logits (N, T, V), state)``.
    """
    ids = np.asarray(ids, np.int64).reshape(-1)
    if ids.size < 2:
        raise ValueError(f"perplexity: need at least 2 tokens (one to read, one to predict), "
                         f"got {ids.size}")
    inputs, targets = ids[:-1], ids[1:]
    n = targets.size
    B = max(1, min(int(batch_size), n))
    L = -(-n // B)                                        # ceil(n / B)
    x = np.zeros(B * L, np.int64)
    y = np.full(B * L, IGNORE, np.int64)
    x[:n], y[:n] = inputs, targets
    x, y = x.reshape(B, L), y.reshape(B, L)               # row b: tokens b L .. (b+1) L - 1
    was_training = model.training
    model.eval()
    sums, state = [], None
    with no_grad():
        for s in range(0, L, bptt):
            logits, state = model(tensor(np.ascontiguousarray(x[:, s:s + bptt])), state)
            V = logits.shape[-1]
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, V), tensor(np.ascontiguousarray(y[:, s:s + bptt]).reshape(-1)),
                ignore_index=IGNORE, reduction="sum")
            sums.append(loss.detach().double())
    model.train(was_training)
    total = 0.0
    for v in (to_host(stack(sums)) if sums else ()):      # one read, summed in order
        total += float(v)
    return total / n, n


def _add_losses(total: float, pending: list) -> float:
    """total + loss * tokens of each pending step (in order), the losses read back from
    the device in one copy; empties ``pending``."""
    if pending:
        values = to_host(stack([loss.reshape(()).double() for loss, _ in pending]))
        for v, (_, n) in zip(values, pending):
            total += float(v) * n
        pending.clear()
    return total


def perplexity(model, ids, batch_size: int = 10, bptt: int = 35) -> float:
    """exp(mean cross-entropy per token) of a causal LM over the whole stream ``ids``
    (see :func:`cross_entropy_per_token`). A model that gives every one of V words the
    same probability scores exactly V."""
    return math.exp(cross_entropy_per_token(model, ids, batch_size, bptt)[0])


# -- training -------------------------------------------------------------------------------
def _build_model(arch: str, V: int, hp: dict, eos_id: int):
    if arch == "bengio":
        return BengioNLM(V, context_size=hp["context_size"], embedding_dim=hp["embedding_dim"],
                         hidden_size=hp["hidden_size"], direct=hp["direct"],
                         dropout=hp["dropout"], start_id=eos_id)
    return RNNLanguageModel(V, embedding_dim=hp["embedding_dim"], hidden_size=hp["hidden_size"],
                            num_layers=hp["num_layers"], dropout=hp["dropout"],
                            tie_weights=hp["tie_weights"])


def _bengio_batches(ids, k: int, start_id: int, batch_size: int, rng):
    """Shuffled (contexts (B, k), next words (B,)) over every token of ``ids`` (the first
    ones read ``start_id`` for the words before the text)."""
    full = np.concatenate([np.full(k, start_id, np.int64), ids])
    order = rng.permutation(ids.size)
    offsets = np.arange(k)[None, :]
    for s in range(0, order.size, batch_size):
        j = order[s:s + batch_size]
        yield full[j[:, None] + offsets], ids[j]


def _lstm_batches(ids, batch_size: int, bptt: int):
    """(inputs (B, T), targets (B, T)) windows of the stream in ``batch_size`` columns, in
    order (the state carries from one to the next)."""
    columns = batchify(ids, batch_size).numpy().T            # (B, T_total)
    for s in range(0, columns.shape[1] - 1, bptt):
        L = min(bptt, columns.shape[1] - 1 - s)
        yield (np.ascontiguousarray(columns[:, s:s + L]),
               np.ascontiguousarray(columns[:, s + 1:s + 1 + L]))


def _load_weights(model, path, vocab: Vocab) -> None:
    """Copy the weights of the checkpoint ``path`` (same architecture and vocabulary) into
    ``model``: to train a saved model further."""
    saved, extra = load_checkpoint(path)
    if saved.name != model.name or saved.get_config() != model.get_config():
        raise ValueError(f"language_model: init_from={path} holds {saved.name} "
                         f"{saved.get_config()}, not the model being trained ({model.name} "
                         f"{model.get_config()}); pass the same options it was trained with")
    words = (extra.get("tokenizer") or {}).get("vocab", {}).get("itos")
    if words is not None and list(words) != vocab.get_itos():
        raise ValueError(f"language_model: init_from={path} was trained with another "
                         "vocabulary than this PTB copy's")
    model.load_state_dict(saved.state_dict())


def train(dataset=DEFAULT, *, data_dir=None, out=None, arch=None, epochs=None, lr=None,
          batch_size=None, seed=0, max_steps=None, max_minutes=None, plots=True,
          quiet=False, **options) -> dict:
    """Train a word-level LM on PTB; keep the epoch with the best validation perplexity,
    report its validation and test perplexity.

    Args:
        dataset: ``"ptb"`` (the folder name under a data folder).
        data_dir: a data folder holding ``ptb/``, or the folder with the PTB files.
        out: where to write ``model.safetensors``, ``metrics.json`` and the plot.
        arch: ``"bengio"`` (default) or ``"lstm"``.
        epochs, lr, batch_size: None takes :data:`DEFAULTS` (``batch_size``: windows per
            step for Bengio, parallel columns for the LSTM).
        max_steps, max_minutes: stop training after this many updates / minutes (the
            epoch in progress is then validated and ends the run).
        options: any key of ``DEFAULTS[arch]``, e.g. ``hidden_size=300``; for quick runs
            ``max_train_tokens`` / ``max_eval_tokens`` use the first tokens of the splits;
            ``init_from`` (a checkpoint of this recipe) starts from its weights.

    Returns ``{"metrics", "checkpoint", "plots", "wall_s", "history", "model",
    "tokenizer"}``.
    """
    t_start = time.perf_counter()
    arch = "bengio" if arch is None else str(arch).lower()
    if arch not in ARCHS:
        raise ValueError(f"language_model: arch must be one of {ARCHS}, got {arch!r}")
    if dataset != DEFAULT:
        raise ValueError(f"language_model: dataset must be {DEFAULT!r} (the Penn Treebank), "
                         f"got {dataset!r}")
    unknown = sorted(set(options) - set(DEFAULTS[arch]))
    if unknown:
        raise TypeError(f"language_model.train(arch={arch!r}): unknown option(s) {unknown}; "
                        f"the options are {sorted(DEFAULTS[arch])}")
    hp = dict(DEFAULTS[arch], **options)
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if value is not None:
            hp[key] = value
    manual_seed(seed)
    rng = np.random.default_rng(seed)

    folder = find_ptb(data_dir, dataset)
    tokenizer, ids = _load_encoded(str(folder.resolve()))
    vocab, ids = tokenizer.vocab, dict(ids)
    if hp["max_train_tokens"]:
        ids["train"] = ids["train"][:int(hp["max_train_tokens"])]
    if hp["max_eval_tokens"]:
        for s in ("valid", "test"):
            ids[s] = ids[s][:int(hp["max_eval_tokens"])]
    V, eos = len(vocab), vocab["<eos>"]
    _log(quiet, f"{folder}: train {ids['train'].size:,} / valid {ids['valid'].size:,} / "
                f"test {ids['test'].size:,} tokens; vocabulary {V:,} words")

    model = _build_model(arch, V, hp, eos)
    if hp["init_from"]:
        _load_weights(model, hp["init_from"], vocab)
        _log(quiet, f"starting from the weights of {hp['init_from']}")
    n_params = sum(p.numel() for p in model.parameters())
    _log(quiet, f"{arch}: {type(model).__name__}({model.get_config()}) -- "
                f"{n_params:,} parameters")
    optimizer = optim.Adam(model.parameters(), lr=hp["lr"])
    evaluation = dict(batch_size=hp["eval_batch_size"], bptt=hp["bptt"])

    history = {"perplexity": [], "val_perplexity": [], "lr": [], "epoch_s": [], "steps": []}
    best = {"val_perplexity": math.inf, "epoch": 0, "state": None}
    steps, stop, bad_epochs = 0, False, 0
    deadline = t_start + 60 * max_minutes if max_minutes else math.inf
    for epoch in range(1, int(hp["epochs"]) + 1):
        t_epoch = time.perf_counter()
        model.train()
        loss_sum, tokens, state = 0.0, 0, None
        pending = []        # (loss tensor, tokens): read at log points, not every step
        if arch == "bengio":
            batches = _bengio_batches(ids["train"], hp["context_size"], eos,
                                      int(hp["batch_size"]), rng)
            n_batches = -(-ids["train"].size // int(hp["batch_size"]))
        else:
            batches = _lstm_batches(ids["train"], int(hp["batch_size"]), int(hp["bptt"]))
            n_batches = -(-(ids["train"].size // int(hp["batch_size"]) - 1) // int(hp["bptt"]))
        log_every = int(hp["log_every"]) or max(1, n_batches // 10)
        for i, (x, y) in enumerate(batches, 1):
            if arch == "bengio":
                logits = model(tensor(x))                                   # (B, V)
            else:
                logits, state = model(tensor(x), state)                     # (B, T, V)
                state = detach_state(state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, V), tensor(y.reshape(-1)))
            optimizer.zero_grad()
            loss.backward()
            if hp["clip_grad_norm"]:
                nn.utils.clip_grad_norm_(model.parameters(), hp["clip_grad_norm"])
            optimizer.step()
            pending.append((loss.detach(), y.size))
            tokens += y.size
            steps += 1
            if i % log_every == 0:
                loss_sum = _add_losses(loss_sum, pending)
                _log(quiet, f"  epoch {epoch} step {i}/{n_batches}  train ppl "
                            f"{math.exp(loss_sum / tokens):8.2f}  "
                            f"({time.perf_counter() - t_epoch:.0f} s)")
            if (max_steps is not None and steps >= max_steps) or time.perf_counter() > deadline:
                stop = True
                break
        loss_sum = _add_losses(loss_sum, pending)
        val_ppl = perplexity(model, ids["valid"], **evaluation)
        history["perplexity"].append(math.exp(loss_sum / max(1, tokens)))
        history["val_perplexity"].append(val_ppl)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["epoch_s"].append(time.perf_counter() - t_epoch)
        history["steps"].append(steps)
        improved = val_ppl < best["val_perplexity"]
        if improved:
            best = {"val_perplexity": val_ppl, "epoch": epoch,
                    "state": {k: v.numpy().copy() for k, v in model.state_dict().items()}}
            bad_epochs = 0
        else:
            bad_epochs += 1
        _log(quiet, f"epoch {epoch:2d}  train ppl {history['perplexity'][-1]:8.2f}  val ppl "
                    f"{val_ppl:8.2f}  lr {history['lr'][-1]:.2g}  "
                    f"({history['epoch_s'][-1]:.0f} s{', best' if improved else ''})")
        if stop or bad_epochs >= hp["patience"]:
            break
        if not improved or epoch >= hp["decay_after"]:
            for group in optimizer.param_groups:
                group["lr"] *= hp["lr_decay"]

    model.load_state_dict({k: tensor(v) for k, v in best["state"].items()})
    model.eval()
    test_loss, test_tokens = cross_entropy_per_token(model, ids["test"], **evaluation)
    wall = time.perf_counter() - t_start
    metrics = {"val_perplexity": best["val_perplexity"], "test_perplexity": math.exp(test_loss),
               "test_loss": test_loss, "best_epoch": best["epoch"],
               "epochs_run": len(history["perplexity"]), "steps": steps,
               "parameters": n_params, "train_tokens": int(ids["train"].size),
               "test_tokens": test_tokens, "vocab_size": V, "arch": arch,
               "seconds_per_epoch": float(np.mean(history["epoch_s"])), "wall_s": wall}
    _log(quiet, f"{arch}: test perplexity {metrics['test_perplexity']:.2f} (validation "
                f"{best['val_perplexity']:.2f}, epoch {best['epoch']}); {n_params:,} "
                f"parameters; {wall:.0f} s")

    checkpoint, plot_paths = None, []
    if out is not None:
        checkpoint = save_run(out, model, metrics, hp, history,
                              tokenizer=tokenizer.to_dict(), dataset=dataset, recipe="nlm",
                              arch=arch, task="language-model")
        if plots:
            plot_paths = [_plot_curves(history, arch, os.path.join(out, "perplexity.png"))]
    return {"metrics": metrics, "checkpoint": checkpoint, "plots": plot_paths,
            "wall_s": wall, "history": history, "model": model, "tokenizer": tokenizer}


def _plot_curves(history, arch: str, path: str) -> str:
    """Train and validation perplexity per epoch (log scale)."""
    from ..viz import require_matplotlib, _save
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(history["perplexity"]) + 1)
    ax.plot(epochs, history["perplexity"], "-o", ms=3, label="train (running, dropout on)")
    ax.plot(epochs, history["val_perplexity"], "--o", ms=3, label="validation")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title(f"PTB word LM ({arch})")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)


# -- using a trained model ------------------------------------------------------------------
def sample(model, tokenizer, prompt: str = "", length: int = 30, temperature: float = 1.0,
           seed: int | None = 0) -> str:
    """Continue ``prompt`` (PTB-style words, lower case) with ``length`` sampled words.

    The prompt is read after an ``<eos>`` (as if a new sentence began), then each word is
    drawn from softmax(logits / temperature) and fed back with the state. ``<eos>`` is
    shown as a line break."""
    if temperature <= 0:
        raise ValueError(f"sample: temperature must be > 0, got {temperature}")
    vocab = tokenizer.vocab
    eos = vocab["<eos>"]
    rng = np.random.default_rng(seed)
    ids = [eos] + tokenizer.encode(prompt)
    words = list(tokenizer.tokenize(prompt))
    model.eval()
    with no_grad():
        logits, state = model(tensor(np.array([ids], np.int64)), None)
        for _ in range(length):
            z = logits.numpy()[0, -1].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(p.size, p=p / p.sum()))
            words.append(vocab.lookup_token(nxt))
            logits, state = model(tensor(np.array([[nxt]], np.int64)), state)
    return " ".join(words).replace(" <eos>", "\n").replace("<eos>", "\n")


def nearest_words(model, vocab: Vocab, word: str, k: int = 5) -> list:
    """The ``k`` words whose embedding (row of the first layer's weight C) has the highest
    cosine similarity with ``word``'s: ``[(word, similarity), ...]``."""
    if word not in vocab:
        raise KeyError(f"nearest_words: {word!r} is not in the vocabulary")
    C = model.embedding.weight.detach().numpy().astype(np.float64)
    C = C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    i = vocab[word]
    sims = C @ C[i]
    sims[i] = -np.inf
    best = np.argsort(-sims)[:k]
    return [(vocab.lookup_token(int(j)), float(sims[j])) for j in best]
