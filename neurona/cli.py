"""The ``neurona`` command.

    neurona train MODEL --dataset NAME    train a model of the zoo; checkpoint, history, plots
    neurona train sentiment|nlm|char-lstm|pos-tagger|gradients   the language recipes
    neurona generate CHECKPOINT --prompt  continue a prompt with a language model
    neurona tag CHECKPOINT "sentence"     part-of-speech tags
    neurona evaluate CHECKPOINT           test a saved model on its dataset's test split
    neurona demo                          a one-minute tour of the first half of the course
    neurona datasets                      which datasets are available here, and where
    neurona playground [--port 8000]      the playground page, trained live (in the browser)

Each subcommand is one function ``cmd_<name>(args)`` plus a few lines in
:func:`build_parser` that declare its options.  To add a command, write the function
and register it there::

    p = sub.add_parser("train", help="train a model from the zoo")
    p.add_argument("model")
    p.set_defaults(func=cmd_train)

Errors a user can fix (an unknown name, a missing file, data that does not fit the
model) are printed as one ``neurona <command>: error: ...`` line with exit status 1;
set ``NEURONA_DEBUG=1`` to see the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

__all__ = ["main", "build_parser"]

# Training settings per model when the command line does not give them ...
DEFAULTS = {
    "linear-regression": dict(epochs=100, lr=0.05, batch_size=32, optimizer="sgd"),
    "logistic-regression": dict(epochs=100, lr=0.5, batch_size=32, optimizer="sgd"),
    "mlp": dict(epochs=30, lr=1e-3, batch_size=32, optimizer="adam", hidden="64",
                scheduler="cosine"),
    "perceptron": dict(epochs=100, lr=1.0, batch_size=None, optimizer="sgd"),
    # convolutional networks (images: mnist, fashion-mnist, cifar10, digits)
    "lenet5": dict(epochs=10, lr=2e-3, batch_size=128, optimizer="adam", scheduler="cosine"),
    "alexnet-cifar": dict(epochs=12, lr=0.1, batch_size=64, optimizer="sgd", momentum=0.9,
                          weight_decay=5e-4, scheduler="onecycle"),
    "alexnet": dict(epochs=30, lr=0.01, batch_size=64, optimizer="sgd", momentum=0.9),
}
CNN_MODELS = ("lenet5", "alexnet", "alexnet-cifar")
_PLAYGROUND_MLP = dict(epochs=200, lr=0.03, batch_size=10, hidden="16,16")
# ... and for some (model, dataset) pairs, on top of those.
OVERRIDES = {
    ("mlp", "mnist"): dict(epochs=8, batch_size=128, hidden="256,128"),
    ("mlp", "digits"): dict(hidden="256,128"),
    ("mlp", "diabetes"): dict(epochs=200, lr=0.01),
    ("logistic-regression", "mnist"): dict(epochs=5, lr=0.1, batch_size=128),
    ("lenet5", "digits"): dict(epochs=20, batch_size=32),
    ("lenet5", "cifar10"): dict(epochs=20),
    ("alexnet-cifar", "digits"): dict(epochs=20, batch_size=32),
    ("alexnet-cifar", "mnist"): dict(epochs=5, lr=0.05, weight_decay=5e-5),
    ("alexnet-cifar", "fashion-mnist"): dict(epochs=10, lr=0.05, weight_decay=5e-5),
    **{("mlp", d): _PLAYGROUND_MLP for d in ("circle", "xor", "gauss", "spiral", "plane",
                                             "multi-gauss")},
}
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
              "adagrad": "Adagrad"}


class CLIError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


# ----------------------------------------------------------------------------- train

def _settings(args) -> dict:
    """The training settings: command line, else the dataset's and model's defaults."""
    from .models import _canonical
    from .models.tasks import canonical_dataset
    model, dataset = _canonical(args.model), canonical_dataset(args.dataset)
    s = dict(DEFAULTS[model])
    s.update(OVERRIDES.get((model, dataset), {}))
    for key in ("epochs", "lr", "batch_size", "optimizer", "hidden", "scheduler", "momentum",
                "weight_decay", "variant", "augment"):
        value = getattr(args, key, None)
        if value is not None:
            s[key] = value
    s.update(model=model, dataset=dataset)
    return s


def _build_model(s: dict, task):
    """The model for this task, with the constructor arguments it is saved with."""
    from . import models
    name, n = s["model"], task.in_features
    if task.kind == "regression" and name in ("logistic-regression", "perceptron"):
        raise CLIError(f"{name} is a classifier, but {task.name} is a regression dataset "
                       f"(real-valued targets); try linear-regression or mlp")
    if task.kind == "classification" and name == "linear-regression":
        raise CLIError(f"linear-regression predicts numbers, but {task.name} is a "
                       f"classification dataset; try logistic-regression or mlp, or a "
                       f"regression dataset (diabetes, plane, multi-gauss)")
    if name in CNN_MODELS:
        return _build_cnn(s, task)
    if name == "perceptron" and task.num_classes != 2:
        raise CLIError(f"perceptron is a single neuron: it separates 2 classes, but "
                       f"{task.name} has {task.num_classes}; try logistic-regression or mlp")
    if name == "linear-regression":
        return models.get(name, in_features=n)
    if name == "logistic-regression":
        return models.get(name, in_features=n, num_classes=task.num_classes)
    if name == "perceptron":
        return models.get(name, in_features=n, activation=s.get("activation") or "step")
    try:
        hidden = tuple(int(h) for h in str(s["hidden"]).split(",") if h.strip())
    except ValueError:
        raise CLIError(f"--hidden takes sizes separated by commas, such as 256,128; "
                       f"got {s['hidden']!r}") from None
    return models.get(name, in_features=n, hidden=hidden,
                      out_features=task.num_classes if task.kind == "classification" else 1,
                      activation=s.get("activation") or ("tanh" if task.in_features == 2
                                                         else "relu"))


def _targets_for(model, y):
    """Labels as the model's loss wants them: floats 0./1. for one-output classifiers
    (BCEWithLogitsLoss), int64 class indices for CrossEntropyLoss, floats for regression."""
    import numpy as np
    if getattr(model, "name", "") == "logistic-regression" and model.num_classes == 2:
        return y.astype(np.float32)
    if getattr(model, "name", "") == "mlp" and model.out_features == 1:
        return y.astype(np.float32).reshape(-1, 1)
    return y


def _loader(X, y, batch_size, shuffle, seed=None):
    from . import Generator, tensor
    from .utils.data import DataLoader, TensorDataset
    generator = Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(TensorDataset(tensor(X), tensor(y)), batch_size=batch_size,
                      shuffle=shuffle, generator=generator)


def _make_optimizer(name: str, params, lr: float, momentum: float | None = None,
                    weight_decay: float | None = None):
    from . import optim
    key = str(name).lower()
    if key not in OPTIMIZERS or not hasattr(optim, OPTIMIZERS[key]):
        valid = [k for k, v in OPTIMIZERS.items() if hasattr(optim, v)]
        raise CLIError(f"unknown optimizer {name!r}; choose one of {', '.join(valid)}")
    kwargs = {}
    if momentum and key in ("sgd", "rmsprop"):
        kwargs["momentum"] = momentum
    if weight_decay:
        kwargs["weight_decay"] = weight_decay
    return getattr(optim, OPTIMIZERS[key])(params, lr=lr, **kwargs)


def _epoch_printer(epochs: int, every_epoch: bool = False):
    """A fit callback that prints one line per epoch (about ten lines in all, unless
    ``every_epoch``)."""
    from .train import Callback
    every = 1 if every_epoch else max(1, epochs // 10)

    class EpochPrinter(Callback):
        def on_epoch_end(self, state, logs):
            e = logs["epoch"]
            if e == 1 or e % every == 0 or e == epochs:
                parts = [f"{k} {v:.4f}" for k, v in logs.items()
                         if k not in ("epoch", "lr") and isinstance(v, float)]
                print(f"epoch {e:4d}   " + "   ".join(parts), flush=True)
    return EpochPrinter()


def _test_report(model, task, X, y) -> dict:
    """Metrics of ``model`` on (X, y): accuracy or MSE / R^2, plus the predictions."""
    import numpy as np
    pred = model.predict(X)
    if task.kind == "classification":
        return {"accuracy": float((pred == y).mean()), "predictions": pred}
    err = pred.astype(np.float64).reshape(-1) - y.astype(np.float64).reshape(-1)
    r2 = 1 - (err ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return {"mse": float((err ** 2).mean()), "r2": float(r2), "predictions": pred}


def _train_model(model, s, task, quiet: bool) -> dict:
    """Train with the perceptron rule, or with neurona.train.fit; return the history dict."""
    from .train import fit
    if model.name in CNN_MODELS:
        return _train_cnn(model, s, task, quiet)
    if model.name == "perceptron" and model.activation == "step":
        model.fit(task.X_train, task.y_train, epochs=s["epochs"], lr=s["lr"], seed=s["seed"],
                  progress=not quiet)
        errors = [float(e) for e in model.errors_]
        n = len(task.y_train)
        print(f"perceptron rule: {len(errors)} epoch(s), "
              f"{'converged (no mistakes)' if model.converged_ else 'did not converge'}; "
              f"mistakes in the last epoch: {int(errors[-1])} of {n}")
        return {"epoch": list(range(1, len(errors) + 1)), "mistakes": errors,
                "accuracy": [1 - e / n for e in errors]}
    y_train, y_test = _targets_for(model, task.y_train), _targets_for(model, task.y_test)
    batch = s["batch_size"] or len(task.X_train)
    train_loader = _loader(task.X_train, y_train, batch, shuffle=True, seed=s["seed"])
    val_loader = _loader(task.X_test, y_test, max(batch, 256), shuffle=False)
    optimizer = _make_optimizer(s["optimizer"], model.parameters(), s["lr"])
    scheduler = None
    if s.get("scheduler", "none") == "cosine":       # lr falls from lr to 0 along a half cosine
        from .optim.lr_scheduler import CosineAnnealingLR
        scheduler = CosineAnnealingLR(optimizer, T_max=s["epochs"])
    metrics = ("accuracy",) if task.kind == "classification" else ("r2",)
    history = fit(model, train_loader, epochs=s["epochs"], loss_fn=model.loss_fn(),
                  optimizer=optimizer, scheduler=scheduler, val_loader=val_loader,
                  metrics=metrics,
                  callbacks=[] if quiet else [_epoch_printer(s["epochs"])],
                  progress=None if not quiet else False, seed=s["seed"])
    return {k: list(v) for k, v in history.history.items()}


# ----------------------------------------------------------------------------- CNNs

def _build_cnn(s: dict, task):
    """LeNet-5 or the CIFAR AlexNet, shaped for the task's images."""
    from . import models
    name = s["model"]
    if task.image_shape is None:
        raise CLIError(f"{name} is a convolutional network: it reads images, but {task.name} "
                       f"is a table of features; try mnist, fashion-mnist, cifar10 or digits")
    if name == "alexnet":
        raise CLIError("alexnet is ImageNet's network (3x224x224 images, 1,000 classes, 61 "
                       "million parameters), too large for the datasets here; train "
                       "alexnet-cifar on cifar10 instead (neurona.models.AlexNet builds the "
                       "full one, e.g. to load torchvision's weights)")
    C, H, W = task.image_shape
    if name == "lenet5":
        return models.get(name, variant=s.get("variant") or "modern",
                          num_classes=task.num_classes, in_channels=C,
                          pad_input=(H, W) == (28, 28))
    return models.get(name, num_classes=task.num_classes, in_channels=C)


def _image_inputs(model, task, X, mean=None, std=None):
    """Flat rows of (scaled) pixels as the images ``model`` takes, ``(N, C, H, W)``.

    Images smaller than the model's input are enlarged: by repeating each pixel when the
    size divides the model's (8x8 digits -> 32x32: each pixel becomes a 4x4 block), else by
    padding with the value of a black pixel (28x28 -> 32x32)."""
    import numpy as np
    if getattr(model, "name", "") not in CNN_MODELS:
        return X
    images = task.images(X)
    C, H, W = model.input_shape
    if images.shape[1] != C:
        raise CLIError(f"{model.name} was built for {C}-channel images, but {task.name}'s "
                       f"have {images.shape[1]}")
    h, w = images.shape[2:]
    if (h, w) == (H, W):
        return images
    if H % h == 0 and W % w == 0 and H // h == W // w:
        k = H // h
        return np.ascontiguousarray(images.repeat(k, axis=2).repeat(k, axis=3))
    if H >= h and W >= w and (H - h) % 2 == 0 and (W - w) % 2 == 0:
        mean = task.mean if mean is None else mean
        std = task.std if std is None else std
        black = float((0 - np.ravel(mean)[0]) / np.ravel(std)[0])
        ph, pw = (H - h) // 2, (W - w) // 2
        return np.pad(images, [(0, 0), (0, 0), (ph, ph), (pw, pw)], constant_values=black)
    raise CLIError(f"{model.name} takes {H}x{W} images; {task.name}'s are {h}x{w}")


class _AugmentedBatches:
    """The batches of ``loader`` with each image shifted at random by up to ``padding``
    pixels (padded with ``fill``, then cropped back to size) and, with ``flip``, mirrored
    left-right half of the time -- AlexNet's data augmentation, done for a whole batch at
    once with NumPy indexing."""

    def __init__(self, loader, padding: int = 4, flip: bool = True, fill: float = 0.0):
        self.loader, self.padding, self.flip, self.fill = loader, padding, flip, fill
        self.generator = loader.generator          # fit(seed=...) seeds it

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        from .vision.transforms import random_crop_batch, random_flip_batch
        for x, y in self.loader:
            size = tuple(x.shape[-2:])
            x = random_crop_batch(x, size, padding=self.padding, fill=self.fill,
                                  generator=self.generator)
            if self.flip:
                x = random_flip_batch(x, generator=self.generator)
            yield x, y


def _default_augment(s: dict) -> bool:
    """Random shifts (and flips, for colour photos) for cifar10, mnist and fashion-mnist;
    not for the 8x8 digits, where a shift by one pixel is an eighth of the image."""
    return s["dataset"] in ("cifar10", "mnist", "fashion-mnist")


def _augmentation(task) -> dict:
    """Colour photos: shifts by up to 4 pixels (filled with the mean, 0 after scaling) and
    left-right flips.  Grey digits and clothes: shifts by up to 2 pixels, filled with
    black, and no flips (a mirrored 2 or 7 is no longer the same digit)."""
    if task.image_shape[0] == 3:
        return dict(padding=4, flip=True, fill=0.0)
    import numpy as np
    black = float((0 - np.ravel(task.mean)[0]) / np.ravel(task.std)[0])
    return dict(padding=2, flip=False, fill=black)


def _train_cnn(model, s, task, quiet: bool) -> dict:
    """Train a CNN with neurona.train.fit on the task's images."""
    from .train import fit
    X_train = _image_inputs(model, task, task.X_train)
    X_test = _image_inputs(model, task, task.X_test)
    batch = s["batch_size"] or 64
    train_loader = _loader(X_train, task.y_train, batch, shuffle=True, seed=s["seed"])
    if s.get("augment"):
        train_loader = _AugmentedBatches(train_loader, **_augmentation(task))
    val_loader = _loader(X_test, task.y_test, 500, shuffle=False)
    optimizer = _make_optimizer(s["optimizer"], model.parameters(), s["lr"],
                                s.get("momentum"), s.get("weight_decay"))
    scheduler = _make_scheduler(s, optimizer, len(train_loader))
    history = fit(model, train_loader, epochs=s["epochs"], loss_fn=model.loss_fn(),
                  optimizer=optimizer, scheduler=scheduler, val_loader=val_loader,
                  metrics=("accuracy",),
                  callbacks=[] if quiet else [_epoch_printer(s["epochs"], every_epoch=True)],
                  progress=None if not quiet else False, seed=s["seed"])
    return {k: list(v) for k, v in history.history.items()}


def _make_scheduler(s: dict, optimizer, steps_per_epoch: int):
    """'cosine': lr from lr to 0 along a half cosine, per epoch; 'onecycle': up to lr over
    the first 30% of the steps, then down to almost 0, per batch; 'none'."""
    kind = s.get("scheduler") or "none"
    if kind == "cosine":
        from .optim.lr_scheduler import CosineAnnealingLR
        return CosineAnnealingLR(optimizer, T_max=s["epochs"])
    if kind == "onecycle":
        from .optim.lr_scheduler import OneCycleLR
        return OneCycleLR(optimizer, max_lr=s["lr"], total_steps=s["epochs"] * steps_per_epoch)
    return None


def _cnn_plots(out: str, model, task, X_test_images, predictions) -> list[str]:
    """A CNN's own plots: first-layer filters, feature maps of one test image, mistakes."""
    from . import viz
    raw = task.images(task.X_test_raw) if task.X_test_raw is not None else X_test_images
    names = task.class_names if len(task.class_names) == task.num_classes else None
    first = model.conv_layers()[0][1]
    return [viz.plot_filters(first, os.path.join(out, "filters.png"),
                             title=f"{model.name}: the {first.out_channels} first-layer "
                                   f"filters, learned on {task.name}"),
            viz.plot_feature_maps(model, X_test_images[0], os.path.join(out, "feature_maps.png"),
                                  image=raw[0]),
            viz.plot_misclassified(raw, task.y_test, predictions,
                                   os.path.join(out, "misclassified.png"), class_names=names)]


class _ScaledModel:
    """``predict`` on raw (unscaled) points: for drawing decision boundaries in the data's
    own coordinates."""

    def __init__(self, model, mean, std):
        self.model, self.mean, self.std = model, mean, std

    def predict(self, X):
        from .models.tasks import apply_scaling
        return self.model.predict(apply_scaling(X, self.mean, self.std))


def _plots(out: str, model, task, history: dict, predictions) -> list[str]:
    """The PNGs for a finished run: training curves, confusion matrix, decision boundary."""
    from . import viz
    written = [viz.plot_history(history, os.path.join(out, "history.png"),
                                title=f"{model.name} on {task.name}")]
    if task.kind == "classification":
        names = task.class_names if len(task.class_names) == task.num_classes else None
        written.append(viz.plot_confusion_matrix(task.y_test, predictions,
                                                 os.path.join(out, "confusion_matrix.png"),
                                                 labels=names))
        if task.in_features == 2 and task.X_test_raw is not None:
            import numpy as np
            X = np.concatenate([task.X_train_raw, task.X_test_raw])
            y = np.concatenate([task.y_train, task.y_test])
            written.append(viz.plot_decision_boundary(
                _ScaledModel(model, task.mean, task.std), X, y,
                os.path.join(out, "decision_boundary.png"),
                title=f"{model.name} on {task.name}"))
    return written


def cmd_train(args) -> int:
    """Train MODEL on --dataset; write the checkpoint, the history and the plots to --out."""
    from . import manual_seed
    from .models import save_checkpoint
    from .models.tasks import load_task
    from .cli_text import RECIPES, TEXT_MODELS, cmd_train_text
    if args.model in RECIPES:
        return cmd_train_text(args)
    if args.model in TEXT_MODELS:
        how = TEXT_MODELS[args.model]
        raise CLIError(how.removeprefix("... no: ") if how.startswith("... no: ") else
                       f"{args.model} reads text: train it with neurona train {how}")
    for option in ("arch", "max_steps", "max_minutes"):
        if getattr(args, option) is not None:
            raise CLIError(f"--{option.replace('_', '-')} is for the language recipes "
                           f"({', '.join(RECIPES)}), not for {args.model}")
    if args.dataset is None:
        raise CLIError(f"{args.model}: give the data with --dataset NAME")
    s = _settings(args)
    s["seed"] = args.seed
    if s["optimizer"] is not None and str(s["optimizer"]).lower() not in OPTIMIZERS:
        raise CLIError(f"unknown optimizer {s['optimizer']!r}; choose one of "
                       f"{', '.join(OPTIMIZERS)}")
    task = load_task(s["dataset"], seed=args.seed, data_dir=args.data_dir)
    s["activation"] = args.activation
    cnn = s["model"] in CNN_MODELS
    if cnn and s.get("augment") is None:
        s["augment"] = _default_augment(s)
    manual_seed(args.seed)
    model = _build_model(s, task)
    out = args.out or os.path.join("neurona-runs", f"{s['model']}-{s['dataset']}")
    os.makedirs(out, exist_ok=True)
    how = ("the perceptron rule" if s["model"] == "perceptron" and model.activation == "step"
           else f"{s['optimizer']} lr={s['lr']}"
                + (f" momentum {s['momentum']}" if s.get("momentum")
                   and s["optimizer"] in ("sgd", "rmsprop") else "")
                + (f" weight decay {s['weight_decay']}" if s.get("weight_decay") else "")
                + (f" ({s['scheduler']} schedule)" if s.get("scheduler") in
                   ("cosine", "onecycle") else "")
                + f", batch {s['batch_size'] or 'all'}"
                + (f", augmentation: random shifts by up to {_augmentation(task)['padding']} "
                   f"pixels" + (" and flips" if task.image_shape[0] == 3 else "")
                   if cnn and s["augment"] else ""))
    what = (f"images {'x'.join(map(str, task.image_shape))}" if cnn
            else f"{task.in_features} features")
    print(f"{s['model']} on {task.name}: {len(task.X_train)} training and "
          f"{len(task.X_test)} test examples, {what}"
          f"{f', {task.num_classes} classes' if task.num_classes else ''}; "
          f"{how}, {s['epochs']} epochs, seed {args.seed}")
    if cnn and not args.quiet:
        from .models import summary as layer_table
        layer_table(model, model.input_shape)
    start = time.perf_counter()
    history = _train_model(model, s, task, args.quiet)
    seconds = time.perf_counter() - start
    X_test = _image_inputs(model, task, task.X_test)
    report = _test_report(model, task, X_test, task.y_test)
    summary = "   ".join(f"test {k} {v:.4f}" for k, v in report.items() if k != "predictions")
    print(f"done in {seconds:.1f} s:   {summary}")

    ckpt = save_checkpoint(model, os.path.join(out, "model.safetensors"),
                           dataset=task.name, seed=args.seed, kind=task.kind,
                           mean=task.mean, std=task.std,
                           settings={k: v for k, v in s.items() if k != "dataset"},
                           test={k: v for k, v in report.items() if k != "predictions"})
    hist_path = os.path.join(out, "history.json")
    with open(hist_path, "w") as f:
        json.dump(history, f, indent=1)
    print(f"wrote {ckpt}\nwrote {hist_path}")
    if not args.no_plots:
        try:
            written = _plots(out, model, task, history, report["predictions"])
            if cnn:
                written += _cnn_plots(out, model, task, X_test, report["predictions"])
            for path in written:
                print(f"wrote {path}")
        except ImportError as e:
            print(f"(no plots: {e})")
    print(f"evaluate it again with:  neurona evaluate {ckpt}")
    return 0


# ----------------------------------------------------------------------------- evaluate

def cmd_evaluate(args) -> int:
    """Load CHECKPOINT (model name, arguments, weights, scaling) and test it."""
    import numpy as np
    from .models import load_checkpoint
    from .models.tasks import apply_scaling, canonical_dataset, load_task
    from .train import evaluate
    model, extra = load_checkpoint(args.checkpoint)
    dataset = canonical_dataset(args.dataset or extra.get("dataset") or "")
    print(f"{args.checkpoint}: {model.name} {model.get_config()}, trained on "
          f"{extra.get('dataset', '?')}")
    task = load_task(dataset, seed=int(extra.get("seed", 0)), data_dir=args.data_dir)
    if task.kind != extra.get("kind", task.kind):
        raise CLIError(f"the model was trained for {extra.get('kind')}, but {dataset} is a "
                       f"{task.kind} dataset")
    X, mean, std = task.X_test_raw, extra.get("mean"), extra.get("std")
    if mean is None:
        X = task.X_test
    elif np.size(mean) in (1, X.shape[1]):       # the training set's statistics
        X = apply_scaling(X, np.asarray(mean), np.asarray(std))
    # (data of another width goes to the model unscaled: its first layer reports it)
    if getattr(model, "name", "") in CNN_MODELS:
        if task.image_shape is None:
            raise CLIError(f"{model.name} reads images, but {dataset} is a table of features")
        X = _image_inputs(model, task, X, mean, std)
    y = _targets_for(model, task.y_test)
    loss_fn = model.loss_fn() if getattr(model, "activation", "") != "step" else None
    try:
        results = evaluate(model, _loader(X, y, 512, shuffle=False), loss_fn, metrics=())
    except (RuntimeError, IndexError, ValueError) as e:
        raise CLIError(f"{dataset} does not fit this model (trained on "
                       f"{extra.get('dataset', '?')}): {e}") from None
    report = {**results, **_test_report(model, task, X, task.y_test)}
    summary = "   ".join(f"{k} {v:.4f}" for k, v in report.items() if k != "predictions")
    print(f"{dataset} test split ({len(X)} examples):   {summary}")
    if task.kind == "classification" and task.num_classes <= 12:
        from .viz import confusion_matrix
        cm = confusion_matrix(task.y_test, report["predictions"], task.num_classes)
        print("confusion matrix (rows: true class, columns: predicted):")
        for row in cm:
            print("   " + " ".join(f"{v:5d}" for v in row))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "evaluation.json")
        with open(path, "w") as f:
            json.dump({"checkpoint": args.checkpoint, "dataset": dataset,
                       **{k: v for k, v in report.items() if k != "predictions"}}, f, indent=1)
        print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------- datasets

def cmd_datasets(args) -> int:
    """List the datasets and where each one is (or why it is not there)."""
    from .datasets import available
    from .models.tasks import dataset_names
    print("datasets for  neurona train MODEL --dataset NAME:\n")
    found = {}                  # name -> the first entry that is ready (else the first seen)
    for root in _data_dirs(args.data_dir):
        for d in available(root):
            name = d["name"].replace("_", "-")
            if name not in found or (d["ready"] and not found[name]["ready"]):
                found[name] = d
    rows = [(name, d["kind"], d["ready"], d["task"], d["location"]) for name, d in found.items()]
    usable = set(dataset_names())
    for name, kind, ready, task, where in rows:
        mark = "yes" if ready else "no "
        note = "" if name in usable else "   (library only)"
        if name == "cifar10-jpg":
            note = "   (--dataset cifar10 trains on it when cifar10's batches are missing)"
        print(f"  {name:14s} {mark}  {kind:9s} {task:14s} {where}{note}")
    print("\nDataset files (mnist/, fashion-mnist/, cifar10-jpg/...) are looked for in "
          "--data-dir, $NEURONA_DATA, ./data and ../shared/data.")
    return 0


def _data_dirs(data_dir=None) -> list:
    """Where to look for dataset files, first match first (see
    :func:`neurona.datasets._files.data_search_path`)."""
    from .datasets._files import data_search_path
    return [str(d) for d in data_search_path(data_dir or None)]


def find_data_dir(data_dir=None, dataset: str = "mnist"):
    """The first folder of :func:`_data_dirs` where ``dataset``'s files are (None if none;
    mnist's for datasets that have no files)."""
    from pathlib import Path
    from .datasets import CIFAR10, MNIST, FashionMNIST, find_cifar10_jpg
    key = str(dataset).strip().lower().replace("_", "-")
    found = {"fashion-mnist": lambda r: FashionMNIST.find_folder(Path(r), True),
             "cifar10": lambda r: (CIFAR10.find_folder(Path(r), True)
                                   or find_cifar10_jpg(r, True))}.get(
        key, lambda r: MNIST.find_folder(Path(r), True))
    for root in _data_dirs(data_dir):
        if found(root) is not None:
            return root
    return data_dir


# ----------------------------------------------------------------------------- demo

def cmd_demo(args) -> int:
    """The course tour (see neurona.demo)."""
    from . import demo
    options = {"epochs": args.epochs, "seed": args.seed, "out": args.out}
    demo.main(**{k: v for k, v in options.items() if v is not None})
    return 0


# ----------------------------------------------------------------------------- playground

def _listening_socket(host: str, port: int):
    """A socket bound to (host, port), or a CLIError saying why it cannot be."""
    import socket
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise CLIError(f"cannot use host {host!r}: {e}; try --host 127.0.0.1") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise CLIError(f"cannot listen on {host}:{port} ({e.strerror}); the port is probably "
                       f"in use: pick another with --port, or --port 0 for any free one"
                       ) from None
    return sock


def cmd_playground(args) -> int:
    """Serve the playground page (neurona.playground) until Ctrl+C."""
    try:
        import uvicorn
        from .playground.server import create_app
    except ImportError as e:
        raise CLIError(f"the playground needs starlette and uvicorn ({e}); install them with "
                       f"pip install 'neurona[playground]'") from None
    sock = _listening_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    print(f"neurona playground: {url}", flush=True)
    if host not in ("127.0.0.1", "::1"):
        print(f"warning: listening on {host}, so other machines on the network can open the "
              f"playground too", flush=True)
    print("press Ctrl+C to stop", flush=True)
    if not args.no_browser:
        import threading
        import webbrowser
        threading.Timer(0.5, webbrowser.open, [url]).start()
    # No WebSocket compression: on this machine bytes are cheap, and deflating ~0.5-3 MB
    # of heatmaps per frame costs more CPU than the training (measured: 9 -> 16 frames/s
    # with a 6 x 8 network).
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning",
                                           ws_per_message_deflate=False))
    server.run(sockets=[sock])
    return 0


# ----------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .models import available as model_names
    from .models.tasks import dataset_names
    from .cli_text import RECIPES, add_commands as add_text_commands
    parser = argparse.ArgumentParser(
        prog="neurona",
        description="neurona: a readable deep-learning library with PyTorch's API, on NumPy.")
    parser.add_argument("--version", action="version", version=f"neurona {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "train", help="train a model of the course on a dataset",
        description="Train MODEL on --dataset and write model.safetensors, history.json and "
                    "plots (training curves, confusion matrix, decision boundary of 2-D "
                    "data; for the CNNs lenet5 and alexnet-cifar also the first layer's "
                    "filters, feature maps and misclassified images) to --out.",
        epilog=f"models: {', '.join(model_names())}.  datasets: {', '.join(dataset_names())}.  "
               f"Language recipes (each with its own dataset and defaults): "
               f"{', '.join(RECIPES)}.")
    p.add_argument("model", help=f"one of: {', '.join(model_names())}; or a language "
                                 f"recipe: {', '.join(RECIPES)}")
    p.add_argument("--dataset", metavar="NAME",
                   help=f"one of: {', '.join(dataset_names())} (the language recipes have "
                        f"their own: rt-polarity, ptb, tiny-shakespeare, ud-english-ewt)")
    p.add_argument("--arch", help="sentiment: mean (pooled embeddings) or bilstm; nlm: "
                                  "bengio or lstm; gradients: rnn, lstm or gru")
    p.add_argument("--max-steps", type=int, dest="max_steps",
                   help="language recipes: stop after this many optimizer steps")
    p.add_argument("--max-minutes", type=float, dest="max_minutes",
                   help="language recipes: stop training after this many minutes")
    p.add_argument("--epochs", type=int, help="passes over the training data")
    p.add_argument("--lr", type=float, help="learning rate (step size)")
    p.add_argument("--batch-size", type=int, dest="batch_size", help="examples per step")
    p.add_argument("--optimizer", help=f"one of: {', '.join(OPTIMIZERS)}")
    p.add_argument("--scheduler", choices=["none", "cosine", "onecycle"],
                   help="learning-rate schedule (default: cosine for mlp and lenet5, "
                        "onecycle for alexnet-cifar, none otherwise)")
    p.add_argument("--momentum", type=float, help="sgd/rmsprop momentum (default 0.9 for "
                                                  "alexnet-cifar, none otherwise)")
    p.add_argument("--weight-decay", type=float, dest="weight_decay",
                   help="L2 penalty on the weights (default 5e-4 for alexnet-cifar)")
    p.add_argument("--variant", choices=["modern", "classic"],
                   help="lenet5: modern (ReLU, max pooling; default) or classic (tanh, "
                        "average pooling)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="CNNs: random shifts by a few pixels (and left-right flips of "
                        "colour images) while training (default: on for cifar10, mnist and "
                        "fashion-mnist)")
    p.add_argument("--hidden", help="mlp: hidden sizes, e.g. 256,128")
    p.add_argument("--activation", help="mlp: relu, tanh or sigmoid; perceptron: step or "
                                        "sigmoid")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="output folder (default neurona-runs/MODEL-DATASET)")
    p.add_argument("--data-dir", dest="data_dir",
                   help="folder holding dataset files such as mnist/ (default: "
                        "$NEURONA_DATA, ./data, ../shared/data)")
    p.add_argument("--no-plots", action="store_true", dest="no_plots", help="skip the PNGs")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test a checkpoint written by `neurona train`",
                       description="Rebuild the model stored in CHECKPOINT and report its "
                                   "accuracy (or MSE and R^2) on a dataset's test split.")
    p.add_argument("checkpoint", help="a model.safetensors written by neurona train")
    p.add_argument("--dataset", metavar="NAME",
                   help="default: the dataset the model was trained on")
    p.add_argument("--data-dir", dest="data_dir", help="folder holding dataset files")
    p.add_argument("--out", help="also write evaluation.json here")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="a one-minute tour: linear and logistic regression, an "
                                    "MLP, a network by hand (no downloads)",
                       description="Train the first half of the course's models on real "
                                   "data bundled with scikit-learn and write plots.")
    p.add_argument("--epochs", type=int, help="epochs of the hand-written spiral network "
                                              "(default 300)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--out", help="folder for the plots (default ./neurona-demo-output)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("datasets", help="list the datasets and where they are",
                       description="What `neurona train --dataset` can use on this machine.")
    p.add_argument("--data-dir", dest="data_dir", help="folder holding dataset files")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("playground", help="the TensorFlow-Playground-style page, trained live "
                                          "by neurona, in your browser",
                       description="Start a local web server for the playground page and "
                                   "open it in the browser (pip install "
                                   "'neurona[playground]' first).")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0: any "
                                                          "free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--no-browser", action="store_true", dest="no_browser",
                   help="only print the URL; do not open a browser")
    p.set_defaults(func=cmd_playground)

    add_text_commands(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from .cli_text import RECIPES
    if getattr(args, "data_dir", None) is None and hasattr(args, "data_dir") \
            and getattr(args, "model", None) not in RECIPES:
        args.data_dir = find_data_dir(None, getattr(args, "dataset", None) or "mnist")
    try:
        return args.func(args) or 0
    except (CLIError, ValueError, TypeError, KeyError, FileNotFoundError, ImportError,
            FloatingPointError, RuntimeError, IndexError) as e:
        if os.environ.get("NEURONA_DEBUG"):
            raise
        sys.stdout.flush()
        command = args.func.__name__.removeprefix("cmd_")
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"neurona {command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
