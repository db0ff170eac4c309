"""The convolutional networks of the zoo: LeNet-5, AlexNet (torchvision's), AlexNetCIFAR;
``summary``; the CNN plots; ``neurona train lenet5 / alexnet-cifar``; and short training
runs on the real data (MNIST, the CIFAR-10 JPEG copy) that must pass a modest bar.

The real-data tests FAIL (never skip) when the shared data folder is missing: set
NEURONA_TEST_MNIST / NEURONA_TEST_DATA to the folder that holds mnist/ and cifar10-jpg/.
"""
import gzip
import os
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import neurona as nr
from neurona import models, nn, optim
from neurona.cli import _image_inputs, main
from neurona.models import AlexNet, AlexNetCIFAR, LeNet5, count_parameters, summary
from neurona.models.summary import layer_table
from neurona.train import fit
from neurona.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("NEURONA_TEST_DATA",
                           os.environ.get("NEURONA_TEST_MNIST", ROOT.parent / "shared" / "data")))


def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


# ----------------------------------------------------------------------------- counts

def test_lenet5_parameter_count_is_61706_in_both_variants():
    for variant in ("modern", "classic"):
        model = LeNet5(variant)
        assert count_parameters(model) == 61_706 == models.lenet.LENET5_PARAMETERS
        text = summary(model, (1, 28, 28), print_fn=None)
        assert "Total params: 61,706" in text
        assert "Trainable params: 61,706" in text and "Non-trainable params: 0" in text
    # layer by layer, as the module docstring's table says
    rows = {r.name: r for r in layer_table(LeNet5(), (1, 28, 28))}
    expected = {"features.c1": (156, (1, 6, 28, 28)), "features.s2": (0, (1, 6, 14, 14)),
                "features.c3": (2416, (1, 16, 10, 10)), "features.s4": (0, (1, 16, 5, 5)),
                "features.c5": (48120, (1, 120, 1, 1)), "classifier.f6": (10164, (1, 84)),
                "classifier.output": (850, (1, 10))}
    for name, (params, shape) in expected.items():
        assert (rows[name].params, rows[name].output_shape) == (params, shape), name


def test_alexnet_parameter_count_matches_torchvision():
    model = AlexNet()
    assert count_parameters(model) == 61_100_840
    text = summary(model, (3, 224, 224), print_fn=None)
    assert "Total params: 61,100,840" in text
    assert "(N, 64, 55, 55)" in text and "(N, 256, 6, 6)" in text and "(N, 9216)" in text
    assert "classifier.1 (Linear)" in text and "37,752,832" in text


def test_summary_prints_returns_and_leaves_the_model_as_it_was(capsys):
    model = AlexNetCIFAR()
    model.train()
    bn = model.features.bn1
    before = bn.running_mean.numpy().copy()
    text = summary(model, (3, 32, 32))
    assert capsys.readouterr().out.strip() == text.strip()
    assert model.training                                   # mode restored
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)   # stats untouched
    assert all(not m._forward_hooks for m in model.modules())        # hooks removed
    assert "Buffers" in text and "BatchNorm2d" in text
    n = count_parameters(model)
    assert f"Total params: {n:,}" in text


def test_summary_counts_frozen_and_shared_parameters():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    model[3].weight.requires_grad_(False)
    text = summary(model, (4,), print_fn=None)
    assert "Total params: 30" in text                      # 20 + 10: the shared one once
    assert "Trainable params: 22" in text and "Non-trainable params: 8" in text
    rows = layer_table(model, (4,))
    assert [r.params for r in rows] == [20, 0, 0, 10]      # called twice, counted once


def test_multiply_adds():
    from neurona.models.summary import count_macs
    # LeNet-5: C1 28*28*6*25, C3 10*10*16*150, C5 120*400, F6 84*120, output 10*84
    assert count_macs(LeNet5(), (1, 28, 28)) == 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert count_macs(AlexNet(), (3, 224, 224)) == 714_188_480      # torchvision: 0.71 G
    assert "Multiply-adds per example" in summary(LeNet5(), (1, 28, 28), print_fn=None)


def test_summary_needs_an_input_size():
    with pytest.raises(ValueError, match="input_size"):
        summary(LeNet5(), print_fn=None)


# ----------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("model, shape, out", [
    (lambda: LeNet5(), (2, 1, 28, 28), (2, 10)),
    (lambda: LeNet5("classic", pad_input=False), (2, 1, 32, 32), (2, 10)),
    (lambda: LeNet5(num_classes=4, in_channels=3, pad_input=False), (3, 3, 32, 32), (3, 4)),
    (lambda: AlexNetCIFAR(), (2, 3, 32, 32), (2, 10)),
    (lambda: AlexNetCIFAR(num_classes=7, batch_norm=False, widths=(8, 8, 8, 8, 8), hidden=16),
     (2, 3, 32, 32), (2, 7)),
    (lambda: AlexNet(num_classes=5), (1, 3, 224, 224), (1, 5)),
    (lambda: AlexNet(num_classes=5), (1, 3, 100, 120), (1, 5)),     # adaptive pooling
])
def test_forward_shapes(model, shape, out):
    m = model()
    m.eval()
    with nr.no_grad():
        assert m(nr.zeros(*shape)).shape == out


def test_bad_inputs_give_errors_that_name_the_shapes():
    model = LeNet5()
    with pytest.raises(RuntimeError, match=r"conv2d.*1 channels.*\(2, 3, 28, 28\)"):
        model(nr.zeros(2, 3, 28, 28))                      # colour image into a grey net
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*\(2, 1, 20, 20\)"):
        model(nr.zeros(2, 1, 20, 20))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(nr.zeros(1, 28, 28))                         # no batch axis
    with pytest.raises(RuntimeError, match=r"3 channels.*\(1, 1, 224, 224\)"):
        AlexNet(num_classes=3)(nr.zeros(1, 1, 224, 224))
    with pytest.raises(ValueError, match="variant"):
        LeNet5("fancy")
    with pytest.raises(ValueError, match="widths"):
        AlexNetCIFAR(widths=(8, 8))


def test_predict_takes_numpy_images_flat_rows_or_channel_less():
    nr.manual_seed(0)
    model = LeNet5()
    X = np.random.default_rng(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    p = model.predict(X)
    assert p.shape == (5,) and p.dtype.kind == "i"
    np.testing.assert_array_equal(model.predict(X.reshape(5, -1)), p)
    np.testing.assert_array_equal(model.predict(X[:, 0]), p)
    np.testing.assert_allclose(model.predict_proba(X).sum(1), 1, rtol=1e-5)
    assert model.training                                  # mode restored after predict
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros((5, 3, 3)))


# ----------------------------------------------------------------------------- torch parity

def torch_lenet(variant="modern"):
    Act = torch.nn.ReLU if variant == "modern" else torch.nn.Tanh
    Pool = torch.nn.MaxPool2d if variant == "modern" else torch.nn.AvgPool2d

    class TorchLeNet5(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(OrderedDict([
                ("c1", torch.nn.Conv2d(1, 6, 5, padding=2)), ("act1", Act()),
                ("s2", Pool(2, 2)), ("c3", torch.nn.Conv2d(6, 16, 5)), ("act3", Act()),
                ("s4", Pool(2, 2)), ("c5", torch.nn.Conv2d(16, 120, 5)), ("act5", Act())]))
            self.classifier = torch.nn.Sequential(OrderedDict([
                ("f6", torch.nn.Linear(120, 84)), ("act6", Act()),
                ("output", torch.nn.Linear(84, 10))]))

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))
    return TorchLeNet5()


@pytest.mark.parametrize("variant", ["modern", "classic"])
def test_lenet5_matches_torch_with_the_same_state_dict(variant):
    nr.manual_seed(1)
    ours, theirs = LeNet5(variant), torch_lenet(variant)
    sd = ours.state_dict()
    assert list(sd) == list(theirs.state_dict())            # same names, same order
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sd.items()})
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    y = np.array([3, 1, 4, 1])
    out = ours(nr.tensor(x))
    tout = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    nn.CrossEntropyLoss()(out, nr.tensor(y)).backward()
    torch.nn.CrossEntropyLoss()(tout, torch.tensor(y)).backward()
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-3, atol=1e-5,
                                   err_msg=name)


def test_alexnet_loads_a_torchvision_layout_state_dict():
    """torchvision's alexnet, rebuilt from torch.nn (torchvision itself is not needed)."""
    T = torch.nn
    torch.manual_seed(0)
    tv = T.Module()
    tv.features = T.Sequential(
        T.Conv2d(3, 64, 11, 4, 2), T.ReLU(True), T.MaxPool2d(3, 2),
        T.Conv2d(64, 192, 5, padding=2), T.ReLU(True), T.MaxPool2d(3, 2),
        T.Conv2d(192, 384, 3, padding=1), T.ReLU(True), T.Conv2d(384, 256, 3, padding=1),
        T.ReLU(True), T.Conv2d(256, 256, 3, padding=1), T.ReLU(True), T.MaxPool2d(3, 2))
    tv.avgpool = T.AdaptiveAvgPool2d((6, 6))
    tv.classifier = T.Sequential(T.Dropout(0.5), T.Linear(9216, 4096), T.ReLU(True),
                                 T.Dropout(0.5), T.Linear(4096, 4096), T.ReLU(True),
                                 T.Linear(4096, 1000))
    assert sum(p.numel() for p in tv.parameters()) == 61_100_840
    ours = AlexNet()
    sd = tv.state_dict()
    assert list(sd) == list(ours.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    ours.eval()
    tv.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with nr.no_grad(), torch.no_grad():
        a = ours(nr.tensor(x)).numpy()
        b = tv.features(torch.tensor(x))
        b = tv.classifier(torch.flatten(tv.avgpool(b), 1)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


# ----------------------------------------------------------------------------- registry

def test_registry_and_checkpoint_round_trip(tmp_path):
    assert {"lenet5", "alexnet", "alexnet-cifar"} <= set(models.available())
    model = models.get("lenet5", variant="classic", pad_input=False)
    assert isinstance(model, LeNet5) and model.variant == "classic"
    assert isinstance(models.get("alexnet_cifar", hidden=32), AlexNetCIFAR)
    path = models.save_checkpoint(model, tmp_path / "lenet.safetensors", dataset="digits")
    back, extra = models.load_checkpoint(path)
    assert isinstance(back, LeNet5) and back.get_config() == model.get_config()
    assert extra["dataset"] == "digits"
    x = nr.randn(2, 1, 32, 32)
    model.eval()
    np.testing.assert_allclose(back(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)


def test_image_inputs_for_the_cli_upsample_and_pad():
    from neurona.models.tasks import load_task
    task = load_task("digits", seed=0)
    lenet = models.get("lenet5", pad_input=False)
    X = _image_inputs(lenet, task, task.X_test[:3])
    assert X.shape == (3, 1, 32, 32)
    np.testing.assert_array_equal(X[:, :, ::4, ::4], task.images(task.X_test[:3]))
    np.testing.assert_array_equal(X[:, :, 4:8, 4:8], X[:, :, 4:5, 4:5].repeat(4, 2).repeat(4, 3))
    alex = AlexNetCIFAR(in_channels=1)

    class Fake:                             # 28x28 images, padded to 32x32 with black
        images = staticmethod(lambda X: np.asarray(X).reshape(len(X), 1, 28, 28))
        name, mean, std = "fake", np.array([0.5]), np.array([0.25])
    X = _image_inputs(alex, Fake, np.ones((2, 784), np.float32))
    assert X.shape == (2, 1, 32, 32)
    assert X[0, 0, 0, 0] == -2.0 and X[0, 0, 2, 2] == 1.0       # (0 - 0.5) / 0.25


def test_cli_batch_augmentation_shifts_and_flips():
    from neurona.cli import _AugmentedBatches, _augmentation
    from neurona.models.tasks import load_task
    grey = _augmentation(load_task("digits", seed=0))
    assert grey["padding"] == 2 and not grey["flip"] and grey["fill"] < 0   # black, scaled
    X = np.arange(2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6)
    loader = DataLoader(TensorDataset(nr.tensor(X), nr.tensor(np.arange(2))), batch_size=2,
                        generator=nr.Generator().manual_seed(0))
    batches = _AugmentedBatches(loader, padding=1, flip=True, fill=-1.0)
    assert len(batches) == 1 and batches.generator is loader.generator
    seen = set()
    for _ in range(20):
        (xb, yb), = list(batches)
        xb = xb.numpy()
        assert xb.shape == X.shape and yb.tolist() == [0, 1]
        for img, orig in zip(xb, X):
            inner = img[:, 1:-1, 1:-1]            # always inside the image after a 1-px shift
            found = [(dy, dx, f) for dy in (-1, 0, 1) for dx in (-1, 0, 1) for f in (0, 1)
                     if np.array_equal(inner, (orig[:, :, ::-1] if f else orig)
                                       [:, 1 + dy:5 + dy, 1 + dx:5 + dx])]
            assert found, "each image is a shifted (and maybe mirrored) copy"
            seen.update(found)
    assert len(seen) > 6                         # different shifts and both flips occur


# ----------------------------------------------------------------------------- plots

def test_cnn_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from neurona import viz
    nr.manual_seed(0)
    model = AlexNetCIFAR(widths=(8, 8, 8, 8, 8), hidden=16)
    x = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    maps = viz.feature_maps(model, x)
    assert [name for name, _ in maps] == [f"features.c{i}" for i in range(1, 6)]
    assert maps[0][1].shape == (8, 32, 32) and maps[-1][1].shape == (8, 8, 8)
    assert all(not m._forward_hooks for m in model.modules())
    images = np.random.default_rng(1).random((10, 3, 32, 32)).astype(np.float32)
    y, p = np.arange(10) % 3, np.zeros(10, int)
    written = [viz.plot_filters(model, tmp_path / "f.png"),
               viz.plot_filters(LeNet5().features.c3, tmp_path / "f3.png"),
               viz.plot_feature_maps(model, x, tmp_path / "m.png"),
               viz.plot_feature_maps(LeNet5(), np.zeros((1, 28, 28), np.float32),
                                     tmp_path / "m1.png"),
               viz.plot_misclassified(images, y, p, tmp_path / "w.png",
                                      class_names=["a", "b", "c"]),
               viz.plot_misclassified(images, y, y, tmp_path / "none.png"),
               viz.plot_image_grid(images[:, 0], tmp_path / "g.png", titles=list("abcdefghij"),
                                   symmetric=True)]
    for path in written:
        assert Path(path).stat().st_size > 1000
    with pytest.raises(ValueError, match="Conv2d"):
        viz.plot_filters(nn.Linear(2, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no layer named"):
        viz.feature_maps(model, x, layers=["nope"])


# ----------------------------------------------------------------------------- CLI

def test_cli_help_names_the_cnns(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    flat = " ".join(out.split())
    assert code == 0
    for word in ("lenet5", "alexnet-cifar", "cifar10", "fashion-mnist", "--variant",
                 "--augment", "onecycle"):
        assert word in flat, word


def test_cli_train_lenet5_on_digits_then_evaluate(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "lenet5", "--dataset", "digits", "--epochs", "2",
                                 "--out", str(out)], capsys)
    assert code == 0, err
    assert "Total params: 61,706" in stdout                  # the summary table
    assert "images 1x8x8" in stdout
    accuracy = float(stdout.split("test accuracy")[-1].split()[0])
    assert accuracy > 0.8, stdout
    for name in ("model.safetensors", "history.json", "history.png", "confusion_matrix.png",
                 "filters.png", "feature_maps.png", "misclassified.png"):
        assert (out / name).stat().st_size > 0, name
    code, stdout, err = run_cli(["evaluate", str(out / "model.safetensors")], capsys)
    assert code == 0, err
    assert f"accuracy {accuracy:.4f}" in stdout


def test_cli_refuses_what_does_not_fit(capsys):
    code, _, err = run_cli(["train", "lenet5", "--dataset", "iris"], capsys)
    assert code == 1 and "images" in err
    code, _, err = run_cli(["train", "alexnet", "--dataset", "digits"], capsys)
    assert code == 1 and "alexnet-cifar" in err


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big")
                                                 for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_the_same_training_code_runs_on_fashion_mnist_files(tmp_path, capsys):
    """Generated Fashion-MNIST IDX files: a bright square whose place is the class."""
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 600), ("t10k", 200)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(labels):
            r, col = 2 + 8 * (c // 4), 2 + 6 * (c % 4)
            images[i, r:r + 6, col:col + 6] = 255
        _write_idx(folder / f"{split}-images-idx3-ubyte.gz", images, 2051)
        _write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels, 2049)
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "lenet5", "--dataset", "fashion-mnist", "--data-dir",
                                 str(tmp_path), "--epochs", "3", "--batch-size", "32",
                                 "--out", str(out), "--no-plots", "--quiet"], capsys)
    assert code == 0, err
    assert "fashion-mnist: 600 training and 200 test examples, images 1x28x28" in stdout
    assert float(stdout.split("test accuracy")[-1].split()[0]) > 0.5, stdout
    code, stdout, err = run_cli(["evaluate", str(out / "model.safetensors"), "--data-dir",
                                 str(tmp_path)], capsys)
    assert code == 0 and "fashion-mnist test split (200 examples)" in stdout, err


# ----------------------------------------------------------------------------- real data

def _need(folder: Path, what: str):
    assert folder.is_dir(), (f"{what} is needed for this test and was not found in {folder} "
                             f"(set NEURONA_TEST_DATA to the folder that holds it)")


def test_lenet5_learns_mnist_subset():
    """LeNet-5 on 10,000 MNIST training images, 3 epochs: >= 95% on the 10,000 test images
    (about 98% in practice)."""
    from neurona.models.tasks import load_task
    _need(DATA / "mnist", "MNIST")
    task = load_task("mnist", data_dir=DATA)
    X, y = task.images(task.X_train[:10000]), task.y_train[:10000]
    start = time.perf_counter()
    nr.manual_seed(0)
    model = LeNet5()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(nr.tensor(X), nr.tensor(y)), batch_size=64, shuffle=True)
    history = fit(model, loader, epochs=3, loss_fn=model.loss_fn(), optimizer=opt,
                  metrics=(), progress=False, seed=0)
    accuracy = model.score(task.images(task.X_test), task.y_test)
    seconds = time.perf_counter() - start
    print(f"test accuracy {accuracy:.3f} after {seconds:.0f} s")
    assert history["loss"][-1] < history["loss"][0] / 3, history["loss"]
    assert accuracy >= 0.95, accuracy
    assert seconds < 120, f"took {seconds:.0f} s"


def test_alexnet_cifar_learns_the_jpeg_copy():
    """AlexNetCIFAR, 300 steps of 32 augmented images (about one epoch of the 10,000): well
    above the 10% of chance on 2,000 test images."""
    from neurona.models.tasks import load_task
    from neurona.vision import random_crop_batch, random_flip_batch
    _need(DATA / "cifar10-jpg", "the CIFAR-10 JPEG copy")
    task = load_task("cifar10", data_dir=DATA)
    X, y = task.images(task.X_train), task.y_train
    Xt, yt = task.images(task.X_test)[::5], task.y_test[::5]
    start = time.perf_counter()
    nr.manual_seed(0)
    model = AlexNetCIFAR()
    steps, batch = 300, 32
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                    weight_decay=5e-4)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    gen = nr.Generator().manual_seed(0)
    order = np.random.default_rng(0).permutation(len(X))
    loss_fn, losses = model.loss_fn(), []
    for i in range(steps):
        idx = order[i * batch:(i + 1) * batch]
        xb = random_flip_batch(random_crop_batch(nr.tensor(X[idx]), 32, padding=4,
                                                 generator=gen), generator=gen)
        loss = loss_fn(model(xb), nr.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    accuracy = model.score(Xt, yt)
    seconds = time.perf_counter() - start
    print(f"test accuracy {accuracy:.3f} after {seconds:.0f} s")
    assert np.mean(losses[-25:]) < np.mean(losses[:25]) - 0.5, (losses[:25], losses[-25:])
    assert accuracy >= 0.35, accuracy
    assert seconds < 180, f"took {seconds:.0f} s"
