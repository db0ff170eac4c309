"""A feed-forward network on MNIST: 98% of handwritten digits right in about 20 seconds.

    python examples/03_mlp_mnist.py [--data-dir DIR] [--epochs 8] [--out DIR]

The network is 784-256-128-10 with ReLU units (``neurona.models.MLP``, an
``nn.Sequential`` inside), trained with backpropagation: cross-entropy loss, Adam with a
cosine learning-rate schedule, mini-batches of 128 from a ``DataLoader``, all through
``neurona.train.fit``.

The MNIST files (the four official ``*-ubyte`` files, gzipped or not) are looked for in
--data-dir, then $NEURONA_DATA, ./data and ../shared/data (each as DIR or DIR/mnist).
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
from neurona.models import MLP
from neurona.models.tasks import load_task
from neurona.train import fit
from neurona.utils.data import DataLoader, TensorDataset


def main(data_dir=None, epochs=8, out="examples-output", seed=0):
    root = find_data_dir(data_dir)
    try:
        task = load_task("mnist", data_dir=root)        # pixels scaled by the train mean/std
    except FileNotFoundError as e:
        sys.exit(f"MNIST not found: {e}")
    print(f"MNIST from {root}: {len(task.y_train)} training and {len(task.y_test)} test images")
    nr.manual_seed(seed)
    model = MLP(784, hidden=(256, 128), out_features=10)
    print(model)
    train = DataLoader(TensorDataset(nr.tensor(task.X_train), nr.tensor(task.y_train)),
                       batch_size=128, shuffle=True)
    test = DataLoader(TensorDataset(nr.tensor(task.X_test), nr.tensor(task.y_test)),
                      batch_size=1000)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = time.perf_counter()
    history = fit(model, train, epochs=epochs, loss_fn=model.loss_fn(), optimizer=optimizer,
                  scheduler=scheduler, val_loader=test, metrics=("accuracy",), seed=seed)
    for e in range(epochs):
        print(f"epoch {e + 1}: train loss {history['loss'][e]:.4f}  "
              f"train accuracy {history['accuracy'][e]:.2%}  "
              f"test accuracy {history['val_accuracy'][e]:.2%}")
    print(f"test accuracy {history['val_accuracy'][-1]:.2%} after {epochs} epochs "
          f"({time.perf_counter() - start:.0f} s)")
    print("wrote", viz.plot_history(history, os.path.join(out, "03_mnist_history.png")))
    print("wrote", viz.plot_confusion_matrix(task.y_test, model.predict(task.X_test),
                                             os.path.join(out, "03_mnist_confusion.png")))
    return history['val_accuracy'][-1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="folder holding the MNIST files (or mnist/)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="examples-output", help="folder for the plots")
    args = parser.parse_args()
    main(args.data_dir, args.epochs, args.out)
