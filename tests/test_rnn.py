"""RNN / LSTM / GRU, their cells, and nn.utils.rnn packing: parity with PyTorch (forward,
backward, state_dicts both ways), the fused layer against the unfused cell composition,
float64 gradient checks, long sequences, dropout, truncated BPTT and error messages."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import neurona
import neurona.nn as nn
from neurona.nn.utils import rnn as nrnn
from helpers import assert_close, gradcheck64, random_array, to_numpy

MODES = ["RNN", "RNN_relu", "LSTM", "GRU"]


def _make(mode, *args, **kw):
    """A torch module and a neurona module with the same weights."""
    name = "RNN" if mode.startswith("RNN") else mode
    if mode == "RNN_relu":
        kw["nonlinearity"] = "relu"
    tm = getattr(torch.nn, name)(*args, **kw)
    nm = getattr(nn, name)(*args, **kw)
    nm.load_state_dict({k: neurona.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    return nm, tm


def _flat(out):
    """(output, h_n) or (output, (h_n, c_n)) -> list of tensors."""
    o, h = out
    if isinstance(o, (nrnn.PackedSequence, torch.nn.utils.rnn.PackedSequence)):
        o = o.data
    return [o] + (list(h) if isinstance(h, tuple) else [h])


def _backward_both(n_outs, t_outs, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in t_outs]
    neurona.autograd.backward(n_outs, [neurona.tensor(g, device=device) for g in gs])
    torch.autograd.backward(t_outs, [torch.tensor(g, device=device) for g in gs])


def _compare_grads(nm, tm, pairs=()):
    tp = dict(tm.named_parameters())
    for k, p in nm.named_parameters():
        assert_close(p.grad, tp[k].grad, kind="matmul", rtol=2e-4, atol=2e-5,
                     what=f"grad of {k}")
    for n, t in pairs:
        assert_close(n.grad, t.grad, kind="matmul", rtol=2e-4, atol=2e-5, what="input grad")


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(MODES), num_layers=st.integers(1, 2), bidir=st.booleans(),
       batch_first=st.booleans(), bias=st.booleans(), with_h0=st.booleans(),
       T=st.sampled_from([1, 2, 5]), N=st.integers(1, 3), unbatched=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_parity_with_torch(device, mode, num_layers, bidir, batch_first, bias, with_h0, T, N,
                           unbatched, seed):
    torch.manual_seed(seed)
    H_in, H = 4, 5
    nm, tm = _make(mode, H_in, H, num_layers=num_layers, bidirectional=bidir,
                   batch_first=batch_first, bias=bias)
    nm.to(device), tm.to(device)
    D = 2 if bidir else 1
    shape = (T, H_in) if unbatched else ((N, T, H_in) if batch_first else (T, N, H_in))
    x = random_array(shape, seed=seed)
    nx = neurona.tensor(x, requires_grad=True, device=device)
    tx = torch.tensor(x, requires_grad=True, device=device)
    n_args, t_args, pairs = [nx], [tx], [(nx, tx)]
    if with_h0:
        hs = (D * num_layers, H) if unbatched else (D * num_layers, N, H)
        states = [random_array(hs, seed=seed + 1 + i, low=-1, high=1)
                  for i in range(2 if mode == "LSTM" else 1)]
        ns = [neurona.tensor(s, requires_grad=True, device=device) for s in states]
        ts = [torch.tensor(s, requires_grad=True, device=device) for s in states]
        pairs += list(zip(ns, ts))
        n_args.append(tuple(ns) if mode == "LSTM" else ns[0])
        t_args.append(tuple(ts) if mode == "LSTM" else ts[0])
    n_outs, t_outs = _flat(nm(*n_args)), _flat(tm(*t_args))
    for n, t in zip(n_outs, t_outs):
        if device != "cpu":
            assert n.device.type == device
        assert_close(n, t, kind="transcendental")
    _backward_both(n_outs, t_outs, seed, device)
    _compare_grads(nm, tm, pairs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("bidir", [False, True])
def test_packed_sequences(device, mode, enforce_sorted, bidir):
    torch.manual_seed(0)
    lengths = [5, 3, 3, 1] if enforce_sorted else [2, 5, 1, 4]
    nm, tm = _make(mode, 3, 4, num_layers=2, bidirectional=bidir, batch_first=True)
    nm.to(device), tm.to(device)
    x = random_array((4, 5, 3), seed=1)
    nx = neurona.tensor(x, requires_grad=True, device=device)
    tx = torch.tensor(x, requires_grad=True, device=device)
    D = 2 if bidir else 1
    h0 = random_array((2 * D, 4, 4), seed=2, low=-1, high=1)
    nh = neurona.tensor(h0, requires_grad=True, device=device)
    th = torch.tensor(h0, requires_grad=True, device=device)
    nst = (nh, nh * 0.5) if mode == "LSTM" else nh
    tst = (th, th * 0.5) if mode == "LSTM" else th
    np_ = nrnn.pack_padded_sequence(nx, lengths, batch_first=True,
                                    enforce_sorted=enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=True,
                                                 enforce_sorted=enforce_sorted)
    assert np.array_equal(np_.batch_sizes.numpy(), tp.batch_sizes.numpy())
    assert_close(np_.data, tp.data)
    nout, tout = nm(np_, nst), tm(tp, tst)
    n_outs, t_outs = _flat(nout), _flat(tout)
    for n, t in zip(n_outs, t_outs):
        assert_close(n, t, kind="transcendental")
    # padded view: zeros at the pads, lengths back in the original order
    npad, nlen = nrnn.pad_packed_sequence(nout[0], batch_first=True)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(tout[0], batch_first=True)
    assert_close(npad, tpad, kind="transcendental")
    assert np.array_equal(nlen.numpy(), tlen.numpy())
    _backward_both([npad] + n_outs[1:], [tpad] + t_outs[1:], device=device)
    _compare_grads(nm, tm, [(nx, tx), (nh, th)])


def test_pad_sequence_and_pack_sequence():
    seqs = [random_array((n, 2), seed=n) for n in (3, 1, 4)]
    for bf in (False, True):
        for side in ("right", "left"):
            n = nrnn.pad_sequence([neurona.tensor(s) for s in seqs], batch_first=bf,
                                  padding_value=-1.0, padding_side=side)
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs],
                                                batch_first=bf, padding_value=-1.0,
                                                padding_side=side)
            assert_close(n, t)
    n = nrnn.pack_sequence([neurona.tensor(s) for s in seqs], enforce_sorted=False)
    t = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    assert_close(n.data, t.data)
    assert np.array_equal(n.sorted_indices.numpy(), t.sorted_indices.numpy())
    assert np.array_equal(n.unsorted_indices.numpy(), t.unsorted_indices.numpy())
    for a, b in zip(nrnn.unpack_sequence(n), seqs):
        np.testing.assert_array_equal(to_numpy(a), b)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        nrnn.pack_padded_sequence(neurona.zeros(4, 2, 1), [1, 3])


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_both_ways(mode):
    torch.manual_seed(3)
    nm, tm = _make(mode, 3, 6, num_layers=2, bidirectional=True)
    assert list(nm.state_dict()) == list(tm.state_dict())
    for k, v in nm.state_dict().items():
        assert tuple(v.shape) == tuple(tm.state_dict()[k].shape)
    # neurona -> torch
    nm2 = _make(mode, 3, 6, num_layers=2, bidirectional=True)[0]
    tm.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in nm2.state_dict().items()})
    x = random_array((4, 2, 3))
    assert_close(_flat(nm2(neurona.tensor(x)))[0], _flat(tm(torch.tensor(x)))[0],
                 kind="transcendental")


def test_init_range():
    m = nn.LSTM(10, 16, num_layers=2)
    for p in m.parameters():
        assert np.abs(to_numpy(p)).max() <= 0.25
        assert to_numpy(p).std() > 0.1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidir", [False, True])
def test_fused_layer_matches_unfused_cells(mode, bidir):
    nm = _make(mode, 3, 4, num_layers=2, bidirectional=bidir)[0]
    x = random_array((6, 2, 3))
    res = []
    for fused in (True, False):
        nm._fused = fused
        nm.zero_grad()
        nx = neurona.tensor(x, requires_grad=True)
        outs = _flat(nm(nx))
        neurona.autograd.backward(outs, [neurona.ones_like(o) for o in outs])
        res.append([to_numpy(o) for o in outs] + [nx.grad.numpy()] +
                   [p.grad.numpy() for p in nm.parameters()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cells_parity(device, mode, bias, unbatched):
    torch.manual_seed(1)
    name = {"RNN": "RNNCell", "RNN_relu": "RNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}[mode]
    kw = {"nonlinearity": "relu"} if mode == "RNN_relu" else {}
    tc = getattr(torch.nn, name)(3, 5, bias=bias, **kw)
    nc = getattr(nn, name)(3, 5, bias=bias, **kw)
    nc.load_state_dict({k: neurona.tensor(v.detach().numpy()) for k, v in
                        tc.state_dict().items()})
    nc.to(device), tc.to(device)
    shape = (3,) if unbatched else (4, 3)
    hshape = (5,) if unbatched else (4, 5)
    x = random_array(shape)
    hs = [random_array(hshape, seed=i + 1, low=-1, high=1)
          for i in range(2 if mode == "LSTM" else 1)]
    nx = neurona.tensor(x, requires_grad=True, device=device)
    tx = torch.tensor(x, requires_grad=True, device=device)
    nh = [neurona.tensor(h, requires_grad=True, device=device) for h in hs]
    th = [torch.tensor(h, requires_grad=True, device=device) for h in hs]
    no = nc(nx, tuple(nh) if mode == "LSTM" else nh[0])
    to = tc(tx, tuple(th) if mode == "LSTM" else th[0])
    no, to = (list(no), list(to)) if mode == "LSTM" else ([no], [to])
    for n, t in zip(no, to):
        assert_close(n, t, kind="transcendental")
    _backward_both(no, to, device=device)
    _compare_grads(nc, tc, [(nx, tx)] + list(zip(nh, th)))
    # no state: zeros
    assert_close(_flat((nc(nx), ()))[0] if mode != "LSTM" else nc(nx)[0],
                 tc(tx) if mode != "LSTM" else tc(tx)[0], kind="transcendental")


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_float64(mode):
    name = "RNN" if mode.startswith("RNN") else mode
    kw = {"nonlinearity": "relu"} if mode == "RNN_relu" else {}
    neurona.manual_seed(0)            # fixed weights: relu's kink stays away from the points
    m = getattr(nn, name)(2, 3, num_layers=2, bidirectional=True, dtype=neurona.float64, **kw)
    params = list(m.parameters())
    names = [k for k, _ in m.named_parameters()]
    x = random_array((3, 2, 2), dtype=np.float64)
    h = random_array((4, 2, 3), dtype=np.float64, low=-1, high=1)

    def f(x, h, *ps):
        for k, p in zip(names, ps):
            m._parameters[k] = p      # plain tensors stand in for the parameters
        st = (h, h * 0.5) if mode == "LSTM" else h
        return _flat(m(x, st))

    gradcheck64(f, x, h, *[p.detach().numpy() for p in params])


def test_gradcheck_packed_float64():
    m = nn.GRU(2, 3, bidirectional=True, dtype=neurona.float64)
    x = random_array((4, 3, 2), dtype=np.float64)

    def f(x):
        p = nrnn.pack_padded_sequence(x, [4, 2, 1])
        out, h = m(p)
        return nrnn.pad_packed_sequence(out)[0], h

    gradcheck64(f, x)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_long_sequence_backward(mode):
    m = getattr(nn, mode)(8, 16)
    x = neurona.tensor(random_array((1000, 2, 8)), requires_grad=True)
    out, _ = m(x)
    out[-1].sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert np.abs(x.grad.numpy()[-1]).sum() > 0


def test_truncated_bptt_detach():
    torch.manual_seed(0)
    nm, tm = _make("LSTM", 3, 4)
    x = random_array((8, 2, 3))
    nstate, tstate = None, None
    for chunk in (slice(0, 4), slice(4, 8)):
        nm.zero_grad()
        tm.zero_grad()
        no, nstate = nm(neurona.tensor(x[chunk]), nstate)
        to, tstate = tm(torch.tensor(x[chunk]), tstate)
        no.sum().backward()
        to.sum().backward()
        _compare_grads(nm, tm)
        nstate = tuple(s.detach() for s in nstate)
        tstate = tuple(s.detach() for s in tstate)
        assert not nstate[0].requires_grad


def test_dropout_only_in_training():
    m = nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = neurona.tensor(random_array((5, 3, 4)))
    m.eval()
    a, b = to_numpy(m(x)[0]), to_numpy(m(x)[0])
    np.testing.assert_array_equal(a, b)
    m._fused = False
    np.testing.assert_allclose(to_numpy(m(x)[0]), a, rtol=1e-5, atol=1e-6)
    m._fused = True
    m.train()
    c, d = to_numpy(m(x)[0]), to_numpy(m(x)[0])
    assert not np.allclose(c, a) and not np.allclose(c, d)
    # one layer: dropout has nothing to act on (PyTorch warns)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(4, 8, dropout=0.5)


def test_errors():
    m = nn.LSTM(10, 20, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM: expected input with last dimension 10 "
                                           r"\(input_size\), got shape \(5, 3, 7\)"):
        m(neurona.zeros(5, 3, 7))
    with pytest.raises(RuntimeError, match=r"LSTM: expected h0 of shape \(2, 3, 20\).*"
                                           r"got \(1, 3, 20\)"):
        m(neurona.zeros(5, 3, 10), (neurona.zeros(1, 3, 20), neurona.zeros(2, 3, 20)))
    with pytest.raises(RuntimeError, match=r"GRU: expected h0 of shape \(1, 3, 4\)"):
        nn.GRU(2, 4)(neurona.zeros(5, 3, 2), neurona.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="2D or 3D"):
        m(neurona.zeros(1, 5, 3, 10))
    with pytest.raises(RuntimeError, match="GRUCell: expected input with last dimension 3"):
        nn.GRUCell(3, 4)(neurona.zeros(2, 5))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")


def test_repr_and_all_weights():
    m = nn.GRU(3, 4, num_layers=2, batch_first=True)
    assert repr(m) == repr(torch.nn.GRU(3, 4, num_layers=2, batch_first=True))
    assert len(m.all_weights) == 2 and len(m.all_weights[0]) == 4
    m.flatten_parameters()
