"""Recurrent ops: one step of an RNN / LSTM / GRU cell, and a whole layer's recurrence
fused into one op with a hand-written backpropagation through time (BPTT).

Notation (PyTorch's, gate order as PyTorch stores it in ``weight_ih`` / ``weight_hh``):

* RNN:   h' = act(W_ih x + b_ih + W_hh h + b_hh),   act = tanh or relu
* LSTM:  [i, f, g, o] = [sig, sig, tanh, sig](W_ih x + b_ih + W_hh h + b_hh)
         c' = f * c + i * g,    h' = o * tanh(c')
* GRU:   [r, z] = sig(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
         n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

The fast path (``RNNLayer`` / ``LSTMLayer`` / ``GRULayer``) takes the input projection
X_proj = X W_ih^T + b_ih of the whole sequence, computed before as ONE GEMM (``linear``), and
runs the recurrence: per step one GEMM h W_hh^T for all gates and the gate math on slices of
one array.  Its backward loops over the steps in reverse (no recursion, so sequences of any
length work), then gets dL/dW_hh as one GEMM over all steps: dW_hh = sum_t dA_t^T h_{t-1}
with dA_t the gradient of the hidden-side pre-activations.

Variable-length batches: ``mask`` (T, N) bool marks the real steps.  At a padded step a
sequence's state is carried unchanged and its output is 0, so h_n is the state after its
last real step; in reverse (``reverse=True``, steps T-1 .. 0) each sequence starts at its own
last real step, because the padded steps before it leave h0 unchanged.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import xp_of
from . import cuda_kernels      # imports no CuPy: its kernels are built on first use

__all__ = ["RNNLayer", "LSTMLayer", "GRULayer", "RNNCellFn", "LSTMCellFn", "GRUCellFn",
           "sigmoid_", "tanh_"]


def sigmoid_(a):
    """sigma(a) in place: 0.5 (1 + tanh(a / 2)) -- no overflow, one transcendental."""
    xp = xp_of(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


def tanh_(a):
    return xp_of(a).tanh(a, out=a)


# ------------------------------------------------------------------ one step, on arrays
# Each *_step takes the pre-activations (from x and from h) and the previous state and
# returns the new state plus what the step's backward needs; *_step_back is the
# chain rule of one step.  On the GPU (CuPy float arrays) the LSTM and GRU steps are one
# fused kernel each (``cuda_kernels``, same formulas); the NumPy code below is the reference.

def _gpu(a) -> bool:
    return type(a) is not np.ndarray and a.dtype in (np.float32, np.float64)


def _rnn_step(pre, relu):
    return np.maximum(pre, 0, out=pre) if relu else tanh_(pre)


def _rnn_step_back(dh, h_new, relu):
    """dL/dpre = dL/dh' * act'(pre): tanh' = 1 - h'^2, relu' = [h' > 0]."""
    if relu:
        return dh * (h_new > 0)
    return dh * (1 - h_new * h_new)


def _lstm_step(gates, c, H):
    """gates (N, 4H) pre-activations -> activated in place; returns (h', c', tanh(c'))."""
    if _gpu(gates):
        return cuda_kernels.lstm_step(gates, c, H)
    sigmoid_(gates[:, :2 * H])
    tanh_(gates[:, 2 * H:3 * H])
    sigmoid_(gates[:, 3 * H:])
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    c_new = f * c
    c_new += i * g
    tc = xp_of(c_new).tanh(c_new)
    return o * tc, c_new, tc


def _lstm_step_back(dh, dc, acts, c_prev, tc, H):
    """Returns (dL/dgates pre-activation (N, 4H), dL/dc_prev).  dc is dL/dc' from later steps
    (overwritten)."""
    if _gpu(acts):
        return cuda_kernels.lstm_step_back(dh, dc, acts, c_prev, tc, H)
    i, f, g, o = acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:3 * H], acts[:, 3 * H:]
    xp = xp_of(dh)
    dG = xp.empty_like(acts)
    # dL/dc' += dL/dh' * o * (1 - tanh(c')^2)
    dc = dc + dh * o * (1 - tc * tc)
    dG[:, :H] = dc * g * i * (1 - i)                # d i_pre
    dG[:, H:2 * H] = dc * c_prev * f * (1 - f)      # d f_pre
    dG[:, 2 * H:3 * H] = dc * i * (1 - g * g)       # d g_pre
    dG[:, 3 * H:] = dh * tc * o * (1 - o)           # d o_pre
    return dG, dc * f


def _gru_step(xg, hh, h, H):
    """xg = W_i x + b_i (N, 3H), hh = W_h h + b_h (N, 3H) -> (h', r, z, n)."""
    if _gpu(xg):
        return cuda_kernels.gru_step(xg, hh, h, H)
    rz = xg[:, :2 * H] + hh[:, :2 * H]
    sigmoid_(rz)
    r, z = rz[:, :H], rz[:, H:]
    n = r * hh[:, 2 * H:]
    n += xg[:, 2 * H:]
    tanh_(n)
    h_new = h - n
    h_new *= z
    h_new += n          # h' = n + z (h - n) = (1 - z) n + z h
    return h_new, rz, n


def _gru_step_back(dh, h_prev, rz, n, hh_n, H):
    """Returns (dL/d(W_i x + b_i) (N,3H), dL/d(W_h h + b_h) (N,3H), dL/dh_prev direct part)."""
    if _gpu(dh):
        return cuda_kernels.gru_step_back(dh, h_prev, rz, n, hh_n, H)
    r, z = rz[:, :H], rz[:, H:]
    xp = xp_of(dh)
    dxg = xp.empty(dh.shape[:1] + (3 * H,), dh.dtype)
    dn = dh * (1 - z) * (1 - n * n)                       # d n_pre
    dxg[:, H:2 * H] = dh * (h_prev - n) * z * (1 - z)     # d z_pre
    dxg[:, :H] = dn * hh_n * r * (1 - r)                  # d r_pre
    dxg[:, 2 * H:] = dn
    dhh = dxg.copy()
    dhh[:, 2 * H:] *= r                                   # d(W_hn h + b_hn) = dn_pre * r
    return dxg, dhh, dh * z


# ------------------------------------------------------------------ fused layers

def _order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _wsum(dA, hprev, G, H):
    """dW = sum_t dA_t^T h_{t-1} as one GEMM: (G, T*N) @ (T*N, H)."""
    return dA.reshape(-1, G).T @ hprev.reshape(-1, H)


class RNNLayer(Function):
    """One layer, one direction of an Elman RNN over a whole sequence.

    Inputs: x_proj (T, N, H) = X W_ih^T + b_ih, h0 (N, H), W_hh (H, H) [, b_hh (H,)].
    Forward: h_t = act(x_proj_t + h_{t-1} W_hh^T + b_hh); outputs (out (T, N, H), h_n (N, H)).
    Backward (steps in reverse): dA_t = (dout_t + dh_t) * act'(.),  dh_{t-1} = dA_t W_hh,
    dx_proj_t = dA_t,  dW_hh = sum_t dA_t^T h_{t-1},  db_hh = sum_t dA_t."""

    def forward(self, xproj, h0, w, b=None, relu=False, reverse=False, mask=None):
        T, N, H = xproj.shape
        xp = xp_of(xproj)
        self.w, self.relu, self.reverse, self.mask, self.has_b = w, relu, reverse, mask, b is not None
        out = xp.empty_like(xproj)
        hprev = xp.empty_like(xproj)
        hs = xp.empty_like(xproj)       # state after each step (= out where not masked)
        h = h0
        wt = w.T
        for t in _order(T, reverse):
            hprev[t] = h
            pre = xproj[t] + h @ wt
            if b is not None:
                pre += b
            hn = _rnn_step(pre, relu)
            if mask is not None:
                m = mask[t][:, None]
                hs[t] = hn
                out[t] = xp.where(m, hn, 0)
                h = xp.where(m, hn, h)
            else:
                out[t] = hn
                h = out[t]
        self.hprev, self.hs = hprev, (hs if mask is not None else out)
        return out, h.copy()

    def backward(self, dout, dhn):
        T, N, H = dout.shape
        xp = xp_of(dout)
        mask, w, hs = self.mask, self.w, self.hs
        dA = xp.empty_like(dout)
        dh = dhn
        for t in _order(T, not self.reverse):
            if mask is None:
                d = _rnn_step_back(dh + dout[t], hs[t], self.relu)
                dA[t] = d
                dh = d @ w
            else:
                m = mask[t][:, None]
                d = _rnn_step_back(dh + dout[t], hs[t], self.relu) * m
                dA[t] = d
                dh = xp.where(m, d @ w, dh)
        dw = _wsum(dA, self.hprev, H, H)
        db = dA.reshape(-1, H).sum(0) if self.has_b else None
        return (dA, dh, dw) + ((db,) if self.has_b else ())


class LSTMLayer(Function):
    """One layer, one direction of an LSTM over a whole sequence.

    Inputs: x_proj (T, N, 4H) = X W_ih^T + b_ih, h0, c0 (N, H), W_hh (4H, H) [, b_hh (4H,)].
    Forward per step: A = x_proj_t + h W_hh^T + b_hh; [i,f,g,o] = act(A); c' = f c + i g;
    h' = o tanh(c').  Outputs (out (T, N, H), h_n, c_n).
    Backward per step (reverse): dh = dout_t + dh',  dc += dh o (1 - tanh(c')^2),
    dA = [dc g i(1-i), dc c f(1-f), dc i (1-g^2), dh tanh(c') o(1-o)],
    dh_prev = dA W_hh,  dc_prev = dc f;  then dW_hh = sum_t dA_t^T h_{t-1} (one GEMM)."""

    def forward(self, xproj, h0, c0, w, b=None, reverse=False, mask=None):
        T, N, G = xproj.shape
        H = G // 4
        xp = xp_of(xproj)
        self.w, self.reverse, self.mask, self.has_b = w, reverse, mask, b is not None
        out = xp.empty((T, N, H), xproj.dtype)
        hprev = xp.empty((T, N, H), xproj.dtype)
        cprev = xp.empty((T, N, H), xproj.dtype)
        tcs = xp.empty((T, N, H), xproj.dtype)
        acts = xp.empty_like(xproj)
        h, c = h0, c0
        wt = w.T
        for t in _order(T, reverse):
            hprev[t] = h
            cprev[t] = c
            a = acts[t]
            xp.matmul(h, wt, out=a)
            a += xproj[t]
            if b is not None:
                a += b
            hn, cn, tcs[t] = _lstm_step(a, c, H)
            if mask is not None:
                m = mask[t][:, None]
                out[t] = xp.where(m, hn, 0)
                h = xp.where(m, hn, h)
                c = xp.where(m, cn, c)
            else:
                out[t] = hn
                h, c = out[t], cn
        self.hprev, self.cprev, self.tcs, self.acts = hprev, cprev, tcs, acts
        return out, h.copy(), (c.copy() if c is c0 else c)

    def backward(self, dout, dhn, dcn):
        T, N, H = dout.shape
        xp = xp_of(dout)
        mask, w = self.mask, self.w
        acts, cprev, tcs = self.acts, self.cprev, self.tcs
        dA = xp.empty_like(acts)
        dh, dc = dhn, dcn
        for t in _order(T, not self.reverse):
            d, dcp = _lstm_step_back(dh + dout[t], dc, acts[t], cprev[t], tcs[t], H)
            if mask is None:
                dA[t] = d
                dh, dc = d @ w, dcp
            else:
                m = mask[t][:, None]
                d *= m
                dA[t] = d
                dh = xp.where(m, d @ w, dh)
                dc = xp.where(m, dcp, dc)
        dw = _wsum(dA, self.hprev, 4 * H, H)
        res = (dA, dh, dc, dw)
        if self.has_b:
            res += (dA.reshape(-1, 4 * H).sum(0),)
        return res


class GRULayer(Function):
    """One layer, one direction of a GRU over a whole sequence.

    Inputs: x_proj (T, N, 3H) = X W_ih^T + b_ih, h0 (N, H), W_hh (3H, H) [, b_hh (3H,)].
    Forward per step: B = h W_hh^T + b_hh; [r, z] = sig(x_proj_t[:2H] + B[:2H]);
    n = tanh(x_proj_t[2H:] + r * B[2H:]);  h' = (1 - z) n + z h.
    Backward per step (reverse): dn = dh (1-z)(1-n^2), dz = dh (h - n) z(1-z),
    dr = dn B_n r(1-r);  dx_proj = [dr, dz, dn], dB = [dr, dz, dn r];
    dh_prev = dh z + dB W_hh;  dW_hh = sum_t dB_t^T h_{t-1} (one GEMM)."""

    def forward(self, xproj, h0, w, b=None, reverse=False, mask=None):
        T, N, G = xproj.shape
        H = G // 3
        xp = xp_of(xproj)
        self.w, self.reverse, self.mask, self.has_b = w, reverse, mask, b is not None
        out = xp.empty((T, N, H), xproj.dtype)
        hprev = xp.empty((T, N, H), xproj.dtype)
        rzs = xp.empty((T, N, 2 * H), xproj.dtype)
        ns = xp.empty((T, N, H), xproj.dtype)
        hhn = xp.empty((T, N, H), xproj.dtype)
        h = h0
        wt = w.T
        for t in _order(T, reverse):
            hprev[t] = h
            hh = h @ wt
            if b is not None:
                hh += b
            hhn[t] = hh[:, 2 * H:]
            hn, rzs[t], ns[t] = _gru_step(xproj[t], hh, h, H)
            if mask is not None:
                m = mask[t][:, None]
                out[t] = xp.where(m, hn, 0)
                h = xp.where(m, hn, h)
            else:
                out[t] = hn
                h = out[t]
        self.hprev, self.rzs, self.ns, self.hhn = hprev, rzs, ns, hhn
        return out, h.copy()

    def backward(self, dout, dhn):
        T, N, H = dout.shape
        xp = xp_of(dout)
        mask, w = self.mask, self.w
        dX = xp.empty((T, N, 3 * H), dout.dtype)
        dB = xp.empty((T, N, 3 * H), dout.dtype)
        dh = dhn
        for t in _order(T, not self.reverse):
            dxg, dhh, dhd = _gru_step_back(dh + dout[t], self.hprev[t], self.rzs[t],
                                           self.ns[t], self.hhn[t], H)
            if mask is None:
                dX[t], dB[t] = dxg, dhh
                dh = dhd + dhh @ w
            else:
                m = mask[t][:, None]
                dX[t] = dxg * m
                dB[t] = dhh * m
                dh = xp.where(m, dhd + dhh @ w, dh)
        dw = _wsum(dB, self.hprev, 3 * H, H)
        res = (dX, dh, dw)
        if self.has_b:
            res += (dB.reshape(-1, 3 * H).sum(0),)
        return res


# ------------------------------------------------------------------ cells (one step)

def _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh):
    xg = x @ w_ih.T
    if b_ih is not None:
        xg += b_ih
    hg = h @ w_hh.T
    if b_hh is not None:
        hg += b_hh
    return xg, hg


def _cell_grads(self, dxg, dhg, dh_direct=None):
    """Gradients of x, h, W_ih, W_hh, b_ih, b_hh from those of the two pre-activations."""
    dx = dxg @ self.w_ih
    dh = dhg @ self.w_hh
    if dh_direct is not None:
        dh += dh_direct
    res = [dx, dh, dxg.T @ self.x, dhg.T @ self.h]
    if self.has_b:
        res += [dxg.sum(0), dhg.sum(0)]
    return res


class RNNCellFn(Function):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh) for x (N, H_in), h (N, H).
    dA = dh' act'(.);  dx = dA W_ih,  dh = dA W_hh,  dW_ih = dA^T x,  dW_hh = dA^T h,
    db_ih = db_hh = sum_n dA."""

    def forward(self, x, h, w_ih, w_hh, b_ih=None, b_hh=None, relu=False):
        self.x, self.h, self.w_ih, self.w_hh, self.relu = x, h, w_ih, w_hh, relu
        self.has_b = b_ih is not None
        xg, hg = _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh)
        xg += hg
        self.hn = _rnn_step(xg, relu)
        return self.hn

    def backward(self, dh):
        d = _rnn_step_back(dh, self.hn, self.relu)
        return tuple(_cell_grads(self, d, d))


class LSTMCellFn(Function):
    """(h', c') of one LSTM step (see the module docstring); inputs x, h, c, W_ih, W_hh
    [, b_ih, b_hh].  Backward: the step's chain rule as in ``LSTMLayer``."""

    def forward(self, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
        self.x, self.h, self.c, self.w_ih, self.w_hh = x, h, c, w_ih, w_hh
        self.has_b = b_ih is not None
        xg, hg = _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh)
        xg += hg
        H = h.shape[-1]
        hn, cn, self.tc = _lstm_step(xg, c, H)
        self.acts = xg
        return hn, cn

    def backward(self, dh, dc):
        d, dcp = _lstm_step_back(dh, dc, self.acts, self.c, self.tc, self.h.shape[-1])
        g = _cell_grads(self, d, d)
        return tuple(g[:2] + [dcp] + g[2:])


class GRUCellFn(Function):
    """h' of one GRU step (see the module docstring); inputs x, h, W_ih, W_hh [, b_ih, b_hh].
    Backward: the step's chain rule as in ``GRULayer``."""

    def forward(self, x, h, w_ih, w_hh, b_ih=None, b_hh=None):
        self.x, self.h, self.w_ih, self.w_hh = x, h, w_ih, w_hh
        self.has_b = b_ih is not None
        xg, hg = _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh)
        H = h.shape[-1]
        self.hhn = hg[:, 2 * H:].copy()
        hn, self.rz, self.n = _gru_step(xg, hg, h, H)
        return hn

    def backward(self, dh):
        H = self.h.shape[-1]
        dxg, dhh, dhd = _gru_step_back(dh, self.h, self.rz, self.n, self.hhn, H)
        return tuple(_cell_grads(self, dxg, dhh, dhd))
