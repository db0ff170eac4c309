"""Export a trained playground network: a runnable neurona script, its weights, its data.

``export(pg)`` returns::

    {"script":  the text of playground_model.py -- rebuilds the network with neurona's
                nn.Sequential, loads playground_model.safetensors from its own folder,
                reads playground_data.csv and prints the test loss,
     "weights": the safetensors bytes of the network's state_dict ("0.weight", "0.bias",
                "2.weight", ... -- the Sequential's names),
     "data":    the points as CSV, "x1,x2,label,part" (uploads back into the playground)}

Save the three files side by side and run ``python playground_model.py``: it prints
``test loss: 0.012345``, the number the playground showed.
"""
from __future__ import annotations

import numpy as np
import safetensors.numpy

from .datasets import to_csv

__all__ = ["export", "SCRIPT_NAME", "WEIGHTS_NAME", "DATA_NAME"]

SCRIPT_NAME = "playground_model.py"
WEIGHTS_NAME = "playground_model.safetensors"
DATA_NAME = "playground_data.csv"

_ACT = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()",
        "linear": "nn.Identity()"}
_FEATURE_CODE = {"x": "x1", "y": "x2", "xSquared": "x1 * x1", "ySquared": "x2 * x2",
                 "xTimesY": "x1 * x2", "sinX": "np.sin(x1)", "sinY": "np.sin(x2)"}

_TEMPLATE = '''"""A network trained in the neurona playground, rebuilt with neurona.

Config: {hash}

Run it next to {weights} and {data}:  python {script}
"""
import csv
import os

import numpy as np

import neurona as nr
from neurona import nn
from neurona.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_CLASSES = {k}          # 2: labels -1/+1; K > 2: labels 0..K-1; 0: regression
LOSS = "{loss}"            # square: 1/2 (o - t)^2; crossentropy
OUTPUT = "{out_act}"       # the output activation


def features(x1, x2):
    """The input features the network was trained on: {names}."""
    return np.stack([{feature_code}], axis=1).astype(np.float32)


# features -> logits z; the output is OUTPUT(z)
model = nn.Sequential(
{layers}
)
model.load_state_dict(nr.load(os.path.join(HERE, "{weights}")))


def read_points(part):
    with open(os.path.join(HERE, "{data}"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["part"] == part]
    x1 = np.array([float(r["x1"]) for r in rows])
    x2 = np.array([float(r["x2"]) for r in rows])
    y = np.array([float(r["label"]) for r in rows])
    return features(x1, x2), y


def loss(z, y):
    """The playground's loss of logits z (n, n_out) against labels y (n,)."""
    if LOSS == "crossentropy" and NUM_CLASSES > 2:
        return F.cross_entropy(z, nr.tensor(y.astype(np.int64)))
    if LOSS == "crossentropy":
        return F.binary_cross_entropy_with_logits(z, nr.tensor((y > 0).astype(np.float32)[:, None]))
    if NUM_CLASSES > 2:                                # K tanh outputs aiming at one-hot +-1
        t = np.full((len(y), NUM_CLASSES), -1.0, dtype=np.float32)
        t[np.arange(len(y)), y.astype(np.int64)] = 1.0
    else:
        t = y.astype(np.float32)[:, None]
    o = nr.tanh(z) if OUTPUT == "tanh" else z
    return ((o - nr.tensor(t)) ** 2).sum(dim=1).mean() * 0.5


if __name__ == "__main__":
    x, y = read_points("test")
    with nr.no_grad():
        z = model(nr.tensor(x))
    print(f"test loss: {{float(loss(z, y).item()):.6f}}")
'''


def export(pg) -> dict:
    """The script, the weights (safetensors bytes) and the data (CSV) of playground ``pg``."""
    from .config import to_hash
    net = pg.net
    lines = []
    for i, layer in enumerate(net.layers):
        lines.append(f"    nn.Linear({layer.in_features}, {layer.out_features}),")
        if i < len(net.layers) - 1:
            lines.append(f"    {_ACT[net.activation]},")
    state = {name: np.ascontiguousarray(t._data) for name, t in net.model.state_dict().items()}
    script = _TEMPLATE.format(
        hash=to_hash(pg.config), weights=WEIGHTS_NAME, data=DATA_NAME, script=SCRIPT_NAME,
        k=pg.num_classes, loss=pg.loss_kind, out_act=net.out_act,
        names=", ".join(pg.feature_names),
        feature_code=", ".join(_FEATURE_CODE[f] for f in pg.feature_names),
        layers="\n".join(lines))
    return {"script": script, "weights": safetensors.numpy.save(state),
            "data": to_csv(pg.X_train.reshape(-1, 2), pg.y_train,
                           pg.X_test.reshape(-1, 2), pg.y_test)}
