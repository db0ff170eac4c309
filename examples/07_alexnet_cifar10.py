"""AlexNet's recipe on CIFAR-10: a deeper CNN, ReLU, dropout and data augmentation.

    python examples/07_alexnet_cifar10.py [--minutes 12 | --epochs N] [--data-dir DIR]
                                          [--out DIR]

AlexNet (2012) won ImageNet with five convolutional layers and three fully-connected ones,
ReLU units, dropout and data augmentation (random crops and mirror images).
``neurona.models.AlexNet`` is that network, exactly as torchvision has it (61 million
parameters, 3x224x224 inputs); this script trains ``AlexNetCIFAR``, the same design sized
for CIFAR-10's 32x32 colour images (1.5 million parameters, batch normalisation after
each convolution) on a laptop's CPU.

Data: the shared JPEG copy of CIFAR-10 -- 1,000 training images per class (10,000 in
all; the full set has 5,000 per class) and the full 10,000-image test set.  With so few
images, augmentation matters: every batch is shifted at random by up to 4 pixels
(padded, then cropped back to 32x32) and half of it is mirrored left-right, so that the
network rarely sees the same picture twice.  It is done for the whole batch at once
(``neurona.vision.random_crop_batch`` / ``random_flip_batch``: NumPy indexing, no
per-image Python loop).

Training: SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 64, and the one-cycle
learning-rate schedule (up to 0.1 over the first 30% of the steps, then down to almost
0).  The run is bounded: by default the number of epochs is chosen from the measured
speed so that training ends within --minutes (12); --epochs N fixes it instead.  The
test accuracy and the wall time are printed; plots go to examples-output/.
"""
import argparse
import math
import os
import sys
import time

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np

import neurona as nr
from neurona import optim, viz
from neurona.cli import find_data_dir
from neurona.models import AlexNetCIFAR, save_checkpoint, summary
from neurona.models.tasks import load_task
from neurona.train import Callback, fit
from neurona.utils.data import DataLoader, TensorDataset
from neurona.vision import random_crop_batch, random_flip_batch


class Augmented:
    """The batches of ``loader``, each image shifted by up to 4 pixels and mirrored
    left-right with probability 1/2 -- one NumPy indexing operation per batch."""

    def __init__(self, loader):
        self.loader = loader
        self.generator = loader.generator          # fit(seed=...) seeds it

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            x = random_crop_batch(x, 32, padding=4, generator=self.generator)
            x = random_flip_batch(x, generator=self.generator)
            yield x, y


def seconds_per_epoch(X, y, batch_size, n_test) -> float:
    """A training epoch's duration, from a few timed steps of a throwaway model (plus the
    evaluation of the test set: a forward pass is about a third of a training step)."""
    model = AlexNetCIFAR()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = model.loss_fn()
    xb, yb = nr.tensor(X[:batch_size]), nr.tensor(y[:batch_size])
    times = []
    for i in range(5):
        t = time.perf_counter()
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    step = float(np.median(times[1:]))
    steps = math.ceil(len(X) / batch_size)
    return step * (steps + 0.4 * n_test / batch_size)


class PrintEpoch(Callback):
    """One line per epoch, as soon as it ends."""

    def __init__(self, start):
        self.start = start

    def on_epoch_end(self, state, logs):
        print(f"epoch {logs['epoch']:2d}: train loss {logs['loss']:.4f}  "
              f"train accuracy {logs['accuracy']:.2%}  "
              f"test accuracy {logs['val_accuracy']:.2%}   "
              f"({time.perf_counter() - self.start:.0f} s)", flush=True)


def main(data_dir=None, epochs=None, minutes=12.0, out="examples-output", seed=0,
         batch_size=64, lr=0.1):
    root = find_data_dir(data_dir, "cifar10")
    t0 = time.perf_counter()
    try:
        task = load_task("cifar10", data_dir=root)      # per-channel mean/std scaling
    except FileNotFoundError as e:
        sys.exit(f"CIFAR-10 (JPEG copy) not found: {e}")
    X_train, X_test = task.images(task.X_train), task.images(task.X_test)   # (N, 3, 32, 32)
    print(f"CIFAR-10 (JPEG copy) from {root}: {len(X_train)} training and {len(X_test)} "
          f"test images, decoded in {time.perf_counter() - t0:.1f} s")
    if epochs is None:
        per_epoch = seconds_per_epoch(X_train, task.y_train, batch_size, len(X_test))
        epochs = max(2, min(60, int(minutes * 60 / per_epoch)))
        print(f"about {per_epoch:.0f} s per epoch here: {epochs} epochs fit in {minutes:g} "
              f"minutes")
    nr.manual_seed(seed)
    model = AlexNetCIFAR()
    summary(model, (3, 32, 32))

    gen = nr.Generator().manual_seed(seed)
    train = Augmented(DataLoader(TensorDataset(nr.tensor(X_train), nr.tensor(task.y_train)),
                                 batch_size=batch_size, shuffle=True, generator=gen))
    test = DataLoader(TensorDataset(nr.tensor(X_test), nr.tensor(task.y_test)),
                      batch_size=500)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr,
                                              total_steps=epochs * len(train))
    start = time.perf_counter()
    history = fit(model, train, epochs=epochs, loss_fn=model.loss_fn(), optimizer=optimizer,
                  scheduler=scheduler, val_loader=test, metrics=("accuracy",), seed=seed,
                  progress=None, callbacks=[PrintEpoch(start)])
    seconds = time.perf_counter() - start
    acc = history["val_accuracy"][-1]
    print(f"AlexNetCIFAR: test accuracy {acc:.2%} after {epochs} epochs on 10,000 images, "
          f"{seconds / 60:.1f} minutes wall time ({seconds / (epochs * len(train)) * 1e3:.0f} "
          f"ms per step of {batch_size}, validation included; {os.cpu_count()} CPU cores)")

    pred = model.predict(X_test)
    raw = task.images(task.X_test_raw)
    names = task.class_names
    per_class = [(pred[task.y_test == c] == c).mean() for c in range(10)]
    print("per class: " + ", ".join(f"{n} {a:.0%}" for n, a in zip(names, per_class)))
    os.makedirs(out, exist_ok=True)
    for path in (
            viz.plot_history(history, os.path.join(out, "07_alexnet_history.png"),
                             title="AlexNetCIFAR on CIFAR-10 (10k training images)"),
            viz.plot_filters(model, os.path.join(out, "07_alexnet_filters.png"),
                             title="the 48 learned 5x5 colour filters of c1"),
            viz.plot_feature_maps(model, X_test[0], os.path.join(out, "07_alexnet_maps.png"),
                                  image=raw[0]),
            viz.plot_confusion_matrix(task.y_test, pred,
                                      os.path.join(out, "07_alexnet_confusion.png"),
                                      labels=names),
            viz.plot_misclassified(raw, task.y_test, pred,
                                   os.path.join(out, "07_alexnet_misclassified.png"),
                                   class_names=names, max_images=32),
            save_checkpoint(model, os.path.join(out, "07_alexnet_cifar.safetensors"),
                            dataset="cifar10", mean=task.mean, std=task.std,
                            kind="classification", test={"accuracy": acc})):
        print("wrote", path)
    return acc, seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="folder holding cifar10-jpg/ (or the zip files)")
    parser.add_argument("--epochs", type=int, help="default: as many as fit in --minutes")
    parser.add_argument("--minutes", type=float, default=12.0,
                        help="time budget for training when --epochs is not given")
    parser.add_argument("--out", default="examples-output", help="folder for the plots")
    args = parser.parse_args()
    main(args.data_dir, args.epochs, args.minutes, args.out)
