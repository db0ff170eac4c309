"""What a convolution does to an image: the classic hand-made kernels, on a real photo.

    python examples/05_image_kernels.py [--image FILE] [--out DIR]

A convolutional layer slides small grids of weights -- kernels, or filters -- over its
input; each output pixel is the sum of the kernel's weights times the pixels under it:

    out[i, j] = sum_{u, v} k[u, v] * img[i + u - 1, j + v - 1]           (3x3 kernel)

Before a network learns its own kernels (LeNet-5 learns 6 of them in its first layer,
see 06_lenet5_mnist.py), hand-made ones show what such a filter can do: blur (weights
that average), sharpen (the centre minus its neighbours, added to the image), find
vertical or horizontal edges (Sobel: the right column minus the left one), or all edges
(the Laplacian).  The same 3x3 numbers are used at every position of the image: that is
*weight sharing*, why a convolution needs 9 weights where a fully-connected layer from
this image to one of the same size would need (H*W)^2.

The photo is scikit-learn's sample image ``china.jpg`` (it ships with scikit-learn), or
--image FILE; a handwritten digit from MNIST is filtered too when the MNIST files are
found.  The grids go to examples-output/05_kernels_*.png.
"""
import argparse
import os
import sys

try:
    import neurona  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np

import neurona as nr
from neurona import nn, viz
from neurona.vision import KERNELS, apply_kernel, edge_magnitude

SHOWN = ["identity", "box_blur", "gaussian_blur_5x5", "sharpen", "sobel_x", "sobel_y",
         "laplacian_8", "emboss"]
SIGNED = {"sobel_x", "sobel_y", "laplacian_8"}       # outputs of either sign, centred on 0


def the_photo(path=None) -> np.ndarray:
    """A colour photo as float32 (H, W, 3) in [0, 1]."""
    if path:
        from neurona.vision import load_image
        return load_image(path)
    from sklearn.datasets import load_sample_image
    img = load_sample_image("china.jpg")                  # uint8 (427, 640, 3)
    return img[::2, ::2].astype(np.float32) / 255         # half size: finer detail shows


def by_hand(gray: np.ndarray, kernel: np.ndarray, i: int, j: int) -> float:
    """One output pixel of a 3x3 convolution ('same' zero padding), written out."""
    padded = np.pad(gray, 1)
    patch = padded[i:i + 3, j:j + 3]                      # the 3x3 pixels around (i, j)
    return float((kernel * patch).sum())


def kernel_grid(image: np.ndarray, name: str, path: str) -> str:
    """The image filtered by each kernel of SHOWN (grey), plus the edge magnitude."""
    gray = image if image.ndim == 2 else image @ np.float32([0.299, 0.587, 0.114])
    images, titles, signed = [image], ["original"], [False]
    for k in SHOWN[1:]:
        filtered = apply_kernel(gray, k, padding_mode="replicate")
        images.append(filtered if k in SIGNED else filtered.clip(0, 1))
        titles.append(k)
        signed.append(k in SIGNED)
    images.append(edge_magnitude(gray))
    titles.append("edges: |sobel| (magnitude)")
    signed.append(False)
    if image.ndim == 3:                                   # colour: a kernel per channel
        images.append(apply_kernel(image, "sharpen", padding_mode="replicate").clip(0, 1))
        titles.append("sharpen, each colour channel")
        signed.append(False)
    else:
        images.append(apply_kernel(gray, "prewitt_x", padding_mode="replicate"))
        titles.append("prewitt_x")
        signed.append(True)
    return viz.plot_image_grid(images, path, titles=titles, ncols=5, symmetric=signed,
                               cell=2.6, suptitle=f"{name}: each kernel slid over the image "
                                                  "(blue negative, red positive)")


def main(image=None, data_dir=None, out="examples-output"):
    photo = the_photo(image)
    gray = photo @ np.float32([0.299, 0.587, 0.114])      # luminance, (H, W)
    print(f"photo: {photo.shape[1]}x{photo.shape[0]} pixels")
    for name in ("box_blur", "sharpen", "sobel_x", "laplacian_8"):
        print(f"{name}:\n{KERNELS[name]}")

    # one output pixel by hand, the whole image with apply_kernel (F.conv2d inside), and
    # an nn.Conv2d layer whose one filter is set to the kernel: the same numbers
    i, j = 100, 150
    k = KERNELS["sobel_x"]
    fast = apply_kernel(gray, k)
    conv = nn.Conv2d(1, 1, kernel_size=3, padding=1, bias=False)
    with nr.no_grad():
        conv.weight[...] = nr.tensor(k[None, None])      # (out, in, 3, 3)
        layer = conv(nr.tensor(gray[None, None])).numpy()[0, 0]
    print(f"sobel_x at pixel ({i}, {j}): by hand {by_hand(gray, k, i, j):+.4f}, "
          f"apply_kernel {fast[i, j]:+.4f}, nn.Conv2d {layer[i, j]:+.4f}")
    assert np.allclose(fast, layer, atol=1e-5)
    print(f"the layer has {conv.weight.numel()} weights for {gray.size:,} output pixels "
          f"(weight sharing); a fully-connected layer would need {gray.size ** 2:,}")

    written = [kernel_grid(photo, "china.jpg" if image is None else os.path.basename(image),
                           os.path.join(out, "05_kernels_photo.png"))]
    try:
        from neurona.cli import find_data_dir
        from neurona.datasets import MNIST
        digit = MNIST(find_data_dir(data_dir), train=False).data.numpy()[0] / np.float32(255)
        written.append(kernel_grid(digit.astype(np.float32), "an MNIST digit",
                                   os.path.join(out, "05_kernels_digit.png")))
    except FileNotFoundError:
        print("(MNIST not found: only the photo is filtered)")
    for path in written:
        print("wrote", path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", help="an image file (default: scikit-learn's china.jpg)")
    parser.add_argument("--data-dir", help="folder holding the MNIST files (or mnist/)")
    parser.add_argument("--out", default="examples-output", help="folder for the plots")
    args = parser.parse_args()
    main(args.image, args.data_dir, args.out)
