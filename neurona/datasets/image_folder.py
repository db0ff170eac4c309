"""``ImageFolder``: a folder (or a ``.zip`` archive) of images, one sub-folder per class.

The layout is torchvision's::

    root/airplane/0000.jpg          class "airplane" -> label 0
    root/airplane/0001.jpg
    root/automobile/0000.png        class "automobile" -> label 1
    ...

Classes are the sub-folders of ``root``, sorted by name; their labels are their positions
in that order (``class_to_idx``).  Inside a class folder every file whose name ends in one
of ``IMG_EXTENSIONS`` is a sample (sub-folders included); other files (``README.txt``,
``.DS_Store``) are skipped.  A file with an image extension that can't be decoded is an
error naming the file, raised when that image is read.

``root`` may also be a ``.zip`` archive: members are read straight from the archive when
needed, nothing is extracted.  ``subdir=`` picks a folder inside it (the CIFAR-10 JPEG
archives in the shared data folder hold ``train/<class>/NNNN.jpg``)::

    ds = ImageFolder("cifar10-jpg-test.zip", subdir="test")
    X, y = ds.as_arrays()            # X float32 (10000, 3, 32, 32) in [0, 1], y int64
    X8, y = ds.as_arrays("uint8")    # X uint8 (10000, 32, 32, 3)

``dataset[i]`` is ``(image, label)``.  Without a ``transform`` the image is a float32
tensor ``(C, H, W)`` in [0, 1] (what ``transforms.ToTensor()`` makes, as for ``MNIST``);
with one, the transform gets the PIL image the ``loader`` returned (torchvision's
behaviour), so ``Compose([RandomCrop(32, padding=4), ToTensor()])`` works unchanged.

Differences from torchvision: a ``.zip`` root; folders and files whose names start with
``.`` and macOS's ``__MACOSX`` folders are skipped (torchvision would make ``.ipynb_checkpoints``
a class); a ``loader`` for a zip root gets an open binary file instead of a path; without
a transform samples are tensors, not PIL images.

Needs Pillow (``pip install 'neurona[vision]'``).
"""
from __future__ import annotations

import io
import os
import threading
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset, default_collate
from ._files import DatasetFileError

__all__ = ["ImageFolder", "DatasetFolder", "IMG_EXTENSIONS", "has_file_allowed_extension",
           "pil_loader", "require_pil"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def require_pil():
    """The ``PIL.Image`` module, or an ImportError that says how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading and writing images needs Pillow: pip install Pillow "
                          "(or pip install 'neurona[vision]')") from None
    return Image


def has_file_allowed_extension(filename: str, extensions) -> bool:
    """True when ``filename`` ends in one of ``extensions`` (case-insensitive)."""
    if isinstance(extensions, str):
        extensions = (extensions,)
    return filename.lower().endswith(tuple(e.lower() for e in extensions))


def pil_loader(path_or_file):
    """Open an image file (a path or a binary file object) as an RGB PIL image."""
    Image = require_pil()
    with Image.open(path_or_file) as img:
        return img.convert("RGB")


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _to_chw_float(arr: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, C)`` or ``(H, W)`` -> float32 ``(C, H, W)`` in [0, 1]."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.divide(arr.transpose(2, 0, 1), np.float32(255), dtype=np.float32)


def _as_tensor(sample):
    """What a custom loader gave, as ``ToTensor`` would make it: a PIL image or an 8-bit array
    becomes float32 ``(C, H, W)`` in [0, 1]; anything else is returned unchanged."""
    if hasattr(sample, "getbands"):                     # a PIL image
        sample = np.asarray(sample)
    if isinstance(sample, np.ndarray) and sample.dtype == np.uint8 and sample.ndim in (2, 3):
        return Tensor._wrap(_to_chw_float(sample))
    return sample


class DatasetFolder(Dataset):
    """Files in class folders, read by ``loader``: the base of :class:`ImageFolder`.

    Args:
        root: a folder, or a ``.zip`` archive, whose sub-folders are the classes.
        loader: ``loader(path)`` -> a sample (for a zip root: ``loader(binary_file)``).
        extensions: file name endings that count as samples (with ``is_valid_file``:
            leave it out).
        transform, target_transform: applied to each sample and label.
        is_valid_file: ``is_valid_file(path) -> bool`` picks the samples instead of
            ``extensions``.
        subdir: a folder inside ``root`` (or inside the archive) that holds the classes.
        allow_empty: accept class folders with no samples (default: an error).
    """

    def __init__(self, root, loader=None, extensions=None, transform=None,
                 target_transform=None, is_valid_file=None, subdir=None,
                 allow_empty: bool = False):
        if extensions is not None and is_valid_file is not None:
            raise ValueError("pass extensions= or is_valid_file=, not both")
        if extensions is None and is_valid_file is None:
            raise ValueError("pass extensions= (file name endings) or is_valid_file= (a "
                             "function of the path) to say which files are samples")
        self.root = str(Path(root).expanduser())
        self.subdir = subdir
        self.loader = loader
        self.extensions = tuple(extensions) if extensions is not None else None
        self.transform = transform
        self.target_transform = target_transform
        self._zip = None
        self._zip_lock = threading.Lock()
        self.is_zip = zipfile.is_zipfile(self.root) if os.path.isfile(self.root) else False
        if not self.is_zip and not os.path.isdir(self.root):
            what = "is not a folder or a .zip archive" if os.path.exists(self.root) \
                else "does not exist"
            raise FileNotFoundError(f"{type(self).__name__}: {self.root} {what}; root= must be "
                                    "a folder with one sub-folder per class, or a .zip of one")
        valid = is_valid_file if is_valid_file is not None else \
            (lambda p: has_file_allowed_extension(p, self.extensions))
        self._members = None             # for a zip root: each sample's member name
        if self.is_zip:
            classes, samples = self._scan_zip(valid, allow_empty)
        else:
            classes, samples = self._scan_dir(valid, allow_empty)
        self.classes = classes
        self.class_to_idx = {c: i for i, c in enumerate(classes)}
        self.samples = samples
        self.targets = [t for _, t in samples]
        self._targets = np.asarray(self.targets, dtype=np.int64)
        self.data = None                 # uint8 (N, H, W, C) once load_all() has run

    # -- finding the samples ------------------------------------------------------------
    def _where(self) -> str:
        return f"{self.root}" + (f" (folder {self.subdir!r} inside it)" if self.subdir else "")

    def _no_classes(self, found_files: bool):
        extra = (" It holds files but no sub-folders: ImageFolder wants one sub-folder per "
                 "class (root/<class>/<image>)." if found_files else "")
        hint = ""
        if self.is_zip and not self.subdir:
            hint = " For an archive whose classes sit inside a folder, pass subdir=<folder>."
        raise FileNotFoundError(f"{type(self).__name__}: couldn't find any class folder in "
                                f"{self._where()}.{extra}{hint}")

    def _check_empty(self, classes, per_class, allow_empty):
        empty = [c for c in classes if per_class[c] == 0]
        if empty and not allow_empty:
            exts = ", ".join(self.extensions) if self.extensions else "(is_valid_file)"
            raise FileNotFoundError(
                f"{type(self).__name__}: found no valid file for the class"
                f"{'es' if len(empty) > 1 else ''} {', '.join(empty)} in {self._where()}. "
                f"Supported extensions are: {exts}. Remove the empty folder"
                f"{'s' if len(empty) > 1 else ''} or pass allow_empty=True.")

    def _scan_dir(self, valid, allow_empty):
        base = os.path.join(self.root, self.subdir) if self.subdir else self.root
        if not os.path.isdir(base):
            raise FileNotFoundError(f"{type(self).__name__}: {base} is not a folder")
        entries = sorted(os.scandir(base), key=lambda e: e.name)
        classes = [e.name for e in entries if e.is_dir() and not _skipped(e.name)]
        if not classes:
            self._no_classes(any(e.is_file() for e in entries))
        samples, per_class = [], {}
        for idx, cls in enumerate(classes):
            count = 0
            for dirpath, dirnames, filenames in sorted(os.walk(os.path.join(base, cls),
                                                               followlinks=True)):
                dirnames[:] = [d for d in dirnames if not _skipped(d)]
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    if not _skipped(name) and valid(path):
                        samples.append((path, idx))
                        count += 1
            per_class[cls] = count
        self._check_empty(classes, per_class, allow_empty)
        return classes, samples

    def _scan_zip(self, valid, allow_empty):
        prefix = PurePosixPath(self.subdir.strip("/")) if self.subdir else None
        files, folders = {}, set()
        for info in self._archive().infolist():
            parts = PurePosixPath(info.filename).parts
            if prefix is not None:
                n = len(prefix.parts)
                if parts[:n] != prefix.parts:
                    continue
                parts = parts[n:]
            if not parts or any(_skipped(p) for p in parts):
                continue
            if info.is_dir():
                if len(parts) == 1:
                    folders.add(parts[0])
                continue
            if len(parts) == 1:               # a file right at the top: not in a class
                files.setdefault(None, []).append(info.filename)
                continue
            folders.add(parts[0])
            if valid(info.filename):
                files.setdefault(parts[0], []).append(info.filename)
        if prefix is not None and not folders and None not in files:
            raise FileNotFoundError(f"{type(self).__name__}: the archive {self.root} has no "
                                    f"folder {self.subdir!r}")
        classes = sorted(folders)
        if not classes:
            self._no_classes(None in files)
        samples, per_class, self._members = [], {}, []
        for idx, cls in enumerate(classes):
            names = sorted(files.get(cls, []))
            samples += [(os.path.join(self.root, n), idx) for n in names]
            self._members += names
            per_class[cls] = len(names)
        self._check_empty(classes, per_class, allow_empty)
        return classes, samples

    # -- reading one file ---------------------------------------------------------------
    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.root)
        return self._zip

    def read_bytes(self, index: int) -> bytes:
        """The raw bytes of sample ``index``'s file."""
        if self.is_zip:
            with self._zip_lock:
                return self._archive().read(self._members[index])
        with open(self.samples[index][0], "rb") as f:
            return f.read()

    def _load(self, index: int):
        """Sample ``index`` through the loader; a decoding failure names the file."""
        path = self.samples[index][0]
        loader = self.loader if self.loader is not None else pil_loader
        try:
            if self.is_zip:
                return loader(io.BytesIO(self.read_bytes(index)))
            return loader(path)
        except (OSError, ValueError, SyntaxError) as e:    # PIL: UnidentifiedImageError is OSError
            raise DatasetFileError(f"{path}: can't read this file as an image ({e}). Is it "
                                   "corrupt or truncated? Replace or delete it.") from None

    def close(self) -> None:
        """Close the zip archive (it is reopened when needed)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_zip"] = None
        state.pop("_zip_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._zip_lock = threading.Lock()

    # -- the dataset --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        index = int(index)
        if index < 0:
            index += len(self)
        sample = self._load(index)
        target = self.samples[index][1]
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self._where()}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class ImageFolder(DatasetFolder):
    """Images in class folders (PNG, JPEG, BMP, ...), torchvision's ``ImageFolder``.

    Args:
        root: a folder whose sub-folders are the classes, or a ``.zip`` archive of one.
        transform: applied to each PIL image (RGB).  Without it, ``dataset[i]`` gives the
            image as a float32 tensor ``(C, H, W)`` in [0, 1].
        target_transform: applied to each label (an int).
        extensions: file name endings that are images (default ``IMG_EXTENSIONS``).
        loader: ``loader(path)`` -> image (default: open with Pillow, convert to RGB).  For a
            zip root the loader gets an open binary file.
        is_valid_file: ``is_valid_file(path) -> bool``, instead of ``extensions``.
        subdir: the folder (inside ``root`` or inside the archive) that holds the classes.
        allow_empty: accept class folders without images (default: an error).

    Attributes as in torchvision: ``classes`` (sorted names), ``class_to_idx``,
    ``samples`` (``(path, label)`` pairs; inside an archive the path is
    ``<archive>/<member>``), ``targets``, ``imgs``.  ``load_all()`` decodes every image once
    into ``.data`` (uint8 ``(N, H, W, C)``); ``as_arrays()`` gives ``(X, y)`` as arrays.
    """

    def __init__(self, root, transform=None, target_transform=None, extensions=None,
                 loader=None, is_valid_file=None, subdir=None, allow_empty: bool = False):
        if extensions is None and is_valid_file is None:
            extensions = IMG_EXTENSIONS
        super().__init__(root, loader=loader, extensions=extensions, transform=transform,
                         target_transform=target_transform, is_valid_file=is_valid_file,
                         subdir=subdir, allow_empty=allow_empty)

    @property
    def imgs(self):
        return self.samples

    # -- decoding to arrays -------------------------------------------------------------
    def _decode(self, index: int) -> np.ndarray:
        """Image ``index`` as a uint8 ``(H, W, C)`` array."""
        if self.data is not None:
            return self.data[index]
        if self.loader is None:                       # the fast path: Pillow on the bytes
            Image = require_pil()
            path = self.samples[index][0]
            try:
                with Image.open(io.BytesIO(self.read_bytes(index))) as img:
                    img = img if img.mode == "RGB" else img.convert("RGB")
                    arr = np.asarray(img)
            except (OSError, ValueError, SyntaxError) as e:
                raise DatasetFileError(f"{path}: can't read this file as an image ({e}). Is "
                                       "it corrupt or truncated? Replace or delete it.") from None
        else:
            arr = np.asarray(self._load(index))
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.dtype != np.uint8:
            raise DatasetFileError(f"{self.samples[index][0]}: the loader gave {arr.dtype} "
                                   "pixels; load_all/as_arrays/get_batch need 8-bit images")
        return arr

    def _decode_many(self, indices) -> np.ndarray:
        """Images ``indices`` as one uint8 ``(B, H, W, C)`` array (all the same size)."""
        out = None
        for k, i in enumerate(indices):
            arr = self._decode(int(i))
            if out is None:
                out = np.empty((len(indices),) + arr.shape, dtype=np.uint8)
                first = int(i)
            elif arr.shape != out.shape[1:]:
                raise DatasetFileError(
                    f"images of different sizes can't be stacked: {self.samples[first][0]} is "
                    f"{out.shape[1:]} (H, W, C) but {self.samples[int(i)][0]} is {arr.shape}. "
                    "Give the dataset a transform that makes them one size (transforms.Resize, "
                    "CenterCrop) and iterate over it instead.")
            out[k] = arr
        if out is None:
            raise ValueError("no images to decode (empty index list)")
        return out

    def load_all(self):
        """Decode every image once, into ``.data`` (uint8 ``(N, H, W, C)``).

        Afterwards ``dataset[i]``, ``get_batch`` and ``as_arrays`` read from memory (10,000
        CIFAR-sized JPEGs take about a second).  Returns ``(data, targets)`` as NumPy arrays
        (``targets`` int64).  All images must have the same size.
        """
        if self.data is None:
            self.data = self._decode_many(range(len(self)))
            self.close()
        return self.data, self._targets.copy()

    def as_arrays(self, dtype: str = "float32"):
        """All images and labels as NumPy arrays, decoded in one pass (see ``load_all``).

        ``dtype="float32"``: ``X`` float32 ``(N, C, H, W)`` in [0, 1] -- the layout of
        ``Conv2d``; ``dtype="uint8"``: ``X`` uint8 ``(N, H, W, C)``, the pixels as stored.
        ``y`` is int64 ``(N,)``.  Transforms are not applied.
        """
        data, y = self.load_all()
        try:
            kind = np.dtype(dtype)
        except TypeError:
            kind = None
        if kind == np.uint8:
            return data, y
        if kind != np.float32:
            raise ValueError(f"as_arrays: dtype must be 'float32' or 'uint8', got {dtype!r}")
        return np.divide(data.transpose(0, 3, 1, 2), np.float32(255), dtype=np.float32), y

    def __getitem__(self, index):
        index = int(index)
        if index < 0:
            index += len(self)
        target = self.samples[index][1]
        if self.transform is not None:
            if self.data is not None:            # from the in-memory copy, as a PIL image
                img = self.data[index]
                sample = require_pil().fromarray(img[:, :, 0] if img.shape[-1] == 1 else img)
            else:
                sample = self._load(index)
            sample = self.transform(sample)
        elif self.loader is None or self.data is not None:
            sample = Tensor._wrap(_to_chw_float(self._decode(index)))
        else:
            sample = _as_tensor(self._load(index))
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def get_batch(self, indices):
        """A whole batch at once (the ``DataLoader`` fast path): float32 ``(B, C, H, W)``
        images in [0, 1] and int64 labels.  With a transform, sample by sample."""
        if self.transform is not None or self.target_transform is not None \
                or (self.loader is not None and self.data is None):     # sample by sample
            return default_collate([self[int(i)] for i in indices])
        idx = np.asarray(indices, dtype=np.int64)
        imgs = self.data[idx] if self.data is not None else self._decode_many(idx)
        x = np.divide(imgs.transpose(0, 3, 1, 2), np.float32(255), dtype=np.float32)
        return [Tensor._wrap(x), Tensor._wrap(self._targets[idx])]
