"""neurona.nn against torch.nn: Module mechanics, containers, layers, losses, init, clipping.

Layer parity tests build the *torch* module, load its ``state_dict()`` into the neurona
module of the same architecture (so both hold the same weights), then compare the
forward output and the gradients of the input and of every parameter.
"""
from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import neurona as nr
import neurona.nn as nn
import neurona.nn.functional as F
from helpers import assert_close, gradcheck64, random_array, float_arrays

SMALL = settings(max_examples=8)


# ============================================================================ helpers

def load_from_torch(n_mod, t_mod):
    """Copy a torch module's weights into the neurona module (through load_state_dict)."""
    res = n_mod.load_state_dict(t_mod.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    return n_mod


def compare_module(n_mod, t_mod, x, kind="matmul", grad=True, seed=0, integer_input=False,
                   device="cpu"):
    """Same input through both modules; compare output, input grad and param grads.
    ``device``: both modules and the input are moved there first (``"cuda"``: neurona
    on CuPy against torch on CUDA)."""
    if device != "cpu":
        n_mod.to(device)
        t_mod.to(device)
    if integer_input:
        xn, xt = nr.tensor(x, device=device), torch.tensor(x, device=device)
    else:
        xn = nr.tensor(x, requires_grad=grad, device=device)
        xt = torch.tensor(x, requires_grad=grad, device=device)
    yn, yt = n_mod(xn), t_mod(xt)
    assert_close(yn, yt, kind=kind, what=f"{type(t_mod).__name__} output")
    if not grad:
        return yn, yt
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(np.float32)
    yn.backward(nr.tensor(g, device=device))
    yt.backward(torch.tensor(g, device=device))
    if not integer_input:
        assert_close(xn.grad, xt.grad, kind=kind, what="input gradient")
    tp = dict(t_mod.named_parameters())
    np_ = dict(n_mod.named_parameters())
    assert list(tp) == list(np_)
    for k in tp:
        assert (np_[k].grad is None) == (tp[k].grad is None), k
        if tp[k].grad is not None:
            assert_close(np_[k].grad, tp[k].grad, kind=kind, what=f"gradient of {k}")
    return yn, yt


def same_state(n_mod, t_mod, kind="exact"):
    ns, ts = n_mod.state_dict(), t_mod.state_dict()
    assert list(ns) == list(ts)
    for k in ts:
        assert_close(ns[k], ts[k], kind=kind, what=k)


# ============================================================================ Parameter

def test_parameter_basics():
    t = nr.ones(3)
    p = nn.Parameter(t)
    assert isinstance(p, nn.Parameter) and isinstance(p, nr.Tensor)
    assert p.requires_grad and p.is_leaf
    t[0] = 5.0                       # shares memory with the tensor it wraps
    assert p[0].item() == 5.0
    assert not nn.Parameter(nr.ones(2), requires_grad=False).requires_grad
    assert repr(nn.Parameter(nr.zeros(2))) == repr(torch.nn.Parameter(torch.zeros(2)))
    assert nn.Parameter().shape == (0,)
    y = p * 2                        # ops on parameters give plain tensors
    assert type(y) is nr.Tensor
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q is not p and np.array_equal(q.detach().numpy(),
                                                                         p.detach().numpy())
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(nr.tensor([1, 2]))


# ============================================================================ Module mechanics

class NMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)
        self.scale = nn.Parameter(nr.ones(2))
        self.register_buffer("steps", nr.zeros(1))
        self.register_buffer("cache", nr.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


class TMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(4, 2)
        self.scale = torch.nn.Parameter(torch.ones(2))
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("cache", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_registration_and_names_match_torch():
    n, t = NMLP(), TMLP()
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert [k for k, _ in n.named_buffers()] == [k for k, _ in t.named_buffers()]
    assert [k for k, _ in n.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in n.named_children()] == [k for k, _ in t.named_children()]
    assert list(n.state_dict()) == list(t.state_dict())          # no 'cache'
    assert [k for k, _ in n.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert len(list(n.parameters())) == 5 and len(list(n.children())) == 3
    assert n.get_submodule("fc1") is n.fc1 and n.get_parameter("fc2.bias") is n.fc2.bias
    assert n.get_buffer("steps") is n.steps
    sd = n.state_dict()
    assert all(not v.requires_grad for v in sd.values())
    assert isinstance(sd, OrderedDict)
    assert n.state_dict(keep_vars=True)["fc1.weight"] is n.fc1.weight
    # state_dict shares memory with the model
    sd["scale"][0] = 7.0
    assert n.scale[0].item() == 7.0


def test_shared_parameters_listed_once():
    a = nn.Linear(2, 2)
    m = nn.Sequential(a, nn.ReLU(), a)
    ta = torch.nn.Linear(2, 2)
    t = torch.nn.Sequential(ta, torch.nn.ReLU(), ta)
    assert [k for k, _ in m.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert list(m.state_dict()) == list(t.state_dict())
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    tied = nn.Module()
    tied.enc = nn.Embedding(5, 3)
    tied.dec = nn.Linear(3, 5, bias=False)
    tied.dec.weight = tied.enc.weight
    assert len(list(tied.parameters())) == 1


def test_getattr_error_matches_torch():
    with pytest.raises(AttributeError) as n_err:
        nn.Linear(2, 3).foo
    with pytest.raises(AttributeError) as t_err:
        torch.nn.Linear(2, 3).foo
    assert str(n_err.value) == str(t_err.value)


@pytest.mark.parametrize("value,fix", [
    (lambda: [nn.Linear(2, 2), nn.Linear(2, 2)], "nn.ModuleList"),
    (lambda: (nn.ReLU(),), "nn.ModuleList"),
    (lambda: {"a": nn.Linear(2, 2)}, "nn.ModuleDict"),
    (lambda: [nn.Parameter(nr.ones(2))], "nn.ParameterList"),
    (lambda: {"w": nn.Parameter(nr.ones(2))}, "nn.ParameterDict"),
    (lambda: [[nn.Linear(1, 1)]], "nn.ModuleList"),
    (lambda: [nr.ones(2, requires_grad=True)], "nn.ParameterList"),
])
def test_plain_containers_of_parameters_are_refused(value, fix):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = value()
    with pytest.raises(TypeError, match=fix) as e:
        Net()
    assert "Net.layers" in str(e.value) and "optimizer" in str(e.value)


def test_plain_containers_without_parameters_are_fine():
    m = nn.Module()
    m.sizes = [1, 2, 3]
    m.names = {"a": "b"}
    m.consts = [nr.ones(2)]
    m.empty = []
    assert m.sizes == [1, 2, 3] and list(m.parameters()) == []


def test_list_caching_registered_parameters_is_allowed():
    class RNNLike(nn.Module):          # torch's RNN keeps such a list (_flat_weights)
        def __init__(self):
            super().__init__()
            self.weight_ih_l0 = nn.Parameter(nr.ones(2))
            self.layer = nn.Linear(1, 1)
            self._flat_weights = [self.weight_ih_l0, self.layer.weight]
            self.blocks = [self.layer]
    m = RNNLike()
    assert len(m._flat_weights) == 2 and len(list(m.parameters())) == 3
    with pytest.raises(TypeError, match="nn.ParameterList"):
        m.more = [m.weight_ih_l0, nn.Parameter(nr.ones(1))]


def test_bare_tensor_that_requires_grad_is_refused():
    m = nn.Module()
    with pytest.raises(TypeError, match="nn.Parameter"):
        m.w = nr.ones(2, requires_grad=True)
    m.c = nr.ones(2)                       # a constant is fine
    m.w = nn.Parameter(nr.ones(2))
    assert [k for k, _ in m.named_parameters()] == ["w"]


def test_assignment_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.weight = nr.ones(3, 2)
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU()).add_module("x", "not a module")

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(nr.ones(1))
            super().__init__()
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    s = nn.Sequential(nn.ReLU())
    del s.__dict__["_modules"]["0"]
    assert len(s) == 0
    m = nn.Module()
    m.x = nn.Linear(1, 1)
    m.x = nn.Parameter(nr.ones(1))          # a name moves from modules to parameters
    assert "x" not in m._modules and "x" in m._parameters
    del m.x
    assert "x" not in m._parameters


def test_train_eval_and_dropout():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.5)))
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    x = nr.randn(8, 4)
    assert np.array_equal(m[1](x).numpy(), x.numpy())
    m.train()
    assert all(x.training for x in m.modules())
    y = m[1](nr.ones(1000))
    frac = float((y.numpy() == 0).mean())
    assert 0.4 < frac < 0.6 and set(np.unique(y.numpy())) <= {0.0, 2.0}
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_zero_grad_requires_grad_apply():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    m(nr.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Linear", "Sequential"]


def test_to_keeps_parameter_objects():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(m.parameters())
    m(nr.randn(4, 3)).sum().backward()
    assert m.to(nr.float64) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == nr.float64 and p.grad.dtype == nr.float64 for p in m.parameters())
    assert m[1].running_mean.dtype == nr.float64
    assert m[1].num_batches_tracked.dtype == nr.int64          # integers are not cast
    assert isinstance(m[0].weight, nn.Parameter)
    y = m(nr.randn(4, 3, dtype=nr.float64))
    assert y.dtype == nr.float64
    m.float()
    assert all(p.dtype == nr.float32 for p in m.parameters())
    m.to("cpu").cpu()
    m.to(device="cpu", dtype=nr.float32)
    with pytest.raises(TypeError, match="floating point"):
        m.to(nr.int64)


def test_deepcopy_module():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight and isinstance(c[0].weight, nn.Parameter)
    with nr.no_grad():
        c[0].weight.fill_(0.0) if hasattr(c[0].weight, "fill_") else \
            c[0].weight._data.fill(0)
        c[1].running_mean._data[:] = 3
    assert m[0].weight.detach().numpy().any() and not m[1].running_mean.numpy().any()
    assert repr(c) == repr(m)


# ============================================================================ hooks

def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    y = m(nr.ones(3, 2))
    assert calls == [(3, 2)]
    np.testing.assert_allclose(y.detach().numpy(), np.broadcast_to(m.bias.detach().numpy(),
                                                                    (3, 2)))
    h1.remove()
    h2.remove()
    m(nr.ones(3, 2))
    assert calls == [(3, 2)]
    h3 = m.register_forward_hook(lambda mod, args, out: out * 0)     # replaces the output
    assert not m(nr.ones(1, 2)).detach().numpy().any()
    h3.remove()
    with m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(kwargs),
                                 with_kwargs=True):
        m(nr.ones(1, 2))
    assert calls[-1] == {}
    m(nr.ones(1, 2))
    assert len(calls) == 2
    order = []
    m.register_forward_pre_hook(lambda *a: order.append("b"))
    m.register_forward_pre_hook(lambda *a: order.append("a"), prepend=True)
    m(nr.ones(1, 2))
    assert order == ["a", "b"]


def test_feature_maps_with_hooks():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    feats = {}
    for name, mod in model.named_children():
        mod.register_forward_hook(lambda m, a, o, name=name: feats.__setitem__(name, o))
    model(nr.randn(5, 4))
    assert [feats[k].shape for k in ("0", "1", "2")] == [(5, 8), (5, 8), (5, 2)]


# ============================================================================ state dicts

def test_torch_state_dict_loads_and_matches(device):
    t = TMLP()
    n = load_from_torch(NMLP(), t)
    x = random_array((5, 3))
    compare_module(n, t, x, device=device)


def test_neurona_state_dict_loads_into_torch():
    n = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.LayerNorm(5),
                      nn.Linear(5, 2))
    n.train()
    for _ in range(3):
        n(nr.randn(8, 3))
    t = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                            torch.nn.LayerNorm(5), torch.nn.Linear(5, 2))
    t.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in n.state_dict().items()})
    same_state(n, t)
    n.eval(), t.eval()
    compare_module(n, t, random_array((4, 3), seed=3))


def test_load_state_dict_accepts_numpy_and_lists_and_casts():
    m = nn.Linear(2, 1)
    m.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": [0.5]})
    assert m.weight.dtype == nr.float32
    assert m(nr.tensor([[1.0, 1.0]])).item() == 3.5
    w = m.weight
    m.load_state_dict({"weight": nr.zeros(1, 2), "bias": nr.zeros(1)})
    assert m.weight is w                                  # in place


def test_strict_errors_list_everything():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    bad = {"0.weight": nr.zeros(3, 3), "0.bias": nr.zeros(3), "1.weight": nr.zeros(1, 3),
           "2.weight": nr.zeros(1)}
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert "Missing key(s)" in msg and '"1.bias"' in msg
    assert "Unexpected key(s)" in msg and '"2.weight"' in msg
    assert "size mismatch for 0.weight" in msg and "(3, 3)" in msg and "(3, 2)" in msg
    assert "strict=False" in msg
    assert "Error(s) in loading state_dict for Sequential" in msg


def test_non_strict_returns_keys_like_torch():
    n = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    t = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    sd = {"0.weight": torch.zeros(3, 2), "9.bias": torch.zeros(1)}
    rn = n.load_state_dict(sd, strict=False)
    rt = t.load_state_dict(sd, strict=False)
    assert rn.missing_keys == rt.missing_keys
    assert rn.unexpected_keys == rt.unexpected_keys
    assert rn == (rn.missing_keys, rn.unexpected_keys)
    assert not n[0].weight.detach().numpy().any()
    assert repr(n.load_state_dict(n.state_dict())) == "<All keys matched successfully>"
    with pytest.raises(RuntimeError, match="size mismatch"):   # shapes are checked anyway
        n.load_state_dict({"0.weight": nr.zeros(5)}, strict=False)


@pytest.mark.parametrize("bad", [
    {"1.weight": nr.zeros(7, 3)},                  # shape
    {"1.bias": np.array(["a"])},                   # not numbers
    {"1.bias": object()},                          # not array-like
    {"3.weight": nr.zeros(1)},                     # unexpected key
])
def test_failed_load_changes_nothing(bad):
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1), nn.BatchNorm1d(1))
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    sd = {k: nr.ones(*v.shape) if v.dtype == nr.float32 else v for k, v in
          m.state_dict().items()}
    sd = dict(sd)
    sd.update(bad)
    with pytest.raises(RuntimeError):
        m.load_state_dict(sd)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_batchnorm_loads_without_num_batches_tracked():
    t = torch.nn.BatchNorm1d(3)
    sd = {k: v for k, v in t.state_dict().items() if k != "num_batches_tracked"}
    n = nn.BatchNorm1d(3)
    assert n.load_state_dict(sd) == ([], [])
    assert t.load_state_dict(sd) == ([], [])


# ============================================================================ repr

def test_repr_matches_torch():
    def build(lib):
        return lib.Sequential(
            lib.Linear(2, 3), lib.ReLU(), lib.Dropout(0.1), lib.BatchNorm1d(3),
            lib.LayerNorm(3), lib.Sequential(lib.Linear(3, 3, bias=False), lib.Tanh()),
            lib.LeakyReLU(0.2), lib.GELU(approximate="tanh"), lib.Softmax(dim=1),
            lib.LogSoftmax(dim=-1), lib.ELU(), lib.SiLU(), lib.Sigmoid(), lib.Softplus(),
            lib.Flatten(), lib.Unflatten(1, (1, 3)), lib.Identity(), lib.Embedding(4, 2),
            lib.Embedding(4, 2, padding_idx=0), lib.BatchNorm1d(3, momentum=None,
                                                                affine=False),
            lib.LayerNorm((2, 3), elementwise_affine=False), lib.CrossEntropyLoss(),
            lib.ModuleList([lib.Linear(1, 1) for _ in range(3)] + [lib.ReLU()]),
            lib.ModuleDict({"a": lib.ReLU(), "b": lib.Linear(1, 2)}))
    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.Linear(2, 3)) == "Linear(in_features=2, out_features=3, bias=True)"
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    pl = repr(nn.ParameterList([nn.Parameter(nr.ones(2, 3))]))
    assert pl == repr(torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3))])) \
        .replace("torch.", "neurona.")


# ============================================================================ containers

def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == [b, c]
    assert list(s[1:]._modules) == ["1", "2"]          # torch keeps the keys of a slice
    assert list(torch.nn.Sequential(*[torch.nn.ReLU()] * 3)[1:]._modules) == ["1", "2"]
    with pytest.raises(IndexError):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and isinstance(s[3], nn.Sigmoid)
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    s[0] = nn.Linear(2, 3)
    assert s[0] is not a
    s.insert(1, nn.ReLU())
    assert isinstance(s[1], nn.ReLU) and len(s) == 4
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert named.fc is named[0]
    assert [k for k, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    x = nr.randn(4, 2)
    np.testing.assert_allclose(named(x).detach().numpy(),
                               named.act(named.fc(x)).detach().numpy())
    assert len(s + named) == 6


def test_module_list_dict_and_parameter_containers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 4)})
            self.ps = nn.ParameterList([nn.Parameter(nr.ones(2)), nr.zeros(3)])
            self.pd = nn.ParameterDict({"x": nn.Parameter(nr.ones(1))})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.heads["a"](x) * self.ps[0].sum() + self.pd["x"]

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 1),
                                              "b": torch.nn.Linear(2, 4)})
            self.ps = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)),
                                              torch.zeros(3)])
            self.pd = torch.nn.ParameterDict({"x": torch.nn.Parameter(torch.ones(1))})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.heads["a"](x) * self.ps[0].sum() + self.pd["x"]

    n, t = Net(), TNet()
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    load_from_torch(n, t)
    compare_module(n, t, random_array((3, 2)))
    assert isinstance(n.ps[1], nn.Parameter) and len(n.ps) == 2
    assert list(n.heads.keys()) == ["a", "b"] and "a" in n.heads and len(n.heads) == 2
    n.layers.append(nn.Linear(2, 2))
    assert len(n.layers) == 4 and len(list(n.layers[1:])) == 3
    n.pd["y"] = nr.ones(2)
    assert isinstance(n.pd["y"], nn.Parameter) and list(n.pd) == ["x", "y"]
    with pytest.raises(NotImplementedError, match="container"):
        n.layers(nr.ones(2))


# ============================================================================ layer parity

@SMALL
@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 5), st.booleans(),
       st.sampled_from([(), (2,)]))
def test_linear_matches_torch(device, n_in, n_out, batch, bias, extra):
    t = torch.nn.Linear(n_in, n_out, bias=bias)
    n = load_from_torch(nn.Linear(n_in, n_out, bias=bias), t)
    compare_module(n, t, random_array(extra + (batch, n_in), seed=n_in + n_out), device=device)


def test_linear_wrong_width_names_the_layer():
    with pytest.raises(RuntimeError) as e:
        nn.Linear(784, 10)(nr.zeros(32, 28, 28))
    msg = str(e.value)
    assert msg.startswith("Linear(in_features=784, out_features=10, bias=True)")
    assert "784" in msg and "(32, 28, 28)" in msg and "nn.Flatten()" in msg
    with pytest.raises(RuntimeError, match=r"got shape \(4, 5\)"):
        nn.Linear(3, 2)(nr.zeros(4, 5))


def test_linear_default_init_follows_torch_bounds():
    nr.manual_seed(0)
    m = nn.Linear(400, 300)
    b = 1 / math.sqrt(400)
    w = m.weight.detach().numpy()
    assert w.shape == (300, 400) and w.dtype == np.float32
    assert np.abs(w).max() <= b and np.abs(w).max() > 0.99 * b
    assert abs(w.std() - b / math.sqrt(3)) < 0.02 * b
    assert np.abs(m.bias.detach().numpy()).max() <= b
    nr.manual_seed(0)
    again = nn.Linear(400, 300)
    np.testing.assert_array_equal(again.weight.detach().numpy(), w)     # seeded


ACTIVATIONS = [
    ("Sigmoid", {}), ("Tanh", {}), ("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}),
    ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("ELU", {"alpha": 0.7}),
    ("Softmax", {"dim": 1}), ("LogSoftmax", {"dim": -1}), ("Softplus", {"beta": 2.0}),
    ("Softmin", {"dim": 0}), ("LogSigmoid", {}), ("ReLU6", {}), ("Hardtanh", {}),
    ("Mish", {}), ("Softsign", {}), ("Tanhshrink", {}), ("Identity", {}),
    ("Flatten", {}), ("Flatten", {"start_dim": 0}), ("Unflatten", {"dim": 1,
                                                                  "unflattened_size": (2, 2)}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=lambda v: str(v))
@SMALL
@given(x=float_arrays(shape=(3, 4), min_value=-4, max_value=4, avoid=(0.0, -1.0, 1.0, 6.0)))
def test_stateless_layers_match_torch(device, name, kw, x):
    n, t = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(n) == repr(t)
    compare_module(n, t, x, kind="transcendental", device=device)


def test_inplace_activations():
    for name, kw in [("ReLU", {"inplace": True}), ("LeakyReLU", {"inplace": True}),
                     ("ELU", {"inplace": True}), ("SiLU", {"inplace": True})]:
        x = random_array((3, 4))
        n, t = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(n) == repr(t)
        xn, xt = nr.tensor(x), torch.tensor(x)
        yn, yt = n(xn), t(xt)
        assert_close(yn, yt, kind="transcendental")
        assert_close(xn, xt, kind="transcendental")        # the input was overwritten


@SMALL
@given(st.sampled_from([(4,), (3, 4), (2, 3)]), st.integers(1, 3), st.booleans(),
       st.booleans())
def test_layernorm_matches_torch(device, shape, batch, affine, bias):
    t = torch.nn.LayerNorm(shape, elementwise_affine=affine, bias=bias)
    with torch.no_grad():
        for p in t.parameters():
            p.normal_()
    n = load_from_torch(nn.LayerNorm(shape, elementwise_affine=affine, bias=bias), t)
    compare_module(n, t, random_array((batch, 2) + shape, seed=batch), device=device)


@SMALL
@given(st.integers(2, 6), st.integers(1, 4), st.sampled_from([None, 3]), st.booleans())
def test_batchnorm1d_train_matches_torch(device, batch, c, length, affine):
    t = torch.nn.BatchNorm1d(c, affine=affine)
    if affine:
        with torch.no_grad():
            t.weight.normal_()
            t.bias.normal_()
    n = load_from_torch(nn.BatchNorm1d(c, affine=affine), t)
    shape = (batch, c) if length is None else (batch, c, length)
    compare_module(n, t, random_array(shape, seed=batch * c), device=device)
    same_state(n, t)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape", [(8, 3), (5, 3, 4)])
def test_batchnorm1d_running_stats_then_eval(momentum, shape):
    t = torch.nn.BatchNorm1d(3, momentum=momentum)
    n = load_from_torch(nn.BatchNorm1d(3, momentum=momentum), t)
    rng = np.random.default_rng(0)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        compare_module(n, t, x, seed=step)
        same_state(n, t, kind="matmul")
    assert n.num_batches_tracked.item() == 4
    n.eval(), t.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    compare_module(n, t, x)
    same_state(n, t, kind="matmul")                # eval doesn't touch the buffers
    one = rng.standard_normal((1,) + shape[1:]).astype(np.float32)
    compare_module(n, t, one)                      # a single sample works in eval mode
    n.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        n(nr.tensor(one[:, :, :1] if len(shape) == 3 else one))


def test_batchnorm_without_running_stats_and_2d():
    t = torch.nn.BatchNorm1d(3, track_running_stats=False)
    n = load_from_torch(nn.BatchNorm1d(3, track_running_stats=False), t)
    x = random_array((6, 3))
    compare_module(n, t, x)
    n.eval(), t.eval()
    compare_module(n, t, x)                        # still batch statistics
    t2 = torch.nn.BatchNorm2d(2)
    n2 = load_from_torch(nn.BatchNorm2d(2), t2)
    compare_module(n2, t2, random_array((3, 2, 4, 5)))
    same_state(n2, t2, kind="matmul")
    with pytest.raises(ValueError, match="expected 2D or 3D"):
        nn.BatchNorm1d(3)(nr.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(3)(nr.zeros(2, 4))


def test_embedding_matches_torch():
    t = torch.nn.Embedding(10, 4, padding_idx=1)
    n = load_from_torch(nn.Embedding(10, 4, padding_idx=1), t)
    ids = np.array([[1, 2, 3], [9, 1, 0]])
    compare_module(n, t, ids, integer_input=True, kind="exact")
    assert repr(n) == repr(t)
    fixed = nn.Embedding.from_pretrained(nr.ones(3, 2))
    assert not fixed.weight.requires_grad


# ============================================================================ fused ops

def _unfused_layer_norm(x, k, w, b, eps):
    dims = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(dim=dims, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=dims, keepdim=True)
    y = (x - mu) / (var + eps).sqrt()
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def _unfused_batch_norm(x, w, b, eps):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(dim=dims, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=dims, keepdim=True)
    return (x - mu) / (var + eps).sqrt() * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("affine", ["wb", "w", "b", ""])
def test_layer_norm_fused_vs_unfused_and_gradcheck(affine):
    x = random_array((3, 2, 4), seed=1)
    w = random_array((2, 4), seed=2) if "w" in affine else None
    b = random_array((2, 4), seed=3) if "b" in affine else None
    args = [a for a in (x, w, b) if a is not None]

    def split(*ts):
        ts = list(ts)
        xx = ts.pop(0)
        ww = ts.pop(0) if w is not None else None
        bb = ts.pop(0) if b is not None else None
        return xx, ww, bb

    def fused(*ts):
        xx, ww, bb = split(*ts)
        return F.layer_norm(xx, (2, 4), ww, bb, 1e-5)

    def unfused(*ts):
        xx, ww, bb = split(*ts)
        return _unfused_layer_norm(xx, 2, ww, bb, 1e-5)

    tn = [nr.tensor(a, requires_grad=True) for a in args]
    tu = [nr.tensor(a, requires_grad=True) for a in args]
    yf, yu = fused(*tn), unfused(*tu)
    np.testing.assert_allclose(yf.detach().numpy(), yu.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = nr.tensor(random_array(yf.shape, seed=9))
    yf.backward(g)
    yu.backward(g)
    for a, c in zip(tn, tu):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-4, atol=1e-5)
    gradcheck64(fused, *args)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3)])
def test_batch_norm_fused_vs_unfused_and_gradcheck(shape):
    x = random_array(shape, seed=4)
    w, b = random_array((shape[1],), seed=5), random_array((shape[1],), seed=6)
    tn = [nr.tensor(a, requires_grad=True) for a in (x, w, b)]
    tu = [nr.tensor(a, requires_grad=True) for a in (x, w, b)]
    yf = F.batch_norm(tn[0], None, None, tn[1], tn[2], training=True)
    yu = _unfused_batch_norm(*tu, 1e-5)
    np.testing.assert_allclose(yf.detach().numpy(), yu.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = nr.tensor(random_array(shape, seed=7))
    yf.backward(g)
    yu.backward(g)
    for a, c in zip(tn, tu):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-4, atol=1e-4)
    gradcheck64(lambda xx, ww, bb: F.batch_norm(xx, None, None, ww, bb, training=True),
                x, w, b)
    rm = nr.tensor(random_array((shape[1],), seed=8), dtype=nr.float64)
    rv = nr.tensor(random_array((shape[1],), low=0.5, high=2, seed=9), dtype=nr.float64)
    gradcheck64(lambda xx, ww, bb: F.batch_norm(xx, rm, rv, ww, bb, training=False),
                x, w, b)
    gradcheck64(lambda xx: F.batch_norm(xx, None, None, training=True), x)


def test_normalization_errors():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(nr.zeros(2, 3), (4,))
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        F.batch_norm(nr.zeros(2, 3), nr.zeros(4), nr.ones(3), training=True)


def test_layer_norm_float16_input():
    x = random_array((2, 8)).astype(np.float16)
    y = F.layer_norm(nr.tensor(x), (8,))
    yt = torch.nn.functional.layer_norm(torch.tensor(x), (8,))
    assert y.dtype == nr.float16
    np.testing.assert_allclose(y.numpy().astype(np.float32), yt.numpy().astype(np.float32),
                               atol=1e-2)


# ============================================================================ losses

LOSSES = [
    ("MSELoss", {}, "float"), ("L1Loss", {"reduction": "sum"}, "float"),
    ("HuberLoss", {"delta": 0.5}, "float"), ("SmoothL1Loss", {"beta": 0.7}, "float"),
    ("BCELoss", {}, "prob"), ("BCEWithLogitsLoss", {"pos_weight": [1.0, 2.0, 0.5, 3.0]},
                              "prob"),
    ("BCEWithLogitsLoss", {"weight": [1.0, 2.0, 0.5, 3.0], "reduction": "none"}, "prob"),
    ("CrossEntropyLoss", {}, "class"),
    ("CrossEntropyLoss", {"weight": [1.0, 2.0, 0.5, 3.0], "label_smoothing": 0.1}, "class"),
    ("CrossEntropyLoss", {"ignore_index": 2, "reduction": "sum"}, "class"),
    ("NLLLoss", {}, "class"), ("KLDivLoss", {"reduction": "batchmean"}, "logprob"),
]


@pytest.mark.parametrize("name,kw,target_kind", LOSSES, ids=lambda v: str(v))
def test_loss_modules_match_torch(name, kw, target_kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    if name in ("BCELoss",):
        x = 1 / (1 + np.exp(-x))
    if name in ("NLLLoss", "KLDivLoss"):
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
    if target_kind == "class":
        y = np.array([0, 3, 2, 1, 2])
    elif target_kind == "prob":
        y = rng.uniform(0, 1, (5, 4)).astype(np.float32)
    elif target_kind == "logprob":
        y = rng.uniform(0.1, 1, (5, 4)).astype(np.float32)
        y /= y.sum(1, keepdims=True)
    else:
        y = rng.standard_normal((5, 4)).astype(np.float32)
    nkw = {k: (nr.tensor(v) if isinstance(v, list) else v) for k, v in kw.items()}
    tkw = {k: (torch.tensor(v) if isinstance(v, list) else v) for k, v in kw.items()}
    n, t = getattr(nn, name)(**nkw), getattr(torch.nn, name)(**tkw)
    assert repr(n) == repr(t)
    xn, xt = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ln, lt = n(xn, nr.tensor(y)), t(xt, torch.tensor(y))
    assert_close(ln, lt, kind="transcendental")
    ln.sum().backward()
    lt.sum().backward()
    assert_close(xn.grad, xt.grad, kind="transcendental")
    assert [k for k, _ in n.named_buffers()] == [k for k, _ in t.named_buffers()]


def test_cross_entropy_bad_label_message():
    with pytest.raises(Exception) as e:
        nn.CrossEntropyLoss()(nr.zeros(3, 10), nr.tensor([1, 10, 2]))
    msg = str(e.value)
    assert "10 classes" in msg and "target 10" in msg


# ============================================================================ init

def test_calculate_gain_matches_torch():
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                  ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nl, p) == pytest.approx(
            torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swish")


def test_init_statistics():
    nr.manual_seed(0)
    w = nr.empty(256, 512)
    fan_in, fan_out = 512, 256

    def stats(t):
        a = t.numpy()
        return a.mean(), a.std(), np.abs(a).max()

    nn.init.uniform_(w, -0.3, 0.5)
    a = w.numpy()
    assert a.min() >= -0.3 and a.max() < 0.5 and abs(a.mean() - 0.1) < 0.01
    nn.init.normal_(w, 1.0, 2.0)
    m, s, _ = stats(w)
    assert abs(m - 1) < 0.02 and abs(s - 2) < 0.02
    b = math.sqrt(6 / (fan_in + fan_out)) * 2.0
    nn.init.xavier_uniform_(w, gain=2.0)
    m, s, mx = stats(w)
    assert mx <= b and mx > 0.99 * b and abs(s - b / math.sqrt(3)) < 0.01 * b
    nn.init.xavier_normal_(w)
    assert abs(stats(w)[1] - math.sqrt(2 / (fan_in + fan_out))) < 0.01 * math.sqrt(
        2 / (fan_in + fan_out))
    for mode, fan in [("fan_in", fan_in), ("fan_out", fan_out)]:
        nn.init.kaiming_uniform_(w, mode=mode, nonlinearity="relu")
        bound = math.sqrt(2) * math.sqrt(3 / fan)
        m, s, mx = stats(w)
        assert mx <= bound and mx > 0.99 * bound
        nn.init.kaiming_normal_(w, a=0.1, mode=mode, nonlinearity="leaky_relu")
        std = torch.nn.init.calculate_gain("leaky_relu", 0.1) / math.sqrt(fan)
        assert abs(stats(w)[1] - std) < 0.01 * std
    nn.init.trunc_normal_(w, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = w.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    tt = torch.empty(256, 512)
    torch.nn.init.trunc_normal_(tt, 0.5, 1.0, -1.0, 1.5)
    assert abs(a.mean() - tt.mean().item()) < 0.01 and abs(a.std() - tt.std().item()) < 0.01
    nn.init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    nn.init.zeros_(w), nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    e = nn.init.eye_(nr.empty(3, 4))
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 4))
    q = nn.init.orthogonal_(nr.empty(4, 6), gain=2.0).numpy()
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-5)
    q = nn.init.orthogonal_(nr.empty(6, 4)).numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    k = nn.init.dirac_(nr.empty(2, 2, 3))
    tk = torch.nn.init.dirac_(torch.empty(2, 2, 3))
    np.testing.assert_array_equal(k.numpy(), tk.numpy())
    with pytest.raises(ValueError, match="fewer than 2"):
        nn.init.xavier_uniform_(nr.empty(3))


def test_init_is_seeded_in_place_and_not_recorded():
    p = nn.Parameter(nr.empty(3, 4))
    g1 = nr.Generator().manual_seed(5)
    g2 = nr.Generator().manual_seed(5)
    a = nn.init.kaiming_uniform_(p, generator=g1)
    assert a is p and p.grad_fn is None and p.requires_grad
    first = p.detach().numpy().copy()
    nn.init.kaiming_uniform_(p, generator=g2)
    np.testing.assert_array_equal(p.detach().numpy(), first)
    nr.manual_seed(1)
    x = nn.init.normal_(nr.empty(5)).numpy().copy()
    nr.manual_seed(1)
    np.testing.assert_array_equal(nn.init.normal_(nr.empty(5)).numpy(), x)
    w64 = nn.init.xavier_uniform_(nr.empty(3, 3, dtype=nr.float64))
    assert w64.dtype == nr.float64


# ============================================================================ clipping

@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.1, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    t = TMLP()
    n = load_from_torch(NMLP(), t)
    x = random_array((6, 3), seed=2)
    n(nr.tensor(x)).pow(2).sum().backward()
    t(torch.tensor(x)).pow(2).sum().backward()
    tn = nn.utils.clip_grad_norm_(n.parameters(), max_norm, norm_type)
    tt = torch.nn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    assert isinstance(tn, nr.Tensor) and tn.ndim == 0
    assert_close(tn, tt, kind="matmul")
    for (k, a), (_, b) in zip(n.named_parameters(), t.named_parameters()):
        assert_close(a.grad, b.grad, kind="matmul", what=k)


def test_clip_grad_edge_cases():
    p = nn.Parameter(nr.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0        # no gradients
    p.grad = nr.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    q = nn.Parameter(nr.ones(3))
    q.grad = nr.tensor([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([q], 1.0)
    np.testing.assert_array_equal(q.grad.numpy(), [-1.0, 0.5, 1.0])


def test_parameters_to_vector_and_back():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    load_from_torch(m, t)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert_close(v.detach(), torch.nn.utils.parameters_to_vector(t.parameters()).detach())
    w = m[0].weight
    nn.utils.vector_to_parameters(nr.zeros(v.shape[0]), m.parameters())
    assert m[0].weight is w and not w.detach().numpy().any()


# ============================================================================ end to end

def test_small_training_run_matches_torch():
    """A few SGD steps by hand on the same weights give the same weights in both."""
    t = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.GELU(),
                            torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
    n = load_from_torch(nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.GELU(),
                                      nn.LayerNorm(8), nn.Linear(8, 3)), t)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((16, 4)).astype(np.float32)
        y = rng.integers(0, 3, 16)
        ln = nn.CrossEntropyLoss()(n(nr.tensor(x)), nr.tensor(y))
        lt = torch.nn.CrossEntropyLoss()(t(torch.tensor(x)), torch.tensor(y))
        assert_close(ln, lt, kind="transcendental")
        n.zero_grad()
        t.zero_grad()
        ln.backward()
        lt.backward()
        with nr.no_grad():
            for p in n.parameters():
                p._data -= 0.1 * p.grad._data
        with torch.no_grad():
            for p in t.parameters():
                p -= 0.1 * p.grad
    same_state(n, t, kind="transcendental")
