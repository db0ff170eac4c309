"""A sentence classifier on a pretrained BERT encoder (MiniLM): the encoder's
mean-pooled token states -- the sentence embedding -- then dropout and one ``Linear``.

For token states h_t (N, T, d) and the attention mask m_t (1 at real tokens):

    u = sum_t m_t h_t / sum_t m_t              (N, d)   mean pooling
    z = dropout(u) W^T + b                     (N, C)   logits; p = softmax(z)

Three ways to fine-tune it (:func:`configure`):

* ``"head"``  -- the encoder is frozen; only W, b train (d C + C parameters).  Since the
  encoder never changes, u can be computed once per sentence and the head trained on it.
* ``"full"``  -- every parameter trains (22.7M for MiniLM-L6).
* ``"lora"``  -- the encoder is frozen and LoRA adapters (:mod:`neurona.nn.lora`) are put on
  its attention projections; the adapters and the head train.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..nn.lora import apply_lora, trainable_parameters
from ..tensor import Tensor
from .bert import BertModel
from .pretrained import mean_pooling

__all__ = ["SentenceClassifier", "configure", "MODES"]

MODES = ("full", "head", "lora")


class SentenceClassifier(nn.Module):
    """``model(input_ids, attention_mask) -> logits (N, num_labels)``: a
    :class:`~neurona.models.BertModel` encoder, mean pooling over the mask, dropout,
    ``Linear(hidden_size, num_labels)``.  ``embed`` gives the pooled u (N, d), ``head``
    maps u to the logits."""

    def __init__(self, encoder: BertModel, num_labels: int = 2, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        d = encoder.get_config()["hidden_size"]
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d, num_labels)

    def embed(self, input_ids, attention_mask) -> Tensor:
        """u = masked mean of the encoder's last hidden states: (N, T) ids -> (N, d)."""
        mask = attention_mask if isinstance(attention_mask, Tensor) else \
            Tensor(np.asarray(attention_mask))
        h = self.encoder(input_ids, mask).last_hidden_state
        return mean_pooling(h, mask)

    def head(self, u: Tensor) -> Tensor:
        """z = dropout(u) W^T + b: (N, d) -> (N, num_labels)."""
        return self.classifier(self.dropout(u))

    def forward(self, input_ids, attention_mask) -> Tensor:
        return self.head(self.embed(input_ids, attention_mask))


def configure(model: SentenceClassifier, mode: str, r: int = 8, alpha: float = 16,
              targets=("query", "value"), lora_dropout: float = 0.0) -> int:
    """Set which parameters of ``model`` train for ``mode`` (``"full"``, ``"head"`` or
    ``"lora"``; for ``"lora"`` adapters of rank ``r`` go on the ``targets`` Linear layers of
    the encoder).  Returns the number of trainable parameters."""
    if mode not in MODES:
        raise ValueError(f"finetune: mode must be one of {MODES}, got {mode!r}")
    model.requires_grad_(mode == "full")
    if mode == "lora":
        apply_lora(model.encoder, target_names=targets, r=r, alpha=alpha,
                   dropout=lora_dropout)
    model.classifier.requires_grad_(True)
    return trainable_parameters(model)
