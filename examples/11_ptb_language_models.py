"""Neural language models on the Penn Treebank: Bengio's NLM (2003) and an LSTM.

    python examples/11_ptb_language_models.py                      # both, full runs
    python examples/11_ptb_language_models.py --arch bengio        # one of them
    python examples/11_ptb_language_models.py --arch lstm --max-minutes 10

Trains :mod:`neurona.recipes.language_model` with its tuned defaults on PTB (929k
training words, a vocabulary of 10,000; rare words are ``<unk>``, numbers ``N``):

* ``bengio`` -- the 4 previous words -> their embeddings (rows of C, the first layer's
  weights) -> tanh hidden layer -> softmax over the 10,000 words;
* ``lstm`` -- a 2-layer LSTM reading the whole text word by word (tied input/output
  embeddings, dropout), trained with truncated backpropagation through time.

Prints the validation perplexity after each epoch, then the validation and test
perplexity of the best epoch, a few sampled sentences, and the nearest neighbours of a
few words in the learned embedding space (cosine similarity of rows of C). Checkpoints,
metrics.json and the perplexity curves go to --out/<arch>/.

Afterwards, from the command line:

    neurona generate runs/nlm/lstm/model.safetensors --prompt "the company" --max-new-tokens 30
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from neurona.recipes import language_model as lm

PROMPTS = ("the company said", "in new york", "the stock market")
NEIGHBOURS = ("company", "stock", "monday", "million", "he")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=lm.ARCHS + ("both",), default="both")
    parser.add_argument("--data-dir", help="the folder holding ptb/ (default: ./data, "
                                           "../shared/data)")
    parser.add_argument("--out", default="runs/nlm", help="checkpoints, metrics and plots go "
                        "to OUT/<arch>/ (default runs/nlm)")
    parser.add_argument("--max-minutes", type=float, help="stop each training after this long")
    parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.8)
    args = parser.parse_args(argv)

    archs = lm.ARCHS if args.arch == "both" else (args.arch,)
    results = {}
    for arch in archs:
        print(f"\n=== {arch} ===")
        r = lm.train(arch=arch, data_dir=args.data_dir, out=os.path.join(args.out, arch),
                     epochs=args.epochs, seed=args.seed, max_minutes=args.max_minutes)
        results[arch] = r
        model, tok = r["model"], r["tokenizer"]
        print("\nsamples (temperature %.1f; a line break is <eos>):" % args.temperature)
        for i, prompt in enumerate(PROMPTS):
            text = lm.sample(model, tok, prompt, length=25, temperature=args.temperature,
                             seed=args.seed + i)
            print("  " + text.split("\n")[0] + (" ..." if "\n" not in text else " <eos>"))
        print("\nnearest words in the embedding space (cosine similarity):")
        for word in NEIGHBOURS:
            near = ", ".join(f"{w} {s:.2f}" for w, s in lm.nearest_words(model, tok.vocab, word))
            print(f"  {word:8s} -> {near}")

    print("\n arch     parameters   val ppl   test ppl   epochs   wall")
    for arch, r in results.items():
        m = r["metrics"]
        print(f" {arch:8s} {m['parameters']:>10,}   {m['val_perplexity']:7.1f}   "
              f"{m['test_perplexity']:8.1f}   {m['epochs_run']:6d}   {r['wall_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
