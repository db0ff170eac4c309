"""GPU kernels for the hot paths: what CuPy's generic array functions do in many passes,
done here in one.

On the GPU, an expression such as ``0.5 * x * (1 + tanh(u))`` runs one kernel per
operator, each reading and writing the whole array in GPU memory; a *fused* kernel reads
each input once and writes each output once.  This module holds those kernels; the ops
call them only for CuPy arrays (``if xp is not np:``), so the NumPy code next to each
call stays the reference that the CUDA tests compare these kernels with.

Two kinds of kernel:

* **Elementwise** (``cupy.ElementwiseKernel``): one thread per element, a few lines of
  C++ for one element.  GELU (exact and tanh, forward and backward), the gate math of
  one LSTM / GRU step (forward and backward) and the Adam update.  The gates of a step
  are *views* of one (N, 4H) or (N, 3H) array, e.g. ``gates[:, H:2H]`` for f; CuPy's
  kernels accept such strided views, so no copy is made.
* **Row-wise** (``cupy.RawModule``, hand-written CUDA): one thread block per row of a
  contiguous (R, C) array, its threads splitting the row and combining partial results
  in shared memory (a *block reduction*).  softmax / log-softmax forward and backward,
  and the normalisation x^ = (x - mu) r, r = 1 / sqrt(s2 + eps), of layer norm.

Formulas, in the notation of the ops that call them:

* GELU exact:  z = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dz/dx = Phi(x) + x phi(x)
* GELU tanh:   t = tanh(sqrt(2/pi) (x + 0.044715 x^3)), z = x (1 + t) / 2
* LSTM:        [i, f, g, o] = [sig, sig, tanh, sig](A);  c' = f c + i g;  h' = o tanh(c')
* GRU:         [r, z] = sig(X_rz + B_rz);  n = tanh(X_n + r B_n);  h' = n + z (h - n)
* Adam:        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
               theta <- theta - alpha m / (sqrt(v) + eps_hat)
* softmax:     y_i = e^(x_i - m) / sum_j e^(x_j - m),  m = max_j x_j

CuPy is imported only when one of these functions is called (by an op that was given a
CuPy array), through :mod:`neurona.backend`.  :func:`standalone_sources` renders every
kernel as plain CUDA C++, so that ``python -m bench.nvrtc_check`` can compile them all
with NVRTC on a machine without a GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["gelu", "gelu_grad", "gelu_tanh", "gelu_tanh_grad", "lstm_step",
           "lstm_step_back", "gru_step", "gru_step_back", "adam_update", "softmax_rows",
           "log_softmax_rows", "softmax_rows_back", "log_softmax_rows_back",
           "layer_norm_rows", "rows_ok", "standalone_sources", "ELEMENTWISE", "ROW_KERNELS"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ------------------------------------------------------------------ elementwise kernels

@dataclass(frozen=True)
class Elementwise:
    """The parts of a ``cupy.ElementwiseKernel``: typed parameters ("T x, T y"; every T is
    the same floating dtype), the C++ code for one element, and helper functions."""
    in_params: str
    out_params: str
    operation: str
    preamble: str = ""


# sigma(a) = (1 + tanh(a / 2)) / 2, as the NumPy path computes it: no overflow.
_SIGMOID = """
template <typename T> __device__ T nr_sigmoid(T a) { return T(0.5) * (T(1) + tanh(T(0.5) * a)); }
"""

ELEMENTWISE: dict[str, Elementwise] = {
    # z = x Phi(x); Phi is saved for the backward.
    "nr_gelu": Elementwise(
        "T x", "T z, T cdf",
        "cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));  z = x * cdf;"),
    # dL/dx = g (Phi(x) + x phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
    "nr_gelu_grad": Elementwise(
        "T g, T x, T cdf", "T gx",
        "gx = g * (cdf + x * exp(T(-0.5) * x * x) * T(0.39894228040143267794));"),
    # t = tanh(sqrt(2/pi) (x + 0.044715 x^3)),  z = x (1 + t) / 2; t is saved.
    "nr_gelu_tanh": Elementwise(
        "T x", "T z, T t",
        f"t = tanh(T({_SQRT_2_OVER_PI!r}) * x * (T(1) + T(0.044715) * x * x));"
        "  z = T(0.5) * x * (T(1) + t);"),
    # dL/dx = g ((1 + t)/2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2)
    "nr_gelu_tanh_grad": Elementwise(
        "T g, T x, T t", "T gx",
        f"T inner = T({_SQRT_2_OVER_PI!r}) * (T(1) + T(3 * 0.044715) * x * x);"
        "  gx = g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * inner);"),
    # One LSTM step.  gi..go hold the pre-activations A on entry and the activations on
    # exit (views of one (N, 4H) array, as the NumPy path leaves them).
    "nr_lstm_step": Elementwise(
        "T c", "T gi, T gf, T gg, T go, T c_new, T tc, T h_new",
        "gi = nr_sigmoid(gi);  gf = nr_sigmoid(gf);  gg = tanh(gg);  go = nr_sigmoid(go);"
        "  c_new = gf * c + gi * gg;  tc = tanh(c_new);  h_new = go * tc;",
        _SIGMOID),
    # dc' += dh o (1 - tanh(c')^2);  dA = [dc g i(1-i), dc c f(1-f), dc i (1-g^2),
    # dh tanh(c') o(1-o)];  dc_prev = dc f.
    "nr_lstm_step_back": Elementwise(
        "T dh, T dc, T gi, T gf, T gg, T go, T c_prev, T tc",
        "T d_i, T d_f, T d_g, T d_o, T dc_prev",
        "T dcc = dc + dh * go * (T(1) - tc * tc);"
        "  d_i = dcc * gg * gi * (T(1) - gi);  d_f = dcc * c_prev * gf * (T(1) - gf);"
        "  d_g = dcc * gi * (T(1) - gg * gg);  d_o = dh * tc * go * (T(1) - go);"
        "  dc_prev = dcc * gf;"),
    # One GRU step: X = W_i x + b_i, B = W_h h + b_h, split in (r, z, n) thirds.
    "nr_gru_step": Elementwise(
        "T xr, T xz, T xn, T br, T bz, T bn, T h",
        "T r, T z, T nn, T h_new",
        "r = nr_sigmoid(xr + br);  z = nr_sigmoid(xz + bz);  nn = tanh(xn + r * bn);"
        "  h_new = nn + z * (h - nn);",
        _SIGMOID),
    # dn = dh (1-z)(1-n^2), dz = dh (h - n) z(1-z), dr = dn B_n r(1-r);
    # dX = [dr, dz, dn], dB = [dr, dz, dn r], dh_prev (direct part) = dh z.
    "nr_gru_step_back": Elementwise(
        "T dh, T h_prev, T r, T z, T nn, T bn",
        "T dxr, T dxz, T dxn, T dbr, T dbz, T dbn, T dhd",
        "T dn = dh * (T(1) - z) * (T(1) - nn * nn);"
        "  T dz = dh * (h_prev - nn) * z * (T(1) - z);  T dr = dn * bn * r * (T(1) - r);"
        "  dxr = dr;  dxz = dz;  dxn = dn;  dbr = dr;  dbz = dz;  dbn = dn * r;  dhd = dh * z;"),
    # Adam: the moments and the step in one pass (alpha = lr sqrt(1-b2^t) / (1-b1^t),
    # eps_hat = eps sqrt(1-b2^t): the paper's "more efficient" order, as in optim/adam.py).
    "nr_adam": Elementwise(
        "T g, T beta1, T beta2, T alpha, T eps_hat", "T theta, T m, T v",
        "m = beta1 * m + (T(1) - beta1) * g;  v = beta2 * v + (T(1) - beta2) * g * g;"
        "  theta -= alpha * m / (sqrt(v) + eps_hat);"),
    # AMSGrad: v_max <- max(v_max, v) takes v's place in the denominator.
    "nr_adam_amsgrad": Elementwise(
        "T g, T beta1, T beta2, T alpha, T eps_hat", "T theta, T m, T v, T vmax",
        "m = beta1 * m + (T(1) - beta1) * g;  v = beta2 * v + (T(1) - beta2) * g * g;"
        "  vmax = vmax > v ? vmax : v;  theta -= alpha * m / (sqrt(vmax) + eps_hat);"),
}

_ew_cache: dict = {}


def _cupy():
    from ..backend import _load_cupy
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError("neurona.ops.cuda_kernels needs CuPy and a CUDA GPU; the ops call "
                           "it only for CuPy arrays")
    return cp


def _ew(name):
    k = _ew_cache.get(name)
    if k is None:
        spec = ELEMENTWISE[name]
        k = _ew_cache[name] = _cupy().ElementwiseKernel(
            spec.in_params, spec.out_params, spec.operation, name, preamble=spec.preamble)
    return k


def _empty(x):
    return _cupy().empty(x.shape, x.dtype)


def gelu(x):
    """Exact GELU of a CuPy array: returns (z, Phi(x))."""
    z, cdf = _empty(x), _empty(x)
    _ew("nr_gelu")(x, z, cdf)
    return z, cdf


def gelu_grad(g, x, cdf):
    return _ew("nr_gelu_grad")(g, x, cdf)


def gelu_tanh(x):
    """tanh-approximated GELU: returns (z, t)."""
    z, t = _empty(x), _empty(x)
    _ew("nr_gelu_tanh")(x, z, t)
    return z, t


def gelu_tanh_grad(g, x, t):
    return _ew("nr_gelu_tanh_grad")(g, x, t)


def lstm_step(gates, c, H):
    """As ``recurrent._lstm_step``: gates (N, 4H) activated in place; returns (h', c', tanh c')."""
    h, cn, tc = _empty(c), _empty(c), _empty(c)
    _ew("nr_lstm_step")(c, gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H],
                        gates[:, 3 * H:], cn, tc, h)
    return h, cn, tc


def lstm_step_back(dh, dc, acts, c_prev, tc, H):
    """As ``recurrent._lstm_step_back``: returns (dL/dA (N, 4H), dL/dc_prev)."""
    cp = _cupy()
    dG = cp.empty(acts.shape, acts.dtype)
    dcp = cp.empty(c_prev.shape, c_prev.dtype)
    _ew("nr_lstm_step_back")(dh, dc, acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:3 * H],
                             acts[:, 3 * H:], c_prev, tc,
                             dG[:, :H], dG[:, H:2 * H], dG[:, 2 * H:3 * H], dG[:, 3 * H:], dcp)
    return dG, dcp


def gru_step(xg, hh, h, H):
    """As ``recurrent._gru_step``: returns (h', rz (N, 2H), n)."""
    cp = _cupy()
    rz = cp.empty((h.shape[0], 2 * H), h.dtype)
    n, hn = _empty(h), _empty(h)
    _ew("nr_gru_step")(xg[:, :H], xg[:, H:2 * H], xg[:, 2 * H:], hh[:, :H], hh[:, H:2 * H],
                       hh[:, 2 * H:], h, rz[:, :H], rz[:, H:], n, hn)
    return hn, rz, n


def gru_step_back(dh, h_prev, rz, n, hh_n, H):
    """As ``recurrent._gru_step_back``: returns (dX (N, 3H), dB (N, 3H), dh_prev direct)."""
    cp = _cupy()
    dxg = cp.empty((dh.shape[0], 3 * H), dh.dtype)
    dhh = cp.empty((dh.shape[0], 3 * H), dh.dtype)
    dhd = _empty(dh)
    _ew("nr_gru_step_back")(dh, h_prev, rz[:, :H], rz[:, H:], n, hh_n,
                            dxg[:, :H], dxg[:, H:2 * H], dxg[:, 2 * H:],
                            dhh[:, :H], dhh[:, H:2 * H], dhh[:, 2 * H:], dhd)
    return dxg, dhh, dhd


def adam_update(theta, m, v, g, beta1, beta2, alpha, eps_hat, vmax=None):
    """One Adam step in place on theta, m, v (and vmax with AMSGrad), all CuPy arrays."""
    dt = theta.dtype.type
    scalars = (dt(beta1), dt(beta2), dt(alpha), dt(eps_hat))
    if vmax is None:
        _ew("nr_adam")(g, *scalars, theta, m, v)
    else:
        _ew("nr_adam_amsgrad")(g, *scalars, theta, m, v, vmax)


# ------------------------------------------------------------------ row-wise kernels
# One block of `blockDim.x` threads (a power of two, <= 256) per row of a contiguous
# (R, C) array; thread j handles elements j, j + blockDim.x, ...  The partial maxima /
# sums meet in shared memory: a tree reduction halving the active threads each round.

_ROW_SOURCE = r"""
__device__ T nr_block_sum(T v, T* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

__device__ T nr_block_max(T v, T* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            T o = sh[threadIdx.x + s];
            if (o > sh[threadIdx.x] || o != o) sh[threadIdx.x] = o;   // o != o: NaN wins
        }
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

// y = softmax(x) along each row
extern "C" __global__ void nr_softmax_rows(const T* x, T* y, long long C) {
    __shared__ T sh[256];
    const T* xr = x + blockIdx.x * C;
    T* yr = y + blockIdx.x * C;
    T m = xr[0];
    for (long long j = threadIdx.x; j < C; j += blockDim.x) m = (xr[j] > m || xr[j] != xr[j]) ? xr[j] : m;
    m = nr_block_max(m, sh);
    T s = 0;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) { T e = exp(xr[j] - m); yr[j] = e; s += e; }
    s = nr_block_sum(s, sh);
    T inv = T(1) / s;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) yr[j] *= inv;
}

// y = x - m - ln sum_j e^(x_j - m) along each row
extern "C" __global__ void nr_log_softmax_rows(const T* x, T* y, long long C) {
    __shared__ T sh[256];
    const T* xr = x + blockIdx.x * C;
    T* yr = y + blockIdx.x * C;
    T m = xr[0];
    for (long long j = threadIdx.x; j < C; j += blockDim.x) m = (xr[j] > m || xr[j] != xr[j]) ? xr[j] : m;
    m = nr_block_max(m, sh);
    T s = 0;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) s += exp(xr[j] - m);
    s = nr_block_sum(s, sh);
    T lse = m + log(s);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) yr[j] = xr[j] - lse;
}

// softmax backward: gx = y (g - sum_j g_j y_j)
extern "C" __global__ void nr_softmax_rows_back(const T* g, const T* y, T* gx, long long C) {
    __shared__ T sh[256];
    const T* gr = g + blockIdx.x * C;
    const T* yr = y + blockIdx.x * C;
    T* out = gx + blockIdx.x * C;
    T s = 0;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) s += gr[j] * yr[j];
    s = nr_block_sum(s, sh);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) out[j] = yr[j] * (gr[j] - s);
}

// log-softmax backward: gx = g - e^y sum_j g_j
extern "C" __global__ void nr_log_softmax_rows_back(const T* g, const T* y, T* gx, long long C) {
    __shared__ T sh[256];
    const T* gr = g + blockIdx.x * C;
    const T* yr = y + blockIdx.x * C;
    T* out = gx + blockIdx.x * C;
    T s = 0;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) s += gr[j];
    s = nr_block_sum(s, sh);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) out[j] = gr[j] - exp(yr[j]) * s;
}

// layer norm's normalisation: mu = mean(x), s2 = mean((x - mu)^2), r = 1/sqrt(s2 + eps),
// xhat = (x - mu) r  (two passes over the row, as the NumPy path: no cancellation)
extern "C" __global__ void nr_layer_norm_rows(const T* x, T* xhat, T* r, long long C, T eps) {
    __shared__ T sh[256];
    const T* xr = x + blockIdx.x * C;
    T* out = xhat + blockIdx.x * C;
    T s = 0;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) s += xr[j];
    T mu = nr_block_sum(s, sh) / T(C);
    T q = 0;
    for (long long j = threadIdx.x; j < C; j += blockDim.x) { T d = xr[j] - mu; q += d * d; }
    T rr = T(1) / sqrt(nr_block_sum(q, sh) / T(C) + eps);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) out[j] = (xr[j] - mu) * rr;
    if (threadIdx.x == 0) r[blockIdx.x] = rr;
}
"""

ROW_KERNELS = ("nr_softmax_rows", "nr_log_softmax_rows", "nr_softmax_rows_back",
               "nr_log_softmax_rows_back", "nr_layer_norm_rows")

_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_row_cache: dict = {}


def rows_ok(a, dim) -> bool:
    """True when the row kernels apply: a float32/float64 CuPy array, C-contiguous, reduced
    along its last dim, with at least one element."""
    return (a.dtype in _CTYPES and a.ndim >= 1 and dim in (-1, a.ndim - 1)
            and a.size > 0 and a.flags.c_contiguous)


def _row_source(dtype) -> str:
    return f"typedef {_CTYPES[np.dtype(dtype)]} T;\n" + _ROW_SOURCE


def _row_kernel(name, dtype):
    key = (name, np.dtype(dtype))
    k = _row_cache.get(key)
    if k is None:
        mod = _row_cache.get(key[1])
        if mod is None:
            mod = _row_cache[key[1]] = _cupy().RawModule(code=_row_source(dtype))
        k = _row_cache[key] = mod.get_function(name)
    return k


def _launch(name, a, *args):
    """Run row kernel ``name`` with one block per row of ``a`` (viewed as (R, C))."""
    C = a.shape[-1]
    R = a.size // C
    threads = 32
    while threads < min(C, 256):
        threads *= 2
    _row_kernel(name, a.dtype)((R,), (threads,), args + (np.int64(C),))


def softmax_rows(x):
    y = _empty(x)
    _launch("nr_softmax_rows", x, x, y)
    return y


def log_softmax_rows(x):
    y = _empty(x)
    _launch("nr_log_softmax_rows", x, x, y)
    return y


def softmax_rows_back(g, y):
    g = _cupy().ascontiguousarray(g, dtype=y.dtype)
    gx = _empty(y)
    _launch("nr_softmax_rows_back", y, g, y, gx)
    return gx


def log_softmax_rows_back(g, y):
    g = _cupy().ascontiguousarray(g, dtype=y.dtype)
    gx = _empty(y)
    _launch("nr_log_softmax_rows_back", y, g, y, gx)
    return gx


def layer_norm_rows(x2, eps):
    """x2 (R, d) contiguous -> (xhat (R, d), r (R, 1)) as in ``LayerNorm.forward``."""
    cp = _cupy()
    xhat = _empty(x2)
    r = cp.empty((x2.shape[0], 1), x2.dtype)
    C = x2.shape[1]
    threads = 32
    while threads < min(C, 256):
        threads *= 2
    _row_kernel("nr_layer_norm_rows", x2.dtype)(
        (x2.shape[0],), (threads,), (x2, xhat, r, np.int64(C), x2.dtype.type(eps)))
    return xhat, r


# ------------------------------------------------------------------ sources for NVRTC

def _params(spec: str):
    return [p.split() for p in spec.split(",") if p.strip()]


def standalone_sources(dtype=np.float32) -> dict[str, str]:
    """Every kernel as a self-contained CUDA C++ source (name -> code), to compile with
    NVRTC where there is no GPU.  An elementwise kernel is rendered as CuPy renders it in
    essence: each parameter an array (scalars too), one thread per element, the index
    called ``i``; input parameters are read-only."""
    ctype = _CTYPES[np.dtype(dtype)]
    out = {}
    for name, spec in ELEMENTWISE.items():
        ins, outs = _params(spec.in_params), _params(spec.out_params)
        args = [f"const {t}* __restrict__ _in_{n}" for t, n in ins]
        args += [f"{t}* __restrict__ _out_{n}" for t, n in outs]
        binds = [f"        const {t} {n} = _in_{n}[i];" for t, n in ins]
        binds += [f"        {t}& {n} = _out_{n}[i];" for t, n in outs]
        out[name] = (f"typedef {ctype} T;\n{spec.preamble}\n"
                     f'extern "C" __global__ void {name}({", ".join(args)}, long long _n) {{\n'
                     "    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;"
                     " i < _n; i += (long long)blockDim.x * gridDim.x) {\n"
                     + "\n".join(binds) + f"\n        {spec.operation}\n    }}\n}}\n")
    out["row_kernels"] = _row_source(dtype)
    return out
