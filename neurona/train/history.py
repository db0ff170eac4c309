"""``History``: what ``fit`` measured, one list per quantity, one entry per epoch.

    history = neurona.train.fit(...)
    history["loss"]            # [0.91, 0.52, 0.40, ...]  training loss of each epoch
    history["val_accuracy"]    # [0.71, 0.83, 0.86, ...]
    history.best()             # {'epoch': 7, 'loss': ..., 'val_loss': ..., ...}
    history.to_json("history.json")
"""
from __future__ import annotations

import json
import math

__all__ = ["History", "resolve_mode"]

# metrics where larger is better; for everything else (losses, errors) smaller is better
_HIGHER_IS_BETTER = ("acc", "f1", "precision", "recall", "r2", "auc")


def resolve_mode(monitor: str, mode: str = "auto") -> str:
    """``'min'`` or ``'max'``: ``'auto'`` picks ``'max'`` for accuracy-like names."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be 'min', 'max' or 'auto', not {mode!r}")
    name = monitor.lower()
    return "max" if any(word in name for word in _HIGHER_IS_BETTER) else "min"


class History:
    """A dict of lists: ``history[name][i]`` is the value of ``name`` after epoch ``i + 1``.

    The names are ``'epoch'``, ``'lr'``, ``'loss'``, each metric (``'accuracy'``...), and
    with a validation loader ``'val_loss'``, ``'val_accuracy'``...
    """

    def __init__(self, history: dict | None = None):
        self.history = {name: list(values) for name, values in (history or {}).items()}

    # -- filling it ---------------------------------------------------------------------
    def append(self, logs: dict) -> None:
        """Add one epoch's values (a name missing from earlier epochs is padded with None)."""
        epochs_before = len(self)
        for name, value in logs.items():
            self.history.setdefault(name, [None] * epochs_before).append(value)
        for values in self.history.values():          # a name missing from this epoch
            if len(values) == epochs_before:
                values.append(None)

    # -- reading it like a dict ---------------------------------------------------------
    def __getitem__(self, name: str) -> list:
        if name not in self.history:
            raise KeyError(f"the history has no {name!r}; it has {list(self.history)}")
        return self.history[name]

    def __contains__(self, name) -> bool:
        return name in self.history

    def __iter__(self):
        return iter(self.history)

    def __len__(self) -> int:
        """The number of epochs recorded."""
        return max((len(v) for v in self.history.values()), default=0)

    def keys(self):
        return self.history.keys()

    def values(self):
        return self.history.values()

    def items(self):
        return self.history.items()

    def get(self, name: str, default=None):
        return self.history.get(name, default)

    def __eq__(self, other) -> bool:
        other = other.history if isinstance(other, History) else other
        return self.history == other

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={list(self.history)})"

    # -- questions ----------------------------------------------------------------------
    def epoch_logs(self, i: int) -> dict:
        """Everything recorded for the ``i``-th epoch (0-based, negative counts from the end)."""
        return {name: values[i] for name, values in self.history.items()}

    def best(self, monitor: str | None = None, mode: str = "auto") -> dict:
        """The logs of the best epoch by ``monitor`` (default: ``'val_loss'`` if recorded,
        else ``'loss'``); ``mode`` is ``'min'``, ``'max'`` or ``'auto'``."""
        if monitor is None:
            monitor = "val_loss" if "val_loss" in self.history else "loss"
        values = self[monitor]
        sign = 1.0 if resolve_mode(monitor, mode) == "min" else -1.0
        scored = [(sign * v, i) for i, v in enumerate(values)
                  if v is not None and not math.isnan(v)]
        if not scored:
            raise ValueError(f"no epoch has a value for {monitor!r} yet")
        return self.epoch_logs(min(scored)[1])

    # -- saving -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {name: list(values) for name, values in self.history.items()}

    def state_dict(self) -> dict:
        return self.to_dict()

    def load_state_dict(self, state: dict) -> None:
        self.history = {name: list(values) for name, values in state.items()}

    def to_json(self, path=None, indent: int = 2) -> str:
        """The history as JSON text; also written to ``path`` when one is given."""
        text = json.dumps(self.history, indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    @classmethod
    def from_json(cls, text_or_path) -> "History":
        """A History from JSON text or from the path of a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text_or_path, encoding="utf-8") as f:
                text = f.read()
        return cls(json.loads(text))
