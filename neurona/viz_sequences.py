"""Plots for the recurrent-network chapter: vanishing and exploding gradients.

    from neurona import viz_sequences as vs
    vs.plot_gradient_norms({"rnn": norms_rnn, "lstm": norms_lstm}, "grads.png")  # ||dL/dh_t|| vs t
    vs.plot_accuracy_vs_length({"rnn": {5: 1.0, 50: 0.3}, ...}, "acc.png", chance=0.25)
    vs.plot_clipping({"no clipping": run1, "clip_grad_norm_(1.0)": run2}, "clip.png")
    vs.plot_truncated_bptt(chunk_losses, "tbptt.png", chunks_per_epoch=20, k=50)

Every function takes plain numbers (lists, arrays, dicts), writes its figure to ``path``,
closes it and returns ``path`` (matplotlib with the Agg backend, as :mod:`neurona.viz`).
"""
from __future__ import annotations

import numpy as np

from .viz import _save, require_matplotlib

__all__ = ["plot_gradient_norms", "plot_accuracy_vs_length", "plot_clipping",
           "plot_truncated_bptt"]


def _finite_positive(values):
    a = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def plot_gradient_norms(curves: dict, path="gradient_norms.png", title: str | None = None) -> str:
    """||dL/dh_t|| against the time step t, one line per entry of ``curves``
    (name -> array (T,), index 0 = the first step), on a log scale: a vanishing gradient
    is a straight line falling to the left. Names containing 'init' are drawn dashed; names
    that differ only in a parenthesis ("rnn (init)", "rnn (trained)") share a colour."""
    if not curves:
        raise ValueError("plot_gradient_norms: no curves to plot")
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = {}                      # one colour per model: "rnn (init)" and "rnn (trained)"
    for name, norms in curves.items():
        y = _finite_positive(norms)
        base = name.split(" (")[0]
        colors.setdefault(base, f"C{len(colors)}")
        ax.semilogy(np.arange(1, len(y) + 1), y, "--" if "init" in name else "-",
                    color=colors[base], label=name)
    ax.set_xlabel("time step t (the label depends on t = 1)")
    ax.set_ylabel("||dL/dh_t||  (mean over the batch)")
    ax.set_title(title or "gradient norm against time step")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_accuracy_vs_length(results: dict, path="accuracy_vs_length.png",
                            chance: float | None = None, title: str | None = None) -> str:
    """Test accuracy against the sequence length T (log x axis), one line per architecture:
    ``results`` = {arch: {T: accuracy}}; ``chance`` draws the chance level."""
    if not results:
        raise ValueError("plot_accuracy_vs_length: no results to plot")
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4))
    for arch, by_T in results.items():
        Ts = sorted(int(T) for T in by_T)
        ax.plot(Ts, [by_T[T] if T in by_T else by_T[str(T)] for T in Ts], marker="o",
                label=arch)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle=":", label=f"chance ({chance:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(title or "remembering the first symbol across T steps")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left")
    return _save(fig, path)


def _mark_first_nonfinite(ax, values: np.ndarray, color, what: str) -> None:
    """An x at the first NaN/inf of ``values`` (step = index + 1), drawn at the height of
    the largest finite value before it, labelled with ``what`` and the value."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        ok = _finite_positive(values)[:bad[0]]
        y = np.nanmax(ok) if ok.size and np.isfinite(ok).any() else 1.0
        ax.plot(bad[0] + 1, y, "x", color=color, markersize=10,
                label=f"{what} = {values[bad[0]]} at step {bad[0] + 1}")


def plot_clipping(runs: dict, path="clipping.png", title: str | None = None) -> str:
    """Two panels: the training loss per step, and the total gradient norm BEFORE clipping,
    for each run in ``runs`` (name -> {"loss": [...], "grad_norm": [...]}); a run that
    diverged is marked with an x where its loss stopped being finite."""
    if not runs:
        raise ValueError("plot_clipping: no runs to plot")
    plt = require_matplotlib()
    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, r in runs.items():
        loss = np.asarray(r["loss"], dtype=np.float64)
        steps = np.arange(1, len(loss) + 1)
        line, = ax_l.semilogy(steps, _finite_positive(loss), label=name)
        _mark_first_nonfinite(ax_l, loss, line.get_color(), f"{name}: loss")
        norms = np.asarray(r["grad_norm"], dtype=np.float64)
        ax_g.semilogy(np.arange(1, len(norms) + 1), _finite_positive(norms),
                      color=line.get_color(), label=name)
        _mark_first_nonfinite(ax_g, norms, line.get_color(), f"{name}: norm")
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("training loss")
    ax_l.set_title("loss")
    ax_g.set_xlabel("step")
    ax_g.set_ylabel("total gradient norm before clipping")
    ax_g.set_title("gradient norm")
    for ax in (ax_l, ax_g):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title or "exploding gradients: SGD on a ReLU RNN with large recurrent weights")
    return _save(fig, path)


def plot_truncated_bptt(chunk_losses, path="truncated_bptt.png", chunks_per_epoch=None,
                        k=None, title: str | None = None) -> str:
    """The loss of every chunk of truncated BPTT (one optimizer step per chunk of ``k``
    steps), with the sequence boundaries (every ``chunks_per_epoch`` chunks) marked."""
    plt = require_matplotlib()
    loss = np.asarray(chunk_losses, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(np.arange(1, len(loss) + 1), loss)
    if chunks_per_epoch:
        for b in range(chunks_per_epoch, len(loss), chunks_per_epoch):
            ax.axvline(b + 0.5, color="gray", linestyle=":")
    ax.set_xlabel(f"chunk (one optimizer step per {k} time steps)" if k else "chunk")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title or "truncated BPTT: state carried across chunks, detached between them")
    ax.grid(alpha=0.3)
    return _save(fig, path)
