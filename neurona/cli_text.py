"""The language commands of ``neurona`` (the sequence part of the course).

    neurona train sentiment  --dataset rt-polarity [--arch mean|bilstm]
    neurona train nlm        --dataset ptb [--arch bengio|lstm]
    neurona train char-lstm  --dataset tiny-shakespeare
    neurona train pos-tagger --dataset ud-english-ewt   (or --data-dir ANY_UD_TREEBANK)
    neurona train gradients                            (vanishing/exploding gradients)
    neurona train gpt        --dataset tiny-shakespeare (a character-level GPT)
    neurona generate CHECKPOINT --prompt "ROMEO:" --temperature 0.8 --top-k 20
    neurona tag CHECKPOINT "The cat sat on the mat ."
    neurona embed "A man is eating pasta." --search-in corpus.txt   (sentence embeddings)
    neurona finetune sentiment --mode full|head|lora [--model BERT_FOLDER] [--device cuda]
    neurona attention "The animal didn't cross the street because it was tired." --layer 3

``train NAME`` calls ``neurona.recipes.<module>.train`` (each recipe documents its
defaults and the results they give); :mod:`neurona.cli` hands these names over here.
"""
from __future__ import annotations

import importlib
import os
import sys

__all__ = ["RECIPES", "TEXT_MODELS", "cmd_train_text", "cmd_generate", "cmd_tag", "cmd_embed",
           "cmd_finetune", "cmd_attention", "add_commands",
           "find_text_data_dir"]

# recipe name -> (module under neurona.recipes, default dataset, --arch choices)
RECIPES = {
    "sentiment": ("sentiment", "rt-polarity", ("mean", "bilstm")),
    "nlm": ("language_model", "ptb", ("bengio", "lstm")),
    "char-lstm": ("char_lstm", "tiny-shakespeare", ("lstm", "gru", "rnn")),
    "pos-tagger": ("pos_tagging", "ud-english-ewt", ()),
    "gradients": ("gradients", "long-range", ("rnn", "lstm", "gru")),
    "gpt": ("gpt_char", "tiny-shakespeare", ()),
}
# zoo models that the recipes train (``neurona train MODEL`` points to the recipe)
TEXT_MODELS = {"embedding-bag": "sentiment --arch mean",
               "lstm-classifier": "sentiment --arch bilstm",
               "rnn-lm": "nlm --arch lstm (words) or neurona train char-lstm (characters)",
               "bengio-nlm": "nlm --arch bengio", "bilstm-tagger": "pos-tagger",
               "recurrent-classifier": "gradients",
               "bert": "... no: BERT is pretrained; fine-tune it with neurona finetune "
                       "sentiment --mode full|head|lora"}
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
    _print_result(result)
    ckpt = result.get("checkpoint")
    if ckpt and args.model in ("char-lstm", "nlm", "gpt"):
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
                      seed=None if args.seed is None else args.seed + i, stream=stream,
                      crop_prompt=args.crop_prompt)
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


def cmd_embed(args) -> int:
    """Sentence embeddings (mean pooling + L2 norm) of a BERT checkpoint folder; with
    --search-in or --demo-corpus, the nearest sentences of a corpus to each sentence."""
    import numpy as np
    from .models.pretrained import DEMO_CORPUS, SentenceEncoder, minilm_path, semantic_search
    encoder = SentenceEncoder.from_pretrained(args.model or minilm_path())
    emb = encoder.encode(args.sentence, batch_size=args.batch_size)
    if args.out:
        np.save(args.out, emb)
        print(f"wrote {args.out}: {emb.shape[0]} embeddings of {emb.shape[1]} numbers")
    corpus = None
    if args.search_in:
        with open(args.search_in, encoding="utf-8") as f:
            corpus = [line.strip() for line in f if line.strip()]
        if not corpus:
            raise ValueError(f"{args.search_in}: no sentences in it (one sentence a line)")
    elif args.demo_corpus:
        corpus = list(DEMO_CORPUS)
    if corpus is None:
        for sentence, e in zip(args.sentence, emb):
            head = " ".join(f"{v:+.4f}" for v in e[:6])
            print(f"{sentence}\n  ({e.shape[0]} numbers, norm {np.linalg.norm(e):.3f}) {head} ...")
        if len(args.sentence) > 1:
            print("cosine similarities:")
            sims = emb @ emb.T
            for i, row in enumerate(sims):
                print("  " + " ".join(f"{v:6.3f}" for v in row) + f"   {args.sentence[i][:50]}")
        return 0
    hits = semantic_search(emb, encoder.encode(corpus, batch_size=args.batch_size), args.top_k)
    for sentence, row in zip(args.sentence, hits):
        print(sentence)
        for h in row:
            print(f"  {h.score:.3f}  {corpus[h.corpus_id]}")
    return 0


def cmd_finetune(args) -> int:
    """Fine-tune a pretrained BERT-family encoder (default all-MiniLM-L6-v2) with a
    classification head on a text-classification task (rt-polarity)."""
    from .recipes import finetune
    dataset = "rt-polarity" if args.task == "sentiment" else args.task
    out = args.out or os.path.join("neurona-runs", f"finetune-{args.task}-{args.mode}")
    result = finetune.train(dataset, data_dir=find_text_data_dir(args.data_dir, dataset),
                            out=out, arch=args.mode, epochs=args.epochs, lr=args.lr,
                            batch_size=args.batch_size, seed=args.seed,
                            max_steps=args.max_steps, max_minutes=args.max_minutes,
                            plots=not args.no_plots, quiet=args.quiet, model_path=args.model,
                            device=args.device, average=args.average)
    _print_result(result)
    return 0


def cmd_attention(args) -> int:
    """Plot the attention weights of one layer (one head, or all heads) for a sentence."""
    from .models.attention_maps import attention_maps, plot_attention, plot_attention_heads
    from .models.pretrained import minilm_path
    maps = attention_maps(args.model or str(minilm_path()), None, args.sentence)
    if not 0 <= args.layer < maps.n_layer:
        raise ValueError(f"--layer must be in 0..{maps.n_layer - 1}, got {args.layer}")
    os.makedirs(args.out, exist_ok=True)
    if args.head is None:
        path = plot_attention_heads(maps.weights[args.layer], maps.tokens,
                                    os.path.join(args.out, f"attention_layer{args.layer}.png"),
                                    title=f"layer {args.layer}, all {maps.n_head} heads")
    else:
        w = maps.head(args.layer, args.head)
        path = plot_attention(w, maps.tokens, maps.tokens,
                              os.path.join(args.out, f"attention_l{args.layer}_h{args.head}.png"),
                              title=f"layer {args.layer}, head {args.head}")
        for tok, row in zip(maps.tokens, w):
            print(f"  {tok:>12s} -> {maps.tokens[int(row.argmax())]}  ({row.max():.2f})")
    print(f"wrote {path}")
    return 0


def _print_result(result: dict) -> None:
    metrics = result.get("metrics", {})
    shown = "   ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in metrics.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool))
    print(f"done in {result.get('wall_s', 0):.1f} s:   {shown}")
    for path in [result.get("checkpoint")] + list(result.get("plots") or []):
        if path:
            print(f"wrote {path}")


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
                   help="how many tokens to add (default 200; past a Transformer's "
                        "block_size it reads the last block_size tokens: a sliding window)")
    p.add_argument("--crop-prompt", action="store_true", dest="crop_prompt",
                   help="keep the last block_size tokens of a longer prompt (default: "
                        "refuse it)")
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

    p = sub.add_parser("embed", help="sentence embeddings and semantic search (BERT/MiniLM)",
                       description="Embed each SENTENCE with a pretrained BERT-family "
                                   "checkpoint (mean pooling + L2 normalisation); with "
                                   "--search-in FILE, print the nearest sentences of FILE.")
    p.add_argument("sentence", nargs="+", help="one or more sentences (quote each)")
    p.add_argument("--model", help="a Hugging Face folder (config.json, model.safetensors, "
                                   "tokenizer.json); default: the installed all-MiniLM-L6-v2")
    p.add_argument("--search-in", dest="search_in", metavar="FILE",
                   help="a text file, one sentence a line: print the nearest ones")
    p.add_argument("--demo-corpus", action="store_true", dest="demo_corpus",
                   help="search a small built-in corpus instead")
    p.add_argument("--top-k", type=int, default=3, dest="top_k")
    p.add_argument("--batch-size", type=int, default=32, dest="batch_size")
    p.add_argument("--out", help="also save the embeddings as a .npy file")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("finetune", help="fine-tune a pretrained encoder (MiniLM) on a task",
                       description="Fine-tune a BERT-family checkpoint with a classification "
                                   "head: --mode full (every weight), head (the encoder "
                                   "frozen), or lora (low-rank adapters on the attention "
                                   "projections and the head).")
    p.add_argument("task", choices=["sentiment"], help="sentiment: rt-polarity, fixed split")
    p.add_argument("--mode", choices=["full", "head", "lora"], default="head")
    p.add_argument("--model", help="a Hugging Face BERT folder (default: the installed "
                                   "all-MiniLM-L6-v2)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--max-steps", type=int, dest="max_steps")
    p.add_argument("--max-minutes", type=float, dest="max_minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--average", type=int, default=0, help="full/lora: also try the mean of "
                   "the states at the last K validations (kept when validation is not worse)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda (CuPy and a GPU)")
    p.add_argument("--out", help="output folder (default neurona-runs/finetune-TASK-MODE)")
    p.add_argument("--data-dir", dest="data_dir", help="folder holding rt-polarity/")
    p.add_argument("--no-plots", action="store_true", dest="no_plots")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("attention", help="plot a Transformer's attention weights for a sentence",
                       description="Run SENTENCE through a BERT or GPT-2 checkpoint folder "
                                   "(default all-MiniLM-L6-v2) and plot the attention "
                                   "weights of --layer: one --head, or all heads.")
    p.add_argument("sentence")
    p.add_argument("--model", help="a Hugging Face BERT or GPT-2 folder")
    p.add_argument("--layer", type=int, default=0)
    p.add_argument("--head", type=int, help="one head (default: a grid of all heads)")
    p.add_argument("--out", default="neurona-attention", help="folder for the PNG")
    p.set_defaults(func=cmd_attention)
