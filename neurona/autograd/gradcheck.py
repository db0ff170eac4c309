"""``gradcheck``: compare backward with central finite differences, for users writing ops.

For a function ``fn`` of tensors, the Jacobian J[k, j] = d out_k / d x_j is computed two
ways and compared element by element:

* numerically, column by column:  J[:, j] ~= (fn(x + eps e_j) - fn(x - eps e_j)) / (2 eps)
* analytically, row by row: J[k, :] = backward of out with gradient e_k.

Use float64 inputs: in float32 the finite differences themselves are too noisy.
"""
from __future__ import annotations

import numpy as np

from ..backend import xp_of

__all__ = ["gradcheck", "numerical_jacobian", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytic and numerical Jacobians differ."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _host(a):
    return np.asarray(a) if type(a) is np.ndarray else a.get()


def numerical_jacobian(fn, inputs, eps=1e-6):
    """Per (input, output) pair, the Jacobian as an array of shape (out.numel, in.numel)."""
    from ..autograd.grad_mode import no_grad
    with no_grad():
        base = _outputs(fn, inputs)
        jac = []
        for x in inputs:
            cols = [np.zeros((o.numel(), x.numel())) for o in base]
            if x.requires_grad:
                flat = x._data.reshape(-1)      # a view: writing it changes x
                for j in range(x.numel()):
                    orig = flat[j].item()
                    flat[j] = orig + eps
                    plus = [_host(o._data).astype(np.float64).ravel() for o in _outputs(fn, inputs)]
                    flat[j] = orig - eps
                    minus = [_host(o._data).astype(np.float64).ravel() for o in _outputs(fn, inputs)]
                    flat[j] = orig
                    for c, p, m in zip(cols, plus, minus):
                        c[:, j] = (p - m) / (2 * eps)
            jac.append(cols)
    return jac


def analytical_jacobian(fn, inputs):
    from . import grad
    outs = _outputs(fn, inputs)
    diff = [x for x in inputs if x.requires_grad]
    jac = [[np.zeros((o.numel(), x.numel())) for o in outs] for x in inputs]
    for oi, o in enumerate(outs):
        if not o.requires_grad:
            continue
        xp = xp_of(o._data)
        for k in range(o.numel()):
            g = xp.zeros(o._data.size, dtype=o._data.dtype)
            g[k] = 1
            gs = grad(o, diff, grad_outputs=g.reshape(o._data.shape), retain_graph=True,
                      allow_unused=True)
            it = iter(gs)
            for xi, x in enumerate(inputs):
                if x.requires_grad:
                    gx = next(it)
                    if gx is not None:
                        jac[xi][oi][k, :] = _host(gx._data).astype(np.float64).ravel()
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when backward of ``fn`` agrees with finite differences at ``inputs``.

    ``inputs``: a tensor or tuple of tensors; those with ``requires_grad=True`` are checked.
    Raises :class:`GradcheckError` naming the input, output and worst element otherwise
    (or returns False when ``raise_exception=False``).
    """
    from ..tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError("gradcheck: no input requires grad; pass tensors made with "
                         "requires_grad=True")
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    for x in tensors:
        if x.requires_grad and x._data.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs should be float64 (got {x.dtype}): "
                             "finite differences in float32 are too noisy to judge by")

    def call(*ts):
        it = iter(ts)
        return fn(*[next(it) if isinstance(x, Tensor) else x for x in inputs])

    num = numerical_jacobian(call, tensors, eps)
    ana = analytical_jacobian(call, tensors)
    for xi, (n_rows, a_rows) in enumerate(zip(num, ana)):
        for oi, (n, a) in enumerate(zip(n_rows, a_rows)):
            if not np.allclose(a, n, atol=atol, rtol=rtol):
                diff = np.abs(a - n)
                k, j = np.unravel_index(np.argmax(diff), diff.shape)
                msg = (f"gradcheck: Jacobian mismatch for output {oi} with respect to input {xi}: "
                       f"at (output element {k}, input element {j}) backward gives "
                       f"{a[k, j]:.6g}, finite differences give {n[k, j]:.6g} "
                       f"(max abs difference {diff.max():.3g}, atol={atol}, rtol={rtol}).\n"
                       f"numerical:\n{n}\nanalytical:\n{a}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True
