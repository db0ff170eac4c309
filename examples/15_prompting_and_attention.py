"""Attention maps of a pretrained BERT, and few-shot prompting of a causal LM.

    python examples/15_prompting_and_attention.py
    python examples/15_prompting_and_attention.py --layer 2 --head 5 --sentence "..."
    python examples/15_prompting_and_attention.py --gpt2 PATH/TO/gpt2   # a real GPT-2 folder

**Part 1, attention maps.**  all-MiniLM-L6-v2 (6 layers x 12 heads) reads the sentence;
every head's weights P = softmax(Q K^T / sqrt(d_k) + M) are recorded with
:func:`neurona.models.attention_maps.record_attention` (they equal transformers'
``output_attentions`` to ~1e-6).  The chosen head is saved as a heatmap
(``OUT/attention_L{l}_H{h}.png``), all heads of that layer as a grid
(``OUT/attention_L{l}_heads.png``), and for each token the token it reads most is printed.
Measured with the default sentence: in layer 3, head 1 (the default), "it" reads "animal"
with weight 0.68; layer 0, head 2 is a previous-token head (token i reads token i-1 with
weight 0.9999 on average).

**Part 2, few-shot prompting.**  A prompt shows solved examples in a template and ends
with an open query; the model's most likely continuation is its answer.  With ``--gpt2``
a Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer.json) is prompted
with a small English -> French list.  Without it, a tiny GPT is trained here for a few
seconds on text made of examples ``x>X`` (a letter, then its capital), and the prompt
shows the mechanics: the model has seen the pattern, the prompt selects it, and the
completion (streamed as it is generated, stopped at the end of the line) is the answer.
"""
import argparse
import os
import sys
import time

import numpy as np

import neurona
from neurona.models import GPT, pretrained
from neurona.models.attention_maps import attention_maps, plot_attention, plot_attention_heads
from neurona.models.generation import load_causal_lm
from neurona.models.prompting import complete, few_shot_prompt
from neurona.text import CharTokenizer

LETTERS = "abcdefgh"
TRANSLATIONS = [("cheese", "fromage"), ("house", "maison"), ("cat", "chat"),
                ("water", "eau")]


def show_attention(sentence, layer, head, out):
    model, tok = pretrained.from_pretrained(pretrained.minilm_path())
    maps = attention_maps(model, tok, sentence)
    w = maps.head(layer, head)
    print(f"all-MiniLM-L6-v2: {maps.n_layer} layers x {maps.n_head} heads, "
          f"{len(maps.tokens)} tokens: {' '.join(maps.tokens)}")
    print(f"layer {layer}, head {head}: each token -> the token it attends to most")
    for i, t in enumerate(maps.tokens):
        j = int(np.argmax(w[i]))
        print(f"  {t:>12} -> {maps.tokens[j]:<12} ({w[i, j]:.2f})")
    os.makedirs(out, exist_ok=True)
    one = plot_attention(w, maps.tokens, maps.tokens,
                         os.path.join(out, f"attention_L{layer}_H{head}.png"),
                         f"MiniLM layer {layer}, head {head}")
    grid = plot_attention_heads(maps.weights[layer], maps.tokens,
                                os.path.join(out, f"attention_L{layer}_heads.png"),
                                f"MiniLM layer {layer}: all heads")
    print(f"saved {one} and {grid}")


def train_tiny_gpt(steps=300, seed=0):
    """A 1-layer GPT on text 'a>A\\nf>F\\n...': it must attend to the letter before '>'."""
    neurona.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok = CharTokenizer().fit(LETTERS + LETTERS.upper() + ">\n")
    model = GPT(len(tok), block_size=32, n_layer=1, n_head=2, n_embd=32)
    opt = neurona.optim.Adam(model.parameters(), lr=3e-3)
    start = time.time()
    for step in range(steps):
        texts = ["".join(f"{x}>{x.upper()}\n" for x in rng.choice(list(LETTERS), 9))
                 for _ in range(16)]
        batch = np.array([tok.encode(t)[:33] for t in texts])
        logits, _ = model(neurona.tensor(batch[:, :-1]))
        loss = neurona.nn.functional.cross_entropy(logits.reshape(-1, len(tok)),
                                                   neurona.tensor(batch[:, 1:].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:3d}  loss {loss.item():.3f} nats/char")
    print(f"trained in {time.time() - start:.1f} s (the floor is ln 8 / 4 = 0.52: the next "
          "random letter cannot be predicted)")
    return model.eval(), tok


def run_prompt(model, tok, prompt, max_new_tokens):
    print("--- prompt " + "-" * 30)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    answer = complete(model, tok, prompt, max_new_tokens, stop="\n", stream=sys.stdout)
    print("\n" + "-" * 41)
    return answer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sentence", default="The animal didn't cross the street because it "
                                         "was too tired.")
    p.add_argument("--layer", type=int, default=3)
    p.add_argument("--head", type=int, default=1)
    p.add_argument("--out", default="runs/attention", help="where the plots go")
    p.add_argument("--gpt2", help="a Hugging Face GPT-2 folder to prompt")
    p.add_argument("--query", help="the open query of the few-shot prompt")
    args = p.parse_args(argv)

    show_attention(args.sentence, args.layer, args.head, args.out)
    print()
    if args.gpt2:
        model, tok = load_causal_lm(args.gpt2)
        prompt = few_shot_prompt(TRANSLATIONS, args.query or "dog",
                                 template="English: {x}\nFrench: {y}\n\n")
        run_prompt(model, tok, prompt, 10)
    else:
        print("training a tiny GPT on 'x>X' examples (pass --gpt2 FOLDER for a real model)")
        model, tok = train_tiny_gpt()
        for query in (args.query or "d", "g"):
            prompt = few_shot_prompt([("a", "A"), ("f", "F"), ("c", "C")], query,
                                     template="{x}>{y}\n")
            answer = run_prompt(model, tok, prompt, 5)
            print(f"query {query!r} -> {answer!r}")


if __name__ == "__main__":
    main()
