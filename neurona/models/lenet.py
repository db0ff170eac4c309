"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE, 1998): the convolutional network that read handwritten digits.

**A convolution.**  A layer ``Conv2d(C_in, C_out, k)`` slides ``C_out`` small filters of
shape ``(C_in, k, k)`` over its input; output map ``o`` at position ``(i, j)`` is

    y[o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * x[c, i + u, j + v]

(a cross-correlation, as in every deep-learning library).  **Weight sharing**: the same
``W[o]`` is used at every position, so a feature (an edge, a stroke end) is detected
wherever it is, and the layer has only ``C_out * (C_in * k * k + 1)`` parameters however
large the image.  A fully-connected layer from a 32x32 image to 6 maps of 28x28 would need
about 4.8 million weights; C1 below has 156.  **Pooling** (subsampling) then halves each
map -- the mean (``AvgPool2d``) or the maximum (``MaxPool2d``) of each 2x2 block -- so
that later layers see larger regions and small shifts of the input matter less.

The architecture (input 32x32; MNIST's 28x28 digits are padded by 2 pixels on each side,
which ``pad_input=True`` does inside C1 with ``padding=2``)::

    layer  what                                   output      parameters
    C1     6 filters 5x5 (x C_in), tanh/ReLU      6 x 28x28   6 * (25 C_in + 1) = 156
    S2     2x2 pooling, stride 2                  6 x 14x14   0
    C3     16 filters 5x5 over all 6 maps         16 x 10x10  16 * (6 * 25 + 1) = 2,416
    S4     2x2 pooling, stride 2                  16 x 5x5    0
    C5     120 filters 5x5 over all 16 maps       120 x 1x1   120 * (16 * 25 + 1) = 48,120
    F6     fully connected 120 -> 84              84          84 * 121 = 10,164
    output fully connected 84 -> 10               10          10 * 85 = 850
                                                              total 61,706

(C5 is a convolution whose 5x5 filters exactly cover S4's 5x5 maps, so each of its 120
outputs is 1x1: the same as a fully-connected layer from 400 inputs, with the same
48,120 parameters.)

**The two variants.**  ``variant='classic'`` keeps the paper's choices where they matter
to training: tanh activations and average pooling.  ``variant='modern'`` is how one would
build it today: ReLU and max pooling (it trains faster and reaches higher accuracy).
Both have the same 61,706 parameters with one input channel (``num_classes=10``).

What this model leaves out of the 1998 paper, and what the paper's count was:

* C3's sparse connection table: in the paper each of the 16 C3 maps reads only 3, 4 or 6
  of the 6 S2 maps (to break symmetry and save computation), giving 1,516 parameters
  instead of 2,416.  Here C3 is dense, as in every modern re-implementation.
* Trainable subsampling: the paper's S2/S4 multiply each 2x2 sum by a learned coefficient
  and add a learned bias (2 parameters per map: 12 for S2, 32 for S4), then apply the
  sigmoid-like squashing; here pooling has no parameters.
* The output layer of Euclidean radial basis functions (fixed 7x12 bitmap prototypes) is
  an ordinary linear layer read with softmax cross-entropy; and tanh is the plain one
  rather than the paper's scaled ``1.7159 tanh(2a/3)``.

So the paper's network has 156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000 trainable
parameters ("about 60,000" in the paper) and this one 61,706.

Shapes: input ``(N, in_channels, 28, 28)`` with ``pad_input=True`` (``(N, in_channels,
32, 32)`` with ``pad_input=False``) -> logits ``(N, num_classes)``.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ._image import ImageClassifier

__all__ = ["LeNet5", "LENET5_PARAMETERS"]

LENET5_PARAMETERS = 61_706          # with in_channels=1 and num_classes=10, either variant


class LeNet5(ImageClassifier):
    """LeNet-5: C1 conv 6@5x5, S2 pool, C3 conv 16@5x5, S4 pool, C5 conv 120@5x5, F6 84,
    output ``num_classes`` (see the module docstring for the shapes and counts).

    Args:
        variant: ``'modern'`` (ReLU, max pooling) or ``'classic'`` (tanh, average pooling).
        num_classes: outputs of the last layer (logits).
        in_channels: 1 for grey images, 3 for colour.
        pad_input: take 28x28 images and pad them to 32x32 in C1 (``padding=2``);
            ``False``: take 32x32 images, as the paper did.

    Layers (``features`` and ``classifier`` are ``nn.Sequential`` with named children, so a
    state dict reads ``features.c1.weight``, ``classifier.f6.bias``, ...)::

        features:   c1 act1 s2  c3 act3 s4  c5 act5
        classifier: f6 act6 output

        >>> model = LeNet5()
        >>> model(neurona.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """

    name = "lenet5"

    def __init__(self, variant: str = "modern", num_classes: int = 10, in_channels: int = 1,
                 pad_input: bool = True):
        super().__init__()
        variant = str(variant).lower()
        if variant not in ("modern", "classic"):
            raise ValueError(f"LeNet5: variant must be 'modern' (ReLU, max pooling) or "
                             f"'classic' (tanh, average pooling); got {variant!r}")
        self._config = {"variant": variant, "num_classes": int(num_classes),
                        "in_channels": int(in_channels), "pad_input": bool(pad_input)}
        self.variant, self.num_classes = variant, int(num_classes)
        side = 28 if pad_input else 32
        self.input_shape = (int(in_channels), side, side)
        Act = nn.ReLU if variant == "modern" else nn.Tanh
        Pool = nn.MaxPool2d if variant == "modern" else nn.AvgPool2d
        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(in_channels, 6, kernel_size=5, padding=2 if pad_input else 0)),
            ("act1", Act()),
            ("s2", Pool(kernel_size=2, stride=2)),
            ("c3", nn.Conv2d(6, 16, kernel_size=5)),
            ("act3", Act()),
            ("s4", Pool(kernel_size=2, stride=2)),
            ("c5", nn.Conv2d(16, 120, kernel_size=5)),
            ("act5", Act()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("f6", nn.Linear(120, 84)),
            ("act6", Act()),
            ("output", nn.Linear(84, self.num_classes)),
        ]))

    def forward(self, x):
        self._check_input(x, "28x28 images with pad_input=True, 32x32 with pad_input=False")
        x = self.features(x)              # (N, 120, 1, 1)
        x = x.flatten(1)                  # (N, 120)
        return self.classifier(x)         # (N, num_classes)
