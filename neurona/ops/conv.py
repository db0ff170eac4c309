"""Convolution: ``conv2d`` and ``conv1d``, as im2col + one matrix product (GEMM).

A 2-d convolution (PyTorch's: really a cross-correlation, the kernel is not flipped)
of x (N, C, H, W) with a kernel w (C_out, C, kh, kw) and bias b (C_out,):

    y[n, o, p, q] = b[o] + sum_{c, i, j} w[o, c, i, j] * x~[n, c, p*s + i*d, q*s + j*d]

x~ is x with ``padding`` zeros around it, s the stride, d the dilation.  The output has
Ho = floor((H + pad_top + pad_bottom - d*(kh - 1) - 1) / s) + 1 rows (Wo likewise).

**im2col.**  Each output pixel (n, p, q) reads a patch of C*kh*kw input numbers.  Write
every patch as one column of a matrix X_col (C*kh*kw, Ho*Wo*N), and the kernel as a
matrix W (C_out, C*kh*kw); then the whole convolution is one matrix product:

    Y = W X_col (+ b),     Y: (C_out, Ho*Wo*N), then rearranged to (N, C_out, Ho, Wo).

X_col is built without Python loops: a *strided view* of x~ (``as_strided``) already
has the shape (C, kh, kw, Ho, Wo, N) -- it only changes how memory is walked -- and a
single copy lays it out as the matrix.  Laying the whole batch along the columns turns
N small products into one big one, which BLAS runs at full speed.

*Why the batch comes last.*  x is first rearranged to (C, H, W, N).  Then every row of
the strided view is a run of numbers that sit next to each other in memory (Wo*N of
them for stride 1), and NumPy copies long runs several times faster than the short
Wo-long runs of an (N, C, H, W) view: measured on LeNet's layers, 0.2 ms instead of
1.5 ms.  The price is moving N to the back of x and of G and to the front of Y (three
transposes of activation-sized arrays, cheaper than the X_col copies they speed up).

**Backward.**  With G = dL/dY as a (C_out, Ho*Wo*N) matrix:

    dL/dW     = G X_col^T                          (one GEMM)
    dL/db     = sum of G over its columns
    dL/dX_col = W^T G                              (one GEMM)
    dL/dx     = col2im(dL/dX_col)

col2im undoes im2col: every input number was copied into each patch that covers it,
so its gradient is the sum of the gradients of those copies.  That is a loop over the
kh*kw kernel offsets (i, j), each adding one strided slice -- never a loop over pixels.

**Memory.**  X_col is kept from forward for dL/dW (the autograd engine frees it right
after backward); dL/dX_col is built a chunk of channels at a time, so backward never
holds a second X_col-sized array.

**Groups.**  With ``groups`` = g, the channels split into g independent convolutions
(C/g inputs -> C_out/g outputs each); X_col and W get a leading group axis and the
products become batched matmuls over the groups.

A 1-d convolution (N, C, L) is a 2-d one with H = 1.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

from ..autograd.function import Function, crosswise
from .. import backend
from ..backend import xp_of
from ._util import fmt

__all__ = ["conv1d", "conv2d"]


# ----------------------------------------------------------------------------- helpers

def _as_strided(xp, a, shape, strides):
    return backend.as_strided(a, shape, strides)       # the NumPy/CuPy difference lives there


def _out_size(n, k, s, d, lo, hi):
    """Number of window positions along one dim: floor((n + lo + hi - d(k-1) - 1)/s) + 1."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def _transpose(a):
    """The 2-d array ``a`` (R, N) transposed into a new C-contiguous (N, R) array.

    A plain ``ascontiguousarray(a.T)`` writes each output row one number at a time
    while reading ``a`` with a large stride, missing the cache all along; copying blocks
    of B rows of ``a`` (B*N ~ 8192 numbers, 32 KiB, and B >= 16 so that each output row
    gets at least a 64-byte cache line at a time) keeps each block in the L1 cache.
    Measured on the conv layers' shapes: 1.3-3x faster than the plain copy."""
    xp = xp_of(a)
    R, N = a.shape
    B = max(16, 8192 // max(N, 1))
    if xp is not np or R <= B or N == 1:
        return xp.ascontiguousarray(a.T)
    out = np.empty((N, R), dtype=a.dtype)
    for r in range(0, R, B):
        out[:, r:r + B] = a[r:r + B].T
    return out


def batch_last(x, pad):
    """x (N, C, H, W) as a new array (C, H + top + bottom, W + left + right, N): the
    batch moved to the last axis, zeros around each image (``pad`` = (t, b, l, r))."""
    N, C, H, W = x.shape
    pt, pb, pl, pr = pad
    xt = _transpose(x.reshape(N, C * H * W)).reshape(C, H, W, N)
    if not (pt or pb or pl or pr):
        return xt
    out = xp_of(x).zeros((C, H + pt + pb, W + pl + pr, N), dtype=x.dtype)
    out[:, pt:pt + H, pl:pl + W] = xt
    return out


def im2col(xt, kh, kw, Ho, Wo, stride, dilation):
    """The patches of the padded, batch-last xt (C, Hp, Wp, N) as a matrix
    (C*kh*kw, Ho*Wo*N): row (c, i, j), column (p, q, n) holds
    x~[n, c, p*sh + i*dh, q*sw + j*dw].  One strided view + one copy.

    With the batch last, each (c, i, j, p) row of the view is a run of Wo*N numbers
    (stride 1) or of N numbers that lie next to each other in memory, so the copy moves
    long contiguous runs (4-8x faster than with the batch first, where runs are Wo long)."""
    xp = xp_of(xt)
    C, N = xt.shape[0], xt.shape[3]
    (sh, sw), (dh, dw) = stride, dilation
    s = xt.strides
    view = _as_strided(xp, xt, (C, kh, kw, Ho, Wo, N),
                       (s[0], s[1] * dh, s[2] * dw, s[1] * sh, s[2] * sw, s[3]))
    if xp is not np:
        return xp.ascontiguousarray(view).reshape(C * kh * kw, Ho * Wo * N)
    cols = _workspace(view.shape, xt.dtype)
    np.copyto(cols, view)
    return cols.reshape(C * kh * kw, Ho * Wo * N)


_WORKSPACE = {}                # (shape, dtype) -> the last X_col buffer of that shape
_WORKSPACE_MAX = 8             # at most this many buffers ...
_WORKSPACE_BYTES = 64 << 20    # ... each at most this large
_workspace_lock = threading.Lock()


def _workspace(shape, dtype):
    """An uninitialized array for X_col, reusing the previous call's buffer of the same
    shape once nothing holds it any more (the autograd engine dropped it after backward).

    Why: X_col is the largest array of a small CNN's step (10 MB for LeNet's first layer
    at batch 128).  A fresh one each step is often fresh memory from the OS, and the
    kernel then zero-fills it page by page (~2500 page faults per LeNet step, measured:
    the step ran 13.5 ms without them and up to 22 ms with them).  Reusing the buffer
    avoids that.  "Nothing holds it" is read from the reference count: the cache's own
    reference and the argument of ``sys.getrefcount`` make 2."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes > _WORKSPACE_BYTES:
        return np.empty(shape, dtype=dtype)
    key = (shape, np.dtype(dtype))
    with _workspace_lock:
        buf = _WORKSPACE.get(key)
        if buf is None or sys.getrefcount(buf) > 2:
            buf = np.empty(shape, dtype=dtype)
            if key not in _WORKSPACE and len(_WORKSPACE) >= _WORKSPACE_MAX:
                del _WORKSPACE[next(iter(_WORKSPACE))]           # forget the oldest
            _WORKSPACE[key] = buf
        return buf


def col2im_input_grad(w2, g2, shape, kh, kw, Ho, Wo, stride, dilation, pad):
    """dL/dx = col2im(W^T G): the adjoint of :func:`im2col` and of the padding.

    Each entry of dL/dX_col = W^T G (rows (c, i, j), columns (p, q, n)) is added back to
    the input element it was copied from: a loop over the kh*kw kernel offsets, each adding
    one strided slice.  w2: (groups, C_out/g, C/g*kh*kw), g2 = G: (C_out, Ho*Wo*N);
    returns (N, C, H, W) = ``shape``.

    W^T G is as large as X_col; it is built for a chunk of input channels at a time (at
    most ``_DCOLS_BYTES``), so that backward never holds two X_col-sized arrays."""
    xp = xp_of(g2)
    N, C, H, W = shape
    pt, pb, pl, pr = pad
    (sh, sw), (dh, dw) = stride, dilation
    G, Cog = w2.shape[0], w2.shape[1]
    Cg, kk = C // G, kh * kw
    P = g2.shape[1]
    if kk == 1 and sh == sw == 1 and not (pt or pb or pl or pr):      # 1x1: no overlap
        gt = xp.matmul(w2.transpose(0, 2, 1), g2.reshape(G, Cog, P)).reshape(C * H * W, N)
        return _transpose(gt).reshape(N, C, H, W)
    step = max(1, min(Cg, _DCOLS_BYTES // max(kk * P * g2.dtype.itemsize, 1)))
    g = xp.zeros((C, H + pt + pb, W + pl + pr, N), dtype=g2.dtype)
    he, we = sh * (Ho - 1) + 1, sw * (Wo - 1) + 1
    for grp in range(G):
        Gg, Wg = g2[grp * Cog:(grp + 1) * Cog], w2[grp]
        for c0 in range(0, Cg, step):
            c1 = min(c0 + step, Cg)
            dcols = (Wg[:, c0 * kk:c1 * kk].T @ Gg).reshape(c1 - c0, kh, kw, Ho, Wo, N)
            dst = g[grp * Cg + c0:grp * Cg + c1]
            for i in range(kh):
                for j in range(kw):
                    dst[:, i * dh:i * dh + he:sh, j * dw:j * dw + we:sw] += dcols[:, i, j]
    gt = g[:, pt:pt + H, pl:pl + W].reshape(C * H * W, N)   # (a copy when padded)
    return _transpose(gt).reshape(N, C, H, W)


_KEEP_COLS_BYTES = 256 << 20   # keep X_col for backward up to this size, else recompute it
_GW_CHUNK = 2048               # column chunk of the dL/dW product when it is small
_DCOLS_BYTES = 32 << 20        # largest piece of dL/dX_col built at once in backward


def _grad_weight(g2, cols):
    """dL/dW = G X_col^T for G (C_out, P), X_col (K, P), computed as (X_col G^T)^T.

    When C_out*K is small and P large (LeNet's first layer: 6 x 25 against 100 000
    columns), BLAS streams the long operands badly; summing the products of column
    chunks that stay in cache is about 2x faster there."""
    Co, P = g2.shape
    K = cols.shape[0]
    if Co * K >= 1024 or P <= 4 * _GW_CHUNK or xp_of(g2) is not np:
        return (cols @ g2.T).T
    acc = cols[:, :_GW_CHUNK] @ g2[:, :_GW_CHUNK].T
    for a in range(_GW_CHUNK, P, _GW_CHUNK):
        acc += cols[:, a:a + _GW_CHUNK] @ g2[:, a:a + _GW_CHUNK].T
    return acc.T


# ----------------------------------------------------------------------------- the op

class Conv2d(Function):
    """y = W X_col + b  (see the module docstring): x (N, C, H, W), w (C_out, C/g, kh, kw),
    b (C_out,) -> y (N, C_out, Ho, Wo).

    Backward with G = dL/dy as (C_out, Ho*Wo*N):  dL/dW = G X_col^T,  dL/db = sum_cols G,
    dL/dx = col2im(W^T G)  (per group when groups > 1).

    X_col is kept for dL/dW (freed after backward), unless it is larger than
    ``_KEEP_COLS_BYTES``: then the padded input is kept and X_col rebuilt in backward.

    x may also be unbatched (C, H, W), or (N, C, L) / (C, L) for conv1d (``nsp=1``: H = 1,
    w (C_out, C/g, k)); the gradients come back in the shapes that came in."""

    save_inputs = staticmethod(crosswise)      # x is read for dL/dW only, w for dL/dx only

    def forward(self, x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1),
                groups=1, nsp=2):
        xp = xp_of(x)
        x_shape, w_shape = x.shape, w.shape
        if nsp == 1:                           # conv1d: (N, C, L) as (N, C, 1, L)
            x = x.reshape(-1, x_shape[-2], 1, x_shape[-1])
            w = w.reshape(w_shape[0], w_shape[1], 1, w_shape[2])
        elif x.ndim == 3:                      # unbatched (C, H, W) as (1, C, H, W)
            x = x.reshape((1,) + x_shape)
        N, C, H, W = x.shape
        Co, Cg, kh, kw = w.shape
        pt, pb, pl, pr = pad
        Ho = _out_size(H, kh, stride[0], dilation[0], pt, pb)
        Wo = _out_size(W, kw, stride[1], dilation[1], pl, pr)
        G = groups
        xt = batch_last(x, pad)
        cols = im2col(xt, kh, kw, Ho, Wo, stride, dilation)   # (C*kh*kw, Ho*Wo*N)
        w2 = w.reshape(G, Co // G, Cg * kh * kw)
        if G == 1:
            y = w2[0] @ cols                                  # (C_out, Ho*Wo*N)
        else:
            y = xp.matmul(w2, cols.reshape(G, Cg * kh * kw, -1)).reshape(Co, -1)
        out = _transpose(y.reshape(Co * Ho * Wo, N)).reshape(N, Co, Ho * Wo)
        if b is not None:
            out += b.reshape(1, Co, 1)
        if cols.nbytes <= _KEEP_COLS_BYTES:
            self.cols = cols
        else:
            self.xt = xt
        self.w2 = w2
        self.geom = (x.shape, x_shape, w_shape, kh, kw, Ho, Wo, stride, dilation, pad, G)
        return out.reshape(x_shape[:-nsp - 1] + (Co,) + ((Ho, Wo) if nsp == 2 else (Wo,)))

    def backward(self, g):
        xp = xp_of(g)
        x4, x_shape, w_shape, kh, kw, Ho, Wo, stride, dilation, pad, G = self.geom
        need = self.needs_input_grad
        N = x4[0]
        Co = w_shape[0]
        g2 = _transpose(g.reshape(N, Co * Ho * Wo)).reshape(Co, Ho * Wo * N)   # G
        gx = gw = gb = None
        if need[1]:
            cols = self.cols if "cols" in self.__dict__ else \
                im2col(self.xt, kh, kw, Ho, Wo, stride, dilation)
            if G == 1:
                gw = _grad_weight(g2, cols)
            else:
                gw = xp.matmul(g2.reshape(G, Co // G, -1),
                               cols.reshape(G, -1, cols.shape[1]).transpose(0, 2, 1))
            gw = gw.reshape(w_shape)
            del cols
        if len(need) > 2 and need[2]:
            gb = g2.sum(axis=1)
        if need[0]:
            gx = col2im_input_grad(self.w2, g2, x4, kh, kw, Ho, Wo, stride, dilation,
                                   pad).reshape(x_shape)
        return gx, gw, gb


# ----------------------------------------------------------------------------- arguments

def _tuple(v, n, name, op):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
        out = tuple(int(a) for a in v)
    else:
        out = (int(v),) * n
    return out


def _conv_args(op, x, w, b, stride, padding, dilation, groups, nsp):
    """Check a convolution's tensors and arguments; return (stride, pad4, dilation, groups)
    as 2-d tuples (for nsp == 1 the H entries are trivial)."""
    xs, ws = tuple(x.shape), tuple(w.shape)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {fmt(x)}; convert it "
                           "with x.float()")
    if w.ndim != nsp + 2:
        kdims = ", ".join(["kH", "kW"][2 - nsp:]) if nsp <= 2 else "k"
        raise RuntimeError(f"{op}: weight must be {nsp + 2}-d (C_out, C_in/groups, {kdims}), "
                           f"got weight of shape {ws}")
    if x.ndim not in (nsp + 1, nsp + 2):
        dims = "(N, C, L)" if nsp == 1 else "(N, C, H, W)"
        udims = "(C, L)" if nsp == 1 else "(C, H, W)"
        raise RuntimeError(f"{op}: expected a {nsp + 2}-d input {dims} or a {nsp + 1}-d "
                           f"unbatched input {udims}, got input of shape {xs}")
    if x.dtype != w.dtype:
        raise RuntimeError(f"{op}: input and weight must have the same dtype (input {fmt(x)}, "
                           f"weight {fmt(w)}); convert the input, e.g. x.float()")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    C = xs[-nsp - 1]
    Co = ws[0]
    if Co % groups:
        raise RuntimeError(f"{op}: groups={groups} must divide the number of output channels "
                           f"(weight {ws} has {Co})")
    if C != ws[1] * groups:
        g = f" * groups={groups}" if groups > 1 else ""
        raise RuntimeError(f"{op}: expected input with {ws[1] * groups} channels (weight "
                           f"{ws}{g}), got input of shape {xs}")
    if b is not None and (tuple(b.shape) != (Co,) or b.dtype != w.dtype):
        raise RuntimeError(f"{op}: bias must have shape ({Co},) (one per output channel) and "
                           f"the weight's dtype {w.dtype}, got {fmt(b)}")
    stride = _tuple(stride, nsp, "stride", op)
    dilation = _tuple(dilation, nsp, "dilation", op)
    if min(stride) < 1:
        raise ValueError(f"{op}: stride must be positive, got {stride}")
    if min(dilation) < 1:
        raise ValueError(f"{op}: dilation must be positive, got {dilation}")
    ks = ws[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * nsp
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride}); give the padding as numbers")
            pads = []
            for k, d in zip(ks, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got "
                             f"{padding!r}")
    else:
        p = _tuple(padding, nsp, "padding", op)
        if min(p) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {p}")
        pads = [(a, a) for a in p]
    sp_in = xs[-nsp:]
    for n, k, d, (lo, hi) in zip(sp_in, ks, dilation, pads):
        if n + lo + hi < d * (k - 1) + 1:
            padded = " x ".join(str(a + l + h) for a, (l, h) in zip(sp_in, pads))
            kern = " x ".join(str(d_ * (k_ - 1) + 1) for k_, d_ in zip(ks, dilation))
            raise RuntimeError(
                f"{op}: the padded input ({padded}) is smaller than the (dilated) kernel "
                f"({kern}); input of shape {xs}, weight {ws}, padding {tuple(pads)}, "
                f"dilation {dilation}. Use a smaller kernel, more padding, or a larger input")
    if nsp == 1:
        stride, dilation = (1,) + stride, (1,) + dilation
        pads = [(0, 0)] + pads
    pad4 = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    return stride, pad4, dilation, groups


def _conv(op, nsp, input, weight, bias, stride, padding, dilation, groups):
    x, w = input._data, weight._data
    b = None if bias is None else bias._data
    stride, pad4, dilation, groups = _conv_args(op, x, w, b, stride, padding, dilation,
                                                groups, nsp)
    if bias is None:
        return Conv2d.apply(input, weight, stride=stride, pad=pad4, dilation=dilation,
                            groups=groups, nsp=nsp)
    return Conv2d.apply(input, weight, bias, stride=stride, pad=pad4, dilation=dilation,
                        groups=groups, nsp=nsp)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of ``input`` (N, C_in, H, W) or unbatched
    (C_in, H, W) with ``weight`` (C_out, C_in/groups, kH, kW), plus ``bias`` (C_out,),
    as ``torch.nn.functional.conv2d``.

    ``stride``, ``padding`` (zeros), ``dilation``: an int or a pair (rows, columns);
    ``padding`` may also be 'valid' (none) or 'same' (output as large as the input; stride
    1 only; when the total padding d*(k-1) is odd the extra row/column goes at the
    bottom/right, as PyTorch).  ``groups`` splits the channels into independent
    convolutions.  Output (N, C_out, Ho, Wo) with
    Ho = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution of ``input`` (N, C_in, L) or unbatched (C_in, L) with ``weight``
    (C_out, C_in/groups, k), as ``torch.nn.functional.conv1d`` (a conv2d with H = 1)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)

