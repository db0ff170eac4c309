"""An image and a filter give a new image: the classic 3x3 and 5x5 kernels.

A convolutional layer slides small grids of weights -- *kernels*, or *filters* -- over
its input.  Before a network learns its own, hand-made kernels show what one can do:
blur, sharpen, or light up the edges::

    from neurona.vision import load_image, apply_kernel, save_image, KERNELS
    img = load_image("cat.png", gray=True)                   # float32 (H, W) in [0, 1]
    edges = apply_kernel(img, "sobel_x")                     # or KERNELS["sobel_x"]
    save_image(edges, "cat-edges.png")                       # rescaled to 0..255

Each output pixel is the sum of the kernel's weights times the pixels under it::

    out[i, j] = sum_{u, v} k[u, v] * img[i + u - p, j + v - p]      (p: padding)

This is *cross-correlation* -- the kernel is not flipped -- which is what
``nn.Conv2d``/``F.conv2d`` compute and what deep learning calls convolution.  For the
symmetric kernels (blurs, Laplacian, sharpen) it is the same as the mathematicians'
convolution; Sobel and Prewitt change sign.  ``apply_kernel`` runs ``F.conv2d``, the op a
CNN layer uses, with the image's channels as a batch of one-channel images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tensor import Tensor

__all__ = ["KERNELS", "apply_kernel", "edge_magnitude", "load_image", "save_image",
           "to_image_array"]


def _k(rows, scale=1.0):
    a = np.asarray(rows, dtype=np.float32) * np.float32(scale)
    a.setflags(write=False)                  # shared by everyone: copy before changing
    return a


KERNELS: dict[str, np.ndarray] = {
    # the image unchanged
    "identity": _k([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    # edges in every direction: 4 x centre - its 4 neighbours (a discrete Laplacian, sign
    # flipped so edges come out bright); and with the 8 neighbours
    "laplacian_4": _k([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]),
    "laplacian_8": _k([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "edge_detect": _k([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "outline": _k([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    # horizontal change (responds to vertical edges): right column minus left column,
    # the middle row counted twice (Sobel) or once (Prewitt); positive where the image
    # gets brighter to the right
    "sobel_x": _k([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": _k([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),       # brighter downwards
    "prewitt_x": _k([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
    "prewitt_y": _k([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
    # blurs: weights that sum to 1, so the average brightness stays
    "box_blur": _k(np.ones((3, 3)), 1 / 9),
    "gaussian_blur_3x3": _k([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16),
    "gaussian_blur_5x5": _k([[1, 4, 6, 4, 1], [4, 16, 24, 16, 4], [6, 24, 36, 24, 6],
                             [4, 16, 24, 16, 4], [1, 4, 6, 4, 1]], 1 / 256),
    # the image plus its Laplacian: edges stand out
    "sharpen": _k([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    # a relief lit from the top left
    "emboss": _k([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
}


# ----------------------------------------------------------------------------- layouts

def _layout(shape, channels_last):
    """'hw', 'chw' or 'hwc' for an image of ``shape``."""
    if len(shape) == 2:
        return "hw"
    if len(shape) != 3:
        raise ValueError(f"an image must be (H, W), (C, H, W) or (H, W, C), got shape "
                         f"{tuple(shape)}")
    if channels_last is not None:
        return "hwc" if channels_last else "chw"
    if shape[0] in (1, 2, 3, 4):
        return "chw"
    if shape[-1] in (1, 2, 3, 4):
        return "hwc"
    raise ValueError(f"can't tell where the channels are in an image of shape {tuple(shape)}: "
                     "pass channels_last=True for (H, W, C) or False for (C, H, W)")


def _as_float_array(image):
    """``image`` (array, tensor, PIL image) as a float array; ints are scaled to [0, 1]."""
    if isinstance(image, Tensor):
        a = image._data
    elif hasattr(image, "getbands"):                   # a PIL image
        a = np.asarray(image)
    else:
        a = np.asarray(image)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    if a.dtype.kind in "iub":
        return a.astype(np.float32)
    return a


def _correlate_numpy(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid cross-correlation of each ``(H, W)`` plane of ``x`` ``(N, H, W)`` with ``k``:
    every ``kh x kw`` window (a strided view, no copy) dotted with the kernel."""
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape, axis=(1, 2))
    return np.tensordot(windows, k.astype(x.dtype), axes=([3, 4], [0, 1]))


def _pads(kh, kw, padding):
    """(top, bottom, left, right) for ``padding`` 'same', 'valid', an int or (ph, pw)."""
    if padding == "same":
        top, left = (kh - 1) // 2, (kw - 1) // 2
        return top, kh - 1 - top, left, kw - 1 - left
    if padding == "valid":
        return 0, 0, 0, 0
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4
    ph, pw = (int(p) for p in padding)
    return ph, ph, pw, pw


_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def apply_kernel(image, kernel, padding="same", padding_mode: str = "zeros",
                 channels_last=None):
    """Filter ``image`` with ``kernel``, each channel on its own.

    Args:
        image: ``(H, W)`` grey, or colour ``(C, H, W)`` / ``(H, W, C)`` -- a NumPy array, a
            tensor or a PIL image.  uint8 pixels are scaled to [0, 1] first.
        kernel: a 2-d array (or tensor), or the name of one of :data:`KERNELS`.
        padding: ``'same'`` (output as large as the input, as ``nn.Conv2d(padding='same')``),
            ``'valid'`` (no padding: smaller by ``kernel - 1``), an int or ``(ph, pw)``.
        padding_mode: what the border is padded with: ``'zeros'`` (as ``F.conv2d``),
            ``'reflect'``, ``'replicate'`` (the edge pixel repeated -- blurs keep the
            border's brightness) or ``'circular'``.
        channels_last: where the channels are in a 3-d image; ``None`` guesses (a first
            dim of 1-4 means ``(C, H, W)``).

    Returns the filtered image in the input's layout: a float tensor for a tensor input
    (differentiable when the input requires grad), else a float32 NumPy array.
    """
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise KeyError(f"apply_kernel: unknown kernel {kernel!r}; the kernels are: "
                           f"{', '.join(KERNELS)}")
        kernel = KERNELS[kernel]
    k = kernel._data if isinstance(kernel, Tensor) else np.asarray(kernel)
    if k.ndim != 2:
        raise ValueError(f"apply_kernel: the kernel must be 2-d (kh, kw), got shape "
                         f"{tuple(k.shape)}")
    is_tensor = isinstance(image, Tensor)
    a = _as_float_array(image)
    if a.dtype == np.float64 and not is_tensor:
        a = a.astype(np.float32)
    layout = _layout(a.shape, channels_last)
    planes = {"hw": lambda t: t[None], "chw": lambda t: t,
              "hwc": lambda t: t.transpose(2, 0, 1)}[layout](a)          # (C, H, W)
    top, bottom, left, right = _pads(*k.shape, padding)
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"apply_kernel: padding_mode must be one of {list(_PAD_MODES)}, got "
                         f"{padding_mode!r}")
    h, w = planes.shape[-2:]
    if h + top + bottom < k.shape[0] or w + left + right < k.shape[1]:
        raise ValueError(f"apply_kernel: a {k.shape[0]}x{k.shape[1]} kernel doesn't fit in "
                         f"the {h}x{w} image with padding {padding!r}")

    from ..nn import functional as F
    conv2d = getattr(F, "conv2d", None)
    if conv2d is not None:                        # the op a CNN layer runs
        from .. import backend
        xp = backend.xp_of(planes)
        x = Tensor._wrap(planes[:, None]) if not (is_tensor and image.requires_grad) \
            else _planes_tensor(image, layout)
        weight = Tensor._wrap(xp.asarray(k, dtype=planes.dtype)[None, None])
        if padding_mode == "zeros" and top == bottom and left == right:
            out = conv2d(x, weight, padding=(top, left))
        else:                                      # pad first: uneven or not with zeros
            mode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                    "circular": "circular"}[padding_mode]
            out = conv2d(F.pad(x, (left, right, top, bottom), mode=mode), weight)
        out = out[:, 0]                                               # (C, H', W')
        if is_tensor:
            return {"hw": lambda t: t[0], "chw": lambda t: t,
                    "hwc": lambda t: t.permute(1, 2, 0)}[layout](out)
        res = out.numpy()
    else:                                          # NumPy fallback (before conv2d existed)
        padded = np.pad(planes, [(0, 0), (top, bottom), (left, right)],
                        mode=_PAD_MODES[padding_mode])
        res = _correlate_numpy(padded, k)
        if is_tensor:
            return Tensor._wrap({"hw": lambda t: t[0], "chw": lambda t: t,
                                 "hwc": lambda t: t.transpose(1, 2, 0)}[layout](res).copy())
    res = {"hw": lambda t: t[0], "chw": lambda t: t,
           "hwc": lambda t: t.transpose(1, 2, 0)}[layout](res)
    return np.ascontiguousarray(res)


def _planes_tensor(image: Tensor, layout: str) -> Tensor:
    """A tensor image as a batch of one-channel images ``(C, 1, H, W)``, keeping autograd."""
    if layout == "hw":
        return image.reshape(1, 1, *image.shape)
    if layout == "hwc":
        image = image.permute(2, 0, 1)
    return image.reshape(image.shape[0], 1, image.shape[1], image.shape[2])


def edge_magnitude(image, padding_mode: str = "replicate", channels_last=None):
    """How strong the edges are at each pixel: ``sqrt(sobel_x^2 + sobel_y^2)`` (per
    channel; a float32 array, or a tensor for a tensor input)."""
    gx = apply_kernel(image, "sobel_x", padding_mode=padding_mode, channels_last=channels_last)
    gy = apply_kernel(image, "sobel_y", padding_mode=padding_mode, channels_last=channels_last)
    if isinstance(gx, Tensor):
        return (gx * gx + gy * gy).sqrt()
    return np.hypot(gx, gy)


# ----------------------------------------------------------------------------- files

def load_image(path, gray: bool = False, channels_first: bool = False) -> np.ndarray:
    """Read a PNG/JPEG/... file into a float32 array in [0, 1].

    ``gray=True`` gives ``(H, W)`` (luminance); else ``(H, W, 3)`` RGB -- the layout
    matplotlib's ``imshow`` wants -- or ``(3, H, W)`` with ``channels_first=True``.
    Transparency is dropped; 16-bit images are scaled by 65535.
    """
    from ..datasets.image_folder import require_pil
    Image = require_pil()
    with Image.open(path) as img:
        if img.mode.startswith("I;16"):                       # 16-bit grey
            arr = np.asarray(img).astype(np.float32) / np.float32(65535)
            if not gray:
                arr = np.repeat(arr[:, :, None], 3, axis=2)
        else:
            arr = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.float32) \
                / np.float32(255)
    if channels_first and arr.ndim == 3:
        arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
    return arr


def to_image_array(image, normalize="auto", channels_last=None) -> np.ndarray:
    """``image`` as uint8 ``(H, W)`` or ``(H, W, C)``, ready to be saved or shown.

    Float images: ``normalize='auto'`` keeps values already in [0, 1] and stretches any
    other range (an edge map with negative values, say) to [0, 1] by its min and max;
    ``normalize=True`` always stretches; ``False`` clips to [0, 1].  uint8 images are kept.
    """
    if isinstance(image, Tensor):
        a = image.detach().numpy(force=True)
    else:
        a = np.asarray(image)
    layout = _layout(a.shape, channels_last)
    if layout == "chw":
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError("to_image_array: the image holds NaN or infinite values")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    stretch = normalize is True or (normalize == "auto" and (lo < 0 or hi > 1))
    if stretch:
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    a = np.clip(a, 0, 1)
    return np.ascontiguousarray(np.rint(a * 255).astype(np.uint8))


def save_image(image, path, normalize="auto", channels_last=None) -> Path:
    """Write ``image`` (``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``; array or tensor) to an
    image file; the format follows the file name (``.png``, ``.jpg``...).  Values are made
    8-bit by :func:`to_image_array` (``normalize``: see there).  The file is written to a
    temporary name first, then renamed: it is never left half-written.
    """
    import io
    from ..datasets.image_folder import require_pil
    from ..serialization import _atomic_write
    Image = require_pil()
    arr = to_image_array(image, normalize=normalize, channels_last=channels_last)
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"save_image: can't tell the image format from the name {path.name!r}"
                         "; end it in .png or .jpg")
    if fmt == "JPEG" and arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(str(path), buf.getvalue())
    return path
