"""``neurona.cuda``: ask about the NVIDIA GPUs, as ``torch.cuda`` does.

neurona runs on a GPU through CuPy (``pip install neurona[cuda]``).  This module only
*asks* the backend; it never imports CuPy itself, and every function works (and says
"no GPU") on a machine without CuPy or without a GPU::

    import neurona as nr
    dev = "cuda" if nr.cuda.is_available() else "cpu"
    model = Net().to(dev)
    x = nr.randn(64, 784, device=dev)

GPU work is *asynchronous*: an op returns as soon as its kernel is queued.  To time a
GPU step, call ``nr.cuda.synchronize()`` before reading the clock.
"""
from __future__ import annotations

from . import backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize",
           "manual_seed", "manual_seed_all", "get_device_name"]


def is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA GPU."""
    return backend.cuda_is_available()


def device_count() -> int:
    """How many CUDA GPUs CuPy sees (0 without CuPy or without a GPU)."""
    return backend.cuda_device_count()


def _cupy(what: str):
    """CuPy, or a clear error naming ``what`` was asked for and how to get a GPU."""
    return backend._require_cuda(backend.Device("cuda", 0), what=what)


def current_device() -> int:
    """The index N of the GPU that ``device='cuda'`` means now (``'cuda:N'``)."""
    return _cupy("neurona.cuda.current_device()").cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make ``device`` (an index, ``'cuda:N'`` or a Device) the current GPU."""
    dev = backend.device(device)
    _cupy(f"neurona.cuda.set_device({device!r})").cuda.runtime.setDevice(dev.index or 0)


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    cp = _cupy("neurona.cuda.get_device_name()")
    idx = cp.cuda.runtime.getDevice() if device is None else (backend.device(device).index or 0)
    name = cp.cuda.runtime.getDeviceProperties(idx)["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize(device=None) -> None:
    """Wait until every queued GPU kernel has finished (no-op without a GPU, like the CPU,
    where every op has already finished when it returns)."""
    cp = backend._load_cupy()
    if cp is None:
        return
    if device is None:
        cp.cuda.Device().synchronize()
    else:
        cp.cuda.Device(backend.device(device).index or 0).synchronize()


def manual_seed(seed: int) -> None:
    """Seed the random numbers drawn *on the GPU* (no-op without a GPU, as in PyTorch).

    ``neurona.manual_seed(seed)`` already calls this; the CPU generator is separate."""
    cp = backend._load_cupy()
    if cp is not None:
        cp.random.seed(int(seed) & 0xFFFF_FFFF)


def manual_seed_all(seed: int) -> None:
    """Seed the random numbers of every GPU (no-op without a GPU)."""
    cp = backend._load_cupy()
    if cp is None:
        return
    here = cp.cuda.runtime.getDevice()
    for i in range(cp.cuda.runtime.getDeviceCount()):
        with cp.cuda.Device(i):
            cp.random.seed(int(seed) & 0xFFFF_FFFF)
    cp.cuda.runtime.setDevice(here)
