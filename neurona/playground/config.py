"""The playground's configuration: one flat dict, keyed by the TensorFlow Playground's
URL-hash names (``#dataset=spiral&networkShape=4,2&learningRate=0.03...``).

``validate(changes, base)`` checks every changed key and returns the new full config;
any bad key or value raises ``ValueError`` naming the key, the value and what is
allowed -- before anything changes.  Values may come typed (JSON: numbers, bools) or as
the strings of a URL hash ("0.03", "true"); the config stores them typed:

    problem "classification"|"regression"   dataset circle|xor|gauss|spiral|spiral3
    regDataset reg-plane|reg-gauss           noise int 0..50 (percent)
    percTrainData int 10..90                 seed str
    x y xSquared ySquared xTimesY sinX sinY  bool (the input features)
    networkShape "4,2" (0..6 hidden layers of 1..8 neurons; "" = none)
    activation relu|tanh|sigmoid|linear      learningRate float in [1e-6, 10]
    regularization none|L1|L2                regularizationRate float in [0, 10]
    batchSize int 1..30                      showTestData discretize bool (display only)
    loss square|crossentropy                 optimizer sgd|momentum|adam
    stopEpoch int >= 0 (0 = never)           stopLoss float >= 0 (0 = never)
    initSeed int >= 0 (seed of the initial weights; None = derived from seed)
"""
from __future__ import annotations

import math

from .datasets import CLASSIFY, REGRESS
from .features import FEATURES

__all__ = ["DEFAULTS", "LEARNING_RATES", "REGULARIZATION_RATES", "DATA_KEYS", "NET_KEYS",
           "MAX_LAYERS", "MAX_NEURONS", "validate", "parse_shape", "to_hash", "from_hash"]

MAX_LAYERS = 6
MAX_NEURONS = 8
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
REGULARIZATION_RATES = (0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)

DEFAULTS = {
    "problem": "classification", "dataset": "circle", "regDataset": "reg-plane",
    "noise": 0, "percTrainData": 50, "seed": "0.12345",
    "x": True, "y": True, "xSquared": False, "ySquared": False, "xTimesY": False,
    "sinX": False, "sinY": False,
    "networkShape": "4,2", "activation": "tanh", "learningRate": 0.03,
    "regularization": "none", "regularizationRate": 0.0, "batchSize": 10,
    "showTestData": False, "discretize": False,
    "loss": "square", "optimizer": "sgd", "stopEpoch": 0, "stopLoss": 0.0, "initSeed": None,
}

# keys whose change means new data (and a fresh network), or a fresh network
DATA_KEYS = frozenset({"problem", "dataset", "regDataset", "noise", "percTrainData", "seed"})
NET_KEYS = frozenset(set(FEATURES) | {"networkShape", "activation", "loss", "initSeed"})

_CHOICES = {
    "problem": ("classification", "regression"),
    "dataset": tuple(CLASSIFY),
    "regDataset": tuple(REGRESS),
    "activation": ("relu", "tanh", "sigmoid", "linear"),
    "regularization": ("none", "L1", "L2"),
    "loss": ("square", "crossentropy"),
    "optimizer": ("sgd", "momentum", "adam"),
}
_INTS = {"noise": (0, 50), "percTrainData": (10, 90), "batchSize": (1, 30),
         "stopEpoch": (0, 10**9)}
_FLOATS = {"learningRate": (1e-6, 10.0), "regularizationRate": (0.0, 10.0),
           "stopLoss": (0.0, 1e9)}
_BOOLS = frozenset(set(FEATURES) | {"showTestData", "discretize"})


def _bad(key, value, allowed) -> ValueError:
    return ValueError(f"config {key!r}: {value!r} is not allowed; expected {allowed}")


def _to_float(key, value, lo, hi) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _bad(key, value, f"a number in [{lo:g}, {hi:g}]")
    try:
        v = float(value)
    except ValueError:
        raise _bad(key, value, f"a number in [{lo:g}, {hi:g}]") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise _bad(key, value, f"a number in [{lo:g}, {hi:g}]")
    return v


def _to_int(key, value, lo, hi) -> int:
    allowed = f"an integer in [{lo}, {hi}]"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _bad(key, value, allowed)
    try:
        v = float(value)
    except ValueError:
        raise _bad(key, value, allowed) from None
    if not (math.isfinite(v) and v == int(v) and lo <= v <= hi):
        raise _bad(key, value, allowed)
    return int(v)


def _to_bool(key, value) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _bad(key, value, "true or false")


def parse_shape(value) -> list[int]:
    """networkShape "4,2" (or [4, 2]) -> [4, 2]; "" -> [] (no hidden layer)."""
    allowed = (f"a comma list of 0..{MAX_LAYERS} hidden layer sizes, each 1..{MAX_NEURONS}, "
               f"like \"4,2\" (\"\" for no hidden layer)")
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")] if value.strip() else []
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise _bad("networkShape", value, allowed)
    sizes = []
    for p in parts:
        if isinstance(p, bool):
            raise _bad("networkShape", value, allowed)
        try:
            n = int(p)
        except (TypeError, ValueError):
            raise _bad("networkShape", value, allowed) from None
        if str(n) != str(p).strip() or not 1 <= n <= MAX_NEURONS:
            raise _bad("networkShape", value, allowed)
        sizes.append(n)
    if len(sizes) > MAX_LAYERS:
        raise ValueError(f"config 'networkShape': {value!r} has {len(sizes)} hidden layers; "
                         f"at most {MAX_LAYERS} are allowed")
    return sizes


def _check(key, value):
    """The typed, checked value of one key (ValueError when it is not allowed)."""
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise _bad(key, value, "one of " + ", ".join(_CHOICES[key]))
        return value
    if key in _INTS:
        return _to_int(key, value, *_INTS[key])
    if key in _FLOATS:
        return _to_float(key, value, *_FLOATS[key])
    if key in _BOOLS:
        return _to_bool(key, value)
    if key == "networkShape":
        return ",".join(map(str, parse_shape(value)))
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) \
                or not 0 < len(str(value)) <= 100:
            raise _bad(key, value, "a non-empty string of at most 100 characters")
        return str(value)
    if key == "initSeed":
        if value is None or value == "":
            return None
        return _to_int(key, value, 0, 2**63 - 1)
    raise ValueError(f"unknown config key {key!r}; the keys are: {', '.join(DEFAULTS)}")


def validate(changes: dict | None, base: dict | None = None) -> dict:
    """The new full config: ``base`` (the defaults when None) with ``changes`` applied.

    Every changed key is checked first; the first bad one raises ValueError and nothing
    changes.  At least one input feature must stay on."""
    if changes is not None and not isinstance(changes, dict):
        raise ValueError(f"a config must be a dict of key -> value, got {type(changes).__name__}")
    new = dict(DEFAULTS if base is None else base)
    for key, value in (changes or {}).items():
        new[key] = _check(key, value)
    if not any(new[f] for f in FEATURES):
        raise ValueError("config: no input feature is on; switch on at least one of "
                         + ", ".join(FEATURES))
    return new


def to_hash(config: dict) -> str:
    """The URL hash of a config, ``k=v&k=v...`` (bools as true/false, like the original)."""
    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return "" if v is None else str(v)
    return "&".join(f"{k}={text(v)}" for k, v in config.items())


def from_hash(text: str) -> dict:
    """The changes a URL hash ``k=v&k=v...`` asks for (strings; ``validate`` types them)."""
    out = {}
    for part in text.lstrip("#").split("&"):
        if part:
            k, _, v = part.partition("=")
            out[k] = v
    return out
