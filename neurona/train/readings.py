"""Per-batch numbers that stay on the device until someone reads them.

On a GPU, reading a number back (``loss.item()``, ``float(t)``, ``.numpy()``) makes the
CPU wait until every queued kernel has run and then copies the number over the bus: one
such read per batch keeps the GPU idle while Python prepares the next step.  So ``fit``
keeps each batch's loss and its "inputs are finite" flag as 0-d tensors *on the model's
device* and reads them all at once (one device-to-host copy) only

* every ``log_every`` batches (the progress bar's loss, the NaN checks),
* at the end of the epoch (the epoch's mean loss), and
* after every batch when a callback asks for batches (it overrides ``on_batch_end``).

The NaN checks still name the *first* bad batch: the flags are read in batch order.  A
NaN is found up to ``log_every`` batches later than a per-batch check would find it.
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor


class BatchReadings:
    """The epoch's pending per-batch readings and the running loss sum (host numbers).

    ``add(batch, size, lr, loss, checks)`` stores one batch (``loss`` a 0-d tensor,
    ``checks`` a dict ``{'inputs': ok, 'targets': ok}`` of 0-d bool tensors, or None for
    nothing to check); ``read()`` copies every pending number to the host in one transfer
    and returns the batches as dicts, in order, with ``failed``: the first check that
    failed, or None.
    """

    def __init__(self, log_every: int):
        if int(log_every) < 1:
            raise ValueError(f"fit: log_every must be a positive number of batches, got "
                             f"{log_every!r}")
        self.log_every = int(log_every)
        self.pending = []          # (batch, size, lr, loss tensor, {check: ok tensor})
        self.total_loss = 0.0      # sum over read batches of loss * size
        self.count = 0             # samples in the read batches

    def add(self, batch: int, size: int, lr: float, loss: Tensor, checks: dict) -> None:
        checks = {k: v for k, v in checks.items() if v is not None}
        self.pending.append((batch, size, lr, loss.detach(), checks))

    def due(self) -> bool:
        """True when ``log_every`` batches wait to be read."""
        return len(self.pending) >= self.log_every

    def read(self) -> list:
        """Read the pending batches (one host copy); return ``[{'batch', 'size', 'lr',
        'loss', 'failed'}, ...]`` and add them to the running loss sum."""
        if not self.pending:
            return []
        from ..ops import stack
        values = [p[3].reshape(()).double() for p in self.pending]
        values += [ok.reshape(()).double() for p in self.pending for ok in p[4].values()]
        host = to_host(stack(values))            # the one device-to-host copy
        n = len(self.pending)
        flags = iter(host[n:])
        out = []
        for (batch, size, lr, _, checks), loss in zip(self.pending, host[:n]):
            oks = {name: bool(next(flags)) for name in checks}
            failed = next((name for name, ok in oks.items() if not ok), None)
            out.append({"batch": batch, "size": size, "lr": lr, "loss": float(loss),
                        "failed": failed})
        self.pending = []
        for b in out:
            if math.isfinite(b["loss"]):
                self.total_loss += b["loss"] * b["size"]
            self.count += b["size"]
        return out

    @property
    def mean_loss(self) -> float:
        return self.total_loss / self.count if self.count else float("nan")


def to_host(t: Tensor) -> np.ndarray:
    """The numbers of ``t`` as a NumPy array: the place where ``fit`` copies device numbers
    to the host (tests count the calls)."""
    return np.asarray(t.detach().cpu().numpy())


def all_finite(tensors):
    """A 0-d bool tensor on the tensors' device: every float tensor is free of NaN and
    infinity (None when there is no float tensor to check).  Nothing is read back."""
    from ..ops import isfinite
    ok = None
    for t in tensors:
        if isinstance(t, Tensor) and t.is_floating_point():
            f = isfinite(t).all()
            ok = f if ok is None else ok.logical_and(f)
    return ok


def read_scalars(tensors) -> np.ndarray:
    """Many 0-d tensors (losses, counts) as one float64 NumPy array: one device-to-host
    copy for all of them instead of one ``.item()`` each."""
    from ..ops import stack
    if not tensors:
        return np.zeros(0)
    return to_host(stack([t.detach().reshape(()).double() for t in tensors]))
