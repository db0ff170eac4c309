"""Callbacks: code that ``fit`` calls at fixed points of training.

Subclass :class:`Callback` and override the hooks you need::

    class PrintLoss(Callback):
        def on_epoch_end(self, state, logs):
            print(state.epoch, logs["loss"])

Each hook gets ``state``, the running :class:`~neurona.train.loop.FitState`
(``state.model``, ``state.optimizer``, ``state.epoch`` -- 1 for the first epoch --,
``state.history`` ...).  Setting ``state.stop_training = True`` ends training after the
current epoch.  ``logs`` is a dict of numbers: the batch's ``loss`` in
``on_batch_end``, the epoch's ``loss``, ``val_loss``, metrics and ``lr`` in
``on_epoch_end``.

fit calls ModelCheckpoint after the other callbacks, so that a checkpoint holds their
state after this epoch too.
"""
from __future__ import annotations

import math
import os

from .checkpoint import save_checkpoint
from .history import resolve_mode

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LRLogger"]


class Callback:
    """Base class: every hook does nothing until you override it."""

    def on_train_begin(self, state) -> None:
        """Before the first epoch (after a checkpoint has been restored)."""

    def on_epoch_begin(self, state) -> None:
        """Before epoch ``state.epoch``."""

    def on_batch_end(self, state, logs: dict) -> None:
        """After each optimizer step; ``logs`` has the ``batch`` index (from 0), its
        ``loss``, ``size`` (samples) and the ``lr`` the step used."""

    def on_epoch_end(self, state, logs: dict) -> None:
        """After the epoch's training and validation; ``logs`` holds the epoch's numbers."""

    def on_train_end(self, state) -> None:
        """After the last epoch (also when training stopped early)."""

    def state_dict(self) -> dict:
        """What this callback must remember across a resume (saved in checkpoints)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""


class _Monitor:
    """Tracks the best value of one logged quantity (shared by EarlyStopping/ModelCheckpoint)."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0

    def value(self, logs: dict, owner: str) -> float:
        if self.monitor not in logs:
            hint = (" (pass val_loader to fit, or monitor='loss')"
                    if self.monitor.startswith("val_") else "")
            raise KeyError(f"{owner} monitors {self.monitor!r}, but fit logs only "
                           f"{sorted(logs)}{hint}")
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        """True when ``value`` beats the best so far by more than ``min_delta``."""
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int) -> None:
        self.best, self.best_epoch = value, epoch

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state.get("best", self.best))
        self.best_epoch = int(state.get("best_epoch", self.best_epoch))


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the logged quantity to watch (``'val_loss'``, ``'val_accuracy'``...).
        patience: how many epochs without improvement to allow.
        min_delta: a change smaller than this does not count as an improvement.
        mode: ``'min'`` (losses), ``'max'`` (accuracies) or ``'auto'`` (from the name).
        restore_best_weights: at the end, put back the weights of the best epoch.
        verbose: print a line when training stops.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False,
                 verbose: bool = True):
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.wait = 0               # epochs since the last improvement
        self.stopped_epoch = 0      # the epoch after which training stopped (0: it did not)
        self.best_weights = None

    @property
    def best(self) -> float:
        return self.tracker.best

    @property
    def best_epoch(self) -> int:
        return self.tracker.best_epoch

    def on_epoch_end(self, state, logs):
        value = self.tracker.value(logs, "EarlyStopping")
        if self.tracker.improved(value):
            self.tracker.update(value, state.epoch)
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = _copy_state(state.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop_training = True
            self.stopped_epoch = state.epoch
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} has not improved for {self.wait} "
                      f"epochs (best {self.best:.6g} at epoch {self.best_epoch}); stopping "
                      f"after epoch {state.epoch}.")

    def on_train_end(self, state):
        if self.restore_best_weights and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {**self.tracker.state_dict(), "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.tracker.load_state_dict(state)
        self.wait = int(state.get("wait", 0))
        self.stopped_epoch = int(state.get("stopped_epoch", 0))
        self.best_weights = state.get("best_weights")


class ModelCheckpoint(Callback):
    """Save a training checkpoint (see :mod:`neurona.train.checkpoint`) after each epoch.

    Args:
        path: the file to write; may contain fields filled from the epoch's logs, e.g.
            ``'ckpt-{epoch:03d}-{val_loss:.3f}.safetensors'``.
        monitor: the quantity that decides which epoch is best.
        mode: ``'min'``, ``'max'`` or ``'auto'``.
        save_best_only: write only when ``monitor`` improved (otherwise every epoch).
        verbose: print a line for each file written.

    ``best_path`` is the file of the best epoch; resume a run with
    ``fit(..., resume_from=path)``.
    """

    def __init__(self, path, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = False, verbose: bool = False):
        self.path = str(path)
        self.monitor = monitor
        self.tracker = _Monitor(monitor, mode)
        self.save_best_only = save_best_only
        self.verbose = verbose
        self.best_path = None
        self.last_path = None

    @property
    def best(self) -> float:
        return self.tracker.best

    def on_epoch_end(self, state, logs):
        is_best = False
        if self.save_best_only or self.monitor in logs:
            value = self.tracker.value(logs, "ModelCheckpoint")
            is_best = self.tracker.improved(value)
            if is_best:
                self.tracker.update(value, state.epoch)
        if self.save_best_only and not is_best:
            return
        path = self.path.format(**logs)       # logs include 'epoch'
        if is_best:
            self.best_path = path
        self.last_path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        save_checkpoint(state, path)
        if self.verbose:
            print(f"ModelCheckpoint: saved epoch {state.epoch} to {path}")

    def state_dict(self):
        return {**self.tracker.state_dict(), "best_path": self.best_path,
                "last_path": self.last_path}

    def load_state_dict(self, state):
        self.tracker.load_state_dict(state)
        self.best_path = state.get("best_path")
        self.last_path = state.get("last_path")


class LRLogger(Callback):
    """Record the learning rate of every step (``lrs``), e.g. to plot a schedule.

    (The learning rate of each epoch is in ``history['lr']`` without this callback.)
    """

    def __init__(self):
        self.lrs = []

    def on_batch_end(self, state, logs):
        self.lrs.append(logs["lr"])


def _copy_state(state_dict: dict) -> dict:
    """A copy of a state dict whose tensors do not change when the model trains on."""
    return {name: tensor.detach().clone() for name, tensor in state_dict.items()}
