"""The playground's engine: data generators, config checks, training rule, grid, export.

The TensorFlow Playground (playground/src/dataset.ts, nn.ts) is the reference for the
data geometry and for the update rule; neurona's autograd is the reference for the fused
NumPy backprop the engine trains with.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from neurona.playground import Playground
from neurona.playground import datasets as D
from neurona.playground.config import DEFAULTS, to_hash, from_hash
from neurona.playground.engine import DIVERGED_MESSAGE
from neurona.playground.features import FEATURES, features

ALL_FEATURES = {f: True for f in FEATURES}


# -- data ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(D.GENERATORS))
def test_generators_reproduce_with_a_seed(name):
    X1, y1 = D.generate(name, 0.2, "abc")
    X2, y2 = D.generate(name, 0.2, "abc")
    X3, _ = D.generate(name, 0.2, "abd")
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    n = {"reg-plane": 1200, "reg-gauss": 1200, "spiral3": 501}.get(name, 500)
    assert X1.shape == (n, 2) and y1.shape == (n,)
    assert np.abs(X1).max() <= 6 or name == "gauss"


def test_circle_geometry():
    X, y = D.generate("circle", 0, "s")
    r = np.hypot(X[:, 0], X[:, 1])
    assert ((r < 2.5) == (y == 1)).all()             # label = inside radius 2.5
    assert (r[y == 1] <= 2.5).all() and ((r[y == -1] >= 3.5) & (r[y == -1] <= 5)).all()
    assert (y == 1).sum() == 250
    Xn, yn = D.generate("circle", 0.5, "s")          # noise flips some labels
    rn = np.hypot(Xn[:, 0], Xn[:, 1])
    assert ((rn < 2.5) != (yn == 1)).any()


def test_xor_geometry():
    X, y = D.generate("xor", 0, "s")
    assert (np.abs(X) >= 0.3).all() and (np.abs(X) <= 5.3).all()
    np.testing.assert_array_equal(y, np.where(X[:, 0] * X[:, 1] >= 0, 1.0, -1.0))


def test_gauss_geometry():
    X, y = D.generate("gauss", 0, "s")
    np.testing.assert_allclose(X[y == 1].mean(0), [2, 2], atol=0.25)
    np.testing.assert_allclose(X[y == -1].mean(0), [-2, -2], atol=0.25)
    assert abs(X[y == 1].std() - math.sqrt(0.5)) < 0.1       # variance 0.5 at noise 0
    Xn, yn = D.generate("gauss", 0.5, "s")
    assert abs(Xn[yn == 1].std() - 2.0) < 0.3                 # variance 4 at noise 0.5


def test_spiral_arms():
    X, y = D.generate("spiral", 0, "s")
    for label, delta in ((1, 0.0), (-1, math.pi)):
        P = X[y == label]
        i = np.arange(250)
        r = i / 250 * 5
        t = 1.75 * i / 250 * 2 * math.pi + delta
        np.testing.assert_allclose(P[:, 0], r * np.sin(t), atol=1e-5)
        np.testing.assert_allclose(P[:, 1], r * np.cos(t), atol=1e-5)
    X3, y3 = D.generate("spiral3", 0, "s")
    assert sorted(np.unique(y3)) == [0, 1, 2] and (y3 == 2).sum() == 167


def test_regression_labels():
    X, y = D.generate("reg-plane", 0, "s")
    np.testing.assert_allclose(y, np.clip((X[:, 0] + X[:, 1]) / 10, -1, 1), atol=1e-6)
    X, y = D.generate("reg-gauss", 0, "s")
    centres = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
               (4, -2.5, -1)]
    for (a, b), label in zip(X[:50], y[:50]):       # dataset.ts getLabel, written out
        want = 0.0
        for cx, cy, sign in centres:
            v = sign * min(max(1 - math.hypot(a - cx, b - cy) / 2, 0), 1)
            if abs(v) > abs(want):
                want = v
        assert label == pytest.approx(want, abs=1e-6)
    assert y.min() >= -1 and y.max() <= 1 and y.min() < -0.5 and y.max() > 0.5


@pytest.mark.parametrize("perc", [10, 30, 50, 90])
def test_split_ratio(perc):
    pg = Playground({"seed": "x", "percTrainData": perc})
    assert len(pg.X_train) == 500 * perc // 100
    assert len(pg.X_train) + len(pg.X_test) == 500
    again = Playground({"seed": "x", "percTrainData": perc})
    np.testing.assert_array_equal(pg.X_train, again.X_train)


def test_feature_columns():
    X = np.array([[1.5, -2.0], [0.25, 3.0]])
    Fm = features(X, FEATURES)
    a, b = X[:, 0], X[:, 1]
    want = np.stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)], 1)
    np.testing.assert_allclose(Fm, want, rtol=1e-6)
    assert Fm.dtype == np.float32
    pg = Playground({"seed": "1", "x": False, "sinY": True, "xSquared": True})
    assert pg.feature_names == ["y", "xSquared", "sinY"]
    np.testing.assert_allclose(pg.F_train[:, 1], pg.X_train[:, 0] ** 2, rtol=1e-5)
    assert pg.network()["layers"][0] == ["y", "xSquared", "sinY"]


# -- config ---------------------------------------------------------------------------

BAD = [("problem", "clustering"), ("dataset", "moons"), ("regDataset", "plane"),
       ("noise", 55), ("noise", "lots"), ("noise", 2.5), ("percTrainData", 95),
       ("percTrainData", 5), ("seed", ""), ("seed", None), ("x", "yes"), ("y", 1),
       ("xSquared", None), ("ySquared", "True"), ("xTimesY", 2), ("sinX", "on"),
       ("sinY", []), ("networkShape", "4,2,1,1,1,1,1"), ("networkShape", "9"),
       ("networkShape", "0"), ("networkShape", "a,b"), ("networkShape", "4,,2"),
       ("activation", "softplus"), ("learningRate", -0.1), ("learningRate", 11),
       ("learningRate", "fast"), ("learningRate", float("nan")),
       ("regularization", "L3"), ("regularizationRate", -1), ("regularizationRate", 20),
       ("batchSize", 0), ("batchSize", 31), ("batchSize", 1.5), ("showTestData", "maybe"),
       ("discretize", 3), ("loss", "hinge"), ("optimizer", "rmsprop"), ("stopEpoch", -1),
       ("stopLoss", -0.5), ("initSeed", -3), ("initSeed", "abc"), ("bogus", 1)]


def test_every_key_has_a_bad_value_case():
    assert {k for k, _ in BAD} >= set(DEFAULTS)


@pytest.mark.parametrize("key,value", BAD)
def test_config_rejects_bad_values(key, value):
    pg = Playground({"seed": "1"})
    before = dict(pg.config)
    with pytest.raises(ValueError, match=repr(key).replace("'", "'")) as e:
        pg.set_config(**{key: value})
    assert key in str(e.value)
    assert pg.config == before                       # nothing changed
    with pytest.raises(ValueError):
        Playground({key: value})


def test_config_accepts_hash_strings_and_round_trips():
    pg = Playground(from_hash("#dataset=xor&noise=10&learningRate=0.1&xTimesY=true"
                              "&networkShape=3&batchSize=5&seed=s"))
    assert pg.config["noise"] == 10 and pg.config["learningRate"] == 0.1
    assert pg.config["xTimesY"] is True and pg.config["networkShape"] == "3"
    again = Playground(from_hash(to_hash(pg.config)))
    assert again.config == pg.config


def test_no_feature_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        Playground({"x": False, "y": False})


def test_set_config_keeps_or_resets_weights():
    pg = Playground({"seed": "1"})
    pg.step(5)
    w = [a.copy() for a in pg.net.weights]
    pg.set_config(learningRate=0.1, batchSize=3, regularization="L2", optimizer="adam")
    assert pg.epoch == 5
    for a, b in zip(w, pg.net.weights):
        np.testing.assert_array_equal(a, b)
    pg.set_config(networkShape="3")
    assert pg.epoch == 0 and pg.net.sizes == [2, 3, 1]
    y = pg.y_train.copy()
    pg.set_config(noise=50)                 # same circle points, noisy labels
    assert not np.array_equal(y, pg.y_train) and pg.epoch == 0
    X = pg.X_train.copy()
    pg.set_config(dataset="xor")
    assert not np.array_equal(X, pg.X_train)


# -- training -------------------------------------------------------------------------

@pytest.mark.parametrize("config,epochs,bound", [
    ({"dataset": "circle"}, 300, 0.1),
    ({"dataset": "gauss"}, 100, 0.05),
    ({"dataset": "xor", "xTimesY": True}, 150, 0.1),
    ({"dataset": "spiral", **ALL_FEATURES, "networkShape": "8,8,6", "learningRate": 0.01,
      "optimizer": "adam"}, 200, 0.05),
    ({"dataset": "spiral3", **ALL_FEATURES, "networkShape": "8,8,6", "loss": "crossentropy",
      "learningRate": 0.01, "optimizer": "adam"}, 300, 0.2),
    ({"problem": "regression", "regDataset": "reg-plane"}, 100, 0.01),
])
def test_training_reaches_a_loss_bound(config, epochs, bound):
    pg = Playground({"seed": "7", **config})
    start = pg.metrics()["loss_test"]
    m = pg.step(epochs)
    assert m["epoch"] == epochs and not m["diverged"]
    assert m["loss_test"] < bound < start, (m["loss_test"], start)
    assert m["ms_per_epoch"] > 0


def _tiny(x2=(-2.0, 0.5), **extra):
    """Inputs x, y -> 1 tanh neuron -> tanh output, two training points, one batch."""
    pg = Playground({"seed": "1", "networkShape": "1", "batchSize": 2, **extra})
    pg.load_csv(f"x1,x2,label,part\n1.0,{x2[0]},1,train\n-0.5,{x2[1]},-1,train\n2,2,1,test\n")
    return pg


def _hand_step(W1, b1, W2, b2, X, t, lr, reg, rate):
    """The original's update (nn.ts), written out for a 2-1-1 tanh network in float64."""
    z1 = X @ W1.T + b1
    a1 = np.tanh(z1)
    o = np.tanh(a1 @ W2.T + b2)
    d2 = (o - t) * (1 - o ** 2) / len(X)           # dJ/dz2 of J = mean 1/2 (o - t)^2
    d1 = (d2 @ W2) * (1 - a1 ** 2)
    grads = [(W1, d1.T @ X), (b1, d1.sum(0)), (W2, d2.T @ a1), (b2, d2.sum(0))]
    new = []
    for k, (p, g) in enumerate(grads):
        q = p - lr * g
        if k % 2 == 0 and reg == "L2":
            q = q - lr * rate * p
        elif k % 2 == 0 and reg == "L1":
            q2 = q - lr * rate * np.sign(p)
            q = np.where(q * q2 < 0, 0.0, q2)
        new.append(q)
    return new


@pytest.mark.parametrize("reg,rate", [("none", 0), ("L2", 0.3), ("L1", 0.1)])
@pytest.mark.parametrize("fused", [True, False])
def test_one_sgd_step_by_hand(reg, rate, fused):
    # with L1, x2 = 0 on both points: the link x2 -> h1_0 gets no gradient, and the
    # L1 step (lr * rate = 0.03) pushes its weight 0.001 across zero: it dies
    pg = _tiny(x2=(0.0, 0.0) if reg == "L1" else (-2.0, 0.5),
               regularization=reg, regularizationRate=rate, learningRate=0.3)
    pg.fused = pg.updater.fused = fused
    if reg == "L1":
        pg.set_weight(1, 0, 1, 0.001)
    W1, W2 = (w.astype(np.float64) for w in pg.net.weights)
    b1, b2 = (b.astype(np.float64) for b in pg.net.biases)
    X = pg.F_train.astype(np.float64)
    t = pg.T_train.astype(np.float64)
    want = _hand_step(W1, b1, W2, b2, X, t, 0.3, reg, rate)
    pg.step(1)
    got = [pg.net.weights[0], pg.net.biases[0], pg.net.weights[1], pg.net.biases[1]]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    if reg == "L1":
        assert pg.net.weights[0][0, 1] == 0 and pg.network()["dead"]["l1"] == [[0, 1]]
        pg.step(3)                                    # a dead link stays dead
        assert pg.net.weights[0][0, 1] == 0
        pg.set_weight(1, 0, 1, 0.5)                   # editing it revives it
        assert pg.network()["dead"]["l1"] == []
    if reg == "none":
        assert pg.network()["dead"]["l1"] == []


@pytest.mark.parametrize("config", [
    {},
    {"optimizer": "momentum", "regularization": "L2", "regularizationRate": 0.01},
    {"optimizer": "adam", "regularization": "L1", "regularizationRate": 0.003,
     "activation": "relu", "networkShape": "5,3"},
    {"loss": "crossentropy", "activation": "sigmoid", "batchSize": 7},
    {"dataset": "spiral3", "loss": "crossentropy", "networkShape": "6"},
    {"dataset": "spiral3", "networkShape": "6", "activation": "linear"},
    {"problem": "regression", "regDataset": "reg-gauss", "networkShape": "4,4",
     "batchSize": 30, "percTrainData": 20},
])
def test_fused_training_equals_autograd_reference(config):
    cfg = {"seed": "3", **config}
    fast, ref = Playground(cfg), Playground(cfg, fused=False)
    fast.step(3)
    ref.step(3)
    for a, b in zip(fast.net.weights + fast.net.biases, ref.net.weights + ref.net.biases):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    assert fast.metrics()["loss_train"] == pytest.approx(ref.metrics()["loss_train"], rel=1e-3)


def test_same_init_reset():
    pg = Playground({"seed": "1"})
    w0 = [w.copy() for w in pg.net.weights]
    assert all(np.abs(w).max() <= 0.5 for w in w0)
    assert all((b == np.float32(0.1)).all() for b in pg.net.biases)
    pg.step(10)
    assert not np.array_equal(w0[0], pg.net.weights[0])
    pg.reset()
    assert pg.epoch == 0
    for a, b in zip(w0, pg.net.weights):
        np.testing.assert_array_equal(a, b)
    other = Playground({"seed": "1"})                   # same seed, same init
    np.testing.assert_array_equal(other.net.weights[0], w0[0])
    pg.reset(same_init=False)
    assert not np.array_equal(w0[0], pg.net.weights[0])
    seed = pg.config["initSeed"]
    pg.step(2)
    pg.reset()
    assert pg.config["initSeed"] == seed
    np.testing.assert_array_equal(Playground({"seed": "1", "initSeed": seed}).net.weights[0],
                                  pg.net.weights[0])


def test_regenerate_changes_the_data():
    pg = Playground({"seed": "1"})
    X = pg.X_train.copy()
    pg.step(2)
    pg.regenerate()
    assert pg.config["seed"] != "1" and pg.epoch == 0
    assert not np.array_equal(X, pg.X_train)


def test_divergence_gives_a_message_not_an_exception():
    pg = Playground({"seed": "1", "problem": "regression", "networkShape": "8,8,8,8,8,8",
                     "activation": "relu", "learningRate": 10, **ALL_FEATURES})
    m = pg.step(20)
    assert m["diverged"] is True and m["loss_train"] is None and m["loss_test"] is None
    assert m["message"] == DIVERGED_MESSAGE and "learning rate too high" in m["message"]
    assert m["stopped"] == "diverged" and m["epoch"] < 20
    g = pg.grid(20)
    assert np.isnan(g["output"]).any()
    json.dumps(pg.state(), allow_nan=False)            # the page gets valid JSON
    pg.set_config(learningRate=0.01)
    pg.reset()
    assert pg.step(2)["diverged"] is False


def test_stop_epoch_and_stop_loss():
    pg = Playground({"seed": "1", "stopEpoch": 7})
    m = pg.step(20)
    assert m["epoch"] == 7 and m["stopped"] == "stopEpoch"
    assert pg.step(5)["epoch"] == 7
    pg = Playground({"seed": "1", "dataset": "gauss", "stopLoss": 0.05})
    m = pg.step(500)
    assert m["stopped"] == "stopLoss" and m["loss_test"] <= 0.05 and m["epoch"] < 500


def test_metrics_classification_and_regression():
    pg = Playground({"seed": "1", "dataset": "gauss"})
    m = pg.step(50)
    c = np.array(m["confusion"])
    assert c.shape == (2, 2) and c.sum() == len(pg.X_test)
    assert m["accuracy_test"] == pytest.approx(np.trace(c) / c.sum())
    assert m["accuracy_test"] > 0.95 and m["r2_test"] is None
    r = Playground({"seed": "1", "problem": "regression"}).step(50)
    assert r["accuracy_test"] is None and r["confusion"] is None
    assert r["r2_test"] > 0.9 and 0 < r["rmse_test"] < 0.15
    assert r["rmse_test"] == pytest.approx(math.sqrt(2 * r["loss_test"]), rel=1e-4)
    k = Playground({"seed": "1", "dataset": "spiral3"}).metrics()
    assert np.array(k["confusion"]).shape == (3, 3)


# -- grid -----------------------------------------------------------------------------

def test_grid_shape_orientation_and_one_forward(monkeypatch):
    pg = Playground({"seed": "1", **ALL_FEATURES, "networkShape": "3,2"})
    pg.step(3)
    calls = []
    real = pg.net.forward_all
    monkeypatch.setattr(pg.net, "forward_all", lambda x: calls.append(x.shape) or real(x))
    g = pg.grid(50)
    assert calls == [(2500, 7)]                        # one batched pass over the grid
    assert g["density"] == 50 and g["output"].shape == (50, 50)
    assert g["output"].dtype == np.float32
    n = g["neurons"]
    assert set(n) == set(FEATURES) | {"h1_0", "h1_1", "h1_2", "h2_0", "h2_1"}
    assert n["x"][0, 0] == -6 and n["y"][0, 0] == 6             # top-left: (-6, +6)
    assert n["x"][0, -1] == 6 and n["y"][-1, 0] == -6
    assert n["xTimesY"][-1, -1] == pytest.approx(-36)
    one = pg.net.forward_all(features(np.array([[-6.0, 6.0]]), pg.feature_names))
    assert g["output"][0, 0] == pytest.approx(float(one[2][0, 0]), abs=1e-6)
    assert n["h2_1"][0, 0] == pytest.approx(float(one[0][1][0, 1]), abs=1e-6)
    with pytest.raises(ValueError, match="density"):
        pg.grid(1000)


def test_grid_multiclass_and_crossentropy():
    pg = Playground({"seed": "1", "dataset": "spiral3", "loss": "crossentropy"})
    g = pg.grid(10)
    assert g["classes"].shape == (3, 10, 10)
    np.testing.assert_allclose(g["classes"].sum(0), 1, rtol=1e-5)
    assert set(np.unique(g["output"])) <= {-1.0, 0.0, 1.0}
    b = Playground({"seed": "1", "loss": "crossentropy"}).grid(10)["output"]
    assert -1 <= b.min() and b.max() <= 1 and "classes" not in Playground().grid(10)


# -- bring your own data ----------------------------------------------------------------

@pytest.mark.parametrize("text,line,what", [
    ("x1,x2,label\n1,2,1\n1,2\n", 3, "columns"),
    ("1,2,1\n3,abc,1\n", 2, "not a number"),
    ("1,2,1\n\n7,0,1\n", 3, "outside"),
    ("1,2,1\n1,2,0.5\n", 2, "not a class"),
    ("1,2,1\n1,2,1,validation\n", 2, "part"),
])
def test_csv_errors_name_the_line(text, line, what):
    pg = Playground({"seed": "1"})
    X = pg.X_train.copy()
    with pytest.raises(ValueError, match=f"line {line}:.*{what}"):
        pg.load_csv(text)
    np.testing.assert_array_equal(X, pg.X_train)       # nothing changed


def test_csv_too_many_rows_and_regression_range():
    rows = "\n".join("1,1,1" for _ in range(2001))
    with pytest.raises(ValueError, match="line 2001: too many rows"):
        D.parse_csv(rows)
    with pytest.raises(ValueError, match="line 1: label 2 is outside"):
        D.parse_csv("0,0,2\n", "regression")
    with pytest.raises(ValueError, match="no data rows"):
        D.parse_csv("x1,x2,label\n")


def test_csv_upload_and_points():
    pg = Playground({"seed": "1", "percTrainData": 50})
    pg.load_csv("x1,x2,label\n" + "\n".join(f"{i % 5},{-(i % 3)},{i % 2}" for i in range(40)))
    assert pg.custom_data and len(pg.X_train) == 20 and len(pg.X_test) == 20
    assert {p[2] for p in pg.points()["train"]} <= {-1, 1}     # 0/1 read as -1/+1
    pg.load_csv("\n".join(f"{i % 5},{i % 3},{i % 4}" for i in range(40)))
    assert pg.num_classes == 4 and pg.net.sizes[-1] == 4
    pg.step(2)
    pg.add_point(1.5, -2, 3, part="test")
    assert pg.points()["test"][-1] == [1.5, -2.0, 3]
    with pytest.raises(ValueError, match="not a class"):
        pg.add_point(0, 0, 4)
    with pytest.raises(ValueError, match="outside"):
        pg.add_point(7, 0, 1)
    assert pg.epoch == 2


# -- export -----------------------------------------------------------------------------

@pytest.mark.parametrize("config", [
    {"dataset": "xor", "xTimesY": True, "sinX": True},
    {"dataset": "spiral3", "loss": "crossentropy", "networkShape": "5", "activation": "relu"},
])
def test_export_round_trip(tmp_path, config):
    pg = Playground({"seed": "2", **config})
    m = pg.step(30)
    e = pg.export()
    (tmp_path / "playground_model.py").write_text(e["script"])
    (tmp_path / "playground_model.safetensors").write_bytes(e["weights"])
    (tmp_path / "playground_data.csv").write_text(e["data"])
    run = subprocess.run([sys.executable, "playground_model.py"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    printed = float(run.stdout.strip().split("test loss:")[1])
    assert printed == pytest.approx(m["loss_test"], abs=2e-6)
    again = Playground({"seed": "2", **config})           # the CSV uploads back
    again.load_csv(e["data"])
    np.testing.assert_array_equal(again.X_test, pg.X_test)


def test_state_is_json():
    pg = Playground({"seed": "1"})
    pg.step(1)
    s = json.loads(json.dumps(pg.state(), allow_nan=False))
    assert set(s) >= {"config", "metrics", "network", "points"}
    assert s["network"]["layers"] == [["x", "y"], ["h1_0", "h1_1", "h1_2", "h1_3"],
                                      ["h2_0", "h2_1"], ["out"]]
    assert np.array(s["network"]["weights"]["l2"]).shape == (2, 4)


# -- the benchmark workloads compute the same thing as PyTorch -------------------------

def test_bench_workloads_match_torch():
    torch = pytest.importorskip("torch")
    from bench import workloads as W
    names = {w.name for w in W.WORKLOADS}
    assert {"playground epoch (250 pts, batch 10)", "playground grid 100x100"} <= names
    pg, twin, torch_epoch = W.playground_epoch_pair()
    assert len(pg.F_train) == 250
    for _ in range(2):
        pg.train_epoch()
        torch_epoch()
    mods = [m for m in twin if isinstance(m, torch.nn.Linear)]
    for layer, m in zip(pg.net.layers, mods):
        np.testing.assert_allclose(layer.weight._data, m.weight.detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    pg, torch_grid = W.playground_grid_pair()
    g = pg.grid(100)
    out, neurons = torch_grid()
    np.testing.assert_allclose(g["output"], out.numpy(), atol=2e-5)
    assert set(neurons) == set(g["neurons"])
    np.testing.assert_allclose(g["neurons"]["h3_7"], neurons["h3_7"].numpy(), atol=2e-5)
