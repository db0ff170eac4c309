"""What every recipe writes next to its checkpoint: ``metrics.json``, one layout for all.

    {"metrics": {...}, "hyperparameters": {...}, "history": {...}}

Strict JSON (NaN and infinities become the strings ``"nan"``, ``"inf"``, ``"-inf"``;
NumPy numbers become Python numbers), written atomically
(``neurona.serialization.atomic_write``), so a crash never leaves half a file.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..serialization import atomic_write

__all__ = ["json_safe", "write_metrics", "save_run", "log"]


def json_safe(value):
    """``value`` with non-finite floats as strings and NumPy scalars/arrays as Python
    numbers/lists, ready for strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_metrics(out, metrics: dict, hyperparameters: dict | None = None,
                  history: dict | None = None) -> str:
    """Write ``out/metrics.json`` (see the module docstring); return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.json"
    report = {"metrics": metrics, "hyperparameters": hyperparameters or {},
              "history": history or {}}
    text = json.dumps(json_safe(report), indent=1, allow_nan=False)
    atomic_write(path, text.encode("utf-8"))
    return str(path)


def save_run(out, model, metrics: dict, hyperparameters: dict | None = None,
             history: dict | None = None, **extra) -> str:
    """What a finished run leaves in ``out``: ``model.safetensors`` (the model with
    ``extra`` -- its tokenizer, vocabularies, dataset name -- through
    :func:`neurona.models.save_checkpoint`) and ``metrics.json``. Returns the checkpoint's
    path."""
    from ..models import save_checkpoint
    Path(out).mkdir(parents=True, exist_ok=True)
    checkpoint = save_checkpoint(model, Path(out) / "model.safetensors", **extra)
    write_metrics(out, metrics, hyperparameters, history)
    return checkpoint


def log(quiet: bool, *args) -> None:
    """``print`` (flushed) unless ``quiet``."""
    if not quiet:
        print(*args, flush=True)
