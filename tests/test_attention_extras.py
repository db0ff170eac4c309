"""The last pieces of attention against PyTorch 2.13: grouped-query attention in
F.scaled_dot_product_attention (enable_gqa=True) and nn.MultiheadAttention's add_bias_kv /
add_zero_attn: forward values, gradients of every input and parameter, masks, errors."""
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
from helpers import check_parity, gradcheck64, assert_close
from test_attention import _run_both


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
    q, k, v, mask, causal, scale = cfg
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    if mask is not None and mask.dtype.kind == "f":
        mask = mask.astype(dtype)
    args = [q, k, v] + ([mask] if mask is not None else [])
    rg = [True, True, True] + ([mask.dtype.kind == "f"] if mask is not None else [])

    def fn(lib):
        def f(q, k, v, m=None):
            return lib.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal,
                                                    scale=scale, enable_gqa=True)
        return f
    check_parity(fn(F), fn(TF), args, kind="matmul", requires_grad=rg)


@given(gqa_configs(dtype=np.float64))
@settings(max_examples=15)
def test_sdpa_gqa_fused_equals_reference(cfg):
    """The fused op (K/V heads shared, never repeated) against the unfused formula on
    K/V repeated with repeat_interleave: same output and gradients, to float64 rounding."""
    q, k, v, mask, causal, scale = cfg
    ins = [neurona.tensor(a, requires_grad=True) for a in (q, k, v)]
    refs = [neurona.tensor(a, requires_grad=True) for a in (q, k, v)]
    m = None if mask is None else neurona.tensor(mask)
    kw = dict(attn_mask=m, is_causal=causal, scale=scale, enable_gqa=True)
    out = F.scaled_dot_product_attention(*ins, **kw)
    ref = _sdpa_reference(*refs, **kw)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                               atol=1e-13)
    g = neurona.tensor(np.random.default_rng(1).standard_normal(out.shape))
    out.backward(g)
    ref.backward(g)
    for a, b in zip(ins, refs):
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


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


# ----------------------------------------------------------------------------- MHA

def _twin(E, h, batch_first, kdim=None, vdim=None, bias=True, bias_kv=False, zero_attn=False,
          seed=0):
    """A torch MHA with add_bias_kv/add_zero_attn and a neurona one holding its
    state_dict (bias_k and bias_v included)."""
    torch.manual_seed(seed)
    t = torch.nn.MultiheadAttention(E, h, bias=bias, kdim=kdim, vdim=vdim,
                                    batch_first=batch_first, add_bias_kv=bias_kv,
                                    add_zero_attn=zero_attn).double()
    n = nn.MultiheadAttention(E, h, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first,
                              add_bias_kv=bias_kv, add_zero_attn=zero_attn,
                              dtype=neurona.float64)
    n.load_state_dict({k: neurona.tensor(v.detach().numpy())
                       for k, v in t.state_dict().items()})
    return n, t


@st.composite
def mha_extra_configs(draw):
    h = draw(st.sampled_from([1, 2, 3]))
    E = h * draw(st.integers(1, 3))
    extra = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
    kv = draw(st.sampled_from([(None, None), (2, 5)]))
    return dict(E=E, h=h, N=draw(st.integers(1, 3)), L=draw(st.integers(1, 4)),
                S=draw(st.integers(1, 4)), kdim=kv[0], vdim=kv[1], bias_kv=extra[0],
                zero_attn=extra[1], batch_first=draw(st.booleans()),
                unbatched=draw(st.booleans()), bias=draw(st.booleans()),
                need_weights=draw(st.booleans()), average=draw(st.booleans()),
                kpm=draw(st.sampled_from([None, "bool", "float"])),
                am=draw(st.sampled_from([None, "bool2", "float2", "bool3"])),
                seed=draw(st.integers(0, 1000)))


@given(mha_extra_configs())
@settings(max_examples=30)
def test_mha_bias_kv_zero_attn_match_torch(c):
    E, h, N, L, S = c["E"], c["h"], c["N"], c["L"], c["S"]
    n, t = _twin(E, h, c["batch_first"], c["kdim"], c["vdim"], c["bias"], c["bias_kv"],
                 c["zero_attn"], c["seed"])
    rng = np.random.default_rng(c["seed"])
    kd, vd = c["kdim"] or E, c["vdim"] or E

    def seq(T, F_):
        if c["unbatched"]:
            return rng.standard_normal((T, F_))
        return rng.standard_normal((N, T, F_) if c["batch_first"] else (T, N, F_))
    q, k, v = seq(L, E), seq(S, kd), seq(S, vd)
    kw = dict(need_weights=c["need_weights"], average_attn_weights=c["average"])
    NB = 1 if c["unbatched"] else N
    if c["kpm"]:
        pad = rng.random((NB, S)) < 0.4       # rows may be fully padded: the extra
        if c["kpm"] == "float":               # keys are never masked
            pad = np.where(pad, -np.inf, rng.standard_normal((NB, S)))
        kw["key_padding_mask"] = pad[0] if c["unbatched"] else pad
    if c["am"]:
        shape = (L, S) if c["am"].endswith("2") else (NB * h, L, S)
        am = rng.random(shape) < 0.4
        if c["am"] == "float2":
            am = rng.standard_normal(shape)
        kw["attn_mask"] = am
    out, w = _run_both(n, t, [q, k, v], **kw)   # bias_k/bias_v grads compared too
    if w is not None:
        assert w.shape[-1] == S + c["bias_kv"] + c["zero_attn"]
    if c["bias_kv"]:
        assert n.bias_k.grad is not None and n.bias_v.grad is not None


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_bias_kv_causal_self_attention(batch_first):
    """is_causal with need_weights=False goes through SDPA's causal path on S + 2 keys (as
    torch); with need_weights=True through the explicit mask padded with 2 columns."""
    n, t = _twin(6, 2, batch_first, bias_kv=True, zero_attn=True, seed=4)
    x = np.random.default_rng(1).standard_normal((2, 5, 6) if batch_first else (5, 2, 6))
    causal = ~np.tril(np.ones((5, 5), dtype=bool))
    for need in (False, True):
        n.zero_grad()
        t.zero_grad()
        _run_both(n, t, [x, x, x], attn_mask=causal, is_causal=True, need_weights=need)


def test_mha_bias_kv_state_dict_and_init():
    neurona.manual_seed(0)
    m = nn.MultiheadAttention(256, 4, add_bias_kv=True, add_zero_attn=True)
    t = torch.nn.MultiheadAttention(256, 4, add_bias_kv=True, add_zero_attn=True)
    assert list(m.state_dict()) == list(t.state_dict())
    assert "bias_k" in m.state_dict() and m.add_zero_attn
    for key, val in t.state_dict().items():
        assert tuple(m.state_dict()[key].shape) == tuple(val.shape), key
    for b in (m.bias_k, m.bias_v):            # xavier_normal_ on (1, 1, E): std sqrt(1/E)
        std = b.detach().numpy().std()
        assert abs(std / np.sqrt(1 / 256) - 1) < 0.2
    assert not np.array_equal(m.bias_k.detach().numpy(), m.bias_v.detach().numpy())
    m2 = nn.MultiheadAttention(8, 2, add_zero_attn=True, kdim=3, vdim=5)
    t2 = torch.nn.MultiheadAttention(8, 2, add_zero_attn=True, kdim=3, vdim=5)
    assert list(m2.state_dict()) == list(t2.state_dict())
    assert m2.bias_k is None and m2.bias_v is None
    # a torch state_dict with bias_k/bias_v loads into the layer and sets them
    m.load_state_dict({k: neurona.tensor(v.numpy()) for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(m.bias_v.detach().numpy(), t.bias_v.detach().numpy())


def test_mha_zero_attn_weights_on_the_zero_key():
    """With add_zero_attn and every real key padded, all the weight goes to the zero key
    and the output is out_proj's bias (the zero value), as in torch (no NaN)."""
    n, t = _twin(4, 2, True, zero_attn=True, seed=3)
    with torch.no_grad():
        t.out_proj.bias.normal_()
    n.out_proj.bias.data = neurona.tensor(t.out_proj.bias.detach().numpy())
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    pad = np.zeros((2, 3), dtype=bool)
    pad[0] = True
    out, w = _run_both(n, t, [x, x, x], key_padding_mask=pad)
    w = w.detach().numpy()
    assert w.shape == (2, 3, 4)
    np.testing.assert_allclose(w[0, :, -1], 1.0)
    np.testing.assert_allclose(out.detach().numpy()[0],
                               np.broadcast_to(t.out_proj.bias.detach().numpy(), (3, 4)))
