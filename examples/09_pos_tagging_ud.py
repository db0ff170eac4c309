"""Part-of-speech tagging with a BiLSTM on Universal Dependencies: one tag per word.

    python examples/09_pos_tagging_ud.py [--epochs 10] [--data-dir DIR] [--out DIR]
                                         [--tags upos|xpos] [--max-minutes M]

Many-to-many sequence labelling: every word of a sentence gets a part-of-speech tag
(NOUN, VERB, DET, ADP, ...: the 17 universal UPOS tags).  The model
(``neurona.models.BiLSTMTagger``) embeds each word, adds features of its spelling from a
small character CNN (so an unseen word such as "Zanzibarville" still looks like a proper
noun), reads the sentence in both directions with an LSTM, and scores the tags of each
word from the two LSTM states around it.  Trained with Adam on UD English-EWT's 12,544
training sentences, selected on dev, it tags the 25,094 words of the test set about 95%
right (see neurona/recipes/pos_tagging.py for the numbers and the wall time).

--data-dir is a folder with ud-english-ewt/ in it, or the folder of ANY UD treebank
(its *-ud-train.conllu, *-ud-dev.conllu, *-ud-test.conllu files, e.g. UD_French-GSD);
without it the files are looked for in $NEURONA_DATA, ./data and ../shared/data.
The checkpoint, metrics.json, the training curves and the test confusion matrix go to
--out (examples-output/pos_tagging).
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from neurona.recipes import pos_tagging

SENTENCES = [
    "The old man the boats.",
    "I can't believe she booked a flight to Reykjavik for $300!",
    "Time flies like an arrow; fruit flies like a banana.",
    "Please email the quarterly report to Dr. Okonkwo by Friday.",
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's (10)")
    ap.add_argument("--data-dir", default=None, help="a UD treebank folder, or a folder "
                    "holding ud-english-ewt/")
    ap.add_argument("--dataset", default=pos_tagging.DEFAULT,
                    help="the treebank folder's name under --data-dir")
    ap.add_argument("--tags", default="upos", choices=["upos", "xpos"])
    ap.add_argument("--out", default=os.path.join("examples-output", "pos_tagging"))
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    result = pos_tagging.train(args.dataset, data_dir=args.data_dir, out=args.out,
                               epochs=args.epochs, tags=args.tags, seed=args.seed,
                               max_minutes=args.max_minutes)
    m = result["metrics"]
    print(f"\n{args.tags.upper()} test accuracy: {m['test_accuracy']:.2%} "
          f"({m['test_words']:,} words; best dev {m['dev_accuracy']:.2%} at epoch "
          f"{m['best_epoch']}); {m['seconds_per_epoch']:.0f} s per epoch, "
          f"{m['wall_s']:.0f} s in all")
    print(f"words never seen in training: {m['test_oov_rate']:.1%} of the test words, "
          f"tagged {m['test_oov_accuracy']:.2%} right")
    print(f"checkpoint: {result['checkpoint']}; plots: {', '.join(result['plots'])}\n")
    for sentence in SENTENCES:
        pairs = pos_tagging.tag(result["checkpoint"], sentence)
        print(" ".join(f"{w}/{t}" for w, t in pairs))


if __name__ == "__main__":
    main()
