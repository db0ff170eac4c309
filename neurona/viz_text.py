"""Plots for the language chapters, from plain arrays (no model needed).

    from neurona import viz_text
    viz_text.plot_training_curves({"train loss": losses, "val loss": val_losses},
                                  "curves.png", ylabel="loss")
    viz_text.plot_embeddings_2d(model.embedding.weight, vocab, ["good", "bad", "dull"],
                                "embeddings.png")
    xy = viz_text.pca_2d(vectors)          # the projection itself, (n, 2)

Every plotting function writes a PNG to ``path``, closes the figure and returns ``path``;
matplotlib is imported only when a plot is drawn (Agg backend, no window), as in
:mod:`neurona.viz`.
"""
from __future__ import annotations

import numpy as np

from .viz import _numpy, _save, require_matplotlib

__all__ = ["pca_2d", "plot_embeddings_2d", "plot_training_curves"]


def pca_2d(vectors) -> np.ndarray:
    """Project ``vectors`` (n, d) onto their first two principal components: (n, 2).

    PCA: centre the rows (X - mean), take the singular value decomposition
    X_c = U S V^T; the projection is X_c V[:, :2] = U[:, :2] S[:2], the two directions
    along which the points spread the most.  Signs are fixed so that the largest
    coordinate of each component is positive (the same picture every run)."""
    X = np.asarray(_numpy(vectors), dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"pca_2d: expected vectors of shape (n, d), got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"pca_2d: need at least 2 vectors to find directions of spread, "
                         f"got {X.shape[0]}")
    Xc = X - X.mean(axis=0)
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)
    xy = U[:, :2] * S[:2]
    if xy.shape[1] < 2:                       # d == 1: the second coordinate is zero
        xy = np.concatenate([xy, np.zeros((len(xy), 1))], axis=1)
    flip = np.sign(xy[np.abs(xy).argmax(axis=0), [0, 1]])
    flip[flip == 0] = 1
    return xy * flip


def plot_embeddings_2d(weight, vocab, words, path="embeddings_pca.png", groups=None,
                       title: str | None = None) -> str:
    """The word vectors of ``words`` projected to 2-D by PCA, each point labelled.

    Args:
        weight: the embedding table (V, E) -- ``model.embedding.weight`` or an array --
            or, with ``vocab=None``, the vectors of ``words`` themselves (len(words), E).
        vocab: a :class:`~neurona.text.Vocab` (or a list of tokens in id order) of V
            tokens, or None (see above).
        words: the words to show; those not in the vocabulary are left out (with a note
            in the title), and at least two must remain.
        groups: optional ``{word: group name}`` (e.g. "positive"/"negative") to colour by.
    """
    W = np.asarray(_numpy(weight), dtype=np.float64)
    words = list(words)
    if vocab is None:
        if len(W) != len(words):
            raise ValueError(f"plot_embeddings_2d: {len(W)} vectors for {len(words)} words")
        kept, vecs = words, W
    else:
        itos = vocab.itos if hasattr(vocab, "itos") else list(vocab)
        if len(itos) != len(W):
            raise ValueError(f"plot_embeddings_2d: the vocabulary has {len(itos)} tokens but "
                             f"the embedding table has {len(W)} rows; use the vocabulary "
                             "the model was trained with")
        stoi = {t: i for i, t in enumerate(itos)}
        kept = [w for w in words if w in stoi]
        vecs = W[[stoi[w] for w in kept]] if kept else np.zeros((0, W.shape[1]))
    missing = [w for w in words if w not in kept]
    if len(kept) < 2:
        raise ValueError(f"plot_embeddings_2d: fewer than 2 of the words are in the "
                         f"vocabulary (missing: {missing})")
    xy = pca_2d(vecs)
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 6))
    names = sorted({groups.get(w, "other") for w in kept}) if groups else [None]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, g in enumerate(names):
        sel = [i for i, w in enumerate(kept) if not groups or groups.get(w, "other") == g]
        ax.scatter(xy[sel, 0], xy[sel, 1], s=25, color=colours[gi % len(colours)], label=g)
    for (x, y), w in zip(xy, kept):
        ax.annotate(w, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    if groups:
        ax.legend(loc="best")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    t = title or "word embeddings projected to 2-D (PCA)"
    if missing:
        t += f"\n(not in the vocabulary: {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''})"
    ax.set_title(t)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_training_curves(curves, path="training_curves.png", xlabel: str = "epoch",
                         ylabel: str = "", title: str | None = None, right=None,
                         right_label: str = "") -> str:
    """Lines of numbers against their step: ``curves`` is ``{label: values}`` (each a
    list/array, plotted at x = 1, 2, ...; or a pair ``(xs, ys)``).  ``right`` (same form)
    goes on a second y axis, e.g. accuracies next to losses."""
    def draw(ax, series):
        for label, values in series.items():
            if isinstance(values, tuple) and len(values) == 2:
                xs, ys = np.asarray(_numpy(values[0]), float), np.asarray(_numpy(values[1]), float)
            else:
                ys = np.asarray(_numpy(values), dtype=float).reshape(-1)
                xs = np.arange(1, len(ys) + 1)
            if len(xs) != len(ys):
                raise ValueError(f"plot_training_curves: {label!r} has {len(xs)} x values "
                                 f"and {len(ys)} y values")
            ax.plot(xs, ys, marker="o" if len(ys) <= 30 else None, ms=3, label=label,
                    linestyle=linestyles.pop(0) if linestyles else "-")

    if not curves:
        raise ValueError("plot_training_curves: no curves to plot")
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    linestyles = ["-"] * len(curves)
    draw(ax, dict(curves))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if right:
        ax2 = ax.twinx()
        ax2._get_lines = ax._get_lines            # continue the colour cycle
        linestyles = ["--"] * len(right)
        draw(ax2, dict(right))
        ax2.set_ylabel(right_label)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="best")
    if title:
        ax.set_title(title)
    return _save(fig, path)
