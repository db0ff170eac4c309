"""CIFAR-10 and CIFAR-100 from the official "python version" files, and the JPEG copy of
CIFAR-10 in the shared data folder.

CIFAR-10 is 60,000 colour images of 32x32 pixels in 10 classes (airplane, automobile,
bird, cat, deer, dog, frog, horse, ship, truck): 50,000 for training in five files
``data_batch_1`` ... ``data_batch_5`` and 10,000 for testing in ``test_batch``, all in the
folder ``cifar-10-batches-py`` of the official archive
https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz.

The official files are pickles
-------------------------------
Each batch file is a Python 2 pickle of a dict: ``data``, a uint8 NumPy array of shape
``(10000, 3072)`` (each row is one image: the 1024 red values, then green, then blue, each
row-major 32x32), ``labels`` (a list of ints 0-9), ``batch_label`` and ``filenames``.
``batches.meta`` holds ``label_names``.  neurona never unpickles files in general, because
unpickling can run any code the file names (``os.system``...).  These files are read with
a *restricted* unpickler (:func:`safe_unpickle`) that refuses every global except the
handful NumPy needs to rebuild an array:

* ``numpy.core.multiarray._reconstruct`` (``numpy._core...`` in NumPy 2) and
  ``numpy.ndarray``: make an empty array, then fill it from the raw bytes in the file;
* ``numpy.dtype``: the array's element type -- refused when it is ``object`` (an object
  array would unpickle arbitrary Python objects);
* ``numpy._core.numeric._frombuffer`` (``numpy.core...`` in NumPy 1): how pickle
  protocol 5 (Python 3.14's default) rebuilds an array from its bytes -- a file re-saved
  by a recent Python;
* ``_codecs.encode``, restricted to latin-1: how Python 3 writes bytes in protocol-2
  pickles.

Plain dicts, lists, strings, bytes and numbers need no globals.  Anything else -- a
function to call, a class to build -- stops the load with an error naming it.

``download=True`` fetches the archive, checks its MD5 against the one torchvision
publishes, and extracts only the expected files, refusing links and paths that would
leave the destination folder.

    train = CIFAR10(train=True, download=True)    # image: float32 (3, 32, 32) in [0, 1]
    X, y = cifar10_arrays(train=False)            # X float32 (10000, 3, 32, 32), y int64
    X, y = cifar10_jpg(train=True)                # the shared JPEG copy (10 x 1,000 images)
"""
from __future__ import annotations

import codecs
import hashlib
import io
import pickle
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from ..tensor import Tensor
from ._image import ArrayImageDataset
from ._files import DatasetFileError, data_root, download_file

__all__ = ["CIFAR10", "CIFAR100", "cifar10_arrays", "safe_unpickle", "cifar10_jpg",
           "cifar10_jpg_dataset", "find_cifar10_jpg", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]

# ----------------------------------------------------------------------------- unpickling

_reconstruct = np.zeros(1).__reduce__()[0]        # NumPy's own array-rebuilding function


def _safe_dtype(*args, **kwargs):
    """``numpy.dtype``, refusing object dtypes (their items would be unpickled objects)."""
    dt = np.dtype(*args, **kwargs)
    if dt.hasobject:
        raise pickle.UnpicklingError(f"refusing a NumPy array of dtype {dt} (it would hold "
                                     "arbitrary Python objects)")
    return dt


_frombuffer = np.zeros(1).__reduce_ex__(5)[0]    # how protocol 5 pickles rebuild arrays


def _safe_frombuffer(buf, dtype, shape, order):
    """``numpy._core.numeric._frombuffer`` (protocol 5): an array over the pickled bytes."""
    if np.dtype(dtype).hasobject:
        raise pickle.UnpicklingError(f"refusing a NumPy array of dtype {dtype}")
    return _frombuffer(buf, dtype, shape, order)


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as protocol-2 pickles use it: str -> bytes in latin-1 only."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, "latin1", errors)


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("_codecs", "encode"): _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain data and NumPy arrays (see the module docstring)."""

    def find_class(self, module, name):
        found = _ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: only plain data and NumPy "
                "arrays are read from pickle files (anything else could run code)")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id: not a plain-data pickle")


def safe_unpickle(source):
    """Load a pickle that holds only plain data (dicts, lists, str, bytes, numbers) and NumPy
    arrays of numbers -- the official CIFAR files.  ``source``: a path or the bytes.

    Raises :class:`DatasetFileError` naming the file for anything else (a global function or
    class, an object array), without running it.  Python 2 strings are decoded as latin-1.
    """
    name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise DatasetFileError(f"{name}: {e}") from None
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise DatasetFileError(f"{name}: not a valid pickle file or truncated "
                               f"({type(e).__name__}: {e}). Delete it and download it "
                               "again.") from None


def _str(x):
    return x.decode("latin1") if isinstance(x, bytes) else x


# ----------------------------------------------------------------------------- the datasets

class CIFAR10(ArrayImageDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, 10 classes.

    Args:
        root: the data folder (default ``$NEURONA_DATA`` or ``./data``); the files are
            looked for in ``root/cifar-10-batches-py/`` (torchvision's layout),
            ``root/cifar10/cifar-10-batches-py/`` and ``root`` itself.
        train: the training set (True) or the test set (False).
        transform: applied to each image (a float32 tensor ``(3, 32, 32)`` in [0, 1]).
            The transforms of :mod:`neurona.vision.transforms` take tensors, so
            torchvision's ``Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(),
            ToTensor(), Normalize(...)])`` works (``ToTensor`` passes tensors through).
        target_transform: applied to each label (an int).
        download: fetch and extract the official archive into ``root`` when the files are
            missing (MD5 checked).

    As in torchvision, ``.data`` holds the images as uint8 ``(N, 32, 32, 3)`` (a NumPy
    array), ``.targets`` the labels as a list of ints and ``.classes`` the names.  Without
    transforms ``DataLoader`` gathers whole batches at once (``get_batch``).
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                  "data_batch_5"]
    test_list = ["test_batch"]
    meta = {"filename": "batches.meta", "key": "label_names"}
    labels_key = "labels"
    default_classes = CIFAR10_CLASSES

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
            if folder is None:
                raise DatasetFileError(f"{self.root / self.filename} was extracted but the "
                                       f"files {self._names()} are still missing from "
                                       f"{self.root / self.base_folder}")
        self.folder_path = folder
        images, labels = [], []
        for name in self._names():
            x, y = self._read_batch(folder / name)
            images.append(x)
            labels.append(y)
        chw = np.concatenate(images).reshape(-1, 3, 32, 32)
        self._chw = chw                                   # the files' layout: fast batches
        self.data = chw.transpose(0, 2, 3, 1)             # (N, 32, 32, 3), as torchvision
        self._targets = np.concatenate(labels)
        self.targets = self._targets.tolist()
        self.classes = self._read_classes(folder)
        if self._targets.size and self._targets.max() >= len(self.classes):
            raise DatasetFileError(f"{folder}: label {int(self._targets.max())} is out of "
                                   f"range for {len(self.classes)} classes")

    # -- reading --------------------------------------------------------------------------
    def _names(self):
        return self.train_list if self.train else self.test_list

    def _read_batch(self, path: Path):
        obj = safe_unpickle(path)
        if not isinstance(obj, dict):
            raise DatasetFileError(f"{path}: expected a pickled dict with 'data' and "
                                   f"'{self.labels_key}', got {type(obj).__name__}")
        obj = {_str(k): v for k, v in obj.items()}
        if "data" not in obj or self.labels_key not in obj:
            raise DatasetFileError(f"{path}: expected the keys 'data' and '{self.labels_key}'"
                                   f", found {sorted(obj)}; is this a {type(self).__name__} "
                                   "batch file?")
        data = obj["data"]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
                or data.shape[1] != 3 * 32 * 32:
            what = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                    else type(data).__name__)
            raise DatasetFileError(f"{path}: 'data' should be a uint8 array of shape (N, 3072)"
                                   f" (N images of 3x32x32), got a {what}")
        try:
            labels = np.asarray(obj[self.labels_key], dtype=np.int64).reshape(-1)
        except (TypeError, ValueError) as e:
            raise DatasetFileError(f"{path}: '{self.labels_key}' is not a list of ints "
                                   f"({e})") from None
        if len(labels) != len(data):
            raise DatasetFileError(f"{path} holds {len(data)} images but {len(labels)} labels")
        if labels.size and labels.min() < 0:
            raise DatasetFileError(f"{path}: negative label {int(labels.min())}")
        return data, labels

    def _read_classes(self, folder: Path):
        path = folder / self.meta["filename"]
        if not path.is_file():
            return list(self.default_classes)
        obj = safe_unpickle(path)
        names = obj.get(self.meta["key"], obj.get(self.meta["key"].encode())) \
            if isinstance(obj, dict) else None
        if not isinstance(names, (list, tuple)):
            raise DatasetFileError(f"{path}: expected a dict with '{self.meta['key']}' (the "
                                   "class names)")
        return [_str(n) for n in names]

    # -- finding and fetching the files ---------------------------------------------------
    @classmethod
    def candidate_folders(cls, root):
        root = Path(root)
        return [root / cls.base_folder, root / cls.__name__.lower() / cls.base_folder, root]

    @classmethod
    def find_folder(cls, root=None, train: bool = True):
        """The first candidate folder holding every file of the split, or None."""
        names = cls.train_list if train else cls.test_list
        for folder in cls.candidate_folders(data_root(root)):
            if all((folder / n).is_file() for n in names):
                return folder
        return None

    def _missing_message(self) -> str:
        looked = ", ".join(str(f) for f in self.candidate_folders(self.root))
        return (f"{type(self).__name__} ({'train' if self.train else 'test'}) files not found: "
                f"{', '.join(self._names())} (looked in: {looked}). Extract {self.filename} "
                f"from {self.url} into {self.root}, set NEURONA_DATA or pass root= to point "
                "at them, or pass download=True to fetch it.")

    def _verify(self, data: bytes):
        if hashlib.md5(data).hexdigest() != self.tgz_md5:
            return ("checksum mismatch (MD5 is not the official archive's "
                    f"{self.tgz_md5}): the download is corrupt or not the official file")
        return None

    def download(self) -> None:
        """Fetch the official archive into ``root`` (unless a good copy is there already) and
        extract the dataset folder from it."""
        if self.find_folder(self.root, True) and self.find_folder(self.root, False):
            return
        archive = self.root / self.filename
        if not (archive.is_file() and self._verify(archive.read_bytes()) is None):
            base, name = self.url.rsplit("/", 1)
            archive = download_file(name, [base + "/"], self.root, self._verify)
        extract_tar_safely(archive, self.root, self.base_folder)

    # -- the dataset ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, index):
        img = Tensor._wrap(np.divide(self._chw[index], np.float32(255), dtype=np.float32))
        target = int(self._targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _uint8_images(self, idx):
        return self._chw[idx]

    def _int_targets(self, idx):
        return self._targets[idx]


class CIFAR100(CIFAR10):
    """CIFAR-100: like :class:`CIFAR10` with 100 classes (the "fine" labels); files in
    ``root/cifar-100-python/`` (``train``, ``test``, ``meta``)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = ["train"]
    test_list = ["test"]
    meta = {"filename": "meta", "key": "fine_label_names"}
    labels_key = "fine_labels"
    default_classes = [str(i) for i in range(100)]


def extract_tar_safely(archive, dest, folder: str) -> Path:
    """Extract the regular files under ``folder/`` from the tar ``archive`` into ``dest``.

    Each member's path is checked first: an absolute path, a ``..`` component, a link or a
    device is refused (a crafted archive could otherwise write outside ``dest``).  Members
    outside ``folder/`` are skipped.  Each file is written to a temporary name and renamed,
    so an interrupted extraction never leaves a half-written file under its real name.
    """
    from ..serialization import _atomic_write
    archive, dest = Path(archive), Path(dest)
    out = dest / folder
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise DatasetFileError(f"{archive}: not a readable tar archive ({e})") from None
    with tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if member.name.startswith(("/", "\\")) or ".." in parts or \
                    (parts and ":" in parts[0]):
                raise DatasetFileError(f"{archive}: refusing the member {member.name!r}: its "
                                       "path would leave the destination folder")
            if not parts or parts[0] != folder:
                continue
            if member.isdir():
                continue
            if not member.isfile():
                raise DatasetFileError(f"{archive}: refusing the member {member.name!r}: "
                                       "links and special files are not extracted")
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(str(target), tar.extractfile(member).read())
    return out


def cifar10_arrays(root=None, train: bool = True, download: bool = False):
    """All of CIFAR-10's training (or test) set as two tensors: ``X`` float32
    ``(N, 3, 32, 32)`` in [0, 1] and ``y`` int64 ``(N,)``."""
    ds = CIFAR10(root, train=train, download=download)
    X = np.divide(ds._chw, np.float32(255), dtype=np.float32)
    return Tensor._wrap(X), Tensor._wrap(ds._targets.copy())


# ----------------------------------------------------------------------------- JPEG copy

def _shared_data_folder() -> Path:
    """``../shared/data`` next to the repository (when neurona runs from a checkout)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def find_cifar10_jpg(root=None, train: bool = True):
    """The zip archive of the CIFAR-10 JPEG copy for the split, or None.

    Looked for (``cifar10-jpg-train*.zip`` / ``cifar10-jpg-test*.zip``, the largest when
    several match) in ``root`` and ``root/cifar10-jpg``; without ``root`` in the data
    folder (``$NEURONA_DATA`` or ``./data``) and in ``../shared/data`` next to the
    repository.
    """
    pattern = f"cifar10-jpg-{'train' if train else 'test'}*.zip"
    bases = [Path(root).expanduser()] if root is not None else \
        [data_root(None), _shared_data_folder()]
    for base in bases:
        if base.is_file() and base.match(pattern):
            return base
        for folder in (base, base / "cifar10-jpg"):
            found = sorted(folder.glob(pattern), key=lambda p: -p.stat().st_size) \
                if folder.is_dir() else []
            if found:
                return found[0]
    return None


def cifar10_jpg_dataset(root=None, train: bool = True, transform=None, target_transform=None):
    """The CIFAR-10 JPEG copy as an :class:`~neurona.datasets.ImageFolder` read lazily from
    its zip archive (see :func:`find_cifar10_jpg` for where it is looked for)."""
    from .image_folder import ImageFolder
    path = find_cifar10_jpg(root, train)
    split = "train" if train else "test"
    if path is None:
        where = root if root is not None else f"{data_root(None)} or {_shared_data_folder()}"
        raise FileNotFoundError(f"the CIFAR-10 JPEG archive cifar10-jpg-{split}*.zip was not "
                                f"found in {where} (nor in a cifar10-jpg/ folder there); "
                                "pass root= to the folder that holds it")
    ds = ImageFolder(path, subdir=split, transform=transform,
                     target_transform=target_transform)
    if ds.classes != CIFAR10_CLASSES:
        raise DatasetFileError(f"{path}: expected the CIFAR-10 class folders {CIFAR10_CLASSES}"
                               f" under {split}/, found {ds.classes}")
    return ds


def cifar10_jpg(root=None, train: bool = True):
    """The CIFAR-10 JPEG copy, decoded in one pass (about a second per 10,000 images):
    ``X`` float32 ``(N, 3, 32, 32)`` in [0, 1] and ``y`` int64 ``(N,)``, as tensors.

    The shared copy holds the whole test set (10,000) and 1,000 training images per class
    (10,000), re-encoded as JPEG (quality 75): accuracies differ a little from the
    published ones on the lossless originals.  Labels are in class order (all airplanes,
    then all automobiles...): shuffle when you train.
    """
    ds = cifar10_jpg_dataset(root, train)
    X, y = ds.as_arrays("float32")
    ds.data = None                                     # let the uint8 copy go
    return Tensor._wrap(X), Tensor._wrap(y)
