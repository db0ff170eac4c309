"""Scaled dot-product attention (F.scaled_dot_product_attention) and nn.MultiheadAttention
(add_bias_kv / add_zero_attn included) against PyTorch 2.13: forward values, gradients of
every input and parameter, masks, errors. Grouped-query SDPA: test_attention_extras.py."""
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


def check_sdpa_parity(cfg, dtype, **kw):
    """F.scaled_dot_product_attention against torch's on one drawn config cast to dtype:
    output and the grads of Q, K, V and of a float mask (kw: e.g. enable_gqa=True)."""
    q, k, v, mask, causal, scale = cfg
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    if mask is not None and mask.dtype.kind == "f":
        mask = mask.astype(dtype)
    args = [q, k, v] + ([mask] if mask is not None else [])
    rg = [True, True, True] + ([_mask_grad(mask)] if mask is not None else [])

    def fn(lib):
        def f(q, k, v, m=None):
            return lib.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal,
                                                    scale=scale, **kw)
        return f
    check_parity(fn(F), fn(TF), args, kind="matmul", requires_grad=rg)


def check_fused_equals_reference(cfg, **kw):
    """The fused op against the unfused formula (_sdpa_reference) on one float64 config:
    same output and same grads (with the inputs' shapes), to float64 rounding."""
    q, k, v, mask, causal, scale = cfg
    ins = [neurona.tensor(a, requires_grad=True) for a in (q, k, v)]
    refs = [neurona.tensor(a, requires_grad=True) for a in (q, k, v)]
    kw = dict(kw, attn_mask=None if mask is None else neurona.tensor(mask),
              is_causal=causal, scale=scale)
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


@given(sdpa_configs(), st.sampled_from([np.float32, np.float64]))
@settings(max_examples=40)
def test_sdpa_matches_torch(cfg, dtype):
    check_sdpa_parity(cfg, dtype)


@given(sdpa_configs(dtype=np.float64))
@settings(max_examples=15)
def test_sdpa_fused_equals_reference(cfg):
    check_fused_equals_reference(cfg)


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


@pytest.mark.parametrize("shape", [(2, 3, 8, 4), (1, 2, 13, 5), (9, 3), (2, 1, 12, 2)])
def test_sdpa_causal_blocks_match_the_full_path_and_torch(monkeypatch, shape):
    """Causal attention without dropout or other masks runs by blocks of query rows (the
    masked upper triangle skipped; ops.attention.CAUSAL_BLOCK, 4 here so that short
    sequences take it): forward and every gradient equal the full path's and torch's, and
    the finite differences."""
    import neurona.ops.attention as A
    rng = np.random.default_rng(len(shape))
    q, k, v, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(4))

    def run(block, needs=(True, True, True)):
        monkeypatch.setattr(A, "CAUSAL_BLOCK", block)
        ts = [neurona.tensor(a, requires_grad=r) for a, r in zip((q, k, v), needs)]
        out = F.scaled_dot_product_attention(*ts, is_causal=True, scale=0.6)
        out.backward(neurona.tensor(g))
        return out, ts
    calls = []
    blocked = A.ScaledDotProductAttention._causal_blocks_forward
    monkeypatch.setattr(A.ScaledDotProductAttention, "_causal_blocks_forward",
                        lambda self, *a: calls.append(1) or blocked(self, *a))
    out, ts = run(4)
    full, fts = run(10 ** 6)
    assert calls == [1]                     # the first took the blocks, the second did not
    tts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    tout = TF.scaled_dot_product_attention(*tts, is_causal=True, scale=0.6)
    tout.backward(torch.tensor(g))
    assert_close(out, full.detach().numpy(), kind="matmul")
    assert_close(out, tout, kind="matmul")
    for t, f, tt in zip(ts, fts, tts):
        assert_close(t.grad, f.grad.numpy(), kind="matmul")
        assert_close(t.grad, tt.grad, kind="matmul")
    # only some inputs need a gradient: the others get none
    _, ts = run(4, needs=(False, True, False))
    assert ts[0].grad is None and ts[2].grad is None
    assert_close(ts[1].grad, tts[1].grad, kind="matmul")
    monkeypatch.setattr(A, "CAUSAL_BLOCK", 4)
    gradcheck64(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                q, k, v)


def test_sdpa_causal_blocks_with_dropout(monkeypatch):
    """Dropout on the causal blocks path: each block draws its keep-mask D; the output is
    P~ V with P~ = P * D / (1 - p) (seen through V = I), gradients go through the kept
    weights only, dV = P~^T dO, and the same seed gives the same result."""
    import neurona.ops.attention as A
    monkeypatch.setattr(A, "CAUSAL_BLOCK", 4)
    rng = np.random.default_rng(7)
    L, p = 16, 0.3
    qa, ka = (rng.standard_normal((3, L, 8)).astype(np.float32) for _ in range(2))
    eye = np.eye(L, dtype=np.float32).reshape(1, L, L).repeat(3, 0)
    q = neurona.tensor(qa, requires_grad=True)
    neurona.manual_seed(0)
    w = F.scaled_dot_product_attention(q, neurona.tensor(ka), neurona.tensor(eye),
                                       dropout_p=p, is_causal=True)
    tq, tk = torch.tensor(qa, requires_grad=True), torch.tensor(ka)
    tp = torch.softmax(tq @ tk.transpose(-2, -1) / np.sqrt(8)
                       + torch.triu(torch.full((L, L), -np.inf), 1), dim=-1)
    ref = tp.detach().numpy()
    wn = w.detach().numpy()
    kept = wn != 0
    lower = np.tril(np.ones((L, L), bool))
    assert not kept[:, ~lower].any()                          # never above the diagonal
    assert abs(1 - kept[:, lower].mean() - p) < 0.06
    np.testing.assert_allclose(wn[kept], ref[kept] / (1 - p), rtol=1e-5)
    w.backward(neurona.ones(w.shape))
    (tp * torch.tensor(kept / (1 - p))).sum().backward()
    np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), rtol=1e-4, atol=1e-5)
    # the same seed draws the same masks: O = P~ V and dV = P~^T dO
    va = rng.standard_normal((3, L, 5)).astype(np.float32)
    g = rng.standard_normal((3, L, 5)).astype(np.float32)
    v = neurona.tensor(va, requires_grad=True)
    neurona.manual_seed(0)
    o = F.scaled_dot_product_attention(neurona.tensor(qa), neurona.tensor(ka), v,
                                       dropout_p=p, is_causal=True)
    np.testing.assert_allclose(o.detach().numpy(), wn @ va, rtol=1e-5, atol=1e-6)
    o.backward(neurona.tensor(g))
    np.testing.assert_allclose(v.grad.numpy(), wn.swapaxes(1, 2) @ g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_like_torch(device, kind):
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
        [q, k, v, mask], kind="matmul", requires_grad=[True, True, True, False], device=device)
    assert np.all(to_numpy(n_out[0])[:, 1] == 0)


def test_sdpa_mask_that_blocks_nothing_is_the_same_as_none():
    # an all-True bool mask is skipped (a batch without padding); one False key still
    # counts; both with gradients, against torch
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    one_false = np.ones((2, 1, 1, 5), bool)
    one_false[1, 0, 0, 2] = False
    for mask in (np.ones((2, 1, 1, 5), bool), one_false):
        check_parity(lambda a, b, c: F.scaled_dot_product_attention(
                         a, b, c, attn_mask=neurona.tensor(mask)),
                     lambda a, b, c: TF.scaled_dot_product_attention(
                         a, b, c, attn_mask=torch.tensor(mask)),
                     [q, k, v], kind="matmul")
    n = [neurona.tensor(a) for a in (q, k, v)]
    full = F.scaled_dot_product_attention(*n, attn_mask=neurona.tensor(np.ones((5, 5), bool)))
    assert_close(full, TF.scaled_dot_product_attention(*map(torch.tensor, (q, k, v))),
                 kind="matmul")


def test_sdpa_causal_with_more_queries_than_keys(device):
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((6, 2), (3, 2), (3, 4)))
    check_parity(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                 lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True),
                 [q, k, v], kind="matmul", device=device)


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
    # with the weights returned too: dV = P~^T dO with the same dropped-out P~
    vv = neurona.tensor(rng.standard_normal((4, 16, 5)).astype(np.float32), requires_grad=True)
    neurona.manual_seed(1)
    o, w = F.scaled_dot_product_attention(q, k, vv, dropout_p=p, _need_weights=True)
    np.testing.assert_allclose(o.detach().numpy(), (w @ vv).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    o.backward(neurona.ones(o.shape))
    np.testing.assert_allclose(vv.grad.numpy(), w.detach().numpy().swapaxes(1, 2).sum(-1,
                               keepdims=True).repeat(5, -1), rtol=1e-5, atol=1e-6)
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


# ----------------------------------------------------------------------------- MHA

def _twin_mha(E, h, batch_first, kdim=None, vdim=None, bias=True, bias_kv=False,
              zero_attn=False, seed=0):
    """A torch MHA (float64) and a neurona MHA holding the torch one's state_dict
    (bias_k and bias_v included when add_bias_kv)."""
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


def _run_both(n, t, arrays, device="cpu", **kw):
    """Forward both layers on the same inputs, backward the same random upstream grads
    through the output (and the weights), and compare outputs, weights, input and
    parameter grads.  ``device``: layers, inputs and masks are moved there first."""
    d = device
    n.to(d), t.to(d)
    n_in = [None if a is None else neurona.tensor(a, requires_grad=a.dtype.kind == "f",
                                                  device=d) for a in arrays[:3]]
    t_in = [None if a is None else torch.tensor(a, requires_grad=a.dtype.kind == "f",
                                                device=d) for a in arrays[:3]]
    masks = {k: v for k, v in kw.items() if k in ("key_padding_mask", "attn_mask")}
    rest = {k: v for k, v in kw.items() if k not in masks}
    n_out, n_w = n(*n_in, **{k: neurona.tensor(v, device=d) for k, v in masks.items()}, **rest)
    t_out, t_w = t(*t_in, **{k: torch.tensor(v, device=d) for k, v in masks.items()}, **rest)
    assert_close(n_out, t_out, kind="matmul", what="attn_output")
    assert (n_w is None) == (t_w is None)
    rng = np.random.default_rng(0)
    g = rng.standard_normal(tuple(t_out.shape))
    n_loss = (n_out * neurona.tensor(g, device=d)).sum()
    t_loss = (t_out * torch.tensor(g, device=d)).sum()
    if t_w is not None:
        assert_close(n_w, t_w, kind="matmul", what="attn_weights")
        gw = rng.standard_normal(tuple(t_w.shape))
        n_loss = n_loss + (n_w * neurona.tensor(gw, device=d)).sum()
        t_loss = t_loss + (t_w * torch.tensor(gw, device=d)).sum()
    n_loss.backward()
    t_loss.backward()
    for i, (a, b) in enumerate(zip(n_in, t_in)):
        assert_close(a.grad, b.grad, kind="matmul", what=f"grad of input {i}")
    named = dict(t.named_parameters())
    for name, p in n.named_parameters():
        assert_close(p.grad, named[name].grad, kind="matmul", what=f"grad of {name}")
    return n_out, n_w


@st.composite
def mha_configs(draw):
    """Sizes, kdim/vdim, layouts, masks, and the extra keys of add_bias_kv (a learned key
    and value appended) / add_zero_attn (a zero key and value appended)."""
    h = draw(st.sampled_from([1, 2, 3]))
    E = h * draw(st.integers(1, 3))
    N, L, S = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kv = draw(st.sampled_from([(None, None), (2, 5), (E, 3)]))
    extra = draw(st.sampled_from([(False, False), (True, False), (False, True), (True, True)]))
    return dict(E=E, h=h, N=N, L=L, S=S, kdim=kv[0], vdim=kv[1],
                bias_kv=extra[0], zero_attn=extra[1],
                batch_first=draw(st.booleans()), unbatched=draw(st.booleans()),
                bias=draw(st.booleans()),
                need_weights=draw(st.booleans()), average=draw(st.booleans()),
                kpm=draw(st.sampled_from([None, "bool", "float"])),
                am=draw(st.sampled_from([None, "bool2", "float2", "bool3"])),
                seed=draw(st.integers(0, 1000)))


@given(mha_configs())
@settings(max_examples=60)
def test_mha_matches_torch(device, c):
    """Outputs, weights and every grad (bias_k/bias_v included) equal torch's. Without an
    extra key each row keeps one unmasked key; with add_bias_kv or add_zero_attn rows may
    be fully padded/masked, since the extra keys are never masked."""
    E, h, N, L, S = c["E"], c["h"], c["N"], c["L"], c["S"]
    n, t = _twin_mha(E, h, c["batch_first"], c["kdim"], c["vdim"], c["bias"], c["bias_kv"],
                     c["zero_attn"], c["seed"])
    rng = np.random.default_rng(c["seed"])
    kd, vd = c["kdim"] or E, c["vdim"] or E
    extra = c["bias_kv"] or c["zero_attn"]

    def seq(T, F_):
        if c["unbatched"]:
            return rng.standard_normal((T, F_))
        return rng.standard_normal((N, T, F_) if c["batch_first"] else (T, N, F_))
    q, k, v = seq(L, E), seq(S, kd), seq(S, vd)
    kw = dict(need_weights=c["need_weights"], average_attn_weights=c["average"])
    NB = 1 if c["unbatched"] else N
    if c["kpm"]:
        pad = rng.random((NB, S)) < 0.4
        if not extra:
            pad[:, 0] = False                 # keep one key per row (no all-masked rows)
        if c["kpm"] == "float":
            pad = np.where(pad, -np.inf, rng.standard_normal((NB, S)))
        kw["key_padding_mask"] = pad[0] if c["unbatched"] else pad
    if c["am"]:
        shape = (L, S) if c["am"].endswith("2") else (NB * h, L, S)
        am = rng.random(shape) < 0.4
        if not extra:
            am[..., 0] = False
        if c["am"] == "float2":
            am = rng.standard_normal(shape)
        kw["attn_mask"] = am
    out, w = _run_both(n, t, [q, k, v], device=device, **kw)   # bias_k/bias_v grads too
    if w is not None:
        assert w.shape[-1] == S + c["bias_kv"] + c["zero_attn"]
    if c["bias_kv"]:
        assert n.bias_k.grad is not None and n.bias_v.grad is not None
    else:
        assert n.bias_k is None and n.bias_v is None


@pytest.mark.parametrize("extra", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_causal(device, batch_first, extra):
    """is_causal with need_weights=False goes through SDPA's causal path (on S + 2 keys
    with add_bias_kv and add_zero_attn, as torch); with need_weights=True through the
    explicit mask (padded with 2 columns)."""
    n, t = _twin_mha(6, 2, batch_first, bias_kv=extra, zero_attn=extra, seed=4 * extra)
    x = np.random.default_rng(1).standard_normal((2, 5, 6) if batch_first else (5, 2, 6))
    causal = ~np.tril(np.ones((5, 5), dtype=bool))
    for need in (False, True):
        n.zero_grad()
        t.zero_grad()
        _run_both(n, t, [x, x, x], device=device, attn_mask=causal, is_causal=True,
                  need_weights=need)


def _assert_same_layout(m, t):
    """Same state_dict keys, in the same order, with the same shapes."""
    assert list(m.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        assert tuple(m.state_dict()[k].shape) == tuple(v.shape), k


def test_mha_parameters_init_and_state_dict_layout():
    neurona.manual_seed(0)
    m = nn.MultiheadAttention(8, 2)
    t = torch.nn.MultiheadAttention(8, 2)
    _assert_same_layout(m, t)
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (8 + 24))            # xavier_uniform_ on the (3E, E) matrix
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    m2 = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    t2 = torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    _assert_same_layout(m2, t2)
    assert m2.in_proj_weight is None and m2.in_proj_bias is None


def test_mha_bias_kv_state_dict_and_init():
    neurona.manual_seed(0)
    m = nn.MultiheadAttention(256, 4, add_bias_kv=True, add_zero_attn=True)
    t = torch.nn.MultiheadAttention(256, 4, add_bias_kv=True, add_zero_attn=True)
    _assert_same_layout(m, t)
    assert "bias_k" in m.state_dict() and m.add_zero_attn
    for b in (m.bias_k, m.bias_v):            # xavier_normal_ on (1, 1, E): std sqrt(1/E)
        std = b.detach().numpy().std()
        assert abs(std / np.sqrt(1 / 256) - 1) < 0.2
    assert not np.array_equal(m.bias_k.detach().numpy(), m.bias_v.detach().numpy())
    m2 = nn.MultiheadAttention(8, 2, add_zero_attn=True, kdim=3, vdim=5)
    t2 = torch.nn.MultiheadAttention(8, 2, add_zero_attn=True, kdim=3, vdim=5)
    _assert_same_layout(m2, t2)
    assert m2.bias_k is None and m2.bias_v is None
    # a torch state_dict with bias_k/bias_v loads into the layer and sets them
    m.load_state_dict({k: neurona.tensor(v.numpy()) for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(m.bias_v.detach().numpy(), t.bias_v.detach().numpy())


def test_mha_dropout_only_in_training():
    neurona.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = neurona.randn(2, 6, 8)
    _, w_train = m(x, x, x, average_attn_weights=False)
    assert (w_train.detach().numpy() == 0).mean() > 0.3
    m.eval()
    o1, w1 = m(x, x, x)
    o2, w2 = m(x, x, x)
    np.testing.assert_array_equal(o1.detach().numpy(), o2.detach().numpy())
    np.testing.assert_allclose(w1.detach().numpy().sum(-1), 1, rtol=1e-5)


def test_mha_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    x = neurona.zeros(4, 2, 8)
    with pytest.raises(RuntimeError, match="query has 7 features"):
        m(neurona.zeros(4, 2, 7), x, x)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        m(x, x, x, attn_mask=neurona.zeros(3, 4))
    with pytest.raises(RuntimeError, match="key_padding_mask of shape"):
        m(x, x, x, key_padding_mask=neurona.zeros(4, 2, dtype=neurona.bool))
    with pytest.raises(RuntimeError, match="is_causal"):
        m(x, x, x, is_causal=True)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_sdpa_under_check_gradients(dropout):
    """The attention op's backward agrees with finite differences inside a larger graph
    (float mask with a gradient, weights returned too); with dropout the op is skipped
    (it draws random numbers), not reported as wrong."""
    neurona.manual_seed(0)
    q, k, v = (neurona.randn(2, 2, s, 4, requires_grad=True) for s in (3, 5, 5))
    m = neurona.randn(3, 5, requires_grad=True)
    with neurona.autograd.check_gradients() as chk:
        out, w = F.scaled_dot_product_attention(q * 1, k * 1, v * 1, attn_mask=m * 1,
                                                dropout_p=dropout, _need_weights=True)
        (out.sum() + (w * w).sum()).backward()
    assert chk.checked == (9 if dropout == 0 else 8)
    assert m.grad is not None and q.grad is not None


def test_sdpa_saves_inputs_and_returned_weights_are_not_saved_state():
    q, k, v = (neurona.randn(2, 3, 4, requires_grad=True) for _ in range(3))
    out, w = F.scaled_dot_product_attention(q, k, v, _need_weights=True)
    w0 = w.detach().numpy().copy()
    w.detach().mul_(0)                        # changing the returned weights ...
    out.sum().backward()                      # ... leaves the saved P intact
    qq = neurona.tensor(q.detach().numpy(), requires_grad=True)
    _sdpa_reference(qq, k.detach(), v.detach()).sum().backward()
    np.testing.assert_allclose(q.grad.numpy(), qq.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(w0 > 0)
    out2 = F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(RuntimeError):         # q is saved: in-place changes are caught
        with neurona.no_grad():
            q.add_(1)
        out2.sum().backward()


def _twins_with_a_fully_padded_sequence(zero_attn):
    """MHA twins with a random out_proj bias, x (2, 3, 4) batch-first, a key_padding_mask
    that pads every key of sequence 0, and what sequence 0's output should be: the bias."""
    n, t = _twin_mha(4, 2, True, zero_attn=zero_attn, seed=3)
    with torch.no_grad():
        t.out_proj.bias.normal_()
    n.out_proj.bias.data = neurona.tensor(t.out_proj.bias.detach().numpy())
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    pad = np.zeros((2, 3), dtype=bool)
    pad[0] = True                              # every key of sequence 0 is padding
    return n, t, x, pad, np.broadcast_to(t.out_proj.bias.detach().numpy(), (3, 4))


def test_mha_fully_padded_sequence_gives_bias_like_torch_without_weights():
    n, t, x, pad, bias = _twins_with_a_fully_padded_sequence(zero_attn=False)
    t_out, _ = t(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(pad),
                 need_weights=False)
    for need in (False, True):                 # torch gives NaN with need_weights=True
        n_out, w = n(*(neurona.tensor(x),) * 3, key_padding_mask=neurona.tensor(pad),
                     need_weights=need)
        assert_close(n_out, t_out, kind="matmul")
        np.testing.assert_allclose(n_out.detach().numpy()[0], bias)
        if need:
            assert np.all(w.detach().numpy()[0] == 0)


def test_mha_zero_attn_weights_on_the_zero_key():
    """With add_zero_attn and every real key padded, all the weight goes to the zero key
    and the output is out_proj's bias (the zero value), as in torch (no NaN)."""
    n, t, x, pad, bias = _twins_with_a_fully_padded_sequence(zero_attn=True)
    out, w = _run_both(n, t, [x, x, x], key_padding_mask=pad)
    w = w.detach().numpy()
    assert w.shape == (2, 3, 4)
    np.testing.assert_allclose(w[0, :, -1], 1.0)
    np.testing.assert_allclose(out.detach().numpy()[0], bias)
