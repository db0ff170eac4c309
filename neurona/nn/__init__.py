"""Neural-network building blocks, with PyTorch's names: ``nn.Module``, ``nn.Parameter``,
layers, containers, losses, ``nn.init``, ``nn.utils``, and the functional forms in
``neurona.nn.functional`` (import it as ``F``)."""
from . import functional  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .module import Module  # noqa: F401
