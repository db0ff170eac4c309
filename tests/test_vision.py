"""Tests for neurona.vision (kernels, image files, transforms) and the image datasets
(CIFAR10 from the official python batches, ImageFolder on folders and zip archives, the
CIFAR-10 JPEG copy).

Oracles: SciPy's ``ndimage.correlate`` and PyTorch's ``conv2d`` for the kernels;
torchvision's transform semantics re-derived by hand (torchvision is not installed here):
shapes, value ranges, where a crop may land, what a flip does, seeded reproducibility.
CIFAR-10 is tested on small batch files written in the official format (a Python 2
protocol-2 pickle, built opcode by opcode below) -- no CIFAR data is needed -- and the
ImageFolder on generated PNG/JPEG folders and on the real CIFAR-10 JPEG archives in the
shared data folder (the test FAILS, not skips, when they are missing).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import pickletools
import struct
import tarfile
import zipfile

import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image

import neurona as nr
from neurona import datasets, vision
from neurona.datasets import (CIFAR10, CIFAR10_CLASSES, DatasetFileError, ImageFolder,
                              safe_unpickle)
from neurona.nn import functional as F
from neurona.utils.data import DataLoader, default_collate
from neurona.vision import KERNELS, apply_kernel, transforms as T
from neurona.vision.kernels import _correlate_numpy

from conftest import shared_data_dir


def gen(seed):
    return nr.Generator().manual_seed(seed)


def rand_image(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


# ============================================================================ kernels

def step_image(h=8, w=10, at=5):
    img = np.zeros((h, w), np.float32)
    img[:, at:] = 1.0
    return img


def test_identity_kernel_is_identity():
    for shape in [(7, 9), (3, 7, 9), (7, 9, 3)]:
        img = rand_image(shape)
        np.testing.assert_array_equal(apply_kernel(img, "identity"), img)
    t = nr.tensor(rand_image((3, 6, 5)))
    out = apply_kernel(t, KERNELS["identity"])
    assert isinstance(out, nr.Tensor) and out.shape == (3, 6, 5)
    np.testing.assert_array_equal(out.numpy(), t.numpy())


def test_sobel_responds_at_a_step_edge_only():
    img = step_image()
    gx = apply_kernel(img, "sobel_x", padding_mode="replicate")
    gy = apply_kernel(img, "sobel_y", padding_mode="replicate")
    # the step sits between columns 4 and 5: both see (1 + 2 + 1) * (1 - 0) = 4
    expected = np.zeros_like(img)
    expected[:, 4:6] = 4.0
    np.testing.assert_array_equal(gx, expected)
    np.testing.assert_array_equal(gy, 0)
    # rotated: sobel_y finds it, sobel_x doesn't
    np.testing.assert_array_equal(apply_kernel(img.T, "sobel_y", padding_mode="replicate"),
                                  expected.T)
    mag = vision.edge_magnitude(img)
    np.testing.assert_allclose(mag, expected)
    # a Laplacian sees both sides of the edge with opposite signs, nothing elsewhere
    lap = apply_kernel(img, "laplacian_4", padding_mode="replicate")
    assert (lap[:, 4] < 0).all() and (lap[:, 5] > 0).all()
    assert np.abs(np.delete(lap, [4, 5], axis=1)).max() == 0


@pytest.mark.parametrize("name", ["box_blur", "gaussian_blur_3x3", "gaussian_blur_5x5"])
def test_blur_preserves_the_mean(name):
    img = rand_image((3, 16, 12), seed=1)
    out = apply_kernel(img, name, padding_mode="circular")      # no border loss
    np.testing.assert_allclose(out.mean(axis=(1, 2)), img.mean(axis=(1, 2)), rtol=1e-5)
    assert out.std() < img.std()                                   # and it smooths
    flat = np.full((9, 9), 0.25, np.float32)
    np.testing.assert_allclose(apply_kernel(flat, name, padding_mode="replicate"), flat,
                               rtol=1e-6)


def test_kernel_table():
    expected = {"identity", "laplacian_4", "laplacian_8", "sobel_x", "sobel_y", "prewitt_x",
                "prewitt_y", "box_blur", "gaussian_blur_3x3", "gaussian_blur_5x5", "sharpen",
                "emboss", "outline", "edge_detect"}
    assert expected <= set(KERNELS)
    for name, k in KERNELS.items():
        assert k.dtype == np.float32 and k.ndim == 2 and k.shape[0] % 2 == 1
        assert not k.flags.writeable, name
    for name in ("box_blur", "gaussian_blur_3x3", "gaussian_blur_5x5", "sharpen", "identity"):
        assert KERNELS[name].sum() == pytest.approx(1.0)
    for name in ("laplacian_4", "laplacian_8", "sobel_x", "sobel_y", "prewitt_x", "outline"):
        assert KERNELS[name].sum() == 0
    with pytest.raises(KeyError, match="sobel_x"):
        apply_kernel(np.zeros((4, 4)), "sobol")
    with pytest.raises(ValueError, match="2-d"):
        apply_kernel(np.zeros((4, 4)), np.ones(3))
    with pytest.raises(ValueError, match="channels_last"):
        apply_kernel(np.zeros((8, 9, 10)), "identity")


_SCIPY_MODES = {"zeros": "constant", "reflect": "mirror", "replicate": "nearest",
                "circular": "wrap"}


@pytest.mark.parametrize("mode", list(_SCIPY_MODES))
def test_apply_kernel_matches_scipy_correlate(mode):
    img = rand_image((11, 13), seed=2)
    for name, k in KERNELS.items():
        ours = apply_kernel(img, name, padding_mode=mode)
        ref = scipy.ndimage.correlate(img.astype(np.float64), k.astype(np.float64),
                                      mode=_SCIPY_MODES[mode], cval=0.0)
        assert ours.shape == img.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref, atol=1e-5, err_msg=f"{name} / {mode}")


def test_apply_kernel_colour_layouts_and_valid_padding_match_torch():
    chw = rand_image((3, 10, 12), seed=3)
    k = KERNELS["sharpen"]
    ref = torch.nn.functional.conv2d(torch.from_numpy(chw)[:, None],
                                     torch.from_numpy(np.array(k))[None, None],
                                     padding=1)[:, 0].numpy()
    np.testing.assert_allclose(apply_kernel(chw, k), ref, atol=1e-5)
    hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
    np.testing.assert_allclose(apply_kernel(hwc, k), ref.transpose(1, 2, 0), atol=1e-5)
    valid = apply_kernel(chw, "gaussian_blur_5x5", padding="valid")
    assert valid.shape == (3, 6, 8)
    ref = torch.nn.functional.conv2d(torch.from_numpy(chw)[:, None],
                                     torch.from_numpy(np.array(KERNELS["gaussian_blur_5x5"]))
                                     [None, None])[:, 0].numpy()
    np.testing.assert_allclose(valid, ref, atol=1e-6)
    # uint8 pixels are scaled to [0, 1] first
    u8 = (chw * 255).round().astype(np.uint8)
    np.testing.assert_allclose(apply_kernel(u8, "identity"), u8 / np.float32(255), atol=1e-7)
    # an even kernel with 'same' keeps the size (extra padding at the bottom/right)
    even = np.ones((2, 2), np.float32)
    out = apply_kernel(chw[0], even)
    ref = scipy.ndimage.correlate(chw[0], even, mode="constant", origin=-1)
    assert out.shape == chw[0].shape
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_numpy_fallback_matches_the_conv2d_path(monkeypatch):
    img = rand_image((3, 9, 8), seed=4)
    windows = _correlate_numpy(np.pad(img, [(0, 0), (1, 1), (1, 1)], mode="reflect"),
                               KERNELS["emboss"])
    np.testing.assert_allclose(windows, apply_kernel(img, "emboss", padding_mode="reflect"),
                               atol=1e-5)
    with_conv = {(m, k): apply_kernel(img, k, padding_mode=m)
                 for m in _SCIPY_MODES for k in ("emboss", "gaussian_blur_5x5")}
    if hasattr(F, "conv2d"):
        monkeypatch.delattr(F, "conv2d")
    for (mode, k), ref in with_conv.items():
        out = apply_kernel(img, k, padding_mode=mode)
        assert out.dtype == np.float32 and out.shape == img.shape
        np.testing.assert_allclose(out, ref, atol=1e-5)
    out = apply_kernel(nr.tensor(img), "emboss", padding_mode="reflect")
    assert isinstance(out, nr.Tensor)
    np.testing.assert_allclose(out.numpy(), with_conv["reflect", "emboss"], atol=1e-5)
    hwc = apply_kernel(img.transpose(1, 2, 0), "emboss", padding_mode="reflect")
    np.testing.assert_allclose(hwc, with_conv["reflect", "emboss"].transpose(1, 2, 0),
                               atol=1e-5)


def test_apply_kernel_is_differentiable_through_conv2d():
    if not hasattr(F, "conv2d"):
        pytest.skip("F.conv2d has not landed yet: apply_kernel uses the NumPy fallback")
    x = rand_image((6, 7, 3), seed=5).astype(np.float64)
    ours = nr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    k = KERNELS["sobel_x"].astype(np.float64)
    out = apply_kernel(ours, k, channels_last=True)
    assert out.shape == (6, 7, 3)
    (out * out).sum().backward()
    ref = torch.nn.functional.conv2d(theirs.permute(2, 0, 1)[:, None],
                                     torch.from_numpy(k)[None, None], padding=1)
    (ref * ref).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref[:, 0].permute(1, 2, 0).detach().numpy(),
                               atol=1e-10)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-10)


# ============================================================================ image files

def test_load_and_save_image(tmp_path):
    rgb = (np.random.default_rng(0).random((5, 7, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    img = vision.load_image(tmp_path / "a.png")
    assert img.dtype == np.float32 and img.shape == (5, 7, 3)
    np.testing.assert_allclose(img, rgb / 255, atol=1e-7)
    chw = vision.load_image(tmp_path / "a.png", channels_first=True)
    np.testing.assert_array_equal(chw, img.transpose(2, 0, 1))
    gray = vision.load_image(tmp_path / "a.png", gray=True)
    assert gray.shape == (5, 7)
    np.testing.assert_allclose(gray, np.asarray(Image.fromarray(rgb).convert("L")) / 255,
                               atol=1e-7)
    Image.fromarray(np.dstack([rgb, np.full((5, 7), 9, np.uint8)])).save(tmp_path / "rgba.png")
    assert vision.load_image(tmp_path / "rgba.png").shape == (5, 7, 3)   # alpha dropped

    # in-range floats: saved as round(x * 255); the round trip is exact for 8-bit values
    vision.save_image(img, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), rgb)
    vision.save_image(nr.tensor(chw), tmp_path / "c.png")                  # (C, H, W) tensor
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), rgb)
    # an edge map with negative values is stretched to 0..255 by its min and max
    edges = apply_kernel(gray, "laplacian_8")
    path = vision.save_image(edges, tmp_path / "sub" / "edges.png")
    saved = np.asarray(Image.open(path))
    assert saved.min() == 0 and saved.max() == 255 and saved.shape == (5, 7)
    np.testing.assert_array_equal(saved, np.rint((edges - edges.min()) /
                                                 (edges.max() - edges.min()) * 255))
    # normalize=False clips instead
    clipped = vision.to_image_array(edges, normalize=False)
    np.testing.assert_array_equal(clipped, np.rint(np.clip(edges, 0, 1) * 255))
    vision.save_image(img, tmp_path / "d.jpg")                             # format from name
    assert Image.open(tmp_path / "d.jpg").format == "JPEG"
    with pytest.raises(ValueError, match="format"):
        vision.save_image(img, tmp_path / "e.unknown")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]    # no leftovers


# ============================================================================ transforms

def pil_rgb(h=6, w=8, seed=0):
    arr = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr), arr


def test_to_tensor():
    img, arr = pil_rgb()
    t = T.ToTensor()(img)
    assert isinstance(t, nr.Tensor) and t.shape == (3, 6, 8) and t.dtype == nr.float32
    np.testing.assert_allclose(t.numpy(), arr.transpose(2, 0, 1) / 255, atol=1e-7)
    np.testing.assert_array_equal(T.ToTensor()(arr).numpy(), t.numpy())
    g = T.ToTensor()(img.convert("L"))
    assert g.shape == (1, 6, 8) and 0 <= float(g.min()) and float(g.max()) <= 1
    f64 = np.random.default_rng(1).random((4, 5, 2))
    t64 = T.ToTensor()(f64)                            # non-uint8: values and dtype kept
    assert t64.dtype == nr.float64
    np.testing.assert_array_equal(t64.numpy(), f64.transpose(2, 0, 1))
    assert T.ToTensor()(t) is t                        # float tensors pass through
    u8 = T.ToTensor()(nr.tensor(arr.transpose(2, 0, 1).copy()))
    np.testing.assert_allclose(u8.numpy(), t.numpy(), atol=1e-7)
    with pytest.raises(TypeError):
        T.ToTensor()([1, 2, 3])
    back = T.ToPILImage()(t)
    np.testing.assert_array_equal(np.asarray(back), arr)


def test_normalize():
    x = nr.tensor(rand_image((3, 4, 5)))
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    out = T.Normalize(mean, std)(x)
    ref = (x.numpy() - np.array(mean, np.float32)[:, None, None]) / \
        np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    assert out.dtype == nr.float32
    batch = nr.tensor(rand_image((2, 3, 4, 5)))                     # (N, C, H, W) too
    np.testing.assert_allclose(T.Normalize(mean, std)(batch).numpy()[1],
                               T.Normalize(mean, std)(batch[1]).numpy(), rtol=1e-6)
    g = nr.tensor(rand_image((3, 2, 2)), requires_grad=True)
    T.Normalize(mean, std)(g).sum().backward()
    np.testing.assert_allclose(g.grad.numpy()[:, 0, 0], 1 / np.array(std), rtol=1e-6)
    with pytest.raises(ValueError, match="zero"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match="channels"):
        T.Normalize(mean[:2], std[:2])(x)
    with pytest.raises(TypeError, match="ToTensor"):
        T.Normalize(mean, std)(pil_rgb()[0])


def windows_of(padded, th, tw):
    """Every (top, left) where ``out`` could have come from."""
    h, w = padded.shape[-2:]
    return [(i, j) for i in range(h - th + 1) for j in range(w - tw + 1)]


def test_random_crop_with_padding_lands_inside_the_padded_image():
    x = rand_image((3, 32, 32), seed=6) + 1.0               # > 0, so padding (0) shows
    crop = T.RandomCrop(32, padding=4, generator=gen(0))
    padded = np.pad(x, [(0, 0), (4, 4), (4, 4)])
    seen = set()
    for _ in range(300):
        out = crop(nr.tensor(x)).numpy()
        assert out.shape == (3, 32, 32)
        hits = [(i, j) for i, j in windows_of(padded, 32, 32)
                if np.array_equal(padded[:, i:i + 32, j:j + 32], out)]
        assert len(hits) == 1
        seen.add(hits[0])
    tops = {i for i, _ in seen}
    lefts = {j for _, j in seen}
    assert tops == set(range(9)) and lefts == set(range(9))     # offsets 0..8, both ends


def test_random_crop_is_seeded_and_pil_matches_tensor():
    img, arr = pil_rgb(10, 12)
    chw = arr.transpose(2, 0, 1).copy()
    assert np.asarray(T.RandomCrop((5, 7), padding=2, generator=gen(3))(img)).shape == (5, 7, 3)
    pil_crops = []
    g = gen(7)
    t = T.RandomCrop((5, 7), padding=(1, 2), generator=g)
    for _ in range(20):
        pil_crops.append(np.asarray(t(img)))
    g.manual_seed(7)
    arr_crops = [t(chw).transpose(1, 2, 0) for _ in range(20)]        # NumPy (C, H, W)
    for p, q in zip(pil_crops, arr_crops):
        np.testing.assert_array_equal(p, q)
    assert len({c.tobytes() for c in pil_crops}) > 1
    # the global generator: manual_seed makes it repeat
    nr.manual_seed(11)
    first = [T.RandomCrop(4)(nr.tensor(chw)).numpy() for _ in range(5)]
    nr.manual_seed(11)
    again = [T.RandomCrop(4)(nr.tensor(chw)).numpy() for _ in range(5)]
    for p, q in zip(first, again):
        np.testing.assert_array_equal(p, q)


def test_padding_forms_and_modes():
    x = rand_image((2, 3, 4), seed=8)
    out = T.pad(x, (1, 2, 3, 4))                             # left, top, right, bottom
    assert out.shape == (2, 3 + 2 + 4, 4 + 1 + 3)
    np.testing.assert_array_equal(out[:, 2:5, 1:5], x)
    assert out[:, :2].sum() == 0 and out[:, :, :1].sum() == 0
    np.testing.assert_array_equal(T.pad(x, (1, 2)), np.pad(x, [(0, 0), (2, 2), (1, 1)]))
    np.testing.assert_array_equal(T.pad(x, 2), np.pad(x, [(0, 0), (2, 2), (2, 2)]))
    for mode in ("edge", "reflect", "symmetric"):
        np.testing.assert_array_equal(T.pad(x, (1, 2), padding_mode=mode),
                                      np.pad(x, [(0, 0), (2, 2), (1, 1)], mode=mode))
    filled = T.pad(x, 1, fill=(5, 7))                        # one fill per channel
    assert filled[0, 0, 0] == 5 and filled[1, 0, 0] == 7
    img, arr = pil_rgb(3, 4)
    p = T.pad(img, (1, 2), fill=(9, 8, 7))
    assert p.size == (4 + 2, 3 + 4) and p.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(p)[0, 0], [9, 8, 7])
    np.testing.assert_array_equal(np.asarray(p)[2:5, 1:5], arr)
    with pytest.raises(ValueError, match="padding"):
        T.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")


def test_random_crop_pad_if_needed_and_errors():
    x = nr.tensor(rand_image((1, 20, 24), seed=9) + 1)
    out = T.RandomCrop(32, pad_if_needed=True, generator=gen(0))(x)
    assert out.shape == (1, 32, 32)
    # torchvision pads both sides by the shortfall: width 24 -> 40, height 20 -> 44
    assert float((out.numpy() > 0).mean()) < 1
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(32)(x)
    same = T.RandomCrop((20, 24))(x)                           # the whole image
    np.testing.assert_array_equal(same.numpy(), x.numpy())
    i, j, h, w = T.RandomCrop.get_params(x, (5, 6), gen(1))
    assert 0 <= i <= 15 and 0 <= j <= 18 and (h, w) == (5, 6)


def test_center_crop():
    x = np.arange(5 * 5, dtype=np.float32).reshape(1, 5, 5)
    # torchvision: top = int(round((5 - 2) / 2.0)) = round(1.5) = 2 (round half to even)
    np.testing.assert_array_equal(T.CenterCrop(2)(x), x[:, 2:4, 2:4])
    np.testing.assert_array_equal(T.CenterCrop(3)(x), x[:, 1:4, 1:4])
    np.testing.assert_array_equal(T.CenterCrop((1, 4))(x), x[:, 2:3, 0:4])
    big = T.CenterCrop(8)(x)                                   # larger: zeros around
    assert big.shape == (1, 8, 8)
    np.testing.assert_array_equal(big[:, 1:6, 1:6], x)         # pad (8-5)//2 = 1 first
    assert big.sum() == x.sum()
    img, arr = pil_rgb(7, 9)
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(4)(img)),
                                  T.CenterCrop(4)(arr.transpose(2, 0, 1)).transpose(1, 2, 0))


def test_horizontal_flip():
    img, arr = pil_rgb()
    chw = nr.tensor(arr.transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(chw).numpy(),
                                  chw.numpy()[:, :, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(chw) is chw
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(img)), arr[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(1.0)(img)), arr[::-1])
    flips = [T.RandomHorizontalFlip(generator=g)(chw) is not chw
             for g in [gen(0)] for _ in range(400)]
    assert 0.4 < np.mean(flips) < 0.6
    f = T.RandomHorizontalFlip(generator=gen(5))
    a = [f(chw) is chw for _ in range(30)]
    f.generator.manual_seed(5)
    assert a == [f(chw) is chw for _ in range(30)]


def test_resize():
    img, arr = pil_rgb(20, 40)
    out = T.Resize(10)(img)                                   # smaller edge -> 10
    assert out.size == (20, 10)
    assert T.Resize((5, 7))(img).size == (7, 5)
    assert T.Resize(10, max_size=15)(img).size == (15, 7)
    tall = T.Resize(8)(np.zeros((3, 30, 12), np.float32))
    assert tall.shape == (3, 20, 8)
    chw = arr.transpose(2, 0, 1).astype(np.float32) / 255
    t = T.Resize(10)(nr.tensor(chw))                          # tensors: Pillow per channel
    assert isinstance(t, nr.Tensor) and t.shape == (3, 10, 20) and t.dtype == nr.float32
    np.testing.assert_allclose(t.numpy(), np.asarray(out).transpose(2, 0, 1) / 255,
                               atol=1.5 / 255)
    u8 = T.Resize((10, 20), interpolation=T.InterpolationMode.NEAREST)(arr.transpose(2, 0, 1))
    assert u8.dtype == np.uint8
    # Pillow samples pixel centres: output i reads input floor((i + 0.5) * 2) = 2i + 1
    np.testing.assert_array_equal(u8, arr.transpose(2, 0, 1)[:, 1::2, 1::2])


def test_compose_and_lambda():
    img, arr = pil_rgb(8, 8)
    tf = T.Compose([T.CenterCrop(6), T.RandomHorizontalFlip(p=1.0), T.ToTensor(),
                    T.Lambda(lambda t: t * 2)])
    out = tf(img)
    np.testing.assert_allclose(out.numpy(), arr[1:7, 1:7][:, ::-1].transpose(2, 0, 1) / 255 * 2,
                               atol=1e-6)
    assert "CenterCrop" in repr(tf) and "ToTensor" in repr(tf)
    with pytest.raises(TypeError):
        T.Lambda(3)


def test_random_crop_batch():
    x = rand_image((64, 3, 8, 8), seed=10) + 1.0
    g = gen(0)
    out = T.random_crop_batch(x, 8, padding=2, generator=g)
    assert isinstance(out, np.ndarray) and out.shape == (64, 3, 8, 8) and out.dtype == x.dtype
    padded = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)])
    offsets = []
    for n in range(64):
        hits = [(i, j) for i, j in windows_of(padded[n], 8, 8)
                if np.array_equal(padded[n, :, i:i + 8, j:j + 8], out[n])]
        assert len(hits) == 1, n
        offsets.append(hits[0])
    assert len(set(offsets)) > 10                              # one draw per image
    assert {i for i, _ in offsets} == set(range(5))
    g.manual_seed(0)
    np.testing.assert_array_equal(T.random_crop_batch(x, 8, padding=2, generator=g), out)
    t = T.random_crop_batch(nr.tensor(x), (4, 6), generator=gen(1))   # no padding
    assert isinstance(t, nr.Tensor) and t.shape == (64, 3, 4, 6)
    np.testing.assert_array_equal(T.random_crop_batch(x, 8), x)    # nothing to choose
    rep = T.random_crop_batch(x, 8, padding=2, padding_mode="edge", generator=gen(2))
    assert rep.min() >= 1.0                                        # edge padding, no zeros
    with pytest.raises(ValueError, match="N, C, H, W"):
        T.random_crop_batch(x[0], 4)
    with pytest.raises(ValueError, match="larger"):
        T.random_crop_batch(x, 9)


def test_random_flip_batch():
    x = rand_image((200, 2, 3, 4), seed=11)
    out = T.random_flip_batch(x, generator=gen(0))
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped ^ kept).all()                                  # each: one or the other
    assert 0.35 < flipped.mean() < 0.65
    np.testing.assert_array_equal(T.random_flip_batch(x, generator=gen(0)), out)
    np.testing.assert_array_equal(T.random_flip_batch(x, p=0.0), x)
    np.testing.assert_array_equal(T.random_flip_batch(x, p=1.0), x[..., ::-1])
    np.testing.assert_array_equal(T.random_flip_batch(x, p=1.0, dim=-2), x[..., ::-1, :])
    t = T.random_flip_batch(nr.tensor(x), generator=gen(0))
    assert isinstance(t, nr.Tensor)
    np.testing.assert_array_equal(t.numpy(), out)
    assert x.flags.writeable and not np.shares_memory(out, x)


# ============================================================================ CIFAR-10

def py2_pickle(obj) -> bytes:
    """``obj`` pickled as Python 2's cPickle wrote the official CIFAR files (protocol 2):
    strings as BINSTRING, NumPy arrays through numpy.core.multiarray._reconstruct with the
    raw bytes as a string and the dtype state (3, '|', None, None, None, -1, -1, 0)."""
    out = bytearray(b"\x80\x02")

    def string(b: bytes):
        out.extend(b"U" + bytes([len(b)]) + b if len(b) < 256
                   else b"T" + struct.pack("<i", len(b)) + b)

    def integer(n: int):
        if 0 <= n < 256:
            out.extend(b"K" + bytes([n]))
        elif 0 <= n < 65536:
            out.extend(b"M" + struct.pack("<H", n))
        else:
            out.extend(b"J" + struct.pack("<i", n))

    def write(o):
        if isinstance(o, dict):
            out.extend(b"}(")
            for k, v in o.items():
                write(k)
                write(v)
            out.extend(b"u")
        elif isinstance(o, list):
            out.extend(b"](")
            for v in o:
                write(v)
            out.extend(b"e")
        elif isinstance(o, str):
            string(o.encode("latin1"))
        elif isinstance(o, bytes):
            string(o)
        elif isinstance(o, (int, np.integer)):
            integer(int(o))
        elif isinstance(o, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
            integer(0)
            out.extend(b"\x85")
            string(b"b")
            out.extend(b"\x87R(")
            integer(1)
            for d in o.shape:
                integer(d)
            out.extend({1: b"\x85", 2: b"\x86"}[o.ndim])
            out.extend(b"cnumpy\ndtype\n")
            string(o.dtype.str[1:].encode())
            integer(0)
            integer(1)
            out.extend(b"\x87R(")
            integer(3)
            string(b"|")
            out.extend(b"NNN")
            out.extend(b"J" + struct.pack("<i", -1) + b"J" + struct.pack("<i", -1))
            integer(0)
            out.extend(b"tb\x89")
            string(o.tobytes())
            out.extend(b"tb")
        else:
            raise TypeError(type(o))

    write(obj)
    out.extend(b".")
    return bytes(out)


def cifar_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def write_cifar(folder, sizes=(3, 2, 4, 1, 2), test=3, py3=False):
    """A cifar-10-batches-py folder with tiny batches; returns (train X rows, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = (lambda o: pickle.dumps(o, protocol=2)) if py3 else py2_pickle
    rows, labels = [], []
    for b, n in enumerate(sizes, 1):
        x = cifar_images(n, b)
        y = [(b * 3 + i) % 10 for i in range(n)]
        rows.append(x)
        labels += y
        (folder / f"data_batch_{b}").write_bytes(dump(
            {"batch_label": f"training batch {b} of 5", "labels": y, "data": x,
             "filenames": [f"img_{b}_{i}.png" for i in range(n)]}))
    (folder / "test_batch").write_bytes(dump(
        {"batch_label": "testing batch 1 of 1", "labels": [9, 0, 5][:test],
         "data": cifar_images(test, 99), "filenames": ["t.png"] * test}))
    (folder / "batches.meta").write_bytes(dump(
        {"num_cases_per_batch": 10000, "label_names": CIFAR10_CLASSES, "num_vis": 3072}))
    return np.concatenate(rows), labels


def test_py2_writer_is_a_faithful_pickle():
    obj = {"data": cifar_images(2, 0), "labels": [1, 2], "batch_label": "x"}
    blob = py2_pickle(obj)
    pickletools.dis(blob, out=io.StringIO())                   # well-formed
    plain = pickle.loads(blob, encoding="latin1")              # what torchvision does
    np.testing.assert_array_equal(plain["data"], obj["data"])
    ours = safe_unpickle(blob)
    np.testing.assert_array_equal(ours["data"], obj["data"])
    assert ours["labels"] == [1, 2] and ours["batch_label"] == "x"


@pytest.mark.parametrize("py3", [False, True])
def test_cifar10_reads_the_official_format(tmp_path, py3):
    rows, labels = write_cifar(tmp_path / "cifar-10-batches-py", py3=py3)
    ds = CIFAR10(tmp_path, train=True)
    assert len(ds) == 12 and ds.data.shape == (12, 32, 32, 3) and ds.data.dtype == np.uint8
    assert ds.targets == labels and all(type(t) is int for t in ds.targets)
    assert ds.classes == CIFAR10_CLASSES and ds.class_to_idx["truck"] == 9
    # row layout: 1024 red values, then green, then blue, each 32x32 row-major
    r = rows[5]
    assert ds.data[5, 3, 7, 0] == r[3 * 32 + 7]
    assert ds.data[5, 3, 7, 1] == r[1024 + 3 * 32 + 7]
    assert ds.data[5, 31, 0, 2] == r[2048 + 31 * 32]
    img, label = ds[5]
    assert isinstance(img, nr.Tensor) and img.shape == (3, 32, 32) and img.dtype == nr.float32
    np.testing.assert_allclose(img.numpy(), ds.data[5].transpose(2, 0, 1) / 255, atol=1e-7)
    assert label == labels[5]
    xb, yb = next(iter(DataLoader(ds, batch_size=5, shuffle=True, generator=gen(0))))
    assert xb.shape == (5, 3, 32, 32) and yb.dtype == nr.int64
    idx = np.array([4, 0, 11])
    fast = ds.get_batch(idx)
    slow = default_collate([ds[int(i)] for i in idx])
    np.testing.assert_array_equal(fast[0].numpy(), slow[0].numpy())
    np.testing.assert_array_equal(fast[1].numpy(), slow[1].numpy())
    test = CIFAR10(tmp_path, train=False)
    assert len(test) == 3 and test.targets == [9, 0, 5]
    X, y = datasets.cifar10_arrays(tmp_path, train=False)
    assert X.shape == (3, 3, 32, 32) and X.dtype == nr.float32 and y.dtype == nr.int64
    assert "Number of datapoints: 12" in repr(ds)


def test_cifar10_transforms_and_folders(tmp_path):
    write_cifar(tmp_path / "cifar10" / "cifar-10-batches-py")
    tf = T.Compose([T.RandomCrop(32, padding=4, generator=gen(0)), T.RandomHorizontalFlip(),
                    T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)])
    ds = CIFAR10(tmp_path, transform=tf, target_transform=lambda y: y + 100)
    img, label = ds[0]
    assert img.shape == (3, 32, 32) and label >= 100 and float(img.min()) < 0
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 3, 32, 32) and int(yb.numpy().min()) >= 100
    flat = tmp_path / "flat"                                  # the files right in root
    write_cifar(flat)
    assert len(CIFAR10(flat)) == 12
    (flat / "batches.meta").unlink()                          # meta missing: default names
    assert CIFAR10(flat).classes == CIFAR10_CLASSES
    with pytest.raises(FileNotFoundError, match="download=True"):
        CIFAR10(tmp_path / "nothing")


def test_cifar10_bad_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    good = (folder / "data_batch_2").read_bytes()
    (folder / "data_batch_2").write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetFileError, match="data_batch_2"):
        CIFAR10(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps({"images": [1]}))
    with pytest.raises(DatasetFileError, match="'data'"):
        CIFAR10(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps(
        {"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}))
    with pytest.raises(DatasetFileError, match="3072"):
        CIFAR10(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps(
        {"data": np.zeros((2, 3072), np.uint8), "labels": [0]}))
    with pytest.raises(DatasetFileError, match="2 images but 1 labels"):
        CIFAR10(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps(
        {"data": np.zeros((1, 3072), np.uint8), "labels": [10]}))
    with pytest.raises(DatasetFileError, match="out of range"):
        CIFAR10(tmp_path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"data": _Evil(marker), "labels": [0]}, protocol=2)
    with pytest.raises(DatasetFileError, match="refusing to load the global .*system"):
        safe_unpickle(evil)
    assert not marker.exists()
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "data_batch_3").write_bytes(evil)
    with pytest.raises(DatasetFileError, match="data_batch_3.*refusing"):
        CIFAR10(tmp_path)
    assert not marker.exists()
    # other ways in: any global function, an object array, a non-latin-1 codec
    with pytest.raises(DatasetFileError, match="builtins.eval"):
        safe_unpickle(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.")
    with pytest.raises(DatasetFileError, match="object"):
        safe_unpickle(pickle.dumps(np.array([1, "a"], dtype=object), protocol=2))
    with pytest.raises(DatasetFileError, match="encoding"):
        safe_unpickle(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13"
                      b"\x86R.")
    with pytest.raises(DatasetFileError):
        safe_unpickle(pickle.dumps(np.float64(1.5)))        # a NumPy scalar: a global too
    # plain data and numeric arrays from any protocol load
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        a = np.arange(12, dtype=np.int32).reshape(3, 4)
        out = safe_unpickle(pickle.dumps({"a": a, "b": [b"x", 1.5, None]}, protocol=protocol))
        np.testing.assert_array_equal(out["a"], a)
        assert out["b"] == [b"x", 1.5, None]


def make_tgz(path, folder_with_files, extra=None):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder_with_files, arcname="cifar-10-batches-py")
        for info, data in (extra or []):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_cifar10_download_checks_md5_and_extracts(tmp_path, monkeypatch):
    src = tmp_path / "src" / "cifar-10-batches-py"
    write_cifar(src)
    server = tmp_path / "server"
    server.mkdir()
    archive = make_tgz(server / "cifar-10-python.tar.gz", src)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(CIFAR10, "url", server.as_uri() + "/cifar-10-python.tar.gz")

    root = tmp_path / "data"
    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)              # not what is served
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        CIFAR10(root, download=True)
    assert not (root / "cifar-10-batches-py").exists()
    assert not [p for p in root.iterdir() if p.name.endswith(".part")]

    monkeypatch.setattr(CIFAR10, "tgz_md5", md5)
    ds = CIFAR10(root, download=True)
    assert len(ds) == 12 and (root / "cifar-10-python.tar.gz").is_file()
    assert sorted(p.name for p in (root / "cifar-10-batches-py").iterdir()) == sorted(
        p.name for p in src.iterdir())
    archive.unlink()                                          # already there: no fetch
    assert len(CIFAR10(root, train=False, download=True)) == 3
    entry = {e["name"]: e for e in datasets.available(root)}["cifar10"]
    assert entry["ready"] and "cifar-10-batches-py" in entry["location"]


def test_tar_extraction_refuses_paths_outside(tmp_path, monkeypatch):
    src = tmp_path / "src" / "cifar-10-batches-py"
    write_cifar(src)
    for name, kind in [("../evil", tarfile.REGTYPE), ("/abs/evil", tarfile.REGTYPE),
                       ("cifar-10-batches-py/../../evil", tarfile.REGTYPE),
                       ("cifar-10-batches-py/link", tarfile.SYMTYPE)]:
        info = tarfile.TarInfo(name)
        info.type = kind
        data = b"gotcha"
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
            data = None
        else:
            info.size = len(data)
        archive = make_tgz(tmp_path / "bad.tar.gz", src, [(info, data)])
        root = tmp_path / f"root{abs(hash(name))}"
        root.mkdir()
        (root / "cifar-10-python.tar.gz").write_bytes(archive.read_bytes())
        monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
        with pytest.raises(DatasetFileError, match="refusing the member"):
            CIFAR10(root, download=True)
        assert not (tmp_path / "evil").exists() and not (root.parent / "evil").exists()


# ============================================================================ ImageFolder

def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_folder(root, size=(6, 5)):
    """root/cat/{a.png,b.jpg}, root/dog/{c.png,D.PNG,notes.txt,sub/e.png} and clutter."""
    rng = np.random.default_rng(0)
    px = {}
    for rel in ["cat/a.png", "dog/c.png", "dog/D.PNG", "dog/sub/e.png"]:
        arr = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        write_png(root / rel, arr)
        px[rel] = arr
    Image.fromarray(np.full(size + (3,), 200, np.uint8)).save(root / "cat" / "b.jpg",
                                                               quality=95)
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    write_png(root / ".hidden" / "x.png", px["cat/a.png"])
    (root / "README").write_text("top-level file")
    return px


def test_image_folder_classes_samples_and_items(tmp_path):
    px = make_folder(tmp_path / "imgs")
    ds = ImageFolder(tmp_path / "imgs")
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    rel = [os.path.relpath(p, tmp_path / "imgs") for p, _ in ds.samples]
    assert rel == ["cat/a.png", "cat/b.jpg", "dog/D.PNG", "dog/c.png", "dog/sub/e.png"]
    assert ds.targets == [0, 0, 1, 1, 1] and ds.imgs == ds.samples and len(ds) == 5
    img, label = ds[3]
    assert isinstance(img, nr.Tensor) and img.shape == (3, 6, 5) and img.dtype == nr.float32
    np.testing.assert_allclose(img.numpy(), px["dog/c.png"].transpose(2, 0, 1) / 255, atol=1e-7)
    assert label == 1
    jpg, _ = ds[1]
    np.testing.assert_allclose(jpg.numpy(), 200 / 255, atol=3 / 255)       # lossy
    # a transform gets the PIL image (torchvision's behaviour)
    seen = []
    ds2 = ImageFolder(tmp_path / "imgs", transform=T.Lambda(lambda im: seen.append(im) or 0),
                      target_transform=lambda y: -y)
    assert ds2[2] == (0, -1) and isinstance(seen[0], Image.Image) and seen[0].mode == "RGB"
    only_png = ImageFolder(tmp_path / "imgs", is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 3
    assert len(ImageFolder(tmp_path / "imgs", extensions=(".jpg",), allow_empty=True)) == 1
    with pytest.raises(ValueError, match="not both"):
        ImageFolder(tmp_path / "imgs", extensions=(".png",), is_valid_file=lambda p: True)


def test_image_folder_grey_images_become_rgb(tmp_path):
    write_png(tmp_path / "g" / "a" / "x.png", np.arange(12, dtype=np.uint8).reshape(3, 4))
    ds = ImageFolder(tmp_path / "g")
    img, _ = ds[0]
    assert img.shape == (3, 3, 4)
    np.testing.assert_allclose(img.numpy()[1], np.arange(12).reshape(3, 4) / 255, atol=1e-7)
    gray = ImageFolder(tmp_path / "g", loader=lambda p: Image.open(p).convert("L"))
    assert gray[0][0].shape == (1, 3, 4)
    X, _ = gray.as_arrays("uint8")
    assert X.shape == (1, 3, 4, 1)


def test_image_folder_errors(tmp_path):
    make_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is no png")
    ds = ImageFolder(tmp_path / "imgs")
    bad = [i for i, (p, _) in enumerate(ds.samples) if p.endswith("broken.png")][0]
    with pytest.raises(DatasetFileError, match="broken.png"):
        ds[bad]
    with pytest.raises(DatasetFileError, match="broken.png"):
        ds.load_all()
    with pytest.raises(DatasetFileError, match="broken.png"):
        ImageFolder(tmp_path / "imgs", transform=T.ToTensor())[bad]
    (tmp_path / "imgs" / "dog" / "broken.png").unlink()
    (tmp_path / "imgs" / "empty").mkdir()
    (tmp_path / "imgs" / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match="empty"):
        ImageFolder(tmp_path / "imgs")
    assert ImageFolder(tmp_path / "imgs", allow_empty=True).classes == ["cat", "dog", "empty"]
    (tmp_path / "flat").mkdir()
    write_png(tmp_path / "flat" / "x.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="class folder.*sub-folder per"):
        ImageFolder(tmp_path / "flat")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "nowhere")
    write_png(tmp_path / "sizes" / "a" / "x.png", np.zeros((4, 4, 3), np.uint8))
    write_png(tmp_path / "sizes" / "a" / "y.png", np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(DatasetFileError, match="different sizes.*y.png"):
        ImageFolder(tmp_path / "sizes").as_arrays()
    resized = ImageFolder(tmp_path / "sizes", transform=T.Compose([T.Resize((3, 3)),
                                                                   T.ToTensor()]))
    xb, _ = next(iter(DataLoader(resized, batch_size=2)))
    assert xb.shape == (2, 3, 3, 3)


def zip_folder(folder, path, prefix):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for dirpath, _, files in os.walk(folder):
            for f in files:
                full = os.path.join(dirpath, f)
                z.write(full, prefix + "/" + os.path.relpath(full, folder).replace(os.sep, "/"))
    return path


def test_image_folder_from_a_zip(tmp_path):
    make_folder(tmp_path / "imgs")
    archive = zip_folder(tmp_path / "imgs", tmp_path / "imgs.zip", "train")
    folder = ImageFolder(tmp_path / "imgs")
    ds = ImageFolder(archive, subdir="train")
    assert ds.is_zip and ds.classes == folder.classes and ds.targets == folder.targets
    assert [os.path.basename(p) for p, _ in ds.samples] == \
        [os.path.basename(p) for p, _ in folder.samples]
    assert ds.samples[0][0] == os.path.join(str(archive), "train/cat/a.png")
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds[i][0].numpy(), folder[i][0].numpy())
    Xz, yz = ds.as_arrays()
    Xf, yf = folder.as_arrays()
    np.testing.assert_array_equal(Xz, Xf)
    np.testing.assert_array_equal(yz, yf)
    assert Xz.dtype == np.float32 and Xz.shape == (5, 3, 6, 5) and yz.dtype == np.int64
    X8, _ = ds.as_arrays("uint8")
    assert X8.dtype == np.uint8 and X8.shape == (5, 6, 5, 3)
    np.testing.assert_allclose(Xz, X8.transpose(0, 3, 1, 2) / 255, atol=1e-7)
    # a custom loader gets an open file
    opened = ImageFolder(archive, subdir="train",
                         loader=lambda f: Image.open(f).convert("RGB").rotate(180))
    np.testing.assert_array_equal(opened[0][0].numpy(), folder[0][0].numpy()[:, ::-1, ::-1])
    lazy = pickle.loads(pickle.dumps(ImageFolder(archive, subdir="train")))
    assert lazy[4][1] == 1
    with pytest.raises(FileNotFoundError, match="no folder 'test'"):
        ImageFolder(archive, subdir="test")
    (tmp_path / "broken.zip").write_bytes(zipfile.ZipFile(archive).read("train/cat/a.png"))
    with pytest.raises(FileNotFoundError, match="not a folder or a .zip"):
        ImageFolder(tmp_path / "broken.zip")


def test_image_folder_batches_fast_path(tmp_path):
    make_folder(tmp_path / "imgs")
    for load in (False, True):
        ds = ImageFolder(tmp_path / "imgs")
        if load:
            data, targets = ds.load_all()
            assert data.shape == (5, 6, 5, 3) and list(targets) == ds.targets
        idx = np.array([4, 1, 2])
        fast = ds.get_batch(idx)
        slow = default_collate([ds[int(i)] for i in idx])
        assert fast[0].shape == (3, 3, 6, 5) and fast[1].dtype == nr.int64
        np.testing.assert_array_equal(fast[0].numpy(), slow[0].numpy())
        np.testing.assert_array_equal(fast[1].numpy(), slow[1].numpy())
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 3, 6, 5)
    # after load_all, transforms still get PIL images
    ds.transform = T.Compose([T.RandomCrop(4, generator=gen(0)), T.ToTensor()])
    assert ds[0][0].shape == (3, 4, 4)
    xb, _ = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 3, 4, 4)


# ============================================================================ real data

@pytest.fixture(scope="module")
def cifar_jpg_dir():
    return shared_data_dir("cifar10-jpg")


def test_real_cifar10_jpg_archives(cifar_jpg_dir):
    train_zip = datasets.find_cifar10_jpg(cifar_jpg_dir, train=True)
    test_zip = datasets.find_cifar10_jpg(cifar_jpg_dir, train=False)
    assert train_zip is not None and test_zip is not None, \
        f"the CIFAR-10 JPEG zips are missing from {cifar_jpg_dir}"
    train = ImageFolder(train_zip, subdir="train")
    assert len(train) == 10_000 and train.classes == CIFAR10_CLASSES
    assert np.bincount(train.targets).tolist() == [1000] * 10
    X8, y = train.as_arrays("uint8")
    assert X8.shape == (10_000, 32, 32, 3) and X8.dtype == np.uint8 and y.dtype == np.int64
    assert 60 < X8.mean() < 200 and X8.std() > 30                      # real pictures
    img, label = train[1234]
    np.testing.assert_allclose(img.numpy(), X8[1234].transpose(2, 0, 1) / 255, atol=1e-7)
    assert label == 1
    X, y = datasets.cifar10_jpg(cifar_jpg_dir, train=False)
    assert X.shape == (10_000, 3, 32, 32) and X.dtype == nr.float32 and y.dtype == nr.int64
    assert float(X.min()) >= 0 and float(X.max()) <= 1
    assert np.bincount(y.numpy()).tolist() == [1000] * 10


def test_cifar10_jpg_is_found_without_a_root(cifar_jpg_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("NEURONA_DATA", raising=False)
    monkeypatch.chdir(tmp_path)                             # no ./data here
    found = datasets.find_cifar10_jpg(train=True)
    assert found is not None and found.resolve().parent == cifar_jpg_dir.resolve()
    monkeypatch.setenv("NEURONA_DATA", str(cifar_jpg_dir.parent))
    assert datasets.find_cifar10_jpg(train=False).resolve().parent == cifar_jpg_dir.resolve()
    entry = {e["name"]: e for e in datasets.available()}["cifar10-jpg"]
    assert entry["ready"], entry
    ds = datasets.cifar10_jpg_dataset(train=False, transform=T.ToTensor())
    assert ds[0][0].shape == (3, 32, 32)
    assert datasets.find_cifar10_jpg(tmp_path, train=True) is None
    with pytest.raises(FileNotFoundError, match="cifar10-jpg-train"):
        datasets.cifar10_jpg(tmp_path, train=True)
