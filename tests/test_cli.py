"""The ``neurona`` command: train, evaluate, demo, datasets; --help; errors a person can read."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from neurona.cli import build_parser, main

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["train", "evaluate", "demo", "datasets"]


def run(argv, capsys):
    """``neurona ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as e:                     # argparse: --help, missing arguments
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_every_command(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: neurona {command}")


def test_help_names_the_models_and_datasets(capsys):
    _, out, _ = run(["train", "--help"], capsys)
    flat = " ".join(out.split())
    for name in ("linear-regression", "logistic-regression", "mlp", "perceptron", "iris",
                 "breast-cancer", "mnist", "spiral", "multi-gauss"):
        assert name in flat


def test_the_installed_entry_point_runs():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "neurona.cli", "train", "--help"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--dataset" in out.stdout


# ----------------------------------------------------------------------------- train + evaluate

def test_train_and_evaluate_iris_round_trip(tmp_path, capsys):
    out = tmp_path / "iris"
    code, stdout, err = run(["train", "logistic-regression", "--dataset", "iris", "--epochs",
                             "60", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    for name in ("model.safetensors", "history.json", "history.png", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in stdout                     # says where it wrote
    trained = float(re.search(r"test accuracy ([\d.]+)", stdout).group(1))
    assert trained >= 0.85
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 60 and history["loss"][-1] < history["loss"][0]
    assert "val_accuracy" in history

    code, stdout, err = run(["evaluate", str(out / "model.safetensors"), "--out",
                             str(tmp_path / "eval")], capsys)
    assert code == 0, err
    assert "logistic-regression" in stdout and "confusion matrix" in stdout
    evaluated = float(re.search(r"accuracy ([\d.]+)", stdout).group(1))
    assert evaluated == pytest.approx(trained)
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["accuracy"] == pytest.approx(trained) and report["dataset"] == "iris"


def test_train_and_evaluate_digits_mlp(tmp_path, capsys):
    out = tmp_path / "digits"
    code, stdout, err = run(["train", "mlp", "--dataset", "digits", "--epochs", "10",
                             "--hidden", "64", "--out", str(out)], capsys)
    assert code == 0, err
    assert re.search(r"^epoch\s+10\s+loss", stdout, re.M)          # per-epoch lines
    trained = float(re.search(r"test accuracy ([\d.]+)", stdout).group(1))
    assert trained >= 0.9
    code, stdout, err = run(["evaluate", str(out / "model.safetensors"), "--dataset",
                             "digits"], capsys)
    assert code == 0, err
    assert "'hidden': [64]" in stdout
    assert float(re.search(r"accuracy ([\d.]+)", stdout).group(1)) == pytest.approx(trained)


def test_train_on_playground_data_draws_the_decision_boundary(tmp_path, capsys):
    out = tmp_path / "xor"
    code, stdout, err = run(["train", "mlp", "--dataset", "xor", "--epochs", "20", "--out",
                             str(out), "--quiet"], capsys)
    assert code == 0, err
    assert (out / "decision_boundary.png").stat().st_size > 1000
    assert float(re.search(r"test accuracy ([\d.]+)", stdout).group(1)) >= 0.9


def test_perceptron_and_linear_regression_from_the_command_line(tmp_path, capsys):
    code, stdout, err = run(["train", "perceptron", "--dataset", "gauss", "--out",
                             str(tmp_path / "p"), "--no-plots"], capsys)
    assert code == 0, err
    assert "perceptron rule" in stdout
    code, stdout, err = run(["evaluate", str(tmp_path / "p" / "model.safetensors")], capsys)
    assert code == 0, err
    code, stdout, err = run(["train", "linear-regression", "--dataset", "diabetes", "--out",
                             str(tmp_path / "lr"), "--quiet", "--no-plots"], capsys)
    assert code == 0, err
    assert float(re.search(r"test r2 ([\d.-]+)", stdout).group(1)) > 0.4


# ----------------------------------------------------------------------------- errors

def test_unknown_model_lists_the_models(capsys):
    code, _, err = run(["train", "resnet", "--dataset", "iris"], capsys)
    assert code == 1
    assert "unknown model 'resnet'" in err
    for name in ("linear-regression", "logistic-regression", "mlp", "perceptron"):
        assert name in err
    assert "Traceback" not in err


def test_unknown_dataset_lists_the_datasets(capsys):
    code, _, err = run(["train", "mlp", "--dataset", "imagenet"], capsys)
    assert code == 1
    assert "unknown dataset 'imagenet'" in err and "iris" in err and "spiral" in err


def test_unknown_optimizer_and_wrong_pairings(capsys):
    code, _, err = run(["train", "mlp", "--dataset", "iris", "--optimizer", "lbfgs"], capsys)
    assert code == 1 and "adam" in err
    code, _, err = run(["train", "perceptron", "--dataset", "iris"], capsys)
    assert code == 1 and "2 classes" in err
    code, _, err = run(["train", "linear-regression", "--dataset", "wine"], capsys)
    assert code == 1 and "classification" in err


def test_evaluate_corrupt_or_foreign_files(tmp_path, capsys):
    import neurona as nr
    from neurona.models import MLP
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    code, _, err = run(["evaluate", str(bad)], capsys)
    assert code == 1 and "not a readable checkpoint" in err
    plain = tmp_path / "weights.safetensors"
    nr.save(MLP(4, (8,), 3).state_dict(), plain)
    code, _, err = run(["evaluate", str(plain)], capsys)
    assert code == 1 and "not a neurona.models checkpoint" in err
    code, _, err = run(["evaluate", str(tmp_path / "missing.safetensors")], capsys)
    assert code == 1 and "no checkpoint" in err


def test_evaluate_on_data_of_another_width_names_the_layer(tmp_path, capsys):
    out = tmp_path / "iris"
    code, _, err = run(["train", "mlp", "--dataset", "iris", "--epochs", "2", "--out",
                        str(out), "--quiet", "--no-plots"], capsys)
    assert code == 0, err
    code, _, err = run(["evaluate", str(out / "model.safetensors"), "--dataset", "wine"],
                       capsys)
    assert code == 1
    assert "wine does not fit this model (trained on iris)" in err
    assert "Linear(in_features=4" in err and "13" in err
    code, _, err = run(["evaluate", str(out / "model.safetensors"), "--dataset", "diabetes"],
                       capsys)
    assert code == 1 and "regression" in err


def test_datasets_command_finds_mnist(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = run(["datasets"], capsys)
    assert code == 0
    line = next(l for l in out.splitlines() if l.split()[:1] == ["mnist"])
    assert " yes " in line and "shared" in line, line
    assert re.search(r"^\s+iris\s+yes", out, re.M)


# ----------------------------------------------------------------------------- demo

def test_demo_runs_and_writes_its_plots(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "neurona.cli", "demo", "--out",
                          str(tmp_path / "plots"), "--epochs", "200"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for part in ("1. linear regression", "2. logistic regression", "3. the perceptron",
                 "4. a feed-forward network", "5. a network by hand"):
        assert part in text
    gd = float(re.search(r"GD vs closed form ([\d.e-]+)", text).group(1))
    assert gd < 0.05
    logistic = float(re.search(r"test accuracy ([\d.]+)% on \d+ held-out", text).group(1))
    assert logistic >= 95
    mlp = float(re.search(r"test accuracy ([\d.]+)% \([\d.]+ s\)", text).group(1))
    assert mlp >= 97
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert len(pngs) >= 5, pngs
    assert str(tmp_path / "plots") in text
