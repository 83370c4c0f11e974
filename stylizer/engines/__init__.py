"""Inference backends, one file each, chosen by name."""

from . import compile, eager, ort, tensorrt  # noqa: F401  (importing registers them)
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
