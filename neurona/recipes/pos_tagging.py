"""Part-of-speech tagging with a BiLSTM on a Universal Dependencies treebank.

    from neurona.recipes import pos_tagging
    result = pos_tagging.train(out="runs/pos")            # UD English-EWT, the defaults
    result["metrics"]["test_accuracy"]                    # UPOS accuracy on the test set
    pos_tagging.tag("runs/pos/model.safetensors", "The old man the boats.")
    # [('The', 'DET'), ('old', 'NOUN'), ('man', 'VERB'), ('the', 'DET'), ('boats', 'NOUN'), ('.', 'PUNCT')]

Many-to-many: one tag per word.  The model (:class:`neurona.models.BiLSTMTagger`) reads
each word's embedding and its spelling (a char CNN), a bidirectional LSTM gives every word
a context vector h_t, and a linear layer scores the 17 UPOS tags.  The loss is the mean
cross-entropy over the real words of a batch (padding is skipped with
``ignore_index=-100``); accuracy = correct tags / words.

Any UD treebank works: ``data_dir`` is a folder with the treebank's
``*-ud-train.conllu``, ``*-ud-dev.conllu`` and ``*-ud-test.conllu`` files (or a data
folder with ``ud-english-ewt/`` -- or ``<dataset>/`` -- in it).  A treebank without a dev
file gives the last 10% of its training sentences to model selection.

Training: Adam, sentences bucketed by length into batches of ~32 (little padding), word
dropout (a word becomes ``<unk>`` with probability 0.05 so the ``<unk>`` row is trained for
the unseen words of the test set), gradient clipping, the epoch with the best dev accuracy
kept; test accuracy reported once, for that model.

Results with :data:`DEFAULTS` and seed 0 (``OMP_NUM_THREADS=1 python
examples/09_pos_tagging_ud.py --data-dir ../shared/data``, the same as ``neurona train
pos-tagger``), on a 2-core machine shared with four other trainings:

    UD English-EWT v2.16, UPOS: test accuracy 0.9529 on 25,094 words (dev 0.9474, best
    epoch 8 of 10); words unseen in training (7.5% of the test words): 0.7768.
    Wall time 409 s, 40 s per epoch (211 s of CPU in all: the job got about half a core).

The same run repeats to the last digit.  For comparison: dropout 0.5 gave 0.9510; the
first version (nn.Embedding's N(0, 1) init, lr 2e-3 constant, dropout 0.5) 0.9424 after
776 s, its dev accuracy still 0.82 after epoch 1 against 0.93 now.  The tagger overfits
after ~5 epochs (train 0.98, dev loss rising), so the dev-selected epoch matters.

The checkpoint holds the word vocabulary (in the tokenizer), the character vocabulary and
the tag set, so :func:`tag` needs nothing else.
"""
from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._report import log as _log, save_run
from ..train.readings import read_scalars

from .. import nn, optim
from ..autograd import no_grad
from ..creation import tensor
from ..datasets._files import DatasetFileError
from ..datasets.text import TaggedDataset, read_conllu
from ..models import BiLSTMTagger, load_checkpoint
from ..random import manual_seed
from ..text import Vocab, WordTokenizer, check_vocab_matches, tokenizer_from_dict

__all__ = ["DEFAULT", "DEFAULTS", "TOKEN_PATTERN", "TaggerVocabs", "find_treebank",
           "load_treebank", "train", "evaluate", "tag", "load_tagger"]

DEFAULT = "ud-english-ewt"

#: The tuned hyper-parameters (``None`` arguments of :func:`train` take these).
DEFAULTS = dict(
    epochs=10, lr=5e-3, lr_decay=0.1, batch_size=32,
    embedding_dim=100, char_embedding_dim=30, char_filters=50, char_kernel_size=3,
    hidden_size=150, num_layers=1, dropout=0.33, word_dropout=0.05,
    lower=True, min_freq=1, max_word_len=20, clip_grad_norm=5.0, eval_batch_size=64,
)

#: How :func:`tag` splits a raw sentence: like UD English, clitics are words of their own
#: ("don't" -> "do n't", "it's" -> "it 's"), a few abbreviations and initials keep their
#: point ("Dr.", "U.S."), numbers keep their inner points and commas ("3.5", "1,000"),
#: hyphenated words stay whole, every other symbol is a token.
TOKEN_PATTERN = (r"(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|etc|e\.g|i\.e)\.(?!\w)"
                 r"|(?:[A-Za-z]\.){2,}"
                 r"|\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-.,]\w+)*|[^\w\s]")

IGNORE = -100           # the target of a padding position (CrossEntropyLoss skips it)
PAD, UNK = "<pad>", "<unk>"


# -- finding and reading a treebank ---------------------------------------------------------
def _candidate_roots(data_dir) -> list:
    """The folders a treebank may be under: ``data_dir``, or the CLI's search list
    ($NEURONA_DATA, ./data, ../shared/data) and the same next to the repository."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    from ..datasets._files import data_search_path
    return data_search_path(None)


def find_treebank(dataset: str = DEFAULT, data_dir=None) -> Path:
    """The folder holding ``*-ud-train.conllu``: ``data_dir/dataset``, ``data_dir`` (or
    each default data folder the same way).  Raises ``FileNotFoundError`` listing where it
    looked."""
    looked = []
    for root in _candidate_roots(data_dir):
        for folder in (root / dataset, root):
            looked.append(str(folder))
            if folder.is_dir() and any(folder.glob("*-ud-train.conllu")):
                return folder
    raise FileNotFoundError(
        f"pos_tagging: no UD treebank (*-ud-train.conllu) found for {dataset!r}; looked in "
        f"{', '.join(looked)}. Pass data_dir= the treebank's folder (any UD treebank works), "
        "or download UD English-EWT into ./data/ud-english-ewt.")


def _split_file(folder: Path, split: str) -> Path | None:
    files = sorted(folder.glob(f"*-ud-{split}.conllu"))
    if len(files) > 1:
        raise FileNotFoundError(f"pos_tagging: several *-ud-{split}.conllu files in {folder}: "
                                f"{[f.name for f in files]}; pass the folder of ONE treebank")
    return files[0] if files else None


def load_treebank(folder, tags: str = "upos") -> dict:
    """``{"train": TaggedDataset, "dev": ..., "test": ...}`` from a treebank folder, found
    by glob (``*-ud-train.conllu`` ...).  Without a dev file the last 10% of the training
    sentences are the dev set; without a test file it is an error.  A malformed line raises
    ``DatasetFileError`` naming the file and line number (from :func:`read_conllu`)."""
    if tags not in ("upos", "xpos"):
        raise ValueError(f"pos_tagging: tags must be 'upos' or 'xpos', got {tags!r}")
    folder = Path(folder)
    paths = {s: _split_file(folder, s) for s in ("train", "dev", "test")}
    for s in ("train", "test"):
        if paths[s] is None:
            raise FileNotFoundError(f"pos_tagging: no *-ud-{s}.conllu in {folder}")
    sents = {s: read_conllu(p) for s, p in paths.items() if p is not None}
    if paths["dev"] is None:
        n_dev = max(1, len(sents["train"]) // 10)
        sents["train"], sents["dev"] = sents["train"][:-n_dev], sents["train"][-n_dev:]
    if all(t == "_" for s in sents["train"] for t in getattr(s, tags)):
        raise DatasetFileError(f"{paths['train']}: the {tags.upper()} column is '_' on every "
                               f"line (this treebank has no {tags.upper()} tags); use "
                               f"tags={'upos' if tags == 'xpos' else 'xpos'!r}")
    return {s: TaggedDataset(v, tags) for s, v in sents.items()}


# -- vocabularies ---------------------------------------------------------------------------
@dataclass
class TaggerVocabs:
    """What turns words into ids and ids into tags: the word vocabulary (``lower``: its
    words are lower-cased), the character vocabulary, the tag names, the longest word the
    char CNN reads, and the regular expression that splits raw text."""
    words: Vocab
    chars: Vocab
    tags: list
    lower: bool = True
    max_word_len: int = 20
    token_pattern: str = TOKEN_PATTERN

    @classmethod
    def build(cls, sentences, lower=True, min_freq=1, max_word_len=20) -> "TaggerVocabs":
        """From training ``(words, tags)`` pairs."""
        word_counts, char_counts, tag_set = Counter(), Counter(), set()
        for words, tags in sentences:
            word_counts.update(w.lower() if lower else w for w in words)
            for w in words:
                char_counts.update(w)
            tag_set.update(tags)
        return cls(Vocab.build(word_counts, min_freq=min_freq, specials=(PAD, UNK)),
                   Vocab.build(char_counts, specials=(PAD, UNK)), sorted(tag_set),
                   bool(lower), int(max_word_len))

    # what goes into the checkpoint
    def to_extra(self) -> dict:
        tokenizer = WordTokenizer(lower=False, pattern=self.token_pattern, vocab=self.words)
        return {"tokenizer": tokenizer.to_dict(), "lower_words": self.lower,
                "chars": self.chars.to_dict(), "tags": list(self.tags),
                "max_word_len": self.max_word_len}

    @classmethod
    def from_extra(cls, extra: dict, source: str = "checkpoint") -> "TaggerVocabs":
        missing = [k for k in ("tokenizer", "chars", "tags") if k not in (extra or {})]
        if missing:
            raise ValueError(f"{source}: not a POS-tagger checkpoint (no {', '.join(missing)} "
                             "in it); train one with neurona.recipes.pos_tagging.train")
        tok = tokenizer_from_dict(extra["tokenizer"], source)
        return cls(tok.vocab, Vocab.from_dict(extra["chars"], source), list(extra["tags"]),
                   bool(extra.get("lower_words", True)), int(extra.get("max_word_len", 20)),
                   tok.pattern)

    def check(self, model) -> None:
        """Raise ``ValueError`` unless the vocabularies fit the model's tables."""
        check_vocab_matches(self.words, model.embedding)
        if model.chars is not None:
            check_vocab_matches(self.chars, model.chars.embedding)
        if len(self.tags) != model.num_tags:
            raise ValueError(f"tag set mismatch: {len(self.tags)} tags in the vocabulary but "
                             f"the model scores {model.num_tags}; use the tag list saved "
                             "with the model's checkpoint")

    # encoding
    def clip(self, word: str) -> str:
        """A word longer than ``max_word_len``: its first and last halves (the prefix
        and the suffix carry the most about the tag)."""
        L = self.max_word_len
        return word if len(word) <= L else word[:L // 2] + word[len(word) - (L - L // 2):]

    def encode(self, words) -> tuple[np.ndarray, list]:
        """Word ids (T,) and one char-id array per word."""
        ids = np.array(self.words.lookup_indices(w.lower() if self.lower else w
                                                 for w in words), np.int64)
        chars = [np.array(self.chars.lookup_indices(self.clip(w)), np.int64) for w in words]
        return ids, chars

    def encode_tags(self, tags) -> np.ndarray:
        """Tag ids; a tag never seen in training (possible in dev/test) gets the id
        ``len(tags)``: the model cannot predict it, so it counts as a mistake."""
        index = {t: i for i, t in enumerate(self.tags)}
        return np.array([index.get(t, len(self.tags)) for t in tags], np.int64)


# -- batches --------------------------------------------------------------------------------
def encode_dataset(dataset, vocabs: TaggerVocabs) -> list:
    """Each ``(words, tags)`` as ``(word_ids, char_ids, tag_ids)``."""
    return [vocabs.encode(words) + (vocabs.encode_tags(tags),) for words, tags in dataset]


def make_batch(encoded, with_tags: bool = True):
    """Pad sentences into word_ids (N, T), char_ids (N, T, C), lengths (N,) and targets
    (N, T) (``IGNORE`` at padding)."""
    lengths = np.array([len(e[0]) for e in encoded], np.int64)
    N, T = len(encoded), int(lengths.max())
    C = max(len(c) for e in encoded for c in e[1])
    words = np.zeros((N, T), np.int64)
    chars = np.zeros((N, T, C), np.int64)
    targets = np.full((N, T), IGNORE, np.int64)
    for i, e in enumerate(encoded):
        n = len(e[0])
        words[i, :n] = e[0]
        for t, c in enumerate(e[1]):
            chars[i, t, :len(c)] = c
        if with_tags:
            targets[i, :n] = e[2]
    return words, chars, lengths, targets


def bucket_batches(lengths, batch_size: int, rng: np.random.Generator | None = None) -> list:
    """Index arrays of ~``batch_size`` sentences of similar length (sorted by length, with
    random tie-breaking, then cut), in random order when ``rng`` is given."""
    lengths = np.asarray(lengths)
    noise = rng.random(len(lengths)) if rng is not None else np.zeros(len(lengths))
    order = np.lexsort((noise, lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def evaluate(model, encoded, batch_size: int = 256, loss_fn=None) -> dict:
    """Accuracy (and loss with ``loss_fn``) over every word of ``encoded``; also the
    predicted tag ids, in the sentences' order (``predictions``: a list of (T_i,) arrays)."""
    was_training = model.training
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    preds = [None] * len(encoded)
    with no_grad():
        for idx in bucket_batches([len(e[0]) for e in encoded], batch_size):
            words, chars, lengths, targets = make_batch([encoded[i] for i in idx])
            logits = model(words, chars, lengths)
            if loss_fn is not None:
                K = logits.shape[-1]
                known = np.where(targets >= K, IGNORE, targets)   # unseen tags: no loss
                loss = loss_fn(logits.reshape(-1, K), tensor(known.reshape(-1)))
                loss_sum += float(loss) * int((known != IGNORE).sum())
            guess = logits.numpy().argmax(-1)
            real = targets != IGNORE
            correct += int((guess == targets)[real].sum())
            total += int(real.sum())
            for j, i in enumerate(idx):
                preds[i] = guess[j, :lengths[j]]
    model.train(was_training)
    out = {"accuracy": correct / max(1, total), "words": total, "predictions": preds}
    if loss_fn is not None:
        out["loss"] = loss_sum / max(1, total)
    return out


# -- training -------------------------------------------------------------------------------
def train(dataset=DEFAULT, *, data_dir=None, out=None, arch=None, epochs=None, lr=None,
          batch_size=None, seed=0, max_steps=None, max_minutes=None, plots=True,
          quiet=False, tags="upos", max_train_sentences=None, **options) -> dict:
    """Train a BiLSTM tagger on a UD treebank; select the epoch on dev, report test.

    Args:
        dataset: the treebank's folder name under a data folder (``"ud-english-ewt"``).
        data_dir: a data folder holding ``dataset/``, or the treebank folder itself.
        out: where to write ``model.safetensors``, ``metrics.json`` and the plots.
        arch: ``"bilstm-tagger"`` (the only one) or None.
        tags: ``"upos"`` (the 17 universal tags) or ``"xpos"`` (the treebank's own).
        max_train_sentences: train on the first n sentences only (quick runs).
        max_steps, max_minutes: stop training after this many updates / minutes.
        options: any key of :data:`DEFAULTS` (e.g. ``hidden_size=200``, ``lower=False``).

    Returns ``{"metrics", "checkpoint", "plots", "wall_s", "history", "model", "vocabs"}``.
    """
    t_start = time.perf_counter()
    dataset = dataset or DEFAULT
    if arch not in (None, "bilstm-tagger"):
        raise ValueError(f"pos_tagging: arch must be 'bilstm-tagger', got {arch!r}")
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"pos_tagging.train: unknown option(s) {unknown}; the options are "
                        f"{sorted(DEFAULTS)}")
    hp = dict(DEFAULTS, **options)
    for k, v in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if v is not None:
            hp[k] = v
    manual_seed(seed)
    rng = np.random.default_rng(seed)

    folder = find_treebank(dataset, data_dir)
    splits = load_treebank(folder, tags)
    if max_train_sentences is not None:
        splits["train"] = TaggedDataset(splits["train"].sentences[:int(max_train_sentences)],
                                        tags)
    vocabs = TaggerVocabs.build(splits["train"], hp["lower"], hp["min_freq"], hp["max_word_len"])
    data = {s: encode_dataset(d, vocabs) for s, d in splits.items()}
    _log(quiet, f"{folder}: {', '.join(f'{s} {len(d):,} sentences' for s, d in data.items())}; "
                f"{len(vocabs.words):,} words, {len(vocabs.chars):,} characters, "
                f"{len(vocabs.tags)} {tags.upper()} tags")

    model = BiLSTMTagger(len(vocabs.words), len(vocabs.tags), len(vocabs.chars),
                         embedding_dim=hp["embedding_dim"],
                         char_embedding_dim=hp["char_embedding_dim"],
                         char_filters=hp["char_filters"],
                         char_kernel_size=hp["char_kernel_size"],
                         hidden_size=hp["hidden_size"], num_layers=hp["num_layers"],
                         dropout=hp["dropout"], word_dropout=hp["word_dropout"])
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    optimizer = optim.Adam(model.parameters(), lr=hp["lr"])
    # lr_e = lr / (1 + lr_decay * e) in epoch e = 0, 1, 2, ... (Ma & Hovy 2016's schedule)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer,
                                            lambda e: 1.0 / (1.0 + hp["lr_decay"] * e))
    K = len(vocabs.tags)
    lengths = [len(e[0]) for e in data["train"]]

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "epoch_s": []}
    best = {"val_accuracy": -1.0, "epoch": 0, "state": None}
    steps, stop = 0, False
    deadline = t_start + 60 * max_minutes if max_minutes else math.inf
    for epoch in range(1, int(hp["epochs"]) + 1):
        t_epoch = time.perf_counter()
        model.train()
        loss_sum = correct = total = 0
        pending = []     # (loss, correct, n): on the device until the epoch's end
        for idx in bucket_batches(lengths, int(hp["batch_size"]), rng):
            words, chars, lens, targets = make_batch([data["train"][i] for i in idx])
            logits = model(words, chars, lens)                      # (N, T, K)
            loss = loss_fn(logits.reshape(-1, K), tensor(targets.reshape(-1)))
            optimizer.zero_grad()
            loss.backward()
            if hp["clip_grad_norm"]:
                nn.utils.clip_grad_norm_(model.parameters(), hp["clip_grad_norm"])
            optimizer.step()
            real = targets != IGNORE
            n = int(real.sum())
            hits = (logits.detach().argmax(-1) == tensor(np.where(real, targets, -1))).sum()
            pending.append((loss, hits, n))
            total += n
            steps += 1
            if (max_steps is not None and steps >= max_steps) or time.perf_counter() > deadline:
                stop = True
                break
        # the epoch's losses and counts, read back in one copy (no per-step GPU wait)
        values = read_scalars([p[0] for p in pending] + [p[1] for p in pending])
        for (_, _, n), value, hits in zip(pending, values, values[len(pending):]):
            loss_sum += float(value) * n
            correct += int(hits)
        scheduler.step()
        dev = evaluate(model, data["dev"], hp["eval_batch_size"], loss_fn)
        history["loss"].append(loss_sum / max(1, total))
        history["accuracy"].append(correct / max(1, total))
        history["val_loss"].append(dev["loss"])
        history["val_accuracy"].append(dev["accuracy"])
        history["epoch_s"].append(time.perf_counter() - t_epoch)
        if dev["accuracy"] > best["val_accuracy"]:
            best = {"val_accuracy": dev["accuracy"], "epoch": epoch,
                    "state": {k: v.numpy().copy() for k, v in model.state_dict().items()}}
        _log(quiet, f"epoch {epoch:2d}  loss {history['loss'][-1]:.4f}  "
                    f"train acc {history['accuracy'][-1]:.4f}  dev loss {dev['loss']:.4f}  "
                    f"dev acc {dev['accuracy']:.4f}  ({history['epoch_s'][-1]:.1f} s"
                    f"{', best' if best['epoch'] == epoch else ''})")
        if stop:
            break

    model.load_state_dict({k: tensor(v) for k, v in best["state"].items()})
    model.eval()
    model.tagger_vocabs = vocabs
    test = evaluate(model, data["test"], hp["eval_batch_size"], loss_fn)
    oov = _oov_accuracy(splits["test"], test["predictions"], data["test"], vocabs)
    wall = time.perf_counter() - t_start
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"],
               "test_oov_accuracy": oov["accuracy"], "test_oov_rate": oov["rate"],
               "dev_accuracy": best["val_accuracy"], "best_epoch": best["epoch"],
               "epochs_run": len(history["loss"]), "steps": steps,
               "train_sentences": len(data["train"]), "test_words": test["words"],
               "tags": tags, "treebank": str(folder), "seconds_per_epoch":
               float(np.mean(history["epoch_s"])), "wall_s": wall}
    _log(quiet, f"test accuracy {test['accuracy']:.4f} ({test['words']:,} words; words unseen "
                f"in training: {oov['rate']:.1%} of them, {oov['accuracy']:.4f} right) -- "
                f"best dev {best['val_accuracy']:.4f} at epoch {best['epoch']}; {wall:.0f} s")

    checkpoint, plot_paths = None, []
    if out is not None:
        checkpoint = save_run(out, model, metrics, hp, history, dataset=dataset, tagset=tags,
                              **vocabs.to_extra())
        if plots:
            plot_paths = _plots(out, history, data["test"], test["predictions"], vocabs)
    return {"metrics": metrics, "checkpoint": checkpoint, "plots": plot_paths,
            "wall_s": wall, "history": history, "model": model, "vocabs": vocabs}


def _oov_accuracy(dataset, predictions, encoded, vocabs) -> dict:
    """Accuracy on the words whose (lower-cased) form is not in the word vocabulary."""
    hit = n = total = 0
    for e, pred in zip(encoded, predictions):
        unseen = e[0] == vocabs.words.unk_index
        n += int(unseen.sum())
        hit += int((pred == e[2])[unseen].sum())
        total += len(e[0])
    return {"accuracy": hit / max(1, n), "rate": n / max(1, total)}


def _plots(out, history, encoded, predictions, vocabs) -> list:
    """Training curves (loss, accuracy: train vs dev) and the test confusion matrix."""
    from .. import viz
    curves = {k: v for k, v in history.items() if k != "epoch_s"}
    paths = [viz.plot_history(curves, os.path.join(out, "history.png"),
                              title="BiLSTM POS tagger: train vs dev")]
    y_true = np.concatenate([e[2] for e in encoded])
    y_pred = np.concatenate(predictions)
    keep = y_true < len(vocabs.tags)                   # tags unseen in training left out
    paths.append(viz.plot_confusion_matrix(y_true[keep], y_pred[keep],
                                           os.path.join(out, "confusion_matrix.png"),
                                           labels=vocabs.tags,
                                           title="test set: true tag vs predicted tag"))
    return paths


# -- using a trained tagger -----------------------------------------------------------------
def load_tagger(path):
    """``(model, vocabs)`` from a checkpoint written by :func:`train`; checks that the
    vocabularies fit the model (``ValueError`` otherwise).  ``model.tagger_vocabs`` is set,
    so ``tag(model, ...)`` works too."""
    model, extra = load_checkpoint(path)
    if not isinstance(model, BiLSTMTagger):
        raise ValueError(f"{path}: holds a {model.name!r} model, not a POS tagger "
                         "('bilstm-tagger')")
    vocabs = TaggerVocabs.from_extra(extra, os.fspath(path))
    vocabs.check(model)
    model.tagger_vocabs = vocabs
    return model, vocabs


def _words_of(sentence, pattern: str) -> list:
    if isinstance(sentence, str):
        words = WordTokenizer(pattern=pattern).tokenize(sentence)
    elif isinstance(sentence, (list, tuple)):
        bad = [(i, w) for i, w in enumerate(sentence) if not isinstance(w, str) or not w.strip()
               or any(ch.isspace() for ch in w)]
        if bad:
            i, w = bad[0]
            raise ValueError(f"tag: word {i} is {w!r}; a pre-tokenized sentence must be a list "
                             "of non-empty strings without spaces")
        words = list(sentence)
    else:
        raise TypeError(f"tag: sentence must be a string or a list of words, got "
                        f"{type(sentence).__name__}")
    if not words:
        raise ValueError(f"tag: the sentence {sentence!r} is empty (no words to tag); pass "
                         "at least one word")
    return words


def tag(model_or_checkpoint, sentence, vocabs: TaggerVocabs | dict | None = None) -> list:
    """Tag one sentence: ``[(word, tag), ...]``.

    ``model_or_checkpoint``: a checkpoint path, what :func:`load_tagger` returns
    (``(model, vocabs)``), or a :class:`BiLSTMTagger` with its vocabularies (``vocabs=``,
    a :class:`TaggerVocabs` or the checkpoint's extra dict; models from :func:`train` /
    :func:`load_tagger` carry theirs).  Load once and pass the model for many sentences.  ``sentence``: raw text
    (split by :data:`TOKEN_PATTERN`) or a list of words.  Unknown words map to ``<unk>``
    (the char features still see their spelling); an empty sentence raises ``ValueError``,
    as do vocabularies that do not fit the model.
    """
    if isinstance(model_or_checkpoint, (str, os.PathLike)):
        model, vocabs = load_tagger(model_or_checkpoint)
    elif isinstance(model_or_checkpoint, tuple) and len(model_or_checkpoint) == 2:
        return tag(model_or_checkpoint[0], sentence, vocabs=model_or_checkpoint[1])
    else:
        model = model_or_checkpoint
        if not isinstance(model, BiLSTMTagger):
            raise TypeError(f"tag: expected a BiLSTMTagger or a checkpoint path, got "
                            f"{type(model).__name__}")
        vocabs = vocabs if vocabs is not None else getattr(model, "tagger_vocabs", None)
        if vocabs is None:
            raise ValueError("tag: this model has no vocabularies; pass vocabs= (the "
                             "TaggerVocabs or checkpoint extra it was trained with) or a "
                             "checkpoint path")
        if isinstance(vocabs, dict):
            vocabs = TaggerVocabs.from_extra(vocabs)
        vocabs.check(model)
    words = _words_of(sentence, vocabs.token_pattern)
    ids, chars = vocabs.encode(words)
    word_ids, char_ids, lengths, _ = make_batch([(ids, chars, None)], with_tags=False)
    was_training = model.training
    model.eval()
    with no_grad():
        guess = model(word_ids, char_ids, lengths).numpy()[0].argmax(-1)
    model.train(was_training)
    return [(w, vocabs.tags[int(k)]) for w, k in zip(words, guess)]
