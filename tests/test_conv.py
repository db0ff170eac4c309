"""Convolution and pooling against PyTorch and against a plain reference implementation.

* ``reference_conv2d``: a direct convolution written as the textbook sum (a loop over the
  kernel offsets, in float64) -- the fast im2col + GEMM op must agree with it and with
  ``torch.nn.functional.conv2d``.
* Hypothesis draws the configurations (batch, channels, sizes, kernel, stride, padding
  incl. 'same'/'valid', dilation, groups, bias, ceil_mode, count_include_pad); forward
  values and every gradient are compared with PyTorch's.
* float64 gradient checks on tiny shapes prove the backward formulas.
* Errors name the op and the shapes; nn modules load torch's state dicts, give torch's
  outputs and print torch's repr.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings, strategies as st

import neurona as nr
import neurona.nn as nn
import neurona.nn.functional as F
from neurona.ops import conv as conv_ops
from helpers import assert_close, check_parity, gradcheck64, random_array

SETTINGS = settings(max_examples=30)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


# ============================================================================ reference

def reference_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n, o, p, q] = b[o] + sum_{c, i, j} w[o, c, i, j] x~[n, g*Cg + c, p s + i d, q s + j d]
    computed directly (float64, a loop over groups and kernel offsets)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    N, C, H, W = x.shape
    Co, Cg, kh, kw = w.shape
    (sh, sw), (dh, dw), (ph, pw) = stride, dilation, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((N, Co, Ho, Wo))
    cog = Co // groups
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * cog:(g + 1) * cog]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh:i * dh + sh * (Ho - 1) + 1:sh,
                           j * dw:j * dw + sw * (Wo - 1) + 1:sw]          # (N, Cg, Ho, Wo)
                y[:, g * cog:(g + 1) * cog] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    if b is not None:
        y += np.asarray(b, np.float64).reshape(1, Co, 1, 1)
    return y


# ============================================================================ strategies

@st.composite
def conv_configs(draw, nsp=2):
    """A valid convolution configuration (sizes kept tiny: Hypothesis explores the
    arguments, not the scale)."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    sp = tuple(draw(st.integers(1, 9)) for _ in range(nsp))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    dil = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    pmode = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if pmode == "same":
        stride = (1,) * nsp
        padding = "same"
        pads = [(d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2) for kk, d in zip(k, dil)]
    elif pmode == "valid":
        padding, pads = "valid", [(0, 0)] * nsp
    elif pmode == "int":
        p = draw(st.integers(0, 2))
        padding, pads = p, [(p, p)] * nsp
    else:
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nsp))
        pads = [(p, p) for p in padding]
    for s, kk, d, (lo, hi) in zip(sp, k, dil, pads):
        assume(s + lo + hi >= d * (kk - 1) + 1)
    # plain ints when both dims agree, as people write them
    as_arg = (lambda t: t[0] if len(set(t)) == 1 and draw(st.booleans()) else t)
    return dict(n=n, cin=cin, cout=cout, sp=sp, k=k, groups=groups, bias=draw(st.booleans()),
                kw=dict(stride=as_arg(stride), padding=padding, dilation=as_arg(dil),
                        groups=groups))


def _conv_arrays(cfg, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["n"], cfg["cin"]) + cfg["sp"]).astype(np.float32)
    w = rng.standard_normal((cfg["cout"], cfg["cin"] // cfg["groups"]) + cfg["k"]).astype(
        np.float32)
    b = rng.standard_normal(cfg["cout"]).astype(np.float32) if cfg["bias"] else None
    return x, w, b


# ============================================================================ conv2d / conv1d

@SETTINGS
@given(conv_configs(2))
def test_conv2d_matches_torch(device, cfg):
    x, w, b = _conv_arrays(cfg)
    kw = cfg["kw"]
    args = [x, w] + ([b] if b is not None else [])
    check_parity(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), args,
                 kind="matmul", device=device)


@SETTINGS
@given(conv_configs(2))
def test_conv2d_matches_reference(cfg):
    x, w, b = _conv_arrays(cfg, seed=1)
    kw = cfg["kw"]
    y = F.conv2d(nr.tensor(x), nr.tensor(w), None if b is None else nr.tensor(b), **kw)
    # the reference takes symmetric padding: feed it the padded input for 'same'
    pad = kw["padding"]
    k, dil = cfg["k"], kw["dilation"]
    dil = dil if isinstance(dil, tuple) else (dil, dil)
    if pad == "same":
        tot = [d * (kk - 1) for kk, d in zip(k, dil)]
        x = np.pad(x, ((0, 0), (0, 0), (tot[0] // 2, tot[0] - tot[0] // 2),
                       (tot[1] // 2, tot[1] - tot[1] // 2)))
        pad = (0, 0)
    elif pad == "valid":
        pad = (0, 0)
    pad = pad if isinstance(pad, tuple) else (pad, pad)
    st_ = kw["stride"] if isinstance(kw["stride"], tuple) else (kw["stride"],) * 2
    ref = reference_conv2d(x, w, b, st_, pad, dil, cfg["groups"])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(conv_configs(1))
def test_conv1d_matches_torch(device, cfg):
    x, w, b = _conv_arrays(cfg)
    kw = cfg["kw"]
    args = [x, w] + ([b] if b is not None else [])
    check_parity(lambda *a: F.conv1d(*a, **kw), lambda *a: TF.conv1d(*a, **kw), args,
                 kind="matmul", device=device)


@pytest.mark.parametrize("fn,tfn,shape,wshape", [
    (F.conv2d, TF.conv2d, (3, 7, 6), (4, 3, 3, 2)),
    (F.conv1d, TF.conv1d, (3, 9), (4, 3, 3)),
])
def test_conv_unbatched(device, fn, tfn, shape, wshape):
    x, w = random_array(shape), random_array(wshape, seed=1)
    b = random_array(wshape[:1], seed=2)
    check_parity(lambda *a: fn(*a, padding=1, stride=2), lambda *a: tfn(*a, padding=1, stride=2),
                 [x, w, b], kind="matmul", device=device)


def test_conv2d_lenet_sizes_and_strided_views(device):
    """Batch > 1, several channels, a non-contiguous input (a transposed view), float64."""
    x = random_array((4, 9, 9, 3), dtype=np.float64).transpose(0, 3, 1, 2)
    w = random_array((5, 3, 5, 5), dtype=np.float64, seed=1)
    check_parity(lambda a, b: F.conv2d(a, b, padding=2), lambda a, b: TF.conv2d(a, b, padding=2),
                 [x, w], kind="matmul", device=device)


def test_conv2d_input_without_grad_and_weight_without_grad(device):
    x, w = random_array((2, 3, 6, 6)), random_array((4, 3, 3, 3), seed=1)
    check_parity(lambda a, b: F.conv2d(a, b), lambda a, b: TF.conv2d(a, b), [x, w],
                 requires_grad=[False, True], kind="matmul", device=device)
    check_parity(lambda a, b: F.conv2d(a, b), lambda a, b: TF.conv2d(a, b), [x, w],
                 requires_grad=[True, False], kind="matmul", device=device)


def test_conv2d_recomputes_cols_when_too_big(device, monkeypatch):
    """Above _KEEP_COLS_BYTES the op keeps the padded input and rebuilds X_col in backward."""
    monkeypatch.setattr(conv_ops, "_KEEP_COLS_BYTES", 0)
    x, w, b = random_array((2, 4, 7, 6)), random_array((6, 2, 3, 2), seed=1), \
        random_array((6,), seed=2)
    kw = dict(stride=(2, 1), padding=1, groups=2)
    check_parity(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), [x, w, b],
                 kind="matmul", device=device)


def test_conv2d_grad_weight_chunked_path(device):
    """Many output pixels and a small kernel: dL/dW is summed over column chunks."""
    x, w = random_array((16, 1, 32, 32)), random_array((2, 1, 3, 3), seed=1)
    assert 16 * 30 * 30 > 4 * conv_ops._GW_CHUNK
    check_parity(lambda a, b: F.conv2d(a, b), lambda a, b: TF.conv2d(a, b), [x, w],
                 kind="matmul", device=device)


def test_conv2d_float64_gradcheck():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 5, 4)), rng.standard_normal((4, 2, 2, 3)), \
        rng.standard_normal(4)
    gradcheck64(lambda a, c, d: F.conv2d(a, c, d, stride=(2, 1), padding=(1, 2),
                                         dilation=(1, 2), groups=2), x, w, b)


def test_conv1d_float64_gradcheck():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 7)), rng.standard_normal((2, 3, 3)), \
        rng.standard_normal(2)
    gradcheck64(lambda a, c, d: F.conv1d(a, c, d, stride=2, padding=1, dilation=2), x, w, b)


def test_conv_float32_dtype_kept():
    y = F.conv2d(nr.tensor(random_array((1, 1, 4, 4))), nr.tensor(random_array((1, 1, 2, 2))))
    assert y.dtype == nr.float32


# ============================================================================ errors

def test_conv2d_channel_mismatch_message():
    x, w = nr.zeros(8, 1, 28, 28), nr.zeros(16, 3, 5, 5)
    with pytest.raises(RuntimeError) as e:
        F.conv2d(x, w)
    assert str(e.value) == ("conv2d: expected input with 3 channels (weight (16, 3, 5, 5)), "
                            "got input of shape (8, 1, 28, 28)")


@pytest.mark.parametrize("call,words", [
    (lambda: F.conv2d(nr.zeros(2, 3, 4), nr.zeros(4, 3, 3)), ["conv2d", "4-d", "(4, 3, 3)"]),
    (lambda: F.conv2d(nr.zeros(28, 28), nr.zeros(4, 1, 3, 3)), ["conv2d", "(28, 28)", "4-d"]),
    (lambda: F.conv2d(nr.zeros(1, 3, 4, 4), nr.zeros(2, 3, 5, 5)),
     ["conv2d", "smaller than", "(1, 3, 4, 4)", "(2, 3, 5, 5)"]),
    (lambda: F.conv2d(nr.zeros(1, 4, 6, 6), nr.zeros(3, 2, 3, 3), groups=2),
     ["conv2d", "groups=2", "divide", "3"]),
    (lambda: F.conv2d(nr.zeros(1, 4, 6, 6), nr.zeros(4, 3, 3, 3), groups=2),
     ["conv2d", "expected input with 6 channels", "groups=2"]),
    (lambda: F.conv2d(nr.zeros(1, 3, 6, 6), nr.zeros(4, 3, 3, 3), nr.zeros(3)),
     ["conv2d", "bias", "(4,)"]),
    (lambda: F.conv2d(nr.zeros(1, 3, 6, 6), nr.zeros(4, 3, 3, 3), stride=2, padding="same"),
     ["conv2d", "same", "strided"]),
    (lambda: F.conv2d(nr.zeros(1, 3, 6, 6), nr.zeros(4, 3, 3, 3), padding="full"),
     ["conv2d", "padding", "'full'"]),
    (lambda: F.conv2d(nr.zeros(1, 3, 6, 6, dtype=nr.float64), nr.zeros(4, 3, 3, 3)),
     ["conv2d", "dtype", "float64", "float32"]),
    (lambda: F.conv2d(nr.zeros(1, 3, 6, 6, dtype=nr.int64), nr.zeros(4, 3, 3, 3)),
     ["conv2d", "floating point"]),
    (lambda: F.conv1d(nr.zeros(2, 3, 4), nr.zeros(4, 2, 3)),
     ["conv1d", "expected input with 2 channels", "(2, 3, 4)"]),
    (lambda: F.max_pool2d(nr.zeros(1, 1, 4, 4), 3, padding=2), ["max_pool2d", "half"]),
    (lambda: F.max_pool2d(nr.zeros(1, 1, 2, 2), 3), ["max_pool2d", "too small", "(1, 1, 2, 2)"]),
    (lambda: F.max_pool2d(nr.zeros(4, 4), 2), ["max_pool2d", "(4, 4)"]),
    (lambda: F.avg_pool2d(nr.zeros(1, 1, 2, 2), 3), ["avg_pool2d", "too small"]),
    (lambda: F.avg_pool1d(nr.zeros(1, 1, 4), 2, divisor_override=0) if False else
     F.avg_pool2d(nr.zeros(1, 1, 4, 4), 2, divisor_override=0), ["avg_pool2d", "divisor"]),
    (lambda: F.adaptive_avg_pool2d(nr.zeros(1, 1, 4, 4), (2, 2, 2)), ["adaptive_avg_pool2d"]),
])
def test_errors_name_op_and_shapes(call, words):
    with pytest.raises((RuntimeError, ValueError)) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_conv_layer_error_names_the_layer():
    m = nn.Conv2d(3, 16, 5)
    with pytest.raises(RuntimeError) as e:
        m(nr.zeros(8, 1, 28, 28))
    msg = str(e.value)
    assert msg.startswith("Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1)): conv2d: expected "
                          "input with 3 channels")


@pytest.mark.parametrize("kwargs,err", [
    (dict(groups=0), "groups must be a positive integer"),
    (dict(groups=2), "in_channels must be divisible by groups"),
    (dict(padding="same", stride=2), "not supported for strided"),
    (dict(padding="full"), "Invalid padding string"),
    (dict(padding_mode="mirror"), "padding_mode must be one of"),
])
def test_conv_module_argument_errors(kwargs, err):
    with pytest.raises(ValueError, match=err):
        nn.Conv2d(3, 6, 3, **kwargs)


# ============================================================================ nn.Conv2d / Conv1d

CONV_MODULES = [
    ("Conv2d", (3, 16, 5), {}),
    ("Conv2d", (3, 16, (5, 3)), dict(stride=2, padding=1, dilation=2, bias=False,
                                     padding_mode="reflect")),
    ("Conv2d", (4, 8, 3), dict(groups=2, padding=(1, 2))),
    ("Conv2d", (4, 6, 4), dict(padding="same", dilation=(1, 2), padding_mode="circular")),
    ("Conv2d", (2, 4, 3), dict(padding="valid", padding_mode="replicate")),
    ("Conv2d", (2, 4, 3), dict(padding=2, padding_mode="zeros", stride=(1, 2))),
    ("Conv1d", (4, 8, 3), dict(padding="same")),
    ("Conv1d", (3, 6, 4), dict(stride=2, padding=3, padding_mode="reflect", groups=3)),
]


@pytest.mark.parametrize("name,args,kwargs", CONV_MODULES)
def test_conv_module_matches_torch(name, args, kwargs):
    torch.manual_seed(0)
    t = getattr(torch.nn, name)(*args, **kwargs)
    n = getattr(nn, name)(*args, **kwargs)
    assert repr(n) == repr(t)
    res = n.load_state_dict(t.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert list(n.state_dict()) == list(t.state_dict())
    sp = (9, 8) if name == "Conv2d" else (11,)
    x = random_array((2, args[0]) + sp)
    xn, xt = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn, yt = n(xn), t(xt)
    assert_close(yn, yt, kind="matmul")
    g = random_array(tuple(yt.shape), seed=3)
    yn.backward(nr.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xn.grad, xt.grad, kind="matmul", what="input gradient")
    for (k, p), (_, tp) in zip(n.named_parameters(), t.named_parameters()):
        assert_close(p.grad, tp.grad, kind="matmul", what=f"gradient of {k}")
    # unbatched input through the layer
    assert_close(n(nr.tensor(x[0])), t(torch.tensor(x[0])), kind="matmul")


def test_conv_state_dict_round_trip_to_torch():
    n = nn.Conv2d(3, 5, 3, bias=True)
    t = torch.nn.Conv2d(3, 5, 3)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in n.state_dict().items()})
    x = random_array((2, 3, 6, 6))
    assert_close(n(nr.tensor(x)), t(torch.tensor(x)), kind="matmul")


def test_conv_default_init_bounds():
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); same for bias."""
    nr.manual_seed(0)
    m = nn.Conv2d(16, 64, 5, groups=2)
    fan_in = 8 * 25
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.shape == (64, 8, 5, 5) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound
    assert m.weight.requires_grad and m.bias.requires_grad


def test_conv_module_dtype_float64():
    m = nn.Conv1d(2, 3, 3, dtype=nr.float64)
    assert m.weight.dtype == nr.float64
    assert m(nr.zeros(1, 2, 5, dtype=nr.float64)).dtype == nr.float64


# ============================================================================ pooling

@st.composite
def pool_configs(draw, nsp=2, avg=False):
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    sp = tuple(draw(st.integers(1, 9)) for _ in range(nsp))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nsp))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * nsp)))
    pad = tuple(draw(st.integers(0, kk // 2)) for kk in k)
    dil = (1,) * nsp if avg else tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    ceil = draw(st.booleans())
    kw = dict(kernel_size=k if draw(st.booleans()) or len(set(k)) > 1 else k[0],
              stride=stride, padding=pad, ceil_mode=ceil)
    if avg:
        kw["count_include_pad"] = draw(st.booleans())
        if nsp == 2 and draw(st.integers(0, 3)) == 0:
            kw["divisor_override"] = draw(st.integers(1, 5))
    else:
        kw["dilation"] = dil
    return (n, c) + sp, kw


def _tie_input(shape, seed=0):
    """Small integers: many ties inside the windows (torch routes the gradient to the
    first maximum; so must we)."""
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float32)


def _pool_parity(fn, tfn, x, kw):
    try:
        tfn(torch.tensor(x), **kw)
    except RuntimeError:
        with pytest.raises((RuntimeError, ValueError)):
            fn(nr.tensor(x), **kw)
        return
    check_parity(lambda a: fn(a, **kw), lambda a: tfn(a, **kw), [x])


@SETTINGS
@given(pool_configs(2))
def test_max_pool2d_matches_torch_with_ties(cfg):
    shape, kw = cfg
    _pool_parity(F.max_pool2d, TF.max_pool2d, _tie_input(shape), kw)


@SETTINGS
@given(pool_configs(1))
def test_max_pool1d_matches_torch_with_ties(cfg):
    shape, kw = cfg
    _pool_parity(F.max_pool1d, TF.max_pool1d, _tie_input(shape), kw)


@SETTINGS
@given(pool_configs(2), st.integers(0, 2))
def test_max_pool2d_return_indices(cfg, seed):
    shape, kw = cfg
    x = _tie_input(shape, seed)
    try:
        ty, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    except RuntimeError:
        return
    ny, ni = F.max_pool2d(nr.tensor(x), return_indices=True, **kw)
    assert_close(ny, ty)
    assert_close(ni, ti)


@SETTINGS
@given(pool_configs(2, avg=True))
def test_avg_pool2d_matches_torch(cfg):
    shape, kw = cfg
    _pool_parity(F.avg_pool2d, TF.avg_pool2d, random_array(shape), kw)


@SETTINGS
@given(pool_configs(1, avg=True))
def test_avg_pool1d_matches_torch(cfg):
    shape, kw = cfg
    _pool_parity(F.avg_pool1d, TF.avg_pool1d, random_array(shape), kw)


def test_max_pool2d_all_equal_window_routes_to_first(device):
    x = np.zeros((1, 1, 4, 4), np.float32)          # relu outputs: whole windows of zeros
    check_parity(lambda a: F.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), [x], device=device)
    check_parity(lambda a: F.max_pool2d(a, 3, 1, 1), lambda a: TF.max_pool2d(a, 3, 1, 1), [x],
                 device=device)


def test_pooling_fast_path_lenet_shape(device):
    x = np.maximum(random_array((8, 6, 28, 28)), 0)
    check_parity(lambda a: F.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), [x], device=device)
    check_parity(lambda a: F.avg_pool2d(a, 2), lambda a: TF.avg_pool2d(a, 2), [x], device=device)
    check_parity(lambda a: F.max_pool2d(a, 3, 2), lambda a: TF.max_pool2d(a, 3, 2), [x],
                 device=device)


def test_max_pool_output_may_be_changed_in_place():
    """PyTorch keeps indices, so relu_ on the pooled output is allowed; so is it here."""
    x = nr.tensor(random_array((1, 2, 4, 4)), requires_grad=True)
    y = F.max_pool2d(x, 2)
    F.relu_(y)
    y.sum().backward()
    xt = torch.tensor(random_array((1, 2, 4, 4)), requires_grad=True)
    yt = TF.max_pool2d(xt, 2)
    TF.relu_(yt)
    yt.sum().backward()
    assert_close(x.grad, xt.grad)


@pytest.mark.parametrize("fn,tfn,shape", [
    (F.max_pool2d, TF.max_pool2d, (3, 7, 6)),
    (F.avg_pool2d, TF.avg_pool2d, (3, 7, 6)),
    (F.max_pool1d, TF.max_pool1d, (3, 7)),
    (F.avg_pool1d, TF.avg_pool1d, (3, 7)),
])
def test_pool_unbatched(device, fn, tfn, shape):
    x = _tie_input(shape)
    check_parity(lambda a: fn(a, 3, 2, 1, ceil_mode=True),
                 lambda a: tfn(a, 3, 2, 1, ceil_mode=True), [x], device=device)


@pytest.mark.parametrize("shape,out", [
    ((2, 3, 10, 7), (3, 4)), ((2, 3, 10, 7), 1), ((2, 3, 8, 8), 4), ((2, 3, 5, 7), (None, 3)),
    ((3, 6, 6), (4, 5)), ((2, 3, 3, 3), (5, 7)),
])
def test_adaptive_pool2d_matches_torch(shape, out):
    x = random_array(shape)
    check_parity(lambda a: F.adaptive_avg_pool2d(a, out),
                 lambda a: TF.adaptive_avg_pool2d(a, out), [x])
    xi = _tie_input(shape)
    check_parity(lambda a: F.adaptive_max_pool2d(a, out),
                 lambda a: TF.adaptive_max_pool2d(a, out), [xi])
    ny, ni = F.adaptive_max_pool2d(nr.tensor(xi), out, return_indices=True)
    ty, ti = TF.adaptive_max_pool2d(torch.tensor(xi), out, return_indices=True)
    assert_close(ni, ti)


@pytest.mark.parametrize("shape,out", [((2, 3, 10), 4), ((3, 7), 3), ((2, 2, 5), 8)])
def test_adaptive_pool1d_matches_torch(device, shape, out):
    x = random_array(shape)
    check_parity(lambda a: F.adaptive_avg_pool1d(a, out),
                 lambda a: TF.adaptive_avg_pool1d(a, out), [x], device=device)
    check_parity(lambda a: F.adaptive_max_pool1d(a, out),
                 lambda a: TF.adaptive_max_pool1d(a, out), [_tie_input(shape)], device=device)


def _distinct(shape, seed=0):
    """Distinct values (a shuffled grid): no ties, so finite differences see one argmax."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.1).reshape(shape)


def test_pooling_float64_gradchecks():
    gradcheck64(lambda a: F.max_pool2d(a, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1),
                                       ceil_mode=True), _distinct((2, 2, 6, 7)))
    gradcheck64(lambda a: F.max_pool1d(a, 3, 2), _distinct((2, 2, 7)))
    rng = np.random.default_rng(0)
    gradcheck64(lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                rng.standard_normal((2, 2, 6, 7)))
    gradcheck64(lambda a: F.avg_pool1d(a, 2), rng.standard_normal((2, 2, 6)))
    gradcheck64(lambda a: F.adaptive_avg_pool2d(a, (3, 2)), rng.standard_normal((2, 2, 7, 5)))
    gradcheck64(lambda a: F.adaptive_max_pool2d(a, (3, 2)), _distinct((2, 2, 7, 5)))


POOL_MODULES = [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", ((2, 3),), dict(stride=1, padding=1, dilation=2, ceil_mode=True)),
    ("MaxPool1d", (3,), dict(stride=2)),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1, True, False), {}),
    ("AvgPool2d", (3,), dict(divisor_override=2)),
    ("AvgPool1d", (3,), dict(padding=1, count_include_pad=False)),
    ("AdaptiveAvgPool2d", ((6, 6),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((None, 2),), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
    ("AdaptiveMaxPool2d", ((2, 3),), {}),
    ("AdaptiveMaxPool1d", (3,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", POOL_MODULES)
def test_pool_modules_match_torch(name, args, kwargs):
    t = getattr(torch.nn, name)(*args, **kwargs)
    n = getattr(nn, name)(*args, **kwargs)
    assert repr(n) == repr(t)
    shape = (2, 3, 9, 8) if "2d" in name else (2, 3, 11)
    x = _tie_input(shape) if "Max" in name else random_array(shape)
    check_parity(n, t, [x])


def test_max_pool_module_return_indices():
    x = _tie_input((2, 3, 8, 8))
    ny, ni = nn.MaxPool2d(2, return_indices=True)(nr.tensor(x))
    ty, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    assert_close(ny, ty)
    assert_close(ni, ti)


# ============================================================================ a small CNN

def test_lenet_like_network_matches_torch():
    """conv -> relu -> pool -> conv -> relu -> pool -> linear, weights from torch."""
    def build(m):
        return m.Sequential(m.Conv2d(1, 6, 5, padding=2), m.ReLU(), m.MaxPool2d(2),
                            m.Conv2d(6, 16, 5), m.ReLU(), m.AvgPool2d(2), m.Flatten(),
                            m.Linear(16 * 5 * 5, 10))
    torch.manual_seed(0)
    t = build(torch.nn)
    n = build(nn)
    n.load_state_dict(t.state_dict())
    x = random_array((4, 1, 28, 28))
    y = np.array([1, 2, 3, 4])
    ln = F.cross_entropy(n(nr.tensor(x)), nr.tensor(y))
    lt = TF.cross_entropy(t(torch.tensor(x)), torch.tensor(y))
    ln.backward()
    lt.backward()
    assert_close(ln, lt, kind="matmul")
    for (k, p), (_, tp) in zip(n.named_parameters(), t.named_parameters()):
        assert_close(p.grad, tp.grad, kind="matmul", what=k)


def test_conv2d_input_grad_in_channel_chunks(device, monkeypatch):
    """dL/dX_col built a few channels at a time (tiny _DCOLS_BYTES) gives the same grads."""
    monkeypatch.setattr(conv_ops, "_DCOLS_BYTES", 1)
    x, w, b = random_array((2, 6, 7, 6)), random_array((4, 3, 3, 2), seed=1), \
        random_array((4,), seed=2)
    kw = dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2)
    check_parity(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), [x, w, b],
                 kind="matmul", device=device)


@pytest.mark.parametrize("groups", [1, 3])
def test_conv2d_1x1(device, groups):
    x, w = random_array((2, 6, 5, 4)), random_array((9, 6 // groups, 1, 1), seed=1)
    check_parity(lambda a, c: F.conv2d(a, c, groups=groups),
                 lambda a, c: TF.conv2d(a, c, groups=groups), [x, w], kind="matmul", device=device)


def test_empty_batch(device):
    x = np.zeros((0, 3, 8, 8), np.float32)
    w = random_array((4, 3, 3, 3))
    check_parity(lambda a, c: F.conv2d(a, c, padding=1), lambda a, c: TF.conv2d(a, c, padding=1),
                 [x, w], kind="matmul", device=device)
    for fn, tfn, arg in [(F.max_pool2d, TF.max_pool2d, 2), (F.avg_pool2d, TF.avg_pool2d, 2),
                         (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, 3),
                         (F.adaptive_max_pool2d, TF.adaptive_max_pool2d, 3)]:
        check_parity(lambda a: fn(a, arg), lambda a: tfn(a, arg), [x], device=device)


def test_conv_bias_dtype_must_match():
    with pytest.raises(RuntimeError, match="bias"):
        F.conv2d(nr.zeros(1, 1, 3, 3), nr.zeros(1, 1, 2, 2), nr.zeros(1, dtype=nr.float64))


def test_workspace_buffers_are_not_shared_between_live_graphs(device):
    """Two convolutions of the same shape awaiting backward must keep separate X_col
    buffers (the workspace reuses a buffer only when nothing holds it)."""
    x1, x2, w = random_array((2, 3, 6, 6)), random_array((2, 3, 6, 6), seed=1), \
        random_array((4, 3, 3, 3), seed=2)

    def both(lib_conv, a, b, c):
        return lib_conv(a, c) * lib_conv(b, c)
    check_parity(lambda a, b, c: both(F.conv2d, a, b, c),
                 lambda a, b, c: both(TF.conv2d, a, b, c), [x1, x2, w], kind="matmul",
                 device=device)
    # and after backward the buffer is reused, without changing results
    for _ in range(2):
        check_parity(lambda a, c: F.conv2d(a, c), lambda a, c: TF.conv2d(a, c), [x1, w],
                     kind="matmul", device=device)
