"""Linear and logistic regression: the first two models of the course.

Notation (the course's): m examples x^(i) with n features, parameters
theta = (theta_0, theta_1, ..., theta_n) -- here ``intercept_`` = theta_0 and
``coef_`` = (theta_1 ... theta_n) -- and the hypothesis h_theta(x).

Linear regression::

    h_theta(x) = theta_0 + theta_1 x_1 + ... + theta_n x_n
    J(theta)   = 1/(2m) sum_i (h_theta(x^(i)) - y^(i))^2          the cost
    dJ/dtheta  = 1/m    sum_i (h_theta(x^(i)) - y^(i)) x^(i)        (x_0 = 1)

Two ways to minimise J:

* closed form (the normal equations  X^T X theta = X^T y, solved by least squares,
  ``numpy.linalg.lstsq``, which also copes with a singular X^T X);
* gradient descent  theta <- theta - alpha dJ/dtheta, repeated; neurona's autograd
  computes dJ/dtheta from J, so the code only states J.

Logistic regression (binary, labels 0/1)::

    h_theta(x) = sigma(theta^T x) = 1 / (1 + exp(-theta^T x))       P(y = 1 | x)
    J(theta)   = -1/m sum_i [ y log h + (1 - y) log(1 - h) ]        cross-entropy
    dJ/dtheta  =  1/m sum_i (h_theta(x^(i)) - y^(i)) x^(i)           (same form as above!)

and the decision boundary h = 0.5, that is theta^T x = 0.  With ``num_classes`` > 2 it
becomes softmax (multinomial) regression: h = softmax(Theta x), J = cross-entropy.

Both are ``nn.Module`` s holding one ``nn.Linear``, so besides their own ``.fit`` they
train with ``neurona.train.fit`` and any optimizer; ``forward`` returns h_theta(x) for
linear regression and the *logits* theta^T x for logistic regression (apply the sigmoid,
or use ``BCEWithLogitsLoss``, which does so stably).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import tensor
from ..nn import functional as F
from ._common import ZooModel, as_features, as_targets, progress_bar

__all__ = ["LinearRegression", "LogisticRegression", "HalfMSELoss"]


class HalfMSELoss(nn.Module):
    """The course's cost J = 1/(2m) sum (h - y)^2: half of ``nn.MSELoss`` (the 1/2 makes
    the gradient (h - y) x without a factor 2)."""

    def forward(self, input, target):
        return F.mse_loss(input, target.reshape(input.shape).to(input.dtype)) * 0.5


class _LinearModel(ZooModel):
    """What linear and logistic regression share: one ``nn.Linear``, built when the
    number of features is known (given, or at the first ``fit``)."""

    def __init__(self, in_features: int | None, out_features: int):
        super().__init__()
        self._out = out_features
        self.in_features = in_features
        if in_features is not None:
            self.linear = nn.Linear(in_features, out_features)

    def _build(self, n: int) -> None:
        if getattr(self, "in_features", None) is None:
            self.in_features = n
            if hasattr(self, "_config"):
                self._config["in_features"] = n
            self.linear = nn.Linear(n, self._out)

    def _check_built(self, who):
        if self.in_features is None:
            raise RuntimeError(f"{type(self).__name__}.{who}: the model has not been fitted "
                               f"yet (call .fit(X, y) first, or give in_features)")

    @property
    def coef_(self) -> np.ndarray:
        """theta_1 .. theta_n, as a NumPy array: (n,) for one output, (C, n) for several."""
        self._check_built("coef_")
        w = self.linear.weight.detach().numpy().copy()
        return w[0] if self._out == 1 else w

    @property
    def intercept_(self):
        """theta_0: a float for one output, an array (C,) for several."""
        self._check_built("intercept_")
        b = self.linear.bias.detach().numpy().copy()
        return float(b[0]) if self._out == 1 else b

    def _set_theta(self, intercept, coef) -> None:
        with no_grad():
            w, b = self.linear.weight, self.linear.bias
            w[...] = tensor(np.asarray(coef).reshape(w.shape), dtype=w.dtype)
            b[...] = tensor(np.asarray(intercept).reshape(b.shape), dtype=b.dtype)

    def _theta(self) -> np.ndarray:
        return np.concatenate([np.atleast_1d(self.intercept_).ravel(),
                               np.asarray(self.coef_).ravel()])

    def _descend(self, X, y, cost, lr, epochs, tol, progress, who):
        """Full-batch gradient descent on ``cost(self(X), y)``; fills the histories."""
        Xt, yt = tensor(X, dtype=self.linear.weight.dtype), tensor(y)
        params = [self.linear.weight, self.linear.bias]
        self.cost_history_ = []
        self.theta_history_ = [self._theta()]
        bar = progress_bar(range(epochs), desc=who, enabled=progress)
        previous = None
        for _ in bar:
            with np.errstate(over="ignore", invalid="ignore"):   # divergence is reported below
                J = cost(self(Xt), yt)
            for p in params:
                p.grad = None
            J.backward()                       # p.grad = dJ/dp for theta_0 and theta_1..n
            with no_grad():                    # theta <- theta - alpha dJ/dtheta
                for p in params:
                    p -= lr * p.grad
            value = J.item()
            if not np.isfinite(value):
                raise FloatingPointError(
                    f"{who}: the cost became {value} at epoch {len(self.cost_history_) + 1}: "
                    f"gradient descent diverged. Use a smaller learning rate (lr={lr}) or "
                    f"standardize the features.")
            self.cost_history_.append(value)
            self.theta_history_.append(self._theta())
            if tol and previous is not None and abs(previous - value) <= tol * max(abs(value), 1e-12):
                break
            previous = value
        for p in params:
            p.grad = None
        self.theta_history_ = np.array(self.theta_history_)
        return self


class LinearRegression(_LinearModel):
    """Linear regression h_theta(x) = theta_0 + theta^T x, fitted by the normal equations
    or by gradient descent on J(theta) = 1/(2m) sum (h - y)^2.

    Args:
        in_features: n, the number of features (default: taken from X at the first fit).

    Shapes: input (N, n) -> output (N,).

    After ``fit``: ``coef_`` (n,), ``intercept_``, ``cost_history_`` (J after each epoch
    of gradient descent; one value for the closed form) and ``theta_history_``
    (epochs + 1, n + 1): theta = (theta_0, theta_1, ...) before each step, the path drawn
    by ``neurona.viz.plot_cost_surface``.

        >>> model = LinearRegression().fit(X, y)                             # closed form
        >>> model = LinearRegression().fit(X, y, method="gradient_descent", lr=0.1)
    """

    name = "linear-regression"

    def __init__(self, in_features: int | None = None):
        super().__init__(in_features, 1)
        self._config = {"in_features": in_features}

    def forward(self, x):
        """h_theta(x): (N, n) -> (N,)."""
        return self.linear(x).reshape(-1)

    def loss_fn(self):
        """The cost a training loop should minimise: J = 1/(2m) sum (h - y)^2."""
        return HalfMSELoss()

    def fit(self, X, y, method: str = "closed_form", lr: float = 0.1, epochs: int = 1000,
            tol: float = 0.0, progress: bool = False) -> "LinearRegression":
        """Fit theta to ``X`` (N, n) and ``y`` (N,).

        ``method``: ``'closed_form'`` (least squares on [1 X] theta = y) or
        ``'gradient_descent'`` (``epochs`` full-batch steps of size ``lr`` from theta = 0,
        stopping early when J changes by less than ``tol`` relatively).
        """
        X = as_features(X, "LinearRegression.fit", self.in_features)
        y = as_targets(y, "LinearRegression.fit", len(X))
        self._build(X.shape[1])
        if method in ("closed_form", "closed-form", "normal_equations", "lstsq"):
            A = np.concatenate([np.ones((len(X), 1)), X.astype(np.float64)], axis=1)
            theta = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]
            self._set_theta(theta[0], theta[1:])
            residual = A @ theta - y
            self.cost_history_ = [float((residual ** 2).mean() / 2)]
            self.theta_history_ = theta[None, :]
            return self
        if method in ("gradient_descent", "gradient-descent", "gd"):
            self._set_theta(0.0, np.zeros(X.shape[1]))        # the course starts at theta = 0
            return self._descend(X, y.astype(X.dtype), HalfMSELoss(), lr, epochs, tol,
                                 progress, "LinearRegression.fit")
        raise ValueError(f"LinearRegression.fit: unknown method {method!r}; "
                         f"use 'closed_form' or 'gradient_descent'")

    def predict(self, X) -> np.ndarray:
        """h_theta(x) for each row of ``X``, as a NumPy array (N,)."""
        self._check_built("predict")
        X = as_features(X, "LinearRegression.predict", self.in_features)
        with no_grad():
            return self(tensor(X, dtype=self.linear.weight.dtype)).numpy()

    def cost(self, X, y) -> float:
        """J(theta) = 1/(2m) sum (h_theta(x) - y)^2 on the given data."""
        r = self.predict(X).astype(np.float64) - np.asarray(y, np.float64).reshape(-1)
        return float((r ** 2).mean() / 2)

    def score(self, X, y) -> float:
        """R^2 = 1 - sum (h - y)^2 / sum (y - mean y)^2 (1 is perfect; scikit-learn's score)."""
        y = np.asarray(y, np.float64).reshape(-1)
        r = self.predict(X).astype(np.float64) - y
        return float(1 - (r ** 2).sum() / ((y - y.mean()) ** 2).sum())


class LogisticRegression(_LinearModel):
    """Logistic regression h_theta(x) = sigma(theta^T x), trained by gradient descent on
    the cross-entropy cost; ``num_classes`` > 2 gives softmax regression.

    Args:
        in_features: n (default: from X at the first fit).
        num_classes: 2 (one output, the sigmoid) or more (one output per class, softmax).

    Shapes: input (N, n) -> logits (N,) for two classes, (N, C) for more.
    """

    name = "logistic-regression"

    def __init__(self, in_features: int | None = None, num_classes: int = 2):
        if num_classes < 2:
            raise ValueError(f"LogisticRegression: num_classes must be at least 2, "
                             f"got {num_classes}")
        super().__init__(in_features, 1 if num_classes == 2 else num_classes)
        self._config = {"in_features": in_features, "num_classes": num_classes}
        self.num_classes = num_classes

    def forward(self, x):
        """The logits theta^T x: (N, n) -> (N,) (binary) or (N, C)."""
        z = self.linear(x)
        return z.reshape(-1) if self.num_classes == 2 else z

    def loss_fn(self):
        """Cross-entropy: of sigma(z) for two classes (``BCEWithLogitsLoss``: the targets
        must be floats 0./1.), of softmax(z) for more (``CrossEntropyLoss``)."""
        return nn.BCEWithLogitsLoss() if self.num_classes == 2 else nn.CrossEntropyLoss()

    def fit(self, X, y, lr: float = 0.1, epochs: int = 1000, tol: float = 0.0,
            progress: bool = False) -> "LogisticRegression":
        """Full-batch gradient descent on the cross-entropy cost from theta = 0."""
        who = "LogisticRegression.fit"
        X = as_features(X, who, self.in_features)
        if self.num_classes == 2:
            y = as_targets(y, who, len(X), kind="binary").astype(X.dtype)
        else:
            y = as_targets(y, who, len(X)).astype(np.int64)
            if y.min() < 0 or y.max() >= self.num_classes:
                raise ValueError(f"{who}: labels must be in 0..{self.num_classes - 1}; "
                                 f"found {int(y.min())}..{int(y.max())}")
        self._build(X.shape[1])
        self._set_theta(np.zeros(self.linear.bias.shape), np.zeros(self.linear.weight.shape))
        return self._descend(X, y, self.loss_fn(), lr, epochs, tol, progress, who)

    def predict_proba(self, X) -> np.ndarray:
        """h_theta(x) = P(y = 1 | x) as an array (N,) for two classes; the softmax
        probabilities (N, C) for more."""
        self._check_built("predict_proba")
        X = as_features(X, "LogisticRegression.predict_proba", self.in_features)
        with no_grad():
            z = self(tensor(X, dtype=self.linear.weight.dtype))
            p = F.sigmoid(z) if self.num_classes == 2 else F.softmax(z, dim=1)
        return p.numpy()

    def predict(self, X) -> np.ndarray:
        """Class labels: 1 where h_theta(x) >= 0.5 (the decision boundary), else 0; the
        most probable class for more than two."""
        p = self.predict_proba(X)
        if self.num_classes == 2:
            return (p >= 0.5).astype(np.int64)
        return p.argmax(axis=1)

    def score(self, X, y) -> float:
        """Accuracy: the fraction of examples whose label is predicted right."""
        return float((self.predict(X) == np.asarray(y).reshape(-1)).mean())
