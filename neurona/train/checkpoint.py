"""Checkpoints: everything needed to continue a training run exactly where it stopped.

A checkpoint is a nested dict written with :func:`neurona.save` (a safetensors file)::

    {"model": model.state_dict(),          # the weights
     "optimizer": optimizer.state_dict(),  # momentum / Adam moments, learning rates
     "scheduler": scheduler.state_dict(),  # where the learning-rate schedule is (or None)
     "epoch": 3,                           # how many epochs are done
     "rng": neurona.get_rng_state(),       # the random stream (dropout, shuffling)
     "loader_rng": ...,                    # the train loader's own generator (or None)
     "history": {...},                     # the History so far
     "callbacks": [...]}                   # each callback's state (EarlyStopping's patience...)

Restoring all of it -- the random streams included -- makes a resumed run produce the
same numbers as one that was never interrupted.
"""
from __future__ import annotations

from .. import random as _random
from ..serialization import load, save

__all__ = ["make_checkpoint", "save_checkpoint", "restore_checkpoint"]


def make_checkpoint(state) -> dict:
    """The checkpoint dict of a running ``fit`` (``state`` is its :class:`FitState`)."""
    generator = loader_generator(state.train_loader)
    return {
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
        "epoch": state.epoch,
        "rng": _random.get_rng_state(),
        "loader_rng": None if generator is None else generator.get_state(),
        "history": state.history.to_dict(),
        "callbacks": [{"name": type(cb).__name__, "state": cb.state_dict()}
                      for cb in state.callbacks],
    }


def save_checkpoint(state, path) -> None:
    """Write the checkpoint of ``state`` to ``path`` (atomically: see neurona.save)."""
    save(make_checkpoint(state), path)


def restore_checkpoint(state, path) -> None:
    """Load ``path`` into the model, optimizer, scheduler, history, callbacks and RNGs.

    A checkpoint that does not fit (other weights' shapes, another optimizer's parameter
    groups, a scheduler missing) raises with the model's weights unchanged: the model's
    load is all-or-nothing, and if the optimizer's then fails the weights are put back."""
    ckpt = load(path)
    missing = [k for k in ("model", "optimizer", "epoch") if k not in ckpt]
    if missing:
        raise ValueError(f"{path!r} is not a training checkpoint (it lacks {missing}); "
                         "to load only weights use model.load_state_dict(neurona.load(path))")
    if state.scheduler is not None and ckpt.get("scheduler") is None:
        _restore_scheduler(state.scheduler, None, path)         # raises: check it first
    before = {k: v.clone() for k, v in state.model.state_dict().items()}
    state.model.load_state_dict(ckpt["model"])
    try:
        state.optimizer.load_state_dict(ckpt["optimizer"])
        _restore_scheduler(state.scheduler, ckpt.get("scheduler"), path)
    except Exception:
        state.model.load_state_dict(before)                     # undo: weights unchanged
        raise
    state.epoch = int(ckpt["epoch"])
    state.history.load_state_dict(ckpt.get("history") or {})
    _restore_callbacks(state.callbacks, ckpt.get("callbacks") or [])
    _random.set_rng_state(ckpt["rng"])
    generator = loader_generator(state.train_loader)
    if generator is not None and ckpt.get("loader_rng") is not None:
        generator.set_state(ckpt["loader_rng"])


def _restore_scheduler(scheduler, saved, path) -> None:
    if scheduler is None:
        return
    if saved is None:
        raise ValueError(f"fit was given a scheduler, but the checkpoint {path!r} was saved "
                         "without one: resume with the same setup as the original run")
    scheduler.load_state_dict(saved)


def _restore_callbacks(callbacks, saved) -> None:
    """Give each callback its saved state, matching by position and class name."""
    for cb, entry in zip(callbacks, saved):
        if entry.get("name") == type(cb).__name__:
            cb.load_state_dict(entry.get("state") or {})


def loader_generator(loader):
    """The ``neurona.Generator`` a DataLoader shuffles with, or None."""
    generator = getattr(loader, "generator", None)
    if generator is None:
        generator = getattr(getattr(loader, "sampler", None), "generator", None)
    return generator if hasattr(generator, "get_state") else None
