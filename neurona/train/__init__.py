"""Training made short: ``fit``, ``evaluate``, ``predict``, metrics, callbacks, checkpoints.

    from neurona import nn, optim
    from neurona.train import fit, EarlyStopping, ModelCheckpoint

    history = fit(model, train_loader, epochs=20, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=optim.Adam(model.parameters(), lr=1e-3),
                  val_loader=val_loader, metrics=("accuracy", "f1"),
                  callbacks=[EarlyStopping(patience=3, restore_best_weights=True),
                             ModelCheckpoint("best.safetensors", save_best_only=True)],
                  seed=0)
    history["val_accuracy"]       # one number per epoch

Resume an interrupted run with ``fit(..., resume_from="last.safetensors")``.
"""
from . import metrics
from .callbacks import Callback, EarlyStopping, LRLogger, ModelCheckpoint
from .checkpoint import make_checkpoint, restore_checkpoint, save_checkpoint
from .history import History
from .loop import FitState, NonFiniteError, evaluate, fit, predict, seed_everything

__all__ = ["fit", "evaluate", "predict", "History", "Callback", "EarlyStopping",
           "ModelCheckpoint", "LRLogger", "FitState", "NonFiniteError", "metrics",
           "make_checkpoint", "save_checkpoint", "restore_checkpoint", "seed_everything"]
