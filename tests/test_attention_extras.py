"""Grouped-query attention in F.scaled_dot_product_attention (enable_gqa=True) against
PyTorch 2.13: forward values, gradients of every input, masks, errors. (MultiheadAttention's
add_bias_kv / add_zero_attn are drawn by test_attention.py's MHA parity test.)"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import neurona
import neurona.nn.functional as F
from helpers import gradcheck64
from test_attention import check_sdpa_parity, check_fused_equals_reference


# ----------------------------------------------------------------------------- GQA

@st.composite
def gqa_configs(draw, dtype=np.float32):
    """Hq = Hk * G query heads; Hv divides Hq too (torch allows Hk != Hv); leading batch
    dims that broadcast; a mask with 1 or Hq heads; a scale."""
    hk, g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hq = hk * g
    hv = draw(st.sampled_from(sorted({hk, 1, hq})))
    nb = draw(st.integers(0, 1))
    batch = tuple(draw(st.integers(1, 3)) for _ in range(nb))
    L, S, E, Ev = (draw(st.integers(1, 4)) for _ in range(4))

    def lead():                 # each input may drop the batch dim or have a 1 (broadcast)
        if not batch or draw(st.booleans()):
            return ()
        return (1,) if draw(st.booleans()) else batch
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    q = rng.standard_normal(lead() + (hq, L, E)).astype(dtype)
    k = rng.standard_normal(lead() + (hk, S, E)).astype(dtype)
    v = rng.standard_normal(lead() + (hv, S, Ev)).astype(dtype)
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mshape = (draw(st.sampled_from([1, hq])), L, S)
    mask = None
    if kind == "bool":
        mask = rng.random(mshape) < 0.7
        mask[..., 0] = True                  # no fully masked rows
    elif kind == "float":
        mask = rng.standard_normal(mshape).astype(dtype)
    scale = draw(st.sampled_from([None, 0.3]))
    return q, k, v, mask, kind == "causal", scale


@given(gqa_configs(), st.sampled_from([np.float32, np.float64]))
@settings(max_examples=30)
def test_sdpa_gqa_matches_torch(cfg, dtype):
    check_sdpa_parity(cfg, dtype, enable_gqa=True)


@given(gqa_configs(dtype=np.float64))
@settings(max_examples=15)
def test_sdpa_gqa_fused_equals_reference(cfg):
    """The fused op (K/V heads shared, never repeated) against the unfused formula on
    K/V repeated with repeat_interleave: same output and gradients, to float64 rounding."""
    check_fused_equals_reference(cfg, enable_gqa=True)


@pytest.mark.parametrize("kind", ["float", "causal"])
def test_sdpa_gqa_gradcheck64(kind):
    rng = np.random.default_rng(3)
    # 2 batches broadcast against 1, 4 query heads, 2 key heads, 1 value head
    q, k, v = (rng.standard_normal(s) for s in ((2, 4, 3, 2), (1, 2, 5, 2), (1, 5, 3)))
    if kind == "float":
        m = rng.standard_normal((4, 3, 5))
        gradcheck64(lambda q, k, v, m: F.scaled_dot_product_attention(
            q, k, v, attn_mask=m, enable_gqa=True), q, k, v, m)
    else:
        gradcheck64(lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, is_causal=True, scale=0.7, enable_gqa=True), q, k, v)


def test_sdpa_gqa_groups_are_consecutive_heads_and_dropout_weights():
    """Query heads 0..G-1 share K/V head 0 (repeat_interleave, not tile); with dropout and
    the weights returned, O = P~ V_shared and dV sums P~^T dO over each group."""
    rng = np.random.default_rng(7)
    q = neurona.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    k = neurona.tensor(rng.standard_normal((2, 5, 2)))
    v = neurona.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True).detach().numpy()
    for i in range(4):                        # head i uses K/V head i // 2
        one = F.scaled_dot_product_attention(q[i], k[i // 2], v[i // 2])
        np.testing.assert_allclose(out[i], one.detach().numpy(), rtol=1e-12)
    neurona.manual_seed(0)
    o, w = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, enable_gqa=True,
                                          _need_weights=True)
    w = w.detach().numpy()
    assert w.shape == (4, 3, 5) and (w == 0).mean() > 0.2
    vr = np.repeat(v.detach().numpy(), 2, axis=0)
    np.testing.assert_allclose(o.detach().numpy(), w @ vr, rtol=1e-12)
    g = rng.standard_normal(o.shape)
    o.backward(neurona.tensor(g))
    dv = (w.swapaxes(-1, -2) @ g).reshape(2, 2, 5, 3).sum(1)
    np.testing.assert_allclose(v.grad.numpy(), dv, rtol=1e-12)


def test_sdpa_gqa_equal_heads_is_plain_attention():
    rng = np.random.default_rng(8)
    q, k, v = (neurona.tensor(rng.standard_normal((2, 3, 4, 2))) for _ in range(3))
    a = F.scaled_dot_product_attention(q, k, v, enable_gqa=True).detach().numpy()
    b = F.scaled_dot_product_attention(q, k, v).detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_sdpa_gqa_errors():
    t = lambda *s: neurona.tensor(np.zeros(s, dtype=np.float32))  # noqa: E731
    with pytest.raises(ValueError, match=r"multiple of .*Hq=4, Hk=3.*\(1, 4, 2, 5\)"):
        F.scaled_dot_product_attention(t(1, 4, 2, 5), t(1, 3, 6, 5), t(1, 3, 6, 5),
                                       enable_gqa=True)
    with pytest.raises(ValueError, match="Hv=3"):
        F.scaled_dot_product_attention(t(4, 2, 5), t(2, 6, 5), t(3, 6, 5), enable_gqa=True)
    # fewer K/V heads without enable_gqa: says what to pass
    with pytest.raises(ValueError, match=r"fewer heads.*\(1, 2, 6, 5\).*enable_gqa=True"):
        F.scaled_dot_product_attention(t(1, 4, 2, 5), t(1, 2, 6, 5), t(1, 2, 6, 5))
    with pytest.raises(ValueError, match="needs a head dim"):
        F.scaled_dot_product_attention(t(2, 5), t(6, 5), t(6, 5), enable_gqa=True)
    with pytest.raises(RuntimeError, match="batch dims"):
        F.scaled_dot_product_attention(t(2, 4, 2, 5), t(3, 2, 6, 5), t(3, 2, 6, 5),
                                       enable_gqa=True)
    with pytest.raises(RuntimeError, match="attn_mask must broadcast"):
        F.scaled_dot_product_attention(t(4, 2, 5), t(2, 6, 5), t(2, 6, 5),
                                       attn_mask=t(2, 2, 6), enable_gqa=True)
