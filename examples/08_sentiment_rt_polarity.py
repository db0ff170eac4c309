"""Sentiment analysis on rt-polarity: mean-pooled word embeddings versus a BiLSTM.

    python examples/08_sentiment_rt_polarity.py [--arch mean|bilstm|both] [--data-dir DIR]
                                                [--out DIR] [--epochs N] [--seed S]

Many-to-one classification: a movie-review snippet in, "positive" or "negative" out.
Both models start by looking each word up in an embedding table (a learned vector per
word of the training vocabulary); they differ in how they turn the sentence's vectors
into one:

* the course's model averages them (over the real words: a masked mean that ignores the
  padding of the batch) and classifies the average with a feed-forward network -- word
  order is lost, but which words are there says a lot;
* the BiLSTM reads the words in order, left-to-right and right-to-left, so "not good"
  can differ from "good".

The split is fixed (``split_rt_polarity(seed=0)``: 9,596 training and 1,066 test
snippets); 10% of the training snippets pick the epoch (early stopping), the test set
is used once.  After training, the script prints each model's test accuracy and wall
time, the nearest neighbours (cosine similarity) of a few words in the learned
embedding, and classifies a few sentences of its own; plots (training curves and the
embedding projected to 2-D by PCA) go to --out (default examples-output/sentiment).
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from neurona.recipes import sentiment

SENTENCES = ["a gorgeous , witty and deeply moving film .",
             "a dull , predictable mess that wastes its cast .",
             "not bad at all .",
             "the plot is thin but the actors are wonderful .",
             ""]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", choices=("mean", "bilstm", "both"), default="both")
    p.add_argument("--data-dir", help="a folder holding rt-polarity/ (default: the usual "
                                      "data folders, e.g. ../shared/data)")
    p.add_argument("--out", default=os.path.join("examples-output", "sentiment"),
                   help="where checkpoints, metrics and plots go")
    p.add_argument("--epochs", type=int, help="at most this many epochs (default: tuned)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    archs = ("mean", "bilstm") if args.arch == "both" else (args.arch,)
    results = {}
    for arch in archs:
        print(f"\n=== {arch} ===")
        results[arch] = sentiment.train(data_dir=args.data_dir,
                                        out=os.path.join(args.out, arch), arch=arch,
                                        epochs=args.epochs, seed=args.seed)

    print("\n=== summary ===")
    for arch, r in results.items():
        m = r["metrics"]
        print(f"{arch:7s} ({m['model']}, {m['parameters']:,} parameters): test accuracy "
              f"{m['test_accuracy']:.4f}  (validation {m['val_accuracy']:.4f}, best epoch "
              f"{m['best_epoch']} of {m['epochs_run']}), {r['wall_s']:.0f} s")
    for arch, r in results.items():
        print(f"\nnearest neighbours in the {arch} model's embedding (cosine similarity):")
        for word, pairs in r["metrics"]["neighbours"].items():
            print(f"  {word:10s} " + ", ".join(f"{w} ({s:.2f})" for w, s in pairs))
    for arch, r in results.items():
        out = sentiment.predict(r["checkpoint"], SENTENCES)
        print(f"\n{arch} model on new sentences:")
        for text, name, prob, empty in zip(SENTENCES, out["names"], out["probabilities"],
                                           out["empty"]):
            note = "   (empty: no evidence)" if empty else ""
            print(f"  {name:8s} p(positive) = {prob[1]:.2f}   {text!r}{note}")
    for arch, r in results.items():
        for path in [r["checkpoint"]] + r["plots"]:
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
