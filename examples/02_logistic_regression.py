"""Logistic regression: the sigmoid unit as a classifier.

    python examples/02_logistic_regression.py [--out DIR]

    h_theta(x) = sigma(theta^T x) = 1 / (1 + e^(-theta^T x))     P(y = 1 | x)
    J(theta)   = -1/m sum_i [y_i log h + (1 - y_i) log(1 - h)]    cross-entropy
    predict 1 where h >= 0.5, that is where theta^T x >= 0        the decision boundary

First on two generated clouds of points in the plane (the Playground's "gauss"), where
the decision boundary is a straight line we can draw; then on the breast-cancer data
(569 tumours, 30 features), with a held-out 20% to measure accuracy.
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from neurona import viz
from neurona.models import LogisticRegression
from neurona.models.tasks import load_task


def main(out="examples-output"):
    print(f"wrote {viz.plot_sigmoid(os.path.join(out, '02_sigmoid.png'))}")

    task = load_task("gauss", seed=0, noise=0.3)           # two classes, 2-D points
    model = LogisticRegression().fit(task.X_train, task.y_train, lr=0.5, epochs=300)
    w, b = model.coef_, model.intercept_
    print(f"2-D: theta = ({b:.2f}, {w[0]:.2f}, {w[1]:.2f}); boundary "
          f"{w[0]:.2f} x1 + {w[1]:.2f} x2 + {b:.2f} = 0;  "
          f"test accuracy {model.score(task.X_test, task.y_test):.1%}")
    path = viz.plot_decision_boundary(model, task.X_train, task.y_train,
                                      os.path.join(out, "02_decision_boundary.png"),
                                      title="logistic regression: a straight boundary")
    print(f"wrote {path}")

    task = load_task("breast-cancer", seed=0)
    model = LogisticRegression().fit(task.X_train, task.y_train, lr=0.1, epochs=1000)
    print(f"breast cancer: cost {model.cost_history_[0]:.3f} -> {model.cost_history_[-1]:.3f} "
          f"in 1000 steps;  test accuracy {model.score(task.X_test, task.y_test):.1%}")
    probs = ", ".join(f"{p:.3f}" for p in model.predict_proba(task.X_test[:5]))
    print(f"P(benign) of the first five test tumours: {probs};  labels: "
          f"{task.y_test[:5].tolist()}")
    path = viz.plot_confusion_matrix(task.y_test, model.predict(task.X_test),
                                     os.path.join(out, "02_confusion_matrix.png"),
                                     labels=task.class_names)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="examples-output", help="folder for the plots")
    main(parser.parse_args().out)
