"""Optimizers and learning-rate schedules, as in ``torch.optim``.

An optimizer updates parameters from their gradients (``p.grad``, filled by
``loss.backward()``).  Gradient descent is θ ← θ − η ∇J(θ); the classes refine it:

* :class:`SGD`: gradient descent with optional (Nesterov) momentum and weight decay.
* :class:`Adagrad`: per-weight step sizes from the sum of past squared gradients.
* :class:`RMSprop`: per-weight step sizes from a running average of squared gradients.
* :class:`Adam`: running averages of the gradient and of its square, bias-corrected.
* :class:`AdamW`: Adam with decoupled weight decay.

:mod:`neurona.optim.lr_scheduler` changes the learning rate η during training.
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam
from .adamw import AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
