"""Image transforms with torchvision's names and semantics, for data augmentation.

    from neurona.vision import transforms as T
    train_tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                          T.ToTensor(), T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])

What a transform accepts:

* a **PIL image** -- the crops, flips and resizes give a PIL image back (Pillow needed);
* a **tensor** (or a NumPy array) whose last two dims are ``(H, W)``: ``(C, H, W)`` for one
  image, ``(N, C, H, W)`` for a batch (one random draw for the whole batch, as in
  torchvision);
* ``ToTensor`` also takes an ``(H, W, C)`` uint8 array, the layout images are stored in.

Randomness comes from ``neurona.default_generator`` (``nr.manual_seed(0)`` makes a run
repeat itself) or from the ``generator=`` a transform was built with.  The numbers differ
from torchvision's for the same seed.

Per-sample transforms run in Python once per image -- a few seconds per epoch of 50,000
CIFAR images.  For fast training loops, augment whole batches instead:
:func:`random_crop_batch` and :func:`random_flip_batch` draw a crop and a flip for *each*
image of an ``(N, C, H, W)`` batch with a few vectorised array operations (NumPy, or CuPy
on the GPU).

Differences from torchvision: ``ToTensor`` passes a float tensor through unchanged (so a
neurona dataset that already yields tensors can keep a torchvision-style pipeline) and
scales a uint8 one to [0, 1]; NumPy arrays are accepted wherever tensors are (and come
back as arrays); ``Resize`` on tensors resamples with Pillow channel by channel.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..random import _gen
from ..tensor import Tensor

__all__ = ["Compose", "Lambda", "ToTensor", "ToPILImage", "Normalize", "RandomCrop",
           "CenterCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "Resize",
           "InterpolationMode", "random_crop_batch", "random_flip_batch", "pad", "crop",
           "hflip", "vflip", "get_dimensions"]


def _pil():
    from ..datasets.image_folder import require_pil
    return require_pil()


def _is_pil(img) -> bool:
    return hasattr(img, "getbands") and hasattr(img, "crop")


def _array(img):
    """(the backend array, a function that wraps an array like ``img`` was wrapped)."""
    if isinstance(img, Tensor):
        return img._data, Tensor._wrap
    if isinstance(img, np.ndarray) or hasattr(img, "__cuda_array_interface__"):
        return img, lambda a: a
    raise TypeError(f"expected a PIL image, a tensor or a NumPy array, got "
                    f"{type(img).__name__}")


def _pair(size, name: str):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"{name}: size must be an int or a sequence (h, w), got {size}")
    return size


def _ltrb(padding, name: str = "pad"):
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        p = (int(padding),) * 4
    else:
        p = tuple(int(v) for v in padding)
        if len(p) == 1:
            p = p * 4
        elif len(p) == 2:                          # (left/right, top/bottom)
            p = (p[0], p[1], p[0], p[1])
        elif len(p) != 4:
            raise ValueError(f"{name}: padding must be an int or a sequence of 1, 2 or 4 "
                             f"ints (left, top, right, bottom), got {padding!r}")
    if min(p) < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return p


def get_dimensions(img):
    """``[channels, height, width]`` of a PIL image or a ``(..., C, H, W)`` tensor/array."""
    if _is_pil(img):
        return [len(img.getbands()), img.height, img.width]
    a, _ = _array(img)
    if a.ndim < 2:
        raise ValueError(f"an image needs at least 2 dims (H, W), got shape {tuple(a.shape)}")
    return [1 if a.ndim == 2 else int(a.shape[-3]), int(a.shape[-2]), int(a.shape[-1])]


_NP_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
             "symmetric": "symmetric"}


def _pad_array(a, ltrb, fill, padding_mode):
    left, top, right, bottom = ltrb
    xp = backend.xp_of(a)
    if padding_mode not in _NP_MODES:
        raise ValueError(f"pad: padding_mode must be 'constant', 'edge', 'reflect' or "
                         f"'symmetric', got {padding_mode!r}")
    if padding_mode != "constant":
        widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
        return xp.pad(a, widths, mode=_NP_MODES[padding_mode])
    shape = a.shape[:-2] + (a.shape[-2] + top + bottom, a.shape[-1] + left + right)
    out = xp.empty(shape, dtype=a.dtype)
    if isinstance(fill, (tuple, list)):
        if a.ndim < 3 or len(fill) != a.shape[-3]:
            raise ValueError(f"pad: a fill of {len(fill)} values needs an image with as many "
                             f"channels, got shape {tuple(a.shape)}")
        out[...] = xp.asarray(fill, dtype=a.dtype).reshape(-1, 1, 1)
    else:
        out[...] = fill
    out[..., top:top + a.shape[-2], left:left + a.shape[-1]] = a
    return out


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the image's borders: ``padding`` is an int (all sides), ``(left/right,
    top/bottom)`` or ``(left, top, right, bottom)``; ``padding_mode`` ``'constant'`` (with
    ``fill``, a number or one per channel), ``'edge'``, ``'reflect'`` or ``'symmetric'``."""
    ltrb = _ltrb(padding)
    if _is_pil(img):
        Image = _pil()
        arr = np.asarray(img)
        chw = arr.transpose(2, 0, 1) if arr.ndim == 3 else arr
        if isinstance(fill, (tuple, list)) and arr.ndim == 2:
            fill = fill[0]
        out = _pad_array(chw, ltrb, fill, padding_mode)
        out = out.transpose(1, 2, 0) if arr.ndim == 3 else out
        result = Image.fromarray(np.ascontiguousarray(out), mode=img.mode)
        if img.mode == "P":
            result.putpalette(img.getpalette())
        return result
    a, wrap = _array(img)
    return wrap(_pad_array(a, ltrb, fill, padding_mode))


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height x width`` region whose top-left corner is at row ``top``, column
    ``left`` (outside the image: zeros, as torchvision)."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    a, wrap = _array(img)
    h, w = a.shape[-2:]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        a = _pad_array(a, (max(0, -left), max(0, -top), max(0, left + width - w),
                           max(0, top + height - h)), 0, "constant")
        top, left = max(0, top), max(0, left)
    return wrap(a[..., top:top + height, left:left + width].copy())


def hflip(img):
    """Mirror left-right."""
    if _is_pil(img):
        return img.transpose(_pil().Transpose.FLIP_LEFT_RIGHT)
    a, wrap = _array(img)
    return wrap(a[..., ::-1].copy())


def vflip(img):
    """Mirror top-bottom."""
    if _is_pil(img):
        return img.transpose(_pil().Transpose.FLIP_TOP_BOTTOM)
    a, wrap = _array(img)
    return wrap(a[..., ::-1, :].copy())


# ----------------------------------------------------------------------------- transforms

class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class Lambda:
    """A transform made of any function: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda needs a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"


class ToTensor:
    """A PIL image or an ``(H, W, C)`` array -> a tensor ``(C, H, W)``.

    8-bit images (PIL modes L, RGB, RGBA..., uint8 arrays) become float32 in [0, 1]
    (divided by 255); other dtypes keep their values and dtype, as in torchvision.  A
    float tensor passes through unchanged and a uint8 ``(C, H, W)`` tensor is scaled to
    [0, 1] (torchvision refuses tensors).
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            if pic._data.dtype == np.uint8:
                return Tensor._wrap(pic._data.astype(np.float32) / np.float32(255))
            return pic
        if _is_pil(pic):
            arr = np.asarray(pic)
            if pic.mode == "1":
                arr = arr.astype(np.uint8) * np.uint8(255)
        elif isinstance(pic, np.ndarray):
            if pic.ndim not in (2, 3):
                raise ValueError(f"ToTensor: an array image must be (H, W) or (H, W, C), got "
                                 f"shape {pic.shape}")
            arr = pic
        else:
            raise TypeError(f"ToTensor: pic should be a PIL image or a NumPy array, got "
                            f"{type(pic).__name__}")
        if arr.ndim == 2:
            arr = arr[:, :, None]
        arr = arr.transpose(2, 0, 1)
        if arr.dtype == np.uint8:
            return Tensor._wrap(np.divide(arr, np.float32(255), dtype=np.float32))
        return Tensor._wrap(np.ascontiguousarray(arr))

    def __repr__(self):
        return f"{type(self).__name__}()"


class ToPILImage:
    """A tensor ``(C, H, W)`` or an array ``(H, W, C)`` -> a PIL image.  Floats are taken to
    be in [0, 1] and multiplied by 255 (then truncated to uint8, as torchvision)."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            a = pic.detach().numpy(force=True)
            if a.ndim == 3:
                a = a.transpose(1, 2, 0)
        else:
            a = np.asarray(pic)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.dtype.kind == "f":
            a = (a * 255).astype(np.uint8)
        return _pil().fromarray(np.ascontiguousarray(a), mode=self.mode) if self.mode \
            else _pil().fromarray(np.ascontiguousarray(a))

    def __repr__(self):
        return f"{type(self).__name__}()"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel ``c`` of a ``(..., C, H, W)`` tensor."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero in {self.std}, leading to "
                             "division by zero")
        self.inplace = inplace

    def __call__(self, tensor):
        if _is_pil(tensor):
            raise TypeError("Normalize takes a tensor: put ToTensor() before it")
        a, wrap = _array(tensor)
        if a.dtype.kind != "f":
            raise TypeError(f"Normalize needs a float tensor, got {a.dtype}: use ToTensor() "
                            "first")
        c = 1 if a.ndim == 2 else a.shape[-3]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if len(v) not in (1, c):
                raise ValueError(f"Normalize: {len(v)} {name} values for an image with {c} "
                                 f"channels (shape {tuple(a.shape)})")
        xp = backend.xp_of(a)
        mean = xp.asarray(self.mean, dtype=a.dtype).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=a.dtype).reshape(-1, 1, 1)
        if a.ndim == 2:
            mean, std = mean[0], std[0]
        if isinstance(tensor, Tensor) and tensor.requires_grad:      # keep the graph
            return (tensor - Tensor._wrap(mean)) / Tensor._wrap(std)
        if self.inplace:
            a -= mean
            a /= std
            return tensor
        return wrap((a - mean) / std)

    def __repr__(self):
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


class RandomCrop:
    """Crop a random ``size`` region (torchvision's ``RandomCrop``).

    Args:
        size: ``h`` (a square) or ``(h, w)``.
        padding: pad the borders first: an int, ``(left/right, top/bottom)`` or
            ``(left, top, right, bottom)`` -- ``RandomCrop(32, padding=4)`` is the classic
            CIFAR-10 augmentation (shift by up to 4 pixels).
        pad_if_needed: pad an image smaller than ``size`` so the crop fits.
        fill: the value of constant padding (one per channel allowed).
        padding_mode: ``'constant'``, ``'edge'``, ``'reflect'`` or ``'symmetric'``.
        generator: the ``neurona.Generator`` to draw from (default: the global one).
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant", generator=None):
        self.size = _pair(size, "RandomCrop")
        self.padding = padding
        if padding is not None:
            _ltrb(padding, "RandomCrop")
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        if padding_mode not in _NP_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {list(_NP_MODES)}, got "
                             f"{padding_mode!r}")
        self.padding_mode = padding_mode
        self.generator = generator

    @staticmethod
    def get_params(img, output_size, generator=None):
        """``(top, left, h, w)`` of a random crop of ``output_size`` from ``img``."""
        _, h, w = get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        rng = _gen(generator)
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size, self.generator)
        return crop(img, i, j, h, w)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class CenterCrop:
    """Crop the central ``size`` region (padded with zeros when the image is smaller)."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        _, h, w = get_dimensions(img)
        th, tw = self.size
        if tw > w or th > h:
            ltrb = [(tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                    (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0]
            img = pad(img, ltrb, fill=0)
            _, h, w = get_dimensions(img)
            if tw == w and th == h:
                return img
        top = int(round((h - th) / 2.0))
        left = int(round((w - tw) / 2.0))
        return crop(img, top, left, th, tw)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, generator=None):
        self.p = p
        self.generator = generator

    def __call__(self, img):
        if _gen(self.generator).random() < self.p:
            return hflip(img)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image top-bottom with probability ``p``."""

    def __call__(self, img):
        if _gen(self.generator).random() < self.p:
            return vflip(img)
        return img


class InterpolationMode:
    """Resampling filters, by torchvision's names."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _resample(mode):
    Image = _pil()
    table = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC, "box": Image.Resampling.BOX,
             "hamming": Image.Resampling.HAMMING, "lanczos": Image.Resampling.LANCZOS}
    if isinstance(mode, str):
        key = mode.lower()
        if key not in table:
            raise ValueError(f"Resize: interpolation must be one of {list(table)}, got {mode!r}")
        return table[key]
    return mode                                    # a PIL constant


def _resized_size(h, w, size, max_size):
    if isinstance(size, numbers.Integral) or len(size) == 1:
        requested = int(size) if isinstance(size, numbers.Integral) else int(size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"Resize: max_size = {max_size} must be strictly greater than "
                                 f"the requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    return int(size[0]), int(size[1])


class Resize:
    """Resize to ``size``: ``(h, w)``, or an int -- the smaller edge becomes ``size`` and the
    other keeps the aspect ratio (at most ``max_size``).  Uses Pillow's filters (which
    antialias when shrinking, as torchvision's ``antialias=True``)."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img):
        _, h, w = get_dimensions(img)
        nh, nw = _resized_size(h, w, self.size, self.max_size)
        resample = _resample(self.interpolation)
        if _is_pil(img):
            if (nh, nw) == (h, w):
                return img
            return img.resize((nw, nh), resample)
        Image = _pil()
        a, wrap = _array(img)
        xp = backend.xp_of(a)
        host = a if xp is np else a.get()
        planes = host.reshape(-1, h, w).astype(np.float32)
        out = np.stack([np.asarray(Image.fromarray(p, mode="F").resize((nw, nh), resample))
                        for p in planes]).reshape(host.shape[:-2] + (nh, nw))
        if host.dtype.kind in "iub":
            info = np.iinfo(host.dtype) if host.dtype.kind != "b" else None
            out = np.rint(out)
            if info is not None:
                out = np.clip(out, info.min, info.max)
        out = out.astype(host.dtype)
        return wrap(out if xp is np else xp.asarray(out))

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation})"


# ----------------------------------------------------------------------------- batches

def random_crop_batch(x, size, padding=None, generator=None, fill=0,
                      padding_mode: str = "constant"):
    """A random crop for *each* image of a batch ``x`` ``(N, C, H, W)`` (a tensor or an array;
    the result is the same kind, on the same device).

    ``size``: ``h`` or ``(h, w)``; ``padding``: as for :class:`RandomCrop` (pad first, then
    crop -- ``random_crop_batch(x, 32, padding=4)`` shifts each CIFAR image by up to 4
    pixels).  The batch is padded once; every image's corner is drawn at once from
    ``generator`` (default: neurona's), and all crops are gathered by one indexing
    operation.
    """
    a, wrap = _array(x)
    if a.ndim != 4:
        raise ValueError(f"random_crop_batch: expected a batch (N, C, H, W), got shape "
                         f"{tuple(a.shape)}")
    th, tw = _pair(size, "random_crop_batch")
    if padding is not None:
        a = _pad_array(a, _ltrb(padding, "random_crop_batch"), fill, padding_mode)
    n, c, h, w = a.shape
    if h < th or w < tw:
        raise ValueError(f"random_crop_batch: crop size {(th, tw)} is larger than the (padded) "
                         f"image size {(h, w)}")
    rng = _gen(generator)
    top = rng.integers(0, h - th + 1, size=n)
    left = rng.integers(0, w - tw + 1, size=n)
    xp = backend.xp_of(a)
    rows = xp.asarray(top[:, None] + np.arange(th))              # (N, th)
    cols = xp.asarray(left[:, None] + np.arange(tw))             # (N, tw)
    n_idx = xp.arange(n)[:, None, None, None]
    c_idx = xp.arange(c)[None, :, None, None]
    return wrap(a[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]])


def random_flip_batch(x, p: float = 0.5, generator=None, dim: int = -1):
    """Mirror each image of a batch ``x`` ``(N, C, H, W)`` left-right (``dim=-1``; top-bottom
    with ``dim=-2``) with probability ``p``, independently; same kind of result as ``x``."""
    a, wrap = _array(x)
    if a.ndim < 2:
        raise ValueError(f"random_flip_batch: expected a batch (N, ..., H, W), got shape "
                         f"{tuple(a.shape)}")
    xp = backend.xp_of(a)
    flip = _gen(generator).random(a.shape[0]) < p
    out = a.copy()
    idx = xp.asarray(np.flatnonzero(flip))
    if len(idx):
        out[idx] = xp.flip(a[idx], axis=dim)
    return wrap(out)
