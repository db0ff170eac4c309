"""Autoregressive generation for every causal language model in neurona.

A causal LM gives, after reading tokens x_1 ... x_t, scores (logits) z for the next
token; generation turns them into a choice and feeds the choice back in:

    p = softmax(z / tau)                    (tau = temperature; tau -> 0 is greedy)
    keep only the k largest p               (top-k)
    keep the smallest set whose mass >= P   (top-p, "nucleus" sampling, Holtzman 2020)
    renormalise what is kept, draw x_{t+1} ~ p; repeat with x_{t+1} as the new input

**The protocol** a model must follow (``RNNLanguageModel`` does; a Transformer does with
its key/value cache as the state)::

    logits, state = model(ids, state)   # ids (N, T) int64 -> logits (N, T, V)
    model.max_length                    # None, or the longest sequence it can read

:func:`generate` feeds the prompt once, then **one token at a time with the returned
state**, so each new token costs one step of the model instead of a re-read of the whole
prefix -- and gives exactly the tokens that re-reading the prefix every step would give.

**Past the context window** (a Transformer reads at most ``max_length`` = block_size
tokens) generation goes on with a *sliding window*, as nanoGPT does: the next token is
scored from the last ``max_length`` tokens only. While prompt + new tokens fit, the state
(KV cache) is used; once they do not, the state is dropped and each step re-reads the
last ``max_length`` tokens from scratch (positions 0 .. max_length-1 again). Cached keys
cannot simply be kept and shifted: they were computed at their old positions (position
embeddings) and with the older tokens in view, so reusing them would give other tokens
than the window does. Re-reading costs O(max_length^2) per token instead of O(max_length)
-- correct and simple; the tokens equal those of re-reading the window every step.
(Measured on a 4-layer, d=128 GPT with block_size 128, one CPU thread: 0.35 ms per cached
token, 7.1 ms per windowed one.) A cheaper approximation restarts from the last *half*
window and goes on with the cache: one re-read per max_length/2 tokens, but a token then
sees between max_length/2 and max_length tokens of context, so the text differs.

Public API:

* :func:`generate` -- token ids in, new token ids out (greedy, temperature, top-k, top-p,
  stop sequences, a callback per token).
* :func:`generate_text` -- text in, text out through a tokenizer, streamed as it comes,
  with stop strings.
* :func:`load_causal_lm` -- a checkpoint with its tokenizer -> ``(model, tokenizer)``.
* :func:`sample_next`, :func:`top_k_filter`, :func:`top_p_filter`, :func:`softmax` -- the
  single steps, small enough to read.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["generate", "generate_text", "load_causal_lm", "sample_next", "top_k_filter",
           "top_p_filter", "softmax"]

# names a tokenizer may use for its start-of-sequence token (tried in this order)
# what an empty prompt starts from, the first the tokenizer has; "<eos>" last: in a corpus
# such as PTB that marks only sentence ends, a new sentence starts after an <eos>
START_TOKENS = ("<bos>", "<s>", "[BOS]", "<|endoftext|>", "[CLS]", "<eos>")


# ---------------------------------------------------------------------------- one step
def softmax(z: np.ndarray) -> np.ndarray:
    """p_i = exp(z_i - max z) / sum_j exp(z_j - max z), over the last axis (float64);
    entries of -inf get probability 0."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top_k_filter(logits: np.ndarray, k: int) -> np.ndarray:
    """A copy of ``logits`` (V,) with every score below the k-th largest set to -inf, so
    only the k best tokens can be drawn (ties with the k-th are kept). ``k >= V`` keeps
    everything."""
    z = np.array(logits, dtype=np.float64)
    k = int(k)
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    if k >= z.shape[-1]:
        return z
    kth = np.partition(z, -k, axis=-1)[..., -k, None]     # the k-th largest score
    z[z < kth] = -np.inf
    return z


def top_p_filter(logits: np.ndarray, p: float) -> np.ndarray:
    """A copy of ``logits`` (V,) keeping the *nucleus*: the smallest set of most probable
    tokens whose probabilities sum to at least ``p`` (the most probable token is always
    kept); the others are set to -inf. ``p = 1`` keeps everything."""
    p = float(p)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    z = np.array(logits, dtype=np.float64)
    if p >= 1.0:
        return z
    order = np.argsort(-z, kind="stable")                   # most probable first
    cumulative = np.cumsum(softmax(z)[order])
    # token order[i] is kept when the tokens before it still had mass < p
    n_keep = int(np.searchsorted(cumulative, p, side="left")) + 1
    z[order[n_keep:]] = -np.inf
    return z


def sample_next(logits, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, rng: np.random.Generator | None = None,
                greedy: bool = False) -> int:
    """Choose the next token id from the scores ``logits`` (V,) of one position.

    ``greedy`` (or ``temperature == 0``) takes argmax z. Otherwise the scores are divided
    by ``temperature`` (< 1 sharpens the distribution, > 1 flattens it), filtered by
    :func:`top_k_filter` and then :func:`top_p_filter`, and one id is drawn from their
    softmax with ``rng`` (a NumPy Generator).
    """
    z = _as_numpy(logits).astype(np.float64).reshape(-1)
    if temperature is None:
        temperature = 1.0
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if greedy or temperature == 0:
        return int(np.argmax(z))
    z = z / float(temperature)
    if top_k is not None:
        z = top_k_filter(z, top_k)
    if top_p is not None:
        z = top_p_filter(z, top_p)
    probs = softmax(z)
    if not np.all(np.isfinite(probs)):
        raise FloatingPointError("sample_next: the scores are not finite (NaN or inf in "
                                 "the model's output); check the model's weights")
    rng = rng if rng is not None else _default_rng()
    return int(rng.choice(probs.shape[0], p=probs))


# ---------------------------------------------------------------------------- ids -> ids
def generate(model, prompt_ids, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
             stop=None, seed: int | None = None, generator=None, on_token=None,
             crop_prompt: bool = False) -> list[int]:
    """Continue ``prompt_ids`` with up to ``max_new_tokens`` tokens; return the new ids.

    Args:
        model: a causal LM following the protocol ``model(ids (1, T), state) ->
            (logits (1, T, V), state)``, with ``max_length`` (None = no limit).
        prompt_ids: the prompt, a non-empty sequence of ids (list, 1-D array or tensor).
        max_new_tokens: how many tokens to add at most.
        temperature, top_k, top_p, greedy: how each token is chosen (:func:`sample_next`).
        stop: token-id sequences (e.g. ``[[eos_id]]``); generation ends as soon as the new
            tokens end with one of them. The stop sequence is *included* in the result
            (it was generated; :func:`generate_text` cuts stop strings off).
        seed: an int for a reproducible draw (its own NumPy generator); or
        generator: a ``neurona.Generator`` or ``numpy.random.Generator`` to draw from.
            With neither, draws come from ``neurona.default_generator``, so
            ``neurona.manual_seed`` also makes a run repeat itself.
        on_token: called as ``on_token(token_id)`` the moment each token is chosen (to
            stream it); if it returns ``True`` generation stops after that token.
        crop_prompt: what to do with a prompt longer than ``model.max_length``:
            ``False`` (default) raises ``ValueError`` naming the limit; ``True`` keeps
            the prompt's last ``max_length`` tokens (what the model could read anyway).

    Runs under ``no_grad`` with the model in eval mode (dropout off); the model's previous
    mode is restored afterwards.

    **Length limit.** If ``model.max_length`` (L) is set, generation does *not* stop at
    L: once prompt + new tokens exceed it, each next token is scored from the last L
    tokens (a sliding window: the state is dropped and the window re-read every step, see
    the module docstring). ``model.max_length = None`` (an RNN) reads any length.
    """
    from ..autograd import no_grad
    from ..creation import tensor

    prompt = _prompt_list(prompt_ids)
    if int(max_new_tokens) < 0:
        raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
    budget = int(max_new_tokens)
    limit = getattr(model, "max_length", None)
    if limit is not None and len(prompt) > limit:
        if not crop_prompt:
            raise ValueError(f"generate: the prompt has {len(prompt)} tokens but this model "
                             f"reads at most max_length={limit}; shorten the prompt (keep "
                             f"its last {limit} tokens), or pass crop_prompt=True (command "
                             f"line: --crop-prompt) to do so")
        prompt = prompt[-limit:]
    stops = _stop_sequences(stop)
    rng = _make_rng(seed, generator)

    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else None     # ids go where the weights are
    new: list[int] = []
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            # read the whole prompt once; its last position scores the first new token
            logits, state = model(tensor([prompt], device=device), None)
            in_state = len(prompt)                  # tokens the state has read
            for _ in range(budget):
                token = sample_next(_as_numpy(logits[0, -1]), temperature, top_k, top_p,
                                    rng, greedy)
                new.append(token)
                stop_now = on_token(token) is True if on_token is not None else False
                if stop_now or any(new[-len(s):] == s for s in stops if len(new) >= len(s)):
                    break
                if len(new) == budget:
                    break
                if limit is None or in_state < limit:   # one step: only the new token
                    logits, state = model(tensor([[token]], device=device), state)
                    in_state += 1
                else:                                   # window full: re-read the last L
                    window = (prompt + new)[-limit:]
                    logits, state = model(tensor([window], device=device), None)
    finally:
        model.train(was_training)
    return new


# ---------------------------------------------------------------------------- text -> text
def generate_text(model, tokenizer, prompt: str, max_new_tokens: int, *,
                  temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, greedy: bool = False, stop=None,
                  seed: int | None = None, generator=None, stream=None,
                  crop_prompt: bool = False) -> str:
    """Continue the text ``prompt``; return the new text (without the prompt).

    Args:
        model, max_new_tokens, temperature, top_k, top_p, greedy, seed, generator,
            crop_prompt: as for :func:`generate` (``max_new_tokens`` counts tokens:
            characters for a char model; past the model's ``max_length`` the context
            window slides).
        tokenizer: the model's tokenizer (``encode``/``decode``), e.g. from
            :func:`load_causal_lm`.
        prompt: the start of the text, encoded by the tokenizer: a character tokenizer
            (``unknown='error'``, as the recipes save it) raises ``ValueError`` naming a
            character not in its vocabulary and its position; a word tokenizer reads an
            unknown word as ``<unk>``. An
            empty prompt starts from the tokenizer's start token (``<bos>``, ``<s>``...)
            when it has one; a character tokenizer has none, so an empty prompt is a
            ``ValueError`` (give at least one character, e.g. ``"\\n"``).
        stop: stop strings, e.g. ``["\\n\\n"]`` (end of a speech in Shakespeare); the
            text ends just *before* the first one generated (it is neither returned nor
            streamed). ``None``: no stop string.
        stream: where to write each piece of text as soon as it is generated: a file
            (``sys.stdout``; flushed after every piece), a callable taking the string, or
            ``None`` for no streaming.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"generate_text: prompt must be a string, got {type(prompt).__name__}")
    prompt_ids = _encode_prompt(tokenizer, prompt)
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if any(not isinstance(s, str) or not s for s in stops):
        raise ValueError(f"generate_text: stop must be non-empty strings, got {stop!r}")
    write = _writer(stream)

    base = tokenizer.decode(prompt_ids)
    new_ids: list[int] = []
    text = ""             # all new text decoded so far
    shown = 0             # how much of it has been streamed
    cut = None            # where a stop string begins, once one appears

    def on_token(token: int):
        nonlocal text, shown, cut
        new_ids.append(token)
        text = _new_text(tokenizer, prompt_ids, new_ids, base)
        if text.endswith("\ufffd"):       # half of a multi-byte character: wait for more
            return False
        for s in stops:
            at = text.find(s, max(0, shown - len(s)))
            if at != -1 and (cut is None or at < cut):
                cut = at
        ready = cut if cut is not None else len(text) - _held_back(text, stops)
        if ready > shown:
            write(text[shown:ready])
            shown = ready
        return cut is not None

    generate(model, prompt_ids, max_new_tokens, temperature=temperature, top_k=top_k,
             top_p=top_p, greedy=greedy, seed=seed, generator=generator, on_token=on_token,
             crop_prompt=crop_prompt)
    end = cut if cut is not None else len(text)
    if end > shown:                       # the held-back tail that never became a stop
        write(text[shown:end])
    return text[:end]


# ---------------------------------------------------------------------------- checkpoints
def load_causal_lm(checkpoint_path):
    """``(model, tokenizer)`` from a checkpoint written with
    ``save_checkpoint(model, path, tokenizer=tok.to_dict())`` (the recipes do this).

    ``checkpoint_path`` may also be a Hugging Face GPT-2 folder (``config.json`` with
    ``model_type`` "gpt2", ``model.safetensors`` and ``tokenizer.json`` or ``vocab.json`` +
    ``merges.txt``), read with :func:`neurona.models.gpt.load_gpt2`.

    Raises ``CheckpointError`` if the checkpoint has no tokenizer, if it is not a causal
    LM, or if the tokenizer's vocabulary does not match the model's embedding rows.
    """
    import os
    from ..text import check_vocab_matches, tokenizer_from_dict
    from . import CheckpointError, load_checkpoint

    if os.path.isdir(checkpoint_path):
        return _load_hf_causal_lm(checkpoint_path)
    model, extra = load_checkpoint(checkpoint_path)
    if "tokenizer" not in extra:
        raise CheckpointError(f"{checkpoint_path}: the checkpoint has no tokenizer, so its "
                              "token ids cannot be turned into text; save it with "
                              "save_checkpoint(model, path, tokenizer=tok.to_dict())")
    try:
        tokenizer = tokenizer_from_dict(extra["tokenizer"], f"{checkpoint_path} (tokenizer)")
    except (ValueError, ImportError) as e:
        raise CheckpointError(str(e)) from None
    embedding = getattr(model, "embedding", None)
    if embedding is None:
        raise CheckpointError(f"{checkpoint_path}: the model {model.name!r} is not a "
                              "causal language model (it has no token embedding)")
    try:
        check_vocab_matches(tokenizer, embedding)
    except ValueError as e:
        raise CheckpointError(f"{checkpoint_path}: {e}") from None
    return model, tokenizer


def _load_hf_causal_lm(folder):
    """A Hugging Face checkpoint folder -> ``(model, tokenizer)``; only GPT-2 is a causal
    LM neurona reads (``CheckpointError`` otherwise)."""
    import json
    import os
    from . import CheckpointError
    from .gpt import load_gpt2
    cfg_path = os.path.join(folder, "config.json")
    if not os.path.isfile(cfg_path):
        raise CheckpointError(f"{folder}: a folder, but not a Hugging Face checkpoint (no "
                              "config.json); give a neurona checkpoint file (.safetensors) "
                              "or a GPT-2 folder (config.json, model.safetensors, "
                              "tokenizer.json)")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (ValueError, AttributeError) as e:
        raise CheckpointError(f"{cfg_path}: not a JSON object ({e})") from None
    if model_type != "gpt2":
        raise CheckpointError(f"{cfg_path}: model_type {model_type!r} is not a causal "
                              "language model neurona reads; generation takes GPT-2 folders "
                              "(model_type 'gpt2') or neurona checkpoints (BERT is an "
                              "encoder: use `neurona embed` for it)")
    try:
        model, tokenizer = load_gpt2(folder)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise CheckpointError(f"{folder}: {e}") from None
    if tokenizer is None:
        raise CheckpointError(f"{folder}: the GPT-2 folder has no tokenizer (tokenizer.json, "
                              "or vocab.json + merges.txt), so its token ids cannot be turned "
                              "into text; save the tokenizer into the folder too")
    return model, tokenizer


# ---------------------------------------------------------------------------- helpers
def _as_numpy(x) -> np.ndarray:
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return x.numpy(force=True)
    return np.asarray(x)


def _default_rng() -> np.random.Generator:
    from ..random import default_generator
    return default_generator.numpy


def _make_rng(seed, generator) -> np.random.Generator:
    if seed is not None and generator is not None:
        raise ValueError("generate: give seed or generator, not both")
    if seed is not None:
        return np.random.default_rng(int(seed))
    if generator is None:
        return _default_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if hasattr(generator, "numpy"):                 # a neurona.Generator
        return generator.numpy
    raise TypeError(f"generate: generator must be a neurona.Generator or a "
                    f"numpy.random.Generator, got {type(generator).__name__}")


def _prompt_list(prompt_ids) -> list[int]:
    arr = _as_numpy(prompt_ids)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"generate: prompt_ids must be one sequence of ids (T,), got "
                         f"shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("generate: the prompt is empty; give at least one token (a "
                         "start token such as <bos> if the model was trained with one)")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"generate: prompt_ids must be integer token ids, got {arr.dtype}")
    return [int(i) for i in arr]


def _stop_sequences(stop) -> list[list[int]]:
    if stop is None:
        return []
    seqs = []
    for s in stop:
        seq = [int(s)] if np.ndim(s) == 0 else [int(i) for i in _as_numpy(s).reshape(-1)]
        if not seq:
            raise ValueError("generate: a stop sequence is empty")
        seqs.append(seq)
    return seqs


def start_token_id(tokenizer) -> int | None:
    """The id of the tokenizer's start-of-sequence token (see ``START_TOKENS``), or None."""
    for name in START_TOKENS:
        if hasattr(tokenizer, "token_to_id"):               # SubwordTokenizer
            i = tokenizer.token_to_id(name)
        elif getattr(tokenizer, "vocab", None) is not None:  # WordTokenizer (a Vocab)
            i = tokenizer.vocab.get_stoi().get(name)
        else:                                               # CharTokenizer
            i = getattr(tokenizer, "stoi", {}).get(name)
        if i is not None:
            return int(i)
    return None


def _encode_prompt(tokenizer, prompt: str) -> list[int]:
    if prompt == "":
        bos = start_token_id(tokenizer)
        if bos is None:
            raise ValueError(f"generate_text: the prompt is empty and the tokenizer "
                             f"({tokenizer!r}) has no start token ({', '.join(START_TOKENS)})"
                             f" to begin from; give at least one character, e.g. '\\n'")
        return [bos]
    try:
        if hasattr(tokenizer, "token_to_id"):               # HF: no <bos>/<eos> added
            ids = tokenizer.encode(prompt, add_special_tokens=False)
        else:
            ids = tokenizer.encode(prompt)
    except KeyError as e:           # CharTokenizer: names the character and its position
        raise ValueError(f"generate_text: cannot encode the prompt: {e.args[0]}") from None
    if not ids:
        raise ValueError(f"generate_text: the prompt {prompt!r} encodes to no tokens")
    return list(ids)


def _new_text(tokenizer, prompt_ids, new_ids, base: str) -> str:
    """The text of ``new_ids`` as it reads after the prompt (decoding prompt + new
    together keeps word tokenizers' spaces and multi-byte characters right)."""
    full = tokenizer.decode(list(prompt_ids) + new_ids)
    return full[len(base):] if full.startswith(base) else tokenizer.decode(new_ids)


def _held_back(text: str, stops) -> int:
    """How many characters at the end of ``text`` could be the start of a stop string
    (they are not streamed until we know)."""
    for n in range(min(len(text), max((len(s) for s in stops), default=1) - 1), 0, -1):
        if any(s.startswith(text[-n:]) for s in stops):
            return n
    return 0


def _writer(stream):
    if stream is None:
        return lambda s: None
    if callable(stream) and not hasattr(stream, "write"):
        return stream
    if hasattr(stream, "write"):
        def write(s):
            stream.write(s)
            if hasattr(stream, "flush"):
                stream.flush()
        return write
    raise TypeError(f"generate_text: stream must be a file (e.g. sys.stdout), a callable "
                    f"or None, got {type(stream).__name__}")


if __name__ == "__main__":          # python -m neurona.models.generation CHECKPOINT [PROMPT]
    m, tok = load_causal_lm(sys.argv[1])
    generate_text(m, tok, sys.argv[2] if len(sys.argv) > 2 else "\n", 300,
                  temperature=0.8, stream=sys.stdout)
    print()
