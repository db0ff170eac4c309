"""The device API: ``neurona.cuda``, ``device=`` on creation functions, ``.to()``/``.cuda()``,
clear errors when CUDA is missing or when a CPU tensor meets a CUDA tensor.

The tests marked ``needs_cuda`` run only where CuPy sees a GPU (skipped with a visible
reason elsewhere); the others check the CPU-side behaviour and run everywhere.
"""
from __future__ import annotations

import types

import numpy as np
import pytest

import neurona as nr
from neurona import backend
from helpers import CUDA_SKIP_REASON

HAVE_CUDA = backend.cuda_is_available()
needs_cuda = pytest.mark.skipif(not HAVE_CUDA, reason=CUDA_SKIP_REASON)
needs_no_cuda = pytest.mark.skipif(HAVE_CUDA, reason="this machine has a CUDA GPU: the "
                                   "'CUDA unavailable' behaviour cannot be seen here")

# every creation function, called with device='cuda'
CREATORS = {
    "tensor": lambda d: nr.tensor([1.0, 2.0], device=d),
    "as_tensor": lambda d: nr.as_tensor(np.ones(2, np.float32), device=d),
    "scalar_tensor": lambda d: nr.scalar_tensor(1.5, device=d),
    "zeros": lambda d: nr.zeros(2, 3, device=d),
    "ones": lambda d: nr.ones(2, device=d),
    "empty": lambda d: nr.empty(2, device=d),
    "full": lambda d: nr.full((2,), 7.0, device=d),
    "arange": lambda d: nr.arange(5, device=d),
    "linspace": lambda d: nr.linspace(0, 1, 5, device=d),
    "eye": lambda d: nr.eye(3, device=d),
    "randn": lambda d: nr.randn(2, 3, device=d),
    "rand": lambda d: nr.rand(4, device=d),
    "randint": lambda d: nr.randint(0, 9, (4,), device=d),
    "randperm": lambda d: nr.randperm(5, device=d),
    "normal": lambda d: nr.normal(0.0, 1.0, (3,), device=d),
    "zeros_like": lambda d: nr.zeros_like(nr.ones(2), device=d),
    "ones_like": lambda d: nr.ones_like(nr.ones(2), device=d),
    "empty_like": lambda d: nr.empty_like(nr.ones(2), device=d),
    "full_like": lambda d: nr.full_like(nr.ones(2), 3.0, device=d),
    "rand_like": lambda d: nr.rand_like(nr.ones(2), device=d),
    "randn_like": lambda d: nr.randn_like(nr.ones(2), device=d),
    "randint_like": lambda d: nr.randint_like(nr.ones(2), 0, 5, device=d),
}


def test_every_creation_function_is_listed():
    from neurona import creation
    public = {n for n in creation.__all__ if callable(getattr(creation, n))
              and "device" in getattr(creation, n).__code__.co_varnames}
    assert public - set(CREATORS) == set(), "a creation function with device= is untested"


# ----------------------------------------------------------------------- without a GPU

@needs_no_cuda
def test_cuda_module_without_gpu():
    assert nr.cuda.is_available() is False
    assert nr.cuda.device_count() == 0
    nr.cuda.synchronize()            # no-ops, as torch.cuda's are without a GPU
    nr.cuda.manual_seed(1)
    nr.cuda.manual_seed_all(1)
    nr.manual_seed(3)
    a = nr.randn(3)
    nr.manual_seed(3)
    assert np.array_equal(a.numpy(), nr.randn(3).numpy())
    with pytest.raises(RuntimeError, match=r"current_device\(\).*pip install neurona\[cuda\]"):
        nr.cuda.current_device()


@needs_no_cuda
@pytest.mark.parametrize("name", sorted(CREATORS))
@pytest.mark.parametrize("spec", ["cuda", "cuda:1", nr.device("cuda")])
def test_creation_on_cuda_without_gpu_says_how_to_install(name, spec):
    with pytest.raises(RuntimeError) as info:
        CREATORS[name](spec)
    msg = str(info.value)
    for part in ("cuda", "not available", "pip install neurona[cuda]", "cupy-cuda12x",
                 "cupy-cuda13x", "device='cpu'"):
        assert part in msg, f"{name}(device={spec!r}): {part!r} missing from: {msg}"


@needs_no_cuda
def test_moving_to_cuda_without_gpu_is_a_clear_error():
    x = nr.ones(2)
    model = nr.nn.Linear(2, 3)
    for move in (lambda: x.to("cuda"), lambda: x.cuda(), lambda: x.to(device="cuda:0"),
                 lambda: model.to("cuda"), lambda: model.cuda()):
        with pytest.raises(RuntimeError, match=r"pip install neurona\[cuda\]"):
            move()
    assert model.weight.device == nr.device("cpu")     # a failed move leaves it where it was


def test_cpu_is_a_no_op_on_the_cpu():
    x = nr.ones(2)
    assert x.cpu() is x and x.to("cpu") is x
    model = nr.nn.Linear(2, 3)
    w = model.weight._data
    assert model.cpu() is model and model.weight._data is w


def test_bad_device_strings():
    for bad in ("gpu", "cuda:x", "cpu:0", "CUDA"):
        with pytest.raises(ValueError, match="expected 'cpu', 'cuda' or 'cuda:N'|cuda:N"):
            nr.zeros(1, device=bad)


# ------------------------------------------------- CPU meets CUDA: one check, every op

class _FakeCudaArray(np.ndarray):
    """A NumPy array that the backend takes for a CuPy array on cuda:0 (so the device
    check can be seen without a GPU)."""

    @property
    def device(self):
        return types.SimpleNamespace(id=0)


@pytest.fixture
def fake_cupy(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", types.SimpleNamespace(ndarray=_FakeCudaArray))
    return lambda a: nr.Tensor._wrap(np.asarray(a, np.float32).view(_FakeCudaArray))


@pytest.mark.parametrize("op", ["add", "mul", "matmul", "cat", "where", "linear"])
def test_cpu_tensor_meets_cuda_tensor(fake_cupy, op):
    c = nr.ones(2, 2)
    g = fake_cupy(np.ones((2, 2)))
    assert g.device == nr.device("cuda:0") and c.device == nr.device("cpu")
    run = {"add": lambda: c + g, "mul": lambda: g * c, "matmul": lambda: c @ g,
           "cat": lambda: nr.cat([c, g, c]),
           "where": lambda: nr.where(c > 0, c, g),
           "linear": lambda: nr.nn.functional.linear(c, g, c[0])}[op]
    with pytest.raises(RuntimeError) as info:
        run()
    msg = str(info.value)
    assert "same device" in msg and "cpu" in msg and "cuda:0" in msg, msg
    assert ".to('cuda')" in msg


def test_same_device_ops_are_not_slowed_by_the_check(fake_cupy):
    """Inputs on one device (all CPU, or all 'CUDA') pass the check."""
    a = fake_cupy(np.ones(3))
    b = fake_cupy(np.full(3, 2.0))
    assert np.array_equal(np.asarray((a * b)._data), np.full(3, 2.0))
    assert np.array_equal((nr.ones(3) + nr.ones(3)).numpy(), np.full(3, 2.0))


# --------------------------------------------------------------------- with a GPU

@needs_cuda
def test_cuda_round_trip_and_module_api():
    assert nr.cuda.is_available() and nr.cuda.device_count() >= 1
    assert nr.cuda.current_device() == 0
    x = nr.arange(6, dtype=nr.float32, device="cuda").reshape(2, 3)
    assert x.is_cuda and x.device == nr.device("cuda:0")
    assert np.array_equal(x.cpu().numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    y = nr.tensor([1.0, 2.0]).cuda()
    assert y.device.type == "cuda" and y.to("cpu").device.type == "cpu"
    nr.cuda.synchronize()


@needs_cuda
def test_cuda_seed_repeats():
    nr.manual_seed(5)
    a = nr.randn(4, device="cuda")
    nr.manual_seed(5)
    b = nr.randn(4, device="cuda")
    assert np.array_equal(a.cpu().numpy(), b.cpu().numpy())


@needs_cuda
def test_module_and_optimizer_state_follow_to_cuda():
    nr.manual_seed(0)
    model = nr.nn.Linear(3, 2).to("cuda")
    opt = nr.optim.Adam(model.parameters(), lr=0.1)
    x = nr.randn(4, 3, device="cuda")
    model(x).sum().backward()
    opt.step()
    assert model.weight.device.type == "cuda" and model.weight.grad.device.type == "cuda"
    st = opt.state[model.weight]
    assert st["exp_avg"].device.type == "cuda" and st["exp_avg_sq"].device.type == "cuda"
    sd = opt.state_dict()
    model.cpu()
    opt2 = nr.optim.Adam(model.parameters(), lr=0.1)
    opt2.load_state_dict(sd)                    # state lands on the parameters' device
    assert opt2.state[model.weight]["exp_avg"].device.type == "cpu"
    with pytest.raises(RuntimeError, match="same device"):
        model(x)
    opt2.step()                                 # a CPU step: state on the CPU ...
    model.cuda()
    model(x).sum().backward()
    opt2.step()                                 # ... follows the parameters to the GPU
    assert opt2.state[model.weight]["exp_avg"].device.type == "cuda"


def test_optimizer_state_follows_parameters_that_moved(fake_cupy, monkeypatch):
    """After a parameter changes device (model.to), the next step moves the optimizer's
    state there too.  Seen without a GPU: the state is put on the fake 'cuda' and the
    backend's move counter bumped, as Module.to would; step brings it back to the CPU."""
    monkeypatch.setattr(_FakeCudaArray, "get", lambda self: self.view(np.ndarray).copy(),
                        raising=False)
    twin = [nr.nn.Linear(3, 2) for _ in range(2)]
    twin[1].load_state_dict(twin[0].state_dict())
    opts = [nr.optim.Adam(m.parameters(), lr=0.1) for m in twin]
    x = nr.randn(4, 3)
    for step in range(2):
        for m, opt in zip(twin, opts):
            opt.zero_grad()
            m(x).sum().backward()
            if step == 1 and opt is opts[1]:       # state "left behind" on another device
                st = opt.state[m.weight]
                st["exp_avg"] = fake_cupy(st["exp_avg"]._data)
                assert st["exp_avg"].device == nr.device("cuda:0")
                monkeypatch.setattr(backend, "device_moves", backend.device_moves + 1)
            opt.step()
    st = opts[1].state[twin[1].weight]
    assert type(st["exp_avg"]._data) is np.ndarray              # followed the parameter
    assert np.array_equal(twin[0].weight.detach().numpy(), twin[1].weight.detach().numpy())
