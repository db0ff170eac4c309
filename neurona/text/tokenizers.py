"""Tokenizers: text -> tokens -> ids, and back.

* :class:`CharTokenizer` -- one token per character (char-RNN language models).
* :class:`WordTokenizer` -- words and punctuation by a regular expression, with a
  :class:`~neurona.text.Vocab` for the ids.
* :class:`SubwordTokenizer` -- BPE or WordPiece through Hugging Face's ``tokenizers``
  library (``pip install 'neurona[text]'``): trained here, or loaded from the
  ``tokenizer.json`` of a pretrained model.

    chars = CharTokenizer().fit(text);          chars.encode("To be") -> [32, 53, 1, 40, 43]
    words = WordTokenizer(lower=True).fit(sentences, min_freq=2)
    words.tokenize("Hello, world!")             -> ['hello', ',', 'world', '!']
    bpe = SubwordTokenizer.train(sentences, vocab_size=2000, model="bpe")
    bpe.save("tokenizer.json");  SubwordTokenizer.from_file("tokenizer.json")
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from .batching import pad_batch
from .vocab import DEFAULT_SPECIALS, Vocab

__all__ = ["CharTokenizer", "WordTokenizer", "SubwordTokenizer", "tokenizer_from_dict"]


def _as_id_list(ids) -> list[int]:
    if isinstance(ids, Tensor):
        ids = ids.numpy(force=True)
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise ValueError(f"decode: expected a 1-D sequence of ids, got shape {ids.shape}")
        return ids.tolist()
    return [int(i) for i in ids]


class CharTokenizer:
    """One token per character; the vocabulary is the sorted set of characters seen by
    :meth:`fit` (so it does not depend on the text's order).

    Args:
        unknown: what :meth:`encode` does with a character not in the vocabulary:
            ``"error"`` (default) raises ``KeyError`` naming it and its position;
            ``"unk"`` maps it to ``unk_token``, which is then id 0 of the vocabulary.
        unk_token: the stand-in for unknown characters with ``unknown="unk"``.
    """

    def __init__(self, unknown: str = "error", unk_token: str = "<unk>"):
        if unknown not in ("error", "unk"):
            raise ValueError(f"CharTokenizer: unknown must be 'error' or 'unk', got {unknown!r}")
        self.unknown = unknown
        self.unk_token = unk_token
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}

    def fit(self, text) -> "CharTokenizer":
        """Build the vocabulary from ``text`` (a string or an iterable of strings)."""
        chars = set(text) if isinstance(text, str) else set().union(*map(set, text))
        self.itos = sorted(chars)
        if self.unknown == "unk":
            self.itos = [self.unk_token] + [c for c in self.itos if c != self.unk_token]
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        return self

    @classmethod
    def from_vocab(cls, chars, unknown: str = "error", unk_token: str = "<unk>"):
        """A tokenizer with exactly these characters, in this order (ids 0, 1, ...)."""
        tok = cls(unknown, unk_token)
        tok.itos = list(chars)
        if unknown == "unk" and unk_token not in tok.itos:
            tok.itos.insert(0, unk_token)
        tok.stoi = {c: i for i, c in enumerate(tok.itos)}
        return tok

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def _check_fitted(self):
        if not self.itos:
            raise RuntimeError("CharTokenizer has no vocabulary yet: call fit(text) first")

    def encode(self, text: str) -> list[int]:
        self._check_fitted()
        stoi = self.stoi
        if self.unknown == "unk":
            unk = stoi[self.unk_token]
            return [stoi.get(c, unk) for c in text]
        try:
            return [stoi[c] for c in text]
        except KeyError as e:
            c = e.args[0]
            raise KeyError(f"CharTokenizer.encode: character {c!r} (U+{ord(c):04X}) at "
                           f"position {text.index(c)} is not in the vocabulary of "
                           f"{len(self)} characters; fit on text that has it, or create the "
                           "tokenizer with unknown='unk'") from None

    def decode(self, ids) -> str:
        self._check_fitted()
        itos, n = self.itos, len(self.itos)
        out = []
        for i in _as_id_list(ids):
            if not 0 <= i < n:
                raise IndexError(f"CharTokenizer.decode: id {i} is out of range for "
                                 f"{n} characters")
            out.append(itos[i])
        return "".join(out)

    def to_dict(self) -> dict:
        """JSON-friendly description (see :func:`tokenizer_from_dict`), e.g. to store the
        tokenizer inside a model checkpoint."""
        self._check_fitted()
        return {"type": "char", "chars": list(self.itos), "unknown": self.unknown,
                "unk_token": self.unk_token}

    def __repr__(self):
        return f"CharTokenizer({len(self)} characters, unknown={self.unknown!r})"


class WordTokenizer:
    """Split text into words and punctuation marks with a regular expression.

    The default pattern keeps runs of letters/digits/underscores as words (with an inner
    apostrophe, as in ``don't``, kept in the word) and makes every other non-space
    character a token of its own::

        "Hello, world! It's 3.5" -> ['Hello', ',', 'world', '!', "It's", '3', '.', '5']

    Args:
        lower: lower-case the text first.
        pattern: another regular expression; each match is a token.

    :meth:`fit` builds a :class:`Vocab` (``self.vocab``) so :meth:`encode` can give ids.
    """

    PATTERN = r"\w+(?:'\w+)*|[^\w\s]"

    def __init__(self, lower: bool = False, pattern: str | None = None, vocab: Vocab | None = None):
        self.lower = lower
        self.pattern = pattern or self.PATTERN
        self._re = re.compile(self.pattern)
        self.vocab = vocab

    def tokenize(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        return self._re.findall(text)

    __call__ = tokenize

    def fit(self, texts, min_freq: int = 1, max_size: int | None = None,
            specials=DEFAULT_SPECIALS) -> "WordTokenizer":
        """Build ``self.vocab`` from an iterable of texts (see :meth:`Vocab.build`)."""
        if isinstance(texts, str):
            texts = [texts]
        counts = Counter()
        for t in texts:
            counts.update(self.tokenize(t))
        self.vocab = Vocab.build(counts, min_freq=min_freq, max_size=max_size,
                                 specials=specials)
        return self

    def _check_vocab(self):
        if self.vocab is None:
            raise RuntimeError("WordTokenizer has no vocabulary: call fit(texts) first or "
                               "pass vocab=")

    @property
    def vocab_size(self) -> int:
        self._check_vocab()
        return len(self.vocab)

    def encode(self, text: str, add_bos_eos: bool = False) -> list[int]:
        """Token ids (unknown words -> ``<unk>``); ``add_bos_eos`` wraps them in
        ``<bos>`` ... ``<eos>``."""
        self._check_vocab()
        ids = self.vocab.lookup_indices(self.tokenize(text))
        if add_bos_eos:
            ids = [self.vocab["<bos>"]] + ids + [self.vocab["<eos>"]]
        return ids

    def decode(self, ids, skip_specials: bool = True) -> str:
        """The tokens joined by single spaces (the original spacing is not kept)."""
        self._check_vocab()
        return " ".join(self.vocab.lookup_tokens(_as_id_list(ids), skip_specials=skip_specials))

    def to_dict(self) -> dict:
        """JSON-friendly description (see :func:`tokenizer_from_dict`)."""
        self._check_vocab()
        return {"type": "word", "lower": self.lower, "pattern": self.pattern,
                "vocab": self.vocab.to_dict()}

    def __repr__(self):
        v = f", vocab of {len(self.vocab)}" if self.vocab is not None else ""
        return f"WordTokenizer(lower={self.lower}{v})"


def _hf():
    try:
        import tokenizers
    except ImportError:
        raise ImportError("SubwordTokenizer needs Hugging Face's tokenizers library: "
                          "pip install 'neurona[text]'  (or: pip install tokenizers)") from None
    return tokenizers


def tokenizer_from_dict(d: dict, source: str = "tokenizer"):
    """Rebuild a tokenizer from its ``to_dict()`` description: ``{"type": "char", ...}``
    or ``{"type": "word", ...}``; ``{"type": "subword", "json": ...}`` for a
    :class:`SubwordTokenizer`. ``source`` names where ``d`` came from in errors."""
    kind = d.get("type") if isinstance(d, dict) else None
    try:
        if kind == "char":
            return CharTokenizer.from_vocab(d["chars"], unknown=d.get("unknown", "error"),
                                            unk_token=d.get("unk_token", "<unk>"))
        if kind == "word":
            return WordTokenizer(lower=bool(d.get("lower", False)), pattern=d.get("pattern"),
                                 vocab=Vocab.from_dict(d["vocab"], source))
        if kind == "subword":
            return SubwordTokenizer(_hf().Tokenizer.from_str(d["json"]),
                                    pad_token=d.get("pad_token"))
    except (KeyError, TypeError) as e:
        raise ValueError(f"{source}: a broken {kind} tokenizer description (missing or "
                         f"wrong field: {e})") from None
    raise ValueError(f"{source}: not a tokenizer description (type {kind!r}; expected "
                     "'char', 'word' or 'subword')")


_PAD_NAMES = ("<pad>", "[PAD]", "<|pad|>", "<|padding|>", "<PAD>")


class SubwordTokenizer:
    """BPE or WordPiece subwords, by Hugging Face's ``tokenizers`` library.

    Make one with :meth:`train` or :meth:`from_file`; the wrapped
    ``tokenizers.Tokenizer`` is ``.tokenizer``.  ``pad_token`` is the token
    :meth:`encode_batch` pads with (found among the usual names when not given).
    The wrapped tokenizer's own padding and truncation settings are turned off: texts are
    padded or cut only where :meth:`encode_batch` / :meth:`encode` are asked to.
    """

    def __init__(self, tokenizer, pad_token: str | None = None):
        self.tokenizer = tokenizer
        if pad_token is None:
            padding = getattr(tokenizer, "padding", None)
            if padding and padding.get("pad_token") is not None \
                    and tokenizer.token_to_id(padding["pad_token"]) is not None:
                pad_token = padding["pad_token"]
            else:
                pad_token = next((t for t in _PAD_NAMES if tokenizer.token_to_id(t) is not None),
                                 None)
        elif tokenizer.token_to_id(pad_token) is None:
            raise ValueError(f"SubwordTokenizer: pad_token {pad_token!r} is not in the "
                             "tokenizer's vocabulary")
        self.pad_token = pad_token
        # A tokenizer.json may carry its own padding and truncation (all-MiniLM-L6-v2's
        # pads and cuts every text to 128 tokens): left on, ``encode`` would return pad
        # ids as if they were text and silently drop the end of long texts. Here padding
        # and truncation happen only when asked for (encode_batch's arguments).
        tokenizer.no_padding()
        tokenizer.no_truncation()

    # -- making one ---------------------------------------------------------------------
    @classmethod
    def train(cls, texts, vocab_size: int, model: str = "bpe",
              special_tokens=DEFAULT_SPECIALS, min_frequency: int = 2,
              lower: bool = False, add_bos_eos: bool = False) -> "SubwordTokenizer":
        """Learn a subword vocabulary of (at most) ``vocab_size`` tokens from ``texts``.

        Args:
            texts: an iterable of strings.
            model: ``"bpe"`` -- byte-level BPE as in GPT-2: any text encodes (no unknown
                tokens) and decodes back exactly; ``vocab_size`` must then be at least
                256 + the specials; or ``"wordpiece"`` -- BERT's: words
                split at whitespace and punctuation, continuation pieces marked ``##``,
                unknown characters -> ``<unk>``.
            special_tokens: given the first ids, in order (default ``<pad>``, ``<unk>``,
                ``<bos>``, ``<eos>`` = 0..3, like :class:`Vocab`).
            min_frequency: merges (pieces) seen fewer times are not learned.
            lower: lower-case the text first.
            add_bos_eos: :meth:`encode` wraps each text in ``<bos>`` ... ``<eos>``.
        """
        hf = _hf()
        from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers
        special_tokens = list(special_tokens)
        if isinstance(texts, str):
            texts = [texts]
        if model == "bpe":
            need = 256 + len(special_tokens)
            if vocab_size < need:
                raise ValueError(f"SubwordTokenizer.train: byte-level BPE starts from the 256 "
                                 f"byte tokens, so vocab_size must be at least {need} with "
                                 f"{len(special_tokens)} special tokens (got {vocab_size})")
            tok = hf.Tokenizer(models.BPE())
            if lower:
                tok.normalizer = normalizers.Lowercase()
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                          special_tokens=special_tokens, show_progress=False,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        elif model == "wordpiece":
            unk = next((t for t in special_tokens if t in ("<unk>", "[UNK]")), None)
            if unk is None:
                raise ValueError("SubwordTokenizer.train(model='wordpiece') needs an unknown "
                                 "token among special_tokens ('<unk>' or '[UNK]')")
            tok = hf.Tokenizer(models.WordPiece(unk_token=unk))
            tok.normalizer = normalizers.BertNormalizer(lowercase=lower)
            tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            tok.decoder = decoders.WordPiece(prefix="##")
            trainer = trainers.WordPieceTrainer(vocab_size=vocab_size,
                                                min_frequency=min_frequency,
                                                special_tokens=special_tokens,
                                                show_progress=False)
        else:
            raise ValueError(f"SubwordTokenizer.train: model must be 'bpe' or 'wordpiece', "
                             f"got {model!r}")
        tok.train_from_iterator(texts, trainer=trainer)
        if add_bos_eos:
            bos = next((t for t in special_tokens if t in ("<bos>", "[CLS]", "<s>")), None)
            eos = next((t for t in special_tokens if t in ("<eos>", "[SEP]", "</s>")), None)
            if bos is None or eos is None:
                raise ValueError("add_bos_eos=True needs '<bos>' and '<eos>' among "
                                 "special_tokens")
            tok.post_processor = processors.TemplateProcessing(
                single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} $B:1 {eos}:1",
                special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))])
        return cls(tok)

    @classmethod
    def from_file(cls, path, pad_token: str | None = None) -> "SubwordTokenizer":
        """Load a Hugging Face ``tokenizer.json`` (what pretrained models ship)."""
        hf = _hf()
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such tokenizer file (a Hugging Face "
                                    "tokenizer.json)")
        try:
            tok = hf.Tokenizer.from_file(str(path))
        except Exception as e:                    # noqa: BLE001 - the library's own error
            raise ValueError(f"{path}: not a loadable Hugging Face tokenizer.json ({e})") from None
        return cls(tok, pad_token=pad_token)

    def to_dict(self) -> dict:
        """JSON-friendly description (the ``tokenizer.json`` text inside), see
        :func:`tokenizer_from_dict`."""
        return {"type": "subword", "json": self.tokenizer.to_str(),
                "pad_token": self.pad_token}

    def save(self, path) -> Path:
        """Write ``tokenizer.json`` (readable by ``tokenizers`` and ``transformers``);
        atomically: a temporary file renamed into place."""
        from ..serialization import atomic_write
        path = Path(path)
        atomic_write(path, self.tokenizer.to_str(pretty=True).encode("utf-8"))
        return path

    # -- using it -----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def pad_id(self) -> int | None:
        return None if self.pad_token is None else self.tokenizer.token_to_id(self.pad_token)

    def get_vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def id_to_token(self, i: int) -> str | None:
        return self.tokenizer.id_to_token(int(i))

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens).tokens

    def encode(self, text: str, add_special_tokens: bool = True,
               max_length: int | None = None) -> list[int]:
        """The ids of ``text``; ``max_length`` truncates (keeping the end token when the
        tokenizer adds one)."""
        if not isinstance(text, str):
            raise TypeError(f"encode: expected a string, got {type(text).__name__} "
                            "(use encode_batch for a list of texts)")
        if max_length is None:
            return self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids
        return self.encode_batch([text], add_special_tokens=add_special_tokens,
                                 truncation=True, max_length=max_length, padding=False)[0]

    def encode_batch(self, texts, padding=False, truncation: bool = False,
                     max_length: int | None = None, add_special_tokens: bool = True):
        """Encode many texts (in parallel, in Rust).

        Args:
            padding: False -- return a list of id lists; True or ``"longest"`` -- pad to
                the longest text; ``"max_length"`` -- pad to ``max_length``.
            truncation: cut texts longer than ``max_length`` tokens.
            max_length: the length for ``truncation`` / ``padding="max_length"``.

        Returns:
            without padding, ``list[list[int]]``; with padding, a dict with
            ``input_ids`` int64 ``(B, T)``, ``attention_mask`` int64 ``(B, T)`` (1 at
            real tokens, 0 at padding, as in Hugging Face) and ``lengths`` int64 ``(B,)``.
        """
        if isinstance(texts, str):
            raise TypeError("encode_batch: expected a list of texts, got one string "
                            "(use encode)")
        texts = list(texts)
        if padding not in (False, True, "longest", "max_length", "do_not_pad"):
            raise ValueError(f"encode_batch: padding must be False, True, 'longest' or "
                             f"'max_length', got {padding!r}")
        if (truncation or padding == "max_length") and max_length is None:
            raise ValueError("encode_batch: truncation=True and padding='max_length' need "
                             "max_length=")
        tok = self.tokenizer
        saved = tok.truncation
        try:
            if truncation:
                tok.enable_truncation(max_length)
            else:
                tok.no_truncation()
            encs = tok.encode_batch(texts, add_special_tokens=add_special_tokens)
        finally:
            if saved is None:
                tok.no_truncation()
            else:
                tok.enable_truncation(**saved)
        ids = [e.ids for e in encs]
        if padding in (False, "do_not_pad"):
            return ids
        if self.pad_id is None:
            raise ValueError("encode_batch: this tokenizer has no padding token; create it "
                             "with pad_token='...' naming one of its tokens")
        if not ids:
            raise ValueError("encode_batch: got no texts")
        if padding == "max_length":
            longest = max(len(x) for x in ids)
            if longest > max_length:
                raise ValueError(f"encode_batch: a text has {longest} tokens, more than "
                                 f"max_length={max_length}; pass truncation=True")
            ids = ids + [[self.pad_id] * max_length]         # a row that sets the width
        padded, lengths, mask = pad_batch(ids, self.pad_id, empty="pad")
        if padding == "max_length":
            padded = Tensor._wrap(padded.numpy()[:-1].copy())
            lengths = Tensor._wrap(np.array([len(x) for x in ids[:-1]], np.int64))
            mask = Tensor._wrap(mask.numpy()[:-1].copy())
        else:   # an empty text got one pad stand-in; its true length is 0
            lengths = Tensor._wrap(np.array([len(x) for x in ids], np.int64))
            mask = Tensor._wrap(np.arange(padded.shape[1])[None, :] < lengths.numpy()[:, None])
        return {"input_ids": padded, "attention_mask": Tensor._wrap(mask.numpy().astype(np.int64)),
                "lengths": lengths}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(_as_id_list(ids), skip_special_tokens=skip_special_tokens)

    def decode_batch(self, batch, skip_special_tokens: bool = True) -> list[str]:
        if isinstance(batch, Tensor):
            batch = batch.numpy(force=True)
        return [self.decode(row, skip_special_tokens) for row in batch]

    def __repr__(self):
        model = json.loads(self.tokenizer.to_str())["model"]["type"]
        return f"SubwordTokenizer({model}, {self.vocab_size} tokens, pad_token={self.pad_token!r})"
