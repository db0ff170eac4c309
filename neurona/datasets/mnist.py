"""MNIST and Fashion-MNIST from the official IDX files.

The IDX format (big-endian) is a 4-byte magic number -- two zero bytes, a type code
(``0x08`` = uint8) and the number of dimensions -- then one int32 per dimension, then the
numbers.  MNIST images are magic 2051 (``0x00000803``: uint8, 3 dims ``N x 28 x 28``) and
labels magic 2049 (``0x00000801``: uint8, 1 dim ``N``).  Files may be gzipped or not.

Where the files are looked for, with ``root`` the data folder (see :func:`data_root`):
``root/mnist/`` (``root/fashion-mnist/``), then ``root`` itself, then torchvision's layout
``root/MNIST/raw/``.  ``download=True`` fetches missing files into ``root/mnist/``.

    train = MNIST(train=True)                 # images as float32 (1, 28, 28) in [0, 1]
    X, y = mnist_arrays(train=True)           # X: (60000, 784) float32, y: (60000,) int64
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from ._image import ArrayImageDataset
from ._files import DatasetFileError, data_root, download_file, gunzip, read_maybe_gzip

__all__ = ["MNIST", "FashionMNIST", "mnist_arrays", "read_idx"]

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path, expect_magic: int | None = None, what: str = "IDX file") -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array, checking its header and size.

    Raises :class:`DatasetFileError` naming the file when it is truncated, too long, or not
    the expected kind (``expect_magic``: 2051 for images, 2049 for labels).
    """
    path = Path(path)
    raw = read_maybe_gzip(path)
    if len(raw) < 4:
        raise DatasetFileError(f"{path}: only {len(raw)} bytes, too short to be an {what} "
                               "(an IDX file starts with a 4-byte magic number)")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_TYPES or ndim == 0:
        raise DatasetFileError(f"{path}: not an IDX file (magic number {magic:#010x}); "
                               f"expected an {what}" + (f" with magic number {expect_magic}"
                                                       if expect_magic else ""))
    if expect_magic is not None and magic != expect_magic:
        raise DatasetFileError(f"{path}: magic number {magic}, expected {expect_magic} for an "
                               f"{what}; is this the right file?")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFileError(f"{path}: truncated inside the header ({len(raw)} bytes, the "
                               f"header of a {ndim}-d IDX file is {header})")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(dims)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DatasetFileError(
            f"{path}: truncated: the header says shape {dims} = {expected:,} bytes of data, "
            f"but the file holds only {found:,}. Delete it and download or copy it again.")
    if found > expected:
        raise DatasetFileError(f"{path}: corrupt: {found - expected:,} bytes more than the "
                               f"header's shape {dims} needs ({expected:,} bytes)")
    arr = np.frombuffer(raw, dtype, int(np.prod(dims)), header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)     # native order, writable


def _names_in(folder: Path, name: str):
    """The file for ``name`` in ``folder`` (uncompressed preferred, then ``.gz``), or None."""
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


class MNIST(ArrayImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28, 0-9.

    Args:
        root: the data folder (default ``$NEURONA_DATA`` or ``./data``); the files are
            looked for in ``root/mnist/``, ``root`` and ``root/MNIST/raw/``.
        train: the training set (True) or the test set (False).
        transform: applied to each image (a float32 tensor ``(1, 28, 28)`` in [0, 1]).
        target_transform: applied to each label (an int).
        download: fetch missing files from the official mirrors (checksums verified).

    ``dataset[i]`` is ``(image, label)``: the image as float32 ``(1, 28, 28)`` scaled to
    [0, 1] (what torchvision gives with ``transforms.ToTensor()``), the label an int.
    ``.data`` holds all images as uint8 ``(N, 28, 28)`` and ``.targets`` all labels as int64
    ``(N,)``, as in torchvision.  Without transforms, ``DataLoader`` gathers whole batches
    from these arrays at once.
    """

    folder = "mnist"
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    splits = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    # name -> (sha256 of the uncompressed file, md5 of the official .gz); a download is
    # accepted when either matches.
    checksums = {
        "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                                    "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                                    "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                                   "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                                   "ec29112dd5afa0611ce80d1b7f02629c"),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        self.root = data_root(root)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        folder = self.find_folder(self.root, self.train)
        if folder is None:
            if not download:
                raise FileNotFoundError(self._missing_message())
            self.download()
            folder = self.find_folder(self.root, self.train)
        self.folder_path = folder
        images_name, labels_name = self.splits["train" if self.train else "test"]
        images_file = _names_in(folder, images_name)
        labels_file = _names_in(folder, labels_name)
        images = read_idx(images_file, IMAGES_MAGIC, "IDX image file")
        labels = read_idx(labels_file, LABELS_MAGIC, "IDX label file")
        if images.ndim != 3:
            raise DatasetFileError(f"{images_file}: expected images of shape (N, rows, cols), "
                                   f"got {images.shape}")
        if len(images) != len(labels):
            raise DatasetFileError(f"{images_file} holds {len(images)} images but "
                                   f"{labels_file} holds {len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise DatasetFileError(f"{labels_file}: label {int(labels.max())} is out of range "
                                   f"for {len(self.classes)} classes")
        self.data = Tensor._wrap(images)
        self.targets = Tensor._wrap(labels.astype(np.int64))

    # -- finding and fetching the files -----------------------------------------------
    @classmethod
    def candidate_folders(cls, root):
        root = Path(root)
        return [root / cls.folder, root, root / cls.__name__ / "raw"]

    @classmethod
    def find_folder(cls, root=None, train: bool = True):
        """The first folder that holds both files of the split, or None."""
        names = cls.splits["train" if train else "test"]
        for folder in cls.candidate_folders(data_root(root)):
            if all(_names_in(folder, n) is not None for n in names):
                return folder
        return None

    def _missing_message(self) -> str:
        names = self.splits["train" if self.train else "test"]
        looked = ", ".join(str(f) for f in self.candidate_folders(self.root))
        return (f"{type(self).__name__} ({'train' if self.train else 'test'}) files not found. "
                f"Put {names[0]}.gz and {names[1]}.gz (gzipped or not) in "
                f"{self.root / self.folder} (looked in: {looked}), set NEURONA_DATA or pass "
                f"root= to point at them, or pass download=True to fetch them from "
                f"{self.mirrors[0]}")

    @classmethod
    def _verify(cls, name):
        sha256, md5 = cls.checksums.get(name, (None, None))

        def verify(data: bytes):
            if md5 is not None and hashlib.md5(data).hexdigest() == md5:
                return None
            if sha256 is not None:
                try:
                    content = gunzip(data)
                except Exception as e:            # noqa: BLE001 - report, try next mirror
                    return f"not a valid gzip file ({e})"
                if hashlib.sha256(content).hexdigest() == sha256:
                    return None
            if md5 is None and sha256 is None:
                return None
            return "checksum mismatch (the file is corrupt or not the official one)"
        return verify

    def download(self) -> None:
        """Fetch the split's missing files into ``root/<folder>/`` (verifying checksums)."""
        dest = self.root / self.folder
        for name in self.splits["train" if self.train else "test"]:
            if _names_in(dest, name) is None:
                download_file(name + ".gz", self.mirrors, dest, self._verify(name))

    # -- the dataset --------------------------------------------------------------------
    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index):
        img = self.data._data[index]
        img = Tensor._wrap(np.divide(img, np.float32(255), dtype=np.float32)[None])
        target = int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _uint8_images(self, idx):
        return self.data._data[idx][:, None]

    def _int_targets(self, idx):
        return self.targets._data[idx]


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, in MNIST's format
    and sizes (60,000 / 10,000).  Same arguments as :class:`MNIST`; files are looked for in
    ``root/fashion-mnist/``, ``root`` and ``root/FashionMNIST/raw/``."""

    folder = "fashion-mnist"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"]
    checksums = {
        "train-images-idx3-ubyte": (None, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte": (None, "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte": (None, "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte": (None, "bb300cfdad3c16e7a12a480ee83cd310"),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def mnist_arrays(root=None, train: bool = True, download: bool = False, flatten: bool = True,
                 fashion: bool = False):
    """All of MNIST's training (or test) set as two tensors: ``X`` float32 in [0, 1] of shape
    ``(N, 784)`` (``(N, 1, 28, 28)`` with ``flatten=False``) and ``y`` int64 ``(N,)``.
    ``fashion=True`` reads Fashion-MNIST instead."""
    ds = (FashionMNIST if fashion else MNIST)(root, train=train, download=download)
    images = ds.data._data
    X = images.reshape(len(images), -1) if flatten else images[:, None]
    X = np.divide(X, np.float32(255), dtype=np.float32)     # one pass, one allocation
    return Tensor._wrap(X), ds.targets
