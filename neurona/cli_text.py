"""The language commands of ``neurona`` (the sequence part of the course).

    neurona train sentiment  --dataset rt-polarity [--arch mean|bilstm]
    neurona train nlm        --dataset ptb [--arch bengio|lstm]
    neurona train char-lstm  --dataset tiny-shakespeare
    neurona train pos-tagger --dataset ud-english-ewt   (or --data-dir ANY_UD_TREEBANK)
    neurona train gradients                            (vanishing/exploding gradients)
    neurona generate CHECKPOINT --prompt "ROMEO:" --temperature 0.8 --top-k 20
    neurona tag CHECKPOINT "The cat sat on the mat ."

``train NAME`` calls ``neurona.recipes.<module>.train`` (each recipe documents its
defaults and the results they give); :mod:`neurona.cli` hands these names over here.
"""
from __future__ import annotations

import importlib
import os
import sys

__all__ = ["RECIPES", "TEXT_MODELS", "cmd_train_text", "cmd_generate", "cmd_tag", "add_commands",
           "find_text_data_dir"]

# recipe name -> (module under neurona.recipes, default dataset, --arch choices)
RECIPES = {
    "sentiment": ("sentiment", "rt-polarity", ("mean", "bilstm")),
    "nlm": ("language_model", "ptb", ("bengio", "lstm")),
    "char-lstm": ("char_lstm", "tiny-shakespeare", ("lstm", "gru", "rnn")),
    "pos-tagger": ("pos_tagging", "ud-english-ewt", ()),
    "gradients": ("gradients", "long-range", ("rnn", "lstm", "gru")),
}
# zoo models that the recipes train (``neurona train MODEL`` points to the recipe)
TEXT_MODELS = {"embedding-bag": "sentiment --arch mean",
               "lstm-classifier": "sentiment --arch bilstm",
               "rnn-lm": "nlm --arch lstm (words) or neurona train char-lstm (characters)",
               "bengio-nlm": "nlm --arch bengio", "bilstm-tagger": "pos-tagger",
               "recurrent-classifier": "gradients"}
# the folder each text dataset's files live in, under a data folder
TEXT_FOLDERS = {"rt-polarity": "rt-polarity", "ptb": "ptb",
                "tiny-shakespeare": "tiny-shakespeare", "ud-english-ewt": "ud-english-ewt"}


def find_text_data_dir(data_dir, dataset: str):
    """The data folder that holds ``dataset``'s folder (``rt-polarity/``, ``ptb/`` ...):
    ``data_dir`` when given, else the first folder of ``data_search_path()`` that has
    it; None when none has it (the recipe then looks itself and explains what is
    missing)."""
    from .datasets._files import data_search_path
    if data_dir:
        return data_dir
    folder = TEXT_FOLDERS.get(dataset)
    for root in data_search_path(None):
        if folder and os.path.isdir(os.path.join(root, folder)):
            return root
    return None


def cmd_train_text(args) -> int:
    """``neurona train NAME`` for a language recipe: run it, print where things went."""
    from .cli import CLIError
    module, default_dataset, archs = RECIPES[args.model]
    if args.arch is not None and archs and args.arch not in archs:
        raise CLIError(f"{args.model}: --arch must be one of {', '.join(archs)}, got "
                       f"{args.arch!r}")
    if args.arch is not None and not archs:
        raise CLIError(f"{args.model} has no --arch choice")
    dataset = args.dataset or default_dataset
    recipe = importlib.import_module(f"neurona.recipes.{module}")
    out = args.out or os.path.join("neurona-runs", f"{args.model}-{dataset}"
                                   + (f"-{args.arch}" if args.arch else ""))
    result = recipe.train(dataset, data_dir=find_text_data_dir(args.data_dir, dataset),
                          out=out, arch=args.arch, epochs=args.epochs, lr=args.lr,
                          batch_size=args.batch_size, seed=args.seed,
                          max_steps=args.max_steps, max_minutes=args.max_minutes,
                          plots=not args.no_plots, quiet=args.quiet)
    metrics = result.get("metrics", {})
    shown = "   ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in metrics.items() if isinstance(v, (int, float)))
    print(f"done in {result.get('wall_s', 0):.1f} s:   {shown}")
    for path in [result.get("checkpoint")] + list(result.get("plots") or []):
        if path:
            print(f"wrote {path}")
    ckpt = result.get("checkpoint")
    if ckpt and args.model in ("char-lstm", "nlm"):
        print(f"generate text with:  neurona generate {ckpt} --prompt \"...\"")
    if ckpt and args.model == "pos-tagger":
        print(f"tag a sentence with:  neurona tag {ckpt} \"The cat sat on the mat .\"")
    return 0


def cmd_generate(args) -> int:
    """Continue --prompt with a causal language model, streaming tokens as they come."""
    from .models.generation import generate_text, load_causal_lm
    from .text import CharTokenizer
    model, tokenizer = load_causal_lm(args.checkpoint)
    stop = [s.encode().decode("unicode_escape") for s in (args.stop or [])]
    prompt = args.prompt
    if prompt is None:               # a character model needs something to start from
        prompt = "\n" if isinstance(tokenizer, CharTokenizer) else ""
    elif args.escapes:
        prompt = prompt.encode().decode("unicode_escape")
    for i in range(args.num_samples):
        if i:
            sys.stdout.write("\n" + "-" * 40 + "\n")
        shown = []

        def stream(piece: str) -> None:
            if not shown:            # the prompt, once it is known to encode
                sys.stdout.write(prompt)
                shown.append(True)
            sys.stdout.write(piece)
            sys.stdout.flush()
        generate_text(model, tokenizer, prompt, max_new_tokens=args.max_new_tokens,
                      temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                      greedy=args.greedy, stop=stop or None,
                      seed=None if args.seed is None else args.seed + i, stream=stream)
        if not shown:
            sys.stdout.write(prompt)
        sys.stdout.write("\n")
    return 0


def cmd_tag(args) -> int:
    """Print word/TAG pairs for each sentence given, with a POS-tagger checkpoint."""
    from .recipes.pos_tagging import load_tagger, tag
    model = load_tagger(args.checkpoint)
    for sentence in args.sentence:
        pairs = tag(model, sentence)
        print(" ".join(f"{word}/{t}" for word, t in pairs))
    return 0


def add_commands(sub) -> None:
    """Declare ``generate`` and ``tag`` (``train`` is shared with the zoo: see cli.py)."""
    p = sub.add_parser(
        "generate", help="continue a prompt with a language model checkpoint",
        description="Sample a continuation of --prompt from a causal language model "
                    "(a char-lstm or nlm checkpoint written by neurona train), streaming "
                    "each token as it is drawn.")
    p.add_argument("checkpoint", help="a model.safetensors with its tokenizer inside")
    p.add_argument("--prompt", help="the text to continue (default: a newline for a "
                                    "character model, the start token for a word model)")
    p.add_argument("--max-new-tokens", type=int, default=200, dest="max_new_tokens",
                   help="how many tokens to add (default 200)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="softmax temperature: <1 safer, >1 wilder, 0 = greedy (default 1)")
    p.add_argument("--top-k", type=int, dest="top_k", help="sample among the k likeliest")
    p.add_argument("--top-p", type=float, dest="top_p",
                   help="sample within the smallest set of probability >= p (nucleus)")
    p.add_argument("--greedy", action="store_true", help="always take the likeliest token")
    p.add_argument("--stop", action="append",
                   help="end the text just before this string (repeatable; escapes such "
                        "as \\n allowed, e.g. --stop '\\n\\n')")
    p.add_argument("--seed", type=int, help="random seed for reproducible samples")
    p.add_argument("--num-samples", type=int, default=1, dest="num_samples")
    p.add_argument("--escapes", action="store_true",
                   help="read escapes such as \\n in --prompt (few-shot prompts)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("tag", help="part-of-speech tags for a sentence",
                       description="Tag each word of SENTENCE with a pos-tagger checkpoint "
                                   "written by `neurona train pos-tagger`.")
    p.add_argument("checkpoint", help="a model.safetensors written by neurona train pos-tagger")
    p.add_argument("sentence", nargs="+", help="one or more sentences (quote each)")
    p.set_defaults(func=cmd_tag)
