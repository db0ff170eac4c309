"""Tests of neurona.save/load (safetensors checkpoints) and neurona.train (fit, metrics,
callbacks, history, resume)."""
import json
import math
import os
import pickle

import numpy as np
import pytest

import neurona as nr
from neurona import nn, optim, serialization
from neurona.train import (Callback, EarlyStopping, History, LRLogger, ModelCheckpoint,
                           NonFiniteError, evaluate, fit, metrics, predict)
from neurona.utils.data import DataLoader, TensorDataset

sklearn_metrics = pytest.importorskip("sklearn.metrics")


# ============================================================================ helpers

def same(a, b):
    """Deep equality of nested structures holding tensors (dtype and shape included)."""
    if isinstance(a, nr.Tensor):
        return (isinstance(b, nr.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, dict):
        return (type(b) is dict and list(a) == list(b)
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def mlp(n_in=4, n_hidden=16, n_out=3, dropout=0.0):
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(n_hidden, n_out))


def blobs(n=120, n_in=4, n_classes=3, seed=0):
    """A small, easy classification problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    centers = rng.normal(0, 3, (n_classes, n_in))
    X = centers[y] + rng.normal(0, 1, (n, n_in))
    return nr.tensor(X.astype(np.float32)), nr.tensor(y)


def loaders(batch_size=16, seed=0, n=120):
    X, y = blobs(n, seed=seed)
    cut = int(0.75 * n)
    train = DataLoader(TensorDataset(X[:cut], y[:cut]), batch_size=batch_size, shuffle=True,
                       generator=nr.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(X[cut:], y[cut:]), batch_size=batch_size)
    return train, val


def weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


# ============================================================================ save / load

ALL_DTYPES = [nr.float32, nr.float64, nr.float16, nr.int64, nr.int32, nr.int16, nr.int8,
              nr.uint8, nr.bool]


def test_flat_state_dict_round_trip_keeps_names_dtypes_and_shapes(tmp_path):
    sd = {f"t_{dt}": nr.tensor(np.arange(6).reshape(2, 3) % 2).to(dt) for dt in ALL_DTYPES}
    sd["scalar"] = nr.tensor(2.5)                       # 0-d
    sd["empty"] = nr.zeros(0, 3)
    sd["transposed"] = nr.randn(3, 4).T                 # not contiguous
    path = tmp_path / "sd.safetensors"
    nr.save(sd, path)
    back = nr.load(path)
    assert same(sd, back)
    assert back["scalar"].shape == () and back["empty"].shape == (0, 3)
    # the file is a plain safetensors file with the same names
    from safetensors.numpy import load_file
    assert sorted(load_file(str(path))) == sorted(sd)


def test_loaded_tensors_are_writable_copies(tmp_path):
    nr.save({"w": nr.ones(3)}, tmp_path / "a.safetensors")
    w = nr.load(tmp_path / "a.safetensors")["w"]
    w[0] = 5.0
    assert w.tolist() == [5.0, 1.0, 1.0]


def test_nested_checkpoint_round_trip_keeps_structure_and_types(tmp_path):
    ckpt = {
        "model": {"fc.weight": nr.randn(3, 2), "fc.bias": nr.zeros(3)},
        "optimizer": {"state": {0: {"step": nr.tensor(3.0), "exp_avg": nr.ones(2)}},
                      "param_groups": [{"params": [0, 1], "lr": 0.001, "betas": (0.9, 0.999),
                                        "amsgrad": False, "foreach": None}]},
        "scheduler": None,
        "epoch": 3,
        "rng": nr.get_rng_state(),
        "history": {"loss": [1.5, 0.25], "val_loss": [float("nan"), float("inf")]},
        "name": "run-1",
        "array": np.arange(4, dtype=np.int16),
        "mask": nr.tensor([True, False]),
        "tensors_in_a_list": [nr.tensor(1), nr.tensor([2.0])],
    }
    path = tmp_path / "ckpt.safetensors"
    nr.save(ckpt, path)
    back = nr.load(path)
    assert same(ckpt, back)
    assert type(back["epoch"]) is int
    assert list(back["optimizer"]["state"]) == [0]           # int keys stay ints
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    nr.set_rng_state(back["rng"])                            # a usable RNG state


def test_save_refuses_objects_it_cannot_store_safely(tmp_path):
    with pytest.raises(TypeError, match="object of type"):
        nr.save({"model": object()}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="keys must be strings or numbers"):
        nr.save({("a", "b"): nr.ones(1)}, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


def test_load_map_location(tmp_path):
    nr.save({"w": nr.ones(2)}, tmp_path / "w.safetensors")
    w = nr.load(tmp_path / "w.safetensors", map_location="cpu")["w"]
    assert str(w.device) == "cpu"


def test_save_is_atomic_when_the_write_crashes(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    nr.save({"w": nr.ones(1000), "epoch": 1}, path)
    good = path.read_bytes()

    def crash_half_way(f, data, chunk=None):
        f.write(data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization, "_write_bytes", crash_half_way)
    with pytest.raises(OSError, match="simulated"):
        nr.save({"w": nr.zeros(1000), "epoch": 2}, path)
    assert path.read_bytes() == good                         # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]      # and no temporary file is left
    assert nr.load(path)["epoch"] == 1


def test_save_overwrites_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "c.safetensors"
    for epoch in range(3):
        nr.save({"epoch": epoch, "w": nr.ones(2) * epoch}, path)
    assert nr.load(path)["epoch"] == 2
    assert os.listdir(tmp_path) == ["c.safetensors"]


@pytest.mark.parametrize("damage", ["truncate_data", "truncate_header", "tiny", "garbage"])
def test_corrupt_files_give_a_clear_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "bad.safetensors"
    nr.save({"w": nr.randn(100), "epoch": 1}, path)
    data = path.read_bytes()
    damaged = {"truncate_data": data[:-50], "truncate_header": data[:40], "tiny": data[:5],
               "garbage": b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!!"}[damage]
    path.write_bytes(damaged)
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint") as info:
        nr.load(path)
    assert "bad.safetensors" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        nr.load(tmp_path / "nope.safetensors")


def test_pickle_files_are_refused_with_conversion_advice(tmp_path):
    torch = pytest.importorskip("torch")
    pt = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, pt)                     # zip archive of pickles
    with pytest.raises(ValueError, match="only accepts safetensors") as info:
        nr.load(pt)
    assert "save_file(model.state_dict(), 'model.safetensors')" in str(info.value)
    raw = tmp_path / "model.bin"
    raw.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))        # a bare pickle
    with pytest.raises(ValueError, match="pickle"):
        nr.load(raw)


def test_a_safetensors_header_length_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """The file starts with the header's length (little-endian); 1 header in 256 has a
    low byte of 0x80, the pickle marker -- such a checkpoint must still load."""
    import struct
    for pad in range(300):
        path = tmp_path / "w.safetensors"
        nr.save({"w": nr.ones(3), "note": "x" * pad}, path)
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no padding gave a header length with low byte 0x80")
    assert struct.unpack("<Q", path.read_bytes()[:8])[0] % 256 == 0x80
    loaded = nr.load(path)
    np.testing.assert_array_equal(loaded["w"].numpy(), np.ones(3))


# ============================================================================ PyTorch interop

def torch_mlp(torch):
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(16, 3))


def test_a_pytorch_state_dict_loads_into_the_same_neurona_model(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    torch.manual_seed(0)
    tmodel = torch_mlp(torch)
    save_file(tmodel.state_dict(), str(tmp_path / "model.safetensors"))
    model = mlp()
    model.load_state_dict(nr.load(tmp_path / "model.safetensors"))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(model(nr.tensor(x)).detach()), expected,
                               rtol=1e-5, atol=1e-6)


def test_a_neurona_state_dict_loads_into_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    model = mlp()
    nr.save(model.state_dict(), tmp_path / "model.safetensors")
    tmodel = torch_mlp(torch)
    tmodel.load_state_dict(load_file(str(tmp_path / "model.safetensors")))
    for name, tensor in tmodel.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), np.asarray(model.state_dict()[name]))


def test_failed_load_state_dict_from_a_checkpoint_leaves_weights_unchanged(tmp_path):
    train, _ = loaders()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, train, epochs=1, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, progress=False,
        callbacks=[ModelCheckpoint(tmp_path / "c.safetensors")])
    other = mlp(n_hidden=8)                                  # a different architecture
    before = weights(other)
    with pytest.raises(RuntimeError):
        fit(other, train, epochs=2, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(other.parameters(), lr=0.1), progress=False,
            resume_from=tmp_path / "c.safetensors")
    after = weights(other)
    assert all(np.array_equal(before[k], after[k]) for k in before)


# ============================================================================ metrics

def random_labels(seed, n_classes, n=60):
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_classes, n), rng.integers(0, n_classes, n)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("average", ["binary", "macro", "micro", "weighted"])
def test_precision_recall_f1_match_sklearn(seed, average):
    y, p = random_labels(seed, 2 if average == "binary" else 4)
    ours = metrics.precision_recall_f1(y, p, average=average)
    theirs = sklearn_metrics.precision_recall_fscore_support(y, p, average=average,
                                                             zero_division=0)[:3]
    np.testing.assert_allclose(ours, theirs)
    assert metrics.f1_score(y, p, average=average) == pytest.approx(
        sklearn_metrics.f1_score(y, p, average=average, zero_division=0))


def test_precision_with_a_class_never_predicted_matches_sklearn():
    y, p = [0, 1, 2, 2, 1], [0, 1, 1, 1, 1]
    for average in ("macro", "weighted", "micro"):
        assert metrics.precision(y, p, average=average) == pytest.approx(
            sklearn_metrics.precision_score(y, p, average=average, zero_division=0))


def test_accuracy_and_confusion_matrix_match_sklearn_and_accept_tensors_and_scores():
    y, p = random_labels(0, 3)
    assert metrics.accuracy(nr.tensor(y), nr.tensor(p)) == sklearn_metrics.accuracy_score(y, p)
    np.testing.assert_array_equal(metrics.confusion_matrix(y, p),
                                  sklearn_metrics.confusion_matrix(y, p))
    np.testing.assert_array_equal(metrics.confusion_matrix(y, p, labels=[2, 0, 1]),
                                  sklearn_metrics.confusion_matrix(y, p, labels=[2, 0, 1]))
    scores = nr.randn(60, 3, requires_grad=True)            # raw model outputs: argmax
    labels = np.asarray(scores.detach()).argmax(1)
    assert metrics.accuracy(y, scores) == sklearn_metrics.accuracy_score(y, labels)
    probs = np.array([0.2, 0.7, 0.9, 0.4])                   # one probability: > 0.5
    assert metrics.accuracy([0, 1, 0, 0], probs) == 0.75
    assert metrics.accuracy([0, 1, 0, 0], nr.tensor([-1.0, 2.0, 3.0, -0.5]),
                            threshold=0.0) == 0.75


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert metrics.mse(y, p) == pytest.approx(sklearn_metrics.mean_squared_error(y, p))
    assert metrics.mae(nr.tensor(y), nr.tensor(p)) == pytest.approx(
        sklearn_metrics.mean_absolute_error(y, p))
    assert metrics.r2_score(y, p) == pytest.approx(sklearn_metrics.r2_score(y, p))
    y1, p1 = y[:, 0], p[:, :1]                               # (N,) against (N, 1)
    assert metrics.r2_score(y1, p1) == pytest.approx(sklearn_metrics.r2_score(y1, p1[:, 0]))
    assert metrics.r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0  # constant target, as sklearn


# ============================================================================ fit

def test_fit_learns_iris_and_records_a_full_history():
    from neurona.datasets import load_iris, standardize, train_test_split
    X, y = load_iris(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, seed=0)
    X_tr, X_te = standardize(X_tr, X_te)
    train = DataLoader(TensorDataset(X_tr, y_tr), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(X_te, y_te), batch_size=64)
    model = mlp()
    history = fit(model, train, epochs=30, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=optim.Adam(model.parameters(), lr=0.01), val_loader=val,
                  metrics=("accuracy", "f1"), progress=False, seed=0)
    assert history["val_accuracy"][-1] >= 0.9
    assert history["loss"][-1] < history["loss"][0]
    assert list(history) == ["epoch", "lr", "loss", "accuracy", "f1", "val_loss",
                             "val_accuracy", "val_f1"]
    assert len(history) == 30 and history["epoch"] == list(range(1, 31))
    assert history["lr"] == [0.01] * 30
    best = history.best()                                    # by val_loss
    assert best["val_loss"] == min(history["val_loss"])
    assert history.best("val_accuracy")["val_accuracy"] == max(history["val_accuracy"])
    # the logged val numbers are what evaluate() and the metrics say
    result = evaluate(model, val, nn.CrossEntropyLoss(), metrics=("accuracy",))
    assert result["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-5)
    outputs = predict(model, X_te)
    assert outputs.shape == (len(y_te), 3)
    assert result["accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(np.asarray(y_te), np.asarray(outputs).argmax(1)))
    np.testing.assert_allclose(np.asarray(predict(model, val)), np.asarray(outputs),
                               rtol=1e-6)
    assert model.training                                    # evaluate/predict restore mode


def test_history_json_round_trip(tmp_path):
    h = History()
    h.append({"epoch": 1, "loss": 1.0, "val_loss": 2.0})
    h.append({"epoch": 2, "loss": 0.5, "val_loss": 2.5, "accuracy": 0.75})
    assert h["accuracy"] == [None, 0.75]
    assert h.best() == {"epoch": 1, "loss": 1.0, "val_loss": 2.0, "accuracy": None}
    text = h.to_json(tmp_path / "h.json")
    assert json.loads(text)["loss"] == [1.0, 0.5]
    assert History.from_json(tmp_path / "h.json") == h
    assert History.from_json(text) == h


def test_fit_is_repeatable_with_a_seed():
    runs = []
    for _ in range(2):
        train, val = loaders()
        nr.manual_seed(0)
        model = mlp(dropout=0.2)
        runs.append(fit(model, train, epochs=3, loss_fn=nn.CrossEntropyLoss(),
                        optimizer=optim.SGD(model.parameters(), lr=0.1), val_loader=val,
                        progress=False, seed=123).to_dict())
    assert runs[0] == runs[1]


def test_custom_metric_functions_and_regression_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    loader = DataLoader(TensorDataset(nr.tensor(X), nr.tensor(y)), batch_size=16)
    model = nn.Linear(3, 1)
    seen = []

    def max_error(targets, outputs):
        seen.append((targets.shape, outputs.shape))
        return float(np.abs(np.asarray(targets) - np.asarray(outputs)).max())

    history = fit(model, loader, epochs=40, loss_fn=nn.MSELoss(),
                  optimizer=optim.SGD(model.parameters(), lr=0.1), val_loader=loader,
                  metrics=("mse", "r2", max_error), progress=False)
    assert seen[0] == ((64, 1), (64, 1))                     # the whole epoch at once
    assert history["val_r2"][-1] > 0.99
    assert history["val_mse"][-1] == pytest.approx(history["val_loss"][-1], rel=1e-4)
    assert "max_error" in history and "accuracy" not in history


def test_fit_default_metrics_depend_on_the_loss():
    train, _ = loaders()
    model = mlp()
    h = fit(model, train, epochs=1, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False)
    assert "accuracy" in h
    with pytest.raises(ValueError, match="unknown metric"):
        fit(model, train, epochs=1, loss_fn=nn.CrossEntropyLoss(), metrics=("acuracy",),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False)


def test_binary_classification_with_logits_thresholds_at_zero():
    X, y = blobs(n=80, n_classes=2)
    loader = DataLoader(TensorDataset(X, y.float().reshape(-1, 1)), batch_size=16)
    model = mlp(n_out=1)
    h = fit(model, loader, epochs=15, loss_fn=nn.BCEWithLogitsLoss(),
            optimizer=optim.Adam(model.parameters(), lr=0.01), val_loader=loader,
            metrics=("accuracy", "f1"), progress=False, seed=0)
    logits = np.asarray(predict(model, X)).ravel()
    labels = (logits > 0).astype(int)
    assert h["val_accuracy"][-1] == pytest.approx(
        sklearn_metrics.accuracy_score(np.asarray(y), labels))
    assert h["val_f1"][-1] == pytest.approx(sklearn_metrics.f1_score(np.asarray(y), labels))
    assert h["val_accuracy"][-1] > 0.9


# ============================================================================ callbacks

class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, state):
        self.calls.append("train_begin")

    def on_epoch_begin(self, state):
        self.calls.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state, logs):
        self.calls.append("batch")

    def on_epoch_end(self, state, logs):
        self.calls.append(f"epoch_end {logs['epoch']}")

    def on_train_end(self, state):
        self.calls.append("train_end")


def test_callback_hooks_are_called_in_order():
    train, _ = loaders(batch_size=45)                        # 90 samples: 2 batches
    model = mlp()
    rec = Recorder()
    fit(model, train, epochs=2, loss_fn=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=0.1), callbacks=[rec], progress=False)
    assert rec.calls == ["train_begin", "epoch_begin 1", "batch", "batch", "epoch_end 1",
                         "epoch_begin 2", "batch", "batch", "epoch_end 2", "train_end"]


def test_early_stopping_stops_when_the_monitored_value_stalls(capsys):
    train, val = loaders()
    model = mlp()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    history = fit(model, train, epochs=20, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=optim.SGD(model.parameters(), lr=0.0),   # nothing improves
                  val_loader=val, callbacks=[stopper], progress=False)
    assert len(history) == 3 and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert "EarlyStopping" in capsys.readouterr().out


def test_early_stopping_min_delta_mode_and_restore_best_weights():
    model = nn.Linear(2, 1)
    state = type("State", (), {"model": model, "epoch": 0, "stop_training": False})()
    stopper = EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.01,
                            restore_best_weights=True, verbose=False)   # mode auto: max
    snapshots = {}
    for epoch, acc in enumerate([0.5, 0.8, 0.805, 0.7], start=1):
        model.weight.data = nr.full((1, 2), float(epoch))
        snapshots[epoch] = weights(model)
        state.epoch = epoch
        stopper.on_epoch_end(state, {"val_accuracy": acc})
    assert state.stop_training and stopper.best_epoch == 2   # 0.805 is not +0.01 better
    stopper.on_train_end(state)
    assert np.array_equal(weights(model)["weight"], snapshots[2]["weight"])


def test_monitoring_a_missing_value_explains_what_to_do():
    train, _ = loaders()
    model = mlp()
    with pytest.raises(KeyError, match="pass val_loader"):
        fit(model, train, epochs=1, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False,
            callbacks=[EarlyStopping()])


def test_model_checkpoint_keeps_the_best_epoch(tmp_path):
    train, val = loaders()
    model = mlp()
    ckpt = ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss",
                           save_best_only=True)
    opt = optim.SGD(model.parameters(), lr=0.05)
    history = fit(model, train, epochs=6, loss_fn=nn.CrossEntropyLoss(), optimizer=opt,
                  val_loader=val, callbacks=[ckpt], progress=False, seed=0)
    saved = nr.load(tmp_path / "best.safetensors")
    best = history.best("val_loss")
    assert saved["epoch"] == best["epoch"] and ckpt.best == best["val_loss"]
    assert set(saved) >= {"model", "optimizer", "scheduler", "epoch", "rng", "history"}
    assert saved["history"]["val_loss"] == history["val_loss"][:best["epoch"]]
    fresh = mlp()
    fresh.load_state_dict(saved["model"])
    result = evaluate(fresh, val, nn.CrossEntropyLoss(), metrics=())
    assert result["loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_model_checkpoint_path_template_writes_one_file_per_epoch(tmp_path):
    train, _ = loaders()
    model = mlp()
    fit(model, train, epochs=3, loss_fn=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False,
        callbacks=[ModelCheckpoint(str(tmp_path / "ep{epoch:02d}-{loss:.2f}.safetensors"))])
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 3 and names[0].startswith("ep01-")


def test_lr_history_and_lr_logger_follow_the_schedule():
    train, _ = loaders(batch_size=30)                        # 3 batches per epoch
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=1.0)
    logger = LRLogger()
    history = fit(model, train, epochs=3, loss_fn=nn.CrossEntropyLoss(), optimizer=opt,
                  scheduler=optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1),
                  callbacks=[logger], progress=False, clip_grad_norm=1.0)
    assert history["lr"] == pytest.approx([1.0, 0.1, 0.01])
    assert logger.lrs == pytest.approx([1.0] * 3 + [0.1] * 3 + [0.01] * 3)


def test_one_cycle_steps_per_batch_and_plateau_gets_the_val_loss():
    train, val = loaders(batch_size=30)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=3,
                                          steps_per_epoch=len(train))
    logger = LRLogger()
    fit(model, train, epochs=3, loss_fn=nn.CrossEntropyLoss(), optimizer=opt,
        scheduler=sched, callbacks=[logger], progress=False)
    assert len(set(logger.lrs)) == len(logger.lrs) == 9      # a new lr every batch

    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    h = fit(model, train, epochs=3, loss_fn=nn.CrossEntropyLoss(), optimizer=opt,
            val_loader=val, scheduler=plateau, progress=False)
    assert plateau.best == pytest.approx(min(h["val_loss"]))


# ============================================================================ resume

class Interrupt(Callback):
    """Simulates a crash (Ctrl-C) at the start of an epoch."""

    def __init__(self, at_epoch):
        self.at_epoch = at_epoch

    def on_epoch_begin(self, state):
        if state.epoch == self.at_epoch:
            raise KeyboardInterrupt


def setup_run(seed_model, scheduler_kind):
    train, val = loaders(seed=0)
    nr.manual_seed(seed_model)
    model = mlp(dropout=0.3)                                 # dropout uses the RNG
    opt = optim.Adam(model.parameters(), lr=0.01)
    if scheduler_kind == "step":
        sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    else:
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=5,
                                              steps_per_epoch=len(train))
    return dict(model=model, train_loader=train, val_loader=val, optimizer=opt,
                scheduler=sched, loss_fn=nn.CrossEntropyLoss())


@pytest.mark.parametrize("scheduler_kind", ["step", "one_cycle"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, scheduler_kind):
    common = dict(epochs=5, metrics=("accuracy",), progress=False, seed=7)
    run = setup_run(0, scheduler_kind)
    full = fit(**run, **common, callbacks=[EarlyStopping(patience=10, verbose=False)])

    path = tmp_path / "last.safetensors"
    run = setup_run(0, scheduler_kind)
    with pytest.raises(KeyboardInterrupt):
        fit(**run, **common, callbacks=[EarlyStopping(patience=10, verbose=False),
                                        ModelCheckpoint(path), Interrupt(at_epoch=3)])
    assert nr.load(path)["epoch"] == 2

    run = setup_run(99, scheduler_kind)                      # other weights, fresh state
    stopper = EarlyStopping(patience=10, verbose=False)
    resumed = fit(**run, **common, resume_from=path,
                  callbacks=[stopper, ModelCheckpoint(path)])
    assert resumed.to_dict() == full.to_dict()               # exactly the same numbers
    assert stopper.best == min(full["val_loss"])
    assert nr.load(path)["epoch"] == 5


def test_resume_from_something_that_is_not_a_checkpoint(tmp_path):
    model = mlp()
    nr.save(model.state_dict(), tmp_path / "weights.safetensors")
    train, _ = loaders()
    with pytest.raises(ValueError, match="not a training checkpoint"):
        fit(model, train, epochs=1, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False,
            resume_from=tmp_path / "weights.safetensors")


# ============================================================================ NaN, progress

def test_nan_in_the_data_is_reported_with_its_batch():
    X, y = blobs(n=64)
    X[37, 1] = float("nan")
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    model = mlp()
    with pytest.raises(NonFiniteError, match=r"epoch 1, batch 2: the inputs contain NaN"):
        fit(model, loader, epochs=1, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1), progress=False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")       # NumPy's overflow warnings
def test_a_diverging_loss_is_reported_with_the_likely_cause():
    X, y = blobs(n=64)
    loader = DataLoader(TensorDataset(X * 100, y), batch_size=16)
    model = mlp()
    with pytest.raises(NonFiniteError, match="learning rate is too high") as info:
        fit(model, loader, epochs=50, loss_fn=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), lr=1e8), progress=False)
    assert "epoch" in str(info.value) and "lr=1e+08" in str(info.value)


def test_progress_bar_on_and_off(capsys):
    train, val = loaders()
    model = mlp()
    kwargs = dict(epochs=2, loss_fn=nn.CrossEntropyLoss(), val_loader=val,
                  optimizer=optim.SGD(model.parameters(), lr=0.1))
    fit(model, train, progress=False, **kwargs)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
    fit(model, train, progress=True, **kwargs)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "val_loss" in err
