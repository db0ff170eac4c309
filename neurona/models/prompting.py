"""Prompting a pretrained causal LM: few-shot prompts and completions, and sentence
embeddings for ``neurona embed``.

A causal LM scores p(x_{t+1} | x_1 ... x_t); it "solves a task" when the task is written
as the start of a text whose most likely continuation is the answer.  A **few-shot
prompt** (Brown et al. 2020) shows k solved examples in a fixed template, then the query
with its answer left open::

    Input: cat          <- example 1
    Output: chat

    Input: dog          <- example 2
    Output: chien

    Input: bird         <- the query
    Output:             <- the model continues from here

and :func:`complete` generates from it until a stop string (by default the end of the
line), i.e. it reads off the model's answer.  No weights change: everything the model
"learns" about the task comes from the context it attends to.

Embeddings for the command line (:func:`embed_sentences`, :func:`nearest`) are thin
wrappers over :class:`neurona.models.pretrained.SentenceEncoder` (mean pooling + L2 norm).
"""
from __future__ import annotations

import numpy as np

from .generation import generate_text

__all__ = ["few_shot_prompt", "complete", "embed_sentences", "nearest"]

DEFAULT_TEMPLATE = "Input: {x}\nOutput: {y}\n\n"


def few_shot_prompt(examples, query: str, template: str = DEFAULT_TEMPLATE) -> str:
    """The prompt: each ``(input, output)`` of ``examples`` written with ``template``
    (fields ``{x}`` and ``{y}``), then the query written with the same template cut just
    before ``{y}`` (so the model's continuation is the answer).

    >>> few_shot_prompt([("2+2", "4")], "3+3")
    'Input: 2+2\\nOutput: 4\\n\\nInput: 3+3\\nOutput: '
    """
    if "{x}" not in template or "{y}" not in template:
        raise ValueError(f"few_shot_prompt: the template must contain {{x}} and {{y}} (the "
                         f"input and the output), got {template!r}")
    if template.index("{x}") > template.index("{y}"):
        raise ValueError(f"few_shot_prompt: {{x}} must come before {{y}} in the template "
                         f"(the model writes the output after reading the input), got "
                         f"{template!r}")
    parts = []
    for i, ex in enumerate(examples):
        if not (isinstance(ex, (tuple, list)) and len(ex) == 2):
            raise ValueError(f"few_shot_prompt: example {i} must be an (input, output) pair, "
                             f"got {ex!r}")
        parts.append(template.replace("{x}", str(ex[0])).replace("{y}", str(ex[1])))
    head = template[:template.index("{y}")]
    parts.append(head.replace("{x}", str(query)))
    return "".join(parts)


def complete(model, tokenizer, prompt: str, max_new_tokens: int = 20, *, stop=("\n",),
             greedy: bool = True, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int | None = None, stream=None) -> str:
    """The model's completion of ``prompt``, cut before the first ``stop`` string (default:
    the end of the line) -- greedy by default, so the answer is the most likely one.

    A thin wrapper over :func:`~neurona.models.generation.generate_text` (same arguments;
    ``stream`` receives the text as it is generated).  A prompt longer than the model's
    ``max_length`` raises ``ValueError`` naming the limit.
    """
    stop = [stop] if isinstance(stop, str) else list(stop or [])
    return generate_text(model, tokenizer, prompt, max_new_tokens, temperature=temperature,
                         top_k=top_k, top_p=top_p, greedy=greedy, stop=stop or None,
                         seed=seed, stream=stream)


# ---------------------------------------------------------------------------- embeddings
_ENCODERS: dict = {}


def _encoder(model_path):
    """A SentenceEncoder per folder, built once (``None``: all-MiniLM-L6-v2)."""
    from .pretrained import SentenceEncoder, minilm_path
    key = str(model_path if model_path is not None else minilm_path())
    if key not in _ENCODERS:
        _ENCODERS[key] = SentenceEncoder.from_pretrained(key)
    return _ENCODERS[key]


def embed_sentences(model_path, sentences) -> np.ndarray:
    """Unit-length sentence embeddings (N, d) float32 of ``sentences`` (a string or a
    list) with the BERT folder ``model_path`` (``None``: all-MiniLM-L6-v2):
    e = u / ||u||, u = mean of the token states over the real tokens."""
    if isinstance(sentences, str):
        sentences = [sentences]
    return _encoder(model_path).encode(list(sentences))


def nearest(model_path, query: str, corpus, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` sentences of ``corpus`` closest to ``query`` by cosine similarity of their
    embeddings, best first, as ``(sentence, score)`` pairs."""
    from .pretrained import semantic_search
    corpus = [corpus] if isinstance(corpus, str) else list(corpus)
    if not corpus:
        raise ValueError("nearest: the corpus is empty; give at least one sentence")
    if int(k) < 1:
        raise ValueError(f"nearest: k must be >= 1, got {k}")
    enc = _encoder(model_path)
    hits = semantic_search(enc.encode([query]), enc.encode(corpus), top_k=k)[0]
    return [(corpus[h.corpus_id], h.score) for h in hits]
