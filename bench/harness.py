"""Timing two callables side by side, fairly.

:func:`compare` times ``fn_a`` (neurona) and ``fn_b`` (PyTorch) in the same process:

1. warm-up: a few calls of each (caches, lazy imports, allocator pools);
2. calibration: how many calls ``inner`` make one round last about ``target`` seconds
   (the same ``inner`` for both, set by the slower of the two);
3. ``rounds`` rounds, interleaved: each round times ``inner`` calls of one library then
   ``inner`` calls of the other, swapping which goes first every round, so that a slow
   spell of the machine (another process, frequency scaling) hits both alike.

The reported time per call is the *median* over rounds of (round time / inner), which
shrugs off the odd round disturbed by a garbage collection or a context switch.
"""
from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, asdict

__all__ = ["Timing", "compare", "format_seconds"]


@dataclass
class Timing:
    """Median seconds per call of each library, and their ratio a / b."""
    name: str
    a_s: float
    b_s: float
    rounds: int
    inner: int

    @property
    def ratio(self) -> float:
        return self.a_s / self.b_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def _time_calls(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def compare(fn_a, fn_b, name: str = "", rounds: int = 25, target: float = 0.02,
            warmup: int = 3) -> Timing:
    """Time zero-argument callables ``fn_a`` and ``fn_b`` interleaved; see module docstring."""
    gc.collect()
    for _ in range(warmup):
        fn_a()
        fn_b()
    # calibrate: one call of each, repeated until a few milliseconds have passed
    n = 1
    while True:
        slowest = max(_time_calls(fn_a, n), _time_calls(fn_b, n))
        if slowest > 0.002 or n >= 1 << 20:
            break
        n *= 4
    inner = max(1, round(target * n / slowest))

    a_times, b_times = [], []
    for r in range(rounds):
        if r % 2 == 0:
            a_times.append(_time_calls(fn_a, inner))
            b_times.append(_time_calls(fn_b, inner))
        else:
            b_times.append(_time_calls(fn_b, inner))
            a_times.append(_time_calls(fn_a, inner))
    return Timing(name=name, a_s=statistics.median(a_times) / inner,
                  b_s=statistics.median(b_times) / inner, rounds=rounds, inner=inner)


def format_seconds(s: float) -> str:
    """1.23e-5 -> '12.3 us'."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
