"""Helpers shared by the test files: Hypothesis strategies, PyTorch parity, gradient checks.

PyTorch (CPU) is the oracle: a neurona op is right when it gives what the same PyTorch op
gives, for the values, the dtype, the shape, and the gradients.  Tests never hard-code
a result that PyTorch can compute.

    from helpers import check_parity, gradcheck64, float_arrays, broadcastable_shapes

    @given(float_arrays(shape=(3, 4)))
    def test_exp(a):
        check_parity(neurona.exp, torch.exp, [a], kind="transcendental")

Tolerances
----------
``tolerance(dtype, kind)`` gives the ``rtol``/``atol`` a comparison uses (``check_parity``
picks them from the output's dtype unless told otherwise).  float32 has a machine epsilon
of 1.19e-7 (a relative step of about 1e-7 between neighbouring numbers).

* ``kind="exact"`` -- float32 rtol=1e-5, atol=1e-6 (float64 rtol=1e-12, atol=1e-14).
  For ops that IEEE arithmetic rounds exactly once (+ - * / neg, abs, relu, clamp,
  maximum, where, ...): both libraries get the correctly rounded result.  The forward
  values usually agree bit for bit; the gradients are short formulas that the two
  libraries may write differently (``-g*a/b**2`` versus ``-g*z/b``), a few roundings
  apart.  rtol=1e-5 is about 80 float32 steps: room for that, but far below any real bug.
  atol covers results that cancel to about zero, where relative error means nothing.
* ``kind="transcendental"`` -- float32 rtol=1e-4, atol=1e-5 (float64 rtol=1e-9,
  atol=1e-12).  For exp, log, sin, tanh, sigmoid, erf/gelu, softplus, pow with real
  exponents, and ops built from them.  NumPy and PyTorch evaluate these with different
  vectorised implementations (NumPy's SIMD/libm kernels, PyTorch's SLEEF/own kernels),
  each accurate to a few units in the last place but not the *same* few units; an error
  of 1 ulp in an intermediate grows by the function's condition number (exp(x) turns an
  argument error of 1 ulp into a relative error of |x| ulp), and the backward formulas
  chain several such functions.  Gradient checks in float64 (``gradcheck64``) are what
  prove the formulas; the float32 parity tests prove the implementation agrees with
  PyTorch's to within float32's accuracy.
* ``kind="matmul"`` -- float32 rtol=1e-4, atol=1e-5 (float64 rtol=1e-10, atol=1e-12).
  Matrix products and other sums: BLAS and PyTorch add the K products in different
  orders (blocking, SIMD lanes), and the rounding error of a sum grows with K.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import neurona

__all__ = ["TOLERANCES", "tolerance", "dtype_name", "torch_dtype", "to_numpy", "assert_close",
           "assert_same_dtype", "check_parity", "gradcheck64", "shapes",
           "broadcastable_shapes", "float_arrays", "float_array_pairs", "push_away",
           "random_array", "DEVICES", "CUDA_SKIP_REASON", "on_device"]

# ----------------------------------------------------------------------------- devices

CUDA_SKIP_REASON = "no CUDA GPU: CuPy is not installed or sees no device"


def _cuda_skip_reason():
    """Why the CUDA cases cannot run here, or None when they can (neurona needs CuPy and a
    GPU; PyTorch, the oracle, needs a CUDA build)."""
    if not neurona.backend.cuda_is_available():
        return CUDA_SKIP_REASON
    if not torch.cuda.is_available():
        return "no CUDA oracle: this PyTorch build has no CUDA (install torch with CUDA)"
    return None


# The oracle computes in true float32 on the GPU too: PyTorch's default lets cuDNN
# (convolutions, RNNs) use TF32 tensor cores, whose 10-bit mantissa is off by ~1e-3 relative
# (seen on an H100: conv and LSTM parity failing at 3e-4); neurona (CuPy) uses no TF32.
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False

# parametrize a test by device: ``@pytest.mark.parametrize("device", DEVICES)``; the CUDA
# case runs neurona and torch on the GPU, and is skipped (with its reason shown) elsewhere
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    _cuda_skip_reason() is not None, reason=str(_cuda_skip_reason())))]


def on_device(x, device="cpu"):
    """``x`` moved to ``device``: a neurona or torch tensor (NumPy arrays become neurona
    tensors); the CPU case returns ``x`` itself, so CPU tests do exactly what they did."""
    if device == "cpu":
        return x
    if isinstance(x, np.ndarray):
        return neurona.tensor(x, device=device)
    return x.to(device)

# ----------------------------------------------------------------------------- tolerances

TOLERANCES = {
    # kind -> {numpy dtype -> (rtol, atol)}
    "exact": {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-14)},
    "transcendental": {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-9, 1e-12)},
    "matmul": {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-10, 1e-12)},
}


def tolerance(dtype, kind: str = "exact") -> tuple:
    """``(rtol, atol)`` for comparing arrays of ``dtype`` (see the module docstring).

    Integer and bool results must be equal: (0, 0).  float16 gets 1e-3 (its epsilon)."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        return 0.0, 0.0
    if dt == np.float16:
        return 1e-3, 1e-3
    return TOLERANCES[kind][dt]


# ----------------------------------------------------------------------------- dtypes

def dtype_name(x) -> str:
    """'float32', 'int64', 'bool' ... for a neurona or torch tensor, or a dtype of either."""
    d = getattr(x, "dtype", x)
    if isinstance(d, neurona.DType):
        return d.name
    return str(d).replace("torch.", "")


def torch_dtype(d):
    """The torch dtype with the same name as a neurona/NumPy dtype."""
    if isinstance(d, neurona.DType):
        d = d.name
    return getattr(torch, "bool" if np.dtype(d) == np.bool_ else np.dtype(d).name)


def to_numpy(x) -> np.ndarray:
    """A NumPy copy of a neurona tensor, torch tensor, array or number."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy().copy()
    if isinstance(x, neurona.Tensor):
        return np.array(x.detach().cpu().numpy(), copy=True)
    return np.asarray(x)


def assert_same_dtype(n, t, what="output"):
    assert dtype_name(n) == dtype_name(t), \
        f"{what}: neurona gives dtype {dtype_name(n)}, torch gives {dtype_name(t)}"


def assert_close(n, t, rtol=None, atol=None, kind="exact", what="output", check_dtype=True):
    """Assert that neurona tensor ``n`` equals torch tensor ``t``: shape, dtype, values.

    NaNs must sit in the same places; infinities must match in sign.  ``rtol``/``atol``
    default to ``tolerance(dtype, kind)``.
    """
    if check_dtype:
        assert_same_dtype(n, t, what)
    a, b = to_numpy(n), to_numpy(t)
    assert a.shape == b.shape, f"{what}: neurona gives shape {a.shape}, torch gives {b.shape}"
    r, at = tolerance(b.dtype if b.dtype.kind == "f" else a.dtype, kind)
    rtol = r if rtol is None else rtol
    atol = at if atol is None else atol
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True,
                                   err_msg=f"{what}: neurona (actual) vs torch (desired)")
    else:
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: neurona vs torch")


# ----------------------------------------------------------------------------- parity

def _as_pair(x, grad, device="cpu"):
    """One argument for both libraries: arrays become tensors on ``device`` (floats
    require grad)."""
    if isinstance(x, np.ndarray):
        rg = bool(grad) and x.dtype.kind == "f"
        if device == "cpu":
            return (neurona.tensor(x, requires_grad=rg),
                    torch.tensor(x).requires_grad_(rg))
        return (neurona.tensor(x, device=device, requires_grad=rg),
                torch.tensor(x, device=device).requires_grad_(rg))
    return x, x


def _outputs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check_parity(neurona_fn, torch_fn, arrays, rtol=None, atol=None, grad=True,
                 kind="exact", grad_kind=None, requires_grad=None, seed=0, check_dtype=True,
                 device="cpu"):
    """Run an op in neurona and in PyTorch on the same inputs and compare everything.

    * ``arrays``: the arguments.  NumPy arrays become a neurona and a torch tensor holding
      the same numbers (float ones with ``requires_grad=grad``, or as ``requires_grad``
      says: a list of bools, one per argument); anything else (Python numbers, NumPy
      scalars, strings) is passed to both functions unchanged.
    * forward: outputs (a tensor or a tuple of tensors) must have the same shape, dtype
      and values (``assert_close`` with ``rtol``/``atol``, or ``tolerance(dtype, kind)``),
      and the same ``requires_grad``.
    * backward (when ``grad`` and torch's output requires grad): both outputs get the
      same random upstream gradient dL/dout (standard normal, seeded by ``seed``), then
      every input's ``.grad`` must be None in both or close in both (tolerance of
      ``grad_kind``, by default ``kind``).
    * ``device``: ``"cpu"`` or ``"cuda"`` (both libraries' tensors on it; parametrize the
      test with ``DEVICES``); outputs and gradients must stay on it.

    Returns the neurona and torch outputs, for extra checks.
    """
    if requires_grad is None:
        pairs = [_as_pair(x, grad, device) for x in arrays]
    else:
        pairs = [_as_pair(x, rg, device) for x, rg in zip(arrays, requires_grad)]
    n_in = [p[0] for p in pairs]
    t_in = [p[1] for p in pairs]
    n_outs = _outputs(neurona_fn(*n_in))
    t_outs = _outputs(torch_fn(*t_in))
    assert len(n_outs) == len(t_outs), \
        f"neurona returns {len(n_outs)} outputs, torch {len(t_outs)}"
    for i, (n, t) in enumerate(zip(n_outs, t_outs)):
        assert isinstance(n, neurona.Tensor), f"output {i} is a {type(n).__name__}"
        if device != "cpu":
            assert n.device.type == device, f"output {i} is on {n.device}, not {device}"
        assert_close(n, t, rtol, atol, kind, what=f"output {i}", check_dtype=check_dtype)
        assert n.requires_grad == t.requires_grad, (
            f"output {i}: neurona requires_grad={n.requires_grad}, torch "
            f"requires_grad={t.requires_grad}")
    if not grad:
        return n_outs, t_outs

    roots = [(n, t) for n, t in zip(n_outs, t_outs) if t.requires_grad]
    if not roots:
        return n_outs, t_outs
    rng = np.random.default_rng(seed)
    n_roots, t_roots, n_gs, t_gs = [], [], [], []
    for n, t in roots:
        g = rng.standard_normal(tuple(t.shape)).astype(to_numpy(t).dtype)
        n_roots.append(n)
        t_roots.append(t)
        n_gs.append(on_device(neurona.tensor(g), device))
        t_gs.append(on_device(torch.tensor(g), device))
    neurona.autograd.backward(n_roots, n_gs)
    torch.autograd.backward(t_roots, t_gs)

    gk = grad_kind or kind
    for i, (n, t) in enumerate(zip(n_in, t_in)):
        if not isinstance(t, torch.Tensor):
            continue
        assert (n.grad is None) == (t.grad is None), (
            f"gradient of input {i}: neurona gives {'None' if n.grad is None else 'a tensor'},"
            f" torch gives {'None' if t.grad is None else 'a tensor'}")
        if t.grad is not None:
            if device != "cpu":
                assert n.grad.device.type == device, f"gradient of input {i} left {device}"
            assert_close(n.grad, t.grad, rtol, atol, gk, what=f"gradient of input {i}")
    return n_outs, t_outs


# ----------------------------------------------------------------------------- gradcheck

def gradcheck64(fn, *inputs, requires_grad=None, eps=1e-6, atol=1e-5, rtol=1e-3):
    """``neurona.autograd.gradcheck`` on float64 copies of ``inputs``.

    Float NumPy arrays (and Python lists of floats) become float64 tensors with
    ``requires_grad=True`` (or as ``requires_grad`` says, one bool per input); other
    arrays (int, bool masks) become constant tensors; anything else is passed through.
    Choose points away from kinks (relu at 0, abs at 0, clamp at its bounds, ties of
    maximum): finite differences straddling a kink disagree with any one-sided gradient.
    Raises ``GradcheckError`` (an AssertionError-like failure naming the worst element).
    """
    ts = []
    for i, x in enumerate(inputs):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        if isinstance(x, np.ndarray):
            if x.dtype.kind == "f":
                rg = True if requires_grad is None else requires_grad[i]
                ts.append(neurona.tensor(x.astype(np.float64), requires_grad=rg))
            else:
                ts.append(neurona.tensor(x))
        else:
            ts.append(x)
    assert neurona.autograd.gradcheck(fn, tuple(ts), eps=eps, atol=atol, rtol=rtol)


# ----------------------------------------------------------------------------- strategies

def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Tensor shapes: 0-d included by default, sides 0..4 (so empty tensors appear)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 dims, missing leading
    dims, 0-d and empty shapes all occur)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: b.input_shapes)


def push_away(a: np.ndarray, points=(0.0,), margin=0.05) -> np.ndarray:
    """Move the elements of ``a`` closer than ``margin`` to any of ``points`` out to
    ``point +- margin`` -- for gradient tests of ops with kinks (relu, abs, clamp)."""
    a = np.array(a, copy=True)
    for p in points:
        d = a - p
        near = np.abs(d) < margin
        a[near] = p + np.where(d[near] >= 0, margin, -margin).astype(a.dtype)
    return a


def float_arrays(shape=None, dtype=np.float32, min_value=-10.0, max_value=10.0,
                 avoid=None, margin=0.05):
    """NumPy float arrays with finite elements in [min_value, max_value].

    ``shape``: a fixed shape, a strategy of shapes, or None for ``shapes()``.
    ``avoid``: points (e.g. ``(0,)`` for relu) that elements stay ``margin`` away from.
    """
    dtype = np.dtype(dtype)
    min_value, max_value = _representable(min_value, dtype, +1), \
        _representable(max_value, dtype, -1)
    elements = st.floats(min_value, max_value, width=dtype.itemsize * 8, allow_nan=False,
                         allow_infinity=False, allow_subnormal=False)
    strat = hnp.arrays(dtype, shapes() if shape is None else shape, elements=elements)
    if avoid:
        strat = strat.map(lambda a: push_away(a, avoid, margin))
    return strat


def _representable(v, dtype, direction):
    """``v`` rounded to ``dtype``, nudged inwards (toward ``direction``) if rounding left
    the range: Hypothesis wants bounds that the element width represents exactly."""
    r = dtype.type(v)
    if (direction > 0 and r < v) or (direction < 0 and r > v):
        r = np.nextafter(r, dtype.type(np.inf * direction))
    return float(r)


@st.composite
def float_array_pairs(draw, dtype=np.float32, min_value=-10.0, max_value=10.0, max_dims=3,
                      max_side=4):
    """Two float arrays of mutually broadcastable shapes."""
    sa, sb = draw(broadcastable_shapes(2, max_dims=max_dims, max_side=max_side))
    a = draw(float_arrays(sa, dtype, min_value, max_value))
    b = draw(float_arrays(sb, dtype, min_value, max_value))
    return a, b


def random_array(shape, dtype=np.float32, low=-2.0, high=2.0, seed=0) -> np.ndarray:
    """A reproducible uniform random array (for deterministic, non-Hypothesis tests)."""
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def conllu(sentences) -> str:
    """A CoNLL-U file's text for ``[(words, upos_tags), ...]`` (space-separated strings):
    one comment line, one 10-column line per word, a blank line after each sentence."""
    lines = []
    for k, (words, tags) in enumerate(sentences):
        lines.append(f"# sent_id = s{k}")
        lines += [f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_"
                  for i, (w, t) in enumerate(zip(words.split(), tags.split()), start=1)]
        lines.append("")
    return "\n".join(lines) + "\n"


def assert_same_grads(model, twin, atol: float = 1e-5) -> None:
    """Every parameter's .grad of a neurona ``model`` equals that of its torch ``twin``
    (parameters matched by name)."""
    named = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named[name].grad.numpy(), atol=atol,
                                   err_msg=name)
