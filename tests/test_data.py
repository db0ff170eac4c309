"""Tests for neurona.utils.data (datasets, samplers, DataLoader) and neurona.datasets.

PyTorch's torch.utils.data is the oracle wherever the result is deterministic (collation,
batch sizes, drop_last, len, random_split sizes).  Random orders come from neurona's own
generator, so for them the tests check the properties instead: reproducible with a seed,
different across seeds and epochs, every sample exactly once per epoch.

MNIST is read from the real files in the shared data folder (``../shared/data`` next to
the repository; the ``shared_data`` fixture in conftest.py); the test FAILS, not skips,
when that folder is missing.
"""
from __future__ import annotations

import collections
import gzip
import hashlib
import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import neurona as nr
from neurona import datasets
from neurona.datasets import _files
from neurona.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                IterableDataset, RandomSampler, SequentialSampler, Subset,
                                SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                default_collate, random_split)


@pytest.fixture(scope="module")
def mnist_train(shared_data):
    return datasets.MNIST(shared_data, train=True)


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    return datasets.MNIST(shared_data, train=False)


def gen(seed):
    return nr.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- comparing

def to_np(x):
    if isinstance(x, nr.Tensor):
        return x.numpy()
    if isinstance(x, torch.Tensor):
        return x.numpy()
    return x


def assert_same_batch(ours, theirs, float_dtype_from_python=False):
    """Same structure, same values, same dtypes (up to Python-float collation)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, nr.Tensor), type(ours)
        a, b = ours.numpy(), theirs.numpy()
        assert a.shape == b.shape
        if float_dtype_from_python and b.dtype == np.float64:
            assert a.dtype == np.float32      # neurona: Python floats -> float32
        else:
            assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b.astype(a.dtype), rtol=1e-6)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys()
        for k in theirs:
            assert_same_batch(ours[k], theirs[k], float_dtype_from_python)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs), (type(ours), type(theirs))
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert_same_batch(o, t, float_dtype_from_python)
    else:
        assert ours == theirs


class DictDataset(Dataset):
    """Per-item samples of mixed kinds (no fast path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.arange(3, dtype=np.float32) + i, "label": i % 3,
                "pair": (float(i) / 2, np.int64(i)), "name": f"s{i}"}


class TorchDictDataset(tud.Dataset):
    def __init__(self, n):
        self.inner = DictDataset(n)

    def __len__(self):
        return self.inner.n

    def __getitem__(self, i):
        return self.inner[i]


# ----------------------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [1, 2, 3],
    [True, False],
    [np.float32(1.5), np.float32(2.5)],
    [np.array([1, 2]), np.array([3, 4])],
    [np.zeros((2, 3), np.float64), np.ones((2, 3), np.float64)],
    [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)],
    [[np.ones(2, np.float32), 1], [np.zeros(2, np.float32), 0]],
    [{"a": 1, "b": np.ones(3, np.int32)}, {"a": 2, "b": np.zeros(3, np.int32)}],
    [Point(np.ones(2, np.float32), 3), Point(np.zeros(2, np.float32), 4)],
    [{"nested": ({"k": 1},)}, {"nested": ({"k": 2},)}],
    ["a", "b"],
])
def test_default_collate_matches_torch(batch):
    assert_same_batch(default_collate(batch), tud.default_collate(batch))


def test_default_collate_python_floats_are_float32():
    out = default_collate([(1.5, 2), (2.5, 3)])
    assert out[0].dtype == nr.float32 and out[1].dtype == nr.int64
    np.testing.assert_array_equal(out[0].numpy(), [1.5, 2.5])


def test_default_collate_stacks_neurona_tensors():
    xs = [nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0])]
    out = default_collate(xs)
    np.testing.assert_array_equal(out.numpy(), [[1, 2], [3, 4]])
    # tensors that require grad are stacked by the recorded op: gradients flow back
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    out = default_collate([w * 2, w * 3])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])


def test_default_collate_errors_are_clear():
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([nr.zeros(2), nr.zeros(3)])
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])


# ----------------------------------------------------------------------------- DataLoader

@pytest.mark.parametrize("n,batch_size,drop_last", [
    (10, 1, False), (10, 3, False), (10, 3, True), (10, 5, True), (10, 10, False),
    (10, 11, False), (10, 11, True), (1, 4, False), (7, 2, True)])
def test_dataloader_matches_torch_on_same_indices(n, batch_size, drop_last):
    X = np.random.default_rng(0).standard_normal((n, 4)).astype(np.float32)
    y = np.arange(n) % 3
    order = list(np.random.default_rng(1).permutation(n))
    ours = DataLoader(TensorDataset(nr.tensor(X), nr.tensor(y)), batch_size=batch_size,
                      sampler=order, drop_last=drop_last)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(X), torch.tensor(y)),
                            batch_size=batch_size, sampler=order, drop_last=drop_last)
    assert len(ours) == len(theirs)
    ob, tb = list(ours), list(theirs)
    assert len(ob) == len(tb) == len(ours)
    for o, t in zip(ob, tb):
        assert_same_batch(o, t)

    # sequential order too (the default sampler)
    ours = DataLoader(TensorDataset(nr.tensor(X), nr.tensor(y)), batch_size=batch_size,
                      drop_last=drop_last)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(X), torch.tensor(y)),
                            batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert_same_batch(o, t)


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (4, False), (4, True)])
def test_dataloader_collates_dicts_like_torch(batch_size, drop_last):
    order = [5, 0, 9, 2, 7, 1, 3, 8, 4, 6]
    ours = DataLoader(DictDataset(10), batch_size=batch_size, sampler=order,
                      drop_last=drop_last)
    theirs = tud.DataLoader(TorchDictDataset(10), batch_size=batch_size, sampler=order,
                            drop_last=drop_last)
    assert len(ours) == len(theirs)
    tb = list(theirs)
    ob = list(ours)
    assert len(ob) == len(tb)
    for o, t in zip(ob, tb):
        assert_same_batch(o, t, float_dtype_from_python=True)


def test_dataloader_batch_sampler_and_no_batching_like_torch():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    batches = [[0, 1], [5, 4, 3], [2]]
    ours = DataLoader(TensorDataset(nr.tensor(X)), batch_sampler=batches)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(X)), batch_sampler=batches)
    assert len(ours) == len(theirs) == 3
    for o, t in zip(ours, theirs):
        assert_same_batch(o, t)
    # batch_size=None: samples one by one, NumPy arrays converted to tensors
    ours = list(DataLoader(DictDataset(3), batch_size=None))
    theirs = list(tud.DataLoader(TorchDictDataset(3), batch_size=None))
    assert len(ours) == len(theirs) == 3
    for o, t in zip(ours, theirs):
        assert_same_batch(o, t)


def test_dataloader_custom_collate_fn():
    ds = TensorDataset(nr.arange(10.0))
    loader = DataLoader(ds, batch_size=4, collate_fn=lambda b: len(b))
    assert list(loader) == [4, 4, 2]


def test_dataloader_fast_path_equals_per_item_collation():
    X = nr.randn(23, 3, 2, generator=gen(0))
    y = nr.randint(0, 5, (23,), generator=gen(1))
    ds = TensorDataset(X, y)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, generator=gen(7)))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, generator=gen(7),
                           collate_fn=lambda b: default_collate(b)))
    assert len(fast) == len(slow) == 5
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype == nr.int64
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
    # a Subset of a TensorDataset (random_split) keeps the fast path and the same values
    part = Subset(ds, [3, 1, 4, 1, 5, 9, 2, 6])
    got = next(iter(DataLoader(part, batch_size=8)))
    np.testing.assert_array_equal(got[0].numpy(), X.numpy()[[3, 1, 4, 1, 5, 9, 2, 6]])


def test_shuffle_is_reproducible_and_covers_every_sample_once():
    n = 103
    ds = TensorDataset(nr.arange(n), nr.arange(n) * 2)

    def epoch(loader):
        return np.concatenate([xb.numpy() for xb, _ in loader])

    a = DataLoader(ds, batch_size=10, shuffle=True, generator=gen(0))
    b = DataLoader(ds, batch_size=10, shuffle=True, generator=gen(0))
    c = DataLoader(ds, batch_size=10, shuffle=True, generator=gen(1))
    ea1, ea2 = epoch(a), epoch(a)
    eb1, eb2 = epoch(b), epoch(b)
    ec1 = epoch(c)
    np.testing.assert_array_equal(ea1, eb1)              # same seed, same batches
    np.testing.assert_array_equal(ea2, eb2)
    assert not np.array_equal(ea1, ec1)                  # other seed, other order
    assert not np.array_equal(ea1, ea2)                  # next epoch, new order
    assert not np.array_equal(ea1, np.arange(n))         # shuffled at all
    for e in (ea1, ea2, ec1):
        np.testing.assert_array_equal(np.sort(e), np.arange(n))   # each sample exactly once
    # samples stay paired with their labels
    for xb, yb in a:
        np.testing.assert_array_equal(yb.numpy(), 2 * xb.numpy())
    # the default generator, seeded with manual_seed, also repeats itself
    nr.manual_seed(3)
    d1 = epoch(DataLoader(ds, batch_size=7, shuffle=True))
    nr.manual_seed(3)
    d2 = epoch(DataLoader(ds, batch_size=7, shuffle=True))
    np.testing.assert_array_equal(d1, d2)


def test_drop_last_with_shuffle_and_len():
    ds = TensorDataset(nr.arange(10))
    loader = DataLoader(ds, batch_size=3, shuffle=True, drop_last=True, generator=gen(0))
    sizes = [len(xb) for (xb,) in loader]
    assert sizes == [3, 3, 3] and len(loader) == 3
    loader = DataLoader(ds, batch_size=3, shuffle=True, generator=gen(0))
    assert [len(xb) for (xb,) in loader] == [3, 3, 3, 1] and len(loader) == 4


def test_dataloader_argument_errors():
    ds = TensorDataset(nr.arange(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_sampler=[[0, 1]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    # num_workers > 0 is accepted and runs in-process with the same results
    a = [b[0].numpy() for b in DataLoader(ds, batch_size=3, num_workers=4)]
    np.testing.assert_array_equal(np.concatenate(a), np.arange(4))


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter([(float(i), i) for i in range(7)])

    loader = DataLoader(Stream(), batch_size=3)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [3, 3, 1]
    np.testing.assert_array_equal(batches[2][1].numpy(), [6])
    assert [len(b[1]) for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [3, 3]
    with pytest.raises(TypeError):
        len(loader)
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


# ----------------------------------------------------------------------------- datasets

def test_tensor_dataset():
    X, y = nr.randn(5, 2), nr.arange(5)
    ds = TensorDataset(X, y)
    assert len(ds) == 5
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3.numpy(), X.numpy()[3])
    assert int(y3) == 3
    with pytest.raises(ValueError, match=r"same size in the first dimension.*\(5, 2\).*\(4,\)"):
        TensorDataset(X, nr.arange(4))
    # NumPy arrays are accepted
    assert len(TensorDataset(np.zeros((3, 2)), np.arange(3))) == 3


def test_subset_and_concat_like_torch():
    base = list(range(10, 20))
    for ours, theirs in [
        (Subset(base, [4, 0, 7]), tud.Subset(base, [4, 0, 7])),
        (ConcatDataset([base[:3], base[3:4], base[4:]]),
         tud.ConcatDataset([base[:3], base[3:4], base[4:]])),
    ]:
        assert len(ours) == len(theirs)
        assert [ours[i] for i in range(len(ours))] == [theirs[i] for i in range(len(theirs))]
        assert ours[-1] == theirs[-1]
    a, b = TensorDataset(nr.arange(3)), TensorDataset(nr.arange(3, 5))
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 5
    got = np.concatenate([x.numpy() for (x,) in DataLoader(both, batch_size=2)])
    np.testing.assert_array_equal(got, np.arange(5))
    with pytest.raises(IndexError):
        both[5]


@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.3, 0.3, 0.4]),
                                       (7, [0.33, 0.33, 0.34]), (11, [0.5, 0.5]),
                                       (5, [0.1, 0.9]), (100, [0.8, 0.1, 0.1]), (4, [4, 0])])
def test_random_split(n, lengths):
    parts = random_split(range(n), lengths, generator=gen(0))
    expected = [len(p) for p in tud.random_split(range(n), lengths)]
    assert [len(p) for p in parts] == expected
    seen = [p[i] for p in parts for i in range(len(p))]
    assert sorted(seen) == list(range(n))                 # disjoint, and covering all
    again = random_split(range(n), lengths, generator=gen(0))
    assert [list(p.indices) for p in again] == [list(p.indices) for p in parts]


def test_random_split_errors_and_seeds():
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError):
        random_split(range(10), [0.5, 0.6])
    a = random_split(range(50), [25, 25], generator=gen(0))
    b = random_split(range(50), [25, 25], generator=gen(1))
    assert list(a[0].indices) != list(b[0].indices)


# ----------------------------------------------------------------------------- samplers

def test_sequential_and_batch_sampler_like_torch():
    data = list(range(11))
    assert list(SequentialSampler(data)) == list(tud.SequentialSampler(data))
    for bs in (1, 3, 4, 11, 12):
        for drop in (False, True):
            ours = BatchSampler(SequentialSampler(data), bs, drop)
            theirs = tud.BatchSampler(tud.SequentialSampler(data), bs, drop)
            assert list(ours) == list(theirs)
            assert len(ours) == len(theirs)
            # a plain list as the sampler
            assert list(BatchSampler(data[::-1], bs, drop)) == \
                list(tud.BatchSampler(data[::-1], bs, drop))
    with pytest.raises(ValueError):
        BatchSampler(data, 0, False)


def test_random_sampler():
    data = range(20)
    s = RandomSampler(data, generator=gen(0))
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(e2) == list(range(20)) and e1 != e2
    assert all(type(i) is int for i in e1)
    assert list(RandomSampler(data, generator=gen(0))) == e1
    r = RandomSampler(data, replacement=True, num_samples=100, generator=gen(0))
    draws = list(r)
    assert len(draws) == len(r) == 100 and set(draws) <= set(range(20))
    assert len(set(draws)) < 100
    # more samples than the dataset without replacement: chained permutations
    chained = list(RandomSampler(range(5), num_samples=12, generator=gen(0)))
    assert len(chained) == 12 and sorted(chained[:5]) == list(range(5))
    with pytest.raises(ValueError):
        RandomSampler(data, num_samples=0)
    # a BatchSampler over a RandomSampler gives the same order as the sampler itself
    flat = [i for b in BatchSampler(RandomSampler(data, generator=gen(5)), 6, False) for i in b]
    assert flat == list(RandomSampler(data, generator=gen(5)))


def test_subset_random_sampler():
    idx = [3, 8, 1, 15]
    s = SubsetRandomSampler(idx, generator=gen(0))
    assert sorted(s) == sorted(idx) and len(s) == 4
    ds = TensorDataset(nr.arange(20) * 10)
    got = np.concatenate([x.numpy() for (x,) in DataLoader(ds, batch_size=3, sampler=s)])
    assert sorted(got.tolist()) == [10, 30, 80, 150]


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0]
    s = WeightedRandomSampler(w, 4000, generator=gen(0))
    draws = np.array(list(s))
    assert len(s) == 4000 and set(draws.tolist()) <= {1, 2}        # zero weights never drawn
    assert abs((draws == 2).mean() - 0.75) < 0.03
    no_rep = list(WeightedRandomSampler([1, 1, 1, 5], 4, replacement=False, generator=gen(0)))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="non-zero weights"):
        WeightedRandomSampler([1, 0, 0], 2, replacement=False)
    with pytest.raises(ValueError):
        WeightedRandomSampler([1, -1], 2)
    assert list(WeightedRandomSampler(nr.tensor([1.0, 2.0]), 5, generator=gen(1))) == \
        list(WeightedRandomSampler([1.0, 2.0], 5, generator=gen(1)))


# ----------------------------------------------------------------------------- MNIST

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_real_files(mnist_train, mnist_test):
    for ds, n, first, counts in ((mnist_train, 60000, 5, MNIST_TRAIN_COUNTS),
                                 (mnist_test, 10000, 7, MNIST_TEST_COUNTS)):
        assert len(ds) == n
        assert ds.data.shape == (n, 28, 28) and ds.data.dtype == nr.uint8
        assert ds.targets.shape == (n,) and ds.targets.dtype == nr.int64
        hist = np.bincount(ds.targets.numpy(), minlength=10)
        assert hist.sum() == n and hist.tolist() == counts
        pixels = ds.data.numpy()
        assert pixels.min() == 0 and pixels.max() == 255
        img, label = ds[0]
        assert label == first and type(label) is int
        assert img.shape == (1, 28, 28) and img.dtype == nr.float32
        assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
        np.testing.assert_allclose(img.numpy()[0], pixels[0] / 255.0, rtol=1e-6)


def test_mnist_dataloader_fast_path(mnist_test):
    loader = DataLoader(mnist_test, batch_size=256, shuffle=True, generator=gen(0))
    assert len(loader) == 40
    xb, yb = next(iter(loader))
    assert xb.shape == (256, 1, 28, 28) and xb.dtype == nr.float32 and yb.dtype == nr.int64
    slow = DataLoader(mnist_test, batch_size=256, shuffle=True, generator=gen(0),
                      collate_fn=lambda b: default_collate(b))
    sx, sy = next(iter(slow))
    np.testing.assert_array_equal(xb.numpy(), sx.numpy())
    np.testing.assert_array_equal(yb.numpy(), sy.numpy())
    total = sum(len(y) for _, y in loader)
    assert total == 10000


def test_mnist_transforms_and_arrays(shared_data):
    ds = datasets.MNIST(shared_data, train=False, transform=lambda t: t * 2,
                        target_transform=lambda y: y + 100)
    img, label = ds[0]
    assert label == 107 and float(img.max()) > 1.0
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.numpy()[0] == 107
    X, y = datasets.mnist_arrays(shared_data, train=False)
    assert X.shape == (10000, 784) and X.dtype == nr.float32 and y.dtype == nr.int64
    assert float(X.max()) == 1.0 and float(X.min()) == 0.0 and int(y[0]) == 7
    X4, _ = datasets.mnist_arrays(shared_data, train=False, flatten=False)
    assert X4.shape == (10000, 1, 28, 28)


# -- generated IDX files --------------------------------------------------------------

def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + struct.pack(">" + "I" * array.ndim, *array.shape) + \
        array.astype(np.uint8).tobytes()


def write_split(folder: Path, prefix: str, images, labels, gz: bool):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in ((f"{prefix}-images-idx3-ubyte", idx_bytes(images, 2051)),
                       (f"{prefix}-labels-idx1-ubyte", idx_bytes(labels, 2049))):
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def fake_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), \
        rng.integers(0, 10, n).astype(np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_on_generated_files(tmp_path, gz):
    imgs, labels = fake_images(30)
    timgs, tlabels = fake_images(12, seed=1)
    write_split(tmp_path / "fashion-mnist", "train", imgs, labels, gz)
    write_split(tmp_path / "fashion-mnist", "t10k", timgs, tlabels, gz)
    ds = datasets.FashionMNIST(tmp_path, train=True)
    assert len(ds) == 30 and ds.classes[9] == "Ankle boot"
    np.testing.assert_array_equal(ds.data.numpy(), imgs)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    img, label = ds[5]
    assert label == labels[5]
    np.testing.assert_allclose(img.numpy()[0], imgs[5] / 255.0, rtol=1e-6)
    test = datasets.FashionMNIST(tmp_path, train=False)
    assert len(test) == 12
    np.testing.assert_array_equal(test.data.numpy(), timgs)
    entry = {d["name"]: d for d in datasets.available(tmp_path)}["fashion-mnist"]
    assert entry["ready"] and str(tmp_path / "fashion-mnist") in entry["location"]


def test_idx_files_in_torchvision_layout(tmp_path):
    imgs, labels = fake_images(4)
    write_split(tmp_path / "MNIST" / "raw", "t10k", imgs, labels, gz=False)
    ds = datasets.MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)


def test_missing_files_error_names_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.MNIST(tmp_path, train=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert str(tmp_path / "mnist") in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        datasets.FashionMNIST(tmp_path, train=False)


@pytest.mark.parametrize("damage", ["truncate", "truncate_gz", "extra", "magic", "header",
                                    "bad_gzip", "count_mismatch", "label_range"])
def test_corrupt_idx_files_raise_naming_the_file(tmp_path, damage):
    imgs, labels = fake_images(10)
    folder = tmp_path / "mnist"
    write_split(folder, "t10k", imgs, labels, gz=False)
    images_file = folder / "t10k-images-idx3-ubyte"
    labels_file = folder / "t10k-labels-idx1-ubyte"
    raw = images_file.read_bytes()
    target, pattern = images_file, "truncated"
    if damage == "truncate":
        images_file.write_bytes(raw[:-100])
    elif damage == "truncate_gz":
        images_file.unlink()
        target = folder / "t10k-images-idx3-ubyte.gz"
        target.write_bytes(gzip.compress(raw)[:-50])
        pattern = "corrupt or truncated"
    elif damage == "extra":
        images_file.write_bytes(raw + b"\0" * 7)
        pattern = "7 bytes more"
    elif damage == "magic":
        images_file.write_bytes(idx_bytes(labels, 2049))      # a label file in its place
        pattern = "magic number 2049, expected 2051"
    elif damage == "header":
        images_file.write_bytes(raw[:10])
        pattern = "truncated inside the header"
    elif damage == "bad_gzip":
        images_file.unlink()
        target = folder / "t10k-images-idx3-ubyte.gz"
        target.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
        pattern = "gzip"
    elif damage == "count_mismatch":
        labels_file.write_bytes(idx_bytes(labels[:9], 2049))
        pattern = "10 images but"
    elif damage == "label_range":
        labels_file.write_bytes(idx_bytes(np.full(10, 12, np.uint8), 2049))
        target, pattern = labels_file, "out of range"
    with pytest.raises(datasets.DatasetFileError) as info:
        datasets.MNIST(tmp_path, train=False)
    msg = str(info.value)
    assert str(target) in msg and pattern in msg, msg


# -- download ---------------------------------------------------------------------------

def test_download_from_file_mirror(tmp_path, monkeypatch):
    imgs, labels = fake_images(8)
    mirror = tmp_path / "mirror"
    write_split(mirror, "train", imgs, labels, gz=True)
    md5 = {n: hashlib.md5((mirror / (n + ".gz")).read_bytes()).hexdigest()
           for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")}
    monkeypatch.setattr(datasets.FashionMNIST, "checksums",
                        {n: (None, h) for n, h in md5.items()})
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors",
                        [(tmp_path / "nowhere").as_uri() + "/", mirror.as_uri() + "/"])
    root = tmp_path / "root"
    ds = datasets.FashionMNIST(root, train=True, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), imgs)
    saved = sorted(p.name for p in (root / "fashion-mnist").iterdir())
    assert saved == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # no .part
    # cached: a second load with download=True reads the files without fetching
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["file:///nonexistent/"])
    assert len(datasets.FashionMNIST(root, train=True, download=True)) == 8


def test_download_rejects_bad_checksum(tmp_path, monkeypatch):
    imgs, labels = fake_images(8)
    mirror = tmp_path / "mirror"
    write_split(mirror, "train", imgs, labels, gz=True)
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", [mirror.as_uri() + "/"])
    root = tmp_path / "root"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        datasets.FashionMNIST(root, train=True, download=True)
    assert not any((root / "fashion-mnist").iterdir())   # nothing half-written left behind


def test_mnist_download_verifies_sha256_of_content(shared_data, tmp_path, monkeypatch):
    """The shared .gz files are recompressed (their md5 is not the official one) but their
    content is the official files': the sha256 of the content must be accepted."""
    served = []

    def fake_urlopen(url, timeout=None):
        served.append(url)
        name = url.rsplit("/", 1)[1]
        return io.BytesIO((shared_data / "mnist" / name).read_bytes())

    monkeypatch.setattr(_files, "urlopen", fake_urlopen)
    ds = datasets.MNIST(tmp_path, train=False, download=True)
    assert len(ds) == 10000 and ds[0][1] == 7
    assert served == [datasets.MNIST.mirrors[0] + "t10k-images-idx3-ubyte.gz",
                      datasets.MNIST.mirrors[0] + "t10k-labels-idx1-ubyte.gz"]
    assert (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURONA_DATA", str(tmp_path))
    assert datasets.data_root() == tmp_path
    assert datasets.data_root("/x") == Path("/x")
    monkeypatch.delenv("NEURONA_DATA")
    assert datasets.data_root() == Path.cwd() / "data"


def test_available(shared_data):
    entries = datasets.available(shared_data)
    names = [d["name"] for d in entries]
    for n in ("circle", "xor", "gauss", "spiral", "plane", "multi_gauss", "iris",
              "breast_cancer", "diabetes", "digits", "wine", "mnist", "fashion-mnist"):
        assert n in names
    by = {d["name"]: d for d in entries}
    assert by["mnist"]["ready"] and by["mnist"]["location"] == str(shared_data / "mnist")
    assert by["iris"]["ready"] and os.path.isdir(by["iris"]["location"])
    for d in entries:
        assert set(d) == {"name", "kind", "task", "ready", "location", "load"}


# ----------------------------------------------------------------------------- playground

PROBLEMS = ["circle", "xor", "gauss", "spiral", "plane", "multi_gauss"]


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("noise", [0.0, 0.25, 0.5])
def test_playground_shapes_and_reproducibility(name, noise):
    X, y = datasets.playground(name, n=200, noise=noise, seed=0)
    assert X.shape == (200, 2) and y.shape == (200,)
    assert X.dtype == nr.float32 and y.dtype == nr.float32
    X2, y2 = datasets.playground(name, n=200, noise=noise, seed=0)
    np.testing.assert_array_equal(X.numpy(), X2.numpy())
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    X3, _ = datasets.playground(name, n=200, noise=noise, seed=1)
    assert not np.array_equal(X.numpy(), X3.numpy())
    yv = y.numpy()
    if datasets.PLAYGROUND_PROBLEMS[name] == "classification":
        assert set(np.unique(yv).tolist()) == {-1.0, 1.0}
    elif name == "multi_gauss":
        assert yv.min() >= -1 and yv.max() <= 1
    else:
        assert np.abs(yv).max() <= 1.2 * (1 + noise) + 1e-6
    assert np.abs(X.numpy()).max() <= 6.0 + 1e-5 or name == "gauss"


def test_playground_geometry_at_zero_noise():
    X, y = datasets.playground("circle", n=400, seed=0)
    x, yv = X.numpy().astype(np.float64), y.numpy()
    r = np.hypot(x[:, 0], x[:, 1])
    assert (yv == 1).sum() == (yv == -1).sum() == 200
    assert np.all((yv == 1) == (r < 2.5))                     # separable by the circle
    assert np.all(r[yv == -1] >= 3.5 - 1e-5) and np.all(r[yv == -1] <= 5 + 1e-5)

    X, y = datasets.playground("xor", n=400, seed=0)
    x, yv = X.numpy(), y.numpy()
    assert np.all(np.abs(x) >= 0.3 - 1e-6) and np.all(np.abs(x) <= 5.3 + 1e-5)
    np.testing.assert_array_equal(yv, np.where(x[:, 0] * x[:, 1] >= 0, 1, -1))

    X, y = datasets.playground("gauss", n=4000, seed=0)
    x, yv = X.numpy(), y.numpy()
    np.testing.assert_allclose(x[yv == 1].mean(0), [2, 2], atol=0.1)
    np.testing.assert_allclose(x[yv == -1].mean(0), [-2, -2], atol=0.1)
    np.testing.assert_allclose(x[yv == 1].var(0), [0.5, 0.5], rtol=0.1)     # variance 0.5
    X, y = datasets.playground("gauss", n=4000, noise=0.5, seed=0)
    np.testing.assert_allclose(X.numpy()[y.numpy() == 1].var(0), [4, 4], rtol=0.1)

    X, y = datasets.playground("spiral", n=200, seed=0, shuffle=False)
    x = X.numpy().astype(np.float64)
    i = np.arange(100)
    r, t = i / 100 * 5, 1.75 * i / 100 * 2 * np.pi
    np.testing.assert_allclose(x[:100], np.stack([r * np.sin(t), r * np.cos(t)], 1), atol=1e-5)
    np.testing.assert_allclose(x[100:], -x[:100], atol=1e-5)      # the other arm: t + pi
    np.testing.assert_array_equal(y.numpy(), [1.0] * 100 + [-1.0] * 100)

    X, y = datasets.playground("plane", n=300, seed=0)
    np.testing.assert_allclose(y.numpy(), X.numpy().sum(1) / 10, atol=1e-6)

    X, y = datasets.playground("multi_gauss", n=300, seed=0)
    x = X.numpy().astype(np.float64)
    centers = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
               (4, -2.5, -1)]
    for (px, py), label in zip(x[:50], y.numpy()[:50]):
        best = 0.0
        for cx, cy, s in centers:
            v = s * min(max(1 - np.hypot(px - cx, py - cy) / 2, 0), 1)
            if abs(v) > abs(best):
                best = v
        assert abs(label - best) < 1e-5


def test_playground_options_and_errors():
    X, y = datasets.playground("multi-gauss", n=10)
    assert X.shape == (10, 2)
    X, y = datasets.playground("circle", n=7)
    assert X.shape == (7, 2) and (y.numpy() == 1).sum() == 4
    X1, _ = datasets.playground("xor", n=20, generator=gen(4))
    X2, _ = datasets.playground("xor", n=20, generator=gen(4))
    np.testing.assert_array_equal(X1.numpy(), X2.numpy())
    with pytest.raises(ValueError, match="noise=0.25"):
        datasets.playground("xor", noise=25)
    with pytest.raises(ValueError, match="unknown problem"):
        datasets.playground("moons")
    # noise flips some labels of the circle problem
    X, y = datasets.playground("circle", n=400, noise=0.5, seed=0)
    r = np.hypot(*X.numpy().T)
    assert np.any((y.numpy() == 1) != (r < 2.5))


# ----------------------------------------------------------------------------- scikit-learn

@pytest.mark.parametrize("name,n,d,task", [("iris", 150, 4, "classification"),
                                           ("breast_cancer", 569, 30, "classification"),
                                           ("diabetes", 442, 10, "regression"),
                                           ("digits", 1797, 64, "classification"),
                                           ("wine", 178, 13, "classification")])
def test_sklearn_loaders(name, n, d, task):
    b = getattr(datasets, f"load_{name}")()
    assert b.data.shape == (n, d) and b.data.dtype == nr.float32
    assert b.target.shape == (n,)
    assert b.task == task and len(b.feature_names) == d
    if task == "classification":
        assert b.target.dtype == nr.int64
        assert len(b.target_names) == int(b.target.max()) + 1
    else:
        assert b.target.dtype == nr.float32 and b.target_names is None
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    np.testing.assert_array_equal(X.numpy(), b.data.numpy())


def test_train_test_split_and_standardize():
    X, y = datasets.load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = datasets.train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
    assert Xtr.shape == (120, 4) and Xte.shape == (30, 4)
    assert np.bincount(yte.numpy()).tolist() == [10, 10, 10]
    rows = {tuple(r) for r in X.numpy().tolist()}
    assert len({tuple(r) for r in Xtr.numpy().tolist()} | {tuple(r) for r in Xte.numpy().tolist()}) \
        == len(rows)
    a = datasets.train_test_split(X, y, seed=3)
    b = datasets.train_test_split(X, y, seed=3)
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    Xtr_s, Xte_s = datasets.standardize(Xtr, Xte)
    assert Xtr_s.dtype == nr.float32
    np.testing.assert_allclose(Xtr_s.numpy().mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Xtr_s.numpy().std(0), 1, atol=1e-4)
    mean, std = Xtr.numpy().mean(0), Xtr.numpy().std(0)
    np.testing.assert_allclose(Xte_s.numpy(), (Xte.numpy() - mean) / std, rtol=1e-4, atol=1e-5)
    # NumPy in, NumPy out; counts for test_size
    tr, te = datasets.train_test_split(np.arange(10), test_size=3)
    assert isinstance(tr, np.ndarray) and len(te) == 3 and sorted(np.r_[tr, te]) == list(range(10))
    with pytest.raises(ValueError, match="same length"):
        datasets.train_test_split(np.arange(10), np.arange(9))
