"""``Function``: one differentiable op, and the graph node it leaves behind.

Every op of neurona is a subclass of ``Function`` with two methods on *arrays*::

    class Exp(Function):
        '''y = e^x;  dL/dx = dL/dy * y'''
        save_output = True            # backward reads y: in-place changes to y are errors

        def forward(self, x):         # arrays in, array out
            self.y = np.exp(x)        # whatever backward needs is kept on self ...
            return self.y

        def backward(self, grad):     # dL/dy in, dL/dx out (one per input)
            return grad * self.y      # ... and freed after backward

``Exp.apply(t)`` runs ``forward`` on the tensor's array and, when gradients are being
recorded and an input requires them, returns a tensor whose ``grad_fn`` is this node.
The node links to the nodes that made its inputs (``next``), not to the input tensors,
so intermediate results are freed as soon as nothing but the graph holds them.

Users may also write PyTorch-style custom ops, with static methods on *tensors* and an
explicit ``ctx``::

    class MyCube(neurona.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3
        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * grad

Class attributes an op may set:

* ``save_inputs``: indices of the inputs whose *values* backward reads; modifying one of
  them in place before backward is an error (version counters, as in PyTorch).  It may
  also be a function of ``needs_input_grad`` returning the indices, e.g. ``crosswise``
  for products, where a is read only for b's gradient and b only for a's.
* ``save_output``: backward reads the output's values (same check on the output).
* ``is_view``: the output shares memory with input 0 (reshape, transpose, basic
  indexing): it shares input 0's version counter, so an in-place change to either is seen.
* ``differentiable``: False for ops with no gradient (comparisons, argmax).
* ``deterministic``: False for ops that draw random numbers (dropout); the gradient
  checker skips them.
"""
from __future__ import annotations

import numpy as np

from .grad_mode import no_grad, state

__all__ = ["Node", "Function", "array_types", "crosswise"]

array_types: tuple = (np.ndarray,)   # cupy.ndarray is appended when CuPy loads


class Node:
    """What the engine needs of a recorded op; op-specific saved state lives in ``__dict__``."""

    __slots__ = ("next", "needs_input_grad", "__dict__", "__weakref__")

    # Defaults read from the class until a node sets its own (saves work on the hot path).
    n_outputs = 1           # how many tensors forward returned
    out_meta = None         # (shape, dtype) of each output, for multi-output ops
    saved_versions = None   # [(version counter, version when saved)] of saved tensors
    out_hooks = None        # {output index: {id: hook}} from Tensor.register_hook
    freed = False           # True once release() dropped the saved arrays
    debug_info = None       # set by anomaly mode / check_gradients
    name = None

    def op_name(self) -> str:
        return self.name or type(self).__name__

    def release(self) -> None:
        """Free the arrays saved for backward (called after backward unless retain_graph)."""
        d = self.__dict__
        if d:
            dead = [k for k, v in d.items() if (k == "_saved" and v) or _holds_array(v)]
            if dead:
                for k in dead:
                    del d[k]
                self.freed = True

    def __repr__(self):
        return f"<{self.op_name()}Backward>"


def _holds_array(v) -> bool:
    if isinstance(v, array_types):
        return True
    if isinstance(v, (tuple, list)):
        return any(isinstance(x, array_types) for x in v)
    return False


class Function(Node):
    """Base class of every op (see the module docstring)."""

    save_inputs: tuple = ()
    save_output: bool = False
    is_view: bool = False
    differentiable: bool = True
    deterministic: bool = True
    _tensor_api: bool = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # PyTorch-style user ops declare forward/backward as static methods on tensors.
        cls._tensor_api = isinstance(cls.__dict__.get("forward"), staticmethod) or (
            cls._tensor_api and "forward" not in cls.__dict__)

    # -- the two methods an op writes ------------------------------------------------
    def forward(self, *arrays, **kwargs):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    # -- running an op ---------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the op on tensors and record it for backward when needed."""
        if cls._tensor_api:
            return _apply_tensor_api(cls, inputs, kwargs)
        node = _new(cls)
        # unrolled for one and two inputs: this is the hot path of every op
        n = len(inputs)
        if n == 1:
            x = inputs[0]
            out = node.forward(x._data, **kwargs)
            record = x.requires_grad
        elif n == 2:
            x, y = inputs
            if type(x._data) is not type(y._data):     # e.g. numpy meets cupy
                _check_same_device(cls, inputs)
            out = node.forward(x._data, y._data, **kwargs)
            record = x.requires_grad or y.requires_grad
        else:
            if len({type(t._data) for t in inputs}) > 1:
                _check_same_device(cls, inputs)
            out = node.forward(*[t._data for t in inputs], **kwargs)
            record = any([t.requires_grad for t in inputs])
        if record and cls.differentiable:
            st = state
            if st.grad:
                return _record(node, cls, inputs, out, st, kwargs)
        if type(out) is tuple:
            return tuple([_make(o) for o in out])
        res = _make(out)
        if cls.is_view:
            res._version = inputs[0]._version
        return res


_new = object.__new__


def _check_same_device(cls, inputs) -> None:
    """Raise a clear error when an op's input tensors live on different devices.

    Called only when the inputs' arrays are of different types (a cheap test on the hot
    path), so a NumPy array never meets a CuPy array inside an op's ``forward``."""
    from ..backend import device_of
    devs = [device_of(t._data) for t in inputs]
    if len(set(devs)) > 1:
        where = ", ".join(f"input {i} on {d}" for i, d in enumerate(devs))
        raise RuntimeError(
            f"{cls.__name__}: expected all tensors to be on the same device, but found "
            f"{where}. Move them to one device first, e.g. x.to('cuda') or x.cpu() "
            "(and model.to(device) for a model's parameters).")


def crosswise(needs):
    """``save_inputs`` of a product z = a*b or a@b: a is read only to get dL/db, b only
    to get dL/da."""
    return [i for i, other in ((0, 1), (1, 0)) if needs[other]]


def _link(t):
    """Where the gradient of input ``t`` goes: (node that made it, output index), or
    (t, 0) for a leaf that requires grad (its .grad accumulates), or None."""
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._out_idx)
    return (t, 0) if t.requires_grad else None


def _record(node, cls, inputs, out, st, kwargs):
    """Link ``node`` into the graph and wrap its output(s) as tensors that require grad."""
    n = len(inputs)
    if n == 1:
        x = inputs[0]
        node.next = (_link(x),)
        node.needs_input_grad = (True,)
    elif n == 2:
        x, y = inputs
        node.next = (_link(x), _link(y))
        node.needs_input_grad = (x.requires_grad, y.requires_grad)
    else:
        node.next = tuple([_link(t) for t in inputs])
        node.needs_input_grad = tuple([t.requires_grad for t in inputs])
    if type(out) is tuple:
        node.n_outputs = len(out)
        node.out_meta = tuple([(o.shape, o.dtype) for o in out])
        res = tuple([_make_out(o, node, i) for i, o in enumerate(out)])
    else:
        res = _make_out(out, node, 0)
        if cls.is_view:
            res._version = inputs[0]._version
            res._base = inputs[0]
    si = cls.save_inputs
    if si:
        if callable(si):
            si = si(node.needs_input_grad)
        sv = [(inputs[i]._version, inputs[i]._version[0]) for i in si]
        if cls.save_output:
            sv.append((res._version, res._version[0]))
        node.saved_versions = sv
    elif cls.save_output:
        node.saved_versions = [(res._version, res._version[0])]
    if st.debug:
        from .debug import after_forward
        after_forward(node, inputs, out, kwargs)
    return res


# The Tensor class is defined later in the import order (tensor imports autograd);
# it installs its fast constructors here.
_make = None        # array -> Tensor (no grad)
_make_out = None    # (array, node, index) -> Tensor produced by node


def _apply_tensor_api(cls, inputs, kwargs):
    """Run a PyTorch-style Function: static forward(ctx, *args) on tensors."""
    from ..tensor import Tensor
    node = cls()
    node._saved = ()
    tensors = [a for a in inputs if isinstance(a, Tensor)]
    node.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs)
    detached = [a.detach() if isinstance(a, Tensor) else a for a in inputs]
    with no_grad():
        out = cls.forward(node, *detached, **kwargs)
    multi = isinstance(out, tuple)
    outs = out if multi else (out,)
    arrays = tuple(o._data if isinstance(o, Tensor) else np.asarray(o) for o in outs)
    st = state
    if not (st.grad and any(t.requires_grad for t in tensors)):
        res = tuple(_make(a) for a in arrays)
        return res if multi else res[0]
    node._tensor_positions = [i for i, a in enumerate(inputs) if isinstance(a, Tensor)]
    node._n_args = len(inputs)
    fake_inputs = tensors  # engine links only to tensor inputs
    node_needs = tuple(t.requires_grad for t in tensors)
    node.next = tuple((t.grad_fn, t._out_idx) if t.grad_fn is not None
                      else ((t, 0) if t.requires_grad else None) for t in fake_inputs)
    node._needs_all = node.needs_input_grad
    node.n_outputs = len(arrays)
    node.out_meta = tuple((a.shape, a.dtype) for a in arrays)
    node.saved_versions = [(t._version, t._version[0]) for t in node._saved
                           if isinstance(t, Tensor)] or None
    res = tuple(_make_out(a, node, i) for i, a in enumerate(arrays))
    node.needs_input_grad = node_needs
    return res if multi else res[0]


def _tensor_api_backward(node, grads):
    """Call a PyTorch-style static backward(ctx, *grads) and map its results to tensor inputs."""
    from ..tensor import Tensor
    needs = node.needs_input_grad
    node.needs_input_grad = node._needs_all   # what the user's backward expects to see
    try:
        with no_grad():
            res = type(node).backward(node, *[None if g is None else Tensor._wrap(g)
                                               for g in grads])
    finally:
        node.needs_input_grad = needs
    if not isinstance(res, tuple):
        res = (res,)
    if len(res) != node._n_args:
        raise RuntimeError(
            f"{type(node).__name__}.backward returned {len(res)} gradient(s) but forward "
            f"took {node._n_args} argument(s): return one per forward argument (None for "
            "non-tensor arguments or inputs that need no gradient)")
    return tuple(None if res[i] is None else
                 (res[i]._data if isinstance(res[i], Tensor) else np.asarray(res[i]))
                 for i in node._tensor_positions)


def _ctx_save_for_backward(self, *tensors):
    self._saved = tensors


def _ctx_saved_tensors(self):
    if self.freed:
        raise RuntimeError(
            "Trying to access saved tensors after they were freed by backward; "
            "pass retain_graph=True to backward() to keep them")
    return self._saved


Function.save_for_backward = _ctx_save_for_backward
Function.saved_tensors = property(_ctx_saved_tensors)
