"""Which words does a learned embedding put close together?

    nearest_neighbours(model.embedding.weight, vocab, "boring", k=5)
    # -> [('dull', 0.81), ('tedious', 0.77), ...]

Closeness is the cosine similarity of two word vectors u, v:

    cos(u, v) = u . v / (||u|| ||v||)          in [-1, 1]; 1 = same direction

(the length of a vector is mostly how often, and how strongly, the word was pushed during
training, so the direction is what is compared).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .vocab import Vocab, check_vocab_matches

__all__ = ["cosine_similarities", "nearest_neighbours"]


def _weight_array(weight) -> np.ndarray:
    if isinstance(weight, Tensor):
        weight = weight.detach().numpy(force=True)
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"expected an embedding weight of shape (vocab_size, dim), got shape "
                         f"{w.shape}")
    return w


def cosine_similarities(weight, index: int) -> np.ndarray:
    """cos(w_index, w_j) for every row j of ``weight`` (V, E): an array (V,).  A row of
    zeros (such as ``<pad>``'s) has similarity 0 with everything."""
    w = _weight_array(weight)
    norms = np.linalg.norm(w, axis=1)
    norms[norms == 0] = np.inf                         # zero rows -> similarity 0
    unit = w / norms[:, None]
    return unit @ unit[int(index)]


def nearest_neighbours(embedding_weight, vocab, word: str, k: int = 5,
                       skip_specials: bool = True) -> list[tuple[str, float]]:
    """The ``k`` words whose embeddings have the highest cosine similarity with ``word``'s.

    Args:
        embedding_weight: the table (V, E): ``model.embedding.weight``, or an array.
        vocab: the :class:`Vocab` (or list of tokens, id order) the model was trained with;
            it must have V tokens.
        word: the query; it must be in the vocabulary (an unknown word has no vector of
            its own -- it would be ``<unk>``'s -- so it raises ``KeyError``).
        k: how many neighbours.
        skip_specials: leave ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>`` out of the answer.

    Returns:
        ``[(neighbour, similarity), ...]``, most similar first, the word itself excluded.
    """
    w = _weight_array(embedding_weight)
    itos = vocab.itos if isinstance(vocab, Vocab) else list(vocab)
    check_vocab_matches(len(itos), w)
    stoi = vocab.stoi if isinstance(vocab, Vocab) else {t: i for i, t in enumerate(itos)}
    if word not in stoi:
        raise KeyError(f"nearest_neighbours: {word!r} is not in the vocabulary of "
                       f"{len(itos):,} tokens (too rare in the training text, or spelled "
                       "differently -- the tokenizer may lower-case), so it has no vector")
    if k < 1:
        raise ValueError(f"nearest_neighbours: k must be >= 1, got {k}")
    i = stoi[word]
    sims = cosine_similarities(w, i)
    skip = {i}
    if skip_specials:
        specials = vocab.specials if isinstance(vocab, Vocab) else ("<pad>", "<unk>",
                                                                    "<bos>", "<eos>")
        skip |= {stoi[s] for s in specials if s in stoi}
    order = np.argsort(-sims, kind="stable")
    out = []
    for j in order:
        if int(j) in skip:
            continue
        out.append((itos[j], float(sims[j])))
        if len(out) == k:
            break
    return out
