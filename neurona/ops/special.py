"""Special functions the array libraries lack: the error function ``erf`` (for exact GELU).

SciPy's ``erf`` (or CuPy's) is used when it is installed.  Without it, float64 arrays use
Python's ``math.erf`` element by element (exact, slow: meant for gradient checks) and
other dtypes the rational approximation of Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7,
about one float32 step; <= 2e-7 after rounding to float32).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import xp_of

__all__ = ["erf", "erf_fallback"]

_scipy_erf = None
_checked = False


def _load():
    global _scipy_erf, _checked
    if not _checked:
        _checked = True
        try:
            from scipy.special import erf as f
            _scipy_erf = f
        except Exception:
            _scipy_erf = None
    return _scipy_erf


_math_erf = np.frompyfunc(math.erf, 1, 1)


def erf_fallback(x):
    """erf without SciPy (see the module docstring)."""
    xp = xp_of(x)
    if x.dtype == np.float64 and xp is np:
        return np.asarray(_math_erf(x), dtype=np.float64)   # (0-d input: a Python float)
    # Abramowitz & Stegun 7.1.26, evaluated in float64: in float32 the cancellation in
    # 1 - (...) near x = 0 would add a few float32 steps to the 1.5e-7 of the formula.
    p = 0.3275911
    a1, a2, a3, a4, a5 = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429
    x64 = x.astype(np.float64)
    s = xp.sign(x64)
    ax = xp.abs(x64)
    t = 1.0 / (1.0 + p * ax)
    y = 1.0 - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * xp.exp(-ax * ax)
    return (s * y).astype(x.dtype, copy=False)


def erf(x):
    """The error function erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt, elementwise."""
    xp = xp_of(x)
    if xp is not np:
        from cupyx.scipy.special import erf as cerf
        return cerf(x)
    f = _load()
    if f is not None:
        return f(x)
    return erf_fallback(x)
