"""Datasets: real ones read from their official files, small ones bundled with
scikit-learn, and the TensorFlow Playground's generated 2-D problems.

    from neurona import datasets
    X, y = datasets.playground("spiral", n=500, noise=0.1)       # generated, no files
    iris = datasets.load_iris()                                  # bundled in scikit-learn
    train = datasets.MNIST(train=True, download=True)            # official IDX files
    cifar = datasets.CIFAR10(train=True, download=True)          # official python batches
    X, y = datasets.cifar10_jpg(train=False)                     # the shared JPEG copy
    pets = datasets.ImageFolder("pets/")                         # pets/<class>/<image>.jpg
    train, test = datasets.split_rt_polarity(seed=0)             # sentiment, 9,596 / 1,066
    tokens = datasets.ptb(split="train")                         # PTB words + <eos>
    tagged = datasets.ud_treebank(split="train")                 # UD CoNLL-U (words, UPOS)
    datasets.available()                                         # what is there, and where

Files are read from (and downloaded to) the data folder: the ``root=`` you pass, else the
environment variable ``NEURONA_DATA``, else ``./data``.
"""
from __future__ import annotations

import importlib.util
import os

from ._files import DatasetFileError, data_root, download_file
from .cifar import (CIFAR10, CIFAR10_CLASSES, CIFAR100, cifar10_arrays, cifar10_jpg,
                    cifar10_jpg_dataset, find_cifar10_jpg, safe_unpickle)
from .image_folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST, mnist_arrays, read_idx
from .playground import PLAYGROUND_PROBLEMS, playground
from .tabular import (SKLEARN_DATASETS, Bunch, StandardScaler, load_breast_cancer,
                      load_diabetes, load_digits, load_iris, load_wine, standardize,
                      train_test_split)
from .text import (Sentence, TaggedDataset, TextDataset, batchify, char_windows, lm_batches,
                   ptb, read_conllu, rt_polarity, split_rt_polarity, sst2, text_available,
                   text_corpus, tiny_shakespeare, ud_treebank)

__all__ = ["available", "data_root", "DatasetFileError", "download_file",
           "MNIST", "FashionMNIST", "mnist_arrays", "read_idx",
           "CIFAR10", "CIFAR100", "CIFAR10_CLASSES", "cifar10_arrays", "safe_unpickle",
           "cifar10_jpg", "cifar10_jpg_dataset", "find_cifar10_jpg",
           "ImageFolder", "DatasetFolder", "IMG_EXTENSIONS",
           "playground", "PLAYGROUND_PROBLEMS",
           "Bunch", "load_iris", "load_breast_cancer", "load_diabetes", "load_digits",
           "load_wine", "SKLEARN_DATASETS", "train_test_split", "standardize",
           "StandardScaler",
           "rt_polarity", "split_rt_polarity", "sst2", "read_conllu", "ud_treebank", "ptb",
           "text_corpus", "tiny_shakespeare", "TextDataset", "TaggedDataset", "Sentence",
           "batchify", "lm_batches", "char_windows"]


def _sklearn_data_folder():
    spec = importlib.util.find_spec("sklearn")        # locate without importing (slow)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")


def available(root=None) -> list[dict]:
    """Every dataset neurona can load, with where it is.

    Returns one dict per dataset with the keys ``name``, ``kind`` (``"generated"``,
    ``"bundled"`` or ``"files"``), ``task``, ``ready`` (True when it can be loaded now,
    without downloading), ``location`` (a folder, or a few words) and ``load`` (the call
    that loads it).  ``root`` is the data folder to look in (default: :func:`data_root`).
    """
    out = []
    for name, task in PLAYGROUND_PROBLEMS.items():
        out.append(dict(name=name, kind="generated", task=task, ready=True,
                        location="generated in memory (TensorFlow Playground)",
                        load=f"neurona.datasets.playground({name!r})"))
    sk = _sklearn_data_folder()
    for name, (task, n, d) in SKLEARN_DATASETS.items():
        out.append(dict(name=name, kind="bundled", task=task, ready=sk is not None,
                        location=sk if sk is not None
                        else "needs scikit-learn: pip install scikit-learn",
                        load=f"neurona.datasets.load_{name}()"))
    base = data_root(root)
    for cls, name in ((MNIST, "mnist"), (FashionMNIST, "fashion-mnist")):
        train = cls.find_folder(base, True)
        test = cls.find_folder(base, False)
        ready = train is not None and test is not None
        where = train or test or base / cls.folder
        note = "" if ready else (" (missing: download=True fetches it)" if train is None
                                 and test is None else " (one split missing)")
        out.append(dict(name=name, kind="files", task="classification", ready=ready,
                        location=str(where) + note,
                        load=f"neurona.datasets.{cls.__name__}(train=True)"))
    for cls, name in ((CIFAR10, "cifar10"), (CIFAR100, "cifar100")):
        train = cls.find_folder(base, True)
        test = cls.find_folder(base, False)
        ready = train is not None and test is not None
        where = train or test or base / cls.base_folder
        note = "" if ready else (" (missing: download=True fetches it)" if train is None
                                 and test is None else " (one split missing)")
        out.append(dict(name=name, kind="files", task="classification", ready=ready,
                        location=str(where) + note,
                        load=f"neurona.datasets.{cls.__name__}(train=True)"))
    train = find_cifar10_jpg(root, True)
    test = find_cifar10_jpg(root, False)
    has_pil = importlib.util.find_spec("PIL") is not None
    ready = train is not None and test is not None and has_pil
    where = str(train.parent) if train is not None else (
        str(test.parent) if test is not None else "cifar10-jpg-{train,test}*.zip not found")
    if not has_pil:
        where += " (needs Pillow: pip install Pillow)"
    elif (train is None) != (test is None):
        where += " (one split missing)"
    out.append(dict(name="cifar10-jpg", kind="files", task="classification", ready=ready,
                    location=where, load="neurona.datasets.cifar10_jpg(train=True)"))
    out += text_available(root)
    return out
