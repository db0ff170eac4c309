"""AlexNet (Krizhevsky, Sutskever and Hinton, "ImageNet classification with deep
convolutional neural networks", NIPS 2012), and a CIFAR-sized cousin.

AlexNet won ImageNet 2012 (1.2 million 224x224 colour images, 1,000 classes) with a top-5
error of 15.3% against 26.2% for the next entry, and started the deep-learning era.  What
it added to LeNet's recipe:

* depth and width: 5 convolutional layers and 3 fully-connected ones, 61 million
  parameters (LeNet-5: 60 thousand), trained on two GPUs for about a week;
* **ReLU** instead of tanh: gradients that do not vanish for positive inputs, several
  times faster training;
* **dropout** (p = 0.5) in the first two fully-connected layers, against overfitting;
* **data augmentation**: random 224x224 crops of 256x256 images and horizontal flips
  (plus colour jitter), so the network never sees exactly the same image twice;
* overlapping **max pooling** (3x3 windows, stride 2); local response normalisation
  (dropped by later work, and by torchvision's version below).

:class:`AlexNet` is torchvision's ``alexnet`` (the "one weird trick" single-GPU variant,
with 64-192-384-256-256 filters) layer for layer, with the same module names, so a
torchvision state dict loads into it::

    features    Conv2d(3, 64, 11, stride 4, padding 2)  ReLU  MaxPool2d(3, 2)      64 x 27x27
                Conv2d(64, 192, 5, padding 2)           ReLU  MaxPool2d(3, 2)     192 x 13x13
                Conv2d(192, 384, 3, padding 1)          ReLU                      384 x 13x13
                Conv2d(384, 256, 3, padding 1)          ReLU                      256 x 13x13
                Conv2d(256, 256, 3, padding 1)          ReLU  MaxPool2d(3, 2)     256 x 6x6
    avgpool     AdaptiveAvgPool2d((6, 6))                                         256 x 6x6
    classifier  Dropout  Linear(9216, 4096)  ReLU  Dropout  Linear(4096, 4096)  ReLU
                Linear(4096, num_classes)

61,100,840 parameters with 1,000 classes; 58.6 million of them (96%) in the three
fully-connected layers, while the convolutions do most of the arithmetic: 656 million of
the 714 million multiply-adds of one image (``neurona.models.summary.count_macs``).

:class:`AlexNetCIFAR` keeps the shape of the idea -- five convolutions with ReLU, max
pooling after the first, second and fifth, three fully-connected layers with dropout --
at the size of CIFAR-10's 32x32 images and of a laptop CPU (see its docstring).
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ._image import ImageClassifier

__all__ = ["AlexNet", "AlexNetCIFAR", "ALEXNET_PARAMETERS"]

ALEXNET_PARAMETERS = 61_100_840          # with num_classes=1000, as torchvision's


class AlexNet(ImageClassifier):
    """AlexNet for 3x224x224 images, exactly torchvision's ``alexnet`` (see the module
    docstring).  Module names ``features``, ``avgpool`` and ``classifier`` with the same
    indices, so ``model.load_state_dict(torchvision_state_dict)`` works once the tensors
    are converted (``{k: v.numpy() for k, v in sd.items()}``).

    Args:
        num_classes: outputs of the last layer (1,000 for ImageNet).
        dropout: probability of the two dropout layers.

    Shapes: input ``(N, 3, H, W)`` with H, W >= 63 (224 as trained) -> ``(N, num_classes)``.
    """

    name = "alexnet"

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"AlexNet: dropout must be in [0, 1), got {dropout}")
        self._config = {"num_classes": int(num_classes), "dropout": float(dropout)}
        self.num_classes = int(num_classes)
        self.input_shape = (3, 224, 224)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, self.num_classes),
        )

    def forward(self, x):
        x = self.features(x)            # (N, 256, 6, 6) for 224x224 input
        x = self.avgpool(x)             # (N, 256, 6, 6) for any input size
        x = x.flatten(1)                # (N, 9216)
        return self.classifier(x)       # (N, num_classes)


class AlexNetCIFAR(ImageClassifier):
    """AlexNet's design at CIFAR-10's size: 32x32 colour images, 10 classes.

    ::

        features    c1  Conv2d(3, w1, 5, padding 2)   [BN] ReLU  MaxPool2d(2)   w1 x 16x16
                    c2  Conv2d(w1, w2, 3, padding 1)  [BN] ReLU  MaxPool2d(2)   w2 x 8x8
                    c3  Conv2d(w2, w3, 3, padding 1)  [BN] ReLU                 w3 x 8x8
                    c4  Conv2d(w3, w4, 3, padding 1)  [BN] ReLU                 w4 x 8x8
                    c5  Conv2d(w4, w5, 3, padding 1)  [BN] ReLU  MaxPool2d(2)   w5 x 4x4
        classifier  Dropout  Linear(16 w5, hidden)  ReLU  Dropout  Linear(hidden, hidden)
                    ReLU  Linear(hidden, num_classes)

    The changes from ImageNet's AlexNet, and why: 5x5 rather than 11x11 stride-4 filters
    in the first layer (the image is 49 times smaller: a stride of 4 would throw most of it
    away); 2x2 pooling; about a quarter of the filters and an eighth of the hidden units
    (10,000 training images, not 1.2 million, and two CPU cores, not two GPUs); and batch
    normalisation after each convolution (``batch_norm=True``), which did not exist in
    2012 and lets a short run use a large learning rate.

    Args:
        num_classes: number of classes.
        widths: filters of c1..c5 (default ``(48, 96, 144, 144, 96)``).
        hidden: units of the two hidden fully-connected layers.
        dropout: probability of the two dropout layers.
        batch_norm: ``nn.BatchNorm2d`` after each convolution (then the convolutions have
            no bias: the normalisation's shift replaces it).
        in_channels: 3 for colour images.
    """

    name = "alexnet-cifar"

    def __init__(self, num_classes: int = 10, widths=(48, 96, 144, 144, 96), hidden: int = 512,
                 dropout: float = 0.5, batch_norm: bool = True, in_channels: int = 3):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5:
            raise ValueError(f"AlexNetCIFAR: widths gives the filters of the 5 convolutions; "
                             f"got {len(widths)} numbers")
        if not 0 <= dropout < 1:
            raise ValueError(f"AlexNetCIFAR: dropout must be in [0, 1), got {dropout}")
        self._config = {"num_classes": int(num_classes), "widths": list(widths),
                        "hidden": int(hidden), "dropout": float(dropout),
                        "batch_norm": bool(batch_norm), "in_channels": int(in_channels)}
        self.num_classes = int(num_classes)
        self.input_shape = (int(in_channels), 32, 32)
        layers = []
        channels = [int(in_channels), *widths]
        pool_after = {1, 2, 5}
        for i in range(1, 6):
            k = 5 if i == 1 else 3
            layers.append((f"c{i}", nn.Conv2d(channels[i - 1], channels[i], kernel_size=k,
                                              padding=k // 2, bias=not batch_norm)))
            if batch_norm:
                layers.append((f"bn{i}", nn.BatchNorm2d(channels[i])))
            layers.append((f"act{i}", nn.ReLU(inplace=True)))
            if i in pool_after:
                layers.append((f"pool{i}", nn.MaxPool2d(kernel_size=2, stride=2)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Sequential(OrderedDict([
            ("drop6", nn.Dropout(p=dropout)),
            ("fc6", nn.Linear(widths[-1] * 4 * 4, hidden)),
            ("act6", nn.ReLU(inplace=True)),
            ("drop7", nn.Dropout(p=dropout)),
            ("fc7", nn.Linear(hidden, hidden)),
            ("act7", nn.ReLU(inplace=True)),
            ("fc8", nn.Linear(hidden, self.num_classes)),
        ]))

    def forward(self, x):
        self._check_input(x, "CIFAR-10's 32x32 colour images")
        x = self.features(x)            # (N, w5, 4, 4)
        x = x.flatten(1)                # (N, 16 w5)
        return self.classifier(x)       # (N, num_classes)
