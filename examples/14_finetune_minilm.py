"""Fine-tuning a pretrained encoder: MiniLM for sentiment on rt-polarity, three ways.

    python examples/14_finetune_minilm.py [--modes head,lora,full] [--out DIR]
                                          [--max-minutes 40] [--quick]

The classifier: all-MiniLM-L6-v2 (6 layers, d = 384), the mean of its token states over
the real tokens (the sentence embedding u), dropout, Linear(384, 2).  What trains:

    head   the encoder is frozen; u is computed once per snippet, only W, b train
           (770 parameters)
    lora   LoRA adapters on the attention's W_Q, W_K and W_V,  W x + (alpha/r) B A x  with
           A (r, 384), B (384, r), r = 8, plus the head (111,362 parameters): 0.817
    full   all 22.7M parameters (AdamW, lr 5e-5, warm-up then linear decay, 3 epochs):
           0.836 test accuracy; 0.830 +- 0.007 over 30 runs of a GPU sweep
           (examples/16_finetune_sweep.py; neurona/recipes/finetune.py has every run)

Same split as the sentiment example (9,596 train -- 10% of it for validation -- and
1,066 test snippets); the models trained from scratch there reach 0.76-0.78.  On a CPU
the head mode takes minutes; LoRA and full fine-tuning take ~0.7-2 s per batch of 32 on one
core (3 epochs: 10-20 minutes each), and ``--max-minutes`` bounds them (the table says how
many steps ran).
``--quick``: slices of the data, about a minute per mode.
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from neurona.recipes import finetune


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", default="head,lora,full")
    ap.add_argument("--out", default="runs/finetune")
    ap.add_argument("--max-minutes", type=float, default=40.0)
    ap.add_argument("--model", default=None, help="a BERT checkpoint folder "
                    "(default: the installed all-MiniLM-L6-v2)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    texts = None
    if args.quick:
        from neurona.recipes.sentiment import load_data
        d = load_data()
        texts = {k: (d[k][0][:n], d[k][1][:n]) for k, n in
                 (("train", 400), ("val", 100), ("test", 200))}
    rows = []
    for mode in args.modes.split(","):
        kw = {} if mode == "head" else {"max_minutes": args.max_minutes}
        r = finetune.train(arch=mode, out=os.path.join(args.out, mode), texts=texts,
                           model_path=args.model, **kw)
        m = r["metrics"]
        rows.append((mode, f"{m['trainable_parameters']:,}", m["steps"], m["stopped_by"],
                     f"{m['val_accuracy']:.4f}", f"{m['test_accuracy']:.4f}",
                     f"{m['wall_s']:.0f}"))
    header = ("mode", "trainable", "steps", "stopped by", "val acc", "test acc", "wall s")
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(f"{str(c):>{w}}" for c, w in zip(r, widths)))
    p = finetune.predict(os.path.join(args.out, rows[-1][0]),
                         ["a gorgeous , witty , moving film", "a dull , lifeless mess"],
                         model_path=args.model)
    print("predictions of the last model:", p["names"])


if __name__ == "__main__":
    main()
