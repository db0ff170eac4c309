"""Which words does a learned embedding put close together?

    nearest_neighbours(model.embedding.weight, vocab, "boring", k=5)
    # -> [('dull', 0.81), ('tedious', 0.77), ...]

Closeness is the cosine similarity of two word vectors u, v:

    cos(u, v) = u . v / (||u|| ||v||)          in [-1, 1]; 1 = same direction

(the length of a vector is mostly how often, and how strongly, the word was pushed during
training, so the direction is what is compared).

Word vectors can also be *counted* rather than trained (the distributional hypothesis:
a word is characterised by the company it keeps).  :func:`ppmi_svd_embeddings` builds
them from unlabelled text -- positive pointwise mutual information of word/context
co-occurrences, compressed by a truncated SVD -- a classic way to start a classifier's
embedding table from something better than noise:

    vectors = ppmi_svd_embeddings([tok.encode(t) for t in texts], len(tok.vocab), dim=100)
    model.load_pretrained_embeddings(vectors, freeze=False)
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .vocab import Vocab, check_vocab_matches

__all__ = ["cosine_similarities", "nearest_neighbours", "ppmi_svd_embeddings"]


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


def _cooccurrence_counts(sequences, vocab_size, window, contexts, skip):
    """Counts (V, C) float32 of word w seen within ``window`` tokens of context
    ``contexts[c]`` (either side, same sentence)."""
    seqs = [np.asarray(q, np.int64).reshape(-1) for q in sequences]
    seqs = [q for q in seqs if q.size]
    if not seqs:
        raise ValueError("ppmi_svd_embeddings: the corpus has no tokens")
    flat = np.concatenate(seqs)
    sentence = np.repeat(np.arange(len(seqs)), [q.size for q in seqs])
    column = np.full(vocab_size, -1, np.int64)
    column[contexts] = np.arange(len(contexts))
    counts = np.zeros((vocab_size, len(contexts)), np.float32)
    for d in range(1, window + 1):
        a, b = flat[:-d], flat[d:]
        same = sentence[:-d] == sentence[d:]
        for w, c in ((a[same], b[same]), (b[same], a[same])):       # both directions
            keep = (column[c] >= 0) & ~skip[w]
            np.add.at(counts, (w[keep], column[c[keep]]), 1.0)
    return counts


def ppmi_svd_embeddings(sequences, vocab_size: int, dim: int = 100, window: int = 5,
                        max_contexts: int = 4000, context_power: float = 0.75,
                        std: float | None = 0.25, skip_ids=(0, 1, 2, 3),
                        seed: int = 0) -> np.ndarray:
    """Word vectors (vocab_size, dim) counted from a corpus, without labels.

    1. co-occurrence counts #(w, c): how often context word c is within ``window``
       tokens of w (in the same sentence); contexts are the ``max_contexts`` most
       frequent words.
    2. PPMI(w, c) = max(0, log( P(w, c) / (P(w) P_a(c)) )), with the context
       distribution smoothed, P_a(c) ~ #(c)^0.75 (``context_power``; Levy, Goldberg &
       Dagan 2015): positive where w and c meet more often than by chance.
    3. truncated SVD  PPMI ~ U_d S_d V_d^T  (randomized, seeded); the vectors are
       U_d S_d^(1/2), then scaled so that their entries have standard deviation ``std``
       (None: left as they are).

    Words that never meet a context (and the ``skip_ids``: ``<pad>``, ``<unk>``,
    ``<bos>``, ``<eos>``) get zero vectors.

    Args:
        sequences: the corpus, an iterable of token-id sequences (sentences).
        vocab_size: V, the rows of the result (ids must be below it).
    """
    if dim < 1 or window < 1 or max_contexts < 1:
        raise ValueError(f"ppmi_svd_embeddings: dim, window and max_contexts must be >= 1, "
                         f"got {dim}, {window}, {max_contexts}")
    seqs = [np.asarray(q, np.int64).reshape(-1) for q in sequences]
    flat = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= vocab_size):
        raise ValueError(f"ppmi_svd_embeddings: token ids must be in [0, {vocab_size - 1}] "
                         f"(vocab_size); found {int(flat.min())}..{int(flat.max())}")
    freq = np.bincount(flat, minlength=vocab_size).astype(np.float64)
    del flat
    skip = np.zeros(vocab_size, bool)
    skip[[i for i in skip_ids if 0 <= i < vocab_size]] = True
    ranked = np.argsort(-np.where(skip, -1, freq), kind="stable")
    contexts = ranked[:min(max_contexts, int((freq[~skip] > 0).sum()))]
    if len(contexts) < dim:
        raise ValueError(f"ppmi_svd_embeddings: only {len(contexts)} context words in the "
                         f"corpus, fewer than dim={dim}; use a larger corpus or a smaller dim")
    counts = _cooccurrence_counts(seqs, vocab_size, window, contexts, skip)
    total = counts.sum()
    p_w = counts.sum(1, keepdims=True) / total
    p_c = freq[contexts] ** context_power
    p_c = (p_c / p_c.sum())[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts / total) - np.log(p_w) - np.log(p_c)
    ppmi = np.where(counts > 0, np.maximum(pmi, 0), 0).astype(np.float32)
    del counts, pmi
    # randomized SVD (Halko, Martinsson & Tropp 2011): a basis Q of the range of PPMI from
    # a few multiplications with a random matrix, then the exact SVD of the small Q^T PPMI
    rng = np.random.default_rng(seed)
    k = min(dim + 10, len(contexts))
    Q = np.linalg.qr(ppmi @ rng.standard_normal((ppmi.shape[1], k)).astype(np.float32))[0]
    for _ in range(3):                                   # power iterations sharpen it
        Q = np.linalg.qr(ppmi @ np.linalg.qr(ppmi.T @ Q)[0])[0]
    Ub, S, _ = np.linalg.svd(Q.T @ ppmi, full_matrices=False)
    vectors = (Q @ Ub[:, :dim]) * np.sqrt(S[:dim])[None, :]
    vectors[skip] = 0
    vectors *= np.sign(vectors[np.abs(vectors).argmax(0), np.arange(dim)])[None, :]
    if std is not None:
        nonzero = np.abs(vectors).sum(1) > 0
        sd = vectors[nonzero].std() if nonzero.any() else 0.0
        if sd > 0:
            vectors *= std / sd
    return vectors.astype(np.float32)
