"""``Vocab``: the two-way map between tokens and integer ids.

    counts = Counter(tok for sentence in corpus for tok in sentence)
    vocab = Vocab.build(counts, min_freq=2, max_size=20_000)
    vocab["the"]          # -> its id;  an unknown token -> vocab["<unk>"] (1)
    vocab.lookup_indices(["the", "cat"]);  vocab.lookup_tokens([5, 6])
    vocab.save("vocab.json");  Vocab.load("vocab.json")

The special tokens come first, at fixed ids: by default ``<pad>`` = 0, ``<unk>`` = 1,
``<bos>`` = 2, ``<eos>`` = 3 (so padding with 0 is padding with ``<pad>``).  The other
tokens follow by decreasing count, ties broken alphabetically -- the same order whatever
order the corpus was read in (torchtext's rule).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["Vocab", "DEFAULT_SPECIALS", "check_vocab_matches"]

DEFAULT_SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
_FORMAT = "neurona.vocab"


class Vocab:
    """A list of tokens (``itos``: id -> token) and its inverse (``stoi``: token -> id).

    Args:
        tokens: every token, in id order (specials included); no duplicates.
        unk_token: the token unknown tokens map to (must be in ``tokens``), or None: then
            looking up an unknown token raises ``KeyError``.
        specials: which of ``tokens`` are special (kept by :meth:`save`, skipped by
            ``lookup_tokens(..., skip_specials=True)``).
    """

    def __init__(self, tokens: Iterable[str], unk_token: str | None = "<unk>",
                 specials: Iterable[str] = ()):
        self.itos = list(tokens)
        self.stoi = {}
        for i, tok in enumerate(self.itos):
            if not isinstance(tok, str):
                raise TypeError(f"Vocab: token {i} is {type(tok).__name__} {tok!r}; tokens "
                                "must be strings")
            if tok in self.stoi:
                raise ValueError(f"Vocab: token {tok!r} appears twice (ids {self.stoi[tok]} "
                                 f"and {i})")
            self.stoi[tok] = i
        if unk_token is not None and unk_token not in self.stoi:
            raise ValueError(f"Vocab: unk_token {unk_token!r} is not one of the tokens; add it "
                             "(e.g. as a special) or pass unk_token=None")
        self.unk_token = unk_token
        self.unk_index = self.stoi[unk_token] if unk_token is not None else None
        self.specials = [s for s in specials if s in self.stoi]

    # -- building -----------------------------------------------------------------------
    @classmethod
    def build(cls, counts, min_freq: int = 1, max_size: int | None = None,
              specials: Iterable[str] = DEFAULT_SPECIALS,
              unk_token: str | None = "<unk>") -> "Vocab":
        """A vocabulary from token counts.

        Args:
            counts: a mapping token -> count (e.g. a ``Counter``), or an iterable of token
                lists (sentences), which are counted.
            min_freq: tokens seen fewer times are left out (they will map to ``<unk>``).
            max_size: the most tokens in all, *specials included*; the most frequent win.
            specials: put first, at ids 0, 1, ... in this order (default ``<pad>``,
                ``<unk>``, ``<bos>``, ``<eos>``), whatever their counts.
            unk_token: the token unknown tokens map to; None when the vocabulary has none
                (then an unknown token raises ``KeyError``).  When it is not among
                ``specials`` and not in the counts it is an error.
        """
        if not isinstance(counts, Mapping):
            counter = Counter()
            for sentence in counts:
                if isinstance(sentence, str):
                    raise TypeError("Vocab.build: got a string where a list of tokens was "
                                    "expected; tokenize the text first (or pass a Counter)")
                counter.update(sentence)
            counts = counter
        if min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be >= 1, got {min_freq}")
        specials = list(dict.fromkeys(specials))
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"Vocab.build: max_size={max_size} leaves no room for the "
                             f"{len(specials)} specials {specials}")
        special_set = set(specials)
        rest = sorted(((tok, c) for tok, c in counts.items()
                       if c >= min_freq and tok not in special_set),
                      key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            rest = rest[:max_size - len(specials)]
        tokens = specials + [tok for tok, _ in rest]
        if unk_token is not None and unk_token not in tokens:
            raise ValueError(f"Vocab.build: unk_token {unk_token!r} is neither a special nor "
                             "a counted token; add it to specials or pass unk_token=None")
        return cls(tokens, unk_token=unk_token, specials=specials)

    # -- lookups ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __iter__(self):
        return iter(self.itos)

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; an unknown token gives the ``<unk>`` id."""
        i = self.stoi.get(token)
        if i is not None:
            return i
        if self.unk_index is None:
            raise KeyError(f"token {token!r} is not in the vocabulary, which has no unk_token "
                           "to map it to")
        return self.unk_index

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        """The ids of ``tokens`` (unknown ones -> the ``<unk>`` id)."""
        get, unk = self.stoi.get, self.unk_index
        if unk is None:
            return [self[t] for t in tokens]
        return [get(t, unk) for t in tokens]

    def lookup_token(self, index: int) -> str:
        try:
            if index < 0:
                raise IndexError
            return self.itos[index]
        except (IndexError, TypeError):
            raise IndexError(f"id {index!r} is out of range for a vocabulary of "
                             f"{len(self)} tokens (ids 0..{len(self) - 1})") from None

    def lookup_tokens(self, indices, skip_specials: bool = False) -> list[str]:
        """The tokens of ``indices`` (ints, a NumPy array or a Tensor); ``skip_specials``
        leaves out the specials other than ``<unk>`` (which stands for a real word)."""
        if hasattr(indices, "tolist"):
            indices = indices.tolist()
        out = [self.lookup_token(int(i)) for i in indices]
        if skip_specials:
            sp = set(self.specials) - {self.unk_token}
            out = [t for t in out if t not in sp]
        return out

    def get_itos(self) -> list[str]:
        return list(self.itos)

    def get_stoi(self) -> dict[str, int]:
        return dict(self.stoi)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Vocab) and self.itos == other.itos
                and self.unk_token == other.unk_token and self.specials == other.specials)

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:6])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 6 else ''})"

    # -- files --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": _FORMAT, "version": 1, "unk_token": self.unk_token,
                "specials": list(self.specials), "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict, source: str = "vocab") -> "Vocab":
        if not isinstance(d, dict) or d.get("format") != _FORMAT or "itos" not in d:
            raise ValueError(f"{source}: not a neurona vocabulary (expected a JSON object with "
                             f"\"format\": \"{_FORMAT}\" and \"itos\")")
        return cls(d["itos"], unk_token=d.get("unk_token"), specials=d.get("specials", ()))

    def save(self, path) -> Path:
        """Write the vocabulary as JSON (UTF-8).  The file is written to a temporary name
        and renamed, so it is complete or absent, never half-written."""
        from ..serialization import atomic_write
        path = Path(path)
        atomic_write(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=0)
                     .encode("utf-8"))
        return path

    @classmethod
    def load(cls, path) -> "Vocab":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        return cls.from_dict(d, str(path))


def check_vocab_matches(vocab, num_embeddings) -> None:
    """Raise a clear ``ValueError`` unless the vocabulary has exactly as many tokens as the
    model's embedding table has rows.

    ``num_embeddings`` is an int, an ``nn.Embedding`` (anything with ``.num_embeddings``)
    or an embedding weight of shape ``(num_embeddings, dim)``.  ``vocab`` is a
    :class:`Vocab`, a tokenizer (anything with ``len()`` or ``.vocab_size``) or an int.
    """
    what = "the model"
    if hasattr(num_embeddings, "num_embeddings"):
        what = f"the model's {type(num_embeddings).__name__}"
        n = int(num_embeddings.num_embeddings)
    elif hasattr(num_embeddings, "shape"):
        what = f"the embedding weight of shape {tuple(num_embeddings.shape)}"
        n = int(num_embeddings.shape[0])
    else:
        n = int(num_embeddings)
    if isinstance(vocab, int):
        v = vocab
    elif hasattr(vocab, "vocab_size"):
        v = int(vocab.vocab_size)
    else:
        v = len(vocab)
    if v != n:
        raise ValueError(
            f"vocabulary size mismatch: the vocabulary has {v:,} tokens but {what} has "
            f"{n:,} embedding rows (num_embeddings). The checkpoint was trained with a "
            "different vocabulary: load the vocabulary file saved with it (Vocab.load), or "
            f"build the model with num_embeddings={v}.")
