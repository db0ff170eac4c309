"""Scaled dot-product attention, one fused op with a hand-written backward.

Notation (the course's): queries Q (..., L, E), keys K (..., S, E), values V (..., S, Ev),
scale s = 1/sqrt(d_k) with d_k = E unless ``scale`` is given, an additive mask M
(..., L, S) (0 where a query may look at a key, -inf where it may not)::

    A = Q K^T * s + M                    scores            (..., L, S)
    P = softmax(A) along the keys         attention weights (each row sums to 1)
    O = P V                               output            (..., L, Ev)

i.e. O = softmax(QK^T/sqrt(d_k) + M) V.  With dropout (training only), P is replaced by
P~ = P * D / (1 - p), D_ij ~ Bernoulli(1 - p), before it multiplies V.

Backward, given dO (and dP~ from whoever read the returned weights, if any)::

    dV  = P~^T dO
    dP~ = dO V^T (+ dP~ from outside);     dP = dP~ * D / (1 - p)
    dA  = P * (dP - rowsum(dP * P))       (the softmax backward, row by row)
    dQ  = dA K * s,    dK = dA^T Q * s,    dM = dA (an additive float mask gets a gradient,
                                                  summed over its broadcast dims, as torch)

What is kept for backward: Q, K, V (the inputs, no copies), P (..., L, S) and, with
dropout, the boolean keep-mask D (1 byte per weight; P~ is rebuilt from P and D).  Keeping P costs L*S numbers per head, the same as the
scores; recomputing P from Q, K and the row log-sum-exp would save that memory at the cost
of a second Q K^T product -- on NumPy memory is not the bottleneck, so P is kept.

Causal attention (``is_causal`` without another mask or returned weights) goes by
blocks of ``CAUSAL_BLOCK`` query rows: rows r0..r1-1 see keys 0..r1-1 only, so the
scores, softmax and products of the masked upper triangle are never computed (37.5% less
work at L = 128; forward + backward of the GPT bench's attention 22-31 -> 15-18 ms).

Rows whose keys are all masked (a boolean row of False, or a row of -inf) give P = 0 and
O = 0 with zero gradients, as torch 2.13 does (older torch versions gave NaN).

Grouped-query attention (``enable_gqa=True``): Q (..., Hq, L, E) has more heads than
K (..., Hk, S, E) and V (..., Hv, S, Ev), with Hq a multiple of Hk and of Hv.  Query heads
are taken in consecutive groups of G = Hq/Hk; every head of a group uses the same K head
(as if K were ``repeat_interleave``d G times along dim -3, which is what torch does; here
the copy is never built: the L rows of the G query heads of a group are stacked into one
(G*L, E) matrix, Q viewed as (..., Hk, G*L, E), and multiplied by that group's K head).  Likewise for V with G = Hq/Hv.  In the backward, a shared head
collects the gradient of every query head that used it::

    dK_j = sum over the heads i of group j of  dA_i^T Q_i * s
    dV_j = sum over the heads i of group j of  P~_i^T dO_i
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from ..tensor import Tensor
from .dropout import _uniform
from ._util import fmt, unbroadcast

__all__ = ["scaled_dot_product_attention"]


def _swap(a):
    return a.swapaxes(-1, -2)


CAUSAL_BLOCK = 32       # query rows per block of the causal path (L >= 2 blocks)
_UPPER = {}


def _upper_minus_inf(xp, n, dt):
    """(n, n): -inf above the diagonal, 0 on and below it (cached per size, dtype, xp)."""
    key = (xp.__name__, n, np.dtype(dt).str)
    if key not in _UPPER:
        _UPPER[key] = xp.where(xp.triu(xp.ones((n, n), dtype=bool), 1),
                               np.dtype(dt).type(-np.inf), np.dtype(dt).type(0))
    return _UPPER[key]


def _stacked(a, h):
    """(..., H, T, F) -> (..., h, (H/h)*T, F): the rows of each group of H/h consecutive
    heads stacked into one matrix (a free reshape of a contiguous array)."""
    return a.reshape(a.shape[:-3] + (h, (a.shape[-3] // h) * a.shape[-2], a.shape[-1]))


def _matmul_shared(x, y):
    """x @ y where y (..., h, F, U) may have fewer heads than x (..., H, T, F): each group
    of H/h consecutive heads of x uses one head of y -> (..., H, T, U).  The same as
    x @ y.repeat_interleave(H/h, dim=-3), without the repeated copy: the group's rows of x
    are stacked and multiplied by y's head at once."""
    xp = xp_of(x)
    H, h = x.shape[-3], y.shape[-3]
    if h == H:
        return xp.matmul(x, y)
    out = xp.matmul(_stacked(x, h), y)                          # (..., h, (H/h)*T, U)
    return out.reshape(out.shape[:-3] + (H, x.shape[-2], out.shape[-1]))


def _matmul_t_group_sum(x, y, h):
    """sum over each group of H/h consecutive heads of x_i^T y_i, for x (..., H, T, F) and
    y (..., H, T, U) -> (..., h, F, U): the gradient of a K or V head shared by H/h query
    heads.  One matmul: [x_1 .. x_G]^T stacked along T times [y_1 .. y_G] stacked alike."""
    xp = xp_of(x)
    if h == x.shape[-3]:
        return xp.matmul(_swap(x), y)
    return xp.matmul(_swap(_stacked(x, h)), _stacked(y, h))


class ScaledDotProductAttention(Function):
    """O = softmax(Q K^T * s + M) V (see the module docstring for the backward).

    Inputs (arrays): q, k, v and, optionally, an additive float mask m.  Keyword
    arguments: ``scale``, ``bool_mask`` (array: True = may attend), ``causal``,
    ``dropout_p``, ``generator``, ``need_weights`` (also return P~ as a second output),
    ``gqa`` (k and v may have fewer heads on dim -3 than q, each shared by a group of
    query heads; the caller has checked that they divide q's).

    Kept for backward: q, k, v (the input arrays), P and, with dropout, the bool mask D
    (P~ = P * D / (1 - p) is rebuilt when needed)."""

    save_inputs = (0, 1, 2)     # backward reads Q, K, V: changing them in place is an error

    def forward(self, q, k, v, m=None, scale=1.0, bool_mask=None, causal=False,
                dropout_p=0.0, generator=None, need_weights=False, gqa=False):
        xp = xp_of(q)
        dt = q.dtype
        s = dt.type(scale)
        self.gqa = gqa
        self.blocks = None
        if (causal and m is None and bool_mask is None and dropout_p < 1 and not gqa
                and not need_weights and q.shape[-2] == k.shape[-2] >= 2 * CAUSAL_BLOCK
                and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
            return self._causal_blocks_forward(q, k, v, s, dropout_p, generator)
        # (..., L, S); with gqa, query heads share K heads
        a = _matmul_shared(q, _swap(k)) if gqa else xp.matmul(q, _swap(k))
        a *= s
        if m is not None:
            if np.broadcast_shapes(a.shape, m.shape) == a.shape:
                a += m
            else:
                a = a + m
        if causal:
            L, S = a.shape[-2:]
            tri = xp.tril(xp.ones((L, S), dtype=bool))      # upper-left aligned, as torch
            a += xp.where(tri, dt.type(0), dt.type(-np.inf))
        if bool_mask is not None:
            if np.broadcast_shapes(a.shape, bool_mask.shape) == a.shape:
                # -inf where blocked, added in place: the where runs on the (small) mask;
                # a mask that blocks nothing (a batch without padding) is skipped
                if not bool_mask.all():
                    a += xp.where(bool_mask, dt.type(0), dt.type(-np.inf))
            else:
                a = xp.where(bool_mask, a, dt.type(-np.inf))
        # softmax along the keys; rows with every key masked (max = -inf) give P = 0
        mx = a.max(axis=-1, keepdims=True) if a.shape[-1] else xp.zeros(a.shape[:-1] + (1,), dt)
        mx = xp.where(xp.isneginf(mx), dt.type(0), mx)
        p = a - mx
        xp.exp(p, out=p)
        # row sums as a matrix-vector product: BLAS is several times faster than a
        # reduction over a short last axis
        den = xp.matmul(p, xp.ones((p.shape[-1], 1), dt)) if p.ndim >= 2 else \
            p.sum(axis=-1, keepdims=True)
        den = xp.where(den == 0, dt.type(1), den)
        p /= den
        self.p = p
        if dropout_p > 0:
            self.deterministic = False      # gradient-check mode must not re-run it
            keep = _uniform(xp, p.shape, dt, generator) >= dropout_p
            pd = p * keep * dt.type(1 / (1 - dropout_p)) if dropout_p < 1 else xp.zeros_like(p)
            self.keep, self.dropout_p = keep, dropout_p
        else:
            pd = p
            self.keep = None
        out = _matmul_shared(pd, v) if gqa else xp.matmul(pd, v)
        self.q, self.k, self.v, self.s = q, k, v, s     # P~ is rebuilt from P and D
        self.m_shape = None if m is None else m.shape
        if not need_weights:
            return out
        # the returned weights must not be P itself: an in-place change by the caller would
        # corrupt what backward reads
        return out, (pd.copy() if pd is p else pd)

    # -- causal attention by blocks of query rows ------------------------------------
    # With a causal mask, query rows r0..r1-1 attend only to keys 0..r1-1: computing the
    # scores block by block (CAUSAL_BLOCK rows at a time) skips the masked upper triangle,
    # 1 - (n + 1) / 2n of the work with n blocks (37.5% at L = 128).  Same formulas as
    # above, row block by row block (dropout too: each block draws its own keep-mask D);
    # used without extra masks or returned weights.

    def _causal_blocks_forward(self, q, k, v, s, dropout_p=0.0, generator=None):
        xp = xp_of(q)
        dt = q.dtype
        L = q.shape[-2]
        out = xp.empty(q.shape[:-1] + (v.shape[-1],), dt)
        c = dt.type(1 / (1 - dropout_p))
        if dropout_p > 0:
            self.deterministic = False      # gradient-check mode must not re-run it
        blocks = []
        for r0 in range(0, L, CAUSAL_BLOCK):
            r1 = min(r0 + CAUSAL_BLOCK, L)
            a = xp.matmul(q[..., r0:r1, :], _swap(k[..., :r1, :]))      # (..., rb, r1)
            a *= s
            a[..., r0:r1] += _upper_minus_inf(xp, r1 - r0, dt)       # the diagonal block
            a -= a.max(axis=-1, keepdims=True)          # finite: key 0 is always visible
            xp.exp(a, out=a)
            a /= xp.matmul(a, xp.ones((r1, 1), dt))
            keep = None
            if dropout_p > 0:                       # P~ = P * D / (1 - p)
                keep = _uniform(xp, a.shape, dt, generator) >= dropout_p
                out[..., r0:r1, :] = xp.matmul(a * keep * c, v[..., :r1, :])
            else:
                out[..., r0:r1, :] = xp.matmul(a, v[..., :r1, :])
            blocks.append((r0, r1, a, keep))
        self.blocks, self.q, self.k, self.v, self.s = blocks, q, k, v, s
        self.p, self.keep, self.m_shape, self.c = None, None, None, c
        return out

    def _causal_blocks_backward(self, g):
        xp = xp_of(g)
        q, k, v, s = self.q, self.k, self.v, self.s
        needs = self.needs_input_grad
        gq = xp.empty_like(q) if needs[0] else None
        gk = xp.zeros_like(k) if needs[1] else None
        gv = xp.zeros_like(v) if needs[2] else None
        for r0, r1, p, keep in self.blocks:
            gb = g[..., r0:r1, :]
            if gv is not None:                                        # dV = P~^T dO
                pd = p if keep is None else p * keep * self.c
                gv[..., :r1, :] += xp.matmul(_swap(pd), gb)
            dp = xp.matmul(gb, _swap(v[..., :r1, :]))                 # dP~ = dO V^T
            if keep is not None:                                      # dP = dP~ D / (1-p)
                dp *= keep
                dp *= self.c
            dp -= xp.matmul(dp * p, xp.ones((r1, 1), p.dtype))
            dp *= p                                                   # dA
            if gq is not None:
                gq[..., r0:r1, :] = xp.matmul(dp, k[..., :r1, :])
            if gk is not None:
                gk[..., :r1, :] += xp.matmul(_swap(dp), q[..., r0:r1, :])
        for grad in (gq, gk):
            if grad is not None:
                grad *= s
        return gq, gk, gv

    def backward(self, g, gw=None):
        if self.blocks is not None:
            return self._causal_blocks_backward(g)
        q, k, v, p, s = self.q, self.k, self.v, self.p, self.s
        keep = self.keep
        if keep is None:
            pd = p
        else:
            c = p.dtype.type(1 / (1 - self.dropout_p)) if self.dropout_p < 1 else 0
        xp = xp_of(g)
        if g is None:                       # only the weights were used
            dp = gw.copy()
            gv = None
        else:
            # dP~ = dO V^T (a new array)
            dp = _matmul_shared(g, _swap(v)) if self.gqa else xp.matmul(g, _swap(v))
            if gw is not None:
                dp += gw
            if keep is not None:
                pd = p * keep
                pd *= c
            # dV = P~^T dO (with gqa: summed over the query heads sharing a V head)
            gv = (_matmul_t_group_sum(pd, g, v.shape[-3]) if self.gqa
                  else xp.matmul(_swap(pd), g))
            del pd
        if keep is not None:                                  # dP = dP~ * D / (1 - p)
            dp *= keep
            dp *= c
        # rowsum(dP * P) as a matrix-vector product (faster than a short-axis reduction)
        r = xp.matmul(dp * p, xp.ones((p.shape[-1], 1), p.dtype))
        dp -= r
        dp *= p                                               # dA = P * (dP - rowsum(dP * P))
        da = dp
        needs = self.needs_input_grad
        if self.gqa:                                          # dK summed over each group
            gq = unbroadcast(_matmul_shared(da, k) * s, q.shape) if needs[0] else None
            gk = (unbroadcast(_matmul_t_group_sum(da, q, k.shape[-3]) * s, k.shape)
                  if needs[1] else None)
        else:
            gq = unbroadcast(xp.matmul(da, k) * s, q.shape) if needs[0] else None
            gk = unbroadcast(xp.matmul(_swap(da), q) * s, k.shape) if needs[1] else None
        if needs[2]:
            gv = xp.zeros_like(v) if gv is None else unbroadcast(gv, v.shape)
        else:
            gv = None
        if self.m_shape is None:
            return gq, gk, gv
        gm = unbroadcast(da, self.m_shape) if needs[3] else None
        return gq, gk, gv, gm


def _sdpa_error(msg, *tensors):
    return RuntimeError(f"scaled_dot_product_attention: {msg} (got "
                        + ", ".join(f"{n} {fmt(t)}" for n, t in tensors) + ")")


def _check_gqa(q, k, v, named):
    """Grouped-query attention: heads on dim -3, Hq a multiple of Hk and of Hv.  Returns
    the batch dims of the scores without (L, S): broadcast(...) + (Hq,)."""
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
        raise ValueError("scaled_dot_product_attention: enable_gqa=True needs a head dim: "
                         "query (..., Hq, L, E), key (..., Hk, S, E), value (..., Hv, S, Ev) "
                         "(got " + ", ".join(f"{n} {fmt(t)}" for n, t in named) + ")")
    hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
    if hq % hk or hq % hv:
        raise ValueError(f"scaled_dot_product_attention: with enable_gqa=True the number of "
                         f"query heads (dim -3) must be a multiple of the key and value heads, "
                         f"got Hq={hq}, Hk={hk}, Hv={hv} (query {fmt(q)}, key {fmt(k)}, "
                         f"value {fmt(v)}); each group of Hq/Hk query heads shares one key head")
    try:
        return np.broadcast_shapes(q.shape[:-3], k.shape[:-3], v.shape[:-3]) + (hq,)
    except ValueError:
        raise _sdpa_error("the batch dims (all but the last three with enable_gqa=True) of "
                          "query, key and value must broadcast together", *named) from None


def _gqa_hint(q, k, v):
    """The ValueError for key/value with fewer heads than the query without enable_gqa,
    or None when that is not why the shapes do not broadcast."""
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
        return None
    hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
    if (hk, hv) == (hq, hq) or hq % hk or hq % hv:
        return None
    try:
        np.broadcast_shapes(q.shape[:-3], k.shape[:-3], v.shape[:-3])
    except ValueError:
        return None
    return ValueError(f"scaled_dot_product_attention: key and value have fewer heads (dim -3) "
                      f"than the query: query {fmt(q)}, key {fmt(k)}, value {fmt(v)}; for "
                      f"grouped-query attention pass enable_gqa=True (or repeat key and value "
                      f"with repeat_interleave(Hq // Hk, dim=-3))")


def _check(query, key, value, attn_mask, is_causal, dropout_p, enable_gqa=False):
    q, k, v = query._data, key._data, value._data
    named = (("query", query), ("key", key), ("value", value))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise _sdpa_error("query, key and value need at least 2 dims (..., L, E), "
                          "(..., S, E), (..., S, Ev)", *named)
    if q.dtype.kind != "f" or not (q.dtype == k.dtype == v.dtype):
        raise _sdpa_error("query, key and value must be floating tensors of the same dtype; "
                          "convert them with .float()", *named)
    if q.shape[-1] != k.shape[-1]:
        raise _sdpa_error(f"query and key must have the same last dim E, got {q.shape[-1]} "
                          f"and {k.shape[-1]}", *named)
    if k.shape[-2] != v.shape[-2]:
        raise _sdpa_error(f"key and value must have the same number of positions S (dim -2), "
                          f"got {k.shape[-2]} and {v.shape[-2]}", *named)
    if enable_gqa:
        batch = _check_gqa(q, k, v, named)
    else:
        try:
            batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        except ValueError:
            hint = _gqa_hint(q, k, v)
            if hint is not None:
                raise hint from None
            raise _sdpa_error("the batch dims (all but the last two) of query, key and value "
                              "must broadcast together", *named) from None
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p}")
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError("scaled_dot_product_attention: pass either attn_mask or "
                               "is_causal=True, not both (build the causal mask into "
                               "attn_mask: mask & torch.ones(L, S).tril().bool())")
        m = attn_mask._data
        if m.dtype.kind != "b" and m.dtype != q.dtype:
            raise _sdpa_error(f"attn_mask must be bool (True = may attend) or a float mask "
                              f"of the query's dtype {q.dtype}, got {m.dtype}",
                              *named, ("attn_mask", attn_mask))
        try:
            np.broadcast_shapes(m.shape, batch + (q.shape[-2], k.shape[-2]))
        except ValueError:
            raise _sdpa_error(f"attn_mask must broadcast to (..., L, S) = "
                              f"{batch + (q.shape[-2], k.shape[-2])}",
                              *named, ("attn_mask", attn_mask)) from None


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False,
                                 generator=None, _need_weights=False):
    """softmax(Q K^T * scale + mask) V as one fused op (torch's signature and semantics).

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the
    batch dims broadcast.  ``attn_mask``: bool (True = the query may attend to the key) or
    an additive float mask of the query's dtype, broadcastable to (..., L, S).
    ``is_causal``: query i sees keys 0..i (upper-left aligned).  ``scale`` defaults to
    1/sqrt(E).  ``dropout_p`` > 0 drops attention weights (always: pass 0 in eval, as
    torch).  ``enable_gqa``: grouped-query attention, query (..., Hq, L, E) with key
    (..., Hk, S, E) and value (..., Hv, S, Ev), Hq a multiple of Hk and Hv; each group of
    Hq/Hk consecutive query heads shares one key head (torch's repeat_interleave on dim -3,
    without the copy).  ``_need_weights`` (internal, for MultiheadAttention) also returns
    the (dropped-out) attention weights (..., L, S) as a second output.
    """
    _check(query, key, value, attn_mask, is_causal, dropout_p, enable_gqa)
    # all heads equal: plain attention (torch repeats nothing either)
    gqa = bool(enable_gqa) and not (query._data.shape[-3] == key._data.shape[-3]
                                    == value._data.shape[-3])
    if scale is None:
        scale = 1.0 / math.sqrt(query._data.shape[-1]) if query._data.shape[-1] else 1.0
    kw = dict(scale=scale, causal=bool(is_causal), dropout_p=float(dropout_p),
              generator=generator, need_weights=_need_weights, gqa=gqa)
    if attn_mask is not None and attn_mask._data.dtype.kind == "b":
        kw["bool_mask"] = attn_mask._data
        attn_mask = None
    if attn_mask is None:
        return ScaledDotProductAttention.apply(query, key, value, **kw)
    return ScaledDotProductAttention.apply(query, key, value, attn_mask, **kw)


def _sdpa_reference(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                    scale=None, generator=None, enable_gqa=False):
    """The unfused formula from existing ops (for tests): softmax(QK^T*s + M) V.

    Rows with every key masked give NaN here (a plain softmax of -inf), unlike the fused op.
    With ``enable_gqa`` key and value are first repeated to the query's heads, as torch does
    (each head Hq/Hk times in a row: repeat_interleave on dim -3)."""
    from .dropout import dropout
    from .softmax import softmax
    if enable_gqa:
        hq = query.shape[-3]
        key, value = (t.index_select(t.dim() - 3, Tensor(np.repeat(
            np.arange(t.shape[-3]), hq // t.shape[-3]), device=t.device))
            for t in (key, value))
    E = query.shape[-1]
    s = 1.0 / math.sqrt(E) if scale is None else scale
    a = (query @ key.transpose(-2, -1)) * s
    L, S = a.shape[-2], a.shape[-1]
    if is_causal:
        attn_mask = Tensor(np.tril(np.ones((L, S), dtype=bool)), device=a.device)
    if attn_mask is not None:
        if attn_mask.dtype.name == "bool":
            a = a.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            a = a + attn_mask
    p = softmax(a, dim=-1)
    if dropout_p > 0:
        p = dropout(p, dropout_p, generator=generator)
    return p @ value
