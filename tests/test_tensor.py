"""Making tensors, their attributes, printing, random numbers, DLPack exchange and devices,
each compared with PyTorch where PyTorch has the same function."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import neurona as nr
from helpers import assert_close, dtype_name, to_numpy

# ============================================================================ nr.tensor

DATA = {
    "float": 1.5,
    "int": 3,
    "bool": True,
    "list of floats": [1.0, 2.0],
    "list of ints": [1, 2],
    "list of bools": [True, False],
    "ints and floats": [1, 2.5],
    "bools and ints": [True, 2],
    "nested mixed": [[1, 2], [3, 4.5]],
    "tuple": (1.0, 2.0),
    "nested tuples": ((1, 2), (3, 4)),
    "empty list": [],
    "numpy float64": np.array([1.0, 2.0]),
    "numpy float32": np.array([1.0, 2.0], np.float32),
    "numpy float16": np.array([1.0, 2.0], np.float16),
    "numpy int32": np.array([1, 2], np.int32),
    "numpy int64": np.array([1, 2]),
    "numpy uint8": np.array([1, 2], np.uint8),
    "numpy bool": np.array([True, False]),
    "numpy 0-d": np.array(2.5),
    "numpy float64 scalar": np.float64(3.0),
    "numpy float32 scalar": np.float32(3.0),
    "numpy int32 scalar": np.int32(3),
    "list of numpy float64": [np.float64(1.0), np.float64(2.0)],
    "range": range(4),
}


@pytest.mark.parametrize("name", list(DATA))
def test_tensor_infers_dtype_like_torch(name):
    """Python floats -> float32, ints -> int64, bools -> bool; NumPy keeps its dtype."""
    data = DATA[name]
    n = nr.tensor(data)
    t = torch.tensor(np.asarray(data) if isinstance(data, range) else data)
    assert_close(n, t, what=name)
    assert n.is_leaf and not n.requires_grad and n.grad is None and n.grad_fn is None


@pytest.mark.parametrize("dtype,torch_dtype", [
    (nr.float64, torch.float64), ("float64", torch.float64), (np.float64, torch.float64),
    (torch.float64, torch.float64), (nr.double, torch.double), (nr.float32, torch.float32),
    (float, torch.float), (int, torch.long), (bool, torch.bool), (nr.int32, torch.int32),
    ("long", torch.long), (nr.uint8, torch.uint8), (nr.float16, torch.float16)], ids=str)
def test_tensor_dtype_argument(dtype, torch_dtype):
    """dtype= takes neurona dtypes, names, NumPy dtypes, Python types and torch dtypes."""
    assert_close(nr.tensor([1, 0, 2], dtype=dtype), torch.tensor([1, 0, 2], dtype=torch_dtype))
    assert_close(nr.tensor([1.5, 0.0], dtype=dtype), torch.tensor([1.5, 0.0], dtype=torch_dtype))


def test_tensor_from_array_likes():
    class ArrayLike:                 # anything with __array__
        def __array__(self, dtype=None, copy=None):
            return np.array([[1.5, 2.5], [3.5, 4.5]])

    assert_close(nr.tensor(ArrayLike()), torch.tensor(np.asarray(ArrayLike())))
    assert_close(nr.tensor(memoryview(np.array([1, 2, 3], np.int32))),
                 torch.tensor([1, 2, 3], dtype=torch.int32))
    # a neurona tensor: copied
    a = nr.tensor([1.0, 2.0])
    b = nr.tensor(a)
    b.numpy()[0] = 9
    assert a.tolist() == [1.0, 2.0]


def test_tensor_from_torch_tensors():
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    n = nr.tensor(t)
    assert_close(n, t)
    t.add_(1)                          # nr.tensor copies
    assert to_numpy(n)[0, 0] == 1.0
    # a torch tensor that requires grad is read through its data (like torch.tensor(t))
    tg = torch.tensor([1.5, -2.0], requires_grad=True)
    n = nr.tensor(tg)
    assert_close(n, tg.detach())
    assert not n.requires_grad
    n2 = nr.tensor(tg, requires_grad=True)
    assert n2.requires_grad and n2.is_leaf
    # an integer torch tensor keeps its dtype
    assert_close(nr.tensor(torch.tensor([1, 2], dtype=torch.int32)),
                 torch.tensor([1, 2], dtype=torch.int32))


def test_tensor_copies_numpy_but_from_numpy_and_as_tensor_share():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    copied, shared, as_t = nr.tensor(a), nr.from_numpy(a), nr.as_tensor(a)
    a[0] = 100.0
    assert copied.tolist()[0] == 1.0
    assert shared.tolist()[0] == 100.0 and as_t.tolist()[0] == 100.0
    assert nr.as_tensor(shared) is shared
    with pytest.raises(TypeError, match="numpy"):
        nr.from_numpy([1.0, 2.0])


def test_requires_grad_only_for_floating_tensors():
    for make in (lambda: nr.tensor([1, 2], requires_grad=True),
                 lambda: nr.tensor([1, 2]).requires_grad_(),
                 lambda: nr.tensor([True]).requires_grad_(True),
                 lambda: nr.zeros(2, dtype=nr.int64, requires_grad=True)):
        with pytest.raises(RuntimeError, match="floating point"):
            make()
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).requires_grad_()
    x = nr.tensor([1.0, 2.0]).requires_grad_()
    assert x.requires_grad and x.is_leaf
    assert x.requires_grad_(False) is x and not x.requires_grad
    y = nr.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_tensor_refuses_strings_and_objects():
    for bad in (["a", "b"], np.array(["x"]), np.array([object()], dtype=object)):
        with pytest.raises(TypeError):
            nr.tensor(bad)


# ============================================================================ factories

SIZES = [(2, 3), ((2, 3),), ([2, 3],), ((),), (0,), (4,), (2, 0, 3)]


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("dtype", [None, "float64", "int64", "bool"])
def test_zeros_ones_empty(name, size, dtype):
    kw = {} if dtype is None else {"dtype": getattr(nr, dtype if dtype != "bool" else "bool_")}
    tkw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    n, t = getattr(nr, name)(*size, **kw), getattr(torch, name)(*size, **tkw)
    if name == "empty":
        assert n.shape == tuple(t.shape) and dtype_name(n) == dtype_name(t)
    else:
        assert_close(n, t)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "randn", "rand"])
def test_factories_requires_grad_and_errors(name):
    f = getattr(nr, name)
    x = f(2, 3, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.dtype == nr.float32
    assert f(2, dtype=nr.float64).dtype == nr.float64
    with pytest.raises(RuntimeError, match="negative"):
        f(2, -1)
    for bad in ("3", 2.5):
        with pytest.raises(TypeError, match="size"):
            f(2, bad)


@pytest.mark.parametrize("size,value", [((2, 3), 1.5), ((2,), 7), ((2,), True), (3, -2.0),
                                        ((), 4), ((0,), 1.0)], ids=str)
def test_full(size, value):
    assert_close(nr.full(size, value), torch.full(size if size != 3 else (3,), value))
    assert_close(nr.full(size, value, dtype=nr.float64),
                 torch.full(size if size != 3 else (3,), value, dtype=torch.float64))


ARANGE = [(5,), (1, 5), (5, 0, -1), (0, 10, 3), (0, 1, 0.1), (0.0, 5), (1, 2.5, 0.5),
          (-1, 1, 0.25), (3, 3), (2.5,), (0, 1, 1 / 3)]


@pytest.mark.parametrize("args", ARANGE, ids=str)
def test_arange_like_torch(args):
    assert_close(nr.arange(*args), torch.arange(*args))
    assert_close(nr.arange(*args, dtype=nr.float64), torch.arange(*args, dtype=torch.float64))


def test_arange_errors_and_tensor_arguments():
    for args in ((0, 5, 0), (0, -3), (5, 0, 1), (0, 1, -0.5)):
        with pytest.raises(RuntimeError, match="step"):
            nr.arange(*args)
        with pytest.raises(RuntimeError):
            torch.arange(*args)
    assert_close(nr.zeros(np.int64(2), nr.tensor(3)), torch.zeros(2, 3))
    assert_close(nr.arange(nr.tensor(4)), torch.arange(torch.tensor(4)))
    assert nr.arange(3, requires_grad=False).dtype == nr.int64


@pytest.mark.parametrize("args", [(0, 1, 5), (-1, 1, 1), (0, 1, 0), (2, -3, 7), (0, 1, 100)],
                         ids=str)
def test_linspace_like_torch(args):
    assert_close(nr.linspace(*args), torch.linspace(*args))
    assert_close(nr.linspace(*args, dtype=nr.float64), torch.linspace(*args,
                                                                     dtype=torch.float64))


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,), (1,)], ids=str)
def test_eye_like_torch(args):
    assert_close(nr.eye(*args), torch.eye(*args))
    assert_close(nr.eye(*args, dtype=nr.int64), torch.eye(*args, dtype=torch.int64))


def test_scalar_tensor():
    assert_close(nr.scalar_tensor(2), torch.scalar_tensor(2))
    assert_close(nr.scalar_tensor(2.5, dtype=nr.float64),
                 torch.scalar_tensor(2.5, dtype=torch.float64))


# ============================================================================ random

def test_random_factories_shapes_dtypes_and_ranges():
    nr.manual_seed(0)
    x = nr.rand(1000)
    assert x.shape == (1000,) and x.dtype == nr.float32
    a = x.numpy()
    assert (a >= 0).all() and (a < 1).all() and 0.4 < a.mean() < 0.6
    z = nr.randn(100, 100).numpy()
    assert z.dtype == np.float32 and abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    assert nr.randn(2, 3, dtype=nr.float64).dtype == nr.float64
    assert nr.randn((2, 3)).shape == (2, 3) and nr.randn(()).shape == ()
    r = nr.randint(-3, 4, (500,))
    assert r.dtype == nr.int64 and r.numpy().min() == -3 and r.numpy().max() == 3
    assert nr.randint(5, (2, 2)).shape == (2, 2)            # randint(high, size)
    assert nr.randint(0, 5, (3,), dtype=nr.int32).dtype == nr.int32
    assert dtype_name(nr.randint(0, 5, (3,))) == dtype_name(torch.randint(0, 5, (3,)))
    with pytest.raises(RuntimeError, match="low < high"):
        nr.randint(3, 3, (2,))
    p = nr.randperm(10)
    assert dtype_name(p) == dtype_name(torch.randperm(10))
    assert sorted(p.tolist()) == list(range(10))
    assert nr.randperm(0).shape == (0,)
    m = nr.normal(2.0, 0.5, size=(10000,)).numpy()
    assert abs(m.mean() - 2.0) < 0.05 and abs(m.std() - 0.5) < 0.05


@pytest.mark.parametrize("make", [
    lambda g: nr.randn(5, generator=g), lambda g: nr.rand(5, generator=g),
    lambda g: nr.randint(0, 100, (5,), generator=g), lambda g: nr.randperm(20, generator=g),
    lambda g: nr.normal(0.0, 1.0, (5,), generator=g)], ids=["randn", "rand", "randint",
                                                               "randperm", "normal"])
def test_manual_seed_reproducibility(make):
    nr.manual_seed(1234)
    a = make(None)
    nr.manual_seed(1234)
    b = make(None)
    nr.manual_seed(4321)
    c = make(None)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()
    # Generator objects: their own streams, the default one untouched
    g1, g2 = nr.Generator().manual_seed(7), nr.Generator().manual_seed(7)
    nr.manual_seed(99)
    d1 = make(None)
    assert make(g1).tolist() == make(g2).tolist()
    nr.manual_seed(99)
    assert make(None).tolist() == d1.tolist()


def test_generator_api_and_rng_state_round_trip():
    g = nr.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert nr.manual_seed(11) is nr.default_generator and nr.initial_seed() == 11
    state = nr.get_rng_state()
    assert isinstance(state, nr.Tensor) and dtype_name(state) == dtype_name(
        torch.get_rng_state())
    a = nr.randn(4).tolist()
    nr.randn(10)
    nr.set_rng_state(state)
    assert nr.randn(4).tolist() == a
    gs = g.get_state()
    x = nr.rand(3, generator=g).tolist()
    g.set_state(gs)
    assert nr.rand(3, generator=g).tolist() == x
    s = nr.seed()
    assert isinstance(s, int) and nr.initial_seed() == s
    assert isinstance(g.numpy, np.random.Generator)


# ============================================================================ *_like, new_*

LIKE = ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"]


@pytest.mark.parametrize("name", LIKE + ["full_like", "randint_like"])
@pytest.mark.parametrize("src_dtype", ["float32", "float64", "int64"])
def test_like_functions(name, src_dtype):
    arr = np.ones((2, 3), dtype=src_dtype)
    n_src, t_src = nr.tensor(arr), torch.tensor(arr)
    args = {"full_like": (2,), "randint_like": (5,)}.get(name, ())
    if src_dtype == "int64" and name in ("rand_like", "randn_like"):
        # torch refuses random floats of an integer dtype; ask for a float dtype
        n = getattr(nr, name)(n_src, *args, dtype=nr.float32)
        t = getattr(torch, name)(t_src, *args, dtype=torch.float32)
    else:
        n, t = getattr(nr, name)(n_src, *args), getattr(torch, name)(t_src, *args)
    assert n.shape == tuple(t.shape) and dtype_name(n) == dtype_name(t)
    if name in ("zeros_like", "ones_like", "full_like"):
        assert_close(n, t)
    if name == "randint_like":
        assert (to_numpy(n) >= 0).all() and (to_numpy(n) < 5).all()
    n64 = getattr(nr, name)(n_src, *args, dtype=nr.float64)
    t64 = getattr(torch, name)(t_src, *args, dtype=torch.float64)
    assert dtype_name(n64) == dtype_name(t64)
    if name != "randint_like":
        g = getattr(nr, name)(n_src, *args, dtype=nr.float32, requires_grad=True)
        assert g.requires_grad and g.is_leaf


@pytest.mark.parametrize("name,args", [("new_zeros", ((2, 3),)), ("new_ones", (2, 3)),
                                       ("new_empty", ((2,),)), ("new_full", ((2, 2), 3.5)),
                                       ("new_tensor", ([1, 2],))], ids=lambda x: str(x))
@pytest.mark.parametrize("src_dtype", ["float32", "float64", "int64"])
def test_new_methods(name, args, src_dtype):
    arr = np.ones(3, dtype=src_dtype)
    n, t = getattr(nr.tensor(arr), name)(*args), getattr(torch.tensor(arr), name)(*args)
    assert n.shape == tuple(t.shape) and dtype_name(n) == dtype_name(t)
    if name != "new_empty":
        assert_close(n, t)
    n = getattr(nr.tensor(arr), name)(*args, dtype=nr.float64, requires_grad=True)
    t = getattr(torch.tensor(arr), name)(*args, dtype=torch.float64, requires_grad=True)
    assert dtype_name(n) == dtype_name(t) and n.requires_grad and n.is_leaf


# ============================================================================ attributes

def test_basic_attributes_match_torch():
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    n, t = nr.tensor(arr), torch.tensor(arr)
    assert n.shape == tuple(t.shape) and n.size() == tuple(t.size())
    assert n.size(1) == t.size(1) and n.size(-1) == t.size(-1)
    assert n.ndim == t.ndim and n.dim() == t.dim() and n.numel() == t.numel()
    assert n.element_size() == t.element_size() and n.nbytes == t.nbytes
    assert n.is_floating_point() and not nr.tensor([1]).is_floating_point()
    assert n.dtype == nr.float32 and n.dtype == np.float32 and n.dtype != nr.float64
    assert repr(n.dtype) == "neurona.float32" and n.dtype.is_floating_point
    assert not n.is_cuda
    with pytest.raises(IndexError, match="out of range"):
        n.size(3)


def test_grad_grad_fn_and_is_leaf():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    c = nr.tensor([3.0, 4.0])
    y = x * c
    assert x.is_leaf and x.grad_fn is None and x.grad is None
    assert c.is_leaf and not c.requires_grad
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert "Mul" in repr(y.grad_fn)
    z = c * 2                                   # nothing requires grad: no graph
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None
    y.backward(nr.ones_like(y))
    assert_close(x.grad, torch.tensor([3.0, 4.0]))
    assert y.grad is None and c.grad is None
    with nr.no_grad():
        w = x * 2
    assert not w.requires_grad and w.grad_fn is None


def test_detach_shares_memory_and_leaves_the_graph():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d.numpy()[0] = -7.0
    assert y.detach().tolist()[0] == -7.0            # same memory as y
    xd = x.detach()
    xd.numpy()[1] = 50.0
    assert x.detach().tolist()[1] == 50.0
    assert x.data.tolist() == x.detach().tolist() and not x.data.requires_grad


def test_item_tolist_float_int():
    for data in (3.5, [2.25], [[7]], True, -4):
        n, t = nr.tensor(data), torch.tensor(data)
        assert n.item() == t.item() and type(n.item()) is type(t.item())
    with pytest.raises(RuntimeError, match="one element"):
        nr.tensor([1.0, 2.0]).item()
    for data in ([[1.5, 2.0], [3.0, 4.0]], [1, 2], [True, False], 2.5, []):
        n, t = nr.tensor(data), torch.tensor(data)
        assert n.tolist() == t.tolist()
        assert type(n.tolist()) is type(t.tolist())
    assert float(nr.tensor([2.5])) == 2.5 and int(nr.tensor(3.9)) == 3
    assert [10, 20, 30][nr.tensor(1)] == 20                    # __index__
    with pytest.raises(TypeError):
        [1, 2][nr.tensor(1.0)]


def test_numpy_and_array_protocol():
    x = nr.tensor([1.0, 2.0])
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0] = 5.0                                                  # shares memory
    assert x.tolist() == [5.0, 2.0]
    g = nr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        g.numpy()
    assert g.detach().numpy().tolist() == [1.0, 2.0]
    assert g.numpy(force=True).tolist() == [1.0, 2.0]
    # np.asarray(t), with and without a dtype; works on tensors that require grad too
    assert np.array_equal(np.asarray(x), x.numpy()) and np.asarray(x).dtype == np.float32
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.asarray(g).tolist() == [1.0, 2.0]
    assert np.array(x, copy=True) is not x.numpy()


def _torch_repr(t):
    s = repr(t).replace("torch.", "neurona.")
    return re.sub(r"Backward\d+", "Backward", s)


@pytest.mark.parametrize("data,dtype", [
    ([1.0, 2.0], "float32"), ([1.5, 2.0], "float32"), (3.5, "float32"), (3.0, "float32"),
    ([[1.0, 2.0], [3.0, 4.0]], "float32"), ([0.1234567, 100.0], "float32"),
    ([1e-5, 1.0], "float32"), ([-1.5, 2.25], "float32"), ([float("nan"), 1.5], "float32"),
    ([float("inf"), -1.0], "float32"), ([1.0, 2.0], "float64"), ([1.5, 2.0], "float64"),
    ([1.0, 2.0], "float16"), ([1, 2], "int64"), ([1, 2], "int32"), ([[1, 2], [3, 4]], "uint8"),
    ([True, False], "bool"), ([], "float32"), ([], "int64"), ([], "float64"), (5, "int64"),
    ([[[1.5]]], "float32"),
], ids=str)
def test_repr_looks_like_torch(data, dtype):
    n = nr.tensor(data, dtype=getattr(nr, dtype if dtype != "bool" else "bool_"))
    t = torch.tensor(data, dtype=getattr(torch, dtype))
    assert repr(n) == _torch_repr(t)


def test_repr_shows_requires_grad_and_grad_fn():
    n, t = nr.tensor([1.5, 2.0], requires_grad=True), torch.tensor([1.5, 2.0], requires_grad=True)
    assert repr(n) == _torch_repr(t)
    assert repr(n * 2) == _torch_repr(t * 2)
    assert repr(n.exp()) == _torch_repr(t.exp())
    n64 = nr.tensor([1.0, 2.0], dtype=nr.float64, requires_grad=True)
    t64 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert repr(n64 + 1) == _torch_repr(t64 + 1)
    assert str(n) == repr(n)


def test_len_iter_bool():
    n, t = nr.tensor([[1, 2], [3, 4], [5, 6]]), torch.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(n) == len(t)
    with pytest.raises(TypeError):
        len(nr.tensor(3.0))
    with pytest.raises(TypeError):
        len(torch.tensor(3.0))
    if not hasattr(nr.Tensor, "__getitem__"):
        pytest.skip("iteration needs indexing (Tensor.__getitem__), which has not landed yet")
    rows = list(n)
    assert len(rows) == 3 and all(isinstance(r, nr.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [r.tolist() for r in t]
    with pytest.raises(TypeError):
        iter(nr.tensor(3.0))
    for data in ([0.0], [2.0], 0, 1, [True], [[False]]):
        assert bool(nr.tensor(data)) == bool(torch.tensor(data))
    for data in ([1.0, 2.0], []):
        with pytest.raises(RuntimeError):
            bool(nr.tensor(data))
        with pytest.raises(RuntimeError):
            bool(torch.tensor(data))
    if nr.tensor([1.0]):
        pass
    else:
        pytest.fail("a one-element nonzero tensor is truthy")


# ============================================================================ DLPack

@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8",
                                   "bool"])
def test_dlpack_from_torch_shares_memory(dtype):
    t = torch.zeros((2, 3), dtype=getattr(torch, dtype))
    n = nr.from_dlpack(t)
    assert dtype_name(n) == dtype and n.shape == (2, 3)
    t[0, 1] = 1                         # torch writes, neurona sees
    assert to_numpy(n)[0, 1] == 1
    n.numpy()[1, 2] = 1                 # neurona writes, torch sees
    assert t[1, 2].item() == 1


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_dlpack_to_torch_shares_memory(dtype):
    n = nr.zeros(2, 3, dtype=getattr(nr, dtype if dtype != "bool" else "bool_"))
    t = torch.from_dlpack(n)
    assert t.dtype == getattr(torch, dtype) and tuple(t.shape) == (2, 3)
    t[0, 0] = 1
    assert to_numpy(n)[0, 0] == 1
    n.numpy()[1, 1] = 1
    assert t[1, 1].item() == 1


def test_dlpack_with_numpy_and_errors():
    a = np.arange(6.0).reshape(2, 3)
    n = nr.from_dlpack(a)
    a[0, 0] = 42.0
    assert to_numpy(n)[0, 0] == 42.0 and n.dtype == nr.float64
    back = np.from_dlpack(n)
    back[1, 1] = -1.0
    assert to_numpy(n)[1, 1] == -1.0
    assert nr.from_dlpack(n) is n
    # torch.from_dlpack of a tensor that requires grad: a clear error (detach first)
    g = nr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        torch.from_dlpack(g)
    assert torch.from_dlpack(g.detach()).tolist() == [1.0, 1.0]
    # a non-contiguous torch view keeps its strides
    t = torch.arange(12.0).reshape(3, 4).t()
    assert_close(nr.from_dlpack(t), t)


# ============================================================================ devices

def test_device_objects():
    d = nr.device("cpu")
    assert d == "cpu" and d == nr.device("cpu") and str(d) == "cpu"
    assert repr(d) == repr(torch.device("cpu"))
    c = nr.device("cuda:1")
    assert (c.type, c.index) == ("cuda", 1) and repr(c) == repr(torch.device("cuda:1"))
    assert str(c) == str(torch.device("cuda:1"))
    assert nr.device("cuda") == nr.device("cuda:0")
    assert nr.device(nr.device("cpu")) == "cpu"
    x = nr.tensor([1.0, 2.0])
    assert x.device == "cpu" and x.device == nr.device("cpu") and str(x.device) == "cpu"
    assert x.device.type == torch.tensor([1.0]).device.type
    for bad in ("tpu", "cuda:x", "cpu:0:1"):
        with pytest.raises(ValueError, match="device"):
            nr.device(bad)


def test_factories_accept_cpu_device():
    for t in (nr.zeros(2, device="cpu"), nr.ones(2, device=nr.device("cpu")),
              nr.tensor([1.0], device="cpu"), nr.randn(2, device="cpu"),
              nr.arange(3, device="cpu"), nr.zeros_like(nr.ones(2), device="cpu")):
        assert t.device == "cpu"


cuda_missing = pytest.mark.skipif(nr.backend.cuda_is_available(),
                                  reason="CUDA is available here: the error can't be shown")


@cuda_missing
@pytest.mark.parametrize("make", [
    lambda: nr.zeros(2, device="cuda"), lambda: nr.ones(2, 2, device="cuda:0"),
    lambda: nr.randn(3, device="cuda"), lambda: nr.tensor([1.0], device="cuda"),
    lambda: nr.arange(3, device="cuda"), lambda: nr.full((2,), 1.0, device="cuda"),
    lambda: nr.zeros_like(nr.ones(2), device="cuda")],
    ids=["zeros", "ones", "randn", "tensor", "arange", "full", "zeros_like"])
def test_asking_for_cuda_without_it_is_a_clear_error(make):
    with pytest.raises(RuntimeError) as e:
        make()
    msg = str(e.value)
    assert "CUDA" in msg and "CuPy" in msg


def test_tensor_to_device_and_dtype():
    if not hasattr(nr.Tensor, "to"):
        pytest.skip("Tensor.to lands with the shape/dtype helper")
    x = nr.tensor([1.5, 2.0])
    y = x.to("cpu")
    assert y.device == "cpu" and y.tolist() == x.tolist()
    assert x.to(nr.device("cpu")).device == "cpu"
    t = torch.tensor([1.5, 2.0])
    assert_close(x.to(nr.float64), t.to(torch.float64))
    assert_close(x.to("cpu", nr.int64), t.to("cpu", torch.int64))
    if not nr.backend.cuda_is_available():
        with pytest.raises(RuntimeError) as e:
            x.to("cuda")
        assert "CUDA" in str(e.value) and "CuPy" in str(e.value)
