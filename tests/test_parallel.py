"""neurona.parallel: the thread count and parallel_map (order, errors, grad mode, BLAS)."""
import threading

import numpy as np
import pytest

import neurona as nr
from neurona import parallel


@pytest.fixture
def restore_threads():
    saved = parallel._num_threads
    yield
    parallel._num_threads = saved


def test_num_threads_default_and_set(monkeypatch, restore_threads):
    parallel._num_threads = None
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert nr.get_num_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert nr.get_num_threads() >= 1
    nr.set_num_threads(1)
    assert nr.get_num_threads() == 1
    for bad in (0, -2, 1.5, "2", True, None):
        with pytest.raises(ValueError, match="set_num_threads: expected a whole number"):
            nr.set_num_threads(bad)
    assert nr.get_num_threads() == 1


def test_parallel_map_keeps_order_and_uses_threads():
    seen = set()
    lock = threading.Lock()
    barrier = threading.Barrier(2, timeout=10)

    def f(i):
        with lock:
            seen.add(threading.get_ident())
        if i < 2:
            barrier.wait()          # the first two calls must be running at the same time
        return i * i
    assert parallel.parallel_map(f, range(9), num_threads=2) == [i * i for i in range(9)]
    assert len(seen) == 2
    # one thread (or one item): the calls run here, in order
    here = threading.get_ident()
    assert parallel.parallel_map(lambda i: (i, threading.get_ident()), [5], 4) == [(5, here)]
    assert parallel.parallel_map(lambda i: threading.get_ident(), range(3), 1) == [here] * 3


def test_parallel_map_raises_the_first_error():
    def f(i):
        if i == 3:
            raise KeyError("piece 3")
        return i
    with pytest.raises(KeyError, match="piece 3"):
        parallel.parallel_map(f, range(6), num_threads=2)


def test_parallel_map_runs_under_the_callers_grad_mode():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    with nr.no_grad():
        out = parallel.parallel_map(lambda k: (x * k).requires_grad, [1, 2, 3], 2)
    assert out == [False] * 3
    out = parallel.parallel_map(lambda k: (x * k).requires_grad, [1, 2, 3], 2)
    assert out == [True] * 3


def test_parallel_map_limits_blas_while_running_and_restores_it():
    from threadpoolctl import threadpool_info
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert before, "NumPy's BLAS (OpenBLAS) should be visible to threadpoolctl"
    inside = parallel.parallel_map(
        lambda _: [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
        range(2), 2)
    assert all(n == 1 for row in inside for n in row)
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before


def test_parallel_map_inside_parallel_map_runs_the_inner_one_in_place():
    # the outer calls hold every pool thread: an inner map must not wait for them
    def outer(i):
        here = threading.get_ident()
        inner = parallel.parallel_map(lambda j: (i * 10 + j, threading.get_ident()),
                                      range(3), 2)
        assert all(t == here for _, t in inner)
        return [v for v, _ in inner]
    assert parallel.parallel_map(outer, range(4), 2) == [[i * 10 + j for j in range(3)]
                                                         for i in range(4)]
