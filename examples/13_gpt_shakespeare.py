"""A small GPT, trained from scratch, that writes Shakespeare one character at a time.

    python examples/13_gpt_shakespeare.py                    # the full run (30 minutes)
    python examples/13_gpt_shakespeare.py --max-minutes 5    # a shorter one

Trains :mod:`neurona.recipes.gpt_char` with its defaults on tiny-shakespeare (1.1M
characters, 65 distinct; the first 90% to train, the last 10% to validate): a 4-layer,
4-head GPT of width 128 reading 128 characters, nanoGPT's ``shakespeare_char`` recipe
scaled down to a CPU. It prints the validation loss in nats per character and a sample
at each evaluation, then streams a longer sample at temperature 0.8 from "ROMEO:" -- longer
than the model's 128-character window, so the context slides: once 128 characters are
written, each new one is predicted from the last 128 (``generate`` re-reads the window).

Afterwards, from the command line:

    neurona generate runs/gpt-char/model.safetensors --prompt "JULIET:" --temperature 0.8
"""
import argparse
import sys

from neurona.models.generation import generate_text, load_causal_lm
from neurona.recipes import gpt_char


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="the folder holding tiny-shakespeare/ "
                                           "(default: ./data, ../shared/data)")
    parser.add_argument("--out", default="runs/gpt-char", help="where the checkpoint, "
                        "metrics.json and loss_curves.png go (default runs/gpt-char)")
    parser.add_argument("--max-minutes", type=float, default=gpt_char.FULL_RUN_MINUTES,
                        help="stop training after this long (default %(default)s)")
    parser.add_argument("--max-steps", type=int, help="stop training after this many steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--chars", type=int, default=500, help="length of the final sample")
    args = parser.parse_args(argv)

    result = gpt_char.train(data_dir=args.data_dir, out=args.out, seed=args.seed,
                            max_minutes=args.max_minutes, max_steps=args.max_steps)
    m = result["metrics"]
    print(f"\nvalidation loss {m['val_loss']:.3f} nats/char ({m['val_bits_per_char']:.2f} "
          f"bits/char) at step {m['best_step']} of {m['steps']}, "
          f"{result['wall_s'] / 60:.1f} min; checkpoint {result['checkpoint']}")

    # reload the best checkpoint, as a user would, and stream a sample
    model, tokenizer = load_causal_lm(result["checkpoint"])
    print(f"\n--- {args.chars} characters at temperature {args.temperature} ---\n")
    sys.stdout.write(args.prompt)
    # more characters than the 128 the model reads: generate slides the window itself
    generate_text(model, tokenizer, args.prompt, args.chars, temperature=args.temperature,
                  seed=args.seed, stream=sys.stdout)
    print()


if __name__ == "__main__":
    main()
