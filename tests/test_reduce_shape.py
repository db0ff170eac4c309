"""Reductions (neurona/ops/reduce.py) and shape ops (neurona/ops/shape.py): forward and
backward parity with PyTorch 2.13, view semantics, dtype rules, error messages, and float64
finite-difference gradient checks.

PyTorch (CPU) is the oracle.  Tolerances (see ``tests/helpers.py``):

* shape ops move numbers without arithmetic, so they use ``kind="exact"``
  (float32 rtol=1e-5, atol=1e-6; in practice bit-for-bit);
* reductions add many numbers in an order that differs between NumPy (pairwise sums)
  and PyTorch (vectorised blocks), so they use ``kind="matmul"`` (float32 rtol=1e-4,
  atol=1e-5); ``logsumexp``/``norm`` with p != 1, 2 also go through exp/log/pow.
* gradient checks run in float64 against central finite differences (``gradcheck64``).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import neurona as nr
from helpers import (assert_close, check_parity, float_arrays, gradcheck64, random_array,
                     shapes)

SETTINGS = settings(max_examples=max(30, settings.default.max_examples))  # dev profile: more
pytestmark = [pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0"),
              pytest.mark.filterwarnings("ignore:.*x.T. on tensors of dimension other"),
              pytest.mark.filterwarnings("ignore:Tensor.T is deprecated")]


# ============================================================================ helpers

def _both_raise_or_compare(n_fn, t_fn, arrays, **kw):
    """check_parity, unless torch refuses the call: then neurona must refuse it too."""
    t_in = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    try:
        t_fn(*t_in)
    except Exception:
        n_in = [nr.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
        with pytest.raises(Exception):
            n_fn(*n_in)
        return None
    return check_parity(n_fn, t_fn, arrays, **kw)


@st.composite
def dims(draw, nd, allow_none=True, allow_tuple=True, allow_int=True):
    """A ``dim`` argument for a tensor with ``nd`` dims: None, an int (maybe negative), or a
    tuple of distinct dims (maybe negative)."""
    opts = []
    if allow_none:
        opts.append(st.none())
    if allow_int:
        opts.append(st.integers(-max(nd, 1), max(nd, 1) - 1))
    if allow_tuple and nd:
        opts.append(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)
                    .flatmap(lambda ds: st.tuples(*[st.sampled_from([d, d - nd]) for d in ds])))
    return draw(st.one_of(*opts))


@st.composite
def array_dim(draw, min_dims=0, max_dims=4, min_side=0, max_side=4, allow_none=True,
              allow_tuple=True, ties=False, dtype=np.float32):
    """(array, dim): small arrays (empty dims included) and a dim argument for them.
    ``ties=True`` draws integer values in [-2, 2] so maxima repeat."""
    shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    if ties:
        a = draw(hnp.arrays(np.int8, shape, elements=st.integers(-2, 2))).astype(dtype)
    else:
        a = draw(float_arrays(shape, dtype))
    return a, draw(dims(len(shape), allow_none, allow_tuple))


def _n_reduced(shape, dim):
    if dim is None or dim == ():
        return math.prod(shape)
    ds = dim if isinstance(dim, tuple) else (dim,)
    return math.prod(shape[d] for d in ds) if shape else 1


def _ties(draw, shape, values=(-2, -1, 0, 1, 2)):
    return draw(hnp.arrays(np.int8, shape, elements=st.sampled_from(values))).astype(np.float32)


# ============================================================================ sum / mean

@SETTINGS
@given(array_dim(), st.booleans())
def test_sum(device, ad, keepdim):
    a, dim = ad
    if dim is None:
        check_parity(lambda x: x.sum(), lambda x: x.sum(), [a], kind="matmul", device=device)
        check_parity(lambda x: nr.sum(x, dim=None, keepdim=keepdim),
                     lambda x: torch.sum(x, dim=None, keepdim=keepdim), [a], kind="matmul",
                     device=device)
    else:
        check_parity(lambda x: x.sum(dim, keepdim=keepdim), lambda x: x.sum(dim, keepdim=keepdim),
                     [a], kind="matmul", device=device)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.int8])
def test_sum_integer_and_bool_give_int64(dtype):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    for dim in (None, 0, (0, 1), -1):
        n = nr.tensor(a).sum() if dim is None else nr.tensor(a).sum(dim)
        t = torch.tensor(a).sum() if dim is None else torch.tensor(a).sum(dim)
        assert_close(n, t)


def test_sum_dtype_argument():
    a = random_array((3, 4))
    check_parity(lambda x: x.sum(1, dtype=nr.float64), lambda x: x.sum(1, dtype=torch.float64),
                 [a], kind="matmul")
    b = np.arange(6, dtype=np.int64).reshape(2, 3)
    assert_close(nr.tensor(b).sum(0, dtype=nr.float32), torch.tensor(b).sum(0, dtype=torch.float32))


@SETTINGS
@given(array_dim(), st.booleans())
def test_mean(device, ad, keepdim):
    a, dim = ad
    check_parity(lambda x: x.mean(dim, keepdim), lambda x: x.mean(dim, keepdim), [a],
                 kind="matmul", device=device)


def test_mean_of_ints_is_an_error_like_torch():
    with pytest.raises(RuntimeError, match=r"mean\(\).*floating point.*int64"):
        nr.tensor([1, 2, 3]).mean()
    check_parity(lambda x: x.mean(dtype=nr.float32), lambda x: x.mean(dtype=torch.float32),
                 [np.array([1, 2, 4])], grad=False)


# ============================================================================ var / std

@SETTINGS
@given(array_dim(min_side=1), st.booleans(), st.integers(0, 2), st.sampled_from(["var", "std"]))
def test_var_std(device, ad, keepdim, correction, op):
    a, dim = ad
    n = _n_reduced(a.shape, dim)
    grad = n - correction > 0          # otherwise both give inf/nan: compare the values only
    if op == "std" and grad and a.size:
        # a group of equal values: the float32 mean is exact in one library and a rounding
        # off in the other, so std is 0 in one and ~1e-7 in the other, and d std/dx (which
        # is (x - mean) / (N std)) differs by O(1).  test_std_gradient_at_zero_spread covers 0.
        ax = None if dim is None else dim
        grad = bool((np.ptp(a, axis=ax) > 0).all()) if a.ndim else False
    check_parity(lambda x: getattr(x, op)(dim, keepdim=keepdim, correction=correction),
                 lambda x: getattr(x, op)(dim, keepdim=keepdim, correction=correction),
                 [a], kind="matmul", grad=grad, device=device)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_unbiased_flag_and_positional(op):
    a = random_array((3, 5), seed=1)
    for args, kw in [((), {"unbiased": False}), ((1, True), {}), ((0,), {"unbiased": False}),
                     ((True,), {}), ((False,), {}), ((1,), {"keepdim": True})]:
        check_parity(lambda x: getattr(x, op)(*args, **kw), lambda x: getattr(x, op)(*args, **kw),
                     [a], kind="matmul")
    with pytest.raises(RuntimeError, match=f"{op}.*floating point"):
        getattr(nr.tensor([1, 2, 3]), op)()


def test_std_gradient_at_zero_spread_is_zero_like_torch(device):
    a = np.ones((2, 3), dtype=np.float32)
    check_parity(lambda x: x.std(1), lambda x: x.std(1), [a], device=device)
    check_parity(lambda x: x.std(), lambda x: x.std(), [a], device=device)


# ============================================================================ max / min

@SETTINGS
@given(array_dim(allow_none=False, allow_tuple=False, ties=True), st.booleans(),
       st.sampled_from(["max", "min"]))
def test_max_min_with_dim_first_index_on_ties(ad, keepdim, op):
    a, dim = ad
    out = _both_raise_or_compare(lambda x: getattr(x, op)(dim, keepdim=keepdim),
                                 lambda x: getattr(x, op)(dim, keepdim=keepdim), [a])
    if out is not None:
        n, _ = out
        r = getattr(nr.tensor(a), op)(dim=dim, keepdim=keepdim)
        assert r.values.shape == r[0].shape and r.indices.dtype == nr.int64
        assert type(r).__name__ == op


@SETTINGS
@given(shapes(max_dims=3), st.sampled_from(["max", "min"]), st.data())
def test_max_min_global_shares_gradient_among_ties(shape, op, data):
    a = _ties(data.draw, shape, values=(-1, 0, 1))
    _both_raise_or_compare(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), [a])


def test_max_global_with_nan(device):
    a = np.array([1.0, np.nan, 3.0, np.nan], dtype=np.float32)
    check_parity(lambda x: x.max(), lambda x: x.max(), [a], device=device)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_tensor_is_elementwise(device, op):
    a, b = random_array((2, 3), seed=1), random_array((3,), seed=2)
    check_parity(lambda x, y: getattr(nr, op)(x, y), lambda x, y: getattr(torch, op)(x, y),
                 [a, b], device=device)
    check_parity(lambda x, y: getattr(x, op)(y), lambda x, y: getattr(x, op)(y), [a, b],
                 device=device)
    check_parity(lambda x, y: getattr(nr, op)(x, other=y), lambda x, y: getattr(torch, op)(x, y),
                 [a, b], device=device)


@SETTINGS
@given(array_dim(ties=True), st.booleans(), st.sampled_from(["amax", "amin"]))
def test_amax_amin_split_gradient_evenly(ad, keepdim, op):
    a, dim = ad
    d = () if dim is None else dim
    _both_raise_or_compare(lambda x: getattr(x, op)(d, keepdim),
                           lambda x: getattr(x, op)(d, keepdim), [a])


@SETTINGS
@given(array_dim(allow_tuple=False, ties=True), st.booleans(),
       st.sampled_from(["argmax", "argmin"]))
def test_argmax_argmin(ad, keepdim, op):
    a, dim = ad
    _both_raise_or_compare(lambda x: getattr(x, op)(dim, keepdim=keepdim),
                           lambda x: getattr(x, op)(dim, keepdim=keepdim), [a], grad=False)


# ============================================================================ logsumexp / prod

@SETTINGS
@given(array_dim(allow_none=False), st.booleans(), st.sampled_from([1.0, 100.0]))
def test_logsumexp(device, ad, keepdim, scale):
    a, dim = ad
    a = np.asarray(a * np.float32(scale))    # large values: the max shift must keep it finite
    check_parity(lambda x: x.logsumexp(dim, keepdim), lambda x: x.logsumexp(dim, keepdim),
                 [a], kind="transcendental", device=device)


def test_logsumexp_infinities_and_ints(device):
    a = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [1000.0, 1000.0]], dtype=np.float32)
    check_parity(lambda x: nr.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), [a],
                 kind="transcendental", device=device)
    check_parity(lambda x: nr.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0),
                 [np.array([1, 2, 3])], grad=False, kind="transcendental", device=device)


@SETTINGS
@given(shapes(max_dims=3, max_side=4), st.booleans(), st.data())
def test_prod_with_zeros(device, shape, keepdim, data):
    # values in {-2, -1, 0, 0.5, 1, 2}: zeros occur often, sometimes several per group
    a = data.draw(hnp.arrays(np.float32, shape,
                             elements=st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])))
    dim = data.draw(st.one_of(st.none(), st.integers(-max(len(shape), 1), max(len(shape), 1) - 1)))
    if dim is None:
        check_parity(lambda x: x.prod(), lambda x: x.prod(), [a], kind="matmul", device=device)
    else:
        check_parity(lambda x: x.prod(dim, keepdim), lambda x: x.prod(dim, keepdim), [a],
                     kind="matmul", device=device)


@pytest.mark.parametrize("values", [[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0],
                                    [0.0, 0.0, 0.0]])
def test_prod_gradient_cases(device, values):
    a = np.array([values, [1.0, -2.0, 3.0]], dtype=np.float32)
    check_parity(lambda x: x.prod(1), lambda x: x.prod(1), [a], device=device)
    check_parity(lambda x: x.prod(), lambda x: x.prod(), [a], device=device)


def test_prod_integer_dtype():
    a = np.array([[1, 2], [3, 4]], dtype=np.int32)
    assert_close(nr.tensor(a).prod(), torch.tensor(a).prod())
    assert_close(nr.tensor(a).prod(0), torch.tensor(a).prod(0))


# ============================================================================ all / any / cumsum

@SETTINGS
@given(shapes(max_dims=3), st.booleans(), st.sampled_from(["all", "any"]), st.data())
def test_all_any(shape, keepdim, op, data):
    a = data.draw(hnp.arrays(np.int8, shape, elements=st.integers(0, 1)))
    dim = data.draw(dims(len(shape)))
    for arr in (a.astype(bool), a.astype(np.float32)):
        n, t = nr.tensor(arr), torch.tensor(arr)
        if dim is None:
            assert_close(getattr(n, op)(), getattr(t, op)())
        else:
            assert_close(getattr(n, op)(dim, keepdim), getattr(t, op)(dim, keepdim))


@SETTINGS
@given(array_dim(allow_none=False, allow_tuple=False))
def test_cumsum(device, ad):
    a, dim = ad
    check_parity(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), [a], kind="matmul",
                 device=device)
    b = np.asarray(np.round(a)).astype(np.int32)
    check_parity(lambda x: nr.cumsum(x, dim), lambda x: torch.cumsum(x, dim), [b], grad=False,
                 device=device)


# ============================================================================ norm

@SETTINGS
@given(array_dim(min_dims=1, min_side=1), st.booleans(),
       st.sampled_from([2, "fro", 1, math.inf, -math.inf, 3, 1.5, 0.5, 0]))
def test_norm(device, ad, keepdim, p, ):
    a, dim = ad
    # PyTorch accumulates CPU float32 norms in float64; neurona squares in float32, where
    # |x| < 1e-19 underflows.  Keep the values away from that range.
    a = np.where(np.abs(a) < 1e-6, np.float32(0), a)
    if p == "fro" and isinstance(dim, int):
        dim = (dim,)
    if p == "fro" and isinstance(dim, tuple):
        dim = dim[:2]          # torch refuses 'fro' over 3+ dims (neurona takes the 2-norm)
    kind = "exact" if p in (1, math.inf, -math.inf, 0) else "transcendental"
    grad = p not in (0.5,) or not (a == 0).any()
    check_parity(lambda x: x.norm(p, dim, keepdim), lambda x: x.norm(p, dim, keepdim), [a],
                 kind="matmul" if kind == "exact" else kind, grad=grad, device=device)


@pytest.mark.parametrize("p", [2, 1, 3, math.inf])
def test_norm_gradient_safe_at_zero(p):
    a = np.zeros((2, 3), dtype=np.float32)
    a[1] = [1.0, -2.0, 0.0]
    check_parity(lambda x: x.norm(p, 1), lambda x: x.norm(p, 1), [a])
    n = nr.zeros(3, requires_grad=True)
    n.norm().backward()
    assert np.all(np.isfinite(n.grad._data)) and not n.grad._data.any()


# ============================================================================ reshape / view

@st.composite
def reshape_case(draw):
    """(array, new shape): the new shape regroups the old sizes (same product), maybe with
    one -1."""
    shape = draw(shapes(0, 4, 0, 4))
    a = draw(float_arrays(shape))
    sizes = list(shape)
    sizes = draw(st.permutations(sizes)) if sizes else []
    new = []
    for s in sizes:
        if new and draw(st.booleans()):
            new[-1] *= s
        else:
            new.append(s)
    if draw(st.booleans()):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and math.prod(new) > 0 and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return a, tuple(new)


@SETTINGS
@given(reshape_case(), st.booleans())
def test_reshape_view(device, case, transposed):
    a, new = case
    # transposed: a non-contiguous input (reshape may have to copy)
    pre = (lambda x: x.transpose(0, -1)) if transposed and a.ndim else (lambda x: x)
    check_parity(lambda x: pre(x).reshape(new), lambda x: pre(x).reshape(new), [a], device=device)
    if new:
        check_parity(lambda x: pre(x).reshape(*new), lambda x: pre(x).reshape(*new), [a],
                     device=device)
    if not transposed:
        check_parity(lambda x: x.view(new), lambda x: x.view(new), [a], device=device)
    check_parity(lambda x: nr.reshape(x, new), lambda x: torch.reshape(x, new), [a], device=device)


def test_view_shares_memory_and_version_reshape_copy_does_not():
    x = nr.arange(6.0).reshape(2, 3)
    v = x.view(3, 2)
    assert v._version is x._version
    with nr.no_grad():
        v.add_(1)
    assert x.version == 1 and x._data[0, 0] == 1.0
    xt = x.t()                                   # non-contiguous: reshape copies
    c = xt.reshape(6)
    assert c._version is not x._version
    with nr.no_grad():
        c.add_(100)
    assert x._data.max() < 100
    # a non-contiguous reshape that needs no copy is still a view
    u = xt.reshape(3, 2, 1)
    assert u._version is x._version
    assert np.shares_memory(u._data, x._data)


def test_view_as_reshape_as_and_view_dtype():
    a, b = random_array((2, 6)), random_array((3, 4))
    check_parity(lambda x, y: x.view_as(y), lambda x, y: x.view_as(y), [a, b])
    check_parity(lambda x, y: x.reshape_as(y), lambda x, y: x.reshape_as(y), [a, b])
    assert_close(nr.tensor(a).view(nr.int32), torch.tensor(a).view(torch.int32))


def test_reshape_errors():
    x = nr.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"view: shape \(4,\) is invalid for input of size 6 "
                                           r"with shape \(2, 3\).*reshape.*contiguous"):
        x.view(4)
    with pytest.raises(RuntimeError, match=r"reshape: shape \(4, -1\).*size 6.*not divisible"):
        x.reshape(4, -1)
    with pytest.raises(RuntimeError, match=r"reshape.*only one dimension can be -1"):
        x.reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"reshape: shape \(5,\).*5 elements.*6"):
        x.t().reshape(5)


# ============================================================================ permute / transpose

@SETTINGS
@given(shapes(0, 4, 0, 4), st.data())
def test_permute_transpose(shape, data):
    a = data.draw(float_arrays(shape))
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)))
    perm = tuple(p - nd if data.draw(st.booleans()) else p for p in perm)
    if nd:
        check_parity(lambda x: x.permute(*perm), lambda x: x.permute(*perm), [a])
    check_parity(lambda x: nr.permute(x, perm), lambda x: torch.permute(x, perm), [a])
    n = max(nd, 1)
    d0, d1 = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    check_parity(lambda x: x.transpose(d0, d1), lambda x: x.transpose(d0, d1), [a])
    check_parity(lambda x: nr.swapaxes(x, d0, d1), lambda x: torch.swapaxes(x, d0, d1), [a])
    if nd <= 2:
        check_parity(lambda x: x.t(), lambda x: x.t(), [a])
        check_parity(lambda x: x.T, lambda x: x.T, [a])
    if nd >= 2:
        check_parity(lambda x: x.mT, lambda x: x.mT, [a])
        check_parity(lambda x: x.permute(*reversed(range(nd))),
                     lambda x: x.permute(*reversed(range(nd))), [a])
        assert nr.tensor(a).T.shape == shape[::-1]


def test_movedim(device):
    a = random_array((2, 3, 4, 5))
    for s, d in [(0, -1), ((0, 1), (2, 0)), (-1, 1)]:
        check_parity(lambda x: x.movedim(s, d), lambda x: x.movedim(s, d), [a], device=device)


def test_permute_transpose_errors():
    x = nr.zeros(2, 3)
    with pytest.raises(RuntimeError,
                       match=r"permute: the tensor has 2 dimension.*\(2, 3\).*1 dims"):
        x.permute(0)
    with pytest.raises(RuntimeError, match=r"permute.*same dimension twice"):
        x.permute(0, -2)
    with pytest.raises(IndexError, match=r"transpose: dimension 2 is out of range.*\[-2, 1\]"):
        x.transpose(0, 2)
    with pytest.raises(RuntimeError, match=r"t\(\) expects.*<= 2.*3"):
        nr.zeros(1, 2, 3).t()
    with pytest.raises(RuntimeError, match=r"mT.*matrices"):
        nr.zeros(3).mT


def test_transpose_is_a_view():
    x = nr.zeros(2, 3)
    y = x.transpose(0, 1)
    assert y._version is x._version and np.shares_memory(x._data, y._data)


# ============================================================================ squeeze / unsqueeze

@SETTINGS
@given(shapes(0, 4, 0, 2), st.data())
def test_squeeze_unsqueeze(device, shape, data):
    a = data.draw(float_arrays(shape))
    nd = len(shape)
    check_parity(lambda x: x.squeeze(), lambda x: x.squeeze(), [a], device=device)
    dim = data.draw(dims(nd, allow_none=False))      # size != 1 dims are left alone
    check_parity(lambda x: x.squeeze(dim), lambda x: x.squeeze(dim), [a], device=device)
    u = data.draw(st.integers(-nd - 1, nd))
    check_parity(lambda x: x.unsqueeze(u), lambda x: x.unsqueeze(u), [a], device=device)


def test_squeeze_unsqueeze_errors():
    with pytest.raises(IndexError, match=r"unsqueeze: dimension 3.*\[-3, 2\]"):
        nr.zeros(2, 3).unsqueeze(3)
    with pytest.raises(IndexError, match=r"squeeze: dimension -3.*\[-2, 1\]"):
        nr.zeros(2, 1).squeeze(-3)


# ============================================================================ expand

@SETTINGS
@given(shapes(0, 3, 1, 3), st.data())
def test_expand(device, shape, data):
    base = tuple(data.draw(st.sampled_from([1, s])) for s in shape)
    a = data.draw(float_arrays(base))
    lead = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
    sizes = lead + tuple(-1 if (b == s and data.draw(st.booleans())) else s
                         for b, s in zip(base, shape))
    target = lead + shape
    if sizes:
        check_parity(lambda x: x.expand(*sizes), lambda x: x.expand(*sizes), [a], device=device)
    check_parity(lambda x: x.expand(sizes), lambda x: x.expand(sizes), [a], device=device)
    check_parity(lambda x: nr.broadcast_to(x, target), lambda x: torch.broadcast_to(x, target), [a],
                 device=device)
    b = np.zeros(target, np.float32)
    check_parity(lambda x, y: x.expand_as(y), lambda x, y: x.expand_as(y), [a, b],
                 requires_grad=[True, False], device=device)


def test_expand_errors():
    x = nr.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"expand: the expanded size of the tensor \(4\) must "
                                           r"match the existing size \(3\).*dimension 1"):
        x.expand(2, 4)
    with pytest.raises(RuntimeError, match=r"expand: the number of sizes given \(1\).*\(2\)"):
        x.expand(3)


# ============================================================================ flatten / unflatten

@SETTINGS
@given(shapes(0, 4, 0, 3), st.data(), st.booleans())
def test_flatten_unflatten(device, shape, data, transposed):
    a = data.draw(float_arrays(shape))
    nd = len(shape)
    n = max(nd, 1)
    s = data.draw(st.integers(-n, n - 1))
    e = data.draw(st.integers(-n, n - 1))
    pre = (lambda x: x.transpose(0, -1)) if transposed and nd else (lambda x: x)
    _both_raise_or_compare(lambda x: pre(x).flatten(s, e), lambda x: pre(x).flatten(s, e), [a])
    check_parity(lambda x: pre(x).flatten(), lambda x: pre(x).flatten(), [a], device=device)
    if nd and 0 not in shape:
        d = data.draw(st.integers(-nd, nd - 1))
        size = shape[d]
        divs = [k for k in range(1, size + 1) if size % k == 0]
        k = data.draw(st.sampled_from(divs))
        sizes = (k, -1) if data.draw(st.booleans()) else (k, size // k)
        check_parity(lambda x: x.unflatten(d, sizes), lambda x: x.unflatten(d, sizes), [a],
                     device=device)


def test_flatten_unflatten_errors():
    with pytest.raises(RuntimeError, match=r"flatten: start_dim \(1\) can't come after end_dim "
                                           r"\(0\)"):
        nr.zeros(2, 3).flatten(1, 0)
    with pytest.raises(RuntimeError, match=r"unflatten: sizes \(2, 2\).*dim 1 \(3\)"):
        nr.zeros(2, 3).unflatten(1, (2, 2))


# ============================================================================ cat / stack

@SETTINGS
@given(shapes(1, 3, 0, 3), st.integers(1, 4), st.data())
def test_cat(device, shape, k, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    arrays = []
    for _ in range(k):
        s = list(shape)
        s[dim] = data.draw(st.integers(0, 3))
        arrays.append(data.draw(float_arrays(tuple(s))))
    rg = [data.draw(st.booleans()) for _ in range(k)]
    check_parity(lambda *xs: nr.cat(xs, dim), lambda *xs: torch.cat(xs, dim), arrays,
                 requires_grad=rg, device=device)
    check_parity(lambda *xs: nr.concat(list(xs), dim=dim), lambda *xs: torch.concat(xs, dim=dim),
                 arrays, device=device)


def test_cat_mixed_dtypes_and_legacy_empty(device):
    a, b = random_array((2, 3)), random_array((1, 3)).astype(np.float64)
    check_parity(lambda x, y: nr.cat([x, y]), lambda x, y: torch.cat([x, y]), [a, b], device=device)
    i = np.array([[1, 2, 3]])
    check_parity(lambda x, y: nr.cat([x, y]), lambda x, y: torch.cat([x, y]), [a, i], device=device)
    e = np.zeros((0,), np.float32)
    check_parity(lambda x, y, z: nr.cat([x, y, z]), lambda x, y, z: torch.cat([x, y, z]),
                 [a, e, a], device=device)
    check_parity(lambda x, y: nr.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1), [e, a],
                 device=device)
    check_parity(lambda x, y: nr.cat([x, y]), lambda x, y: torch.cat([x, y]),
                 [e, np.ones(3, np.float32)], device=device)


def test_cat_errors():
    a = nr.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"cat: sizes of tensors must match except in dimension "
                                           r"0: expected size 3 but got size 4 in dimension 1 "
                                           r"for tensor number 1"):
        nr.cat([a, nr.zeros(2, 4)])
    with pytest.raises(RuntimeError, match=r"cat: tensors must have the same number of dimensions"
                                           r".*tensor 1 has 1 \(shape \(3,\)\)"):
        nr.cat([a, nr.zeros(3)])
    with pytest.raises(ValueError, match=r"cat: expected a non-empty list"):
        nr.cat([])
    with pytest.raises(RuntimeError, match=r"cat: zero-dimensional"):
        nr.cat([nr.tensor(1.0), nr.tensor(2.0)])
    with pytest.raises(IndexError, match=r"cat: dimension 2 is out of range"):
        nr.cat([a, a], 2)


@SETTINGS
@given(shapes(0, 3, 0, 3), st.integers(1, 3), st.data())
def test_stack(device, shape, k, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd - 1, nd))
    arrays = [data.draw(float_arrays(shape)) for _ in range(k)]
    check_parity(lambda *xs: nr.stack(xs, dim), lambda *xs: torch.stack(xs, dim), arrays,
                 device=device)


def test_stack_hstack_vstack():
    a, b = random_array((2, 3)), random_array((2, 3), seed=3).astype(np.float64)
    check_parity(lambda x, y: nr.stack([x, y], 1), lambda x, y: torch.stack([x, y], 1), [a, b])
    check_parity(lambda x, y: nr.hstack([x, y]), lambda x, y: torch.hstack([x, y]), [a, b])
    check_parity(lambda x, y: nr.vstack([x, y]), lambda x, y: torch.vstack([x, y]), [a, b])
    v = random_array((3,))
    check_parity(lambda x, y: nr.vstack([x, y]), lambda x, y: torch.vstack([x, y]), [v, v])
    with pytest.raises(RuntimeError, match=r"stack: expects each tensor to be equal size, but got "
                                           r"\(2, 3\) at entry 0 and \(2, 4\) at entry 1"):
        nr.stack([nr.zeros(2, 3), nr.zeros(2, 4)])


# ============================================================================ split, chunk, unbind

@SETTINGS
@given(shapes(1, 3, 0, 5), st.data())
def test_split_chunk_unbind(device, shape, data):
    a = data.draw(float_arrays(shape))
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    n = shape[dim]
    size = data.draw(st.integers(1, 4))
    check_parity(lambda x: x.split(size, dim), lambda x: x.split(size, dim), [a], device=device)
    # only some pieces used: the others get zero gradient
    check_parity(lambda x: x.split(size, dim)[::2], lambda x: x.split(size, dim)[::2], [a],
                 device=device)
    parts = data.draw(st.lists(st.integers(0, n), min_size=0, max_size=3))
    sizes = [p for p in parts if p]
    rest = n - sum(sizes)
    sizes = sizes + [rest] if rest >= 0 else [n]
    check_parity(lambda x: nr.split(x, sizes, dim), lambda x: torch.split(x, sizes, dim), [a],
                 device=device)
    chunks = data.draw(st.integers(1, 4))
    check_parity(lambda x: x.chunk(chunks, dim), lambda x: x.chunk(chunks, dim), [a], device=device)
    check_parity(lambda x: x.chunk(chunks, dim)[-1:], lambda x: x.chunk(chunks, dim)[-1:], [a],
                 device=device)
    check_parity(lambda x: x.unbind(dim), lambda x: x.unbind(dim), [a], device=device)
    check_parity(lambda x: x.unbind(dim)[:1], lambda x: x.unbind(dim)[:1], [a], device=device)


def test_split_errors():
    x = nr.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"split: split sizes \[2, 2\] must be non-negative and "
                                           r"sum exactly to 3"):
        x.split([2, 2], 1)
    with pytest.raises(RuntimeError, match=r"split: split_size must be positive"):
        x.split(0, 1)
    with pytest.raises(IndexError, match=r"unbind: dimension 2 is out of range"):
        x.unbind(2)


# ============================================================================ pad / flip / repeat

@SETTINGS
@given(shapes(1, 3, 1, 4), st.data())
def test_pad_constant(shape, data):
    a = data.draw(float_arrays(shape))
    nd = len(shape)
    k = data.draw(st.integers(1, nd))
    pad = []
    for i in range(k):
        n = shape[nd - 1 - i]
        lo = data.draw(st.integers(-n, 3))
        hi = data.draw(st.integers(-(n + lo) if n + lo > 0 else 0, 3))
        pad += [lo, hi]
    value = data.draw(st.sampled_from([0.0, -1.5]))
    _both_raise_or_compare(lambda x: nr.pad(x, pad, value=value),
                           lambda x: TF.pad(x, pad, value=value), [a])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 5), (2, 1)), ((1, 2, 4, 5), (1, 2, 3, 0)),
                                       ((2, 3, 4), (0, 3)), ((1, 1, 3, 3, 3), (1, 1, 2, 0, 0, 2))])
def test_pad_modes(device, mode, shape, pad):
    a = random_array(shape)
    check_parity(lambda x: nr.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), [a],
                 device=device)


def test_pad_errors():
    with pytest.raises(RuntimeError, match=r"pad: padding length 6 is more than twice.*\(2, 3\)"):
        nr.pad(nr.zeros(2, 3), (1, 1, 1, 1, 1, 1))
    with pytest.raises(RuntimeError, match=r"pad: the padding length must be even"):
        nr.pad(nr.zeros(2, 3), (1,))
    with pytest.raises(RuntimeError, match=r"pad: reflect padding \(3, 3\) must be smaller than "
                                           r"the size 3"):
        nr.pad(nr.zeros(1, 2, 3), (3, 3), mode="reflect")


@SETTINGS
@given(shapes(0, 4, 0, 4), st.data())
def test_flip(device, shape, data):
    a = data.draw(float_arrays(shape))
    d = data.draw(dims(len(shape), allow_none=False))
    d = (d,) if isinstance(d, int) else d
    check_parity(lambda x: x.flip(d), lambda x: x.flip(d), [a], device=device)
    check_parity(lambda x: nr.flip(x, d), lambda x: torch.flip(x, d), [a], device=device)


def test_flip_copies_like_torch():
    x = nr.arange(4.0)
    y = x.flip(0)
    assert not np.shares_memory(x._data, y._data)


@SETTINGS
@given(shapes(0, 3, 0, 3), st.data())
def test_repeat(device, shape, data):
    a = data.draw(float_arrays(shape))
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=len(shape),
                                    max_size=len(shape) + 2)))
    if reps:
        check_parity(lambda x: x.repeat(*reps), lambda x: x.repeat(*reps), [a], device=device)
    check_parity(lambda x: x.repeat(reps), lambda x: x.repeat(reps), [a], device=device)


def test_repeat_error():
    with pytest.raises(RuntimeError, match=r"repeat: the number of repeat sizes \(1\) can't be "
                                           r"smaller than the number of dimensions.*\(2"):
        nr.zeros(2, 3).repeat(2)


# ============================================================================ copies, casts

def test_contiguous_and_clone():
    a = random_array((3, 4))
    check_parity(lambda x: x.t().contiguous(), lambda x: x.t().contiguous(), [a])
    check_parity(lambda x: x.clone(), lambda x: x.clone(), [a])
    x = nr.tensor(a)
    assert x.contiguous() is x
    c = x.t().contiguous()
    assert c._data.flags.c_contiguous and not np.shares_memory(c._data, x._data)
    y = x.clone()
    assert not np.shares_memory(y._data, x._data)
    s = nr.tensor(2.0, requires_grad=True)
    assert isinstance(s.clone()._data, np.ndarray)


@pytest.mark.parametrize("method,tdt", [("float", torch.float32), ("double", torch.float64),
                                        ("half", torch.float16), ("long", torch.int64),
                                        ("int", torch.int32), ("bool", torch.bool)])
def test_cast_methods(device, method, tdt):
    a = random_array((2, 3), seed=5)
    check_parity(lambda x: getattr(x, method)(), lambda x: getattr(x, method)(), [a],
                 kind="exact", rtol=1e-3 if method == "half" else None,
                 atol=1e-3 if method == "half" else None, device=device)
    check_parity(lambda x: x.to(tdt), lambda x: x.to(tdt), [a.astype(np.float64)],
                 rtol=1e-3 if method == "half" else None, atol=1e-3 if method == "half" else None,
                 device=device)


def test_cast_gradient_dtype_and_identity():
    x = nr.randn(2, 3, requires_grad=True)
    assert x.float() is x and x.to(nr.float32) is x and x.to("cpu") is x
    y = x.double()
    assert y.dtype == nr.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == nr.float32
    np.testing.assert_allclose(x.grad._data, 2 * x._data, rtol=1e-6)
    assert not x.long().requires_grad                          # ints stop the gradient
    assert x.to(nr.float32, copy=True) is not x
    o = nr.zeros(2, dtype=nr.float64)
    assert x.to(o).dtype == nr.float64 and x.type_as(o).dtype == nr.float64
    assert x.to("cpu", nr.float16).dtype == nr.float16
    assert x.to(device="cpu", dtype=nr.int64).dtype == nr.int64
    assert x.type() == "neurona.FloatTensor"
    assert x.type("torch.DoubleTensor").dtype == nr.float64
    assert x.type(nr.int32).dtype == nr.int32
    assert x.cpu() is x


@pytest.mark.skipif(nr.backend.cuda_is_available(), reason="this machine has a GPU")
def test_cuda_is_a_clear_error_without_a_gpu():
    x = nr.zeros(2)
    with pytest.raises(RuntimeError, match=r"cuda.*not available.*CuPy"):
        x.cuda()
    with pytest.raises(RuntimeError, match=r"cuda.*not available"):
        x.to("cuda")
    with pytest.raises(ValueError, match=r"neither a device"):
        x.to("gpu")


@pytest.mark.skipif(not nr.backend.cuda_is_available(), reason="needs a CUDA GPU and CuPy")
def test_device_move_round_trip():
    a = random_array((3, 4))
    x = nr.tensor(a, requires_grad=True)
    y = x.cuda()
    assert y.device.type == "cuda"
    z = (y.sum(1) * 2).max().cpu() + y.cpu().mean()
    z.backward()
    assert x.grad.device.type == "cpu"
    t = torch.tensor(a, requires_grad=True)
    ((t.sum(1) * 2).max() + t.mean()).backward()
    assert_close(x.grad, t.grad, kind="matmul")


# ============================================================================ 0-d results

def test_zero_dim_results_are_arrays():
    x = nr.randn(3, requires_grad=True)
    for out in (x.sum(), x.mean(), x.max(), x.amax(), x.var(), x.norm(), x.prod(),
                x.logsumexp(0), x.argmax(), x.all(), x.max(0).values,
                x.split(1)[0].reshape(())):
        assert type(out._data) is np.ndarray and out.shape == ()


# ============================================================================ error messages

def test_reduction_errors_name_op_and_range():
    x = nr.zeros(2, 3)
    for op in ("sum", "mean", "amax", "logsumexp", "prod", "cumsum", "argmax", "norm"):
        with pytest.raises(IndexError, match=fr"{op}: dimension 2 is out of range for a tensor "
                                             r"with 2 dimension\(s\) \(expected a value in "
                                             r"\[-2, 1\]\)"):
            getattr(x, op)(dim=2)
    with pytest.raises(IndexError, match=r"var: dimension -3 is out of range"):
        x.var(-3)
    with pytest.raises(RuntimeError, match=r"sum: dim \(0, -2\) names the same dimension twice"):
        x.sum((0, -2))
    with pytest.raises(IndexError, match=r"max: dimension 5 is out of range"):
        x.max(5)
    with pytest.raises(RuntimeError, match=r"max\(\): the input has no elements.*shape \(0, 3\)"):
        nr.zeros(0, 3).max()
    with pytest.raises(IndexError, match=r"min\(\): expected reduction dim 0 to have non-zero "
                                         r"size.*\(0, 3\)"):
        nr.zeros(0, 3).min(0)
    with pytest.raises(IndexError, match=r"amax\(\): expected reduction dim 0 to have non-zero"):
        nr.zeros(0, 3).amax(0)
    with pytest.raises(RuntimeError, match=r"norm: expected a floating point.*int64"):
        nr.tensor([1, 2]).norm()


# ============================================================================ gradient checks

def _g(shape, seed=0, low=-2.0, high=2.0):
    return random_array(shape, np.float64, low, high, seed)


GRADCHECKS = {
    "sum": (lambda x: x.sum((0, -1), keepdim=True), [(2, 3, 2)]),
    "sum_all": (lambda x: x.sum(), [(2, 3)]),
    "mean": (lambda x: x.mean(1), [(2, 3, 2)]),
    "var": (lambda x: x.var(1, correction=0), [(3, 4)]),
    "std": (lambda x: x.std((0, 1), keepdim=True), [(3, 4)]),
    "max_dim": (lambda x: x.max(1).values, [(3, 4)]),
    "min_all": (lambda x: x.min(), [(3, 4)]),
    "amax": (lambda x: x.amax((0, 2)), [(2, 3, 2)]),
    "logsumexp": (lambda x: x.logsumexp((0, 1)), [(2, 3)]),
    "prod": (lambda x: x.prod(1), [(3, 4)]),
    "prod_all": (lambda x: x.prod(), [(2, 3)]),
    "cumsum": (lambda x: x.cumsum(-1), [(2, 4)]),
    "norm2": (lambda x: x.norm(dim=1), [(3, 4)]),
    "norm3": (lambda x: x.norm(3, dim=0), [(3, 4)]),
    "norm_inf": (lambda x: x.norm(math.inf, dim=1), [(3, 4)]),
    "reshape": (lambda x: x.reshape(4, -1), [(2, 3, 2)]),
    "reshape_copy": (lambda x: x.t().reshape(-1), [(3, 4)]),
    "view": (lambda x: x.view(6, 2), [(2, 3, 2)]),
    "permute": (lambda x: x.permute(2, 0, 1) * 2, [(2, 3, 2)]),
    "transpose": (lambda x: x.transpose(0, -1), [(2, 3, 2)]),
    "mT": (lambda x: x.mT, [(2, 3, 2)]),
    "squeeze": (lambda x: x.squeeze(1), [(2, 1, 3)]),
    "unsqueeze": (lambda x: x.unsqueeze(-2), [(2, 3)]),
    "expand": (lambda x: x.expand(2, 3, -1), [(3, 1)]),
    "flatten": (lambda x: x.flatten(1), [(2, 3, 2)]),
    "unflatten": (lambda x: x.unflatten(1, (2, 2)), [(3, 4)]),
    "cat": (lambda x, y: nr.cat([x, y, x], 1), [(2, 3), (2, 1)]),
    "stack": (lambda x, y: nr.stack([x, y], -1), [(2, 3), (2, 3)]),
    "split": (lambda x: x.split([1, 3], 1), [(2, 4)]),
    "chunk": (lambda x: x.chunk(2, 0)[1], [(3, 2)]),
    "unbind": (lambda x: x.unbind(1)[::2], [(2, 3)]),
    "pad": (lambda x: nr.pad(x, (1, -1, 2, 0), value=3.0), [(2, 3)]),
    "pad_reflect": (lambda x: nr.pad(x, (2, 1), mode="reflect"), [(2, 4)]),
    "pad_circular": (lambda x: nr.pad(x, (1, 2, 1, 0), mode="circular"), [(1, 3, 3)]),
    "flip": (lambda x: x.flip(0, 1), [(2, 3)]),
    "repeat": (lambda x: x.repeat(2, 1, 3), [(2, 2)]),
    "clone": (lambda x: x.clone() * x, [(2, 2)]),
    "contiguous": (lambda x: x.t().contiguous(), [(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck(name):
    fn, shapes_ = GRADCHECKS[name]
    gradcheck64(fn, *[_g(s, seed=i) for i, s in enumerate(shapes_)])


def test_gradcheck_prod_with_zeros():
    a = _g((3, 4))
    a[0, 1] = 0.0
    a[2, 0] = a[2, 3] = 0.0
    # the finite differences at a zero are exact for a product (linear in each element)
    gradcheck64(lambda x: x.prod(1), a)


def test_gradcheck_cast_through_float32():
    # float64 -> float32 -> float64 rounds to float32: finite differences need a larger step
    gradcheck64(lambda x: x.float().double() * x, _g((2, 2)), eps=1e-3, atol=1e-3, rtol=1e-3)
