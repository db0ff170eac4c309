"""Utilities with PyTorch's names: :mod:`neurona.utils.data` (datasets, samplers, DataLoader)."""
from . import data

__all__ = ["data"]
