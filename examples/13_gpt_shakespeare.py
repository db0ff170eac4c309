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
from neurona.recipes import gpt_char
from neurona.recipes._loop import example_main


def main(argv=None):
    # train, print the validation loss, reload the best checkpoint and stream a sample
    return example_main(gpt_char, argv, __doc__.split("\n")[0], out="runs/gpt-char",
                        max_minutes=gpt_char.FULL_RUN_MINUTES)


if __name__ == "__main__":
    main()
