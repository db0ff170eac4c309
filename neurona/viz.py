"""Plots for the course, written as PNG files with matplotlib.

    from neurona import viz
    viz.plot_history(history, "curves.png")                 # train vs validation loss / metric
    viz.plot_decision_boundary(model, X, y, "boundary.png")   # a classifier of 2-D points
    viz.plot_cost_surface(X, y, thetas, "cost.png")          # J(theta0, theta1) + the GD path
    viz.plot_sigmoid("sigmoid.png")                          # sigma(z) and sigma'(z)
    viz.plot_confusion_matrix(y_true, y_pred, "confusion.png")
    viz.plot_filters(model, "filters.png")                   # a CNN's first-layer filters
    viz.plot_feature_maps(model, image, "maps.png")          # each conv layer's outputs
    viz.plot_misclassified(images, y_true, y_pred, "wrong.png", class_names)
    viz.plot_image_grid(images, "grid.png", titles=...)      # any images side by side

Every function writes its figure to ``path``, closes it and returns ``path``.
matplotlib is an optional dependency (``pip install neurona[plot]``) and is imported only
when a plot is drawn, with the non-interactive Agg backend: no window opens, which is
what a script, a test or a server wants.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["plot_history", "plot_decision_boundary", "plot_cost_surface", "plot_sigmoid",
           "plot_confusion_matrix", "require_matplotlib", "plot_image_grid", "plot_filters",
           "feature_maps", "plot_feature_maps", "plot_misclassified"]


def require_matplotlib():
    """Import matplotlib with the Agg backend and return ``matplotlib.pyplot``.

    Raises ImportError with the command that installs it when it is missing.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("neurona.viz needs matplotlib, which is not installed: "
                          "pip install neurona[plot]  (or: pip install matplotlib)") from None
    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> str:
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def _numpy(a):
    """A Tensor, list or array as a NumPy array."""
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        return a.detach().numpy()
    return np.asarray(a)


def _history_dict(history) -> dict:
    """``History`` objects (``.history``), plain dicts, or dicts of lists -> dict of lists."""
    if isinstance(history, dict):
        return history
    for attr in ("history", "__dict__"):
        d = getattr(history, attr, None)
        if isinstance(d, dict):
            return d
    raise TypeError(f"plot_history: expected a History or a dict of lists, "
                    f"got {type(history).__name__}")


# -- training curves ------------------------------------------------------------------

def plot_history(history, path="history.png", title: str | None = None) -> str:
    """Training curves: one panel for the loss, one per metric; train (solid) and
    validation (dashed, keys starting with ``val_``) on the same axes.

    ``history``: a ``neurona.train.History`` or a dict such as
    ``{"loss": [...], "val_loss": [...], "accuracy": [...], "val_accuracy": [...]}``.
    """
    plt = require_matplotlib()
    h = {k: list(v) for k, v in _history_dict(history).items()
         if k not in ("epoch", "lr") and isinstance(v, (list, tuple, np.ndarray)) and len(v)
         and all(isinstance(x, (int, float, np.floating, np.integer)) for x in v)}
    bases = []
    for k in h:
        base = k[4:] if k.startswith("val_") else k
        if base not in bases:
            bases.append(base)
    bases.sort(key=lambda b: (b != "loss", b))       # loss first
    if not bases:
        raise ValueError("plot_history: the history has no numeric series to plot")
    fig, axes = plt.subplots(1, len(bases), figsize=(5 * len(bases), 3.6), squeeze=False)
    for ax, base in zip(axes[0], bases):
        for key, style, label in ((base, "-", "train"), ("val_" + base, "--", "validation")):
            if key in h:
                ax.plot(range(1, len(h[key]) + 1), h[key], style, marker="o",
                        markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.set_title(base)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# -- decision boundary ----------------------------------------------------------------

def _predict_classes(model, points: np.ndarray) -> np.ndarray:
    """Class labels of ``points`` (M, 2) from a model with ``predict`` or a Module that
    returns logits (one column: positive when > 0; several: argmax)."""
    if hasattr(model, "predict"):
        return _numpy(model.predict(points)).reshape(-1)
    import neurona as nr
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with nr.no_grad():
            out = _numpy(model(nr.tensor(points.astype(np.float32))))
    finally:
        if was_training:
            model.train()
    if out.ndim == 1 or out.shape[-1] == 1:
        return (out.reshape(-1) > 0).astype(np.int64)
    return out.argmax(axis=-1)


def plot_decision_boundary(model, X, y, path="decision_boundary.png", resolution: int = 200,
                           title: str | None = None) -> str:
    """The regions a 2-D classifier assigns to each class, with the points on top.

    ``model``: anything with ``predict(X) -> labels``, or a Module giving logits.
    ``X``: (N, 2) points, ``y``: (N,) integer labels.
    """
    plt = require_matplotlib()
    X, y = _numpy(X), _numpy(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points, X of shape (N, 2); "
                         f"got {X.shape}")
    pad = 0.1 * (X.max(0) - X.min(0) + 1e-9)
    lo, hi = X.min(0) - pad, X.max(0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.float32)
    z = _predict_classes(model, grid).reshape(g0.shape)
    classes = np.unique(np.concatenate([np.unique(y), np.unique(z)])).astype(int)
    fig, ax = plt.subplots(figsize=(5, 5))
    cmap = plt.get_cmap("coolwarm" if len(classes) <= 2 else "tab10")
    levels = np.arange(classes.min() - 0.5, classes.max() + 1.5)
    ax.contourf(g0, g1, z, levels=levels, cmap=cmap, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=levels[0], vmax=levels[-1],
               edgecolors="k", linewidths=0.4, s=18)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title or "decision boundary")
    return _save(fig, path)


# -- cost surface of linear regression ------------------------------------------------

def cost(X, y, theta0, theta1):
    """J(theta0, theta1) = 1/(2m) sum_i (theta0 + theta1 x_i - y_i)^2, broadcast over
    arrays of theta0 / theta1 (for a contour plot)."""
    x, y = _numpy(X).reshape(-1).astype(np.float64), _numpy(y).reshape(-1).astype(np.float64)
    t0, t1 = np.asarray(theta0, np.float64)[..., None], np.asarray(theta1, np.float64)[..., None]
    return ((t0 + t1 * x - y) ** 2).mean(axis=-1) / 2


def plot_cost_surface(X, y, path_of_thetas=None, path="cost_surface.png",
                      title: str | None = None) -> str:
    """Contours of the course's cost J(theta0, theta1) for one-feature linear regression,
    with the path that gradient descent took drawn on top.

    ``X``: (m,) or (m, 1) feature; ``y``: (m,) targets; ``path_of_thetas``: a sequence of
    (theta0, theta1) pairs -- e.g. ``LinearRegression.theta_history_`` -- or None.
    """
    plt = require_matplotlib()
    x = _numpy(X).astype(np.float64)
    if x.ndim == 2:
        if x.shape[1] != 1:
            raise ValueError(f"plot_cost_surface is for one feature; X has shape {x.shape}")
        x = x[:, 0]
    y = _numpy(y).reshape(-1).astype(np.float64)
    A = np.stack([np.ones_like(x), x], axis=1)
    best = np.linalg.lstsq(A, y, rcond=None)[0]          # the minimum of J
    pts = np.array([best])
    if path_of_thetas is not None and len(path_of_thetas):
        pts = np.vstack([pts, np.asarray(path_of_thetas, np.float64).reshape(-1, 2)])
    span = np.maximum(np.abs(pts - best).max(axis=0) * 1.3, 1e-3 + 0.5 * np.abs(best))
    t0, t1 = np.meshgrid(np.linspace(best[0] - span[0], best[0] + span[0], 150),
                         np.linspace(best[1] - span[1], best[1] + span[1], 150))
    J = cost(x, y, t0, t1)
    fig, ax = plt.subplots(figsize=(6, 5))
    levels = np.quantile(J, np.linspace(0, 1, 25) ** 2)
    cs = ax.contour(t0, t1, J, levels=np.unique(levels), cmap="viridis")
    fig.colorbar(cs, ax=ax, label=r"$J(\theta_0, \theta_1)$")
    if path_of_thetas is not None and len(path_of_thetas):
        p = np.asarray(path_of_thetas, np.float64).reshape(-1, 2)
        ax.plot(p[:, 0], p[:, 1], "r.-", markersize=4, linewidth=1, label="gradient descent")
        ax.plot(p[0, 0], p[0, 1], "ro", markersize=7, label="start")
    ax.plot(best[0], best[1], "k*", markersize=12, label="least squares")
    ax.set_xlabel(r"$\theta_0$ (intercept)")
    ax.set_ylabel(r"$\theta_1$ (slope)")
    ax.set_title(title or r"cost $J(\theta) = \frac{1}{2m}\sum (h_\theta(x) - y)^2$")
    ax.legend(loc="best", framealpha=0.8)
    return _save(fig, path)


# -- the sigmoid ----------------------------------------------------------------------

def plot_sigmoid(path="sigmoid.png", z_range: float = 8.0) -> str:
    """sigma(z) = 1 / (1 + e^-z) and its derivative sigma'(z) = sigma(z) (1 - sigma(z))."""
    plt = require_matplotlib()
    z = np.linspace(-z_range, z_range, 400)
    s = 1 / (1 + np.exp(-z))
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(z, s, label=r"$\sigma(z) = 1 / (1 + e^{-z})$")
    ax.plot(z, s * (1 - s), "--", label=r"$\sigma'(z) = \sigma(z)(1 - \sigma(z))$")
    ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
    ax.axvline(0, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("z")
    ax.set_title("the sigmoid and its derivative")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


# -- confusion matrix -----------------------------------------------------------------

def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """counts[i, j] = how many examples of true class i were predicted as class j."""
    t = _numpy(y_true).reshape(-1).astype(np.int64)
    p = _numpy(y_pred).reshape(-1).astype(np.int64)
    k = num_classes or int(max(t.max(initial=0), p.max(initial=0)) + 1)
    counts = np.zeros((k, k), np.int64)
    np.add.at(counts, (t, p), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, path="confusion_matrix.png", labels=None,
                          title: str | None = None) -> str:
    """A heat map of the confusion matrix with the count in each cell."""
    plt = require_matplotlib()
    counts = confusion_matrix(y_true, y_pred, len(labels) if labels is not None else None)
    k = len(counts)
    labels = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    size = min(10.0, 2.5 + 0.5 * k)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(counts, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(k), labels, rotation=45 if k > 10 else 0)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(1, counts.sum())
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.1%})")
    if k <= 20:
        threshold = counts.max() / 2
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if counts[i, j] > threshold else "black")
    return _save(fig, path)


# == convolutional networks ===========================================================

def _display_image(img) -> tuple[np.ndarray, str | None]:
    """An image as matplotlib shows it: (H, W) with a grey colour map, or (H, W, 3) in
    [0, 1].  Accepts (H, W), (1, H, W), (3, H, W) (channels first, as the networks take
    them) or (H, W, 3); colour images are rescaled to [0, 1] when they are not already."""
    a = _numpy(img).astype(np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)                      # channels first -> last
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return a, "gray"
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"cannot show an array of shape {_numpy(img).shape} as an image: "
                         f"expected (H, W), (C, H, W) or (H, W, C) with C = 1 or 3")
    lo, hi = a.min(), a.max()
    if lo < 0 or hi > 1:
        a = (a - lo) / (hi - lo + 1e-12)
    return a, None


def plot_image_grid(images, path="images.png", titles=None, ncols: int | None = None,
                    suptitle: str | None = None, cmap: str | None = None,
                    cell: float = 1.6, symmetric: bool = False) -> str:
    """Images side by side in a grid, each with an optional title.

    ``images``: a sequence (or array ``(N, ...)``) of images, each (H, W), (C, H, W) or
    (H, W, C).  ``cmap`` overrides the grey map of one-channel images; ``symmetric``
    (True, or one bool per image) centres the colour scale of one-channel images on 0, blue
    for negative and red for positive (for filters and filtered images, where the sign
    matters).
    """
    plt = require_matplotlib()
    images = list(images)
    if not images:
        raise ValueError("plot_image_grid: no images to draw")
    n = len(images)
    ncols = ncols or min(n, 8)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + 0.3),
                             squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        a, default_cmap = _display_image(images[k])
        centred = symmetric[k] if isinstance(symmetric, (list, tuple)) else symmetric
        if a.ndim == 2 and centred:          # the scale ends at the 99.5th percentile of |a|
            m = np.percentile(np.abs(a), 99.5) if a.size > 100 else np.abs(a).max()
            m = max(float(m), 1e-12)
            ax.imshow(a, cmap=cmap or "RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
        else:
            ax.imshow(a, cmap=cmap or default_cmap, interpolation="nearest")
        if titles is not None and k < len(titles) and titles[k]:
            ax.set_title(str(titles[k]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return _save(fig, path)


def _conv_weight(layer_or_weight) -> np.ndarray:
    """The (C_out, C_in, kh, kw) weights of a Conv2d, a model (its first Conv2d), or an
    array."""
    w = layer_or_weight
    if hasattr(w, "named_modules"):
        if type(w).__name__ != "Conv2d":
            convs = [m for _, m in w.named_modules() if type(m).__name__ == "Conv2d"]
            if not convs:
                raise ValueError(f"plot_filters: {type(w).__name__} has no Conv2d layer")
            w = convs[0]
        w = w.weight
    w = _numpy(w)
    if w.ndim != 4:
        raise ValueError(f"plot_filters needs convolution weights of shape (C_out, C_in, kh, "
                         f"kw); got {w.shape}")
    return w


def plot_filters(layer, path="filters.png", max_filters: int = 64, ncols: int | None = None,
                 title: str | None = None) -> str:
    """The learned filters of a convolution, one small image each.

    ``layer``: an ``nn.Conv2d``, a model (its first ``Conv2d`` is drawn) or a weight array
    ``(C_out, C_in, kh, kw)``.  Filters over 3 input channels are drawn in colour (each
    rescaled to [0, 1]: what colour pattern it responds to); others channel by channel
    (only the first input channel when there are several), on a blue-white-red scale
    centred on 0 (red: positive weights, which respond to bright pixels there).
    """
    w = _conv_weight(layer)
    C_out, C_in = w.shape[:2]
    n = min(C_out, max_filters)
    if C_in == 3:
        images = [np.moveaxis(f, 0, -1) for f in w[:n]]
        for k, f in enumerate(images):
            images[k] = (f - f.min()) / (f.max() - f.min() + 1e-12)
        titles = [str(i) for i in range(n)]
        symmetric = False
    else:
        images = [f[0] for f in w[:n]]
        titles = [str(i) for i in range(n)]
        symmetric = True
    default = (f"{C_out} learned filters, {w.shape[2]}x{w.shape[3]}"
               + (f" (input channel 0 of {C_in})" if C_in not in (1, 3) else "")
               + (f"; first {n} shown" if n < C_out else ""))
    return plot_image_grid(images, path, titles=titles, ncols=ncols or min(n, 8),
                           suptitle=title or default, symmetric=symmetric,
                           cell=1.1 if n > 16 else 1.4)


def feature_maps(model, x, layer_types=("Conv2d",), layers=None) -> list[tuple[str, np.ndarray]]:
    """The outputs of ``model``'s layers for one input, captured with forward hooks.

    ``x``: one example ``(C, H, W)`` or a batch ``(1, C, H, W)`` (array or tensor).
    ``layers``: qualified module names to record (default: every module whose class name
    is in ``layer_types``).  Returns ``[(name, maps (channels, h, w)), ...]`` in the order
    the layers ran.  The model runs in eval mode under ``no_grad``; the hooks are removed
    afterwards.
    """
    import neurona as nr
    a = _numpy(x)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[0] != 1:
        raise ValueError(f"feature_maps: one image (C, H, W) or (1, C, H, W); got {a.shape}")
    named = dict(model.named_modules())
    if layers is None:
        chosen = [(n, m) for n, m in named.items() if n and type(m).__name__ in layer_types]
    else:
        missing = [n for n in layers if n not in named]
        if missing:
            raise ValueError(f"feature_maps: no layer named {missing[0]!r}; the layers are "
                             f"{', '.join(n for n in named if n)}")
        chosen = [(n, named[n]) for n in layers]
    recorded = []

    def hook_for(name):
        def hook(module, args, output):
            recorded.append((name, _numpy(output)[0].copy()))
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in chosen]
    was_training = model.training
    model.eval()
    try:
        dtype = next(iter(model.parameters())).dtype
        with nr.no_grad():
            model(nr.tensor(a, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return recorded


def _layer_label(name: str) -> str:
    """'layer 3' for a Sequential's index, the qualified name otherwise."""
    return f"layer {name}" if name.isdigit() else name


def plot_feature_maps(model, x, path="feature_maps.png", max_maps: int = 12, layers=None,
                      image=None, title: str | None = None) -> str:
    """What each convolutional layer of ``model`` computes for one input: one row per
    layer, its first ``max_maps`` output maps (feature maps), with the input on the left.

    ``x``: the input the model takes (normalised), ``(C, H, W)``; ``image``: the same
    picture for display (e.g. before normalisation), default ``x``.  ``layers``: module
    names to show (default: every ``Conv2d``).
    """
    plt = require_matplotlib()
    maps = feature_maps(model, x, layers=layers)
    if not maps:
        raise ValueError(f"plot_feature_maps: {type(model).__name__} has no Conv2d layer "
                         f"(pass layers=[...] to choose others)")
    ncols = 1 + min(max_maps, max(m.shape[0] for _, m in maps))
    fig, axes = plt.subplots(len(maps), ncols, figsize=(1.3 * ncols, 1.4 * len(maps) + 0.4),
                             squeeze=False)
    shown, cmap = _display_image(image if image is not None else x)
    for r, (name, m) in enumerate(maps):
        for ax in axes[r]:
            ax.axis("off")
        if r == 0:
            axes[0, 0].imshow(shown, cmap=cmap, interpolation="nearest")
            axes[0, 0].set_title("input", fontsize=8)
        m = m if m.ndim == 3 else m.reshape(-1, 1, 1)
        if m.shape[1] * m.shape[2] == 1:         # 1x1 maps: all channels as one small grid
            v = m.reshape(-1)
            cols = int(np.ceil(np.sqrt(len(v))))
            grid = np.full(cols * (-(-len(v) // cols)), np.nan)
            grid[:len(v)] = v
            axes[r, 1].imshow(grid.reshape(-1, cols), cmap="viridis", interpolation="nearest")
            axes[r, 1].set_title(f"{_layer_label(name)}: {len(v)} maps of 1x1, as one grid",
                                 fontsize=8, loc="left")
            continue
        for c in range(min(max_maps, m.shape[0])):
            axes[r, c + 1].imshow(m[c], cmap="viridis", interpolation="nearest")
        axes[r, 1].set_title(f"{_layer_label(name)}: {m.shape[0]} x {m.shape[1]}x{m.shape[2]}",
                             fontsize=8, loc="left")
    fig.suptitle(title or "feature maps (outputs of each convolution; bright = strong response)")
    return _save(fig, path)


def plot_misclassified(images, y_true, y_pred, path="misclassified.png", class_names=None,
                       max_images: int = 24, ncols: int = 8, title: str | None = None) -> str:
    """Up to ``max_images`` examples the model got wrong, evenly spread over the set, each
    titled ``predicted / true`` (class names when given)."""
    y_true = _numpy(y_true).reshape(-1)
    y_pred = _numpy(y_pred).reshape(-1)
    images = _numpy(images)
    wrong = np.flatnonzero(y_true != y_pred)
    names = (lambda k: str(class_names[int(k)])) if class_names is not None else str
    if len(wrong) == 0:
        plt = require_matplotlib()
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no mistakes on {len(y_true)} examples", ha="center", va="center")
        return _save(fig, path)
    # spread over the whole set: with data sorted by class the first ones are all one class
    pick = wrong[np.unique(np.linspace(0, len(wrong) - 1, min(max_images, len(wrong)))
                           .round().astype(int))]
    titles = [f"{names(y_pred[i])[:12]} / {names(y_true[i])[:12]}" for i in pick]
    return plot_image_grid([images[i] for i in pick], path, titles=titles,
                           ncols=min(ncols, len(pick)),
                           suptitle=title or (f"{len(wrong)} of {len(y_true)} misclassified "
                                              f"(predicted / true); {len(pick)} shown"),
                           cell=1.5)
