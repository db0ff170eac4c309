"""``Playground``: the model behind the playground page -- data, network, training, metrics.

It knows nothing about HTTP or browsers (``server.py`` wraps one ``Playground`` per tab)::

    from neurona.playground.engine import Playground
    pg = Playground({"dataset": "spiral", "networkShape": "8,8,4", "seed": "1"})
    pg.step(100)["loss_test"]          # train 100 epochs, read the test loss
    pg.grid(100)["output"]             # (100, 100) network output over [-6, 6]^2
    pg.set_config(learningRate=0.1)    # keeps the weights; data / network keys reset

Training follows the TensorFlow Playground: one epoch walks the training points in a
fixed (shuffled-once) order, batch by batch; each batch's mean gradient of the loss
updates the weights (``update.py``: SGD / momentum / Adam, then L1 with dead links or L2).
Bad configs raise ``ValueError`` before anything changes; a diverging network (NaN / Inf)
never raises: the losses read None and ``metrics()["message"]`` says why.
"""
from __future__ import annotations

import math
import secrets
import time

import numpy as np

from . import metrics as M
from .config import DATA_KEYS, NET_KEYS, parse_shape, validate
from .datasets import MAX_POINTS, RADIUS, generate, parse_csv, seed_to_int, split
from .features import FEATURES, features
from .network import Net
from .update import Updater

__all__ = ["Playground", "DIVERGED_MESSAGE"]

DIVERGED_MESSAGE = ("learning rate too high: the loss is NaN/Inf; lower the learning rate "
                    "and press reset")
MAX_GRID = 200
MAX_EPOCHS_PER_STEP = 100_000
_INIT_SEED_RANGE = 2**31        # initial-weight seeds stay exact in JavaScript numbers


def _derive_init_seed(seed: str) -> int:
    return seed_to_int(f"{seed}/init") % _INIT_SEED_RANGE


def _json_rows(a: np.ndarray) -> list:
    """A float array as nested lists, NaN / Inf as None (JSON has no NaN)."""
    if a.ndim == 1:
        return [float(v) if math.isfinite(v) else None for v in a.tolist()]
    return [_json_rows(row) for row in a]


class Playground:
    """One playground: config, data, network and training state.

    Args:
        config: changes to the defaults (``config.DEFAULTS``), URL-hash names.
        fused: train with the hand-written NumPy backprop (fast, the default) or with
            neurona's autograd + ``neurona.optim`` (``fused=False``, the reference).
    """

    def __init__(self, config: dict | None = None, *, fused: bool = True):
        self.fused = fused
        config = dict(config or {})
        self._init_explicit = config.get("initSeed") not in (None, "")
        new = validate(config)
        if new["initSeed"] is None:
            new["initSeed"] = _derive_init_seed(new["seed"])
        self.config = new
        self.custom_data = False
        self._new_data()
        self._build_net()

    # == configuration ================================================================

    def set_config(self, **changes) -> None:
        """Change config keys; all are checked first (ValueError, nothing changes).

        Data keys (problem, dataset, regDataset, noise, percTrainData, seed) -> new data and
        a new network; network keys (features, networkShape, activation, loss, initSeed) ->
        a new network; learningRate / regularization / regularizationRate / batchSize /
        optimizer keep the weights; the display keys change nothing else."""
        new = validate(changes, self.config)
        explicit = self._init_explicit
        if "initSeed" in changes:
            explicit = new["initSeed"] is not None
        if not explicit and (new["initSeed"] is None or new["seed"] != self.config["seed"]):
            new["initSeed"] = _derive_init_seed(new["seed"])
        changed = {k for k in new if new[k] != self.config[k]}
        self.config, self._init_explicit = new, explicit
        if changed & DATA_KEYS:
            self._new_data()
            self._build_net()
        elif changed & NET_KEYS:
            self._prepare()
            self._build_net()
        else:
            self.updater.configure(new["optimizer"], new["learningRate"],
                                   new["regularization"], new["regularizationRate"])

    def regenerate(self) -> None:
        """New data from a new random seed, and a fresh network (the 'regenerate' button)."""
        seed = self.config["seed"]
        while seed == self.config["seed"]:
            seed = f"0.{secrets.randbelow(10**5):05d}"    # the original's style of seed
        self.set_config(seed=seed)

    def reset(self, same_init: bool = True) -> None:
        """Back to epoch 0: the same initial weights (same_init) or new random ones."""
        if not same_init:
            self.config["initSeed"] = secrets.randbelow(_INIT_SEED_RANGE)
            self._init_explicit = False
        self._build_net()

    # == data =========================================================================

    @property
    def problem(self) -> str:
        return self.config["problem"]

    def _new_data(self) -> None:
        cfg = self.config
        name = cfg["dataset"] if self.problem == "classification" else cfg["regDataset"]
        X, y = generate(name, cfg["noise"] / 100, cfg["seed"])
        self.num_classes = 0 if self.problem == "regression" else (3 if name == "spiral3" else 2)
        self.X_train, self.y_train, self.X_test, self.y_test = split(
            X, y, cfg["percTrainData"], cfg["seed"])
        self.custom_data = False
        self._prepare()

    def _prepare(self) -> None:
        """Feature matrices and targets of both sets (after the data or features change)."""
        self.feature_names = [f for f in FEATURES if self.config[f]]
        self.F_train = features(self.X_train.reshape(-1, 2), self.feature_names)
        self.F_test = features(self.X_test.reshape(-1, 2), self.feature_names)
        self.T_train = self._targets(self.y_train)
        self.T_test = self._targets(self.y_test)

    @property
    def loss_kind(self) -> str:
        """The loss in use: cross-entropy only for classification (regression: square)."""
        return "square" if self.problem == "regression" else self.config["loss"]

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """Labels -> what the output aims at: (n, 1) for one output, (n, K) one-hot for K."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        low = 0.0 if self.loss_kind == "crossentropy" else -1.0
        if self.num_classes > 2:
            t = np.full((len(y), self.num_classes), low)
            t[np.arange(len(y)), y.astype(np.int64)] = 1.0
            return t.astype(np.float32)
        if self.num_classes == 2 and low == 0.0:
            return (y > 0).astype(np.float32)[:, None]
        return y.astype(np.float32)[:, None]

    def load_csv(self, text: str) -> None:
        """Replace the data by CSV rows ``x1,x2,label[,part]`` (see ``datasets.parse_csv``).

        Rows without a part are shuffled and split by percTrainData.  ValueError names the
        first bad line; on error nothing changes.  The network is rebuilt (epoch 0)."""
        if not isinstance(text, str):
            raise ValueError("load_csv expects the CSV as text")
        X, y, parts, k = parse_csv(text, self.problem)
        parts = np.array([p or "" for p in parts])
        free = parts == ""
        Xa, ya, Xb, yb = split(X[free], y[free], self.config["percTrainData"],
                               self.config["seed"])
        self.X_train = np.concatenate([X[parts == "train"], Xa])
        self.y_train = np.concatenate([y[parts == "train"], ya])
        self.X_test = np.concatenate([X[parts == "test"], Xb])
        self.y_test = np.concatenate([y[parts == "test"], yb])
        self.num_classes = k
        self.custom_data = True
        self._prepare()
        self._build_net()

    def add_point(self, x1, x2, label, part: str = "train") -> None:
        """Add one point (a click on the page); the network keeps its weights.

        x1, x2 in [-6, 6]; label -1/+1 (two classes; 0 counts as -1), a class index
        0..K-1 (K classes) or a number in [-1, 1] (regression); part 'train' or 'test'."""
        if part not in ("train", "test"):
            raise ValueError(f"add_point: part {part!r} must be 'train' or 'test'")
        try:
            x1, x2, label = float(x1), float(x2), float(label)
        except (TypeError, ValueError):
            raise ValueError(f"add_point: x1, x2 and label must be numbers, got "
                             f"{x1!r}, {x2!r}, {label!r}") from None
        for name, v in (("x1", x1), ("x2", x2)):
            if not (math.isfinite(v) and -RADIUS <= v <= RADIUS):
                raise ValueError(f"add_point: {name} = {v!r} is outside [-6, 6]")
        if len(self.X_train) + len(self.X_test) >= MAX_POINTS:
            raise ValueError(f"add_point: the data already holds {MAX_POINTS} points (the "
                             f"limit); regenerate or upload a smaller CSV")
        if self.problem == "regression":
            if not -1 <= label <= 1:
                raise ValueError(f"add_point: regression label {label!r} is outside [-1, 1]")
        elif self.num_classes == 2:
            if label not in (-1.0, 0.0, 1.0):
                raise ValueError(f"add_point: label {label!r} is not a class; use -1 or +1")
            label = 1.0 if label > 0 else -1.0
        elif label != int(label) or not 0 <= label < self.num_classes:
            raise ValueError(f"add_point: label {label!r} is not a class; use 0.."
                             f"{self.num_classes - 1}")
        if part == "train":
            self.X_train = np.concatenate([self.X_train.reshape(-1, 2), [[x1, x2]]])
            self.y_train = np.append(self.y_train, label)
        else:
            self.X_test = np.concatenate([self.X_test.reshape(-1, 2), [[x1, x2]]])
            self.y_test = np.append(self.y_test, label)
        self._prepare()

    def points(self) -> dict:
        """{"train": [[x1, x2, label], ...], "test": [...]} (class labels as ints)."""
        def rows(X, y):
            if self.problem == "regression":
                return [[float(a), float(b), float(t)] for (a, b), t in zip(X.tolist(), y)]
            return [[float(a), float(b), int(t)] for (a, b), t in zip(X.tolist(), y)]
        return {"train": rows(self.X_train.reshape(-1, 2), self.y_train),
                "test": rows(self.X_test.reshape(-1, 2), self.y_test)}

    # == network ======================================================================

    @property
    def hidden_sizes(self) -> list[int]:
        return parse_shape(self.config["networkShape"])

    def _build_net(self) -> None:
        """A fresh network from initSeed; epoch 0; optimizer state and dead links cleared."""
        cfg = self.config
        k = self.num_classes
        n_out = k if k > 2 else 1
        if self.problem == "regression":
            out_act = "linear"
        elif self.loss_kind == "crossentropy":
            out_act = "softmax" if k > 2 else "sigmoid"
        else:
            out_act = "tanh"
        sizes = [len(self.feature_names)] + self.hidden_sizes + [n_out]
        self.net = Net(sizes, cfg["activation"], out_act, self.loss_kind, cfg["initSeed"])
        self.updater = Updater(self.net, cfg["optimizer"], cfg["learningRate"],
                               cfg["regularization"], cfg["regularizationRate"], self.fused)
        self.epoch = 0
        self.diverged = False
        self.stopped = None
        self._ms_per_epoch = None

    def node_ids(self) -> list[list[str]]:
        """Node ids per layer: features, "h{layer}_{i}" (layer 1-based), "out" / "out{k}"."""
        layers = [list(self.feature_names)]
        for l, n in enumerate(self.hidden_sizes, start=1):
            layers.append([f"h{l}_{i}" for i in range(n)])
        n_out = self.net.sizes[-1]
        layers.append(["out"] if n_out == 1 else [f"out{k}" for k in range(n_out)])
        return layers

    def network(self) -> dict:
        """{"layers": node ids per layer, "weights": {"l{i}": (out, in) lists},
        "biases": {"l{i}": list}, "dead": {"l{i}": [[out, in], ...]}} (i = 1 .. L)."""
        W, b = self.net.weights, self.net.biases
        return {
            "layers": self.node_ids(),
            "weights": {f"l{i + 1}": _json_rows(w) for i, w in enumerate(W)},
            "biases": {f"l{i + 1}": _json_rows(v) for i, v in enumerate(b)},
            "dead": {f"l{i + 1}": np.argwhere(d).tolist() for i, d in
                     enumerate(self.updater.dead)},
        }

    def _layer_index(self, layer, what: str) -> int:
        n = len(self.net.layers)
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= n:
            raise ValueError(f"{what}: layer {layer!r} does not exist; layers are 1..{n} "
                             f"(1 = the links out of the inputs)")
        return layer - 1

    @staticmethod
    def _value(value, what: str) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: value {value!r} is not a number") from None
        if not (math.isfinite(v) and abs(v) <= 1e6):
            raise ValueError(f"{what}: value {value!r} must be a finite number in [-1e6, 1e6]")
        return v

    @staticmethod
    def _index(i, n: int, what: str, name: str) -> int:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
            raise ValueError(f"{what}: {name} index {i!r} is out of range 0..{n - 1}")
        return i

    def set_weight(self, layer: int, out_index: int, in_index: int, value: float) -> None:
        """Set one weight (a click on a link); layer 1-based, indices 0-based (out, in)."""
        li = self._layer_index(layer, "set_weight")
        W = self.net.weights[li]
        o = self._index(out_index, W.shape[0], "set_weight", "out")
        i = self._index(in_index, W.shape[1], "set_weight", "in")
        W[o, i] = self._value(value, "set_weight")
        self.updater.dead[li][o, i] = False
        self.diverged = not self.net.finite() or self.diverged

    def set_bias(self, layer: int, index: int, value: float) -> None:
        """Set one bias (a click on a bias square); layer 1-based, index 0-based."""
        li = self._layer_index(layer, "set_bias")
        b = self.net.biases[li]
        b[self._index(index, b.shape[0], "set_bias", "bias")] = self._value(value, "set_bias")

    # == training =====================================================================

    def train_epoch(self) -> None:
        """One epoch: every training point once, batch by batch in the fixed order (no
        metrics, no stop checks -- ``step`` adds those).

        When the batch size does not divide the number of points, the last, smaller batch
        makes its own update (the original instead carries its gradients over into the
        first batch of the next epoch)."""
        F, T, B = self.F_train, self.T_train, self.config["batchSize"]
        batch = self.updater.batch
        with np.errstate(all="ignore"):
            for s in range(0, len(F), B):
                batch(F[s:s + B], T[s:s + B])
        self.epoch += 1

    def _test_loss(self) -> float:
        _, z, o = self.net.forward_all(self.F_test)
        return M.loss(self.loss_kind, self.net.out_act, z, o, self.T_test)

    def step(self, epochs: int = 1) -> dict:
        """Train ``epochs`` epochs (fewer when stopEpoch / stopLoss is reached or the network
        diverges) and return ``metrics()``."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) \
                or not 0 <= epochs <= MAX_EPOCHS_PER_STEP:
            raise ValueError(f"step: epochs {epochs!r} must be an integer in "
                             f"0..{MAX_EPOCHS_PER_STEP}")
        stop_epoch, stop_loss = self.config["stopEpoch"], self.config["stopLoss"]
        self.stopped = None
        done = 0
        start = time.perf_counter()
        for _ in range(epochs):
            if self.diverged:
                self.stopped = "diverged"
                break
            if stop_epoch and self.epoch >= stop_epoch:
                self.stopped = "stopEpoch"
                break
            if stop_loss and self._test_loss() <= stop_loss:
                self.stopped = "stopLoss"
                break
            self.train_epoch()
            done += 1
            if not self.net.finite():
                self.diverged = True
        if done:
            self._ms_per_epoch = (time.perf_counter() - start) * 1000 / done
        if self.stopped is None and not self.diverged:
            if stop_epoch and self.epoch >= stop_epoch:
                self.stopped = "stopEpoch"
            elif stop_loss and self._test_loss() <= stop_loss:
                self.stopped = "stopLoss"
        return self.metrics()

    # == what the page shows ==========================================================

    def metrics(self) -> dict:
        """Losses and scores now: {"epoch", "loss_train", "loss_test", "accuracy_train",
        "accuracy_test", "confusion" (K x K on the test set, rows = true class),
        "r2_test", "rmse_test", "ms_per_epoch", "diverged", "message", "stopped"}.
        Scores that do not apply (classification vs regression) are None."""
        out = {"epoch": self.epoch}
        kind, out_act = self.loss_kind, self.net.out_act
        results = {}
        for name, F, T in (("train", self.F_train, self.T_train), ("test", self.F_test,
                                                                   self.T_test)):
            _, z, o = self.net.forward_all(F)
            results[name] = (z, o, T)
            out[f"loss_{name}"] = M.finite_or_none(M.loss(kind, out_act, z, o, T))
        diverged = self.diverged or (out["loss_train"] is None and len(self.T_train) > 0) \
            or (out["loss_test"] is None and len(self.T_test) > 0)
        classify = self.problem == "classification"
        k = self.num_classes
        for name in ("train", "test"):
            z, o, T = results[name]
            out[f"accuracy_{name}"] = (M.accuracy(M.predicted_classes(z), M.true_classes(T))
                                       if classify and not diverged else None)
        z, o, T = results["test"]
        out["confusion"] = (M.confusion(M.predicted_classes(z), M.true_classes(T), k)
                            if classify and not diverged else None)
        out["r2_test"] = None if classify else M.r2(o, T)
        out["rmse_test"] = None if classify else M.rmse(o, T)
        out["ms_per_epoch"] = self._ms_per_epoch
        out["diverged"] = bool(diverged)
        out["message"] = DIVERGED_MESSAGE if diverged else None
        out["stopped"] = "diverged" if diverged else self.stopped
        return out

    def grid(self, density: int = 100) -> dict:
        """The network over a density x density grid on [-6, 6]^2, in ONE batched forward.

        Row r is x2 = 6 - 12 r / (d - 1) (top row x2 = +6), column c is
        x1 = -6 + 12 c / (d - 1).  Returns {"density", "output": (d, d) float32,
        "neurons": {node id: (d, d) float32} for every input feature and hidden neuron,
        and for K classes "classes": (K, d, d) class probabilities}.  "output" lies in
        [-1, 1]: the tanh output (classification), 2 p - 1 (sigmoid), the value
        (regression), or for K classes the predicted class k as -1 + 2 k / (K - 1).
        NaN stays NaN (the page greys it)."""
        if isinstance(density, bool) or not isinstance(density, int) \
                or not 2 <= density <= MAX_GRID:
            raise ValueError(f"grid: density {density!r} must be an integer in 2..{MAX_GRID}")
        d = density
        xs = np.linspace(-RADIUS, RADIUS, d)
        x1, x2 = np.meshgrid(xs, xs[::-1])            # x2 decreasing down the rows
        F = features(np.stack([x1.ravel(), x2.ravel()], axis=1), self.feature_names)
        hidden, z, o = self.net.forward_all(F)
        neurons = {name: np.ascontiguousarray(F[:, j].reshape(d, d))
                   for j, name in enumerate(self.feature_names)}
        for l, a in enumerate(hidden, start=1):
            for i in range(a.shape[1]):
                neurons[f"h{l}_{i}"] = np.ascontiguousarray(a[:, i].reshape(d, d))
        out = {"density": d, "neurons": neurons}
        k = self.num_classes
        with np.errstate(all="ignore"):
            if k > 2:
                probs = (o if self.net.out_act == "softmax"
                         else np.clip((o + 1) / 2, 0, 1)).astype(np.float32)
                cls = z.argmax(axis=1).astype(np.float32)
                cls[np.isnan(z).any(axis=1)] = np.nan
                out["output"] = (-1 + 2 * cls / (k - 1)).reshape(d, d).astype(np.float32)
                out["classes"] = np.ascontiguousarray(probs.T.reshape(k, d, d))
            elif self.net.out_act == "sigmoid":
                out["output"] = (2 * o[:, 0] - 1).reshape(d, d).astype(np.float32)
            else:
                out["output"] = o[:, 0].reshape(d, d).astype(np.float32)
        return out

    def state(self) -> dict:
        """A JSON-safe snapshot: {"config", "metrics", "network", "points", "custom_data"}."""
        return {"config": dict(self.config), "metrics": self.metrics(),
                "network": self.network(), "points": self.points(),
                "custom_data": self.custom_data}

    def export(self) -> dict:
        """{"script": a runnable neurona script, "weights": safetensors bytes, "data": csv}."""
        from .export import export
        return export(self)
