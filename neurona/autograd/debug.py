"""Debugging modes for autograd: anomaly detection and live gradient checking.

* ``set_detect_anomaly(True)`` / ``with detect_anomaly():`` -- every recorded op remembers
  where in *your* code it was called; a NaN or Inf appearing in an op's forward output
  (from finite inputs) or in a gradient during backward raises an error naming the op
  and that file and line.
* ``with check_gradients():`` -- while a real model runs forward and backward, every
  op's backward is compared against central finite differences,

      dL/dx_j  ~=  ( L(x + eps e_j) - L(x - eps e_j) ) / (2 eps),

  on a few sampled elements j of each input (in float64, with L = sum(out * grad_out)),
  and the first op whose backward disagrees is named (op, shapes, max error, and the
  line that called it).  Meant for students who write their own ops.

Both are off by default and then cost one attribute read per op.
"""
from __future__ import annotations

import os
import traceback

import numpy as np

from ..backend import xp_of
from .grad_mode import state

__all__ = ["set_detect_anomaly", "is_anomaly_enabled", "detect_anomaly", "check_gradients",
           "GradientCheckError"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _refresh():
    state.debug = bool(state.anomaly or state.check is not None)


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    state.anomaly = bool(mode) and check_nan
    _refresh()


def is_anomaly_enabled() -> bool:
    return state.anomaly


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on inside it."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = state.anomaly
        set_detect_anomaly(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        state.anomaly = self._prev
        _refresh()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)
        return wrapper


def _user_frame() -> str:
    """'file:line in function' of the innermost caller outside the neurona package."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PKG_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}" + (
                f"\n    {frame.line}" if frame.line else "")
    return "<unknown>"


def _describe_inputs(node, shapes=None):
    shapes = shapes or node.debug_info.get("shapes", ()) if node.debug_info else ()
    return ", ".join(f"{tuple(s)}:{d}" for s, d in shapes) or "?"


def _nonfinite(a) -> bool:
    if a is None or getattr(a, "dtype", None) is None or a.dtype.kind != "f":
        return False
    return not bool(xp_of(a).isfinite(a).all())


def after_forward(node, inputs, out, kwargs):
    """Called by Function.apply for every recorded op while a debug mode is on."""
    info = {"where": _user_frame(),
            "shapes": [(t._data.shape, t._data.dtype) for t in inputs]}
    node.debug_info = info
    if state.anomaly:
        outs = out if type(out) is tuple else (out,)
        kw_nonfinite = any(isinstance(v, float) and not np.isfinite(v) for v in kwargs.values())
        if not kw_nonfinite and any(_nonfinite(o) for o in outs) and \
                not any(_nonfinite(t._data) for t in inputs):
            raise FloatingPointError(
                f"anomaly detected: {node.op_name()} produced NaN or Inf in its forward output "
                f"from finite inputs (inputs {_describe_inputs(node)}).\n"
                f"  called at {info['where']}")
    chk = state.check
    if chk is not None and node.deterministic and not type(node)._tensor_api:
        info["inputs"] = [t._data.copy() for t in inputs]
        info["kwargs"] = kwargs


def after_backward(node, grads_out, grads_in):
    """Called by the engine after every node's backward while a debug mode is on."""
    info = node.debug_info
    if state.anomaly and any(_nonfinite(g) for g in grads_in) and \
            not any(_nonfinite(g) for g in grads_out):
        where = info["where"] if info else "<recorded before anomaly mode was on>"
        raise FloatingPointError(
            f"anomaly detected: the backward of {node.op_name()} returned NaN or Inf "
            f"gradients from finite incoming gradients.\n  the op was called at {where}")
    chk = state.check
    if chk is not None and info is not None and "inputs" in info:
        chk._check(node, info, grads_out)
        del info["inputs"]


class GradientCheckError(AssertionError):
    """An op's backward disagrees with finite differences (raised by check_gradients)."""


class check_gradients:
    """Compare every op's backward with finite differences while a real model trains.

    ``samples``: elements checked per input; ``eps``: the finite-difference step (float64);
    a sampled element passes when |analytic - numeric| <= atol + rtol * |numeric|.
    After the block, ``.checked`` counts the ops checked.
    """

    def __init__(self, samples: int = 3, eps: float = 1e-6, rtol: float = 1e-3,
                 atol: float = 1e-5, seed: int = 0):
        self.samples, self.eps, self.rtol, self.atol = samples, eps, rtol, atol
        self.rng = np.random.default_rng(seed)
        self.checked = 0

    def __enter__(self):
        self._prev = state.check
        state.check = self
        _refresh()
        return self

    def __exit__(self, *exc):
        state.check = self._prev
        _refresh()
        return False

    def _check(self, node, info, grads_out):
        cls = type(node)
        kwargs = info["kwargs"]
        xs = [np.asarray(_host(a), dtype=np.float64) if a.dtype.kind == "f" else _host(a)
              for a in info["inputs"]]
        gs = [np.asarray(_host(g), dtype=np.float64) for g in grads_out]

        def run(inputs):
            f = cls()
            out = f.forward(*inputs, **kwargs)
            return f, (out if type(out) is tuple else (out,))

        def objective(inputs):
            _, outs = run(inputs)
            return sum(float(np.sum(np.asarray(o, dtype=np.float64) * g))
                       for o, g in zip(outs, gs) if o.dtype.kind == "f")

        fresh, _ = run([x.copy() for x in xs])
        fresh.needs_input_grad = node.needs_input_grad
        analytic = fresh.backward(*gs)
        if type(analytic) is not tuple:
            analytic = (analytic,)
        f0 = objective(xs)
        eps = self.eps
        for i, x in enumerate(xs):
            if not node.needs_input_grad[i] or x.dtype.kind != "f" or x.size == 0:
                continue
            ana = np.broadcast_to(np.asarray(analytic[i], dtype=np.float64), x.shape) \
                if analytic[i] is not None else np.zeros(x.shape)
            worst = 0.0
            bad = None
            for j in self.rng.choice(x.size, size=min(self.samples, x.size), replace=False):
                idx = np.unravel_index(j, x.shape)
                plus = [a.copy() for a in xs]
                plus[i][idx] += eps
                minus = [a.copy() for a in xs]
                minus[i][idx] -= eps
                fp, fm = objective(plus), objective(minus)
                fwd, bwd = (fp - f0) / eps, (f0 - fm) / eps
                scale = max(1.0, abs(fwd), abs(bwd))
                if abs(fwd - bwd) > 1e-2 * scale:      # a kink (relu at 0, max ties): skip
                    continue
                num = (fp - fm) / (2 * eps)
                err = abs(ana[idx] - num)
                if err > self.atol + self.rtol * abs(num) and err > worst:
                    worst, bad = err, (idx, float(ana[idx]), num)
            if bad is not None:
                shapes = ", ".join(f"{tuple(a.shape)}" for a in info["inputs"])
                raise GradientCheckError(
                    f"check_gradients: the backward of {node.op_name()} disagrees with finite "
                    f"differences for input {i} (inputs of shapes {shapes}): at element "
                    f"{tuple(int(k) for k in bad[0])} backward gives {bad[1]:.6g}, finite "
                    f"differences give {bad[2]:.6g} (max error {worst:.3g}).\n"
                    f"  the op was called at {info['where']}")
        self.checked += 1


def _host(a):
    return a if type(a) is np.ndarray else a.get()
