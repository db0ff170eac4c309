"""The course's models, ready to train.

    from neurona import models
    models.available()          # ['alexnet', 'alexnet-cifar', 'lenet5', 'linear-regression', ...]
    model = models.get("mlp", in_features=64, hidden=(64,), out_features=10)

| name | class | what it is |
| --- | --- | --- |
| ``linear-regression`` | :class:`LinearRegression` | h = theta^T x; normal equations or gradient descent |
| ``logistic-regression`` | :class:`LogisticRegression` | h = sigma(theta^T x); softmax for more classes |
| ``mlp`` | :class:`MLP` | feed-forward network from ``nn.Sequential`` |
| ``perceptron`` | :class:`Perceptron` | one neuron: step (perceptron rule) or sigmoid |
| ``lenet5`` | :class:`LeNet5` | LeCun et al. 1998: conv-pool-conv-pool-conv-fc-fc, 61,706 parameters |
| ``alexnet`` | :class:`AlexNet` | Krizhevsky et al. 2012, torchvision's layout: 61,100,840 parameters |
| ``alexnet-cifar`` | :class:`AlexNetCIFAR` | AlexNet's design sized for 32x32 CIFAR-10 images |
| ``embedding-bag`` | :class:`EmbeddingBagClassifier` | mean-pooled word embeddings -> feed-forward -> class scores |
| ``lstm-classifier`` | :class:`LSTMClassifier` | (Bi)LSTM over a packed batch -> final states -> class scores |
| ``recurrent-classifier`` | :class:`RecurrentClassifier` | embedding -> RNN/LSTM/GRU -> class from the last state h_T |
| ``rnn-lm`` | :class:`RNNLanguageModel` | embedding -> LSTM/GRU/RNN -> next-token scores (word or char) |
| ``bengio-nlm`` | :class:`BengioNLM` | Bengio et al. 2003: n-1 previous words -> embeddings -> tanh -> softmax |
| ``bilstm-tagger`` | :class:`BiLSTMTagger` | word embedding + char CNN -> BiLSTM -> a tag per word (POS tagging) |
| ``bert`` | :class:`BertModel` | BERT encoder (Hugging Face layout); :func:`from_pretrained`, :class:`SentenceEncoder` |
| ``gpt`` | :class:`GPT` | decoder-only Transformer LM (GPT-2 layout, KV cache); :func:`load_gpt2` |

``summary(model, input_size)`` prints a table of a network's layers, output shapes and
parameter counts (like Keras' ``model.summary()``).

Every model is an ``nn.Module`` that remembers its constructor arguments
(``model.get_config()``), so :func:`save_checkpoint` / :func:`load_checkpoint` can store
a model and rebuild it without knowing its class in advance.
"""
from __future__ import annotations

import os

from .linear import LinearRegression, LogisticRegression, HalfMSELoss
from .mlp import MLP
from .perceptron import Perceptron, LOGIC_GATES
from .lenet import LeNet5
from .alexnet import AlexNet, AlexNetCIFAR
from .text_classifiers import EmbeddingBagClassifier, LSTMClassifier
from .rnn_lm import RNNLanguageModel, detach_state
from .sequence_classifier import RecurrentClassifier
from .nlm import BengioNLM
from .tagger import BiLSTMTagger
from .bert import BertModel
from . import pretrained
from .pretrained import from_pretrained, SentenceEncoder, semantic_search
from .classifier_heads import SentenceClassifier
from .gpt import GPT, KVCache, load_gpt2
from .summary import summary, count_parameters

__all__ = ["LinearRegression", "LogisticRegression", "MLP", "Perceptron", "LOGIC_GATES",
           "LeNet5", "AlexNet", "AlexNetCIFAR", "EmbeddingBagClassifier", "LSTMClassifier",
           "RecurrentClassifier", "RNNLanguageModel", "detach_state", "BengioNLM",
           "BiLSTMTagger", "BertModel", "pretrained", "from_pretrained", "SentenceEncoder",
           "semantic_search", "SentenceClassifier", "GPT", "KVCache", "load_gpt2", "summary",
           "count_parameters",
           "HalfMSELoss", "get", "available",
           "save_checkpoint", "load_checkpoint", "CheckpointError"]

_REGISTRY = {cls.name: cls for cls in (LinearRegression, LogisticRegression, MLP, Perceptron,
                                       LeNet5, AlexNet, AlexNetCIFAR, EmbeddingBagClassifier,
                                       LSTMClassifier, RecurrentClassifier, RNNLanguageModel,
                                       BengioNLM, BiLSTMTagger, BertModel, GPT)}

CHECKPOINT_FORMAT = "neurona.models/1"


def available() -> list[str]:
    """The names :func:`get` accepts."""
    return sorted(_REGISTRY)


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; the models are: {', '.join(available())}")
    return key


def get(name: str, **kwargs):
    """Build the model called ``name`` (see :func:`available`) with ``kwargs``."""
    cls = _REGISTRY[_canonical(name)]
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise TypeError(f"models.get({name!r}): {e}") from None


class CheckpointError(ValueError):
    """A file that is not a model checkpoint, or one that does not fit its model."""


def save_checkpoint(model, path, **extra) -> str:
    """Write ``model`` (weights, name and constructor arguments) and ``extra`` (JSON-like
    values or arrays: preprocessing statistics, the dataset's name...) to ``path`` as a
    safetensors file."""
    from ..serialization import save
    if not getattr(model, "name", None) or not hasattr(model, "get_config"):
        raise TypeError(f"save_checkpoint: {type(model).__name__} is not a model of "
                        f"neurona.models (it has no name/get_config)")
    ckpt = {"format": CHECKPOINT_FORMAT, "model": model.name, "config": model.get_config(),
            "state_dict": model.state_dict(), "extra": extra}
    save(ckpt, path)
    return os.fspath(path)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`; return ``(model, extra)``
    with the weights loaded. Raises :class:`CheckpointError` with the reason when the file
    is missing, corrupt, not a model checkpoint, or does not fit its model."""
    from ..serialization import load
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = load(path)
    except Exception as e:     # any reason the file cannot be read is reported the same way
        raise CheckpointError(f"{path} is not a readable checkpoint "
                              f"({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a neurona.models "
                              f"checkpoint (no model name and configuration in it); "
                              f"load it with neurona.load and model.load_state_dict instead")
    name, config = ckpt.get("model"), ckpt.get("config") or {}
    try:
        model = get(name, **config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the model {name!r} "
                              f"with {config}: {e}") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except Exception as e:
        raise CheckpointError(f"{path}: the weights do not fit the model {name!r} "
                              f"{config}: {e}") from None
    model.eval()
    return model, ckpt.get("extra") or {}
