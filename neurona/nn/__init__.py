"""Neural-network building blocks (functional forms in neurona.nn.functional)."""
from . import functional  # noqa: F401
