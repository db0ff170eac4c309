"""Linear regression by gradient descent, and the cost surface it walks down.

    python examples/01_linear_regression_gd.py [--out DIR]

The diabetes data (442 patients, bundled with scikit-learn) with one feature, the body
mass index x, and the course's model and cost

    h_theta(x) = theta_0 + theta_1 x
    J(theta)   = 1/(2m) sum_i (h_theta(x_i) - y_i)^2

Gradient descent starts at theta = (0, 0) and repeats theta <- theta - alpha dJ/dtheta;
autograd computes dJ/dtheta.  The plot shows the contours of J(theta_0, theta_1) with
the path gradient descent took, ending at the least-squares solution (the star).
Then all ten features: gradient descent, the normal equations and scikit-learn agree.
"""
import argparse
import os
import sys

import numpy as np

try:
    import neurona  # noqa: F401
except ImportError:                                # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from neurona import viz
from neurona.models import LinearRegression
from neurona.models.tasks import load_task


def main(out="examples-output"):
    task = load_task("diabetes", seed=0)           # 80/20 split, standardized features
    X, y = task.X_train, task.y_train
    bmi = X[:, task.feature_names.index("bmi")]

    # one feature: gradient descent on J(theta_0, theta_1)
    model = LinearRegression().fit(bmi, y, method="gradient_descent", lr=0.1, epochs=60)
    exact = LinearRegression().fit(bmi, y, method="closed_form")
    print(f"gradient descent, 60 steps: theta_0 = {model.intercept_:.2f}, "
          f"theta_1 = {model.coef_[0]:.2f}, J = {model.cost_history_[-1]:.1f}")
    print(f"normal equations:           theta_0 = {exact.intercept_:.2f}, "
          f"theta_1 = {exact.coef_[0]:.2f}, J = {exact.cost_history_[-1]:.1f}")
    print("J after steps 1, 10, 30, 60:",
          ", ".join(f"{model.cost_history_[i]:.0f}" for i in (0, 9, 29, 59)))
    path = viz.plot_cost_surface(bmi, y, model.theta_history_,
                                 os.path.join(out, "01_cost_surface.png"))
    print(f"wrote {path}")

    # all ten features: three ways to the same coefficients
    from sklearn.linear_model import LinearRegression as SkLinearRegression
    gd = LinearRegression().fit(X, y, method="gradient_descent", lr=0.3, epochs=3000)
    closed = LinearRegression().fit(X, y)
    sk = SkLinearRegression().fit(X, y)
    np.set_printoptions(precision=2, suppress=True)
    print("\nten features, coefficients theta_1..theta_10:")
    print("  gradient descent ", gd.coef_)
    print("  normal equations ", closed.coef_)
    print("  scikit-learn     ", sk.coef_)
    print(f"test R^2: {closed.score(task.X_test, task.y_test):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="examples-output", help="folder for the plot")
    main(parser.parse_args().out)
