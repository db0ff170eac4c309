"""metrics.json, the report every recipe writes (neurona.recipes._report)."""
from __future__ import annotations

import json
import math

import numpy as np

from neurona.recipes._report import json_safe, write_metrics


def test_metrics_json_is_strict_and_has_one_layout(tmp_path):
    path = write_metrics(tmp_path / "run", {"loss": float("nan"), "acc": np.float32(0.5),
                                            "steps": np.int64(3), "big": math.inf},
                         {"lr": 1e-3}, {"loss": np.array([2.0, 1.0])})
    text = open(path, encoding="utf-8").read()
    report = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert report == {"metrics": {"loss": "nan", "acc": 0.5, "steps": 3, "big": "inf"},
                      "hyperparameters": {"lr": 0.001}, "history": {"loss": [2.0, 1.0]}}
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["metrics.json"]   # no temp left


def test_json_safe_leaves_plain_values_alone():
    assert json_safe({"a": [1, "x", None, True], 2: (1.5,)}) == {"a": [1, "x", None, True],
                                                                 "2": [1.5]}
