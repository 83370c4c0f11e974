"""Inference backends, one file each, chosen by name: a module dropped into this package that
registers a ``Backend`` subclass (``choice.register_backend``) is a backend."""

from ..registry import discover
from .base import Backend
from .choice import BACKENDS, backend_class

__all__ = [
    "BACKENDS",
    "Backend",
    "backend_class",
]

discover(__name__)
