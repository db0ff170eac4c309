"""``summary(model, input_size)``: a table of a network's layers, like Keras' ``model.summary()``.

    >>> from neurona.models import LeNet5, summary
    >>> text = summary(LeNet5(), (1, 28, 28))           # prints the table, returns it
    Model: LeNet5  (input (N, 1, 28, 28))
    ------------------------------------------------------------------------------
    Layer (type)                       Output Shape                 Param #
    ==============================================================================
    features.c1 (Conv2d)               (N, 6, 28, 28)                   156
    features.act1 (ReLU)               (N, 6, 28, 28)                     0
    ...

How it works: a forward hook (``Module.register_forward_hook``) is put on every *leaf*
module (one without sub-modules), one forward pass runs on a batch of zeros (in eval mode,
under ``no_grad``, so nothing is learned and batch-norm statistics stay as they are), and
each hook writes down the shape of what its layer returned.  The hooks are removed
afterwards, whatever happens.

The parameter count of a layer is the sum of ``p.numel()`` over its own parameters:
a ``Conv2d(C_in, C_out, k)`` has ``C_out * C_in * k * k`` weights and ``C_out`` biases,
a ``Linear(n_in, n_out)`` has ``n_out * n_in + n_out``.  The totals count each parameter
once (shared weights are not counted twice); "trainable" are those with
``requires_grad=True``.  Buffers (batch-norm running statistics) are not parameters and
are reported on a line of their own.
"""
from __future__ import annotations

import numpy as np

__all__ = ["summary", "LayerInfo", "layer_table", "count_parameters", "count_macs"]


class LayerInfo:
    """One row of the table: a call of a leaf module during the forward pass."""

    __slots__ = ("name", "type", "output_shape", "params", "trainable", "macs")

    def __init__(self, name, type_, output_shape, params, trainable, macs=0):
        self.name, self.type, self.output_shape = name, type_, output_shape
        self.params, self.trainable, self.macs = params, trainable, macs

    def __repr__(self):
        return (f"LayerInfo({self.name!r}, {self.type}, output {self.output_shape}, "
                f"{self.params} params)")


def count_parameters(model, trainable_only: bool = False) -> int:
    """The number of scalar parameters of ``model`` (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable_only)


def _macs(module, output) -> int:
    """Multiply-adds of one call of a Conv or Linear layer, per example of the batch:
    every output number of a convolution is a dot product of length C_in/groups * kh * kw,
    every output of a Linear one of length in_features."""
    kind = type(module).__name__
    shape = getattr(output, "shape", None)
    if shape is None or not len(shape):
        return 0
    per_example = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    if kind.startswith("Conv") and hasattr(module, "weight"):
        return per_example * int(np.prod(module.weight.shape[1:]))
    if kind in ("Linear", "Bilinear") and hasattr(module, "in_features"):
        return per_example * int(module.in_features)
    return 0


def _shape_of(out):
    """The shape(s) of a layer's output: a tuple, or a list of them for several outputs."""
    if hasattr(out, "shape"):
        return tuple(int(s) for s in out.shape)
    if isinstance(out, (tuple, list)):
        return [_shape_of(o) for o in out]
    if isinstance(out, dict):
        return [_shape_of(o) for o in out.values()]
    return None


def _leaves(model):
    """(qualified name, module) of every module without children; the model itself if it
    has none."""
    leaves = [(name, m) for name, m in model.named_modules()
              if name and not len(m._modules)]
    return leaves or [("", model)]


def _own_params(module) -> tuple[int, int]:
    """(all, trainable) scalar counts of ``module``'s own parameters (not its children's)."""
    total = trainable = 0
    for p in module._parameters.values():
        if p is not None:
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def layer_table(model, input_size=None, batch_size: int = 1, dtype=None, device=None,
                input_data=None) -> list[LayerInfo]:
    """Run one forward pass with hooks and return a :class:`LayerInfo` per leaf-module call.

    ``input_size``: the shape of one example, without the batch dimension -- ``(1, 28, 28)``
    for an MNIST image, ``(3, 224, 224)`` for ImageNet -- or a list of such shapes for a
    model with several inputs.  Or pass ``input_data`` (tensors) instead.
    """
    from .. import creation
    from ..autograd import no_grad
    if input_data is None:
        if input_size is None:
            raise ValueError("summary: give input_size (the shape of one example, such as "
                             "(1, 28, 28)) or input_data")
        sizes = input_size if (len(input_size) and isinstance(input_size[0], (tuple, list))) \
            else [input_size]
        if dtype is None:
            first = next(iter(model.parameters()), None)
            dtype = first.dtype if first is not None else None
        inputs = [creation.zeros(batch_size, *[int(s) for s in size], dtype=dtype,
                                 device=device) for size in sizes]
    else:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]

    rows: list[LayerInfo] = []
    seen: set[int] = set()          # a module called twice: its parameters count once

    def hook_for(name):
        def hook(module, args, output):
            total, trainable = _own_params(module)
            if id(module) in seen:
                total = trainable = 0
            seen.add(id(module))
            rows.append(LayerInfo(name or type(module).__name__, type(module).__name__,
                                  _shape_of(output), total, trainable, _macs(module, output)))
        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in _leaves(model)]
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    # parameters held by non-leaf modules themselves (e.g. a class token) get a row too
    for name, m in model.named_modules():
        if len(m._modules) and m._parameters:
            total, trainable = _own_params(m)
            if total:
                rows.append(LayerInfo((name or type(m).__name__) + " (own parameters)",
                                      type(m).__name__, None, total, trainable))
    return rows


def count_macs(model, input_size, **kwargs) -> int:
    """Multiply-adds of one forward pass of ``model`` per example (``input_size`` as for
    :func:`summary`), counting the convolutions and linear layers (the rest --
    activations, pooling, normalisation -- is small beside them).  FLOPs are about twice this; a training step (forward and
    backward) about three times the forward's."""
    return sum(r.macs for r in layer_table(model, input_size, **kwargs))


def _format_shape(shape) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    if not shape:
        return "()"
    return "(" + ", ".join(["N", *[str(s) for s in shape[1:]]]) + ")"


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def summary(model, input_size=None, batch_size: int = 1, dtype=None, device=None,
            input_data=None, print_fn=print, width: int = 78) -> str:
    """Print and return a table of ``model``'s layers: name (type), output shape and number
    of parameters, then the totals (total / trainable / non-trainable parameters) and the
    memory the parameters and one example's activations take in float32.

    Args:
        model: an ``nn.Module``.
        input_size: the shape of one input example without the batch dimension, e.g.
            ``(1, 28, 28)`` (or a list of shapes for several inputs).
        batch_size: how many zero examples the forward pass runs on (1 is enough).
        dtype, device: of the zero input (default: those of the model's parameters).
        input_data: real input tensor(s) to use instead of zeros.
        print_fn: where the table goes (``print``); ``None`` to only return it.

    Output shapes show the batch dimension as ``N``.
    """
    rows = layer_table(model, input_size, batch_size, dtype, device, input_data)
    total = count_parameters(model)
    trainable = count_parameters(model, trainable_only=True)
    buffers = sum(b.numel() for _, b in model.named_buffers()
                  if getattr(b, "is_floating_point", lambda: True)())
    name_w = max([len(f"{r.name} ({r.type})") for r in rows] + [24]) + 2
    shape_w = max([len(_format_shape(r.output_shape)) for r in rows] + [16]) + 2
    width = max(width, name_w + shape_w + 12)
    if input_data is not None:
        shown = _format_shape(_shape_of(input_data if not isinstance(input_data, (list, tuple))
                                        else list(input_data)))
    else:
        sizes = input_size if isinstance(input_size[0], (tuple, list)) else [input_size]
        shown = ", ".join(_format_shape((batch_size, *s)) for s in sizes)
    lines = [f"Model: {type(model).__name__}  (input {shown})", "-" * width,
             f"{'Layer (type)':{name_w}s}{'Output Shape':{shape_w}s}{'Param #':>12s}",
             "=" * width]
    for r in rows:
        lines.append(f"{r.name + ' (' + r.type + ')':{name_w}s}"
                     f"{_format_shape(r.output_shape):{shape_w}s}{r.params:>12,d}")
    lines.append("=" * width)
    lines.append(f"Total params: {total:,}")
    lines.append(f"Trainable params: {trainable:,}")
    lines.append(f"Non-trainable params: {total - trainable:,}")
    if buffers:
        lines.append(f"Buffers (not parameters: running statistics): {buffers:,}")
    # memory, in float32 MB: parameters, and the outputs of every layer for one example
    act = 0
    for r in rows:
        shapes = r.output_shape if isinstance(r.output_shape, list) else [r.output_shape]
        for s in shapes:
            if s:
                act += int(np.prod(s[1:])) if len(s) > 1 else 1
    lines.append("-" * width)
    macs = sum(r.macs for r in rows)
    if macs:
        lines.append(f"Multiply-adds per example, forward (conv and linear layers): "
                     f"{_human(macs)}")
    lines.append(f"Parameters size (MB): {total * 4 / 2**20:.2f}")
    lines.append(f"Forward pass size per example (MB): {act * 4 / 2**20:.2f}  "
                 f"(layer outputs; backward keeps about as much again)")
    lines.append("-" * width)
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
