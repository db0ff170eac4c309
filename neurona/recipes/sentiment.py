"""Sentiment analysis (many-to-one) on rt-polarity: is a movie-review snippet positive?

    from neurona.recipes import sentiment
    result = sentiment.train(arch="mean", out="runs/sentiment-mean")     # the course's model
    result = sentiment.train(arch="bilstm", out="runs/sentiment-bilstm")
    result["metrics"]["test_accuracy"]
    result["metrics"]["neighbours"]["boring"]          # [('dull', 0.8), ...]
    sentiment.predict("runs/sentiment-mean/model.safetensors",
                      ["a gorgeous , witty film", "a dull mess"])
    # {'labels': [1, 0], 'names': ['positive', 'negative'], 'probabilities': ...}

The data: Pang & Lee's 10,662 snippets, split once at random into 9,596 training and
1,066 test snippets (``split_rt_polarity(seed=0)``: the same split every run).  10% of
the training snippets are held out as a validation set, which picks the epoch (early
stopping); the test set is used once, at the end, for the number reported.

The models (:mod:`neurona.models.text_classifiers`):

* ``arch="mean"`` -- :class:`~neurona.models.EmbeddingBagClassifier`: the average of the
  words' embeddings (over the real words only: a masked mean), a ReLU hidden layer, two
  logits, softmax.
* ``arch="bilstm"`` -- :class:`~neurona.models.LSTMClassifier`: a bidirectional LSTM reads
  the packed batch (length-bucketed, so little padding); the element-wise max of its
  outputs over the real words (``pooling="max"``; ``"last"``: the final states of both
  directions) is classified.  Its embedding table starts from *counted* word vectors
  (``init_embedding="ppmi"``: :func:`neurona.text.similarity.ppmi_svd_embeddings`, PPMI
  of word co-occurrences in the training snippets plus Penn Treebank's training text --
  unlabelled, ~900k words -- compressed by SVD), then is fine-tuned.  From random
  vectors the BiLSTM memorises its 1.7M embedding weights within 3-4 epochs and reached
  only 0.75-0.76 test accuracy in our runs; from counted vectors 0.77-0.78
  (``init_embedding=None`` gives the random start back).

Both overfit fast (training accuracy > 0.95 after a few epochs): dropout, word dropout
and early stopping on the validation accuracy are what keep the test accuracy up.

Text handling (also in :func:`predict`):

* words: ``WordTokenizer(lower=True)`` fitted on the *training* split only; a word seen
  fewer than ``min_freq`` times there, or never, becomes ``<unk>`` (id 1).  While training,
  word dropout turns a word into ``<unk>`` with probability ``word_dropout`` so that the
  ``<unk>`` vector learns what an unseen word is worth (about nothing).
* empty snippets (none in rt-polarity; possible in :func:`predict`) get one ``<pad>``
  token: the mean of the embeddings is then the zero vector and the model answers with
  its "no evidence" probabilities, reported in ``predict(...)["empty"]``.
* no length limit: neither model has positional parameters.
* the tokenizer (with its vocabulary) is stored in the checkpoint; :func:`predict`
  checks that the vocabulary has as many tokens as the model's embedding table has rows
  and raises ``ValueError`` otherwise (a tokenizer from another run).

Results with :data:`DEFAULTS` on the fixed split, seed 0 (``python
examples/08_sentiment_rt_polarity.py``, which runs both; one CPU thread each, timed while
other trainings shared the machine's two cores)::

    arch     test accuracy   validation   best epoch / run   wall time (two runs)
    mean     0.7702          0.8010       2 / 5              11 s, 19 s
    bilstm   0.7720          0.8000       7 / 10             168 s, 92 s (37-39 s of it
                                                             counting the PPMI vectors)

Other seeds (a different validation slice, initialisation and batch order; the same
test split) give mean 0.7617 / 0.7749 (seeds 1, 2) and bilstm 0.7664 / 0.7636: with
1,066 test snippets one standard error is about 0.013, so the two models are level --
the BiLSTM's word order buys little on snippets this short, where which words appear
says most.  ``neurona train sentiment --arch mean|bilstm`` gives the same numbers.
"""
from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..creation import tensor
from ..datasets._files import data_search_path
from ._report import write_metrics
from ..train.readings import read_scalars
from ..models import (EmbeddingBagClassifier, LSTMClassifier, load_checkpoint,
                      save_checkpoint)
from ..random import manual_seed
from ..text import WordTokenizer, check_vocab_matches, pad_batch, tokenizer_from_dict
from ..text.similarity import nearest_neighbours, ppmi_svd_embeddings

__all__ = ["DEFAULT", "DEFAULTS", "ARCHS", "LABEL_NAMES", "NEIGHBOUR_WORDS", "PLOT_WORDS",
           "find_data_root", "load_data", "length_buckets", "train", "evaluate", "predict",
           "load_classifier"]

DEFAULT = "rt-polarity"
LABEL_NAMES = ["negative", "positive"]

#: The architectures: ``arch`` -> the zoo model.
ARCHS = {"mean": "embedding-bag", "bilstm": "lstm-classifier"}

#: The tuned hyper-parameters, per architecture (``None`` arguments of :func:`train` take
#: these).  ``embedding_dim`` etc. are the model's; the rest the training's.
DEFAULTS = {
    "mean": dict(epochs=10, lr=3e-3, batch_size=64, weight_decay=0.0, min_freq=1,
                 embedding_dim=64, hidden=[64], dropout=0.3, pooling="mean",
                 embedding_init_std=0.1, word_dropout=0.1, clip_grad_norm=None,
                 val_fraction=0.1, patience=3, init_embedding=None, freeze_embedding=False,
                 ppmi_corpus=["train", "ptb"], ppmi_window=5, ppmi_contexts=12000,
                 ppmi_std=0.25),
    "bilstm": dict(epochs=15, lr=1e-3, batch_size=64, weight_decay=0.0, min_freq=1,
                   embedding_dim=100, hidden_size=64, num_layers=1, dropout=0.5,
                   pooling="max", embedding_init_std=0.1, word_dropout=0.0,
                   clip_grad_norm=5.0, val_fraction=0.1, patience=3, init_embedding="ppmi",
                   freeze_embedding=False, ppmi_corpus=["train", "ptb"], ppmi_window=5,
                   ppmi_contexts=12000, ppmi_std=0.25),
}

#: Words whose nearest neighbours are printed and stored in the metrics.
NEIGHBOUR_WORDS = ["good", "bad", "boring", "funny", "worst", "beautiful", "mess"]

#: Words placed on the 2-D PCA picture of the embedding, with their expected polarity.
PLOT_WORDS = {
    "positive": ["good", "great", "best", "funny", "beautiful", "brilliant", "moving",
                 "wonderful", "entertaining", "powerful", "fun", "enjoyable", "charming",
                 "touching", "fascinating"],
    "negative": ["bad", "worst", "boring", "dull", "mess", "stupid", "tedious", "flat",
                 "predictable", "lame", "awful", "pointless", "mediocre", "bland", "fails"],
    "neutral": ["movie", "film", "the", "director", "story", "actors", "plot", "and"],
}


# -- data ---------------------------------------------------------------------------------
def find_data_root(dataset: str = DEFAULT, data_dir=None) -> Path:
    """The folder that holds ``rt-polarity.neg`` / ``.pos``: ``data_dir/rt-polarity``,
    ``data_dir`` -- or each folder of :func:`neurona.datasets._files.data_search_path`
    ($NEURONA_DATA, ./data, ../shared/data, and the same next to the repository) the same
    way."""
    if dataset != DEFAULT:
        raise ValueError(f"sentiment: dataset must be {DEFAULT!r}, got {dataset!r}")
    looked = []
    for root in data_search_path(data_dir):
        for folder in (root / DEFAULT, root):
            looked.append(str(folder))
            if (folder / "rt-polarity.neg").is_file() and (folder / "rt-polarity.pos").is_file():
                return folder
    raise FileNotFoundError(
        f"sentiment: rt-polarity.neg/.pos not found; looked in {', '.join(looked)}. Pass "
        "data_dir= the folder that holds them (or its parent), or fetch them with "
        "neurona.datasets.rt_polarity(root, download=True).")


def load_data(data_dir=None, val_fraction: float = 0.1, seed: int = 0):
    """``{"train": (texts, labels), "val": ..., "test": ...}``: the fixed 90/10 split
    (``split_rt_polarity(seed=0)``), and a random ``val_fraction`` of the training part
    (drawn with ``seed``) as the validation set."""
    from ..datasets.text import split_rt_polarity
    train_set, test_set = split_rt_polarity(find_data_root(DEFAULT, data_dir), seed=0)
    texts, labels = train_set.texts, np.asarray(train_set.labels, np.int64)
    perm = np.random.default_rng(seed).permutation(len(texts))
    n_val = int(round(len(texts) * val_fraction))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    return {"train": ([texts[i] for i in tr_idx], labels[tr_idx]),
            "val": ([texts[i] for i in val_idx], labels[val_idx]),
            "test": (list(test_set.texts), np.asarray(test_set.labels, np.int64))}


def length_buckets(lengths, batch_size: int, rng=None, pool: int = 50) -> list[np.ndarray]:
    """Batches of indices of sentences of similar lengths (less padding for the LSTM to
    skip over): shuffle, cut into pools of ``pool * batch_size`` sentences, sort each pool
    by length, cut it into batches, shuffle the batches.  Without ``rng``: in order, sorted
    by length (for evaluation)."""
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    batches = []
    size = pool * batch_size
    for s in range(0, len(order), size):
        chunk = order[s:s + size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _batch(encoded, idx, word_dropout=0.0, rng=None, unk=1):
    seqs = [encoded[i] for i in idx]
    if word_dropout and rng is not None:
        seqs = [np.where(rng.random(len(s)) < word_dropout, unk, s) if len(s) else s
                for s in seqs]
    ids, lengths, _ = pad_batch(seqs, empty="pad")
    return ids, lengths


def _find_ptb_train(data_dir) -> Path | None:
    """``ptb/ptb.train.txt`` next to the rt-polarity folder (``data_dir`` or its parent),
    else in the default data folders; None if nowhere."""
    roots = data_search_path(data_dir) + (data_search_path(None) if data_dir else [])
    for root in roots:
        for folder in (root / "ptb", root.parent / "ptb", root):
            if (folder / "ptb.train.txt").is_file():
                return folder / "ptb.train.txt"
    return None


def _unlabelled_corpus(train_texts, sources, data_dir, tok):
    """Token-id sentences for counting word vectors: the training snippets (``"train"``)
    and/or Penn Treebank's training text (``"ptb"``: ~900k words of news, no labels;
    skipped with a note when its file is not found).  Returns (corpus, description)."""
    corpus, parts = [], []
    for source in sources:
        if source == "train":
            corpus += [tok.encode(t) for t in train_texts]
            parts.append(f"the {len(train_texts):,} training snippets")
        elif source == "ptb":
            path = _find_ptb_train(data_dir)
            if path is None:
                parts.append("(ptb.train.txt not found: left out)")
                continue
            lines = path.read_text(encoding="utf-8").split("\n")
            # PTB writes rare words as "<unk>": drop them rather than count "<", "unk", ">"
            corpus += [tok.encode(line.replace("<unk>", " ")) for line in lines if line.strip()]
            parts.append(f"Penn Treebank's {len(lines):,} training sentences")
        else:
            raise ValueError(f"sentiment: ppmi_corpus entries must be 'train' or 'ptb', got "
                             f"{source!r}")
    return corpus, " and ".join(parts)


# -- the model ----------------------------------------------------------------------------
def _build_model(arch: str, vocab_size: int, h: dict):
    if arch == "mean":
        return EmbeddingBagClassifier(vocab_size, h["embedding_dim"], tuple(h["hidden"]),
                                      num_classes=2, pooling=h["pooling"],
                                      dropout=h["dropout"],
                                      embedding_init_std=h["embedding_init_std"])
    return LSTMClassifier(vocab_size, h["embedding_dim"], h["hidden_size"],
                          num_layers=h["num_layers"], bidirectional=True, num_classes=2,
                          dropout=h["dropout"], pooling=h["pooling"],
                          embedding_init_std=h["embedding_init_std"])


def _probabilities(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def evaluate(model, encoded, labels, batch_size: int = 256) -> dict:
    """``{"loss": mean cross-entropy, "accuracy": ...}`` of ``model`` on token-id lists
    ``encoded`` with ``labels`` (eval mode, no graph)."""
    labels = np.asarray(labels)
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    try:
        with no_grad():
            for idx in length_buckets([len(s) for s in encoded], batch_size):
                ids, lengths = _batch(encoded, idx)
                logp = np.log(_probabilities(model(ids, lengths).numpy()) + 1e-12)
                y = labels[idx]
                total += float(-logp[np.arange(len(y)), y].sum())
                correct += int((logp.argmax(1) == y).sum())
    finally:
        model.train(was_training)
    n = max(len(labels), 1)
    return {"loss": total / n, "accuracy": correct / n}


# -- training -----------------------------------------------------------------------------
def _fit(model, enc, labels, h, rng, say, max_steps=None, deadline=None, unk=1) -> dict:
    """Train ``model`` on ``enc["train"]`` with Adam, one pass over length-bucketed
    batches per epoch; after each epoch measure the validation accuracy and keep the best
    epoch's weights (early stopping after ``h["patience"]`` epochs without a better one).
    Returns ``{"history", "best", "steps", "stopped"}``; the model ends with the best
    weights, in eval mode."""
    y_tr, y_va = labels
    optimizer = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=h["lr"],
                           weight_decay=h["weight_decay"])
    loss_fn = nn.CrossEntropyLoss()
    history = {"epoch": [], "train_loss": [], "train_accuracy": [], "val_loss": [],
               "val_accuracy": [], "step_loss": [], "seconds": []}
    best = {"val_accuracy": -1.0, "epoch": 0, "state": None}
    steps, stopped, bad_epochs = 0, None, 0
    lengths_tr = [len(s) for s in enc["train"]]
    model.train()
    for epoch in range(1, int(h["epochs"]) + 1):
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        pending = []     # (step, loss, correct, n): on the device until the epoch's end
        for idx in length_buckets(lengths_tr, int(h["batch_size"]), rng):
            ids, lengths = _batch(enc["train"], idx, h["word_dropout"], rng, unk)
            y = tensor(y_tr[idx])
            logits = model(ids, lengths)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            if h["clip_grad_norm"]:
                nn.utils.clip_grad_norm_(model.parameters(), h["clip_grad_norm"])
            optimizer.step()
            steps += 1
            pending.append((steps, loss, (logits.detach().argmax(1) == y).sum(), len(idx)))
            seen += len(idx)
            if max_steps is not None and steps >= max_steps:
                stopped = f"max_steps={max_steps}"
                break
            if deadline is not None and time.perf_counter() > deadline:
                stopped = f"max_minutes={max_minutes}"
                break
        # the epoch's losses and counts, read back in one copy (no per-step GPU wait)
        values = read_scalars([p[1] for p in pending] + [p[2] for p in pending])
        for (step, _, _, n), value, right in zip(pending, values, values[len(pending):]):
            value = float(value)
            if not math.isfinite(value):
                raise FloatingPointError(f"sentiment: the loss became {value} at step {step}; "
                                         f"lower the learning rate (lr={h['lr']})")
            history["step_loss"].append(value)
            loss_sum += value * n
            correct += int(right)
        val = evaluate(model, enc["val"], y_va)
        history["epoch"].append(epoch)
        history["train_loss"].append(loss_sum / max(seen, 1))
        history["train_accuracy"].append(correct / max(seen, 1))
        history["val_loss"].append(val["loss"])
        history["val_accuracy"].append(val["accuracy"])
        history["seconds"].append(time.perf_counter() - t0)
        improved = val["accuracy"] > best["val_accuracy"]
        if improved:
            best.update(val_accuracy=val["accuracy"], epoch=epoch,
                        state=copy.deepcopy(model.state_dict()))
            bad_epochs = 0
        else:
            bad_epochs += 1
        say(f"epoch {epoch:2d}  train loss {history['train_loss'][-1]:.4f} acc "
            f"{history['train_accuracy'][-1]:.4f}   val loss {val['loss']:.4f} acc "
            f"{val['accuracy']:.4f}{'  *' if improved else ''}   "
            f"{history['seconds'][-1]:.1f} s" + (f"  ({seen} snippets)" if stopped else ""))
        if stopped:
            say(f"stopped early: {stopped}")
            break
        if bad_epochs >= h["patience"]:
            say(f"early stopping: no better validation accuracy for {h['patience']} epochs")
            break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    return {"history": history, "best": best, "steps": steps, "stopped": stopped}


def train(dataset=DEFAULT, *, data_dir=None, out=None, arch=None, epochs=None, lr=None,
          batch_size=None, seed=0, max_steps=None, max_minutes=None, plots=True,
          quiet=False, **options) -> dict:
    """Train a sentiment classifier on rt-polarity; see the module docstring.

    Args:
        dataset: ``"rt-polarity"`` (the only one).
        data_dir: a folder with ``rt-polarity/`` in it, or that folder (default: the usual
            data folders).
        out: where to write ``model.safetensors``, ``metrics.json`` and the plots (None:
            nothing written).
        arch: ``"mean"`` (default) or ``"bilstm"``.
        epochs, lr, batch_size: None takes :data:`DEFAULTS` ``[arch]``.
        seed: initial weights, the validation split, the batch order (the test split is
            always ``split_rt_polarity(seed=0)``).
        max_steps, max_minutes: stop training after this many optimizer steps / minutes
            (the best epoch so far, or the current weights if no epoch ended, is kept).
        plots: write training curves and the PCA picture of the embeddings (with ``out``).
        quiet: print nothing.
        **options: any other key of :data:`DEFAULTS` ``[arch]`` (``min_freq``,
            ``embedding_dim``, ``dropout``, ``weight_decay``, ``patience``...), and
            ``neighbour_words`` (a list of words to find neighbours for).
            ``init_embedding``: None (random N(0, 0.1^2)), ``"ppmi"`` (counted vectors,
            from the ``ppmi_corpus`` sources ``"train"``/``"ptb"``), ``"mean"`` (bilstm
            only: train the mean model first and start from its embedding) or an array
            (vocab_size, embedding_dim) in this run's vocabulary order;
            ``freeze_embedding=True`` keeps it fixed.

    Returns:
        ``{"metrics", "checkpoint", "plots", "wall_s", "history"}`` (see the recipes
        package).
    """
    start = time.perf_counter()
    arch = "mean" if arch is None else str(arch).lower()
    if arch not in ARCHS:
        raise ValueError(f"sentiment: arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    neighbour_words = list(options.pop("neighbour_words", NEIGHBOUR_WORDS))
    h = dict(DEFAULTS[arch])
    unknown = set(options) - set(h)
    if unknown:
        raise TypeError(f"sentiment.train: unknown option(s) {sorted(unknown)}; the options "
                        f"for arch={arch!r} are {sorted(h)}")
    h.update({k: v for k, v in options.items() if v is not None})
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if value is not None:
            h[key] = value
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))

    # data and vocabulary (fitted on the training part only)
    data = load_data(data_dir, h["val_fraction"], seed)
    (tr_texts, y_tr), (va_texts, y_va), (te_texts, y_te) = data["train"], data["val"], data["test"]
    tok = WordTokenizer(lower=True).fit(tr_texts, min_freq=h["min_freq"])
    enc = {name: [np.asarray(tok.encode(t), np.int64) for t in texts]
           for name, texts in (("train", tr_texts), ("val", va_texts), ("test", te_texts))}
    unk = tok.vocab.unk_index
    test_unk = sum(int((s == unk).sum()) for s in enc["test"]) / max(
        sum(len(s) for s in enc["test"]), 1)
    empty = {name: sum(len(s) == 0 for s in seqs) for name, seqs in enc.items()}

    manual_seed(seed)
    rng = np.random.default_rng(seed)
    deadline = None if max_minutes is None else start + 60.0 * max_minutes
    model = _build_model(arch, len(tok.vocab), h)
    pre = None
    init = h.get("init_embedding")
    init_note = "random" if init is None else init if isinstance(init, str) else "array"
    if isinstance(init, np.ndarray):
        model.load_pretrained_embeddings(init, freeze=h["freeze_embedding"])
        h["init_embedding"] = init_note = f"array {init.shape}"
    elif init == "ppmi":
        t0 = time.perf_counter()
        corpus, what = _unlabelled_corpus(tr_texts, h["ppmi_corpus"], data_dir, tok)
        vectors = ppmi_svd_embeddings(corpus, len(tok.vocab), h["embedding_dim"],
                                      window=h["ppmi_window"],
                                      max_contexts=h["ppmi_contexts"],
                                      std=h["ppmi_std"], seed=seed)
        model.load_pretrained_embeddings(vectors, freeze=h["freeze_embedding"])
        say(f"embedding table started from PPMI-SVD word vectors counted in {what} "
            f"({time.perf_counter() - t0:.1f} s)")
        init_note = f"ppmi: {what}"
    elif init == "mean" and arch == "bilstm":
        # stage 1: the course's model learns word vectors; the BiLSTM starts from them
        hm = {**DEFAULTS["mean"], "embedding_dim": h["embedding_dim"]}
        say(f"stage 1: the mean model learns {h['embedding_dim']}-d word vectors")
        bag = _build_model("mean", len(tok.vocab), hm)
        pre = _fit(bag, enc, (y_tr, y_va), hm, rng, say, max_steps, deadline, unk)
        model.load_pretrained_embeddings(bag.embedding.weight.detach().numpy(),
                                         freeze=h["freeze_embedding"])
        say(f"stage 2: the BiLSTM, its embedding table started from those vectors")
    elif init not in (None, "random"):
        raise ValueError(f"sentiment: init_embedding must be None, 'ppmi', an array or "
                         f"(bilstm only) 'mean', got {init!r}")
    n_params = sum(p.numel() for p in model.parameters())
    say(f"sentiment ({arch}: {model.name}, {n_params:,} parameters) on rt-polarity: "
        f"{len(y_tr)} train / {len(y_va)} val / {len(y_te)} test snippets, vocabulary "
        f"{len(tok.vocab):,} (min_freq {h['min_freq']}), {test_unk:.1%} of test tokens "
        f"<unk>; Adam lr {h['lr']}, batch {h['batch_size']}, dropout {h['dropout']}, word "
        f"dropout {h['word_dropout']}, up to {h['epochs']} epochs")
    fit = _fit(model, enc, (y_tr, y_va), h, rng, say, max_steps, deadline, unk)
    history, best, steps, stopped = fit["history"], fit["best"], fit["steps"], fit["stopped"]
    model.eval()
    test = evaluate(model, enc["test"], y_te)
    say(f"test accuracy {test['accuracy']:.4f} (loss {test['loss']:.4f}) with the weights of "
        f"epoch {best['epoch']} (best validation accuracy {best['val_accuracy']:.4f})")

    weight = model.embedding.weight.detach().numpy()
    neighbours = {}
    for word in neighbour_words:
        if word in tok.vocab:
            neighbours[word] = [(w, round(s, 4)) for w, s in
                                nearest_neighbours(weight, tok.vocab, word, k=5)]
            say(f"  nearest to {word!r:12s} " + ", ".join(f"{w} ({s:.2f})"
                                                         for w, s in neighbours[word]))
    wall = time.perf_counter() - start
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"],
               "val_accuracy": best["val_accuracy"], "best_epoch": best["epoch"],
               "epochs_run": len(history["epoch"]), "steps": steps,
               "first_step_loss": history["step_loss"][0] if steps else None,
               "last_epoch_train_loss": history["train_loss"][-1] if history["epoch"] else None,
               "vocab_size": len(tok.vocab), "parameters": n_params,
               "test_unk_fraction": test_unk, "empty_snippets": empty,
               "n_train": len(y_tr), "n_val": len(y_va), "n_test": len(y_te),
               "arch": arch, "model": model.name, "stopped_by": stopped,
               "wall_s": wall, "neighbours": neighbours}
    metrics["init_embedding"] = init_note
    if pre is not None:
        metrics["stage1_val_accuracy"] = pre["best"]["val_accuracy"]
        metrics["stage1_steps"] = pre["steps"]
    checkpoint, written = None, []
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        checkpoint = save_checkpoint(model, out / "model.safetensors", tokenizer=tok.to_dict(),
                                     labels=LABEL_NAMES, dataset=DEFAULT, arch=arch,
                                     hyperparameters=h, seed=seed,
                                     test_accuracy=test["accuracy"])
        if plots:
            written = _write_plots(out, history, weight, tok.vocab, arch)
        metrics["wall_s"] = time.perf_counter() - start
        write_metrics(out, metrics, h, history)
    return {"metrics": metrics, "checkpoint": checkpoint, "plots": written,
            "wall_s": time.perf_counter() - start, "history": history}


def _write_plots(out: Path, history: dict, weight, vocab, arch: str) -> list[str]:
    from .. import viz_text
    paths = []
    if history["epoch"]:
        paths.append(viz_text.plot_training_curves(
            {"train loss": history["train_loss"], "val loss": history["val_loss"]},
            out / "training_curves.png", ylabel="cross-entropy",
            right={"train accuracy": history["train_accuracy"],
                   "val accuracy": history["val_accuracy"]},
            right_label="accuracy", title=f"sentiment ({arch}) on rt-polarity"))
    groups = {w: g for g, words in PLOT_WORDS.items() for w in words}
    paths.append(viz_text.plot_embeddings_2d(
        weight, vocab, list(groups), out / "embeddings_pca.png", groups=groups,
        title=f"learned word embeddings ({arch}), PCA to 2-D"))
    return [os.fspath(p) for p in paths]


# -- using a trained model ----------------------------------------------------------------
def load_classifier(checkpoint):
    """``(model, tokenizer)`` from a checkpoint written by :func:`train`; the vocabulary is
    checked against the model's embedding table."""
    model, extra = load_checkpoint(checkpoint)
    if "tokenizer" not in extra:
        raise ValueError(f"{checkpoint}: this checkpoint has no tokenizer in it, so its "
                         "token ids can't be rebuilt; pass the model and the tokenizer it "
                         "was trained with to predict(model, texts, tokenizer=...)")
    tok = tokenizer_from_dict(extra["tokenizer"], f"{checkpoint} (tokenizer)")
    check_vocab_matches(tok.vocab, model.embedding)
    model.label_names = list(extra.get("labels", LABEL_NAMES))
    return model, tok


def predict(checkpoint_or_model, texts, tokenizer=None, batch_size: int = 256) -> dict:
    """Classify ``texts`` (a string or a list of strings).

    Args:
        checkpoint_or_model: the path of a checkpoint written by :func:`train` (it holds
            its tokenizer), or a model -- then ``tokenizer`` is required.
        tokenizer: the :class:`~neurona.text.WordTokenizer` the model was trained with;
            its vocabulary must have as many tokens as the model's embedding table has
            rows (else ``ValueError``: a mismatched pair would silently read wrong words).

    Returns:
        ``{"labels": [0/1 ...], "names": ["negative"/"positive" ...], "probabilities":
        (N, 2) array, "unknown_tokens": [how many words of each text are <unk>],
        "empty": [True for a text with no tokens (answered from no evidence)]}``.
    """
    if isinstance(checkpoint_or_model, (str, os.PathLike)):
        model, tok = load_classifier(checkpoint_or_model)
        if tokenizer is not None:
            raise ValueError("predict: the checkpoint carries its own tokenizer; don't pass "
                             "tokenizer= with a checkpoint path")
    else:
        model, tok = checkpoint_or_model, tokenizer
        if tok is None:
            raise ValueError("predict: pass tokenizer= (the one the model was trained with) "
                             "when giving a model rather than a checkpoint path")
        if not hasattr(model, "embedding"):
            raise TypeError(f"predict: expected a sentiment model (EmbeddingBagClassifier or "
                            f"LSTMClassifier), got {type(model).__name__}")
        check_vocab_matches(tok.vocab if hasattr(tok, "vocab") else tok, model.embedding)
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"predict: text {i} is {type(t).__name__}, not a string")
    names = list(getattr(model, "label_names", LABEL_NAMES))
    if not texts:
        return {"labels": [], "names": [], "probabilities": np.zeros((0, len(names))),
                "unknown_tokens": [], "empty": []}
    encoded = [np.asarray(tok.encode(t), np.int64) for t in texts]
    unk = tok.vocab.unk_index
    probs = np.zeros((len(texts), model.fc.out_features if hasattr(model, "fc")
                      else model.classifier[-1].out_features), np.float64)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for s in range(0, len(encoded), batch_size):
                ids, lengths = _batch(encoded, range(s, min(s + batch_size, len(encoded))))
                probs[s:s + len(lengths)] = _probabilities(model(ids, lengths).numpy())
    finally:
        model.train(was_training)
    labels = probs.argmax(1).tolist()
    return {"labels": labels,
            "names": [names[i] if i < len(names) else str(i) for i in labels],
            "probabilities": probs,
            "unknown_tokens": [int((e == unk).sum()) for e in encoded],
            "empty": [len(e) == 0 for e in encoded]}
