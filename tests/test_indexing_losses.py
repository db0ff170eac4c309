"""Indexing (x[i], x[i] = v, gather/scatter, index_select, take_along_dim, embedding,
one_hot, nonzero, masked_select), softmax family, losses, dropout, linear and normalize:
forward and backward parity with PyTorch, float64 gradient checks, error messages.

PyTorch (CPU) is the oracle.  Tolerances (float32), see also ``tests/helpers.py``:

* indexing, gather/scatter, dropout masks: ``kind="exact"`` -- rtol 1e-5, atol 1e-6.  The
  values are copied, not computed; gradients are sums of a few float32 numbers, added in
  the same or a different order (scatter-add of repeated indices).
* softmax / log_softmax / losses / linear / normalize: rtol 1e-5, atol 1e-6 wherever the
  result is a short formula; losses with exp/log inside (cross-entropy, BCE, KL) use
  ``kind="transcendental"`` (rtol 1e-4, atol 1e-5): NumPy's and PyTorch's exp/log differ
  by an ulp or two, and a mean over N terms sums them in a different order.
* float64 finite-difference checks (``gradcheck64``: eps 1e-6, atol 1e-5, rtol 1e-3) prove
  every backward formula independently of PyTorch.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import neurona as nr
import neurona.nn.functional as F
from neurona.ops.indexing import IndexOutOfRange
from helpers import assert_close, check_parity, gradcheck64, random_array, to_numpy

FAST = settings(max_examples=30)


def _t(a, rg=False):
    """The same numbers as a neurona and a torch tensor."""
    a = np.asarray(a)
    rg = rg and a.dtype.kind == "f"
    return nr.tensor(a, requires_grad=rg), torch.tensor(a).requires_grad_(rg)


def _backward_both(n, t, seed=0):
    g = np.random.default_rng(seed).standard_normal(tuple(t.shape)).astype(to_numpy(t).dtype)
    n.backward(nr.tensor(g))
    t.backward(torch.tensor(g))


def _index_pair(index):
    """An index tuple for neurona (arrays as neurona tensors) and for torch."""
    def conv(i, lib):
        if isinstance(i, np.ndarray):
            return nr.tensor(i) if lib == "nr" else torch.tensor(i)
        return i
    if not isinstance(index, tuple):
        return conv(index, "nr"), conv(index, "torch")
    return tuple(conv(i, "nr") for i in index), tuple(conv(i, "torch") for i in index)


# ============================================================================ strategies

@st.composite
def basic_indices(draw):
    """(shape, index) with ints (negative too), positive-step slices, None and ``...``."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            step = draw(st.none() | st.integers(1, 3))
            parts.append(slice(start, stop, step))
        elif kind == "full":
            parts.append(slice(None))
        else:
            parts.append(None)
            parts.append(slice(None))
    cut = draw(st.integers(0, len(parts)))
    parts = parts[:cut]
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), Ellipsis)
    return shape, tuple(parts) if len(parts) != 1 or draw(st.booleans()) else parts[0]


@st.composite
def advanced_indices(draw):
    """(shape, index): 1-2 integer index arrays (repeats, negatives) that broadcast,
    adjacent or separated by a slice, with optional basic parts around them."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    k = draw(st.integers(1, min(2, nd)))
    ishape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))
    dims = sorted(draw(st.lists(st.integers(0, nd - 1), min_size=k, max_size=k, unique=True)))
    index = []
    for d in range(nd):
        if d in dims:
            sh = ishape if d == dims[0] or draw(st.booleans()) else (1,) * len(ishape)
            vals = draw(hnp.arrays(np.int64, sh, elements=st.integers(-shape[d], shape[d] - 1)))
            index.append(vals)
        elif d < dims[-1]:
            index.append(draw(st.sampled_from([slice(None), slice(0, None, 2)])))
    return shape, tuple(index)


# ============================================================================ x[index]

@FAST
@given(basic_indices())
def test_basic_indexing_parity_and_view(case):
    shape, index = case
    a = random_array(shape)
    (y, ty), = [(None, None)]
    x, tx = _t(a, rg=True)
    y, ty = x[index], tx[index]
    assert_close(y, ty)
    _backward_both(y, ty)
    assert_close(x.grad, tx.grad)
    # a view: shares memory and the version counter
    base = nr.tensor(a)
    v = base[index]
    if v.numel():
        v.add_(1.0)
        assert base.version == v.version == 1
        expected = a.copy()
        expected[index] += 1
        np.testing.assert_array_equal(base.numpy(), expected)


@FAST
@given(advanced_indices())
def test_advanced_indexing_parity_repeats_accumulate(case):
    shape, index = case
    a = random_array(shape, seed=1)
    x, tx = _t(a, rg=True)
    ni, ti = _index_pair(index)
    y, ty = x[ni], tx[ti]
    assert_close(y, ty)
    if ty.numel():
        _backward_both(y, ty)
        assert_close(x.grad, tx.grad)
    # lists and NumPy arrays work as index arrays too
    as_lists = tuple(i.tolist() if isinstance(i, np.ndarray) else i for i in index)
    if all(not isinstance(i, list) or np.asarray(i).ndim > 0 for i in as_lists):
        np.testing.assert_array_equal(nr.tensor(a)[as_lists].numpy(), ty.detach().numpy())


def test_repeated_index_gradient_counts_copies():
    x, tx = _t(np.arange(5.0, dtype=np.float32), rg=True)
    idx = [0, 0, 0, 3, -1, 4]
    y, ty = x[idx], tx[idx]
    y.backward(nr.ones(6))
    ty.backward(torch.ones(6))
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 0, 1, 2])
    assert_close(x.grad, tx.grad)


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4), st.data())
def test_boolean_mask_parity(shape, data):
    a = random_array(shape, seed=2)
    k = data.draw(st.integers(1, len(shape)))
    mask = data.draw(hnp.arrays(np.bool_, shape[:k]))
    x, tx = _t(a, rg=True)
    y, ty = x[nr.tensor(mask)], tx[torch.tensor(mask)]
    assert_close(y, ty)
    _backward_both(y, ty)
    assert_close(x.grad, tx.grad)
    # a 1-d mask combined with an integer index (PyTorch applies the integer first)
    if k == 1 and len(shape) >= 2 and shape[1] > 0:
        x2, tx2 = _t(a, rg=True)
        y2, ty2 = x2[nr.tensor(mask), -1], tx2[torch.tensor(mask), -1]
        assert_close(y2, ty2)
        _backward_both(y2, ty2)
        assert_close(x2.grad, tx2.grad)


def test_empty_selections():
    x, tx = _t(random_array((3, 4)), rg=True)
    for idx in ([], np.zeros(0, np.int64), np.zeros(3, bool), slice(2, 1)):
        ni, ti = _index_pair(idx)
        y, ty = x[ni], tx[ti if not isinstance(ti, list) else torch.tensor(ti, dtype=torch.long)]
        assert tuple(y.shape) == tuple(ty.shape)
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
        x.grad = None


def test_indexing_special_cases():
    a = random_array((3, 4, 5))
    x, tx = _t(a)
    cases = [(0, 1, 2), (..., 1), (None, ..., None), (True,), (False,), (1, None, [0, 2]),
             ([0, 1], slice(None), [2, 3]), ([[0, 1], [2, 2]],), (range(2),)]
    for idx in cases:
        tidx = tuple(list(i) if isinstance(i, range) else i for i in idx)
        assert_close(x[idx], tx[tidx])
    # a 0-d result is a 0-d tensor (not a NumPy scalar); a 0-d int tensor index copies
    assert x[0, 1, 2].shape == () and isinstance(x[0, 1, 2]._data, np.ndarray)
    y = x[nr.tensor(1)]
    assert y.shape == (4, 5) and not np.shares_memory(y._data, x._data)
    # uint8 tensors are masks, as in PyTorch
    m = np.array([1, 0, 1], np.uint8)
    assert_close(x[nr.tensor(m)], tx[torch.tensor(m).bool()])
    # Tensor-valued slice bounds and NumPy integers
    assert_close(x[nr.tensor(1):np.int64(3)], tx[1:3])


def test_indexing_errors():
    x = nr.randn(3, 4)
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match=r"index -5 is out of bounds for dimension 1 with size 4"):
        x[:, -5]
    with pytest.raises(IndexError, match=r"index 7 is out of bounds for dimension 1 with size 4"):
        x[0, [1, 7]]
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for dimension 0 with size 3"):
        x[nr.tensor([0, 3])]
    with pytest.raises(ValueError, match=r"step must be greater than zero.*flip"):
        x[::-1]
    with pytest.raises(ValueError, match=r"step must be greater than zero"):
        x[:, ::0]
    with pytest.raises(IndexError, match=r"must be long, int, byte or bool.*float32"):
        x[nr.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\).*\(3,\)"):
        x[nr.tensor([True, False])]
    with pytest.raises(IndexError, match=r"could not be broadcast together with shapes \(2,\), \(3,\)"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match=r"too many indices for a tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"can't be used as an index"):
        x["a"]
    with pytest.raises(IndexError, match=r"single ellipsis"):
        x[..., ...]
    # the error is also a RuntimeError (as PyTorch's gather raises)
    assert issubclass(IndexOutOfRange, RuntimeError)


def test_index_backward_uses_scatter_add_fast_path():
    # >= 256 indices along dim 0 take the sort + reduceat path of backend.scatter_add_at
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 3)).astype(np.float32)
    idx = rng.integers(-50, 50, size=600)
    x, tx = _t(a, rg=True)
    y, ty = x[nr.tensor(idx)], tx[torch.tensor(idx)]
    _backward_both(y, ty)
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-5)


# ============================================================================ x[index] = v

@FAST
@given(basic_indices(), st.data())
def test_setitem_outside_graph_writes_in_place(case, data):
    shape, index = case
    a = random_array(shape)
    x, tx = _t(a)
    region = tx[index].shape
    vshape = data.draw(st.sampled_from([(), tuple(region), tuple(region)[1:]]))
    v = random_array(vshape, seed=3)
    view = x[(slice(None),) * 0 + (Ellipsis,)]          # a view taken before the write
    x[index] = nr.tensor(v)
    tx[index] = torch.tensor(v)
    assert_close(x, tx)
    assert x.version == 1 and view.version == 1
    np.testing.assert_array_equal(view.numpy(), x.numpy())
    x[index] = 2.5
    tx[index] = 2.5
    assert_close(x, tx)


@FAST
@given(advanced_indices(), st.booleans(), st.booleans())
def test_setitem_in_graph_gradients(case, self_grad, scalar_value):
    shape, index = case
    a = random_array(shape, seed=4)
    ni, ti = _index_pair(index)
    # distinct positions only: with repeats PyTorch picks an unspecified winner
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    if len(np.unique(positions)) != positions.size:
        return
    region = tuple(torch.zeros(shape)[ti].shape)
    v = random_array(() if scalar_value else region[-1:], seed=5)
    p, tp = _t(a, rg=True)
    w, tw = _t(v, rg=True)
    x = p * 1.0 if self_grad else nr.tensor(a)
    tx = tp * 1.0 if self_grad else torch.tensor(a)
    x[ni] = w
    tx[ti] = tw
    assert_close(x, tx)
    assert x.requires_grad
    _backward_both(x * 2.0, tx * 2.0)
    assert_close(w.grad, tw.grad, rtol=1e-5, atol=1e-5)
    if self_grad:
        assert_close(p.grad, tp.grad)


def test_setitem_number_and_mask_in_graph():
    a = random_array((3, 4), seed=6)
    p, tp = _t(a, rg=True)
    x, tx = p * 1.5, tp * 1.5
    x[x > 1.5] = 0.0
    tx[tx > 1.5] = 0.0
    x[:, 1] = x[:, 0]
    tx[:, 1] = tx[:, 0].clone()
    assert_close(x, tx)
    _backward_both(x, tx)
    assert_close(p.grad, tp.grad)


def test_setitem_value_dtype_and_broadcast():
    # a float64 value written into a float32 tensor: the value's gradient is float64
    p, tp = _t(random_array((2, 3, 4)), rg=True)
    v, tv = _t(random_array((1, 4), np.float64), rg=True)
    x, tx = p * 1.0, tp * 1.0
    x[:, 1] = v
    tx[:, 1] = tv
    assert_close(x, tx)
    _backward_both(x, tx)
    assert_close(v.grad, tv.grad)
    assert_close(p.grad, tp.grad)
    # a list value, outside the graph
    y, ty = _t(np.zeros((2, 3), np.float32))
    y[0] = [1, 2, 3]
    ty[0] = torch.tensor([1.0, 2.0, 3.0])
    assert_close(y, ty)


def test_setitem_saved_value_check_and_errors():
    w = nr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad.*no_grad"):
        w[0] = 1.0
    with nr.no_grad():
        w[0] = 1.0                                   # allowed: a parameter update
    assert w[0].item() == 1.0
    x = nr.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"value of shape \(3,\).*indexed region of shape \(4,\)"):
        x[0] = nr.ones(3)
    with pytest.raises(IndexError, match=r"index 9 is out of bounds for dimension 0 with size 3"):
        x[9] = 1.0
    # an op that saved x notices the write (version counters)
    a = nr.randn(3, requires_grad=True)
    y = a * 1.0
    z = y * y
    y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


# ============================================================================ gather & co

@st.composite
def gather_case(draw, smaller=True):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    ishape = tuple(draw(st.integers(0 if i == d else 1, 5 if i == d else n)) if smaller else n
                   for i, n in enumerate(shape))
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[d] - 1)))
    return shape, dim, index


@FAST
@given(gather_case())
def test_gather_parity(device, case):
    shape, dim, index = case
    check_parity(lambda x, i: x.gather(dim, i), lambda x, i: x.gather(dim, i),
                 [random_array(shape), index], device=device)
    check_parity(lambda x, i: nr.gather(x, dim, i), lambda x, i: torch.gather(x, dim, i),
                 [random_array(shape, np.float64), index], device=device)


@FAST
@given(gather_case())
def test_scatter_add_parity(case):
    shape, dim, index = case
    src = random_array(index.shape, seed=7)
    check_parity(lambda x, i, s: x.scatter_add(dim, i, s),
                 lambda x, i, s: x.scatter_add(dim, i, s), [random_array(shape), index, src])
    # a larger src: only the corner of index's shape is used, the rest gets gradient 0
    # (PyTorch's backward refuses a src larger than index, so compare with the corner)
    corner = tuple(slice(0, n) for n in index.shape)
    big = random_array(tuple(n + 1 for n in index.shape), seed=8)
    xs = nr.tensor(random_array(shape), requires_grad=True)
    s = nr.tensor(big, requires_grad=True)
    txs = torch.tensor(random_array(shape), requires_grad=True)
    ts = torch.tensor(big[corner], requires_grad=True)
    out, tout = xs.scatter_add(dim, nr.tensor(index), s), \
        txs.scatter_add(dim, torch.tensor(index), ts)
    assert_close(out, tout)
    _backward_both(out, tout)
    expected = np.zeros(big.shape, np.float32)
    expected[corner] = ts.grad.numpy()
    np.testing.assert_allclose(s.grad.numpy(), expected, rtol=1e-5, atol=1e-6)


@FAST
@given(gather_case())
def test_scatter_parity_distinct_positions(device, case):
    shape, dim, index = case
    d = dim % len(shape)
    # make the written positions distinct along dim (PyTorch leaves the winner unspecified)
    index = np.sort(index, axis=d)
    keep = np.ones(index.shape[d], bool)
    if index.shape[d] > 1:
        keep[1:] = (np.diff(index, axis=d) != 0).all(axis=tuple(i for i in range(index.ndim)
                                                                if i != d))
    index = np.compress(keep, index, axis=d)
    if np.unique(index, axis=d).shape != index.shape:
        return
    src = random_array(index.shape, seed=9)
    check_parity(lambda x, i, s: x.scatter(dim, i, s), lambda x, i, s: x.scatter(dim, i, s),
                 [random_array(shape), index, src], device=device)
    check_parity(lambda x, i: x.scatter(dim, i, 1.5), lambda x, i: x.scatter(dim, i, 1.5),
                 [random_array(shape), index], device=device)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_in_place_and_reduce():
    x, tx = _t(np.zeros((2, 5), np.float32))
    idx = np.array([[0, 1, 1, 4], [2, 2, 2, 0]])
    src = random_array((2, 4))
    x.scatter_add_(1, nr.tensor(idx), nr.tensor(src))
    tx.scatter_add_(1, torch.tensor(idx), torch.tensor(src))
    assert_close(x, tx)
    assert x.version == 1
    y, ty = _t(np.zeros((2, 5), np.float32))
    y.scatter_(1, nr.tensor(idx[:, :1]), nr.tensor(src[:, :1]))
    ty.scatter_(1, torch.tensor(idx[:, :1]), torch.tensor(src[:, :1]))
    assert_close(y, ty)
    assert_close(nr.tensor(np.ones((2, 5), np.float32)).scatter(1, nr.tensor(idx), nr.tensor(src), reduce="add"),
                 torch.ones(2, 5).scatter(1, torch.tensor(idx), torch.tensor(src), reduce="add"))


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_index_select_parity(device, shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    index = data.draw(hnp.arrays(np.int64, data.draw(st.sampled_from([(), (0,), (3,), (7,)])),
                                 elements=st.integers(0, n - 1)))
    check_parity(lambda x, i: x.index_select(dim, i), lambda x, i: x.index_select(dim, i),
                 [random_array(shape), index], device=device)


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_take_along_dim_parity(device, shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    # indices broadcast against input: some dims of size 1
    ishape = tuple(data.draw(st.sampled_from([1, n])) if i != dim else
                   data.draw(st.integers(0, 4)) for i, n in enumerate(shape))
    index = data.draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[dim] - 1)))
    check_parity(lambda x, i: nr.take_along_dim(x, i, dim),
                 lambda x, i: torch.take_along_dim(x, i, dim), [random_array(shape), index],
                 device=device)
    flat = data.draw(hnp.arrays(np.int64, (5,), elements=st.integers(0, int(np.prod(shape)) - 1)))
    check_parity(lambda x, i: nr.take_along_dim(x, i), lambda x, i: torch.take_along_dim(x, i),
                 [random_array(shape), flat], device=device)


def test_gather_scatter_errors():
    x = nr.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"gather: index 5 is out of bounds for dimension 0 with size 3"):
        x.gather(0, nr.tensor([[5]]))
    with pytest.raises(RuntimeError, match=r"gather: index -1 is out of bounds.*negative"):
        x.gather(1, nr.tensor([[-1]]))
    with pytest.raises(RuntimeError, match=r"gather: index must have the same number of dimensions"):
        x.gather(0, nr.tensor([1]))
    with pytest.raises(RuntimeError, match=r"gather: index \(2, 5\) must be no larger than input \(3, 4\)"):
        x.gather(0, nr.zeros(2, 5, dtype=nr.int64))
    with pytest.raises(RuntimeError, match=r"gather: index must be an integer.*\.long\(\)"):
        x.gather(0, nr.zeros(1, 1))
    with pytest.raises(IndexError, match=r"gather: dimension 2 is out of range"):
        x.gather(2, nr.zeros(1, 1, dtype=nr.int64))
    with pytest.raises(RuntimeError, match=r"scatter_add: src .* must have the dtype of input"):
        x.scatter_add(0, nr.zeros(1, 1, dtype=nr.int64), nr.ones(1, 1, dtype=nr.float64))
    with pytest.raises(IndexError, match=r"index_select: index 3 is out of bounds for dimension 0 with size 3"):
        x.index_select(0, nr.tensor([0, 3]))
    with pytest.raises(IndexError, match=r"index_select: index must be a 1-d"):
        x.index_select(0, nr.zeros(2, 2, dtype=nr.int64))


@pytest.mark.parametrize("xs,idx,dim", [((), (), 0), ((), (1,), 0), ((4,), (2,), 0),
                                         ((4,), (), 0), ((3, 4), (0, 0), 1)])
def test_gather_scatter_zero_dim_and_empty(xs, idx, dim):
    a, i = random_array(xs), np.zeros(idx, np.int64)
    src = random_array(idx, seed=1)
    check_parity(lambda x: x.gather(dim, nr.tensor(i)), lambda x: x.gather(dim, torch.tensor(i)),
                 [a])
    check_parity(lambda x, s: x.scatter_add(dim, nr.tensor(i), s),
                 lambda x, s: x.scatter_add(dim, torch.tensor(i), s), [a, src])
    check_parity(lambda x, s: x.scatter(dim, nr.tensor(i), s),
                 lambda x, s: x.scatter(dim, torch.tensor(i), s), [a, src])
    check_parity(lambda x: x.scatter(dim, nr.tensor(i), 2.0),
                 lambda x: x.scatter(dim, torch.tensor(i), 2.0), [a])


def test_gather_gradcheck():
    idx = nr.tensor([[0, 2, 2, 1], [1, 1, 0, 0]])
    gradcheck64(lambda x: x.gather(0, idx), random_array((3, 4), np.float64))
    gradcheck64(lambda x, s: x.scatter_add(1, idx, s), random_array((2, 4), np.float64),
                random_array((2, 4), np.float64, seed=1))
    gradcheck64(lambda x: x.index_select(1, nr.tensor([3, 0, 3])), random_array((2, 4), np.float64))
    gradcheck64(lambda x: x[[0, 0, 1], 1:], random_array((2, 4), np.float64))
    gradcheck64(lambda x: nr.take_along_dim(x, nr.tensor([[0], [3]]), 1),
                random_array((2, 4), np.float64))


# ============================================================================ embedding, one_hot ...

@FAST
@given(st.integers(1, 8), st.integers(1, 5), hnp.array_shapes(min_dims=0, max_dims=2, max_side=6),
       st.data())
def test_embedding_parity(device, n, d, ishape, data):
    idx = data.draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, n - 1)))
    pad = data.draw(st.none() | st.integers(-n, n - 1))
    freq = data.draw(st.booleans())
    check_parity(lambda i, w: F.embedding(i, w, padding_idx=pad, scale_grad_by_freq=freq),
                 lambda i, w: TF.embedding(i, w, padding_idx=pad, scale_grad_by_freq=freq),
                 [idx, random_array((n, d))], device=device)


def test_embedding_large_batch_and_max_norm():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 40, size=(20, 30))               # 600 lookups: the fast path
    check_parity(lambda i, w: F.embedding(i, w), lambda i, w: TF.embedding(i, w),
                 [idx, random_array((40, 8))], rtol=1e-5, atol=1e-5)
    w, tw = _t(random_array((10, 4), low=-3, high=3))
    i = np.array([1, 2, 2, 7])
    out = F.embedding(nr.tensor(i), w, max_norm=1.0)
    tout = TF.embedding(torch.tensor(i), tw, max_norm=1.0)
    assert_close(out, tout)
    assert_close(w, tw)                                    # rows renormalised in place
    with pytest.raises(IndexError, match=r"embedding: index 10 is out of range.*10 rows"):
        F.embedding(nr.tensor([10]), nr.randn(10, 3))


@FAST
@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                  elements=st.integers(0, 5)), st.sampled_from([-1, 6, 9]))
def test_one_hot_parity(a, num_classes):
    if a.size == 0 and num_classes == -1:
        with pytest.raises(RuntimeError, match="empty"):
            F.one_hot(nr.tensor(a))
        return
    assert_close(F.one_hot(nr.tensor(a), num_classes), TF.one_hot(torch.tensor(a), num_classes))


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match=r"class value 5 is out of range for num_classes=3"):
        F.one_hot(nr.tensor([0, 5]), 3)
    with pytest.raises(RuntimeError, match=r"non-negative, got -1"):
        F.one_hot(nr.tensor([0, -1]), 3)
    with pytest.raises(RuntimeError, match=r"integer tensor.*float32"):
        F.one_hot(nr.tensor([0.0]), 3)


@FAST
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                  elements=st.sampled_from([0.0, 1.0, -2.0])))
def test_nonzero_argwhere_parity(a):
    x, tx = _t(a)
    assert_close(x.nonzero(), tx.nonzero())
    assert_close(nr.argwhere(x), torch.argwhere(tx))
    for n, t in zip(nr.nonzero(x, as_tuple=True), torch.nonzero(tx, as_tuple=True)):
        assert_close(n, t)
    assert_close(nr.where(x != 0)[0], torch.where(tx != 0)[0])


@FAST
@given(st.data())
def test_masked_select_parity(data):
    sx, sm = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)
                       .map(lambda b: b.input_shapes))
    mask = data.draw(hnp.arrays(np.bool_, sm))
    check_parity(lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m),
                 [random_array(sx), mask])
    with pytest.raises(RuntimeError, match="mask must be a bool tensor"):
        nr.masked_select(nr.ones(2), nr.ones(2))


# ============================================================================ softmax family

@FAST
@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5), st.data(),
       st.sampled_from([1.0, 1e4]))
def test_softmax_log_softmax_parity(device, shape, data, scale):
    nd = max(len(shape), 1)
    dim = data.draw(st.integers(-nd, nd - 1))
    a = np.asarray(random_array(shape, seed=data.draw(st.integers(0, 9))) * np.float32(scale))
    for nf, tf in [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax),
                   (F.softmin, TF.softmin)]:
        n_out, _ = check_parity(lambda x: nf(x, dim), lambda x: tf(x, dim), [a],
                                rtol=1e-5, atol=1e-6 * scale, device=device)
        assert np.isfinite(n_out[0].detach().cpu().numpy()).all()
    check_parity(lambda x: x.softmax(dim), lambda x: x.softmax(dim), [a], rtol=1e-5,
                 atol=1e-6 * scale, device=device)
    check_parity(lambda x: x.log_softmax(dim, dtype=nr.float64),
                 lambda x: x.log_softmax(dim, dtype=torch.float64), [a], rtol=1e-10, atol=1e-10,
                 device=device)


def test_softmax_extremes_and_errors():
    x = nr.tensor([[0.0, -np.inf, 3.0], [1e30, -1e30, 0.0]])
    tx = torch.tensor(x.numpy())
    assert_close(F.softmax(x, 1), TF.softmax(tx, 1))
    assert_close(F.log_softmax(x, 1), TF.log_softmax(tx, 1))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        assert_close(F.softmax(x), TF.softmax(tx, 1))
    with pytest.raises(IndexError, match=r"softmax: dimension 2 is out of range"):
        F.softmax(x, 2)
    with pytest.raises(RuntimeError, match=r"softmax: expected a floating point tensor.*int64"):
        F.softmax(nr.tensor([1, 2]), 0)
    assert_close(F.softmax(nr.tensor([1, 2]), 0, dtype=nr.float32),
                 TF.softmax(torch.tensor([1, 2]), 0, dtype=torch.float32))
    assert F.softmax(nr.zeros(2, 0), 1).shape == (2, 0)


@FAST
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5),
                  elements=st.floats(-100, 100, width=32)))
def test_logsigmoid_parity(device, a):
    check_parity(F.logsigmoid, TF.logsigmoid, [a], kind="transcendental", device=device)


def test_softmax_gradcheck():
    a = random_array((3, 4), np.float64)
    for dim in (0, 1, -1):
        gradcheck64(lambda x: F.softmax(x, dim), a)
        gradcheck64(lambda x: F.log_softmax(x, dim), a)
    gradcheck64(lambda x: F.softmin(x, 1), a)
    gradcheck64(F.logsigmoid, a * 5)


# ============================================================================ regression losses

REG_LOSSES = [
    ("mse", F.mse_loss, TF.mse_loss, {}),
    ("l1", F.l1_loss, TF.l1_loss, {}),
    ("huber", lambda x, t, **k: F.huber_loss(x, t, delta=0.7, **k),
     lambda x, t, **k: TF.huber_loss(x, t, delta=0.7, **k), {}),
    ("smooth_l1", lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.5, **k),
     lambda x, t, **k: TF.smooth_l1_loss(x, t, beta=0.5, **k), {}),
    ("smooth_l1_beta0", lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.0, **k),
     lambda x, t, **k: TF.smooth_l1_loss(x, t, beta=0.0, **k), {}),
]


@FAST
@pytest.mark.parametrize("name,nf,tf,kw", REG_LOSSES, ids=[c[0] for c in REG_LOSSES])
@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), st.data(),
       st.sampled_from(["none", "mean", "sum"]))
def test_regression_loss_parity(device, name, nf, tf, kw, shape, data, reduction):
    x = random_array(shape, seed=data.draw(st.integers(0, 9)))
    t = random_array(shape, seed=10)
    check_parity(lambda a, b: nf(a, b, reduction=reduction),
                 lambda a, b: tf(a, b, reduction=reduction), [x, t], rtol=1e-5, atol=1e-5,
                 device=device)


def test_regression_losses_broadcast_warn_and_gradcheck():
    x, t = random_array((3, 4), np.float64), random_array((4,), np.float64, seed=1)
    with pytest.warns(UserWarning, match="target size"):
        check_parity(F.mse_loss, TF.mse_loss, [x.astype(np.float32), t.astype(np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, nf, _, _ in REG_LOSSES:
            for red in ("none", "mean", "sum"):
                gradcheck64(lambda a, b: nf(a, b, reduction=red), x, t)
    with pytest.raises(ValueError, match=r"mse_loss: 'avg' is not a valid value for reduction"):
        F.mse_loss(nr.ones(2), nr.ones(2), reduction="avg")
    with pytest.raises(RuntimeError, match=r"mse_loss: .*\(2,\) and \(3,\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.mse_loss(nr.ones(2), nr.ones(3))
    with pytest.raises(RuntimeError, match="delta must be positive"):
        F.huber_loss(nr.ones(2), nr.ones(2), delta=0)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert F.mse_loss(nr.ones(2), nr.zeros(2), size_average=False).item() == 2.0


# ============================================================================ binary losses

@FAST
@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), st.data(),
       st.sampled_from(["none", "mean", "sum"]), st.booleans())
def test_bce_parity(shape, data, reduction, weighted):
    p = np.random.default_rng(data.draw(st.integers(0, 9))).uniform(0.02, 0.98, shape) \
        .astype(np.float32)
    t = data.draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0, 0.3])))
    w = random_array(shape[-1:], low=0.5, high=2.0, seed=3) if weighted else None
    check_parity(lambda a, b: F.binary_cross_entropy(a, b, weight=None if w is None else nr.tensor(w),
                                                     reduction=reduction),
                 lambda a, b: TF.binary_cross_entropy(a, b, weight=None if w is None else torch.tensor(w),
                                                      reduction=reduction),
                 [p, t], kind="transcendental")


def test_bce_clamps_log_at_minus_100():
    x = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    n_out, t_out = check_parity(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                                lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
                                [x, t], requires_grad=[True, False])
    np.testing.assert_array_equal(n_out[0].detach().numpy(), [100, 100, 0, 0])


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data(),
       st.sampled_from(["none", "mean", "sum"]), st.booleans(), st.booleans(),
       st.sampled_from([1.0, 1e4]))
def test_bce_with_logits_parity(shape, data, reduction, weighted, pos, scale):
    x = random_array(shape, seed=data.draw(st.integers(0, 9))) * np.float32(scale)
    t = data.draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0, 0.25])))
    w = random_array(shape[-1:], low=0.5, high=2.0, seed=3) if weighted else None
    pw = random_array(shape[-1:], low=0.5, high=3.0, seed=4) if pos else None
    conv = lambda a, lib: None if a is None else lib.tensor(a)  # noqa: E731
    n_out, _ = check_parity(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=conv(w, nr),
                                                        reduction=reduction, pos_weight=conv(pw, nr)),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=conv(w, torch),
                                                         reduction=reduction,
                                                         pos_weight=conv(pw, torch)),
        [x, t], kind="transcendental", atol=1e-5 * scale)
    assert np.isfinite(n_out[0].detach().numpy()).all()


def test_binary_losses_gradcheck_and_errors():
    p = np.random.default_rng(0).uniform(0.1, 0.9, (3, 4))
    t = np.random.default_rng(1).uniform(0, 1, (3, 4))
    w = random_array((4,), np.float64, 0.5, 2)
    for red in ("none", "mean", "sum"):
        gradcheck64(lambda a, b: F.binary_cross_entropy(a, b, weight=nr.tensor(w), reduction=red), p, t)
        gradcheck64(lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, weight=nr.tensor(w), pos_weight=nr.tensor(w[::-1].copy()), reduction=red),
            random_array((3, 4), np.float64, -4, 4), t)
        gradcheck64(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=red),
                    random_array((3, 4), np.float64, -4, 4), t)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: the target's shape \(3, 1\) must equal the input's shape \(3,\)"):
        F.binary_cross_entropy(nr.rand(3), nr.rand(3, 1))
    with pytest.raises(RuntimeError, match=r"between 0 and 1.*with_logits"):
        F.binary_cross_entropy(nr.rand(3) + 1, nr.rand(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: the target's shape \(2,\) must equal .*\(3,\)"):
        F.binary_cross_entropy_with_logits(nr.rand(3), nr.rand(2))


# ============================================================================ class losses

@st.composite
def class_case(draw, probs=False):
    """(logits, target, weight, ignore_index) for (N, C), (N, C, d) or (C,) inputs."""
    layout = draw(st.sampled_from(["NC", "NCd", "C"]))
    n, c, d = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    shape = {"NC": (n, c), "NCd": (n, c, d), "C": (c,)}[layout]
    tshape = {"NC": (n,), "NCd": (n, d), "C": ()}[layout]
    scale = draw(st.sampled_from([1.0, 3.0, 1e4]))
    x = random_array(shape, seed=draw(st.integers(0, 9)), low=-1, high=1) * np.float32(scale)
    ignore = draw(st.sampled_from([-100, 0, 2]))
    if probs:
        t = np.random.default_rng(draw(st.integers(0, 9))).dirichlet(np.ones(c), size=int(
            np.prod(shape) // c)).astype(np.float32)
        t = t.reshape((shape[0],) + shape[2:] + (c,)) if len(shape) > 1 else t.reshape(shape)
        t = np.moveaxis(t, -1, 1) if len(shape) > 2 else t
        ignore = -100
    else:
        vals = list(range(c)) + [ignore]
        t = draw(hnp.arrays(np.int64, tshape, elements=st.sampled_from(vals)))
    w = random_array((c,), low=0.2, high=2.0, seed=5) if draw(st.booleans()) else None
    return x, np.array(t, order="C"), w, ignore, scale


def _w(w, lib):
    return None if w is None else lib.tensor(w)


@FAST
@given(class_case(), st.sampled_from(["none", "mean", "sum"]), st.sampled_from([0.0, 0.1]))
def test_cross_entropy_class_indices_parity(case, reduction, smoothing):
    x, t, w, ignore, scale = case
    n_out, _ = check_parity(
        lambda a, b: F.cross_entropy(a, b, weight=_w(w, nr), ignore_index=ignore,
                                     reduction=reduction, label_smoothing=smoothing),
        lambda a, b: TF.cross_entropy(a, b, weight=_w(w, torch), ignore_index=ignore,
                                      reduction=reduction, label_smoothing=smoothing),
        [x, t], kind="transcendental", atol=1e-5 * scale)
    if (t != ignore).any():
        assert np.isfinite(n_out[0].detach().numpy()).all()


@FAST
@given(class_case(), st.sampled_from(["none", "mean", "sum"]))
def test_nll_loss_parity(case, reduction):
    x, t, w, ignore, _ = case
    check_parity(lambda a, b: F.nll_loss(a, b, weight=_w(w, nr), ignore_index=ignore,
                                         reduction=reduction),
                 lambda a, b: TF.nll_loss(a, b, weight=_w(w, torch), ignore_index=ignore,
                                          reduction=reduction),
                 [x, t], kind="transcendental")


@FAST
@given(class_case(probs=True), st.sampled_from(["none", "mean", "sum"]),
       st.sampled_from([0.0, 0.2]))
def test_cross_entropy_probability_targets_parity(case, reduction, smoothing):
    x, t, w, _, scale = case
    check_parity(
        lambda a, b: F.cross_entropy(a, b, weight=_w(w, nr), reduction=reduction,
                                     label_smoothing=smoothing),
        lambda a, b: TF.cross_entropy(a, b, weight=_w(w, torch), reduction=reduction,
                                      label_smoothing=smoothing),
        [x, t], kind="transcendental", atol=1e-5 * scale)


@FAST
@given(class_case(), st.sampled_from(["none", "mean", "sum"]))
def test_fused_cross_entropy_equals_unfused_composition(case, reduction):
    x, t, w, ignore, scale = case
    a1, a2 = nr.tensor(x, requires_grad=True), nr.tensor(x, requires_grad=True)
    cls_dim = 0 if x.ndim == 1 else 1
    fused = F.cross_entropy(a1, nr.tensor(t), weight=_w(w, nr), ignore_index=ignore,
                            reduction=reduction)
    unfused = F.nll_loss(F.log_softmax(a2, cls_dim), nr.tensor(t), weight=_w(w, nr),
                         ignore_index=ignore, reduction=reduction)
    assert isinstance(fused.grad_fn, nr.ops.losses.CrossEntropy)
    np.testing.assert_allclose(fused.detach().numpy(), unfused.detach().numpy(),
                               rtol=1e-5, atol=1e-6 * scale)
    g = np.random.default_rng(0).standard_normal(fused.shape).astype(np.float32)
    fused.backward(nr.tensor(g))
    unfused.backward(nr.tensor(g))
    np.testing.assert_allclose(a1.grad.numpy(), a2.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_class_losses_gradcheck():
    x = random_array((4, 3), np.float64)
    x3 = random_array((2, 3, 2), np.float64)
    t = nr.tensor([0, 2, -100, 1])
    t3 = nr.tensor([[0, 2], [1, 1]])
    w = nr.tensor(random_array((3,), np.float64, 0.5, 2.0))
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=4)
    for red in ("none", "mean", "sum"):
        for eps in (0.0, 0.3):
            gradcheck64(lambda a: F.cross_entropy(a, t, weight=w, reduction=red,
                                                  label_smoothing=eps), x)
            gradcheck64(lambda a: F.cross_entropy(a, t3, reduction=red, label_smoothing=eps), x3)
            gradcheck64(lambda a, p: F.cross_entropy(a, p, weight=w, reduction=red,
                                                     label_smoothing=eps), x, probs)
        gradcheck64(lambda a: F.nll_loss(a, t, weight=w, reduction=red), x)
        gradcheck64(lambda a: F.nll_loss(a, t3, reduction=red), x3)
        gradcheck64(lambda a: F.cross_entropy(a, nr.tensor(1), reduction=red), x[0])


def test_class_losses_special_values():
    # all targets ignored: 'mean' is nan as in PyTorch; an empty batch too
    x, tx = _t(random_array((3, 4)), rg=True)
    t = np.full(3, -100)
    for f, tf in [(F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)]:
        assert_close(f(x, nr.tensor(t)), tf(tx, torch.tensor(t)))
        assert_close(f(x[:0], nr.tensor(t[:0])), tf(tx[:0], torch.tensor(t[:0])))
    # huge logits stay finite, with exact gradients
    check_parity(F.cross_entropy, TF.cross_entropy,
                 [np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], np.float32), np.array([1, 2])],
                 kind="transcendental")


def test_class_loss_errors():
    x = nr.randn(3, 4)
    with pytest.raises(IndexError, match=r"cross_entropy: target 5 is out of bounds: there are 4 "
                                         r"classes.*\[0, 4\).*ignore_index=-100"):
        F.cross_entropy(x, nr.tensor([0, 1, 5]))
    with pytest.raises(RuntimeError, match=r"nll_loss: target -1 is out of bounds"):
        F.nll_loss(x, nr.tensor([0, -1, 2]))
    F.cross_entropy(x, nr.tensor([0, -1, 2]), ignore_index=-1)         # -1 ignored: fine
    with pytest.raises(ValueError, match=r"cross_entropy: the target's shape \(2,\) does not "
                                         r"match the input's shape \(3, 4\).*expected a target of shape \(3,\)"):
        F.cross_entropy(x, nr.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: the target must hold class indices.*float32.*long"):
        F.cross_entropy(x, nr.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"class probabilities and must be floating point"):
        F.cross_entropy(x, nr.zeros(3, 4, dtype=nr.int64))
    with pytest.raises(RuntimeError, match=r"weight must have one entry per class, shape \(4,\)"):
        F.cross_entropy(x, nr.tensor([0, 1, 2]), weight=nr.ones(3))
    with pytest.raises(ValueError, match="label_smoothing must be between"):
        F.cross_entropy(x, nr.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match=r"cross_entropy: the input must hold floating point"):
        F.cross_entropy(nr.tensor([[1, 2]]), nr.tensor([0]))


# ============================================================================ kl_div

@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data(),
       st.sampled_from(["none", "mean", "sum", "batchmean"]), st.booleans())
def test_kl_div_parity(device, shape, data, reduction, log_target):
    x = np.log(np.random.default_rng(data.draw(st.integers(0, 9))).uniform(0.05, 1, shape)) \
        .astype(np.float32)
    t = np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)
    t[..., 0] = 0.0
    if log_target:
        t = np.log(t + 0.1).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_parity(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                     lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                     [x, t], requires_grad=[True, False], kind="transcendental", device=device)
    gradcheck64(lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=log_target),
                x, t + (0 if log_target else 0.05))


# ============================================================================ dropout

def test_dropout_semantics():
    x = nr.randn(200, 50, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.5, training=False) is x
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf"dropout probability has to be between 0 and 1, but got {p}"):
            F.dropout(x, p)
    g1, g2 = nr.Generator().manual_seed(3), nr.Generator().manual_seed(3)
    y1, y2 = F.dropout(x, 0.3, generator=g1), F.dropout(x, 0.3, generator=g2)
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())
    kept = y1.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y1.detach().numpy()[kept], x.detach().numpy()[kept] / 0.7,
                               rtol=1e-6)
    y1.backward(nr.ones(200, 50))
    np.testing.assert_allclose(x.grad.numpy(), kept / np.float32(0.7), rtol=1e-6)
    from neurona.ops.dropout import Dropout
    assert not Dropout.deterministic
    z = F.dropout(x, 1.0)
    assert (z.detach().numpy() == 0).all()
    # in place, outside the graph
    a = nr.ones(100)
    out = F.dropout(a, 0.5, inplace=True)
    assert out is a and a.version == 1 and set(np.unique(a.numpy())) <= {0.0, 2.0}
    # channel dropout: whole (N, C) planes
    c = F.dropout2d(nr.ones(4, 6, 3, 3), 0.5)
    planes = c.numpy().reshape(4, 6, 9)
    assert ((planes == planes[..., :1])).all()
    assert F.dropout(nr.ones(3), 0.5, training=True).dtype == nr.float32


# ============================================================================ linear

@FAST
@given(st.sampled_from([(), (3,), (2, 3), (2, 3, 2)]), st.integers(1, 5), st.integers(1, 5),
       st.booleans(), st.sampled_from([np.float32, np.float64]))
def test_linear_parity(device, lead, fin, fout, bias, dtype):
    x = random_array(lead + (fin,), dtype, seed=1)
    w = random_array((fout, fin), dtype, seed=2)
    b = random_array((fout,), dtype, seed=3)
    if bias:
        check_parity(F.linear, TF.linear, [x, w, b], kind="matmul", device=device)
    else:
        check_parity(F.linear, TF.linear, [x, w], kind="matmul", device=device)


def test_linear_gradcheck_and_errors():
    x, w, b = (random_array(s, np.float64, seed=i) for i, s in enumerate([(2, 3, 4), (5, 4), (5,)]))
    gradcheck64(F.linear, x, w, b)
    gradcheck64(F.linear, x[0, 0], w, b)
    gradcheck64(F.linear, x[0], w)
    with pytest.raises(RuntimeError, match=r"linear: the input's last dimension \(3\) must equal "
                                           r"in_features \(4\).*\(2, 3\) float32.*\(5, 4\) float32"):
        F.linear(nr.ones(2, 3), nr.ones(5, 4))
    with pytest.raises(RuntimeError, match=r"linear: input and weight must have the same dtype.*float64.*float32"):
        F.linear(nr.ones(2, 4, dtype=nr.float64), nr.ones(5, 4))
    with pytest.raises(RuntimeError, match=r"linear: bias must have shape \(5,\)"):
        F.linear(nr.ones(2, 4), nr.ones(5, 4), nr.ones(4))


# ============================================================================ normalize

@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data(),
       st.sampled_from([2.0, 1.0, 3.0, float("inf")]))
def test_normalize_parity(device, shape, data, p):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = random_array(shape, seed=data.draw(st.integers(0, 9)))
    if data.draw(st.booleans()):                           # a zero vector: eps applies
        a[(0,) * len(shape)] = 0.0
        a = a * (np.abs(a) > 5)                            # all zero
    check_parity(lambda x: F.normalize(x, p=p, dim=dim), lambda x: TF.normalize(x, p=p, dim=dim),
                 [a], kind="transcendental", device=device)


def test_normalize_gradcheck():
    a = random_array((3, 4), np.float64)
    for p in (2.0, 1.5, 3.0, float("inf")):
        gradcheck64(lambda x: F.normalize(x, p=p, dim=1), a)
        gradcheck64(lambda x: F.normalize(x, p=p, dim=0, eps=10.0), a)   # eps branch


# ============================================================================ F namespace & live checks

def test_functional_namespace():
    for name in ["relu", "relu_", "leaky_relu", "gelu", "silu", "elu", "sigmoid", "tanh",
                 "softplus", "softmax", "log_softmax", "dropout", "mse_loss", "l1_loss",
                 "huber_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot", "pad",
                 "linear", "normalize", "embedding", "kl_div", "logsigmoid"]:
        assert callable(getattr(F, name)), name
    x = nr.tensor([-1.0, 2.0])
    assert F.relu_(x) is x and x.tolist() == [0.0, 2.0]
    check_parity(lambda a: F.silu(a), TF.silu, [random_array((3,))], kind="transcendental")


def test_ops_pass_live_gradient_checks():
    """check_gradients re-runs each op's forward with its saved arguments in float64."""
    rng = np.random.default_rng(0)
    emb = nr.tensor(rng.standard_normal((10, 4)), dtype=nr.float32, requires_grad=True)
    w = nr.tensor(rng.standard_normal((3, 4)), dtype=nr.float32, requires_grad=True)
    b = nr.zeros(3, requires_grad=True)
    tokens = nr.tensor([[1, 2, 2], [9, 0, 1]])
    with nr.autograd.check_gradients() as chk:
        h = F.embedding(tokens, emb)[:, 1:, :]                # (2, 2, 4)
        h = F.normalize(h, dim=-1)
        logits = F.linear(h, w, b)                            # (2, 2, 3)
        y = nr.tensor([[0, 2], [1, -100]])
        loss = F.cross_entropy(logits.transpose(1, 2), y, label_smoothing=0.1)
        loss = loss + F.mse_loss(F.softmax(logits, -1)[..., 0], nr.zeros(2, 2)) \
            + logits.gather(2, nr.tensor([[[0], [1]], [[2], [2]]])).sum()
        loss.backward()
    assert chk.checked >= 6


def test_saved_values_are_guarded_like_torch():
    # softmax reads its output in backward: changing it in place is an error, as in torch
    x = nr.randn(2, 3, requires_grad=True)
    y = F.softmax(x, 1)
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="Softmax saved a tensor at version 0"):
        y.sum().backward()
    # linear reads x only for dL/dW: with a frozen W, changing x later is fine (as torch)
    a, ta = _t(random_array((2, 4)), rg=True)
    w, tw = _t(random_array((3, 4), seed=1))
    h, th = a * 1.0, ta * 1.0
    out, tout = F.linear(h, w), TF.linear(th, tw)
    h.add_(1.0)
    th.add_(1.0)
    _backward_both(out, tout)
    assert_close(a.grad, ta.grad)
    # ... but with W requiring grad it is an error in both
    w2 = nr.tensor(random_array((3, 4), seed=1), requires_grad=True)
    h2 = a * 1.0
    out2 = F.linear(h2, w2)
    h2.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out2.sum().backward()
