"""LeNet-5 on MNIST: a convolutional network reads handwritten digits, 99% right.

    python examples/06_lenet5_mnist.py [--epochs 12] [--variant modern|classic]
                                       [--data-dir DIR] [--out DIR]

LeNet-5 (LeCun et al., 1998) in its modern form -- ReLU and max pooling -- with its 61,706
parameters (``neurona.models.LeNet5``; the module docstring has the layer-by-layer
table).  Compared with the MLP of 03_mlp_mnist.py (784-256-128-10: 235,146 parameters,
98% right), it has a quarter of the parameters and makes about half the mistakes: each
5x5 filter is slid over the whole image (weight sharing), so a stroke is recognised
wherever it is, and pooling makes small shifts matter less.

Training: Adam (lr 2e-3) with a cosine schedule, mini-batches of 128, cross-entropy; the
images are shifted at random by up to 2 pixels each step (data augmentation: a digit
moved a little is still the same digit).  The test accuracy after 12 epochs is printed
with the wall time.  Plots go to examples-output/: training curves, the 6 learned C1
filters, the feature maps of every convolution for one test digit, the confusion matrix
and the misclassified digits.

The MNIST files are looked for in --data-dir, then $NEURONA_DATA, ./data and
../shared/data (each as DIR or DIR/mnist).
"""
import argparse
import os
import sys
import time

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import neurona as nr
from neurona import optim, viz
from neurona.cli import find_data_dir
from neurona.models import LeNet5, save_checkpoint, summary
from neurona.models.tasks import load_task
from neurona.train import Callback, fit
from neurona.utils.data import DataLoader, TensorDataset
from neurona.vision import random_crop_batch


class Shifted:
    """The batches of ``loader``, each image moved by up to ``pixels`` in each direction
    (padded with the background, then cropped back to 28x28) -- for the whole batch at
    once."""

    def __init__(self, loader, pixels=2, background=0.0):
        self.loader, self.pixels, self.background = loader, pixels, background
        self.generator = loader.generator

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield random_crop_batch(x, 28, padding=self.pixels, fill=self.background,
                                    generator=self.generator), y


class PrintEpoch(Callback):
    """One line per epoch, as soon as it ends."""

    def __init__(self, start):
        self.start = start

    def on_epoch_end(self, state, logs):
        print(f"epoch {logs['epoch']:2d}: train loss {logs['loss']:.4f}  "
              f"train accuracy {logs['accuracy']:.2%}  "
              f"test accuracy {logs['val_accuracy']:.2%}   "
              f"({time.perf_counter() - self.start:.0f} s)", flush=True)


def main(data_dir=None, epochs=12, variant="modern", shift=2, out="examples-output", seed=0):
    root = find_data_dir(data_dir)
    try:
        task = load_task("mnist", data_dir=root)        # pixels scaled by the train mean/std
    except FileNotFoundError as e:
        sys.exit(f"MNIST not found: {e}")
    X_train, X_test = task.images(task.X_train), task.images(task.X_test)   # (N, 1, 28, 28)
    print(f"MNIST from {root}: {len(X_train)} training and {len(X_test)} test images")
    nr.manual_seed(seed)
    model = LeNet5(variant=variant)
    summary(model, (1, 28, 28))

    gen = nr.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(nr.tensor(X_train), nr.tensor(task.y_train)),
                       batch_size=128, shuffle=True, generator=gen)
    if shift:
        background = float((0 - task.mean[0]) / task.std[0])       # a black pixel, scaled
        train = Shifted(train, shift, background)
    test = DataLoader(TensorDataset(nr.tensor(X_test), nr.tensor(task.y_test)),
                      batch_size=1000)
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = time.perf_counter()
    history = fit(model, train, epochs=epochs, loss_fn=model.loss_fn(), optimizer=optimizer,
                  scheduler=scheduler, val_loader=test, metrics=("accuracy",), seed=seed,
                  progress=None, callbacks=[PrintEpoch(start)])
    seconds = time.perf_counter() - start
    acc = history["val_accuracy"][-1]
    steps = epochs * len(train)
    print(f"LeNet-5 ({variant}): test accuracy {acc:.2%} after {epochs} epochs, "
          f"{seconds:.0f} s wall time ({seconds / steps * 1e3:.1f} ms per step of 128, "
          f"validation included; {os.cpu_count()} CPU cores)")

    pred = model.predict(X_test)
    raw = task.images(task.X_test_raw)
    os.makedirs(out, exist_ok=True)
    for path in (
            viz.plot_history(history, os.path.join(out, "06_lenet5_history.png"),
                             title=f"LeNet-5 ({variant}) on MNIST"),
            viz.plot_filters(model, os.path.join(out, "06_lenet5_filters.png"),
                             title="the 6 learned 5x5 filters of C1"),
            viz.plot_feature_maps(model, X_test[0], os.path.join(out, "06_lenet5_maps.png"),
                                  image=raw[0]),
            viz.plot_confusion_matrix(task.y_test, pred,
                                      os.path.join(out, "06_lenet5_confusion.png")),
            viz.plot_misclassified(raw, task.y_test, pred,
                                   os.path.join(out, "06_lenet5_misclassified.png"),
                                   max_images=32),
            save_checkpoint(model, os.path.join(out, "06_lenet5.safetensors"),
                            dataset="mnist", mean=task.mean, std=task.std,
                            kind="classification", test={"accuracy": acc})):
        print("wrote", path)
    return acc, seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="folder holding the MNIST files (or mnist/)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--variant", choices=["modern", "classic"], default="modern",
                        help="modern: ReLU + max pooling; classic: tanh + average pooling")
    parser.add_argument("--shift", type=int, default=2,
                        help="random shifts by up to this many pixels (0: none)")
    parser.add_argument("--out", default="examples-output", help="folder for the plots")
    args = parser.parse_args()
    main(args.data_dir, args.epochs, args.variant, args.shift, args.out)
