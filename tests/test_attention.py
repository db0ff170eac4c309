"""Scaled dot-product attention (F.scaled_dot_product_attention) and nn.MultiheadAttention
against PyTorch 2.13: forward values, gradients of every input, masks, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import neurona
import neurona.nn as nn
import neurona.nn.functional as F
from neurona.ops.attention import _sdpa_reference
from helpers import check_parity, gradcheck64, assert_close, to_numpy


# ----------------------------------------------------------------------------- SDPA

@st.composite
def sdpa_configs(draw, dtype=np.float32):
    """Shapes with broadcast batch dims, L != S and E != Ev, one mask kind, a scale."""
    nb = draw(st.integers(0, 2))
    batch = tuple(draw(st.integers(1, 3)) for _ in range(nb))
    L, S, E, Ev = (draw(st.integers(1, 5)) for _ in range(4))

    def bshape(batch=batch):    # each input may drop leading dims or have 1s (broadcast)
        drop = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else b for b in batch[drop:])
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    q = rng.standard_normal(bshape() + (L, E)).astype(dtype)
    k = rng.standard_normal(bshape() + (S, E)).astype(dtype)
    v = rng.standard_normal(bshape() + (S, Ev)).astype(dtype)
    # torch adds the mask in place to Q K^T: its batch dims must broadcast INTO q's and k's
    qk = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    mshape = lambda: bshape(qk)  # noqa: E731
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask = None
    if kind == "bool":
        mask = rng.random(mshape() + (L, S)) < 0.7
        mask[..., 0] = True          # no fully masked rows here (tested separately)
    elif kind == "float":
        mask = rng.standard_normal(mshape() + (L, S)).astype(dtype)
    scale = draw(st.sampled_from([None, 0.3, 1.0]))
    return q, k, v, mask, kind == "causal", scale


def _mask_grad(mask):
    return mask is not None and mask.dtype.kind == "f"


@given(sdpa_configs(), st.sampled_from([np.float32, np.float64]))
@settings(max_examples=40)
def test_sdpa_matches_torch(cfg, dtype):
    q, k, v, mask, causal, scale = cfg
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    if mask is not None and mask.dtype.kind == "f":
        mask = mask.astype(dtype)
    args = [q, k, v] + ([mask] if mask is not None else [])
    rg = [True, True, True] + ([_mask_grad(mask)] if mask is not None else [])

    def fn(lib):
        def f(q, k, v, m=None):
            return lib.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal,
                                                    scale=scale)
        return f
    check_parity(fn(F), fn(TF), args, kind="matmul", requires_grad=rg)


@given(sdpa_configs(dtype=np.float64))
@settings(max_examples=15)
def test_sdpa_fused_equals_reference(cfg):
    q, k, v, mask, causal, scale = cfg
    ins = [neurona.tensor(a, requires_grad=True) for a in (q, k, v)]
    refs = [neurona.tensor(a, requires_grad=True) for a in (q, k, v)]
    m = None if mask is None else neurona.tensor(mask)
    out = F.scaled_dot_product_attention(*ins, attn_mask=m, is_causal=causal, scale=scale)
    ref = _sdpa_reference(*refs, attn_mask=m, is_causal=causal, scale=scale)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                               atol=1e-13)
    g = neurona.tensor(np.random.default_rng(1).standard_normal(out.shape))
    out.backward(g)
    ref.backward(g)
    for a, b in zip(ins, refs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_sdpa_gradcheck64(kind):
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 5, 4)), \
        rng.standard_normal((2, 5, 3))
    if kind == "float":
        m = rng.standard_normal((3, 5))
        gradcheck64(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                    q, k, v, m)
        return
    mask = (rng.random((3, 5)) < 0.6) | (np.arange(5) == 0) if kind == "bool" else None
    gradcheck64(lambda q, k, v, m: F.scaled_dot_product_attention(
        q, k, v, attn_mask=m, is_causal=kind == "causal", scale=0.7), q, k, v, mask)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_like_torch(kind):
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4), (2, 5, 4),
                                                                    (2, 5, 6)))
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    if kind == "float":
        mask = np.where(mask, 0.0, -np.inf).astype(np.float32)
    n_out, t_out = check_parity(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
        lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
        [q, k, v, mask], kind="matmul", requires_grad=[True, True, True, False])
    assert np.all(to_numpy(n_out[0])[:, 1] == 0)


def test_sdpa_causal_with_more_queries_than_keys():
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((6, 2), (3, 2), (3, 4)))
    check_parity(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                 lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True),
                 [q, k, v], kind="matmul")


def test_sdpa_dropout_statistics_and_determinism():
    rng = np.random.default_rng(6)
    q = neurona.tensor(rng.standard_normal((4, 16, 8)).astype(np.float32), requires_grad=True)
    k = neurona.tensor(rng.standard_normal((4, 16, 8)).astype(np.float32))
    v = neurona.tensor(np.eye(16, dtype=np.float32).reshape(1, 16, 16).repeat(4, 0))
    p = 0.3
    neurona.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    neurona.manual_seed(0)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # with V = I the output is the dropped-out weight matrix P * D / (1 - p)
    w = a.detach().numpy()
    ref = _sdpa_reference(q, k, v).detach().numpy()
    kept = w != 0
    assert abs(1 - kept.mean() - p) < 0.05
    np.testing.assert_allclose(w[kept], ref[kept] / (1 - p), rtol=1e-5)
    # the gradient goes through the kept weights only: compare with a hand-built mask
    a.backward(neurona.ones(a.shape))
    qq = neurona.tensor(q.detach().numpy(), requires_grad=True)
    pr = neurona.nn.functional.softmax(qq @ k.transpose(-2, -1) / np.sqrt(8), dim=-1)
    (pr * neurona.tensor(kept / (1 - p))).sum().backward()
    np.testing.assert_allclose(q.grad.numpy(), qq.grad.numpy(), rtol=1e-4, atol=1e-5)
    # no dropout when p = 0: equal to the plain output
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
    np.testing.assert_allclose(c.detach().numpy(), ref, rtol=1e-6)


def test_sdpa_errors():
    t = lambda *s, dt=np.float32: neurona.tensor(np.zeros(s, dtype=dt))  # noqa: E731
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention.*same last dim"):
        F.scaled_dot_product_attention(t(2, 3), t(4, 5), t(4, 5))
    with pytest.raises(RuntimeError, match="number of positions"):
        F.scaled_dot_product_attention(t(2, 3), t(4, 3), t(5, 3))
    with pytest.raises(RuntimeError, match="not both"):
        F.scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 3), attn_mask=t(2, 4),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="attn_mask must broadcast"):
        F.scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 3), attn_mask=t(3, 4))
    with pytest.raises(RuntimeError, match="bool .* or a float mask"):
        F.scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 3),
                                       attn_mask=t(2, 4, dt=np.int64))
    with pytest.raises(RuntimeError, match="batch dims"):
        F.scaled_dot_product_attention(t(2, 2, 3), t(3, 4, 3), t(3, 4, 3))
    with pytest.raises(RuntimeError, match="at least 2 dims"):
        F.scaled_dot_product_attention(t(3), t(4, 3), t(4, 3))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 3), dropout_p=1.5)
