"""Optimizers and learning-rate schedulers against PyTorch.

Tolerances
----------
* Optimizer parity on a *gradient stream* (``run_both``): both libraries start from the
  same float32 parameters and, at every step, get the gradient of the same elementwise
  quadratic  J(θ) = ½ Σ h (θ − c)²  plus fixed noise, computed with the same NumPy code
  from each library's *own* current parameters.  The only differences are then the
  optimizers' arithmetic: after 20 steps the parameters must agree within float32
  ``rtol=1e-5, atol=1e-6`` (``kind="exact"`` of helpers.py; about 80 float32 steps).  The
  formulas are the same; the order of some roundings differs (neurona evaluates Adam's
  last line as θ − αₜ m / (√v + ε̂), the paper's equivalent "efficient" form, and
  (1 − β2) g² as (√(1 − β2) g)²), a few ulps per step.
* End-to-end (``test_mlp_training_matches_torch``): a 2-layer MLP trained 20 steps with
  real forward/backward in each library.  Matrix products sum in different orders, so
  those use ``kind="matmul"`` (rtol=1e-4, atol=1e-5).
* Schedulers compute Python floats with PyTorch's formulas: learning rates must agree to
  ``rel=1e-12`` (in practice they are identical).
"""
from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
import torch

import neurona as nr
from neurona import optim
from neurona.optim import lr_scheduler as nsched
from torch.optim import lr_scheduler as tsched

from helpers import assert_close, to_numpy

SHAPES = [(6, 5), (5,), (3, 6)]
STEPS = 20


def make_params(seed=0, shapes=SHAPES, device="cpu"):
    """The same float32 starting values as neurona leaves and torch leaves (on ``device``)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, size=s).astype(np.float32) for s in shapes]
    n = [nr.tensor(a.copy(), requires_grad=True, device=device) for a in arrays]
    t = [torch.tensor(a.copy(), requires_grad=True, device=device) for a in arrays]
    return n, t


def _problem(seed=1, shapes=SHAPES, steps=STEPS):
    rng = np.random.default_rng(seed)
    h = [rng.uniform(0.1, 3, size=s).astype(np.float32) for s in shapes]
    c = [rng.uniform(-1, 1, size=s).astype(np.float32) for s in shapes]
    noise = [[(0.3 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
             for _ in range(steps)]
    return h, c, noise


def quad_grad(theta: np.ndarray, h, c, noise) -> np.ndarray:
    """dJ/dθ of ½ Σ h (θ − c)², plus noise; float32 in, float32 out."""
    return (h * (theta - c) + noise).astype(np.float32)


def set_grads(n_params, t_params, step, problem, skip_every=4):
    """Give both libraries the gradient of the quadratic at their own current parameters.
    The last parameter gets no gradient (None) every ``skip_every`` steps: optimizers must
    leave it (and its state) alone then."""
    h, c, noise = problem
    for i, (pn, pt) in enumerate(zip(n_params, t_params)):
        if i == len(n_params) - 1 and skip_every and step % skip_every == skip_every - 1:
            pn.grad = None
            pt.grad = None
            continue
        pn.grad = nr.tensor(quad_grad(to_numpy(pn), h[i], c[i], noise[step][i]),
                            device=pn.device)
        pt.grad = torch.tensor(quad_grad(to_numpy(pt), h[i], c[i], noise[step][i]),
                               device=pt.device)


def run_both(n_cls, t_cls, kwargs, steps=STEPS, groups=None, skip_every=4, seed=0,
             device="cpu"):
    """``steps`` optimizer steps in both libraries (parameters on ``device``); returns
    (neurona params, torch params, neurona optimizer, torch optimizer)."""
    n_params, t_params = make_params(seed, device=device)
    if groups is None:
        n_opt, t_opt = n_cls(n_params, **kwargs), t_cls(t_params, **kwargs)
    else:      # groups: list of (indices, options)
        n_opt = n_cls([dict(params=[n_params[i] for i in idx], **o) for idx, o in groups],
                      **kwargs)
        t_opt = t_cls([dict(params=[t_params[i] for i in idx], **o) for idx, o in groups],
                      **kwargs)
    problem = _problem()
    for step in range(steps):
        set_grads(n_params, t_params, step, problem, skip_every)
        n_opt.step()
        t_opt.step()
    return n_params, t_params, n_opt, t_opt


def assert_params_close(n_params, t_params, kind="exact", what="parameter"):
    for i, (pn, pt) in enumerate(zip(n_params, t_params)):
        assert_close(pn.detach(), pt.detach(), kind=kind, what=f"{what} {i}")


def assert_state_close(n_opt, t_opt, kind="exact"):
    """Same state entries, same values (tensors within float32 tolerance, step equal)."""
    n_sd, t_sd = n_opt.state_dict(), t_opt.state_dict()
    assert sorted(n_sd["state"]) == sorted(t_sd["state"])
    for k, t_state in t_sd["state"].items():
        n_state = n_sd["state"][k]
        t_keys = {key for key, v in t_state.items() if v is not None}
        assert set(n_state) == t_keys, f"state of parameter {k}"
        for key, tv in t_state.items():
            if tv is None:
                continue
            nv = n_state[key]
            if key == "step":
                assert nv == int(tv.item())
            else:
                assert isinstance(nv, nr.Tensor)
                assert_close(nv, tv, kind=kind, what=f"state {key!r} of parameter {k}")


# ----------------------------------------------------------------------------- parity

SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.1, maximize=True),
    dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True, maximize=True),
    dict(lr=0.05, momentum=0.8, dampening=0.5, weight_decay=0.02),
]
ADAM_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.05),
    dict(lr=0.05, amsgrad=True),
    dict(lr=0.05, maximize=True),
    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.01,
         maximize=True),
]
ADAMW_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, weight_decay=0.1, amsgrad=True),
    dict(lr=0.05, maximize=True, betas=(0.5, 0.9)),
]
RMSPROP_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, alpha=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.005, momentum=0.9),
    dict(lr=0.005, momentum=0.9, centered=True, weight_decay=0.05),
    dict(lr=0.01, maximize=True, eps=1e-4),
]
ADAGRAD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, lr_decay=0.05),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6),
    dict(lr=0.1, maximize=True, lr_decay=0.01),
]

CASES = ([("SGD", c) for c in SGD_CASES] + [("Adam", c) for c in ADAM_CASES]
         + [("AdamW", c) for c in ADAMW_CASES] + [("RMSprop", c) for c in RMSPROP_CASES]
         + [("Adagrad", c) for c in ADAGRAD_CASES])


def _id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_optimizer_matches_torch(device, case):
    name, kw = case
    n_params, t_params, n_opt, t_opt = run_both(getattr(optim, name),
                                                getattr(torch.optim, name), kw, device=device)
    # On the GPU, Adam's step m / (sqrt(v) + eps) is computed by neurona's fused kernel and by
    # torch's foreach kernels in different (equal in exact arithmetic) orders; near the
    # optimum, where m ~ 0, the last-bit differences are amplified step after step (seen on
    # an H100: 6e-6 absolute, 4e-4 relative after 12 steps).  The kernel itself is checked
    # against the NumPy update in test_cuda_kernels.py.
    adam_on_gpu = device == "cuda" and name in ("Adam", "AdamW")
    kind = "transcendental" if adam_on_gpu else "exact"
    assert_params_close(n_params, t_params, kind=kind)
    assert_state_close(n_opt, t_opt, kind=kind)
    # the update changed the numbers, not the parameters' nature (nor their device)
    for p in n_params:
        assert p.is_leaf and p.requires_grad and p.grad_fn is None
        assert p.dtype == nr.float32 and p.device.type == device


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_with_different_options(name):
    extra = {"SGD": dict(momentum=0.9), "Adam": {}, "RMSprop": dict(momentum=0.5),
             "Adagrad": {}}[name]
    groups = [([0, 1], {}), ([2], dict(lr=0.003, weight_decay=0.1))]
    n_params, t_params, n_opt, t_opt = run_both(getattr(optim, name),
                                                getattr(torch.optim, name),
                                                dict(lr=0.03, **extra), groups=groups)
    assert_params_close(n_params, t_params)
    assert [g["lr"] for g in n_opt.param_groups] == [0.03, 0.003]
    assert n_opt.param_groups[1]["weight_decay"] == 0.1
    assert n_opt.param_groups[0]["weight_decay"] == 0


def test_add_param_group_matches_torch():
    n_params, t_params = make_params()
    n_opt = optim.Adam(n_params[:2], lr=0.05)
    t_opt = torch.optim.Adam(t_params[:2], lr=0.05)
    problem = _problem()
    for step in range(STEPS):
        if step == 5:
            n_opt.add_param_group({"params": n_params[2], "lr": 0.01})
            t_opt.add_param_group({"params": t_params[2], "lr": 0.01})
        set_grads(n_params, t_params, step, problem, skip_every=0)
        n_opt.step()
        t_opt.step()
    assert_params_close(n_params, t_params)
    assert n_opt.param_groups[1]["betas"] == (0.9, 0.999)      # defaults filled in


def test_mlp_training_matches_torch():
    """784-32-10 MLP (tanh, cross-entropy) trained 20 steps with autograd in each library.

    Each library runs its 20 steps in one go: alternating tiny NumPy and PyTorch kernels
    step by step makes their thread pools (busy-waiting for work) fight over the cores."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    init = [(rng.standard_normal((32, 784)) / 28).astype(np.float32), np.zeros(32, np.float32),
            (rng.standard_normal((10, 32)) / 6).astype(np.float32), np.zeros(10, np.float32)]

    def train(lib, F, opt_cls, kw):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in init]
        opt = opt_cls(params, **kw)
        xs, ys = lib.tensor(x), lib.tensor(y)
        for _ in range(STEPS):
            opt.zero_grad()
            hidden = lib.tanh(F.linear(xs, params[0], params[1]))
            loss = F.cross_entropy(F.linear(hidden, params[2], params[3]), ys)
            loss.backward()
            opt.step()
        return params, loss.item()

    for name, kw in [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=1e-3))]:
        n_p, n_loss = train(nr, nr.nn.functional, getattr(optim, name), kw)
        t_p, t_loss = train(torch, torch.nn.functional, getattr(torch.optim, name), kw)
        assert abs(n_loss - t_loss) < 1e-4 * abs(t_loss)
        assert_params_close(n_p, t_p, kind="matmul", what=f"{name} parameter")


def test_closure_returns_loss_and_runs_with_grad():
    w = nr.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    with nr.no_grad():              # step turns gradients back on for the closure
        loss = opt.step(closure)
    assert calls == [5.0] and loss.item() == 5.0
    np.testing.assert_allclose(to_numpy(w), [0.8, -1.6], rtol=1e-6)


def test_step_bumps_version_so_stale_graphs_fail():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    x = nr.tensor([3.0, 4.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * x).sum()           # saves w for x's gradient
    v = w._version[0]
    opt.step()
    assert w._version[0] == v + 1
    with pytest.raises(RuntimeError):
        stale.backward()


def test_params_without_grad_are_skipped():
    n_params, _ = make_params()
    before = [to_numpy(p) for p in n_params]
    opt = optim.Adam(n_params, lr=0.1, weight_decay=0.1)
    n_params[0].grad = nr.ones(*SHAPES[0])
    opt.step()
    assert not np.array_equal(to_numpy(n_params[0]), before[0])
    for p, b in zip(n_params[1:], before[1:]):
        np.testing.assert_array_equal(to_numpy(p), b)
    assert len(opt.state) == 1


def test_grad_is_not_modified():
    for cls, kw in [(optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)),
                    (optim.Adam, dict(weight_decay=0.1, maximize=True)),
                    (optim.AdamW, {}), (optim.RMSprop, dict(momentum=0.9, centered=True)),
                    (optim.Adagrad, dict(weight_decay=0.1))]:
        w = nr.tensor([1.0, -2.0, 3.0], requires_grad=True)
        opt = cls([w], **kw)
        for _ in range(3):
            w.grad = nr.tensor([0.5, 0.25, -1.0])
            opt.step()
            np.testing.assert_array_equal(to_numpy(w.grad), [0.5, 0.25, -1.0],
                                          err_msg=cls.__name__)


# ----------------------------------------------------------------------------- zero_grad

def test_zero_grad_set_to_none():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()                 # no gradient: nothing to do


def test_zero_grad_fill_zeros_keeps_tensor():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and not g.requires_grad
    np.testing.assert_array_equal(to_numpy(g), [0.0, 0.0])
    (w * w).sum().backward()        # accumulates onto zeros
    np.testing.assert_array_equal(to_numpy(w.grad), [2.0, 4.0])


def test_zero_grad_then_step_with_zero_grad_still_decays_like_torch():
    """A zeroed (not None) gradient is a real gradient of 0: momentum keeps moving."""
    n, t = make_params()
    n_opt = optim.SGD(n, lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(t, lr=0.1, momentum=0.9)
    for pn, pt in zip(n, t):
        pn.grad = nr.ones(*pn.shape)
        pt.grad = torch.ones(pt.shape)
    n_opt.step(), t_opt.step()
    n_opt.zero_grad(set_to_none=False)
    t_opt.zero_grad(set_to_none=False)
    n_opt.step(), t_opt.step()
    assert_params_close(n, t)


# ----------------------------------------------------------------------------- state dicts

@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
])
def test_state_dict_round_trip_resumes_identically(name, kw):
    cls = getattr(optim, name)
    problem = _problem()

    def grads(params, step):
        for i, p in enumerate(params):
            p.grad = nr.tensor(quad_grad(to_numpy(p), problem[0][i], problem[1][i],
                                         problem[2][step][i]))

    ref, _ = make_params()
    ref_opt = cls([{"params": ref[:2]}, {"params": ref[2:], "lr": kw["lr"] / 2}], **kw)
    for step in range(STEPS):
        grads(ref, step)
        ref_opt.step()

    first, _ = make_params()
    opt = cls([{"params": first[:2]}, {"params": first[2:], "lr": kw["lr"] / 2}], **kw)
    for step in range(10):
        grads(first, step)
        opt.step()
    sd = opt.state_dict()
    # layout: torch's
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    for entry in sd["state"].values():
        for v in entry.values():
            assert isinstance(v, (nr.Tensor, int, float))
    # what a checkpoint would do: copy tensors out to arrays, numbers as they are
    saved = {"state": {k: {n: (to_numpy(v) if isinstance(v, nr.Tensor) else v)
                           for n, v in s.items()} for k, s in sd["state"].items()},
             "param_groups": sd["param_groups"]}
    pickle.dumps(saved)

    resumed = [nr.tensor(to_numpy(p), requires_grad=True) for p in first]
    opt2 = cls([{"params": resumed[:2]}, {"params": resumed[2:]}], **kw)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == kw["lr"] / 2       # options come back too
    for step in range(10, STEPS):
        grads(resumed, step)
        opt2.step()
    for a, b in zip(resumed, ref):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_state_dict_keys_match_torch():
    n_params, t_params, n_opt, t_opt = run_both(optim.Adam, torch.optim.Adam,
                                                dict(lr=0.01, amsgrad=True), steps=3)
    n_sd, t_sd = n_opt.state_dict(), t_opt.state_dict()
    assert n_sd["param_groups"][0]["params"] == t_sd["param_groups"][0]["params"]
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert n_sd["param_groups"][0][key] == t_sd["param_groups"][0][key]


def test_load_torch_state_dict():
    """A torch optimizer's state dict loads (tensors through DLPack, step as a number)."""
    n_params, t_params, n_opt, t_opt = run_both(optim.Adam, torch.optim.Adam,
                                                dict(lr=0.01), steps=5, skip_every=0)
    fresh = [nr.tensor(to_numpy(p), requires_grad=True) for p in n_params]
    opt = optim.Adam(fresh, lr=0.5)
    opt.load_state_dict(t_opt.state_dict())
    assert opt.param_groups[0]["lr"] == 0.01
    assert opt.state[fresh[0]]["step"] == 5
    assert_close(opt.state[fresh[0]]["exp_avg"], t_opt.state[t_params[0]]["exp_avg"])


def test_load_state_dict_casts_and_copies():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = nr.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["momentum_buffer"] = np.array([1.0, 2.0])      # float64 array
    w2 = nr.tensor([1.0, 2.0], requires_grad=True)
    opt2 = optim.SGD([w2], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    buf = opt2.state[w2]["momentum_buffer"]
    assert buf.dtype == nr.float32
    assert buf is not opt.state[w]["momentum_buffer"]


def test_load_state_dict_errors():
    n_params, _ = make_params()
    opt = optim.SGD(n_params, lr=0.1)
    sd = optim.SGD([{"params": n_params[:1]}, {"params": n_params[1:]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(sd)
    sd = optim.SGD(n_params[:2], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(sd)


# ----------------------------------------------------------------------------- errors

def test_construction_errors():
    w = nr.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="duplicate"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.warns(UserWarning, match="none of the parameters requires grad"):
        optim.SGD([nr.randn(3)], lr=0.1)


def test_frozen_params_are_accepted_and_untouched():
    """As in PyTorch, parameters with requires_grad=False may be passed (frozen layers):
    they never get a gradient, so step() leaves them alone."""
    w = nr.randn(3, requires_grad=True)
    frozen = nr.randn(3)
    before = to_numpy(frozen).copy()
    opt = optim.AdamW([w, frozen], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_array_equal(to_numpy(frozen), before)


def test_named_parameters_and_repr():
    w = nr.randn(3, requires_grad=True)
    b = nr.randn(1, requires_grad=True)
    opt = optim.SGD([("weight", w), ("bias", b)], lr=0.1)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(w), id(b)]
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.1" in text


# ----------------------------------------------------------------------------- schedulers

def _sched_pair(opt_name, opt_kw, sched_name, sched_kw, groups=2):
    n_params, t_params = make_params()
    if groups == 2:
        n_opt = getattr(optim, opt_name)([{"params": n_params[:2]},
                                          {"params": n_params[2:], "lr": opt_kw["lr"] * 3}],
                                         **opt_kw)
        t_opt = getattr(torch.optim, opt_name)([{"params": t_params[:2]},
                                                {"params": t_params[2:],
                                                 "lr": opt_kw["lr"] * 3}], **opt_kw)
    else:
        n_opt = getattr(optim, opt_name)(n_params, **opt_kw)
        t_opt = getattr(torch.optim, opt_name)(t_params, **opt_kw)
    n_s = getattr(nsched, sched_name)(n_opt, **sched_kw)
    t_s = getattr(tsched, sched_name)(t_opt, **sched_kw)
    return n_opt, t_opt, n_s, t_s


def _assert_lrs(n_opt, t_opt, n_s, t_s, momentum=False):
    assert n_s.get_last_lr() == pytest.approx(t_s.get_last_lr(), rel=1e-12, abs=1e-15)
    for ng, tg in zip(n_opt.param_groups, t_opt.param_groups):
        assert ng["lr"] == pytest.approx(tg["lr"], rel=1e-12, abs=1e-15)
        if momentum:
            key = "betas" if "betas" in tg else "momentum"
            assert ng[key] == pytest.approx(tg[key], rel=1e-12)


SCHED_CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=1e-4)),     # past T_max: climbs again
    ("LinearLR", dict(start_factor=0.1, total_iters=8)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.2, total_iters=20)),
    ("ConstantLR", dict(factor=0.25, total_iters=6)),
    ("PolynomialLR", dict(total_iters=20, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=1e-3)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=31)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=8,
                        anneal_strategy="linear", pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=31, three_phase=True, div_factor=10.0,
                        final_div_factor=100.0)),
]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("sched", SCHED_CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                    enumerate(SCHED_CASES)])
def test_scheduler_matches_torch(sched, opt_name):
    name, kw = sched
    opt_kw = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.1)
    n_opt, t_opt, n_s, t_s = _sched_pair(opt_name, opt_kw, name, kw)
    cycles = name == "OneCycleLR"
    _assert_lrs(n_opt, t_opt, n_s, t_s, momentum=cycles)
    for _ in range(30):
        n_opt.step()
        t_opt.step()
        n_s.step()
        t_s.step()
        _assert_lrs(n_opt, t_opt, n_s, t_s, momentum=cycles)


def test_lambda_and_multiplicative_lr_match_torch():
    fns = [lambda e: 0.95 ** e, lambda e: 1.0 / (1 + e)]
    for name, fn in [("LambdaLR", fns), ("MultiplicativeLR", lambda e: 0.9)]:
        n_opt, t_opt, n_s, t_s = _sched_pair("SGD", dict(lr=0.1), name, dict(lr_lambda=fn))
        for _ in range(30):
            n_opt.step(), t_opt.step(), n_s.step(), t_s.step()
            _assert_lrs(n_opt, t_opt, n_s, t_s)


def _warmup_cosine(lib, opt):
    return lib.SequentialLR(opt, [lib.LinearLR(opt, start_factor=0.1, total_iters=5),
                                  lib.CosineAnnealingLR(opt, T_max=20)], milestones=[5])


def _chained(lib, opt):
    return lib.ChainedScheduler([lib.LinearLR(opt, start_factor=0.2, total_iters=6),
                                 lib.ExponentialLR(opt, gamma=0.95)])


@pytest.mark.parametrize("build", [_warmup_cosine, _chained])
def test_combined_schedulers_match_torch(build):
    n_params, t_params = make_params()
    n_opt, t_opt = optim.SGD(n_params, lr=0.1), torch.optim.SGD(t_params, lr=0.1)
    n_s, t_s = build(nsched, n_opt), build(tsched, t_opt)
    _assert_lrs(n_opt, t_opt, n_s, t_s)
    for _ in range(30):
        n_opt.step(), t_opt.step(), n_s.step(), t_s.step()
        _assert_lrs(n_opt, t_opt, n_s, t_s)


METRICS = [1.0, 0.9, 0.85, 0.85, 0.86, 0.849, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7,
           0.71, 0.72, 0.73, 0.74, 0.75, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
           0.6]


@pytest.mark.parametrize("kw", [
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=2, min_lr=[0.01, 0.002]),
    dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs"),
    dict(patience=0, factor=0.5, threshold=0.1, min_lr=1e-3, eps=1e-3),
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    n_opt, t_opt, n_s, t_s = _sched_pair("SGD", dict(lr=0.1), "ReduceLROnPlateau", kw)
    seen = set()
    for m in METRICS:
        n_opt.step(), t_opt.step()
        n_s.step(nr.tensor(m, dtype=nr.float64) if len(seen) % 2 else m)   # or a tensor
        t_s.step(m)
        _assert_lrs(n_opt, t_opt, n_s, t_s)
        seen.add(n_opt.param_groups[0]["lr"])
    assert len(seen) > 2          # the sequence did cut the rate several times


@pytest.mark.parametrize("name,kw", [
    ("CosineAnnealingLR", dict(T_max=10)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=40)),
    ("MultiStepLR", dict(milestones=[4, 12])),
    ("ReduceLROnPlateau", dict(patience=1, cooldown=1)),
    ("LinearLR", dict(start_factor=0.1, total_iters=15)),
])
def test_scheduler_state_dict_round_trip(name, kw):
    def run(n_steps, opt, s):
        out = []
        for i in range(n_steps):
            opt.step()
            if name == "ReduceLROnPlateau":
                s.step(METRICS[i % len(METRICS)])
            else:
                s.step()
            out.append((list(s.get_last_lr()), opt.param_groups[0].get("momentum")))
        return out

    def build():
        params, _ = make_params()
        opt = optim.SGD(params, lr=0.1, momentum=0.9)
        return opt, getattr(nsched, name)(opt, **kw)

    ref_opt, ref_s = build()
    ref = run(30, ref_opt, ref_s)

    opt, s = build()
    first = run(12, opt, s)
    o_sd, s_sd = opt.state_dict(), s.state_dict()
    opt2, s2 = build()
    opt2.load_state_dict(o_sd)
    s2.load_state_dict(s_sd)
    rest = []
    for i in range(12, 30):
        opt2.step()
        if name == "ReduceLROnPlateau":
            s2.step(METRICS[i % len(METRICS)])
        else:
            s2.step()
        rest.append((list(s2.get_last_lr()), opt2.param_groups[0].get("momentum")))
    assert first + rest == ref


def test_scheduler_state_dict_matches_torch_keys():
    n_opt, t_opt, n_s, t_s = _sched_pair("SGD", dict(lr=0.1), "StepLR", dict(step_size=3))
    n_opt.step(), t_opt.step(), n_s.step(), t_s.step()
    n_sd, t_sd = n_s.state_dict(), t_s.state_dict()
    for key in ("step_size", "gamma", "base_lrs", "last_epoch", "_step_count", "_last_lr"):
        assert n_sd[key] == t_sd[key], key


def test_scheduler_warnings_and_errors():
    w = nr.randn(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    s = nsched.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        nsched.StepLR(object(), step_size=2)
    with pytest.raises(KeyError, match="initial_lr"):
        nsched.StepLR(optim.SGD([nr.randn(2, requires_grad=True)], lr=0.1), 2, last_epoch=3)
    with pytest.raises(ValueError, match="momentum or beta1"):
        nsched.OneCycleLR(optim.Adagrad([w]), max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="total_steps"):
        nsched.OneCycleLR(opt, max_lr=0.1)
    s = nsched.OneCycleLR(optim.SGD([w], lr=0.1, momentum=0.9), max_lr=0.1, total_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            s.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            s.step()


def test_no_warning_when_optimizer_steps_first():
    w = nr.randn(3, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    s = nsched.ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        s.step()
    assert s.get_last_lr() == [0.05]


def test_custom_optimizer_step_override_counts_as_called():
    class Plain(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        p._data -= g["lr"] * p.grad._data
                        p._version[0] += 1

    w = nr.tensor([1.0], requires_grad=True)
    opt = Plain([w])
    s = nsched.StepLR(opt, step_size=1, gamma=0.5)
    w.grad = nr.tensor([1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        s.step()
    assert math.isclose(w.item(), 0.9, rel_tol=1e-6) and s.get_last_lr() == [0.05]
