"""The neurona playground: a TensorFlow-Playground-style web page, trained live by neurona.

Run ``neurona playground`` and open the printed address: pick a data set (circle, xor,
gauss, spiral, the two regressions, or your own CSV), the input features, the layers and
the training settings, press play, and watch a small network learn -- every epoch is
computed by neurona on your machine, so what you see is the library you are learning.

How the parts fit (data flows top to bottom)::

    static/ index.html, playground.css, playground.js   the page (plain JS, no CDN): draws
         |   JSON + WebSocket                           the heatmaps, network and charts;
    server.py, sessions.py                              one Playground per browser tab,
         |   Python calls                               a Starlette app served by uvicorn
    engine.py    Playground                             config, data, training, metrics, grid
      config.py    the URL-hash vocabulary and its checks
      datasets.py  the original's generators (seeded) and CSV upload
      features.py  x1, x2 -> x, y, x², y², xy, sin x, sin y
      network.py   nn.Linear layers + activation; forward / backprop of a batch
      update.py    SGD / momentum / Adam, L1 (dead links) / L2 -- the original's rule
      metrics.py   losses, accuracy, confusion, R², RMSE
      export.py    the trained net as a runnable neurona script + safetensors + CSV

The engine can be used without the page::

    from neurona.playground import Playground
    pg = Playground({"dataset": "xor", "xTimesY": True, "seed": "7"})
    print(pg.step(200)["loss_test"])
"""
from .engine import Playground  # noqa: F401

__all__ = ["Playground"]
