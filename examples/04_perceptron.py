"""The perceptron: one neuron that learns AND and OR, and cannot learn XOR.

    python examples/04_perceptron.py [--out DIR]

    y_hat = step(w . x + b)                  1 if w . x + b >= 0, else 0
    w <- w + alpha (y - y_hat) x             the perceptron learning rule,
    b <- b + alpha (y - y_hat)               applied after each wrong answer

AND and OR are *linearly separable*: a straight line splits the 1s from the 0s, and the
rule finds one after a few passes.  XOR is not: whatever the line, one of the four
points is on the wrong side.  A hidden layer fixes that: a small MLP learns XOR.
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import neurona as nr
from neurona import nn, optim, viz
from neurona.models import LOGIC_GATES, MLP, Perceptron


def main(out="examples-output"):
    X = LOGIC_GATES["X"]
    for gate in ("AND", "OR", "XOR"):
        y = LOGIC_GATES[gate]
        p = Perceptron(2).fit(X, y, epochs=20)
        status = (f"converged after {len(p.errors_)} epochs" if p.converged_
                  else f"still {p.errors_[-1]} mistake(s) per epoch after {len(p.errors_)}")
        print(f"{gate:4s} w = {p.weight.detach().numpy().round(2).tolist()}, b = {p.bias.item():.1f}: "
              f"predicts {p.predict(X).tolist()} for {y.tolist()}  ({status})")
        path = viz.plot_decision_boundary(p, X, y, os.path.join(out, f"04_perceptron_{gate}.png"),
                                          title=f"perceptron on {gate}")
        print(f"     wrote {path}")

    # a sigmoid unit is trained by gradient descent instead (and fails XOR the same way)
    unit = Perceptron(2, activation="sigmoid").fit(X, LOGIC_GATES["OR"], epochs=500, lr=1.0)
    probs = ", ".join(f"{p:.2f}" for p in unit.predict_proba(X))
    print(f"sigmoid unit on OR: P(y=1) = {probs}")

    # one hidden layer of a few tanh units is enough for XOR
    nr.manual_seed(1)
    mlp = MLP(2, hidden=(4,), out_features=2, activation="tanh")
    opt = optim.Adam(mlp.parameters(), lr=0.1)
    Xt, yt = nr.tensor(X), nr.tensor(LOGIC_GATES["XOR"])
    for _ in range(300):
        loss = nn.functional.cross_entropy(mlp(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"MLP 2-4-2 on XOR: predicts {mlp.predict(X).tolist()} "
          f"for {LOGIC_GATES['XOR'].tolist()}  (loss {loss.item():.4f})")
    path = viz.plot_decision_boundary(mlp, X, LOGIC_GATES["XOR"],
                                      os.path.join(out, "04_mlp_XOR.png"),
                                      title="a hidden layer learns XOR")
    print(f"     wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="examples-output", help="folder for the plots")
    main(parser.parse_args().out)
