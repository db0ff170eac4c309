"""Switches that change how ops are recorded: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The switches are per thread (as in PyTorch), so a server that trains in one thread and
evaluates under ``no_grad`` in another does not mix them up.
"""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "state"]


class _State(threading.local):
    """Per-thread switches read by every op.

    ``grad``: record ops for backward.  ``debug``: anomaly detection or gradient
    checking is on (one flag, so an op pays a single attribute read when both are off).
    """
    grad = True
    anomaly = False
    check = None      # the active check_gradients() session, or None
    debug = False


state = _State()


def is_grad_enabled() -> bool:
    return state.grad


class _GradSwitch:
    """Context manager and decorator that sets grad recording to ``self.mode``."""

    mode = True

    def __enter__(self):
        self._prev = state.grad
        state.grad = self.mode
        return self

    def __exit__(self, *exc):
        state.grad = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradSwitch):
    """Do not record ops: results have ``requires_grad=False``.  Use for evaluation and
    for hand-written parameter updates.  Works as ``with no_grad():`` and ``@no_grad()``."""
    mode = False


class enable_grad(_GradSwitch):
    """Record ops again inside a ``no_grad`` block."""
    mode = True


class set_grad_enabled(_GradSwitch):
    """``with set_grad_enabled(flag):`` records ops iff ``flag``."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
