"""The playground's 2-D data sets: the TensorFlow Playground's six generators, seeded.

Every generator returns ``(X, y)``: ``X`` of shape (n, 2) holding the points (x1, x2) and
``y`` of shape (n,) holding the labels.  They follow the original's ``dataset.ts`` line by
line (same radii, paddings, spreads and noise formulas), with NumPy's seeded
``default_rng`` in place of JavaScript's ``Math.random`` -- so the same seed gives the
same points, every time.

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
* ``reg-gauss`` -- six Gaussian bumps of sign +-1; label = the bump value of largest
  magnitude, which falls linearly from 1 at a centre to 0 at distance 2.

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


# -- classification -------------------------------------------------------------------

def circle(n: int, noise: float, rng: np.random.Generator):
    """Disc (+1) inside a ring (-1); the label is recomputed from the noisy point."""
    radius = 5.0
    pts, labels = [], []
    for r_lo, r_hi in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        for _ in range(n // 2):
            r = rng.uniform(r_lo, r_hi)
            angle = rng.uniform(0.0, 2 * math.pi)
            x, y = r * math.sin(angle), r * math.cos(angle)
            nx = rng.uniform(-radius, radius) * noise
            ny = rng.uniform(-radius, radius) * noise
            labels.append(1.0 if math.hypot(x + nx, y + ny) < radius * 0.5 else -1.0)
            pts.append((x, y))
    return np.array(pts), np.array(labels)


def xor(n: int, noise: float, rng: np.random.Generator):
    """Four quadrants: label = sign(x1 x2) of the noisy point (points kept 0.3 off the axes)."""
    pts, labels = [], []
    padding = 0.3
    for _ in range(n):
        x = rng.uniform(-5.0, 5.0)
        x += padding if x > 0 else -padding
        y = rng.uniform(-5.0, 5.0)
        y += padding if y > 0 else -padding
        nx = rng.uniform(-5.0, 5.0) * noise
        ny = rng.uniform(-5.0, 5.0) * noise
        labels.append(1.0 if (x + nx) * (y + ny) >= 0 else -1.0)
        pts.append((x, y))
    return np.array(pts), np.array(labels)


def gauss(n: int, noise: float, rng: np.random.Generator):
    """Two Gaussian clouds, (2, 2) -> +1 and (-2, -2) -> -1; variance 0.5 + 7 * noise."""
    variance = 0.5 + (4.0 - 0.5) * noise / 0.5        # d3 linear scale [0, .5] -> [.5, 4]
    std = math.sqrt(variance)
    pts, labels = [], []
    for cx, cy, label in ((2.0, 2.0, 1.0), (-2.0, -2.0, -1.0)):
        for _ in range(n // 2):
            pts.append((rng.normal(cx, std), rng.normal(cy, std)))
            labels.append(label)
    return np.array(pts), np.array(labels)


def _spiral_arms(n: int, noise: float, rng, deltas_labels):
    m = n // len(deltas_labels)
    pts, labels = [], []
    for delta, label in deltas_labels:
        for i in range(m):
            r = i / m * 5
            t = 1.75 * i / m * 2 * math.pi + delta
            x = r * math.sin(t) + rng.uniform(-1.0, 1.0) * noise
            y = r * math.cos(t) + rng.uniform(-1.0, 1.0) * noise
            pts.append((x, y))
            labels.append(label)
    return np.array(pts), np.array(labels)


def spiral(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved arms: r = 5 i/n, t = 3.5 pi i/n (+1) and t + pi (-1)."""
    return _spiral_arms(n, noise, rng, ((0.0, 1.0), (math.pi, -1.0)))


def spiral3(n: int, noise: float, rng: np.random.Generator):
    """Three arms 2 pi/3 apart, labels 0, 1, 2 (a multi-class extension)."""
    return _spiral_arms(n, noise, rng, tuple((k * 2 * math.pi / 3, float(k)) for k in range(3)))


# -- regression -----------------------------------------------------------------------

def reg_plane(n: int, noise: float, rng: np.random.Generator):
    """label = (x1 + x2) / 10 of the noisy point (a d3 scale [-10, 10] -> [-1, 1])."""
    pts, labels = [], []
    for _ in range(n):
        x, y = rng.uniform(-RADIUS, RADIUS), rng.uniform(-RADIUS, RADIUS)
        nx = rng.uniform(-RADIUS, RADIUS) * noise
        ny = rng.uniform(-RADIUS, RADIUS) * noise
        labels.append(min(max((x + nx + y + ny) / 10.0, -1.0), 1.0))   # kept in [-1, 1]
        pts.append((x, y))
    return np.array(pts), np.array(labels)


_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def _reg_gauss_label(x: float, y: float) -> float:
    label = 0.0
    for cx, cy, sign in _GAUSSIANS:
        scaled = min(max(1.0 - math.hypot(x - cx, y - cy) / 2.0, 0.0), 1.0)   # [0, 2] -> [1, 0]
        if abs(sign * scaled) > abs(label):
            label = sign * scaled
    return label


def reg_gauss(n: int, noise: float, rng: np.random.Generator):
    """Six bumps of sign +-1; the label is the bump value of largest magnitude."""
    pts, labels = [], []
    for _ in range(n):
        x, y = rng.uniform(-RADIUS, RADIUS), rng.uniform(-RADIUS, RADIUS)
        nx = rng.uniform(-RADIUS, RADIUS) * noise
        ny = rng.uniform(-RADIUS, RADIUS) * noise
        labels.append(_reg_gauss_label(x + nx, y + ny))
        pts.append((x, y))
    return np.array(pts), np.array(labels)


CLASSIFY = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral, "spiral3": spiral3}
REGRESS = {"reg-plane": reg_plane, "reg-gauss": reg_gauss}
GENERATORS = {**CLASSIFY, **REGRESS}
NUM_SAMPLES = {"classification": 500, "regression": 1200}   # the original's counts


def generate(name: str, noise: float, seed, n: int | None = None):
    """Points and labels of data set ``name`` (float64 arrays (n, 2) and (n,)), seeded."""
    if name not in GENERATORS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(GENERATORS)}")
    if n is None:
        n = NUM_SAMPLES["regression" if name in REGRESS else "classification"]
        if name == "spiral3":
            n = 501                                  # three arms of 167
    rng = np.random.default_rng(seed_to_int(seed))
    return GENERATORS[name](n, float(noise), rng)


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
