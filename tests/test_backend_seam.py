"""The backend seam, checked statically: op, layer and optimizer code must run unchanged on
NumPy and on CuPy arrays, so NumPy-only calls may not appear there.

Why each kind of ``np.`` use is or is not fine on a CuPy array ``a``:

* dtype objects and constants (``np.float32``, ``np.inf``, ``np.dtype``), shape math
  (``np.broadcast_shapes``) and ``np.errstate``: no array is involved.
* NumPy *ufuncs* (``np.multiply(a, b, out=c)``, ``np.exp(a)``) and array functions such
  as ``np.clip`` hand themselves to CuPy (``__array_ufunc__`` / ``__array_function__``),
  so they run on the GPU; they are fine, but ``xp.`` says it more plainly.
* NEVER outside ``neurona/backend.py`` (the difference lives there):
  ``np.<ufunc>.at`` (unbuffered scatter: ``backend.scatter_add_at``),
  ``np.lib.stride_tricks`` / ``xp.lib.stride_tricks`` (``backend.as_strided``),
  ``np.random`` (random numbers come from ``neurona.random``'s generator), ``.ctypes``
  (a raw host pointer), ``np.frompyfunc`` (Python code per element).
* Functions that *make* a NumPy array (``np.asarray``, ``np.zeros``, ``np.arange``...)
  give a host array: fine for index/shape math on the CPU that is then moved with
  ``xp.asarray``, for NumPy-only fast paths behind ``type(a) is np.ndarray`` /
  ``xp is np``, and for values that are not data; wrong when the result meets a CuPy
  array (CuPy refuses NumPy operands).  Every such use is listed in ``HOST_ARRAYS`` with
  the reason it is fine; a new one fails this test until it is checked and listed.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "neurona"
SCANNED = ("ops", "nn", "optim")

# no array involved: dtypes, constants, type checks, shape math, error state
NO_DATA = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
    "dtype", "inf", "nan", "pi", "e", "errstate", "broadcast_shapes", "ndarray", "generic",
    "integer", "floating", "number", "issubdtype", "result_type", "finfo", "iinfo",
    "promote_types", "can_cast", "newaxis", "shape", "ndim",
}
# ufuncs and __array_function__ functions: dispatched to CuPy for CuPy arguments
DISPATCHED = {
    "multiply", "add", "subtract", "divide", "true_divide", "negative", "square", "sqrt",
    "exp", "log", "log1p", "expm1", "tanh", "sin", "cos", "sign", "abs", "maximum",
    "minimum", "power", "reciprocal", "clip", "copyto", "where",
}
# NumPy-only: never in op code (they live in neurona/backend.py)
FORBIDDEN = {"random", "lib", "frompyfunc", "ctypeslib", "add.at", "multiply.at",
             "subtract.at", "maximum.at", "minimum.at"}
FORBIDDEN_ALLOWED = {
    ("ops/special.py", "<module>", "frompyfunc"):
        "math.erf for float64 NumPy arrays only: erf_fallback uses it after checking "
        "`xp is np`; CuPy arrays take the polynomial branch",
}

# (file, function, np.<name>) -> why the host array made there is fine
_INDEX_MATH = "host index/shape math on small integer arrays, moved with xp.asarray before " \
              "it meets data"
_CPU_FAST_PATH = "NumPy-only fast path: reached only when `type(a) is np.ndarray` / `xp is np`"
_NOT_DATA = "a user-given Python list/number or a NumPy-scalar result, not a CuPy array: " \
            "np.asarray on a CuPy array is never reached here"
HOST_ARRAYS = {
    ("nn/init.py", "_calculate_fan_in_and_fan_out", "prod"): "product of a shape tuple",
    ("nn/init.py", "_fill", "asarray"): "values drawn on the host by neurona.random, then "
                                        "backend.to_device(..., device_of(dst)) moves them",
    ("nn/init.py", "dirac_", "zeros"): "built on the host, copied in by _fill (to_device)",
    ("nn/init.py", "eye_", "eye"): "built on the host, copied in by _fill (to_device)",
    ("nn/init.py", "orthogonal_", "linalg"): "QR of a host matrix drawn by neurona.random; "
                                             "copied in by _fill (to_device)",
    ("nn/init.py", "orthogonal_", "diag"): "same host QR as above",
    ("nn/init.py", "orthogonal_", "sign"): "same host QR as above",
    ("nn/init.py", "trunc_normal_", "clip"): "on the host-drawn values before _fill",
    ("nn/parameter.py", "Parameter.__init__", "empty"): "Parameter() with no data: an empty "
                                                        "CPU array, as torch's default",
    ("nn/positional.py", "sinusoidal_table", "arange"): "the table is built once on the host "
                                                        "and registered as a buffer; "
                                                        "Module.to moves it",
    ("nn/positional.py", "sinusoidal_table", "zeros"): "as above",
    ("nn/positional.py", "sinusoidal_table", "power"): "as above",
    ("nn/positional.py", "sinusoidal_table", "sin"): "as above",
    ("nn/positional.py", "sinusoidal_table", "cos"): "as above",
    ("nn/rnn.py", "RNNBase.forward", "full"): "packed layout index (host), moved by "
                                              "_gather_with_pad with xp.asarray",
    ("nn/rnn.py", "RNNBase.forward", "arange"): "as above",
    ("nn/rnn.py", "RNNBase.forward", "flatnonzero"): "host index, moved with xp.asarray",
    ("nn/transformer.py", "generate_square_subsequent_mask", "full"):
        "built on the host, then creation.tensor(..., device=device)",
    ("nn/transformer.py", "generate_square_subsequent_mask", "triu"): "as above",
    ("nn/transformer.py", "_detect_is_causal_mask", "full"):
        "compares a user mask (copied with .cpu()) with the causal one on the host: only "
        "when the user passes is_causal=None with a mask",
    ("nn/transformer.py", "_detect_is_causal_mask", "triu"): "as above",
    ("nn/transformer.py", "_detect_is_causal_mask", "asarray"): "as above",
    ("nn/transformer.py", "_detect_is_causal_mask", "array_equal"): "as above",
    ("nn/utils/clip_grad.py", "get_total_norm", "asarray"): "0.0 when there are no gradients",
    ("nn/utils/clip_grad.py", "clip_grad_norm_", "asarray"): "0.0 when there are no gradients",
    ("nn/utils/clip_grad.py", "clip_grads_with_norm_", "asarray"): _NOT_DATA,
    ("nn/utils/rnn.py", "_as_int_array", "asarray"): "sequence lengths: host integers, as "
                                                     "torch keeps lengths on the CPU",
    ("nn/utils/rnn.py", "_itensor", "ascontiguousarray"): "host index tensors of "
                                                          "PackedSequence (batch_sizes...)",
    ("nn/utils/rnn.py", "_packed_layout", "arange"): _INDEX_MATH,
    ("nn/utils/rnn.py", "invert_permutation", "arange"): _INDEX_MATH,
    ("nn/utils/rnn.py", "invert_permutation", "empty_like"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pack_padded_sequence", "arange"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pack_padded_sequence", "argsort"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pack_padded_sequence", "diff"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_packed_sequence", "arange"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_packed_sequence", "concatenate"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_packed_sequence", "full"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_packed_sequence", "zeros"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_sequence", "arange"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_sequence", "array"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_sequence", "concatenate"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_sequence", "cumsum"): _INDEX_MATH,
    ("nn/utils/rnn.py", "pad_sequence", "where"): _INDEX_MATH,
    ("ops/_util.py", "scalar_tensor", "asarray"): "the `xp is np` branch of "
                                                  "`xp.asarray if xp is not np else np.asarray`",
    ("ops/attention.py", "_sdpa_reference", "arange"): "host head index / causal mask, made "
                                                       "a tensor on the query's device",
    ("ops/attention.py", "_sdpa_reference", "repeat"): "as above",
    ("ops/attention.py", "_sdpa_reference", "ones"): "as above",
    ("ops/attention.py", "_sdpa_reference", "tril"): "as above",
    ("ops/blockwise.py", "blockwise", "ascontiguousarray"): _CPU_FAST_PATH,
    ("ops/blockwise.py", "blockwise", "empty"): _CPU_FAST_PATH,
    ("ops/conv.py", "_transpose", "empty"): _CPU_FAST_PATH,
    ("ops/conv.py", "_workspace", "empty"): _CPU_FAST_PATH + " (im2col returns first on CuPy)",
    ("ops/indexing.py", "_int_index", "asarray"): _NOT_DATA,
    ("ops/indexing.py", "_parse", "asarray"): "a Python list/range index: host ints, as "
                                              "CuPy indexing accepts",
    ("ops/indexing.py", "masked_select", "asarray"): _NOT_DATA,
    ("ops/indexing.py", "one_hot", "asarray"): _NOT_DATA,
    ("ops/indexing.py", "setitem", "asarray"): _NOT_DATA,
    ("ops/losses.py", "_class_target", "asarray"): _NOT_DATA,
    ("ops/losses.py", "_weight_array", "asarray"): _NOT_DATA,
    ("ops/pointwise.py", "_bool_array", "asarray"): _NOT_DATA,
    ("ops/pointwise.py", "_compare.op", "asarray"): _NOT_DATA,
    ("ops/pooling.py", "_adaptive_matrix", "zeros"): "small host matrix, returned with "
                                                     "xp.asarray",
    ("ops/pooling.py", "_avg_divisor", "arange"): "host window sizes, returned with "
                                                  "xp.asarray (or as a float)",
    ("ops/pooling.py", "_avg_divisor", "outer"): "as above",
    ("ops/reduce.py", "_nd", "asarray"): "only for NumPy scalars (np.generic) that NumPy "
                                         "reductions return; CuPy returns 0-d arrays",
    ("ops/reduce.py", "MaxDim.forward", "asarray"): "as _nd: NumPy scalars only",
    ("ops/reduce.py", "_arg", "asarray"): "as _nd: NumPy scalars only",
    ("ops/reduce.py", "CumSum.forward", "asarray"): "as _nd: NumPy scalars only",
    ("ops/shape.py", "_nd", "asarray"): "only for NumPy scalars (np.generic)",
    ("ops/shape.py", "Transpose.forward", "asarray"): "as _nd: NumPy scalars only",
    ("ops/shape.py", "PadIndexed.forward", "arange"): "host index map, moved with xp.asarray",
    ("ops/special.py", "erf_fallback", "asarray"): _CPU_FAST_PATH,
}


def _np_uses():
    """Every ``np.<name>`` (``np.<ufunc>.at`` as '<ufunc>.at') in the scanned packages:
    {(file, enclosing function, name): [line numbers]}."""
    uses = {}

    def visit(node, where, rel):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            where = node.name if where == "<module>" else f"{where}.{node.name}"
        if isinstance(node, ast.Attribute):
            v = node.value
            if isinstance(v, ast.Name) and v.id == "np":
                uses.setdefault((rel, where, node.attr), []).append(node.lineno)
            elif (node.attr == "at" and isinstance(v, ast.Attribute)
                  and isinstance(v.value, ast.Name) and v.value.id in ("np", "xp")):
                uses.setdefault((rel, where, f"{v.attr}.at"), []).append(node.lineno)
            elif node.attr in ("ctypes", "stride_tricks"):
                uses.setdefault((rel, where, node.attr), []).append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, where, rel)

    for sub in SCANNED:
        for path in sorted((PKG / sub).rglob("*.py")):
            rel = path.relative_to(PKG).as_posix()
            visit(ast.parse(path.read_text(), str(path)), "<module>", rel)
    return uses


USES = _np_uses()


def test_scanner_sees_the_code():
    """The scan finds the np. uses it should (a broken scanner would pass everything)."""
    assert len(USES) > 50
    assert ("ops/blockwise.py", "blockwise", "empty") in USES
    assert any(k[2] == "float32" for k in USES)


def test_no_numpy_only_calls_outside_the_backend():
    bad = []
    for (rel, where, name), lines in sorted(USES.items()):
        if (name in FORBIDDEN or name in ("ctypes", "stride_tricks")) \
                and (rel, where, name) not in FORBIDDEN_ALLOWED:
            bad.append(f"neurona/{rel}:{lines[0]} in {where}: {name}")
    assert not bad, (
        "NumPy-only calls in op/layer/optimizer code (they fail on CuPy arrays); route them "
        "through neurona/backend.py (scatter_add_at, scatter_multiply_at, as_strided, "
        "neurona.random for random numbers):\n  " + "\n  ".join(bad))


def test_every_host_array_is_checked_and_listed():
    known = NO_DATA | DISPATCHED | FORBIDDEN
    new = [f"neurona/{rel}:{lines[0]} in {where}: np.{name}"
           for (rel, where, name), lines in sorted(USES.items())
           if name not in known and (rel, where, name) not in HOST_ARRAYS]
    assert not new, (
        "np. calls that make host (NumPy) arrays in op/layer/optimizer code: use xp = "
        "backend.xp_of(array) and xp.<function> on data, or, when a host array is right "
        "(index math moved with xp.asarray, a NumPy-only fast path), add the call to "
        "HOST_ARRAYS in tests/test_backend_seam.py with the reason:\n  " + "\n  ".join(new))


def test_allow_lists_have_no_stale_entries():
    stale = [k for k in list(HOST_ARRAYS) + list(FORBIDDEN_ALLOWED) if k not in USES]
    assert not stale, f"allow-list entries that no longer match any code: {stale}"


@pytest.mark.parametrize("name", ["scatter_add_at", "scatter_multiply_at", "as_strided",
                                  "xp_of", "to_device"])
def test_backend_provides_the_seam(name):
    from neurona import backend
    assert callable(getattr(backend, name))


def test_backend_helpers_on_numpy():
    import numpy as np
    from neurona import backend
    t = np.zeros(3)
    backend.scatter_add_at(np, t, np.array([0, 0, 2]), np.array([1.0, 2.0, 5.0]))
    assert t.tolist() == [3.0, 0.0, 5.0]
    t = np.ones(3)
    backend.scatter_multiply_at(np, t, np.array([1, 1]), np.array([2.0, 3.0]))
    assert t.tolist() == [1.0, 6.0, 1.0]
    a = np.arange(6.0)
    v = backend.as_strided(a, (2, 3), (a.strides[0] * 3, a.strides[0]))
    assert v.tolist() == [[0, 1, 2], [3, 4, 5]] and np.shares_memory(a, v)
