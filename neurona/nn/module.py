"""``Module``: the base class of every layer and model.

A module is an object with a ``forward`` method and some state:

* **parameters** (:class:`~neurona.nn.Parameter`): the numbers training changes;
* **buffers**: tensors that are part of the model's state but not trained (the running
  mean of a batch norm); saved in ``state_dict`` unless registered ``persistent=False``;
* **submodules**: modules assigned as attributes (``self.fc1 = nn.Linear(4, 8)``).

Assigning an attribute registers it, so a model only says *what it is made of*::

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)          # a submodule: its parameters are ours too
            self.scale = nn.Parameter(neurona.ones(1))

        def forward(self, x):
            return self.fc1(x).relu() * self.scale

    model = MLP()
    list(model.named_parameters())   # [('fc1.weight', ...), ('fc1.bias', ...), ('scale', ...)]
    model(x)                          # runs forward (and any hooks)

The one trap of this design is a *plain Python list or dict* of layers or parameters:
Python cannot see inside it, so those parameters would silently never be trained.
neurona refuses such an assignment and names the container to use instead
(``nn.ModuleList``, ``nn.ModuleDict``, ``nn.ParameterList``, ``nn.ParameterDict``).

Names, signatures and behaviour follow ``torch.nn.Module``; a state dict travels both
ways between the two libraries.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend, dtypes
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, as_array
from .parameter import Parameter

__all__ = ["Module", "RemovableHandle"]


# --------------------------------------------------------------------------- helpers

class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the model wanted but did not get, and the
    keys it got but has no place for (both empty after a complete load)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_*_hook``: ``handle.remove()`` takes the hook off again (also
    usable as a context manager: the hook is removed at the end of the ``with``)."""

    _next_id = itertools.count()

    def __init__(self, *tables):
        self.id = next(RemovableHandle._next_id)
        self.tables = tables

    def remove(self) -> None:
        for t in self.tables:
            t.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * n + line for line in lines)


def _find_hidden(value, found, depth=0):
    """Collect the Parameters / Modules / trainable leaf tensors inside a plain list,
    tuple, set or dict (searched a few levels deep) into ``found``."""
    if depth > 3:
        return found
    items = value.values() if isinstance(value, dict) else value
    for v in items:
        if isinstance(v, (Parameter, Module)):
            found.append(v)
        elif isinstance(v, Tensor) and v.requires_grad and v.grad_fn is None:
            found.append(v)
        elif isinstance(v, (list, tuple, dict, set, frozenset)):
            _find_hidden(v, found, depth + 1)
    return found


def _unregistered(owner, found):
    """The first of ``found`` that ``owner`` does not already hold as a registered parameter
    or submodule (a list caching registered parameters is harmless), or None."""
    mods = {id(m) for m in owner.modules()}
    params = {id(p) for p in owner.parameters()}
    for v in found:
        if isinstance(v, Module):
            if id(v) not in mods:
                return v
        elif id(v) not in params:
            return v
    return None


def _hidden_error(owner, name, value, found):
    kind = type(value).__name__
    if isinstance(found, Module):
        what = f"modules ({type(found).__name__})"
        fix = "nn.ModuleDict" if isinstance(value, dict) else "nn.ModuleList"
    else:
        what = "parameters" if isinstance(found, Parameter) else "tensors that require grad"
        fix = "nn.ParameterDict" if isinstance(value, dict) else "nn.ParameterList"
    return TypeError(
        f"{type(owner).__name__}.{name}: you assigned a plain Python {kind} that holds "
        f"{what}. A module can't see inside a plain {kind}, so those would be missing from "
        f"parameters() (the optimizer would never train them), from state_dict() and from "
        f".to(device). Use {fix}(...) instead (nn.ModuleList / nn.ModuleDict for layers, "
        f"nn.ParameterList / nn.ParameterDict for parameters). If you really mean a plain "
        f"{kind}, store it with object.__setattr__(self, {name!r}, value).")


def _to_device_dtype(args, kwargs):
    """Parse ``Module.to``'s arguments into (device or None, numpy float dtype or None)."""
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword argument(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, (str, backend.Device, int)) and not isinstance(a, bool):
            dev = a
        elif a is None:
            continue
        else:
            dt = a
    if dev is not None:
        dev = backend.device(dev)
    if dt is not None:
        d = dtypes.to_dtype(dt)
        if d.np.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                            f"desired dtype={d}")
        dt = d.np
    return dev, dt


# --------------------------------------------------------------------------- Module

class Module:
    """Base class of all layers and models (see the module docstring).

    Subclasses call ``super().__init__()`` first, assign their parameters and
    submodules as attributes, and define ``forward``.
    """

    training: bool
    _version = 1
    dump_patches = False
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments "
                            f"{args or ''}{kwargs or ''}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = {}
        d["_forward_hooks_always_called"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_state_dict_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function: '
            "define forward(self, ...) in your subclass")

    # -- calling -----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)     # the hot path: no hooks
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("a forward pre-hook registered with_kwargs=True must "
                                           "return None or a tuple (new_args, new_kwargs), got "
                                           f"{type(res).__name__}")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        try:
            out = self.forward(*args, **kwargs)
        except BaseException:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called:
                    try:
                        if hid in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:
                        pass
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, out)
            else:
                res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; if it returns something, that
        replaces the positional arguments (a tuple, or a single value).  With
        ``with_kwargs=True``: ``hook(module, args, kwargs)`` returning None or
        ``(args, kwargs)``."""
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward (to record feature maps,
        for instance); if it returns something, that replaces the output.  With
        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``.  ``always_call``:
        call it even when forward raised (with output None)."""
        handle = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs,
                                 self._forward_hooks_always_called)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        raise NotImplementedError(
            "register_full_backward_hook is not supported by neurona; register a hook on the "
            "output tensor instead (out.register_hook(fn), inside a forward hook)")

    register_backward_hook = register_full_backward_hook

    # -- attributes ----------------------------------------------------------------------
    def __getattr__(self, name):
        # only called when normal lookup failed: look in the registries
        d = self.__dict__
        if "_parameters" in d:
            p = d["_parameters"]
            if name in p:
                return p[name]
            b = d["_buffers"]
            if name in b:
                return b[name]
            m = d["_modules"]
            if name in m:
                return m[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call: "
                                     "call super().__init__() first in your __init__")
            _remove_from(name, d, d["_buffers"], d["_modules"], d["_non_persistent_buffers_set"])
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(neurona.nn.Parameter or None expected); to change its values "
                                f"use `with neurona.no_grad(): module.{name}.copy_(value)`")
            self.register_parameter(name, value)
            return
        if isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call: "
                                     "call super().__init__() first in your __init__")
            _remove_from(name, d, params, d["_buffers"], d["_non_persistent_buffers_set"])
            d["_modules"][name] = value
            return
        if params is not None:
            modules = d["_modules"]
            if name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{_typename(value)}' as child module "
                                    f"'{name}' (neurona.nn.Module or None expected)")
                modules[name] = value
                return
            buffers = d["_buffers"]
            if name in buffers:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                    "(neurona.Tensor or None expected)")
                buffers[name] = value
                return
        if isinstance(value, (list, tuple, dict, set, frozenset)) and value:
            found = _find_hidden(value, [])
            if found and params is not None:
                found = _unregistered(self, found)
                if found is not None:
                    raise _hidden_error(self, name, value, found)
        elif (isinstance(value, Tensor) and value.requires_grad and value.grad_fn is None
              and not name.startswith("_")):
            raise TypeError(
                f"{type(self).__name__}.{name}: you assigned a plain tensor that requires grad. "
                "A module only trains (and saves) tensors registered as parameters: wrap it, "
                f"self.{name} = nn.Parameter(tensor); or, for a constant, "
                f"self.register_buffer({name!r}, tensor.detach()) or assign tensor.detach().")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                del t[name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__()) + list(self._parameters) + list(self._buffers) + \
            list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- registering ---------------------------------------------------------------------
    def register_parameter(self, name: str, param) -> None:
        """Add a parameter (a :class:`Parameter`, or None for an absent one such as
        ``bias=False``) under ``name``."""
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(self, name, "parameter")
        if name in d and name not in d["_parameters"]:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(neurona.nn.Parameter or None required); wrap it: "
                            "nn.Parameter(tensor)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"cannot assign non-leaf tensor to parameter '{name}': it was made "
                             "by an op; use nn.Parameter(tensor.detach())")
        d["_parameters"][name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a buffer: a tensor of the module's state that is not trained (moved by
        ``.to()``, saved in ``state_dict`` unless ``persistent=False``)."""
        d = self.__dict__
        if "_buffers" not in d:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(self, name, "buffer")
        if name in d and name not in d["_buffers"]:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(neurona.Tensor or None required)")
        if isinstance(tensor, Parameter):
            tensor = tensor.detach()
        d["_buffers"][name] = tensor
        if persistent:
            d["_non_persistent_buffers_set"].discard(name)
        else:
            d["_non_persistent_buffers_set"].add(name)

    def add_module(self, name: str, module) -> None:
        """Add a child module under ``name`` (as ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        d = self.__dict__
        if "_modules" not in d:
            raise AttributeError("cannot assign module before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string, got {_typename(name)}")
        if name in d and name not in d["_modules"]:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f"module name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        d["_modules"][name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The submodule at dotted path ``target`` ('' is the module itself)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # -- walking the tree ----------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for this module and every submodule, depth first; a
        module reachable twice appears once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for k, v in m.__dict__[table].items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """(dotted name, parameter) pairs; a parameter shared by two layers is listed once
        (under its first name)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """The parameters of this module and its submodules -- what an optimizer trains."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout drops, batch norm uses batch statistics); ``train(False)``
        is ``eval()``.  Applies to all submodules; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: dropout off, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (to None by default, as in PyTorch)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    p.grad = Tensor._wrap(backend.xp_of(g._data).zeros_like(g._data))
                else:
                    g._data[...] = 0

    def apply(self, fn) -> "Module":
        """Call ``fn(m)`` on every submodule (children first) and on self; returns self.
        Typical use: custom initialization, ``model.apply(init_weights)``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- devices and dtypes --------------------------------------------------------------
    def _apply(self, fn, recurse: bool = True) -> "Module":
        """Replace the array of every parameter, gradient and buffer by ``fn(array)``,
        keeping the Parameter objects (so an optimizer holding them still works)."""
        mods = self.modules() if recurse else [self]
        seen = set()
        for m in mods:
            for table in ("_parameters", "_buffers"):
                for t in m.__dict__[table].values():
                    if t is None or id(t) in seen:
                        continue
                    seen.add(id(t))
                    new = fn(t._data)
                    if new is not t._data:
                        t._data = new
                        t._version[0] += 1
                    g = t.grad
                    if g is not None:
                        ng = fn(g._data)
                        if ng is not g._data:
                            g._data = ng
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Move and/or cast parameters and buffers in place: ``model.to('cuda')``,
        ``model.to(neurona.float64)``, ``model.to(device, dtype)``, ``model.to(tensor)``.
        Only floating point tensors change dtype (integer buffers such as
        ``num_batches_tracked`` stay int64).  Returns self."""
        dev, dt = _to_device_dtype(args, dict(kwargs))

        def convert(a):
            if dt is not None and a.dtype.kind == "f" and a.dtype != dt:
                a = a.astype(dt)
            if dev is not None and backend.device_of(a) != dev:
                a = backend.to_device(a, dev)
            return a
        return self._apply(convert)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        return self.to("cuda" if device is None else
                       (f"cuda:{device}" if isinstance(device, int) else device))

    def _cast_float(self, npdt):
        return self._apply(lambda a: a.astype(npdt) if a.dtype.kind == "f" and a.dtype != npdt
                           else a)

    def float(self) -> "Module":
        return self._cast_float(np.dtype(np.float32))

    def double(self) -> "Module":
        return self._cast_float(np.dtype(np.float64))

    def half(self) -> "Module":
        return self._cast_float(np.dtype(np.float16))

    def type(self, dst_type) -> "Module":
        return self._cast_float(dtypes.to_dtype(dst_type).np)

    # -- state dict ----------------------------------------------------------------------
    def _own_state(self, keep_vars=False):
        """This module's own entries (no submodules) of the state dict, unprefixed."""
        out = []
        for k, p in self._parameters.items():
            if p is not None:
                out.append((k, p if keep_vars else p.detach()))
        np_set = self._non_persistent_buffers_set
        for k, b in self._buffers.items():
            if b is not None and k not in np_set:
                out.append((k, b if keep_vars else b.detach()))
        return out

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict of every parameter and persistent buffer under its dotted name
        (``'0.weight'``, ``'bn.running_mean'``), as detached tensors sharing memory with the
        model (``keep_vars=True``: the Parameter objects themselves).  Save it with
        ``neurona.save`` / safetensors; load it with :meth:`load_state_dict`."""
        if args:   # torch's deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        for k, v in self._own_state(keep_vars):
            destination[prefix + k] = v
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            res = hook(self, destination, prefix, {})
            if res is not None:
                destination = res
        return destination

    def _fill_missing_state(self, state_dict, prefix, own_keys):
        """Hook for subclasses: entries they can do without when loading older checkpoints
        (BatchNorm: ``num_batches_tracked``).  Returns the set of keys to not report."""
        return set()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict`` into this module (in place: the
        Parameter objects, and so an optimizer's references, stay the same).

        Values may be neurona tensors, NumPy arrays or any array-like (a PyTorch CPU
        tensor: a PyTorch model's ``state_dict()`` loads into the same architecture), and
        are cast to each parameter's dtype.

        * ``strict=True``: the keys must match exactly; otherwise one error lists every
          missing, unexpected and mis-shaped key.  ``strict=False`` loads what matches
          (shapes must still agree) and reports the rest.
        * All-or-nothing: everything is checked before anything is copied, so a failed
          load leaves the model unchanged.

        Returns a named tuple ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {_typename(state_dict)}.")
        targets = {}                 # key -> the tensor to load into
        tolerated = set()
        for mprefix, m in self.named_modules(remove_duplicate=False):
            pre = mprefix + "." if mprefix else ""
            own = m._own_state(keep_vars=True)
            for k, t in own:
                targets.setdefault(pre + k, t)
            tolerated |= {pre + k for k in m._fill_missing_state(state_dict, pre,
                                                                 {k for k, _ in own})}
        given = list(state_dict.keys())
        given_set = set(given)
        missing = [k for k in targets if k not in given_set and k not in tolerated]
        unexpected = [k for k in given if k not in targets]
        mismatched, bad_values, plan = [], [], []
        for k in given:
            if k not in targets:
                continue
            t = targets[k]
            v = state_dict[k]
            try:
                arr = as_array(v, None, None, copy=False)
            except Exception as e:          # noqa: BLE001 -- reported below with the key
                bad_values.append(f'value of "{k}" can\'t be converted to an array '
                                  f"({_typename(v)}: {e})")
                continue
            dst = t._data
            if tuple(arr.shape) != tuple(dst.shape):
                mismatched.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(dst.shape)}.")
                continue
            if dst.dtype.kind in "iub" and arr.dtype.kind == "f":
                bad_values.append(f'value of "{k}" has dtype {arr.dtype}, which can\'t be '
                                  f"loaded into a tensor of dtype {dst.dtype}")
                continue
            plan.append((t, arr))
        errors = []
        if strict:
            if missing:
                errors.append("Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ". ")
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ". ")
        errors += mismatched + bad_values
        if errors:
            hint = ""
            if strict and (missing or unexpected):
                hint = ("\n\tIf the model differs from the checkpoint on purpose (fine-tuning "
                        "a new head, say), pass strict=False to load the keys that match and "
                        "get the others back as (missing_keys, unexpected_keys).")
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" +
                               "\n\t".join(errors) + hint +
                               "\n\tNothing was loaded: the model's weights are unchanged.")
        # every check passed: now copy (in place, keeping the tensors' identities)
        with no_grad():
            for t, arr in plan:
                dst = t._data
                xp = backend.xp_of(dst)
                if backend.device_of(arr) != backend.device_of(dst):
                    arr = backend.to_device(arr, backend.device_of(dst))
                if assign:
                    t._data = arr.astype(dst.dtype, copy=True)
                else:
                    xp.copyto(dst, arr, casting="unsafe")
                t._version[0] += 1
        result = _IncompatibleKeys(missing, unexpected)
        for hook in self._load_state_dict_post_hooks.values():
            hook(self, result)
        return result

    def register_state_dict_post_hook(self, hook) -> RemovableHandle:
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_post_hook(self, hook) -> RemovableHandle:
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    # -- printing ------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` in the repr (a layer's settings); override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"

    # -- copying -------------------------------------------------------------------------
    def share_memory(self) -> "Module":
        return self


def _typename(v) -> str:
    t = type(v)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _check_name(module, name, what):
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string, got {_typename(name)}")
    if "." in name:
        raise KeyError(f"{what} name can't contain \".\", got: {name}")
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')


def _remove_from(name, *tables):
    for t in tables:
        if name in t:
            if isinstance(t, set):
                t.discard(name)
            else:
                del t[name]
