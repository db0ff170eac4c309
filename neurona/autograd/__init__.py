"""Automatic differentiation: record ops on tensors, then run the chain rule backwards.

Public names follow ``torch.autograd``: :func:`backward`, :func:`grad`, :class:`Function`,
:class:`no_grad`, :class:`enable_grad`, :func:`set_detect_anomaly`, :class:`detect_anomaly`,
:func:`gradcheck`, and neurona's own :class:`check_gradients`.
"""
from __future__ import annotations

from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .function import Function
from .engine import run_backward
from .debug import set_detect_anomaly, is_anomaly_enabled, detect_anomaly, check_gradients, \
    GradientCheckError
from .gradcheck import gradcheck, numerical_jacobian

__all__ = ["backward", "grad", "Function", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "set_detect_anomaly", "is_anomaly_enabled", "detect_anomaly",
           "check_gradients", "GradientCheckError", "gradcheck", "numerical_jacobian"]


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(outputs, grad_outputs, caller):
    """The starting gradients dL/d(output): given ones, or 1 for single-element outputs."""
    from ..tensor import Tensor, as_array
    grads = []
    given = _as_list(grad_outputs) or [None] * len(outputs)
    if len(given) != len(outputs):
        raise RuntimeError(f"{caller}: got {len(outputs)} tensors but {len(given)} gradients")
    for i, (t, g) in enumerate(zip(outputs, given)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{caller}: element {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(
                f"{caller}: element {i} of tensors does not require grad and does not have a "
                "grad_fn, so there is nothing to differentiate. Create the inputs with "
                "requires_grad=True (or call .requires_grad_()) before computing with them, "
                "and make sure the computation is not inside no_grad().")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for scalar outputs, but "
                    f"element {i} has shape {tuple(t.shape)}. Reduce it to a scalar first "
                    "(e.g. loss.mean()) or pass the gradient dL/d(output) explicitly: "
                    "out.backward(gradient=...).")
            xp = __import__("neurona.backend", fromlist=["xp_of"]).xp_of(t._data)
            g = xp.ones(t._data.shape, dtype=t._data.dtype)
        else:
            g = as_array(g, None, t.device, copy=False)
            if g.shape != t._data.shape:
                raise RuntimeError(
                    f"{caller}: the gradient for element {i} has shape {tuple(g.shape)} but "
                    f"the tensor has shape {tuple(t.shape)}; they must match")
            if g.dtype != t._data.dtype:
                g = g.astype(t._data.dtype)
        grads.append(g)
    return grads


def _no_create_graph(create_graph):
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (gradients of gradients) is not supported: neurona's backward "
            "formulas run on plain arrays, which keeps first-order training fast. Use "
            "neurona.autograd.gradcheck for checking gradients instead.")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into ``leaf.grad`` for the leaves of the graph
    (or only for ``inputs`` when given)."""
    _no_create_graph(create_graph)
    outputs = _as_list(tensors)
    roots = _root_grads(outputs, grad_tensors, "backward")
    if inputs is None:
        run_backward(outputs, roots, retain_graph=bool(retain_graph))
        return
    from ..tensor import Tensor
    targets = _as_list(inputs)
    capture = {id(t): (t, None) for t in targets}
    run_backward(outputs, roots, retain_graph=bool(retain_graph), capture=capture)
    for t, g in capture.values():
        if g is not None:
            t.grad = Tensor._wrap(g.copy()) if t.grad is None else \
                Tensor._wrap(t.grad._data + g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) as a tuple of tensors, without touching any ``.grad``."""
    from ..tensor import Tensor
    _no_create_graph(create_graph)
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so no gradient "
                               "can be computed for it")
    roots = _root_grads(outs, grad_outputs, "grad")
    capture = {id(t): (t, None) for t in ins}
    run_backward(outs, roots, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for i, t in enumerate(ins):
        g = capture[id(t)][1]
        if g is None:
            if materialize_grads:
                from ..backend import xp_of
                g = xp_of(t._data).zeros_like(t._data)
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(t.shape)}) was not used to compute the "
                    "outputs. Pass allow_unused=True to get None for it.")
        result.append(None if g is None else Tensor._wrap(g))
    return tuple(result)
