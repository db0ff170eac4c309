"""CPU threads: how many neurona uses, and running independent pieces of work on them.

NumPy runs one operation at a time, and only BLAS (the matrix products) uses several
cores; everything else (GELU, softmax, LayerNorm, the additions) runs on one.  When the
work splits into independent pieces -- the sentences of a batch being embedded, say --
:func:`parallel_map` runs the pieces at the same time in a pool of threads (NumPy releases
Python's GIL inside its loops), each with a one-thread BLAS, so that every core is busy
with every kind of operation (*inter-op* parallelism, as opposed to BLAS's *intra-op*
parallelism).  Measured on the 2-core course machine with MiniLM sentence embeddings:
about 10-15% faster than one piece at a time with a two-thread BLAS
(``python -m bench --only MiniLM``).

    import neurona as nr
    nr.get_num_threads()        # the CPUs this process may use, or $OMP_NUM_THREADS
    nr.set_num_threads(1)       # everything one piece at a time (BLAS keeps its own count)
"""
from __future__ import annotations

import os
import threading

from .autograd.grad_mode import is_grad_enabled, set_grad_enabled

__all__ = ["get_num_threads", "set_num_threads", "parallel_map"]

_num_threads: int | None = None
_pool = None
_pool_size = 0
_pool_lock = threading.Lock()
_inside = threading.local()        # .worker: this thread runs a parallel_map call


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):          # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many threads :func:`parallel_map` uses: :func:`set_num_threads`'s value, else
    ``$OMP_NUM_THREADS`` when set, else the number of CPUs this process may run on."""
    return _num_threads if _num_threads is not None else _default_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` >= 1 threads from now on (1: no parallel pieces)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a whole number >= 1, got {n!r}")
    _num_threads = n


def _executor(n: int):
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != n:
            from concurrent.futures import ThreadPoolExecutor
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(n, thread_name_prefix="neurona")
            _pool_size = n
        return _pool


def _one_thread_blas():
    """A context in which BLAS uses one thread (threadpoolctl; the loaded libraries are
    looked up each time, ~1 ms: one imported after a first call is limited too)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                        # threadpoolctl is a dependency; be lenient
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def parallel_map(fn, items, num_threads: int | None = None) -> list:
    """``[fn(item) for item in items]``, the calls spread over ``num_threads`` threads
    (default :func:`get_num_threads`), results in the order of ``items``.

    While they run, BLAS is limited to one thread per call (it would otherwise start its
    own threads inside each piece: more threads than cores).  The calls run under the
    caller's grad mode (``no_grad`` is per thread).  ``fn`` must not touch shared state
    that is not thread-safe (a ``tokenizers`` tokenizer is not: tokenize first).  The
    first exception raised by a call is raised here.  With one thread, or one item, the
    calls simply run here, one after the other, and BLAS is left alone; so do the calls of
    a ``parallel_map`` made from inside another one's ``fn`` (the pool's threads are busy:
    waiting for them there would never end)."""
    items = list(items)
    size = get_num_threads() if num_threads is None else int(num_threads)
    if size <= 1 or len(items) <= 1 or getattr(_inside, "worker", False):
        return [fn(item) for item in items]
    grad = is_grad_enabled()

    def call(item):
        _inside.worker = True
        try:
            with set_grad_enabled(grad):
                return fn(item)
        finally:
            _inside.worker = False
    with _one_thread_blas():
        pool = _executor(size)
        futures = [pool.submit(call, item) for item in items]
        return [f.result() for f in futures]
