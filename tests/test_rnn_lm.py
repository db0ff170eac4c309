"""The recurrent language model (neurona.models.RNNLanguageModel) against a PyTorch twin."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurona as nr
from helpers import assert_same_grads
from neurona import models


class TorchTwin(torch.nn.Module):
    def __init__(self, V, E, H, L, cell, tie):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
            E, H, L, batch_first=True)
        self.decoder = torch.nn.Linear(H, V)
        if tie:
            self.decoder.weight = self.embedding.weight

    def forward(self, x, state=None):
        out, state = self.rnn(self.embedding(x), state)
        return self.decoder(out), state


@pytest.mark.parametrize("cell,tie", [("lstm", True), ("gru", False), ("rnn", False)])
def test_logits_and_gradients_match_torch(cell, tie):
    nr.manual_seed(0)
    V, E, L = 40, 16, 2
    model = models.RNNLanguageModel(V, E, E, L, cell=cell, tie_weights=tie)
    twin = TorchTwin(V, E, E, L, cell, tie)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x = np.random.default_rng(1).integers(0, V, (3, 9))
    y = np.random.default_rng(2).integers(0, V, 27)
    logits, _ = model(nr.tensor(x))
    tl, _ = twin(torch.tensor(x))
    np.testing.assert_allclose(logits.detach().numpy(), tl.detach().numpy(), atol=2e-5)
    nr.nn.functional.cross_entropy(logits.reshape(-1, V), nr.tensor(y)).backward()
    torch.nn.functional.cross_entropy(tl.reshape(-1, V), torch.tensor(y)).backward()
    assert_same_grads(model, twin, atol=2e-5)


def test_state_carries_the_sequence_on_and_detach_cuts_the_graph():
    nr.manual_seed(0)
    model = models.RNNLanguageModel(30, 8, 12, 2).eval()
    x = nr.tensor(np.random.default_rng(0).integers(0, 30, (2, 10)))
    whole, _ = model(x)
    first, state = model(x[:, :6])
    rest, _ = model(x[:, 6:], models.detach_state(state))
    both = np.concatenate([first.detach().numpy(), rest.detach().numpy()], axis=1)
    np.testing.assert_allclose(both, whole.detach().numpy(), atol=1e-5)
    assert all(s.grad_fn is None for s in models.detach_state(state))
    zero = model.init_state(2)
    np.testing.assert_allclose(model(x, zero)[0].detach().numpy(), whole.detach().numpy())


def test_checkpoint_round_trip_keeps_tied_weights(tmp_path):
    model = models.RNNLanguageModel(25, 10, 10, 1, tie_weights=True)
    path = models.save_checkpoint(model, tmp_path / "lm.safetensors", note="x")
    again, extra = models.load_checkpoint(path)
    assert again.decoder.weight is again.embedding.weight and extra["note"] == "x"
    x = nr.tensor([[1, 2, 3]])
    np.testing.assert_array_equal(again(x)[0].detach().numpy(),
                                  model.eval()(x)[0].detach().numpy())


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="tie_weights needs embedding_dim == hidden_size"):
        models.RNNLanguageModel(10, 8, 16, tie_weights=True)
    with pytest.raises(ValueError, match="cell must be one of"):
        models.RNNLanguageModel(10, cell="transformer")
    model = models.RNNLanguageModel(10, 4, 4, 1)
    with pytest.raises(TypeError, match="integer token ids"):
        model(nr.zeros((1, 3)))
    with pytest.raises(ValueError, match="empty sequence"):
        model(nr.tensor(np.zeros((1, 0), np.int64)))
