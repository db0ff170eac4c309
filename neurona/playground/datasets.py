"""The playground's 2-D data sets: the TensorFlow Playground's six generators, seeded.

``generate(name, noise, seed)`` returns ``(X, y)``: ``X`` of shape (n, 2) holding the points
(x1, x2) and ``y`` of shape (n,) holding the labels.  The original six come from
``neurona.datasets.playground``, which follows the original's ``dataset.ts`` step by step
(same radii, paddings, spreads and noise formulas) with a seeded NumPy generator in place
of JavaScript's ``Math.random`` -- so the same seed gives the same points, every time.
The playground's seeds are strings (they travel in the URL): ``seed_to_int`` hashes them.

Classification (labels -1 / +1, 500 points):

* ``circle``  -- a disc of radius 2.5 (label +1) inside a ring 3.5 <= r <= 5 (label -1);
  noise moves the point used to compute the label: label = +1 iff |p + noise| < 2.5.
* ``xor``     -- x1, x2 ~ U(-5, 5) pushed 0.3 away from the axes; label = sign(x1 x2)
  of the noisy point (+1 when x1 x2 >= 0).
* ``gauss``   -- two Gaussian clouds at (2, 2) (label +1) and (-2, -2) (label -1);
  their variance grows linearly from 0.5 (noise 0) to 4 (noise 0.5).
* ``spiral``  -- two arms r = 5 i/n, t = 1.75 * 2 pi i/n + delta (delta = 0: +1, pi: -1),
  each coordinate moved by U(-1, 1) * noise.
* ``spiral3`` -- (beyond the original) three arms 2 pi/3 apart, labels 0, 1, 2.

Regression (labels in [-1, 1], 1200 points as in the original):

* ``reg-plane`` -- x1, x2 ~ U(-6, 6); label = (x1 + x2) / 10 of the noisy point (clipped
  to [-1, 1]; the original lets noise push it slightly beyond).
* ``reg-gauss`` -- six bumps of sign +-1 at (-4|0|4, +-2.5); label = the bump value of
  largest magnitude, which falls linearly from 1 at a centre to 0 at distance 2.

``noise`` is a fraction (the page's percent / 100), 0 .. 0.5.

``split(X, y, perc_train, rng)`` shuffles and keeps the first perc_train % for training.
``parse_csv(text, problem)`` reads bring-your-own data ``x1,x2,label[,part]`` and names
the line of any bad row.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

__all__ = ["CLASSIFY", "REGRESS", "GENERATORS", "NUM_SAMPLES", "generate", "split",
           "seed_to_int", "parse_csv", "to_csv", "MAX_POINTS", "MAX_CLASSES", "RADIUS"]

RADIUS = 6.0          # every point lives in [-6, 6]^2 (the heatmap's domain)
MAX_POINTS = 2000     # the most points a data set may hold (uploads, clicks)
MAX_CLASSES = 8       # the most classes of a multi-class data set


def seed_to_int(seed) -> int:
    """A stable 63-bit integer from any seed (the URL hash carries seeds as strings)."""
    digest = hashlib.sha256(str(seed).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


# -- the generators ----------------------------------------------------------------------
# The original six live in ``neurona.datasets.playground`` (vectorised, dataset.ts step for
# step); this module adds the 3-class spiral and the playground's names and sizes.

_NAMES = {"circle": "circle", "xor": "xor", "gauss": "gauss", "spiral": "spiral",
          "reg-plane": "plane", "reg-gauss": "multi_gauss"}


def spiral3(n: int, noise: float, rng: np.random.Generator):
    """Three arms 2 pi/3 apart (labels 0, 1, 2), each like the original's spiral arm:
    r = 5 i/m, t = 1.75 * 2 pi i/m + 2 pi k/3, plus U(-1, 1) * noise per coordinate."""
    m = n // 3
    xs, ys, labels = [], [], []
    i = np.arange(m)
    for k in range(3):
        r = i / m * 5
        t = 1.75 * i / m * 2 * math.pi + k * 2 * math.pi / 3
        xs.append(r * np.sin(t) + rng.uniform(-1.0, 1.0, m) * noise)
        ys.append(r * np.cos(t) + rng.uniform(-1.0, 1.0, m) * noise)
        labels.append(np.full(m, float(k)))
    return np.stack([np.concatenate(xs), np.concatenate(ys)], axis=1), np.concatenate(labels)


CLASSIFY = ("circle", "xor", "gauss", "spiral", "spiral3")
REGRESS = ("reg-plane", "reg-gauss")
GENERATORS = CLASSIFY + REGRESS
NUM_SAMPLES = {"classification": 500, "regression": 1200}   # the original's counts


def generate(name: str, noise: float, seed, n: int | None = None):
    """Points and labels of data set ``name``: float64 arrays (n, 2) and (n,), in generation
    order (``split`` shuffles), the same for the same seed (any string or number)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(GENERATORS)}")
    if n is None:
        n = NUM_SAMPLES["regression" if name in REGRESS else "classification"]
        if name == "spiral3":
            n = 501                                  # three arms of 167
    if name == "spiral3":
        return spiral3(n, float(noise), np.random.default_rng(seed_to_int(seed)))
    from neurona.datasets.playground import playground
    X, y = playground(_NAMES[name], n=n, noise=float(noise), seed=seed_to_int(seed),
                      shuffle=False)
    X, y = X.numpy().astype(np.float64), y.numpy().astype(np.float64)
    if name == "reg-plane":
        y = np.clip(y, -1.0, 1.0)            # the contract's labels in [-1, 1]
    return X, y


def split(X, y, perc_train: int, seed):
    """Shuffle (seeded) and split: the first ``perc_train`` % train, the rest test.

    Returns (X_train, y_train, X_test, y_test)."""
    rng = np.random.default_rng(seed_to_int(f"{seed}/shuffle"))
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    k = int(len(X) * perc_train / 100)
    return X[:k], y[:k], X[k:], y[k:]


# -- bring your own data --------------------------------------------------------------

def _number(text: str, what: str, lineno: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"CSV line {lineno}: {what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"CSV line {lineno}: {what} {text.strip()!r} is not a finite number")
    return value


def parse_csv(text: str, problem: str = "classification"):
    """Read ``x1,x2,label`` rows (optional header line; an optional 4th column ``part``,
    ``train`` or ``test``).

    Rules: x1, x2 in [-6, 6]; labels -1/+1 or 0/1 (two classes, 0 is read as -1) or integers
    0..K-1 with K <= 8 for classification, numbers in [-1, 1] for regression; at most 2000
    rows.  Returns (X (n, 2), y (n,), part (n,) list of 'train' / 'test' / None, K) where K
    is the number of classes (2 for -1/+1, 0 for regression).  Bad rows raise ValueError
    naming the line (1-based, counting the header)."""
    rows, labels, parts = [], [], []
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if not rows and lineno == _first_content_line(lines) and _is_header(cells):
            continue
        if len(cells) not in (3, 4):
            raise ValueError(f"CSV line {lineno}: expected 3 columns x1,x2,label (or 4 with "
                             f"part train/test), found {len(cells)}: {line.strip()!r}")
        x1 = _number(cells[0], "x1", lineno)
        x2 = _number(cells[1], "x2", lineno)
        for name, v in (("x1", x1), ("x2", x2)):
            if not -RADIUS <= v <= RADIUS:
                raise ValueError(f"CSV line {lineno}: {name} = {v:g} is outside [-6, 6]; "
                                 f"rescale the data to the playground's square")
        label = _number(cells[2], "label", lineno)
        if problem == "regression" and not -1.0 <= label <= 1.0:
            raise ValueError(f"CSV line {lineno}: label {label:g} is outside [-1, 1] "
                             f"(regression labels must lie in [-1, 1])")
        if problem != "regression" and (label != int(label) or not -1 <= label < MAX_CLASSES):
            raise ValueError(f"CSV line {lineno}: label {cells[2]!r} is not a class: use -1/+1, "
                             f"0/1, or integers 0..{MAX_CLASSES - 1}")
        part = None
        if len(cells) == 4:
            part = cells[3].lower()
            if part not in ("train", "test"):
                raise ValueError(f"CSV line {lineno}: part {cells[3]!r} must be 'train' or 'test'")
        rows.append((x1, x2))
        labels.append(label)
        parts.append(part)
        if len(rows) > MAX_POINTS:
            raise ValueError(f"CSV line {lineno}: too many rows (more than {MAX_POINTS}); "
                             f"keep at most {MAX_POINTS} points")
    if not rows:
        raise ValueError("the CSV holds no data rows; expected lines 'x1,x2,label'")
    y = np.array(labels)
    if problem == "regression":
        k = 0
    elif set(np.unique(y)) <= {-1.0, 1.0} or set(np.unique(y)) <= {0.0, 1.0}:
        k, y = 2, np.where(y > 0, 1.0, -1.0)
    else:
        if (y < 0).any():
            bad = lineno_of(lines, int(np.argmax(y < 0)))
            raise ValueError(f"CSV line {bad}: label -1 mixed with classes 0..K-1; use "
                             f"-1/+1 for two classes or 0..K-1 for several")
        k = int(y.max()) + 1
    return np.array(rows, dtype=np.float64), y, parts, k


def _first_content_line(lines) -> int:
    for i, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return i
    return 0


def _is_header(cells) -> bool:
    try:
        float(cells[0])
        return False
    except ValueError:
        return True


def lineno_of(lines, row_index: int) -> int:
    """The 1-based line number of data row ``row_index`` (skipping blanks, comments, header)."""
    seen = -1
    first = _first_content_line(lines)
    for i, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if i == first and _is_header([c.strip() for c in line.split(",")]):
            continue
        seen += 1
        if seen == row_index:
            return i
    return 0


def to_csv(X_train, y_train, X_test, y_test) -> str:
    """The points as CSV text ``x1,x2,label,part`` (what ``parse_csv`` reads back)."""
    out = ["x1,x2,label,part"]
    for X, y, part in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        for (a, b), t in zip(X, y):
            out.append(f"{float(a)!r},{float(b)!r},{float(t)!r},{part}")
    return "\n".join(out) + "\n"
