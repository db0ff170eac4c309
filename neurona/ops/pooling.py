"""Pooling: ``max_pool2d``/``avg_pool2d`` (and 1-d forms), ``adaptive_avg_pool2d``,
``adaptive_max_pool2d``.

A pooling layer slides a kh x kw window over each channel of x (N, C, H, W) with a
stride s (default: the window size, so windows tile the input) and keeps one number per
window: its maximum, or its mean.  With x~ the padded input,

    max:  y[n, c, p, q] = max_{i, j}  x~[n, c, p*sh + i*dh, q*sw + j*dw]
    avg:  y[n, c, p, q] = (1 / m) sum_{i, j} x~[n, c, p*sh + i, q*sw + j]

(m = kh*kw, or fewer when the window hangs over the edge; see ``avg_pool2d``).

**Backward.**  The mean spreads dL/dy evenly over its window: every x in the window gets
dL/dy / m (summed over the windows that cover it when windows overlap).  The maximum
passes dL/dy to the one element that was the maximum (the *argmax*) and 0 to the others;
when several elements tie, PyTorch (and neurona) pick the first in the window, in
row-major order.

**How it is computed.**  The window has kh*kw offsets (i, j); for each offset the
numbers x~[.., p*sh + i*dh, q*sw + j*dw] for all (p, q) are a *strided slice* of x~
(no copy).  So the max is kh*kw elementwise maxima of whole slices, and the mean
kh*kw additions.  Backward loops over the same offsets: for the max it compares each
slice with y, keeps the first offset that equals it, and puts dL/dy there.  The loop is
over the window (4 steps for a 2x2 pool), never over pixels.

(Measured against the "pool by reshape" idea -- view x as (B, H/k, k, W/k, k) and
reduce over the two k axes: NumPy reduces over short inner axes slowly, and a 2x2 max
pool of LeNet's first layer took 10.8 ms that way against 0.3 ms with four slices.)

Adaptive pooling picks the windows so that the output has a given size: output row i
averages input rows floor(i H / Ho) .. ceil((i+1) H / Ho) - 1.  Average pooling is then
a linear map on each axis, y = A_h x A_w^T (A_h: (Ho, H) with 1/window-length entries),
and its backward is dL/dx = A_h^T (dL/dy) A_w.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import scatter_add_at, xp_of
from ._util import fmt

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]


# ----------------------------------------------------------------------------- geometry

def _pool_out(n, k, s, pad, d, ceil_mode):
    """PyTorch's pooling output size: floor (or ceil) of (n + 2 pad - d(k-1) - 1) / s, + 1;
    in ceil mode the last window must start inside the input or the left padding."""
    span = n + 2 * pad - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + pad:
        out -= 1
    return out


def _padded(x, pads, value):
    """x (B, H, W) with ``value`` around it: pads = ((top, bottom), (left, right))."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    B, H, W = x.shape
    xp = xp_of(x)
    out = xp.full((B, H + pt + pb, W + pl + pr), value, dtype=x.dtype)
    out[:, pt:pt + H, pl:pl + W] = x
    return out


class _Geom:
    """Where the windows of a 2-d pooling sit: kernel k, stride s, dilation d, padding p,
    output size o (each an (h, w) pair), and the padding (left, right) that x~ needs so
    that every window lies inside it."""

    __slots__ = ("k", "s", "d", "p", "o", "pads", "in_hw")

    def __init__(self, H, W, k, s, p, d, ceil_mode):
        self.k, self.s, self.p, self.d, self.in_hw = k, s, p, d, (H, W)
        self.o = (_pool_out(H, k[0], s[0], p[0], d[0], ceil_mode),
                  _pool_out(W, k[1], s[1], p[1], d[1], ceil_mode))
        # the last window ends at (o-1) s + d (k-1) (in x~ coordinates): pad up to there
        self.pads = tuple((p[a], max((self.o[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1
                                     - p[a] - n, 0))
                          for a, n in enumerate((H, W)))

    def slices(self):
        """For each window offset (i, j), in row-major order: the index of the strided slice
        of x~ that holds that offset's element of every window."""
        (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = self.k, self.s, self.d, self.o
        he, we = sh * (Ho - 1) + 1, sw * (Wo - 1) + 1
        return [(slice(None), slice(i * dh, i * dh + he, sh), slice(j * dw, j * dw + we, sw))
                for i in range(kh) for j in range(kw)]

    def disjoint(self):
        """True when no two windows share an element (then backward can assign, not add)."""
        return all(s >= d * (k - 1) + 1 for k, s, d in zip(self.k, self.s, self.d))

    def tiles(self):
        """True when the windows cover every element of x~ (so backward writes them all)."""
        return all(d == 1 and s == k and o * s == n + lo + hi
                   for k, s, d, o, n, (lo, hi) in zip(self.k, self.s, self.d, self.o,
                                                      self.in_hw, self.pads))

    def crop(self, a):
        """The part of a padded (B, Hp, Wp) array where x sits."""
        (pt, _), (pl, _) = self.pads
        H, W = self.in_hw
        return a[:, pt:pt + H, pl:pl + W]


def _flat3(x, nsp):
    """x (*, H, W) as (B, H, W); for 1-d pooling x (*, L) as (B, 1, L)."""
    if nsp == 1:
        return x.reshape(-1, 1, x.shape[-1])
    return x.reshape(-1, x.shape[-2], x.shape[-1])


def _unflat(y, x_shape, nsp, o):
    return y.reshape(x_shape[:-nsp] + (o[1:] if nsp == 1 else o))


# ----------------------------------------------------------------------------- max pool

def _max_forward(x3, geom):
    """Max over the windows of x3 (B, H, W): (y, x~), x~ the padded input."""
    xp = xp_of(x3)
    xpad = _padded(x3, geom.pads, -xp.inf)
    sl = geom.slices()
    y = xpad[sl[0]].copy()
    for s in sl[1:]:
        xp.maximum(y, xpad[s], out=y)   # (maximum carries NaNs along, as PyTorch)
    return y, xpad


def _argmax_masks(xpad, y, sl):
    """For each window offset, in row-major order: where that offset holds the window's
    first maximum (a bool array shaped like y).  Ties go to the first offset, as PyTorch."""
    taken = None
    for n, s in enumerate(sl):
        m = xpad[s] == y
        if taken is None:
            taken = m.copy() if len(sl) > 1 else m
        else:
            m &= ~taken
            if n < len(sl) - 1:
                taken |= m
        yield m


class MaxPool2d(Function):
    """y = max over each window of x~ (x padded with -inf);
    dL/dx = dL/dy routed to each window's argmax (the first maximum on ties), summed over
    the windows an element is the maximum of.

    Forward only takes maxima of whole strided slices (no argmax bookkeeping: about 7x
    faster than tracking the argmax as it goes); backward finds each window's first
    maximum by comparing the slices with y."""

    save_inputs = (0,)                 # backward compares x with y

    def forward(self, x, geom=None, nsp=2):
        x3 = _flat3(x, nsp)
        y, xpad = _max_forward(x3, geom)
        # y is copied: an in-place op on the output (relu_) must not change what
        # backward compares against (PyTorch keeps indices, so it allows that)
        self.xpad, self.y, self.geom, self.x_shape, self.x3_shape = \
            xpad, y.copy(), geom, x.shape, x3.shape
        return _unflat(y, x.shape, nsp, geom.o)

    def backward(self, g):
        xp = xp_of(g)
        geom, y, xpad = self.geom, self.y, self.xpad
        g = g.reshape(y.shape)
        sl = geom.slices()
        if len(sl) == 1:
            gx = xp.zeros(xpad.shape, dtype=g.dtype)
            gx[sl[0]] = g
        elif geom.disjoint():
            gx = (xp.empty if geom.tiles() else xp.zeros)(xpad.shape, dtype=g.dtype)
            for s, m in zip(sl, _argmax_masks(xpad, y, sl)):
                xp.multiply(g, m, out=gx[s])
        else:
            gx = xp.zeros(xpad.shape, dtype=g.dtype)
            for s, m in zip(sl, _argmax_masks(xpad, y, sl)):
                gx[s] += g * m
        return geom.crop(gx).reshape(self.x_shape)


def _flat_indices(xpad, y, geom):
    """PyTorch's return_indices: the argmax as a flat index h*W + w into each (H, W) plane
    of the unpadded input."""
    xp = xp_of(y)
    sl = geom.slices()
    idx = xp.zeros(y.shape, dtype=np.int64)
    for n, m in enumerate(_argmax_masks(xpad, y, sl)):
        if n:
            idx[m] = n
    (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = geom.k, geom.s, geom.d, geom.o
    (pt, _), (pl, _) = geom.pads
    H, W = geom.in_hw
    h0 = xp.arange(Ho).reshape(Ho, 1) * sh - pt          # where each window starts
    w0 = xp.arange(Wo).reshape(1, Wo) * sw - pl
    h = h0 + (idx // kw) * dh
    w = w0 + (idx % kw) * dw
    outside = (h < 0) | (h >= H) | (w < 0) | (w >= W)
    if outside.any():
        # a window whose maximum is -inf (only padding, or -inf inputs): PyTorch reports
        # the window's first position inside the input (start moved in by the dilation)
        h0 = xp.where(h0 < 0, h0 + (-h0 + dh - 1) // dh * dh, h0)
        w0 = xp.where(w0 < 0, w0 + (-w0 + dw - 1) // dw * dw, w0)
        h, w = xp.where(outside, h0, h), xp.where(outside, w0, w)
    return h * W + w


# ----------------------------------------------------------------------------- avg pool

def _avg_divisor(xp, geom, count_include_pad, divisor_override, dtype):
    """The divisor of each window, (Ho, Wo), as PyTorch computes it: the window's size
    clipped to the padded input (count_include_pad) or to the input itself."""
    if divisor_override:
        return None
    counts = []
    for a, n in enumerate(geom.in_hw):
        k, s, p, o = geom.k[a], geom.s[a], geom.p[a], geom.o[a]
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append(end - start)
    div = np.outer(counts[0], counts[1]).astype(dtype)
    if (div == div.flat[0]).all():
        return float(div.flat[0])
    return xp.asarray(div)


class AvgPool2d(Function):
    """y = (1/m) sum over each window of x~ (x padded with zeros), m the window's divisor;
    dL/dx = dL/dy / m spread over each window (summed where windows overlap)."""

    def forward(self, x, geom=None, nsp=2, count_include_pad=True, divisor_override=None):
        xp = xp_of(x)
        x3 = _flat3(x, nsp)
        xpad = _padded(x3, geom.pads, 0)
        sl = geom.slices()
        y = xpad[sl[0]].copy()
        for s in sl[1:]:
            y += xpad[s]
        div = divisor_override or _avg_divisor(xp, geom, count_include_pad, None, x.dtype)
        if isinstance(div, float) or isinstance(div, int):
            y *= x.dtype.type(1.0 / div)
        else:
            y /= div
        self.div, self.geom, self.x_shape, self.x3_shape = div, geom, x.shape, x3.shape
        return _unflat(y, x.shape, nsp, geom.o)

    def backward(self, g):
        xp = xp_of(g)
        geom, div = self.geom, self.div
        B, H, W = self.x3_shape
        g = g.reshape((B,) + geom.o)
        g = g * g.dtype.type(1.0 / div) if isinstance(div, (int, float)) else g / div
        (pt, pb), (pl, pr) = geom.pads
        disjoint = geom.disjoint()
        gx = (xp.empty if disjoint and geom.tiles() else xp.zeros)(
            (B, H + pt + pb, W + pl + pr), dtype=g.dtype)
        sl = geom.slices()
        if disjoint:
            for s in sl:
                gx[s] = g
        else:
            for s in sl:
                gx[s] += g
        return geom.crop(gx).reshape(self.x_shape)


# ----------------------------------------------------------------------------- adaptive

def _adaptive_windows(n, o):
    """PyTorch's adaptive windows: output i covers floor(i n/o) .. ceil((i+1) n/o) - 1."""
    return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]


def _adaptive_matrix(xp, n, o, dtype):
    """A (o, n): row i has 1/len on window i's columns (so A @ v averages each window)."""
    A = np.zeros((o, n), dtype=dtype)
    for i, (a, b) in enumerate(_adaptive_windows(n, o)):
        A[i, a:b] = 1.0 / (b - a)
    return xp.asarray(A)


class AdaptiveAvgPool2d(Function):
    """y = A_h x A_w^T per channel (A: window-averaging matrices, see the module
    docstring);  dL/dx = A_h^T (dL/dy) A_w."""

    def forward(self, x, out_hw=(1, 1), nsp=2):
        xp = xp_of(x)
        x3 = _flat3(x, nsp)
        B, H, W = x3.shape
        Ho, Wo = out_hw
        self.x_shape, self.nsp, self.out_hw = x.shape, nsp, out_hw
        if Ho == 1 and Wo == 1:
            self.mats = None
            y = x3.mean(axis=(1, 2), keepdims=True)
        else:
            Ah = _adaptive_matrix(xp, H, Ho, x.dtype)
            Aw = _adaptive_matrix(xp, W, Wo, x.dtype)
            self.mats = (Ah, Aw)
            y = Ah @ (x3 @ Aw.T)
        return _unflat(y, x.shape, nsp, out_hw)

    def backward(self, g):
        xp = xp_of(g)
        H, W = (1, self.x_shape[-1]) if self.nsp == 1 else self.x_shape[-2:]
        g3 = g.reshape((-1,) + self.out_hw)
        if self.mats is None:
            gx = xp.broadcast_to(g3 * g.dtype.type(1.0 / (H * W)), (g3.shape[0], H, W))
            return xp.ascontiguousarray(gx).reshape(self.x_shape)
        Ah, Aw = self.mats
        return (Ah.T @ g3 @ Aw).reshape(self.x_shape)


def _adaptive_max_forward(x3, out_hw):
    """Max over each adaptive window of x3 (B, H, W): (y, flat argmax index h*W + w)."""
    xp = xp_of(x3)
    B, H, W = x3.shape
    Ho, Wo = out_hw
    y = xp.empty((B, Ho, Wo), dtype=x3.dtype)
    flat = xp.empty((B, Ho, Wo), dtype=np.int64)
    rows = xp.arange(B)
    for i, (a, b) in enumerate(_adaptive_windows(H, Ho)):
        for j, (c, d) in enumerate(_adaptive_windows(W, Wo)):
            win = x3[:, a:b, c:d].reshape(B, (b - a) * (d - c))
            k = win.argmax(axis=1)              # the first maximum, as PyTorch
            y[:, i, j] = win[rows, k]
            flat[:, i, j] = (a + k // (d - c)) * W + c + k % (d - c)
    return y, flat


class AdaptiveMaxPool2d(Function):
    """y = max over each adaptive window; dL/dx = dL/dy at each window's argmax (first
    maximum on ties).  A loop over the output positions (outputs are small)."""

    def forward(self, x, out_hw=(1, 1), nsp=2):
        x3 = _flat3(x, nsp)
        y, self.flat = _adaptive_max_forward(x3, out_hw)
        self.x_shape, self.x3_shape = x.shape, x3.shape
        return _unflat(y, x.shape, nsp, out_hw)

    def backward(self, g):
        xp = xp_of(g)
        B, H, W = self.x3_shape
        gx = xp.zeros(B * H * W, dtype=g.dtype)
        idx = xp.arange(B).reshape(B, 1, 1) * (H * W) + self.flat   # (windows may overlap:
        scatter_add_at(xp, gx, idx.reshape(-1), g.reshape(-1))     # their grads add up)
        return gx.reshape(self.x_shape)


# ----------------------------------------------------------------------------- arguments

def _tuple(v, n, name, op, allow_none=False):
    if v is None and allow_none:
        return None
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def _check_input(op, x, nsp):
    if x.ndim not in (nsp + 1, nsp + 2):
        dims = "(N, C, L) or (C, L)" if nsp == 1 else "(N, C, H, W) or (C, H, W)"
        raise RuntimeError(f"{op}: expected a {nsp + 1}-d or {nsp + 2}-d input {dims}, got "
                           f"input of shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {fmt(x)}; convert it "
                           "with x.float()")
    if 0 in x.shape[-nsp:]:
        raise RuntimeError(f"{op}: the input's spatial size must be non-zero, got input of "
                           f"shape {tuple(x.shape)}")


def _pool_geom(op, x, nsp, kernel_size, stride, padding, dilation, ceil_mode):
    _check_input(op, x, nsp)
    k = _tuple(kernel_size, nsp, "kernel_size", op)
    s = _tuple(stride, nsp, "stride", op, allow_none=True)
    if s is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k
    p = _tuple(padding, nsp, "padding", op)
    d = _tuple(dilation, nsp, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got "
                         f"kernel_size={k}, stride={s}, dilation={d}")
    if any(pp < 0 or pp > kk // 2 for pp, kk in zip(p, k)):
        raise RuntimeError(f"{op}: pad should be at most half of the kernel size, but got "
                           f"padding={p} for kernel_size={k}")
    if nsp == 1:
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    H, W = (1, x.shape[-1]) if nsp == 1 else x.shape[-2:]
    geom = _Geom(H, W, k, s, p, d, bool(ceil_mode))
    if min(geom.o) < 1:
        raise RuntimeError(
            f"{op}: input of shape {tuple(x.shape)} is too small for kernel_size="
            f"{k[2 - nsp:]}, stride={s[2 - nsp:]}, padding={p[2 - nsp:]}, dilation="
            f"{d[2 - nsp:]}: the output size would be {geom.o[2 - nsp:]}")
    return geom


def _max_pool(op, nsp, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    geom = _pool_geom(op, input._data, nsp, kernel_size, stride, padding, dilation, ceil_mode)
    out = MaxPool2d.apply(input, geom=geom, nsp=nsp)
    if not return_indices:
        return out
    from ..tensor import Tensor
    x = input._data
    y, xpad = _max_forward(_flat3(x, nsp), geom)
    return out, Tensor._wrap(_unflat(_flat_indices(xpad, y, geom), x.shape, nsp, geom.o))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-d max pooling of ``input`` (N, C, H, W) or (C, H, W), as
    ``torch.nn.functional.max_pool2d``: the maximum of each kernel_size window, windows
    ``stride`` apart (default: kernel_size), the input padded with -inf by ``padding``
    (at most half the kernel).  ``ceil_mode``: round the output size up (the last window
    must still start inside the input or the left padding).  ``return_indices``: also
    return the argmax of each window as a flat index into the input's (H, W) plane."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-d max pooling of ``input`` (N, C, L) or (C, L) (see :func:`max_pool2d`)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _avg_pool(op, nsp, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    geom = _pool_geom(op, input._data, nsp, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    return AvgPool2d.apply(input, geom=geom, nsp=nsp, count_include_pad=bool(count_include_pad),
                           divisor_override=None if divisor_override is None
                           else int(divisor_override))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-d average pooling of ``input`` (N, C, H, W) or (C, H, W), as
    ``torch.nn.functional.avg_pool2d``: the mean of each window (padding with zeros).
    The divisor is the window's size, counting the zero padding when
    ``count_include_pad`` (but never the part a ceil_mode window hangs past the padding),
    or ``divisor_override`` when given."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-d average pooling of ``input`` (N, C, L) or (C, L) (see :func:`avg_pool2d`)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def _adaptive_size(op, x, nsp, output_size):
    _check_input(op, x, nsp)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nsp:
            raise ValueError(f"{op}: output_size must be an int or a tuple of {nsp}, got "
                             f"{output_size!r}")
        o = tuple(x.shape[-nsp + a] if v is None else int(v) for a, v in enumerate(output_size))
    else:
        o = (int(output_size),) * nsp
    if min(o) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {o}")
    return (1,) + o if nsp == 1 else o


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (Ho, Wo) (an int, a pair, None = keep),
    as ``torch.nn.functional.adaptive_avg_pool2d``."""
    o = _adaptive_size("adaptive_avg_pool2d", input._data, 2, output_size)
    return AdaptiveAvgPool2d.apply(input, out_hw=o, nsp=2)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) to a fixed length."""
    o = _adaptive_size("adaptive_avg_pool1d", input._data, 1, output_size)
    return AdaptiveAvgPool2d.apply(input, out_hw=o, nsp=1)


def _adaptive_max(op, nsp, input, output_size, return_indices):
    o = _adaptive_size(op, input._data, nsp, output_size)
    out = AdaptiveMaxPool2d.apply(input, out_hw=o, nsp=nsp)
    if not return_indices:
        return out
    from ..tensor import Tensor
    _, flat = _adaptive_max_forward(_flat3(input._data, nsp), o)
    return out, Tensor._wrap(_unflat(flat, input._data.shape, nsp, o))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size, as ``torch.nn.functional.adaptive_max_pool2d``."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of (N, C, L) to a fixed length."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)
