"""The GPU kernels of ``neurona/ops/cuda_kernels.py`` against the NumPy reference path.

Each CUDA test runs the same op on the same numbers twice, on the CPU (NumPy: the
reference code next to each kernel call) and on the GPU (CuPy: the fused kernel), forward
and backward, and compares.  Without a GPU (CI) they are skipped with a visible reason; the
checks that need no GPU always run or say why not: the kernel sources, their NVRTC
compilation (where CuPy's NVRTC is installed), and the elementwise kernels' formulas run
by a small NumPy interpreter of their C++ statements against the reference code.  On a
GPU: ``bench/gpu_check.sh`` runs them all.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import neurona as nr
import neurona.nn.functional as F
from neurona import nn, optim
from neurona.backend import cuda_is_available
from neurona.ops import cuda_kernels

cuda = pytest.mark.skipif(not cuda_is_available(),
                          reason="no CUDA GPU: CuPy is not installed or sees no device "
                                 "(run bench/gpu_check.sh on a machine with one)")
FLOATS = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------ no GPU needed

def test_elementwise_specs_avoid_cupys_reserved_names():
    """CuPy's ElementwiseKernel names the element index ``i`` and reserves names starting
    with ``_``; a parameter with such a name would not compile on the GPU."""
    for name, spec in cuda_kernels.ELEMENTWISE.items():
        params = [p.split() for p in (spec.in_params + "," + spec.out_params).split(",")]
        names = [p[-1] for p in params]
        assert all(len(p) == 2 and p[0] == "T" for p in params), name
        assert len(set(names)) == len(names), f"{name}: a parameter name twice"
        bad = [n for n in names if n == "i" or n.startswith("_") or n in ("do", "if", "for")]
        assert not bad, f"{name}: reserved parameter names {bad}"
        for n in names:          # every parameter is used by the operation
            assert re.search(rf"\b{n}\b", spec.operation), f"{name}: {n} unused"


def test_standalone_sources_cover_every_kernel():
    for dtype, ctype in ((np.float32, "float"), (np.float64, "double")):
        src = cuda_kernels.standalone_sources(dtype)
        assert set(src) == set(cuda_kernels.ELEMENTWISE) | {"row_kernels"}
        assert all(s.startswith(f"typedef {ctype} T;") for s in src.values())
        for k in cuda_kernels.ROW_KERNELS:
            assert f'extern "C" __global__ void {k}(' in src["row_kernels"]


def test_kernel_sources_compile_with_nvrtc():
    """NVRTC needs no GPU: where CuPy's NVRTC is installed every source must compile."""
    pytest.importorskip("cupy_backends.cuda.libs.nvrtc",
                        reason="CuPy's NVRTC is not installed (pip install cupy-cuda12x "
                               "nvidia-cuda-nvrtc-cu12 to compile the kernels without a GPU)")
    from bench.nvrtc_check import compile_all
    try:
        results = compile_all()
    except Exception as e:   # the NVRTC library itself is missing
        pytest.skip(f"NVRTC cannot run here: {e}")
    failed = [(n, d, e) for n, d, e in results if e is not None]
    assert not failed, failed


# The elementwise kernels' C++ is simple enough to run with NumPy: each statement is
# ``name = expression`` in C syntax that is also Python syntax, but for ``T x = ...``
# declarations and one ``a > b ? a : b``.  Interpreting the *same strings* CuPy compiles
# checks their formulas, and the wrappers' argument order, on a machine without a GPU.

def _interpret(name, *args):
    """Run ELEMENTWISE[name] on NumPy arrays as CuPy's ElementwiseKernel would: inputs, then
    outputs (updated in place; allocated and returned when left out)."""
    from neurona.ops.special import erf
    spec = cuda_kernels.ELEMENTWISE[name]
    ins = [p.split()[1] for p in spec.in_params.split(",")]
    outs = [p.split()[1] for p in spec.out_params.split(",")]
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    T = arrays[0].dtype.type
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    if len(args) == len(ins):
        args = args + tuple(np.zeros(shape, T) for _ in outs)
    assert len(args) == len(ins) + len(outs), name
    ns = dict(zip(ins + outs, [a if isinstance(a, np.ndarray) else T(a) for a in args]))
    ns.update(T=T, tanh=np.tanh, exp=np.exp, sqrt=np.sqrt, erf=erf,
              nr_sigmoid=lambda a: T(0.5) * (T(1) + np.tanh(T(0.5) * a)))
    for stmt in spec.operation.split(";"):
        stmt = re.sub(r"^T (\w+) =", r"\1 =", stmt.strip())
        stmt = re.sub(r"(\w+) > (\w+) \? (\w+) : (\w+)", r"np.where(\1 > \2, \3, \4)", stmt)
        if stmt:
            exec(stmt, {"np": np}, ns)
    results = []
    for n, a in zip(outs, args[len(ins):]):
        a[...] = ns[n]
        results.append(a)
    return results[0] if len(results) == 1 else tuple(results)


@pytest.fixture
def numpy_kernels(monkeypatch):
    """cuda_kernels' wrappers with NumPy for CuPy and the interpreter for the kernels."""
    monkeypatch.setattr(cuda_kernels, "_cupy", lambda: np)
    monkeypatch.setattr(cuda_kernels, "_ew", lambda name: lambda *a: _interpret(name, *a))
    return cuda_kernels


@pytest.mark.parametrize("dtype", FLOATS)
def test_kernel_formulas_gelu(numpy_kernels, dtype):
    from neurona.ops.pointwise import GELU
    x = np.random.default_rng(8).standard_normal((9, 70)).astype(dtype) * 3
    g = np.random.default_rng(9).standard_normal(x.shape).astype(dtype)
    for approximate, fwd, bwd in (("none", "gelu", "gelu_grad"),
                                  ("tanh", "gelu_tanh", "gelu_tanh_grad")):
        ref = GELU()
        z_ref = ref.forward(x, approximate=approximate)
        gx_ref = ref.backward(g)
        z, saved = getattr(numpy_kernels, fwd)(x)
        np.testing.assert_allclose(z, z_ref, **_tol(dtype))
        np.testing.assert_allclose(getattr(numpy_kernels, bwd)(g, x, saved), gx_ref,
                                   **_tol(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_kernel_formulas_lstm_gru_steps(numpy_kernels, dtype):
    from neurona.ops import recurrent as R
    r = np.random.default_rng(10)
    N, H = 5, 7
    rand = lambda *s: r.standard_normal(s).astype(dtype)   # noqa: E731
    gates, c, dh, dc = rand(N, 4 * H), rand(N, H), rand(N, H), rand(N, H)
    acts_ref, acts = gates.copy(), gates.copy()
    for a, b in zip(R._lstm_step(acts_ref, c, H), numpy_kernels.lstm_step(acts, c, H)):
        np.testing.assert_allclose(b, a, **_tol(dtype))
    np.testing.assert_allclose(acts, acts_ref, **_tol(dtype))
    tc = np.tanh(rand(N, H))
    for a, b in zip(R._lstm_step_back(dh, dc, acts_ref, c, tc, H),
                    numpy_kernels.lstm_step_back(dh, dc, acts_ref, c, tc, H)):
        np.testing.assert_allclose(b, a, **_tol(dtype))
    xg, hh, h = rand(N, 3 * H), rand(N, 3 * H), rand(N, H)
    ref = R._gru_step(xg, hh, h, H)
    for a, b in zip(ref, numpy_kernels.gru_step(xg, hh, h, H)):
        np.testing.assert_allclose(b, a, **_tol(dtype))
    _, rz, n = ref
    for a, b in zip(R._gru_step_back(dh, h, rz, n, hh[:, 2 * H:], H),
                    numpy_kernels.gru_step_back(dh, h, rz, n, hh[:, 2 * H:], H)):
        np.testing.assert_allclose(b, a, **_tol(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_kernel_formulas_adam(numpy_kernels, dtype, amsgrad, monkeypatch):
    """Three Adam steps through the optimizer's GPU branch (the kernel, interpreted) follow
    its NumPy branch."""
    import neurona.optim.adam as adam_module
    r = np.random.default_rng(11)
    w0 = r.standard_normal((6, 4)).astype(dtype)
    grads = [r.standard_normal((6, 4)).astype(dtype) for _ in range(3)]
    finals = []
    for gpu_branch in (False, True):
        # the GPU branch is taken when xp is not NumPy: a stand-in module that is not np
        if gpu_branch:
            monkeypatch.setattr(adam_module, "np", _NotNumpy)
        p = nn.Parameter(nr.tensor(w0))
        o = optim.Adam([p], lr=0.05, weight_decay=0.01, amsgrad=amsgrad)
        for g in grads:
            p.grad = nr.tensor(g)
            o.step()
        finals.append(p.detach().numpy().copy())
    np.testing.assert_allclose(finals[1], finals[0], **_tol(dtype))
    assert not np.allclose(finals[0], w0)


class _NotNumpy:
    """Makes ``xp is not np`` true in optim/adam.py while ``np.float32`` still works."""
    float32, float64, ndarray = np.float32, np.float64, np.ndarray


# ------------------------------------------------------------------ on the GPU

def _pair(a, requires_grad=True):
    """The same numbers as a CPU tensor and a CUDA tensor."""
    return (nr.tensor(a, requires_grad=requires_grad),
            nr.tensor(a, device="cuda", requires_grad=requires_grad))


def _np(t):
    return t.detach().cpu().numpy()


def _check_fwd_bwd(fn, arrays, dtype, seed=0):
    """fn(*tensors) on CPU and on CUDA: same output, same input gradients for a random
    upstream gradient."""
    cpu, gpu = zip(*[_pair(a) for a in arrays])
    y_c, y_g = fn(*cpu), fn(*gpu)
    assert y_g.device.type == "cuda"
    np.testing.assert_allclose(_np(y_g), _np(y_c), **_tol(dtype))
    g = np.random.default_rng(seed).standard_normal(y_c.shape).astype(dtype)
    y_c.backward(nr.tensor(g))
    y_g.backward(nr.tensor(g, device="cuda"))
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(_np(b.grad), _np(a.grad), **_tol(dtype))


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_cuda_gelu(dtype, approximate):
    x = np.random.default_rng(1).standard_normal((37, 129)).astype(dtype) * 3
    _check_fwd_bwd(lambda t: F.gelu(t, approximate=approximate), [x], dtype)


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((64, 65), -1), ((3, 5, 1000), 2), ((7, 1), -1),
                                       ((6, 9), 0)])     # dim 0: the generic CuPy path
def test_cuda_softmax_rows(dtype, fn, shape, dim):
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype) * 10
    _check_fwd_bwd(lambda t: getattr(F, fn)(t, dim=dim), [x], dtype)


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("d", [1, 48, 512, 1000])
def test_cuda_layer_norm(dtype, d):
    r = np.random.default_rng(3)
    x = (r.standard_normal((10, d)) * 2 + 1).astype(dtype)
    w, b = r.standard_normal(d).astype(dtype), r.standard_normal(d).astype(dtype)
    _check_fwd_bwd(lambda x, w, b: F.layer_norm(x, (d,), w, b), [x, w, b], dtype)


def _module_pair(make, dtype):
    nr.manual_seed(0)
    m_cpu = make().to(nr.float64 if dtype == np.float64 else nr.float32)
    m_gpu = make().to(nr.float64 if dtype == np.float64 else nr.float32)
    m_gpu.load_state_dict(m_cpu.state_dict())
    return m_cpu, m_gpu.to("cuda")


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_cuda_recurrent_layer(dtype, kind):
    """The fused layers (forward and BPTT) with the gate kernels, 2 layers, bidirectional."""
    m_cpu, m_gpu = _module_pair(lambda: getattr(nn, kind)(8, 16, num_layers=2,
                                                          bidirectional=True), dtype)
    x = np.random.default_rng(4).standard_normal((11, 5, 8)).astype(dtype)
    x_c, x_g = _pair(x)
    y_c, y_g = m_cpu(x_c)[0], m_gpu(x_g)[0]
    np.testing.assert_allclose(_np(y_g), _np(y_c), **_tol(dtype))
    (y_c * y_c).sum().backward()
    (y_g * y_g).sum().backward()
    np.testing.assert_allclose(_np(x_g.grad), _np(x_c.grad), **_tol(dtype))
    for (name, p_c), p_g in zip(m_cpu.named_parameters(), m_gpu.parameters()):
        np.testing.assert_allclose(_np(p_g.grad), _np(p_c.grad), **_tol(dtype), err_msg=name)


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
def test_cuda_recurrent_cell(dtype, kind):
    m_cpu, m_gpu = _module_pair(lambda: getattr(nn, kind)(6, 10), dtype)
    r = np.random.default_rng(5)
    x, h = r.standard_normal((4, 6)).astype(dtype), r.standard_normal((4, 10)).astype(dtype)
    if kind == "LSTMCell":
        c = r.standard_normal((4, 10)).astype(dtype)
        outs = []
        for m, dev in ((m_cpu, "cpu"), (m_gpu, "cuda")):
            ts = [nr.tensor(a, device=dev, requires_grad=True) for a in (x, h, c)]
            hn, cn = m(ts[0], (ts[1], ts[2]))
            (hn * hn + 3 * cn).sum().backward()
            outs.append([hn, cn] + [t.grad for t in ts] + [p.grad for p in m.parameters()])
    else:
        outs = []
        for m, dev in ((m_cpu, "cpu"), (m_gpu, "cuda")):
            ts = [nr.tensor(a, device=dev, requires_grad=True) for a in (x, h)]
            hn = m(ts[0], ts[1])
            (hn * hn).sum().backward()
            outs.append([hn] + [t.grad for t in ts] + [p.grad for p in m.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(_np(b), _np(a), **_tol(dtype))


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("opt", [
    lambda ps: optim.Adam(ps, lr=1e-2),
    lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=0.1, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=1e-2, maximize=True)], ids=["adam", "amsgrad", "adamw",
                                                             "maximize"])
def test_cuda_adam(dtype, opt):
    """Five steps with the fused update on the GPU follow the NumPy path's weights."""
    r = np.random.default_rng(6)
    w0 = r.standard_normal((33, 17)).astype(dtype)
    grads = [r.standard_normal((33, 17)).astype(dtype) for _ in range(5)]
    finals = []
    for dev in ("cpu", "cuda"):
        p = nn.Parameter(nr.tensor(w0, device=dev))
        o = opt([p])
        for g in grads:
            p.grad = nr.tensor(g, device=dev)
            o.step()
        finals.append(_np(p))
    np.testing.assert_allclose(finals[1], finals[0], **_tol(dtype))
    assert not np.allclose(finals[0], w0)     # the steps moved the weights


@cuda
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1),
                                                            (1, 2, 2, 2)])
def test_cuda_conv2d(dtype, stride, padding, dilation, groups):
    """im2col (a strided view of CuPy memory) + cuBLAS GEMM, forward and backward."""
    r = np.random.default_rng(7)
    x = r.standard_normal((3, 4, 12, 11)).astype(dtype)
    w = r.standard_normal((6, 4 // groups, 3, 3)).astype(dtype)
    b = r.standard_normal(6).astype(dtype)
    _check_fwd_bwd(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding,
                                            dilation=dilation, groups=groups),
                   [x, w, b], dtype)
