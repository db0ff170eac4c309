"""The 2-D problems of the TensorFlow Playground (playground.tensorflow.org).

Each generator follows the Playground's ``dataset.ts`` step for step (same shapes, radii,
noise scaling and labels); only the random numbers differ, since they come from a seeded
NumPy generator instead of the browser's.  Points lie in about [-6, 6]^2.

Classification (labels -1 / +1):

* ``circle``  -- +1 inside radius 2.5 (r uniform in [0, 2.5]), -1 on a ring r in [3.5, 5].
  Noise shifts the point used for the label by ``uniform(-5, 5) * noise`` per coordinate.
* ``xor``     -- x, y uniform in [-5, 5], pushed 0.3 away from the axes; +1 when x*y >= 0.
* ``gauss``   -- two Gaussians at (2, 2) (+1) and (-2, -2) (-1); variance 0.5 at noise 0
  rising linearly to 4 at noise 0.5.
* ``spiral``  -- two arms r = 5 i/n, t = 1.75 * 2pi i/n (+ pi for the -1 arm), each point
  moved by ``uniform(-1, 1) * noise``.

Regression:

* ``plane``       -- label (x + y) / 10 from the noisy point (about -1.2 .. 1.2: the
  Playground does not clip it).
* ``multi_gauss`` -- six bumps at (-4|0|4, +-2.5) with alternating signs; the label is the
  strongest bump's ``sign * clip(1 - dist / 2, 0, 1)``, in [-1, 1].

    X, y = playground("spiral", n=500, noise=0.1, seed=0)    # X (500, 2), y (500,) float32

``noise`` is the Playground's noise slider divided by 100 (0 to 0.5).  As in the
Playground, the points are shuffled (``shuffle=False`` keeps them in generation order:
the +1 class first).  An odd ``n`` gives the +1 class the extra point.
"""
from __future__ import annotations

import numpy as np

__all__ = ["playground", "PLAYGROUND_PROBLEMS"]

PLAYGROUND_PROBLEMS = {"circle": "classification", "xor": "classification",
                       "gauss": "classification", "spiral": "classification",
                       "plane": "regression", "multi_gauss": "regression"}


def _uniform(rng, a, b, n):
    return rng.random(n) * (b - a) + a


def _circle(rng, n, noise):
    radius = 5.0

    def ring(count, r_lo, r_hi):
        r = _uniform(rng, r_lo, r_hi, count)
        angle = _uniform(rng, 0.0, 2 * np.pi, count)
        x, y = r * np.sin(angle), r * np.cos(angle)
        nx = _uniform(rng, -radius, radius, count) * noise
        ny = _uniform(rng, -radius, radius, count) * noise
        label = np.where(np.hypot(x + nx, y + ny) < radius * 0.5, 1.0, -1.0)
        return x, y, label

    pos, neg = n - n // 2, n // 2
    parts = [ring(pos, 0.0, radius * 0.5), ring(neg, radius * 0.7, radius)]
    return [np.concatenate(c) for c in zip(*parts)]


def _xor(rng, n, noise):
    padding = 0.3
    x = _uniform(rng, -5, 5, n)
    x = x + np.where(x > 0, padding, -padding)
    y = _uniform(rng, -5, 5, n)
    y = y + np.where(y > 0, padding, -padding)
    nx = _uniform(rng, -5, 5, n) * noise
    ny = _uniform(rng, -5, 5, n) * noise
    label = np.where((x + nx) * (y + ny) >= 0, 1.0, -1.0)
    return x, y, label


def _gauss(rng, n, noise):
    variance = 0.5 + (4.0 - 0.5) * (noise / 0.5)      # d3 linear scale [0, .5] -> [0.5, 4]
    std = np.sqrt(variance)

    def blob(count, c, label):
        return (c + std * rng.standard_normal(count), c + std * rng.standard_normal(count),
                np.full(count, label))

    parts = [blob(n - n // 2, 2.0, 1.0), blob(n // 2, -2.0, -1.0)]
    return [np.concatenate(c) for c in zip(*parts)]


def _spiral(rng, n, noise):
    half = n / 2                 # the Playground divides by numSamples / 2 (may be x.5)

    def arm(count, delta_t, label):
        i = np.arange(count)
        r = i / half * 5
        t = 1.75 * i / half * 2 * np.pi + delta_t
        x = r * np.sin(t) + _uniform(rng, -1, 1, count) * noise
        y = r * np.cos(t) + _uniform(rng, -1, 1, count) * noise
        return x, y, np.full(count, label)

    parts = [arm(n - n // 2, 0.0, 1.0), arm(n // 2, np.pi, -1.0)]
    return [np.concatenate(c) for c in zip(*parts)]


def _noisy_grid(rng, n, noise, radius=6.0):
    x = _uniform(rng, -radius, radius, n)
    y = _uniform(rng, -radius, radius, n)
    nx = _uniform(rng, -radius, radius, n) * noise
    ny = _uniform(rng, -radius, radius, n) * noise
    return x, y, x + nx, y + ny


def _plane(rng, n, noise):
    x, y, lx, ly = _noisy_grid(rng, n, noise)
    return x, y, (lx + ly) / 10.0               # d3 linear scale [-10, 10] -> [-1, 1]


_GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                       [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)


def _multi_gauss(rng, n, noise):
    x, y, lx, ly = _noisy_grid(rng, n, noise)
    cx, cy, sign = _GAUSSIANS.T
    dist = np.hypot(lx[:, None] - cx, ly[:, None] - cy)            # (n, 6)
    strength = np.clip(1.0 - dist / 2.0, 0.0, 1.0)                  # [0, 2] -> [1, 0], clamped
    best = np.argmax(strength, axis=1)        # the first strongest, as the Playground's loop
    label = sign[best] * strength[np.arange(n), best]
    return x, y, label + 0.0                  # + 0.0 turns -0.0 into 0.0


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
               "plane": _plane, "multi_gauss": _multi_gauss}


def playground(name: str, n: int = 500, noise: float = 0.0, seed=0, shuffle: bool = True,
               generator=None):
    """A Playground problem as ``(X, y)`` tensors: ``X`` float32 ``(n, 2)``, ``y`` float32
    ``(n,)`` (-1/+1 for classification, a real number for regression).

    Args:
        name: ``circle``, ``xor``, ``gauss``, ``spiral``, ``plane`` or ``multi_gauss``
            (``multi-gauss``, ``reg-plane`` and ``reg-gauss``, the Playground's own names,
            work too).
        n: number of points.
        noise: 0 to 0.5 (the Playground's slider value / 100).
        seed: the random seed (same seed, same data); ignored when ``generator`` (a
            ``neurona.Generator``) is given.
        shuffle: shuffle the points, as the Playground does.
    """
    from ..tensor import Tensor
    key = str(name).lower().replace("-", "_")
    key = {"reg_plane": "plane", "reg_gauss": "multi_gauss", "multigauss": "multi_gauss",
           "gaussian": "gauss"}.get(key, key)
    if key not in _GENERATORS:
        raise ValueError(f"playground: unknown problem {name!r}; choose one of "
                         f"{', '.join(_GENERATORS)}")
    if int(n) != n or n < 0:
        raise ValueError(f"playground: n must be a non-negative int, got {n!r}")
    n = int(n)
    if not 0.0 <= noise <= 0.5:
        hint = (f" (the Playground's slider shows {noise:g}; divide it by 100: "
                f"noise={noise / 100:g})" if 1 <= noise <= 50 else "")
        raise ValueError(f"playground: noise must be between 0 and 0.5, got {noise!r}{hint}")
    if generator is not None:
        from ..random import _gen
        rng = _gen(generator)
    else:
        rng = np.random.Generator(np.random.PCG64(seed))
    x, y, label = _GENERATORS[key](rng, n, float(noise))
    X = np.stack([x, y], axis=1).astype(np.float32)
    label = np.asarray(label, dtype=np.float32)
    if shuffle and n:
        perm = rng.permutation(n)
        X, label = X[perm], label[perm]
    return Tensor._wrap(np.ascontiguousarray(X)), Tensor._wrap(label)
