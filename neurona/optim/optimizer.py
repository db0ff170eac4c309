"""``Optimizer``: the base class of every optimizer -- parameter groups, state, checkpoints.

Training minimises a loss J(θ) over the parameters θ.  After ``loss.backward()`` every
parameter ``p`` holds its gradient ∇J(θ) in ``p.grad``; an optimizer's ``step()`` moves
each parameter against it (gradient descent, θ ← θ − η ∇J(θ), or a refinement of it:
momentum, Adam ...).  The usual loop::

    opt = neurona.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in loader:
        opt.zero_grad()                 # forget the previous batch's gradients
        loss = loss_fn(model(x), y)
        loss.backward()                 # fill p.grad
        opt.step()                      # update every p

What the base class keeps (PyTorch's names and layout):

* ``param_groups``: a list of dicts.  Each has ``'params'`` (the tensors) and the
  options (``lr``, ``momentum`` ...) for those tensors, so one model can train its
  parts with different settings::

      SGD([{'params': model.body.parameters()},
           {'params': model.head.parameters(), 'lr': 1e-2}], lr=1e-3, momentum=0.9)

  Options a group leaves out come from the optimizer's ``defaults``.  Schedulers
  change ``group['lr']`` between steps.
* ``state``: per-parameter memory (a dict per tensor: momentum buffers, Adam's moment
  estimates, the step count).  Its values are neurona tensors or Python numbers, so a
  checkpoint can store them as safetensors.
* ``state_dict()`` / ``load_state_dict()``: everything above, with the tensors of
  ``params`` replaced by their position (0, 1, 2 ... counted across the groups in
  order), so it can be saved and loaded into a fresh optimizer built over the same
  parameters in the same order.

How an update is written: the optimizers work on the arrays (``p._data``,
``p.grad._data``) directly, in place, outside autograd (an update is not part of the
model), with as few temporary arrays as possible -- the update is part of every training
step.  After changing a parameter they bump its version counter, so a graph recorded
before the update and still holding the old values raises at ``backward()`` instead of
computing wrong gradients.
"""
from __future__ import annotations

import copy
import functools
import warnings
from collections import defaultdict
from itertools import chain

from .. import backend
from ..autograd.grad_mode import enable_grad
from ..backend import xp_of
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks an option without a default: every param group must give it."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs (as
            ``model.named_parameters()`` gives), or of dicts (parameter groups: a
            ``'params'`` entry plus per-group options).
        defaults: the options (``lr`` ...) used where a group does not give them.

    A subclass sets its defaults and implements ``_update_group(group)``, the update of
    one parameter group (or overrides ``step`` itself).
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor; pass a list: [tensor]")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        if not any(p.requires_grad for g in self.param_groups for p in g["params"]):
            warnings.warn(
                f"{type(self).__name__}: none of the parameters requires grad, so backward() "
                "gives them no .grad and step() will not change them; create them with "
                "requires_grad=True (or call .requires_grad_())", UserWarning, stacklevel=3)

    # -- subclasses that write their own step() still tell schedulers it ran ------------
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_marks_called", False):
            @functools.wraps(step)
            def marked_step(self, *args, **kw):
                self._opt_called = True
                return step(self, *args, **kw)
            marked_step._marks_called = True
            cls.step = marked_step

    # -- parameter groups ---------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with ``'params'`` and optional options), e.g.
        to start training layers that were frozen.  Missing options take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        param_group = dict(param_group)
        if "params" not in param_group:
            raise ValueError("a parameter group is a dict with a 'params' entry (the tensors)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)

        names, tensors = [], []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                p = p[1]
            tensors.append(p)
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        param_group["params"] = tensors

        for i, p in enumerate(tensors):
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__module__}.{type(p).__name__} (entry {i} of group "
                                f"{len(self.param_groups)})")
            if not (p.is_leaf or p._retains_grad):
                raise ValueError(
                    "can't optimize a non-leaf Tensor: entry "
                    f"{i} of group {len(self.param_groups)} was computed by "
                    f"{type(p.grad_fn).__name__} from other tensors. Optimize the leaf tensors "
                    "it was made from, or make it a leaf: t = t.detach().requires_grad_()")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        ids = [id(p) for p in tensors]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters: "
                             "each tensor would be updated more than once per step; pass each "
                             "parameter once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(i in seen for i in ids):
            raise ValueError("some parameters appear in more than one parameter group")
        if any(("param_names" in g) != ("param_names" in param_group)
               for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names.")
        self.param_groups.append(param_group)

    # -- gradients ----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next ``backward()`` (which accumulates).

        ``set_to_none=True`` (the default, as in PyTorch) sets ``p.grad = None``: cheaper,
        and a parameter that gets no gradient next time is skipped by ``step()`` rather
        than updated with zeros (which momentum or weight decay would still move).
        ``set_to_none=False`` fills the existing gradient tensors with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad = False
                    g._data.fill(0)
                    g._version[0] += 1

    # -- the update -----------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient (parameters whose ``.grad`` is None
        are skipped).

        ``closure``: optional function that clears the gradients, recomputes the loss,
        calls ``backward()`` and returns the loss; it runs (with gradients enabled) before
        the update, and ``step`` returns its loss.  Some methods need it (L-BFGS evaluates
        the loss several times per step); the ones here accept it for compatibility."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        if backend.device_moves != getattr(self, "_moves_seen", 0):
            self._state_follows_params()          # some array changed device since
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _state_follows_params(self) -> None:
        """Move every state tensor to its parameter's device (after ``model.to('cuda')``
        on a model whose optimizer has already stepped, as the state was made on the
        parameter's old device).  Runs only when some array changed device."""
        for p, st in self.state.items():
            dev = backend.device_of(p._data)
            for key, v in st.items():
                if isinstance(v, Tensor) and backend.device_of(v._data) != dev:
                    st[key] = Tensor._wrap(backend.to_device(v._data, dev))
        self._moves_seen = backend.device_moves

    step._marks_called = True

    def _update_group(self, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update_group(group) "
                                  "(the update of one parameter group) or override step()")

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state as PyTorch lays it out::

            {'state': {0: {'step': 3, 'exp_avg': tensor, ...}, 1: {...}},
             'param_groups': [{'lr': 0.001, ..., 'params': [0, 1]}, ...]}

        Parameters are named by their position across the groups.  The tensors in
        ``'state'`` are the optimizer's own (not copies): save them before stepping on."""
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(k)] if isinstance(k, Tensor) else k: v
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by ``state_dict()`` into this optimizer, built over the same
        parameters in the same order.  State tensors are copied, on the parameter's device
        and (for floats) in its dtype; options of the groups (``lr`` ...) are restored too."""
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError("load_state_dict expects a dict with 'state' and 'param_groups' "
                             "(as Optimizer.state_dict() returns)")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups: the optimizer "
                f"has {len(groups)}, the state dict {len(saved_groups)}")
        sizes = [len(g["params"]) for g in groups]
        saved_sizes = [len(g["params"]) for g in saved_groups]
        if sizes != saved_sizes:
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                f"optimizer's group: the optimizer's groups hold {sizes} parameters, the state "
                f"dict's {saved_sizes}")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k   # JSON keys are str
            if key in id_map:
                p = id_map[key]
                state[p] = {name: _cast_state(p, name, value) for name, value in v.items()}
            else:
                state[k] = copy.deepcopy(v)
        for g, saved in zip(groups, saved_groups):
            saved["params"] = g["params"]
            if "param_names" in g and "param_names" not in saved:
                saved["param_names"] = g["param_names"]
            for name, default in self.defaults.items():
                if default is not required:
                    saved.setdefault(name, default)
        self.state = state
        self.param_groups = saved_groups

    # -- printing ---------------------------------------------------------------------------
    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)


def _cast_state(p: Tensor, name: str, value):
    """A copy of one saved state value, ready for parameter ``p``: tensors (neurona, NumPy,
    or anything with DLPack, e.g. torch) land on p's device, floats in p's dtype; ``step``
    becomes a Python int."""
    if name == "step":
        if isinstance(value, Tensor):
            value = value.item()
        elif hasattr(value, "item") and not isinstance(value, (int, float)):
            value = value.item()
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple, dict)):
        return copy.deepcopy(value)
    arr = value._data if isinstance(value, Tensor) else Tensor(value)._data
    target = p._data
    xp = xp_of(target)
    if xp_of(arr) is not xp:
        arr = Tensor(arr).to(p.device)._data
    dtype = target.dtype if (arr.dtype.kind == "f" and target.dtype.kind == "f") else arr.dtype
    return Tensor._wrap(xp.array(arr, dtype=dtype, copy=True))


def _grad_for_update(g, theta, weight_decay: float, maximize: bool, xp):
    """The gradient an update follows, with the two options every optimizer shares.

    ``maximize``: climb J instead (use −∇J).  ``weight_decay`` λ (L2 regularisation, i.e.
    the gradient of J(θ) + λ/2 ‖θ‖²): add λθ.  Returns ``(d, owned)``: ``owned`` is True
    when ``d`` is a fresh array the caller may overwrite, False when it is ``p.grad``'s own
    array (which must not be changed)."""
    if weight_decay != 0:
        d = xp.multiply(theta, weight_decay)
        if maximize:
            d -= g
        else:
            d += g
        return d, True
    if maximize:
        return xp.negative(g), True
    return g, False


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)

