"""``neurona demo``: the first half of the course in about a minute, on real data.

1. **Linear regression** on the diabetes data (442 patients, 10 features): the normal
   equations, gradient descent on J(theta) = 1/(2m) sum (h - y)^2, and scikit-learn give
   the same coefficients; with one feature (body-mass index) the cost surface
   J(theta_0, theta_1) is drawn with the path gradient descent took across it.
2. **Logistic regression** on the breast-cancer data: h = sigma(theta^T x), cross-entropy,
   gradient descent; accuracy on a held-out 20%.
3. **The perceptron** learns AND and OR, and cannot learn XOR.
4. **A feed-forward network** (MLP) on 8x8 handwritten digits, trained with
   ``neurona.train.fit``, ``optim.Adam`` and a ``DataLoader``.
5. **A network by hand**: a two-layer tanh network on the TensorFlow Playground's spiral,
   with nothing but tensors, ``loss.backward()`` and ``p -= lr * p.grad``.
6. **A convolutional network** on the digits of part 4 read as 8x8 images: two
   convolution + max-pooling stages and a linear layer, its layer table from
   ``neurona.models.summary``, and plots of its learned filters, its feature maps and the
   digits it gets wrong.

Parts 1, 2, 4 and 6 use datasets bundled with scikit-learn, and the plots need matplotlib
(``pip install 'neurona[demo]'``, which ``make demo`` does); without them those parts
are skipped with a note.  Nothing is downloaded.  Plots go to ``./neurona-demo-output/``.

Part 5 in formulas::

    h = tanh(x W1 + b1)          x: (B, 2)    W1: (2, 64)   b1: (64,)
    z = h W2 + b2                z: (B, 2)    W2: (64, 2)   b2: (2,)
    L = cross_entropy(z, y)      mean over the batch of  -log softmax(z)[y]

trained by mini-batch gradient descent written out by hand: ``L.backward()`` fills each
parameter's ``.grad`` with dL/dparameter, and the update ``p <- p - lr * dL/dp`` runs
inside ``neurona.no_grad()`` so that it is not itself recorded for backward.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

import neurona as nr
import neurona.nn.functional as F

__all__ = ["spiral", "spiral_by_hand", "main"]

DEFAULT_OUT = "neurona-demo-output"


def _title(text: str) -> None:
    print(f"\n== {text} " + "=" * max(3, 74 - len(text)))


# ----------------------------------------------------------------------------- 1. linear

def linear_regression(out: str, plots: bool) -> dict:
    from sklearn.linear_model import LinearRegression as SkLinearRegression
    from .models import LinearRegression
    from .models.tasks import load_task
    _title("1. linear regression: diabetes progression from 10 features")
    task = load_task("diabetes", seed=0)
    X, y = task.X_train, task.y_train
    t = time.perf_counter()
    closed = LinearRegression().fit(X, y)                       # normal equations
    t_closed = time.perf_counter() - t
    t = time.perf_counter()
    gd = LinearRegression().fit(X, y, method="gradient_descent", lr=0.3, epochs=3000)
    t_gd = time.perf_counter() - t
    sk = SkLinearRegression().fit(X, y)
    print(f"   {len(X)} training examples, standardized features; theta = (theta_0, ..., theta_10)")
    print(f"   closed form (least squares) {t_closed * 1e3:7.1f} ms   J = {closed.cost(X, y):.2f}")
    print(f"   gradient descent, 3000 steps {t_gd * 1e3:6.0f} ms   J = {gd.cost(X, y):.2f}")
    diff_gd = np.abs(gd.coef_ - closed.coef_).max()
    diff_sk = np.abs(sk.coef_ - closed.coef_).max()
    print(f"   largest coefficient difference: GD vs closed form {diff_gd:.4f}, "
          f"scikit-learn vs closed form {diff_sk:.2e}  (coefficients up to "
          f"{np.abs(closed.coef_).max():.1f})")
    print(f"   test R^2 = {closed.score(task.X_test, task.y_test):.3f}")
    result = {"gd_vs_closed": float(diff_gd), "sklearn_vs_closed": float(diff_sk)}
    if plots:
        from . import viz
        bmi = task.feature_names.index("bmi")
        one = LinearRegression().fit(X[:, bmi], y, method="gradient_descent", lr=0.1, epochs=60)
        path = viz.plot_cost_surface(X[:, bmi], y, one.theta_history_,
                                     os.path.join(out, "linear_regression_cost_surface.png"),
                                     title="y = theta_0 + theta_1 * bmi: J and 60 GD steps")
        print(f"   plot: {path}")
    return result


# ----------------------------------------------------------------------------- 2. logistic

def logistic_regression(out: str, plots: bool) -> dict:
    from .models import LogisticRegression
    from .models.tasks import load_task
    _title("2. logistic regression: breast-cancer diagnosis from 30 features")
    task = load_task("breast-cancer", seed=0)
    t = time.perf_counter()
    model = LogisticRegression().fit(task.X_train, task.y_train, lr=0.1, epochs=1000)
    seconds = time.perf_counter() - t
    acc = model.score(task.X_test, task.y_test)
    print(f"   h = sigma(theta^T x), cross-entropy, 1000 gradient-descent steps "
          f"({seconds:.1f} s): cost {model.cost_history_[0]:.3f} -> {model.cost_history_[-1]:.3f}")
    print(f"   test accuracy {acc:.1%} on {len(task.y_test)} held-out tumours "
          f"(decision boundary h = 0.5)")
    if plots:
        from . import viz
        path = viz.plot_confusion_matrix(task.y_test, model.predict(task.X_test),
                                         os.path.join(out, "logistic_regression_confusion.png"),
                                         labels=task.class_names)
        p2 = viz.plot_sigmoid(os.path.join(out, "sigmoid.png"))
        print(f"   plots: {path}, {p2}")
    return {"accuracy": acc}


# ----------------------------------------------------------------------------- 3. perceptron

def perceptron() -> dict:
    from .models import LOGIC_GATES, Perceptron
    _title("3. the perceptron: one neuron, the perceptron learning rule")
    results = {}
    X = LOGIC_GATES["X"]
    for gate in ("AND", "OR", "XOR"):
        p = Perceptron(2).fit(X, LOGIC_GATES[gate], epochs=50, lr=1.0)
        acc = p.score(X, LOGIC_GATES[gate])
        verdict = (f"learned in {len(p.errors_)} epochs" if p.converged_
                   else "never gets all 4 right: no straight line separates XOR")
        print(f"   {gate:3s}  predictions {p.predict(X).tolist()}  targets "
              f"{LOGIC_GATES[gate].tolist()}   {acc:.0%}  {verdict}")
        results[gate] = acc
    return results


# ----------------------------------------------------------------------------- 4. MLP

def mlp_digits(out: str, plots: bool, seed: int) -> dict:
    from . import optim
    from .models import MLP
    from .models.tasks import load_task
    from .train import fit
    from .utils.data import DataLoader, TensorDataset
    _title("4. a feed-forward network: 8x8 handwritten digits")
    task = load_task("digits", seed=0)
    nr.manual_seed(seed)
    model = MLP(64, hidden=(256, 128), out_features=10)
    train = DataLoader(TensorDataset(nr.tensor(task.X_train), nr.tensor(task.y_train)),
                       batch_size=32, shuffle=True)
    test = DataLoader(TensorDataset(nr.tensor(task.X_test), nr.tensor(task.y_test)),
                      batch_size=256)
    print(f"   MLP 64-256-128-10 (ReLU), Adam lr 2e-3 with a cosine schedule, batch 32, "
          f"30 epochs on {len(task.y_train)} images")
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    t = time.perf_counter()
    history = fit(model, train, epochs=30, loss_fn=model.loss_fn(), optimizer=optimizer,
                  scheduler=optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30),
                  val_loader=test, metrics=("accuracy",), progress=None, seed=seed)
    seconds = time.perf_counter() - t
    for e in (1, 10, 20, 30):
        print(f"   after epoch {e:2d}: train loss {history['loss'][e - 1]:.4f}   "
              f"test accuracy {history['val_accuracy'][e - 1]:.1%}")
    acc = history["val_accuracy"][-1]
    print(f"   test accuracy {acc:.1%} ({seconds:.1f} s)")
    if plots:
        from . import viz
        p1 = viz.plot_history(history, os.path.join(out, "mlp_digits_history.png"),
                              title="MLP on digits")
        p2 = viz.plot_confusion_matrix(task.y_test, model.predict(task.X_test),
                                       os.path.join(out, "mlp_digits_confusion.png"))
        print(f"   plots: {p1}, {p2}")
    return {"accuracy": acc}


# ----------------------------------------------------------------------------- 5. by hand

def spiral(n_per_class: int = 200, noise: float = 0.02, seed: int = 0):
    """The Playground's two-arm spiral: points (x, y) in about [-1, 1]^2 and labels 0/1.

    Arm c (c = 0, 1) has points at radius r_i = i / n and angle
    t_i = 3.5 pi r_i + c pi  (1.75 turns), each coordinate plus uniform noise in
    [-noise, noise].
    Returns ``(X, y)``: float32 array (2n, 2) and int64 array (2n,).
    """
    rng = np.random.default_rng(seed)
    r = np.arange(n_per_class) / n_per_class
    points, labels = [], []
    for c in (0, 1):
        t = 1.75 * 2 * math.pi * r + c * math.pi
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        xy += rng.uniform(-noise, noise, size=xy.shape)
        points.append(xy)
        labels.append(np.full(n_per_class, c))
    return np.concatenate(points).astype(np.float32), np.concatenate(labels).astype(np.int64)


def spiral_by_hand(epochs: int = 800, seed: int = 0, hidden: int = 64, lr: float = 0.2,
                   batch_size: int = 40, print_every: int | None = None) -> dict:
    """Train and print the loss as it falls; return ``{"losses": [...], "accuracy": a}``."""
    X, y = spiral(seed=seed)
    nr.manual_seed(seed)
    shuffle = np.random.default_rng(seed + 1)

    # Parameters: leaf tensors that require grad.  The first layer starts with large
    # weights (std ~3.5) so that tanh units can bend along the tightly wound spiral.
    W1 = (nr.randn(2, hidden) * (5 / math.sqrt(2))).requires_grad_()
    b1 = nr.zeros(hidden, requires_grad=True)
    W2 = (nr.randn(hidden, 2) / math.sqrt(hidden)).requires_grad_()
    b2 = nr.zeros(2, requires_grad=True)
    params = [W1, b1, W2, b2]

    def forward(x):
        return nr.tanh(x @ W1 + b1) @ W2 + b2

    X_all, y_all = nr.tensor(X), nr.tensor(y)
    print_every = print_every or max(1, epochs // 10)
    print(f"spiral: {len(X)} points, 2 classes;  network 2-{hidden}-2 (tanh);  "
          f"SGD lr={lr}, batch {batch_size}, {epochs} epochs")
    losses = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = shuffle.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(forward(nr.tensor(X[idx])), nr.tensor(y[idx]))
            loss.backward()                    # p.grad = dL/dp for every parameter
            with nr.no_grad():                 # the update itself is not differentiated
                for p in params:
                    p -= lr * p.grad
                    p.grad = None              # gradients accumulate: clear them
        if epoch == 1 or epoch % print_every == 0 or epoch == epochs:
            with nr.no_grad():
                full_loss = F.cross_entropy(forward(X_all), y_all).item()
            losses.append(full_loss)
            print(f"epoch {epoch:4d}   loss {full_loss:.4f}")

    with nr.no_grad():
        predicted = forward(X_all).numpy().argmax(axis=1)
    accuracy = float((predicted == y).mean())
    print(f"final loss {losses[-1]:.4f}   accuracy {accuracy:.1%}   "
          f"({time.perf_counter() - start:.1f} s)")
    return {"losses": losses, "accuracy": accuracy}


# ----------------------------------------------------------------------------- 6. a CNN

def small_cnn(num_classes: int = 10):
    """A small convolutional network for 8x8 images::

        Conv2d(1, 16, 3, padding 1)  ReLU  MaxPool2d(2)      16 x 4x4
        Conv2d(16, 32, 3, padding 1) ReLU  MaxPool2d(2)      32 x 2x2
        Flatten  Linear(128, num_classes)

    Each 3x3 filter is shared by all the positions of its input (weight sharing): the
    first layer has 16 * (9 + 1) = 160 parameters however large the image."""
    from . import nn
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, num_classes))


def cnn_digits(out: str, plots: bool, seed: int, epochs: int = 12) -> dict:
    from . import nn, optim
    from .models import summary
    from .models.tasks import load_task
    from .train import fit
    from .utils.data import DataLoader, TensorDataset
    _title("6. a convolutional network: the same 8x8 digits as images")
    task = load_task("digits", seed=0)
    X_train, X_test = task.images(task.X_train), task.images(task.X_test)   # (N, 1, 8, 8)
    nr.manual_seed(seed)
    model = small_cnn()
    text = summary(model, (1, 8, 8), print_fn=None)
    print("   " + "\n   ".join(line for line in text.splitlines()
                                 if not line.startswith(("-", "=", "Param", "Forward"))))
    train = DataLoader(TensorDataset(nr.tensor(X_train), nr.tensor(task.y_train)),
                       batch_size=32, shuffle=True)
    test = DataLoader(TensorDataset(nr.tensor(X_test), nr.tensor(task.y_test)),
                      batch_size=360)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    t = time.perf_counter()
    history = fit(model, train, epochs=epochs, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=optimizer,
                  scheduler=optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs),
                  val_loader=test, metrics=("accuracy",), progress=None, seed=seed)
    seconds = time.perf_counter() - t
    acc = history["val_accuracy"][-1]
    print(f"   Adam lr 3e-3, cosine schedule, batch 32, {epochs} epochs: test accuracy "
          f"{acc:.1%} with {sum(p.numel() for p in model.parameters()):,} parameters "
          f"(the MLP of part 4: 50,826) ({seconds:.1f} s)")
    if plots:
        from . import viz
        from .train import predict
        pred = predict(model, nr.tensor(X_test)).numpy().argmax(axis=1)
        p1 = viz.plot_filters(model, os.path.join(out, "cnn_digits_filters.png"),
                              title="the 16 learned 3x3 filters of the first layer")
        p2 = viz.plot_feature_maps(model, X_test[0], os.path.join(out, "cnn_digits_maps.png"),
                                   image=task.images(task.X_test_raw)[0])
        p3 = viz.plot_misclassified(task.images(task.X_test_raw), task.y_test, pred,
                                    os.path.join(out, "cnn_digits_misclassified.png"))
        print(f"   plots: {p1}, {p2}, {p3}")
    return {"accuracy": acc}


# ----------------------------------------------------------------------------- the tour

def _have(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def main(epochs: int = 800, seed: int = 0, out: str = DEFAULT_OUT) -> dict:
    """Run the tour; return each part's numbers."""
    start = time.perf_counter()
    have_sklearn, plots = _have("sklearn"), _have("matplotlib")
    if plots:
        os.makedirs(out, exist_ok=True)
    print("neurona demo: the first half of the course, on real data (nothing downloaded)")
    results = {}
    if have_sklearn:
        results["linear_regression"] = linear_regression(out, plots)
        results["logistic_regression"] = logistic_regression(out, plots)
    results["perceptron"] = perceptron()
    if have_sklearn:
        results["mlp"] = mlp_digits(out, plots, seed)
    _title("5. a network by hand: tensors, autograd and p -= lr * p.grad")
    results["spiral"] = spiral_by_hand(epochs=epochs, seed=seed)
    if have_sklearn:
        results["cnn"] = cnn_digits(out, plots, seed)
    print()
    if not have_sklearn:
        print("(parts 1, 2, 4 and 6 need scikit-learn's bundled datasets: "
              "pip install 'neurona[demo]')")
    if plots:
        print(f"plots are in {os.path.abspath(out)}/")
    else:
        print("(no plots: matplotlib is not installed; pip install 'neurona[plot]')")
    print(f"demo done in {time.perf_counter() - start:.0f} s.  Next: the scripts in examples/, "
          f"and  neurona train mlp --dataset digits")
    return results


if __name__ == "__main__":
    main()
