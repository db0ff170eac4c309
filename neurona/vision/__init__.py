"""Images: the classic filters (what a convolution does to a picture), image files, and
torchvision-style transforms for data augmentation.

    from neurona import vision
    from neurona.vision import transforms as T

    img = vision.load_image("cat.png", gray=True)            # float32 (H, W) in [0, 1]
    vision.save_image(vision.apply_kernel(img, "sobel_x"), "edges.png")
    print(list(vision.KERNELS))                              # identity, sobel_x, sharpen...

    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()])
    xb = T.random_crop_batch(xb, 32, padding=4)              # a whole (N, C, H, W) batch
    xb = T.random_flip_batch(xb)

Image datasets (``CIFAR10``, ``ImageFolder``, ``cifar10_jpg``) live in
:mod:`neurona.datasets`; ``neurona.vision.datasets`` is the same module, under
torchvision's name.  Reading and writing image files needs Pillow
(``pip install 'neurona[vision]'``).
"""
from __future__ import annotations

from .. import datasets
from . import kernels, transforms
from .kernels import (KERNELS, apply_kernel, edge_magnitude, load_image, save_image,
                      to_image_array)
from .transforms import random_crop_batch, random_flip_batch

__all__ = ["datasets", "kernels", "transforms", "KERNELS", "apply_kernel", "edge_magnitude",
           "load_image", "save_image", "to_image_array", "random_crop_batch",
           "random_flip_batch"]
