"""Inference backends, one file each, chosen by name: a module dropped into this package that
registers an ``Engine`` subclass (``registry.register_engine``) is a backend."""

from ..registry import discover
from .base import PRECISIONS, Engine, pad_to_multiple, resolve_device, resolve_precision
from .registry import ENGINES, engine_class

__all__ = [
    "ENGINES",
    "PRECISIONS",
    "Engine",
    "engine_class",
    "pad_to_multiple",
    "resolve_device",
    "resolve_precision",
]

discover(__name__)
