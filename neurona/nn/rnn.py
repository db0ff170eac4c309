"""Recurrent layers with PyTorch's names, shapes and parameter layouts: ``RNN``, ``LSTM``,
``GRU`` and the one-step ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Shapes (L = sequence length, N = batch, D = 2 if bidirectional else 1):

* input (L, N, H_in), or (N, L, H_in) with ``batch_first``, or unbatched (L, H_in),
  or a ``nn.utils.rnn.PackedSequence``;
* h0 / c0 (D * num_layers, N, H) (unbatched: (D * num_layers, H)), zeros when omitted;
* output (L, N, D * H) -- the last layer's h_t, both directions concatenated;
  h_n (and c_n for LSTM): the final state of every layer and direction.

Parameters ``weight_ih_l{k}`` (G*H, H_in), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``,
``bias_hh_l{k}`` (G*H,) with G = 1 (RNN), 4 (LSTM: gates i, f, g, o), 3 (GRU: r, z, n), and
``_reverse`` for the backward direction -- so a PyTorch state_dict loads unchanged.

How it runs: for each layer and direction, ONE GEMM projects the whole sequence
(X W_ih^T + b_ih), then one fused op (``ops.recurrent.LSTMLayer`` ...) runs the recurrence
with one GEMM per step and a hand-written backpropagation through time.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import creation
from ..autograd import function as _fn
from ..backend import xp_of
from ..ops import recurrent as R
from ..ops.dropout import dropout as _dropout
from ..ops.linalg import linear as _linear
from ..ops.shape import cat as _cat, stack as _stack, transpose as _transpose
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, _packed_layout, _gather_with_pad

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape(t):
    return tuple(t.shape)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, shape checks, layers and directions."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or \
                isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if proj_size:
            raise NotImplementedError("proj_size (LSTM with projections) is not supported")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self._fused = True          # False: the unfused reference (cells step by step)
        G = _GATES[mode] * hidden_size
        D = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_size = input_size if layer == 0 else hidden_size * D
                shapes = [("weight_ih", (G, in_size)), ("weight_hh", (G, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
                for name, shape in shapes:
                    setattr(self, name + sfx,
                            Parameter(creation.empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    @property
    def _name(self):
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch code that calls it (cuDNN's packed weights; neurona
        reads the parameters directly)."""

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in self._flat_weights_names[i:i + (4 if self.bias else 2)]]
                for i in range(0, len(self._flat_weights_names), 4 if self.bias else 2)]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # ------------------------------------------------------------------ checks
    def _check_input(self, input):
        name = self._name
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor "
                             f"of shape {_shape(input)} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: expected input with last dimension {self.input_size} (input_size), "
                f"got shape {_shape(input)}")
        if input._data.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating point input, got dtype "
                            f"{input.dtype}")

    def _check_hidden(self, h, N, unbatched, which):
        D = 2 if self.bidirectional else 1
        want = (D * self.num_layers,) + (() if unbatched else (N,)) + (self.hidden_size,)
        if _shape(h) != want:
            what = "(num_layers * num_directions, " + ("" if unbatched else "batch, ") + \
                "hidden_size)"
            raise RuntimeError(f"{self._name}: expected {which} of shape {want} {what}, got "
                               f"{_shape(h)}")

    # ------------------------------------------------------------------ forward
    def forward(self, input, hx=None):
        is_lstm = self.mode == "LSTM"
        mask = None
        packed = isinstance(input, PackedSequence)
        if packed:
            data = input.data
            if data.ndim != 2 or data.shape[-1] != self.input_size:
                raise RuntimeError(
                    f"{self._name}: expected input with last dimension {self.input_size} "
                    f"(input_size), got shape {_shape(data)}")
            m = _packed_layout(input.batch_sizes)
            idx = np.full(m.shape, data.shape[0], np.int64)
            idx[m] = np.arange(data.shape[0])
            x = _gather_with_pad(data, idx)
            mask = xp_of(data._data).asarray(m)
            unbatched = False
            if hx is not None and input.sorted_indices is not None:
                si = input.sorted_indices._data
                hx = tuple(h[:, si] for h in hx) if is_lstm else hx[:, si]
        else:
            self._check_input(input)
            unbatched = input.ndim == 2
            if unbatched:
                x = input.unsqueeze(1)
            elif self.batch_first:
                x = _transpose(input, 0, 1)
            else:
                x = input
        T, N = x.shape[0], x.shape[1]
        D = 2 if self.bidirectional else 1
        H = self.hidden_size
        if hx is None:
            z = _fn._make(xp_of(x._data).zeros((D * self.num_layers, N, H), x._data.dtype))
            h0, c0 = z, z
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError("LSTM: hx must be a tuple (h0, c0)")
                h0, c0 = hx
                self._check_hidden(h0, N, unbatched, "h0")
                self._check_hidden(c0, N, unbatched, "c0")
            else:
                h0, c0 = hx, None
                self._check_hidden(h0, N, unbatched, "h0")
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
        hs, cs = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = _dropout(x, self.dropout, training=True)
            outs = []
            for d in range(D):
                k = layer * D + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih = getattr(self, "weight_ih" + sfx)
                w_hh = getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                res = self._layer(x, h0[k], c0[k] if is_lstm else None, w_ih, w_hh, b_ih, b_hh,
                                  bool(d), mask)
                outs.append(res[0])
                hs.append(res[1])
                if is_lstm:
                    cs.append(res[2])
            x = outs[0] if D == 1 else _cat(outs, 2)
        h_n = _stack(hs, 0)
        c_n = _stack(cs, 0) if is_lstm else None
        if packed:
            out = x.reshape(T * N, D * H)[xp_of(x._data).asarray(np.flatnonzero(m))]
            out = PackedSequence(out, input.batch_sizes, input.sorted_indices,
                                 input.unsorted_indices)
            if input.unsorted_indices is not None:
                ui = input.unsorted_indices._data
                h_n = h_n[:, ui]
                c_n = c_n[:, ui] if is_lstm else None
        elif unbatched:
            out = x.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        else:
            out = _transpose(x, 0, 1) if self.batch_first else x
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def _layer(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, mask):
        """One layer, one direction: returns (out (T, N, H), h_n[, c_n])."""
        if not self._fused:
            if mask is not None:
                raise NotImplementedError("the unfused reference does not take packed input")
            return self._reference_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
        xproj = _linear(x, w_ih, b_ih)          # ONE GEMM for all steps and gates
        extra = (b_hh,) if b_hh is not None else ()
        if self.mode == "LSTM":
            return R.LSTMLayer.apply(xproj, h0, c0, w_hh, *extra, reverse=reverse, mask=mask)
        if self.mode == "GRU":
            return R.GRULayer.apply(xproj, h0, w_hh, *extra, reverse=reverse, mask=mask)
        return R.RNNLayer.apply(xproj, h0, w_hh, *extra, relu=self.mode == "RNN_RELU",
                                reverse=reverse, mask=mask)

    def _reference_layer(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
        """The unfused composition: the cell ops applied step by step through autograd."""
        T = x.shape[0]
        bs = (b_ih, b_hh) if b_ih is not None else ()
        h, c = h0, c0
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            if self.mode == "LSTM":
                h, c = R.LSTMCellFn.apply(x[t], h, c, w_ih, w_hh, *bs)
            elif self.mode == "GRU":
                h = R.GRUCellFn.apply(x[t], h, w_ih, w_hh, *bs)
            else:
                h = R.RNNCellFn.apply(x[t], h, w_ih, w_hh, *bs, relu=self.mode == "RNN_RELU")
            outs[t] = h
        out = _stack(outs, 0)
        return (out, h, c) if self.mode == "LSTM" else (out, h)


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``forward(input, h0=None)``
    returns (output, h_n).  Shapes: see the module docstring."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: per step, [i, f, g, o] = [sig, sig, tanh, sig](x W_ih^T + b_ih
    + h W_hh^T + b_hh), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, (h0, c0)=None)`` returns
    (output, (h_n, c_n)).  Shapes: see the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sig(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z}),
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h_t = (1 - z) n + z h_{t-1}.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, h0=None)`` returns (output, h_n)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# ---------------------------------------------------------------------- cells

class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        G = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(G, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(creation.empty(G, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(creation.empty(G, dtype=dtype, device=device))
            self.bias_hh = Parameter(creation.empty(G, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def _prepare(self, input, hx, n_states):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             f"tensor of shape {_shape(input)} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: expected input with last dimension {self.input_size} "
                               f"(input_size), got shape {_shape(input)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        N, H = x.shape[0], self.hidden_size
        if hx is None:
            z = _fn._make(xp_of(x._data).zeros((N, H), x._data.dtype))
            states = [z] * n_states
        else:
            states = list(hx) if n_states == 2 else [hx]
            want = (H,) if unbatched else (N, H)
            for i, s in enumerate(states):
                if _shape(s) != want:
                    which = "hx" if n_states == 1 else ("h", "c")[i]
                    raise RuntimeError(f"{name}: expected {which} of shape {want}, got "
                                       f"{_shape(s)}")
            if unbatched:
                states = [s.unsqueeze(0) for s in states]
        bs = (self.bias_ih, self.bias_hh) if self.bias else ()
        return x, states, bs, unbatched


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), bs, unbatched = self._prepare(input, hx, 1)
        out = R.RNNCellFn.apply(x, h, self.weight_ih, self.weight_hh, *bs,
                                relu=self.nonlinearity == "relu")
        return out.squeeze(0) if unbatched else out


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c') (see ``LSTM``)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, (h, c), bs, unbatched = self._prepare(input, hx, 2)
        h, c = R.LSTMCellFn.apply(x, h, c, self.weight_ih, self.weight_hh, *bs)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: returns h' (see ``GRU``)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), bs, unbatched = self._prepare(input, hx, 1)
        out = R.GRUCellFn.apply(x, h, self.weight_ih, self.weight_hh, *bs)
        return out.squeeze(0) if unbatched else out
