"""The autograd engine: backward, accumulation, freeing, hooks, grad(), no_grad, version
counters, custom Functions, anomaly mode, check_gradients, deep graphs, error messages."""
import gc
import weakref

import numpy as np
import pytest
import torch

import neurona as nr
from neurona.autograd import Function, GradientCheckError


def _pair(shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape).astype(np.float32)
    return (nr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


def test_composite_graph_matches_torch():
    x, tx = _pair((5, 3), 1)
    w, tw = _pair((3, 4), 2)
    out = ((x @ w).tanh() * x.sum(dim=1, keepdim=True) - (x * x).mean()).sigmoid().sum()
    tout = ((tx @ tw).tanh() * tx.sum(dim=1, keepdim=True) - (tx * tx).mean()).sigmoid().sum()
    out.backward()
    tout.backward()
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_tensor_used_twice_gets_summed_gradient():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x + x           # dy/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0, 7.0])


def test_gradients_accumulate_across_backward_calls():
    x = nr.tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_leaf_gradients_do_not_alias():
    a = nr.ones(3, requires_grad=True)
    b = nr.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(10)                   # e.g. gradient clipping of one parameter
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0, 1.0])
    assert a.grad.numpy().flags.writeable and b.grad.numpy().flags.writeable


def test_leaf_gradient_of_broadcast_is_writeable():
    x = nr.ones(3, 1, requires_grad=True)
    x.expand(3, 4).sum().backward()
    x.grad.mul_(2)
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 1), 8.0))


def test_backward_twice_without_retain_graph_errors():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1, rtol=1e-6)


def test_saved_arrays_are_freed_after_backward():
    x = nr.randn(100, 100, requires_grad=True)
    h = x.exp()
    ref = weakref.ref(h._data)
    loss = (h * 3.0).sum()
    del h
    gc.collect()
    assert ref() is not None          # the Mul node keeps it for backward
    loss.backward()
    gc.collect()
    assert ref() is None              # ... and lets go of it afterwards, while loss lives
    assert loss.grad_fn is not None


def test_retain_graph_keeps_saved_arrays():
    x = nr.randn(10, requires_grad=True)
    h = x.exp()
    ref = weakref.ref(h._data)
    loss = (h * 3.0).sum()
    del h
    loss.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


def test_deep_chain_100k_ops():
    x = nr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_non_scalar_backward_needs_gradient():
    x = nr.randn(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2, 3\)"):
        y.backward()
    y.backward(nr.ones(2, 3))
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_gradient_shape_must_match():
    x = nr.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2, 3\)"):
        (x * 2).backward(nr.ones(3))


def test_backward_on_tensor_without_grad_errors():
    x = nr.randn(3)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


def test_int_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        nr.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        nr.arange(3).requires_grad_()


def test_requires_grad_only_on_leaves():
    x = nr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_no_grad_context_and_decorator():
    x = nr.randn(3, requires_grad=True)
    with nr.no_grad():
        y = x * 2
        with nr.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @nr.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert nr.is_grad_enabled()
    with nr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_autograd_grad_does_not_touch_dot_grad():
    x, tx = _pair((4,), 3)
    y = (x.exp() * x).sum()
    (gx,) = nr.autograd.grad(y, x)
    ty = (tx.exp() * tx).sum()
    (tgx,) = torch.autograd.grad(ty, tx)
    assert x.grad is None
    np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=1e-5)


def test_autograd_grad_non_leaf_and_unused():
    x = nr.randn(3, requires_grad=True)
    h = x * 2
    u = nr.randn(3, requires_grad=True)
    y = (h * h).sum()
    gh, gu = nr.autograd.grad(y, [h, u], allow_unused=True, retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), 2 * h.detach().numpy(), rtol=1e-6)
    assert gu is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        nr.autograd.grad(y, [u])


def test_backward_inputs_argument():
    a = nr.randn(3, requires_grad=True)
    b = nr.randn(3, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy())


def test_create_graph_is_refused_clearly():
    x = nr.randn(3, requires_grad=True)
    with pytest.raises(NotImplementedError, match="create_graph"):
        (x * x).sum().backward(create_graph=True)


def test_hooks_on_leaf_and_non_leaf():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 3
    handle = h.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert len(seen) == 1


def test_retain_grad():
    x = nr.randn(3, requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy(), rtol=1e-6)
    assert h.retains_grad


def test_branch_without_gradient_does_not_block_the_rest():
    # idx feeds nothing differentiable; y's gradient must still reach x
    x = nr.randn(4, requires_grad=True)
    m = x.max(dim=0)
    y = (m.values * 2 + x.sum())
    y.backward()
    g = np.ones(4)
    g[int(m.indices)] += 2
    np.testing.assert_allclose(x.grad.numpy(), g)


# ------------------------------------------------------------------ in-place and versions

def test_modifying_a_saved_tensor_raises():
    x = nr.randn(3, requires_grad=True)
    y = x.exp()              # Exp saves its output y
    y.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_parameter_update_before_backward_is_detected():
    w = nr.randn(3, requires_grad=True)
    loss = (w * w).sum()     # Mul saves w
    with nr.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    w = nr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1)
    with nr.no_grad():
        w.add_(1)            # fine: a parameter update
    assert w.version == 1


def test_inplace_inside_graph_has_correct_gradient():
    x, tx = _pair((5,), 4)
    c = nr.tensor([1.0, -2.0, 3.0, 0.5, 2.0])
    y = x * 2
    y.add_(3)
    y.mul_(c)
    y.tanh_()
    (y * 1.0).sum().backward()
    ty = tx * 2
    ty.add_(3)
    ty.mul_(torch.tensor(c.numpy()))
    ty.tanh_()
    (ty * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_setitem_inside_graph():
    x, tx = _pair((4, 3), 5)
    y = x * 1.0
    y[1] = 0.0
    y[:, 0] = y[:, 1] * 2
    (y * y).sum().backward()
    ty = tx * 1.0
    ty[1] = 0.0
    ty[:, 0] = ty[:, 1] * 2
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5)


def test_views_share_the_version_counter():
    x = nr.zeros(2, 3)
    v = x.view(6)
    v.add_(1)
    assert x.version == v.version == 1
    np.testing.assert_allclose(x.numpy(), np.ones((2, 3)))


# ------------------------------------------------------------------ custom Function

class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


class ScaledCube(Function):
    """A custom op with a non-tensor argument."""
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return k * x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return ctx.k * 3 * x ** 2 * grad, None


class WrongCube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x ** 2 * grad     # wrong on purpose


def test_custom_function_pytorch_style():
    x = nr.tensor([1.0, 2.0, -1.5], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, 4.0, 2.25]), rtol=1e-6)
    x64 = nr.randn(4, dtype=nr.float64, requires_grad=True)
    assert nr.autograd.gradcheck(Cube.apply, (x64,))
    assert nr.autograd.gradcheck(lambda t: ScaledCube.apply(t, 2.5), (x64,))


def test_gradcheck_catches_a_wrong_backward():
    x64 = nr.randn(3, dtype=nr.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        nr.autograd.gradcheck(WrongCube.apply, (x64,))
    assert nr.autograd.gradcheck(WrongCube.apply, (x64,), raise_exception=False) is False


def test_gradcheck_wants_float64():
    with pytest.raises(ValueError, match="float64"):
        nr.autograd.gradcheck(Cube.apply, (nr.randn(3, requires_grad=True),))


# ------------------------------------------------------------------ anomaly mode

def test_anomaly_mode_names_op_and_line_for_forward_nan():
    x = nr.tensor([-1.0, 2.0], requires_grad=True)
    with nr.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"(?s)Log.*test_autograd\.py"):
            x.log()
    assert not nr.autograd.is_anomaly_enabled()


def test_anomaly_mode_names_op_for_backward_inf():
    x = nr.tensor([0.0, 4.0], requires_grad=True)
    nr.autograd.set_detect_anomaly(True)
    try:
        y = x.sqrt().sum()       # forward is finite, d sqrt(x)/dx = inf at 0
        with pytest.raises(FloatingPointError, match=r"(?s)backward of Sqrt.*test_autograd\.py"):
            y.backward()
    finally:
        nr.autograd.set_detect_anomaly(False)


def test_anomaly_mode_allows_masking_with_inf():
    x = nr.randn(2, 3, requires_grad=True)
    mask = nr.tensor([[True, False, False], [False, False, True]])
    with nr.autograd.detect_anomaly():
        y = x.masked_fill(mask, float("-inf")).softmax(dim=-1)
        y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# ------------------------------------------------------------------ check_gradients

class BadSquare(Function):
    """An internal-style op (arrays in, arrays out) with a deliberately wrong backward."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return g * self.x          # should be 2 * x


def test_check_gradients_passes_on_a_real_model():
    nr.manual_seed(0)
    x = nr.randn(8, 5)
    y = nr.randint(0, 3, (8,))
    w1 = nr.randn(5, 7, requires_grad=True)
    w2 = nr.randn(7, 3, requires_grad=True)
    with nr.autograd.check_gradients() as chk:
        h = (x @ w1).tanh()
        logits = h @ w2
        loss = nr.nn.functional.cross_entropy(logits, y)
        loss.backward()
    assert chk.checked >= 4
    assert w1.grad is not None


def test_check_gradients_names_the_wrong_op():
    x = nr.randn(4, 3, requires_grad=True)
    with nr.autograd.check_gradients():
        y = BadSquare.apply(x.tanh()).sum()
        with pytest.raises(GradientCheckError, match=r"(?s)BadSquare.*\(4, 3\).*test_autograd\.py"):
            y.backward()


def test_check_gradients_is_off_by_default():
    from neurona.autograd.grad_mode import state
    assert state.debug is False
    x = nr.randn(3, requires_grad=True)
    y = BadSquare.apply(x).sum()
    y.backward()        # wrong, but nobody is checking
    assert y.grad_fn.debug_info is None


def test_check_gradients_passes_a_reshape_that_copies():
    """A reshape after a transpose copies (ReshapeCopy); the gradient checker re-runs it on
    perturbed inputs, which must give a new result, not the first copy again."""
    from neurona.autograd import check_gradients
    x = nr.randn(2, 2, 3, 2, dtype=nr.float64, requires_grad=True)
    with check_gradients():
        y = (x * 1).transpose(1, 2).reshape(2, 3, 4)
        (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())
