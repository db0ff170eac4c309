"""The training loop: ``fit``, ``evaluate`` and ``predict``.

    history = fit(model, train_loader, epochs=10, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=optim.Adam(model.parameters(), lr=1e-3),
                  val_loader=val_loader, metrics=("accuracy",))

Each epoch of ``fit`` is the loop you would write by hand::

    model.train()
    for inputs, targets in train_loader:
        outputs = model(inputs)               # forward
        loss = loss_fn(outputs, targets)
        optimizer.zero_grad()
        loss.backward()                       # gradients of the loss
        optimizer.step()                      # update the weights
    model.eval()
    with neurona.no_grad():                   # validation: no graph, no dropout
        ... evaluate on val_loader ...

plus the bookkeeping: metrics, learning-rate schedules, callbacks, checkpoints, a progress
bar, and checks that stop at the first NaN with an explanation.
"""
from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from ..autograd import no_grad
from ..tensor import Tensor
from . import metrics as _metrics
from .callbacks import Callback, ModelCheckpoint
from .checkpoint import loader_generator, restore_checkpoint
from .history import History
from .readings import BatchReadings, all_finite, to_host

__all__ = ["fit", "evaluate", "predict", "FitState", "NonFiniteError"]


class NonFiniteError(FloatingPointError):
    """Training met a NaN or infinity (in the data or the loss) and stopped."""


class FitState:
    """What a training run is made of; callbacks receive it as ``state``."""

    def __init__(self, model, optimizer, loss_fn, train_loader, val_loader, scheduler,
                 epochs, callbacks):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.scheduler = scheduler
        self.epochs = epochs              # the epoch to stop after
        self.epoch = 0                    # the current (or last finished) epoch, from 1
        self.history = History()
        self.callbacks = list(callbacks)
        self.stop_training = False        # set it to end training after this epoch


# =========================================================================== fit

def fit(model, train_loader, *, epochs: int, loss_fn, optimizer, val_loader=None,
        scheduler=None, metrics="auto", callbacks=(), progress=True, seed=None,
        device=None, clip_grad_norm=None, resume_from=None, log_every: int = 50) -> History:
    """Train ``model`` for ``epochs`` epochs; return the :class:`History`.

    Args:
        model: a ``neurona.nn.Module``; called as ``model(*inputs)``.
        train_loader: yields batches ``(inputs..., targets)``, e.g. a ``DataLoader``.
        epochs: the total number of epochs (a resumed run continues up to it).
        loss_fn: ``loss_fn(outputs, targets)`` -> a 0-d tensor, e.g. ``nn.CrossEntropyLoss()``.
        optimizer: e.g. ``optim.SGD(model.parameters(), lr=0.1)``.
        val_loader: evaluated after each epoch; its numbers are logged as ``val_*``.
        scheduler: a learning-rate scheduler.  It steps once per epoch, or after each batch
            when it has ``step_per_batch = True`` or is a ``OneCycleLR``/``CyclicLR``;
            ``ReduceLROnPlateau`` steps with ``val_loss`` (``loss`` without validation).
        metrics: names (``'accuracy'``, ``'precision'``, ``'recall'``, ``'f1'`` (binary or
            macro), ``'f1_weighted'``, ``'mse'``, ``'mae'``, ``'r2'`` ...) or functions
            ``fn(targets, outputs) -> float``, computed over the whole epoch.  ``'auto'``:
            accuracy when the loss is a classification loss, nothing otherwise.
        callbacks: :class:`~neurona.train.callbacks.Callback` objects.
        progress: a tqdm progress bar per epoch (``None``: only when writing to a terminal).
        seed: seed ``neurona.manual_seed`` and the loader's generator first (repeatable runs).
        device: move the model and each batch there (``'cpu'``, ``'cuda'``).
        clip_grad_norm: clip the gradients' total norm to this before each step.
        resume_from: a checkpoint written by ``ModelCheckpoint``: restore the model,
            optimizer, scheduler, history, callbacks and random streams, then continue.
        log_every: read the batches' losses back from the device every this many batches
            (the progress bar's loss and the NaN checks; see ``train.readings``), and at
            the end of each epoch.  A callback with ``on_batch_end`` gets every batch.
    """
    if seed is not None:
        seed_everything(seed, train_loader)
    if device is not None:
        model.to(device)
    state = FitState(model, optimizer, loss_fn, train_loader, val_loader, scheduler, epochs,
                     callbacks)
    if resume_from is not None:
        restore_checkpoint(state, resume_from)
    metric_fns = resolve_metrics(metrics, loss_fn)
    BatchReadings(log_every)                # check the argument before training starts
    state.log_every = log_every
    _call(state, "on_train_begin")
    while state.epoch < epochs and not state.stop_training:
        state.epoch += 1
        _run_epoch(state, metric_fns, progress, device, clip_grad_norm)
    _call(state, "on_train_end")
    return state.history


def _run_epoch(state, metric_fns, progress, device, clip_grad_norm) -> None:
    """One epoch: train, validate, step the scheduler, record, call the callbacks."""
    _call(state, "on_epoch_begin")
    logs = {"epoch": state.epoch, "lr": _current_lr(state.optimizer)}
    bar = _progress_bar(state, progress)
    try:
        logs.update(_train_epoch(state, metric_fns, bar, device, clip_grad_norm))
        if state.val_loader is not None:
            val = evaluate(state.model, state.val_loader, state.loss_fn, metric_fns, device)
            logs.update({"val_" + name: value for name, value in val.items()})
        if bar is not None:
            bar.set_postfix(_short(logs), refresh=True)
    finally:
        if bar is not None:
            bar.close()
    _step_scheduler_per_epoch(state.scheduler, logs)
    state.history.append(logs)
    _call(state, "on_epoch_end", logs)


def _train_epoch(state, metric_fns, bar, device, clip_grad_norm) -> dict:
    """Train on every batch of the loader once; return ``{'loss': ..., metrics...}``."""
    model, optimizer = state.model, state.optimizer
    model.train()
    per_batch_scheduler = _steps_per_batch(state.scheduler)
    # losses and NaN flags stay on the device; read every log_every batches (or every
    # batch when a callback wants batches), so no step waits for the GPU (train.readings)
    wants_batches = any(type(cb).on_batch_end is not Callback.on_batch_end
                        for cb in state.callbacks)
    readings = BatchReadings(1 if wants_batches else getattr(state, "log_every", 50))
    collected = _Collector(enabled=bool(metric_fns))
    for i, batch in enumerate(state.train_loader):
        inputs, targets = _split_batch(batch, device)
        checks = {"inputs": all_finite(inputs), "targets": all_finite((targets,))}
        outputs = model(*inputs)
        loss = state.loss_fn(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        if clip_grad_norm is not None:
            _clip(model, clip_grad_norm)
        lr = _current_lr(optimizer)
        optimizer.step()
        if per_batch_scheduler:
            state.scheduler.step()
        readings.add(i, _batch_size(targets), lr, loss, checks)
        collected.add(outputs, targets)
        if bar is not None:
            bar.update(1)
        if readings.due():
            _read_batches(state, readings, bar)
    _read_batches(state, readings, bar)
    if readings.count == 0:
        raise ValueError("the train_loader gave no batches: is the dataset empty, or "
                         "drop_last=True with fewer samples than batch_size?")
    return {"loss": readings.mean_loss, **collected.compute(metric_fns)}


def _read_batches(state, readings, bar) -> None:
    """Read the pending batches back (one host copy): NaN checks in batch order, the
    progress bar's running loss, ``on_batch_end`` for each batch."""
    for b in readings.read():
        if b["failed"]:
            _raise_nonfinite_inputs(state.epoch, b["batch"], b["failed"])
        _check_finite_loss(b["loss"], state, b["batch"])
        _call(state, "on_batch_end", {k: b[k] for k in ("batch", "loss", "size", "lr")})
    if bar is not None and readings.count:
        bar.set_postfix(loss=f"{readings.mean_loss:.4g}", refresh=False)


# =========================================================================== evaluate / predict

def evaluate(model, loader, loss_fn=None, metrics="auto", device=None) -> dict:
    """The mean loss and the metrics of ``model`` over ``loader``: ``{'loss': ..., ...}``.

    Runs in eval mode (no dropout, batch-norm running statistics) under ``no_grad``;
    the model's previous train/eval mode is restored afterwards.
    """
    metric_fns = metrics if isinstance(metrics, dict) else resolve_metrics(metrics, loss_fn)
    was_training = model.training
    model.eval()
    losses, sizes = [], []           # kept on the device, read once at the end
    collected = _Collector(enabled=bool(metric_fns))
    try:
        with no_grad():
            for batch in loader:
                inputs, targets = _split_batch(batch, device)
                outputs = model(*inputs)
                sizes.append(_batch_size(targets))
                if loss_fn is not None:
                    losses.append(loss_fn(outputs, targets).detach().reshape(()).double())
                collected.add(outputs, targets)
    finally:
        model.train(was_training)
    results = {}
    if loss_fn is not None:
        from ..ops import stack
        values = to_host(stack(losses)) if losses else np.zeros(0)
        total_loss = float(sum(float(v) * n for v, n in zip(values, sizes)))
        results["loss"] = total_loss / max(sum(sizes), 1)
    results.update(collected.compute(metric_fns))
    return results


def predict(model, data, device=None, batch_size: int | None = None) -> Tensor:
    """The model's outputs for ``data`` (a tensor, or a loader of batches) as one tensor.

    For a loader, a batch ``(inputs..., targets)`` is fed without its targets.  For a
    tensor, ``batch_size`` splits it into chunks (all at once by default).  Runs in eval
    mode under ``no_grad``, like :func:`evaluate`.
    """
    if isinstance(data, Tensor):
        size = batch_size or max(len(data), 1)
        batches = [(data[i:i + size],) for i in range(0, len(data), size)]
    else:
        batches = data
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for batch in batches:
                inputs = _model_inputs(batch, device)
                outputs.append(model(*inputs).detach())
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict got no data")
    from ..ops import cat
    return cat(outputs) if len(outputs) > 1 else outputs[0]


# =========================================================================== metrics

_CLASSIFICATION_LOSSES = ("CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
                          "cross_entropy", "nll_loss", "binary_cross_entropy",
                          "binary_cross_entropy_with_logits")


def _loss_name(loss_fn) -> str:
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)


def resolve_metrics(metrics, loss_fn=None) -> dict:
    """``{name: fn(targets, outputs)}`` for ``fit``'s ``metrics`` argument."""
    if metrics == "auto":
        metrics = ("accuracy",) if _loss_name(loss_fn) in _CLASSIFICATION_LOSSES else ()
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    # a binary model trained on logits predicts class 1 when the logit is above 0
    threshold = 0.0 if "logits" in _loss_name(loss_fn).lower() else 0.5
    resolved = {}
    for metric in metrics:
        if callable(metric):
            resolved[getattr(metric, "__name__", type(metric).__name__)] = metric
        else:
            resolved[metric] = _named_metric(metric, threshold)
    return resolved


def _named_metric(name: str, threshold: float):
    m = _metrics
    regression = {"mse": m.mse, "mae": m.mae, "r2": m.r2_score, "r2_score": m.r2_score}
    if name in regression:
        return regression[name]
    if name in ("accuracy", "acc"):
        return lambda t, p: m.accuracy(t, p, threshold=threshold)
    kind, _, average = name.partition("_")
    scores = {"precision": 0, "recall": 1, "f1": 2}
    if kind in scores and average in ("", "binary", "macro", "micro", "weighted"):
        which = scores[kind]

        def score(t, p):
            avg = average or _default_average(p)
            return m.precision_recall_f1(t, p, avg, threshold=threshold)[which]
        return score
    raise ValueError(f"unknown metric {name!r}: use 'accuracy', 'precision', 'recall', 'f1' "
                     "(optionally with _macro, _micro, _weighted or _binary), 'mse', 'mae', "
                     "'r2', or a function fn(targets, outputs) -> float")


def _default_average(outputs) -> str:
    """'binary' for one output (or two classes), 'macro' for more classes."""
    shape = np.shape(outputs)
    return "binary" if len(shape) < 2 or shape[1] <= 2 else "macro"


class _Collector:
    """Gathers a pass's outputs and targets to compute metrics at the end: kept on their
    device during the pass, copied to the host (NumPy) once, in ``compute``."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.outputs, self.targets = [], []

    def add(self, outputs, targets) -> None:
        if self.enabled:
            self.outputs.append(outputs.detach())
            self.targets.append(targets.detach())

    def compute(self, metric_fns: dict) -> dict:
        if not self.enabled or not self.outputs:
            return {}
        from ..ops import cat
        outputs = to_host(cat(self.outputs) if len(self.outputs) > 1 else self.outputs[0])
        targets = to_host(cat(self.targets) if len(self.targets) > 1 else self.targets[0])
        return {name: float(fn(Tensor(targets), Tensor(outputs)))
                for name, fn in metric_fns.items()}


# =========================================================================== helpers

def _call(state, hook: str, *args) -> None:
    """Call ``hook`` on every callback, ModelCheckpoints last (see callbacks' docstring)."""
    ordered = sorted(state.callbacks, key=lambda cb: isinstance(cb, ModelCheckpoint))
    for cb in ordered:
        getattr(cb, hook)(state, *args)


def seed_everything(seed: int, loader=None) -> None:
    """Seed neurona's default generator and ``loader``'s own generator, if it has one."""
    _random.manual_seed(seed)
    generator = loader_generator(loader) if loader is not None else None
    if generator is not None:
        generator.manual_seed(seed)


def _split_batch(batch, device):
    """``(inputs tuple, targets)`` from a batch ``(x, y)`` or ``(x1, x2, ..., y)``."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(f"fit and evaluate need batches of (inputs, targets), but the loader "
                        f"gave a {type(batch).__name__}" +
                        (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    batch = [_to(t, device) for t in batch]
    return tuple(batch[:-1]), batch[-1]


def _model_inputs(batch, device) -> tuple:
    """The inputs of a batch for ``predict``: drop the targets of ``(inputs..., targets)``."""
    if isinstance(batch, Tensor):
        return (_to(batch, device),)
    if isinstance(batch, (tuple, list)):
        batch = batch[:-1] if len(batch) >= 2 else batch
        return tuple(_to(t, device) for t in batch)
    raise TypeError(f"predict needs tensors or batches of (inputs, targets), not "
                    f"{type(batch).__name__}")


def _to(t, device):
    return t.to(device) if device is not None and isinstance(t, Tensor) else t


def _batch_size(targets) -> int:
    shape = getattr(targets, "shape", ())
    return int(shape[0]) if len(shape) else 1


def _current_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _progress_bar(state, progress):
    """A tqdm bar for this epoch's batches, or None when ``progress`` is False."""
    if progress is False:
        return None
    from tqdm.auto import tqdm
    try:
        total = len(state.train_loader)
    except TypeError:
        total = None
    return tqdm(total=total, desc=f"Epoch {state.epoch}/{state.epochs}", unit="batch",
                disable=None if progress is None else False, dynamic_ncols=True)


def _short(logs: dict) -> dict:
    """The epoch's numbers, formatted for the progress bar."""
    return {k: f"{v:.4g}" for k, v in logs.items()
            if k not in ("epoch", "lr") and isinstance(v, (int, float))}


# -- learning-rate schedulers ------------------------------------------------------------

_PER_BATCH_SCHEDULERS = ("OneCycleLR", "CyclicLR")


def _class_names(obj) -> set:
    return {cls.__name__ for cls in type(obj).__mro__}


def _steps_per_batch(scheduler) -> bool:
    if scheduler is None:
        return False
    flag = getattr(scheduler, "step_per_batch", None)
    if flag is not None:
        return bool(flag)
    return bool(_class_names(scheduler) & set(_PER_BATCH_SCHEDULERS))


def _step_scheduler_per_epoch(scheduler, logs: dict) -> None:
    if scheduler is None or _steps_per_batch(scheduler):
        return
    if "ReduceLROnPlateau" in _class_names(scheduler):
        scheduler.step(logs["val_loss"] if "val_loss" in logs else logs["loss"])
    else:
        scheduler.step()


def _clip(model, max_norm: float) -> None:
    from ..nn.utils import clip_grad_norm_
    clip_grad_norm_(model.parameters(), max_norm)


# -- NaN checks ----------------------------------------------------------------------------

def _raise_nonfinite_inputs(epoch: int, batch: int, what: str = "inputs") -> None:
    raise NonFiniteError(
        f"epoch {epoch}, batch {batch}: the {what} contain NaN or infinite values. "
        "The data itself is broken (missing values read as NaN, a division by zero "
        "in preprocessing...): clean it before training, e.g. find the rows with "
        "neurona.isnan(x).any(dim=1).")


def _check_finite_loss(loss_value: float, state, batch: int) -> None:
    if math.isfinite(loss_value):
        return
    lr = _current_lr(state.optimizer)
    raise NonFiniteError(
        f"epoch {state.epoch}, batch {batch}: the loss is {loss_value}. The inputs of this "
        f"batch are finite, so the model itself produced it. Likely causes: the learning "
        f"rate is too high (lr={lr:g}) and the weights diverged -- try a 10x smaller one or "
        "fit(..., clip_grad_norm=1.0); or a log/division of zero inside the model or loss "
        "(use nn.CrossEntropyLoss / BCEWithLogitsLoss on raw logits instead of log(softmax)).")
