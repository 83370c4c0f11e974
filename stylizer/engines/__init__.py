"""Inference backends, one file each, chosen by name."""

from . import eager  # noqa: F401  (importing registers it)
from .base import Engine, pad_to_multiple, resolve_device
from .registry import ENGINES, engine_class

__all__ = ["ENGINES", "Engine", "engine_class", "pad_to_multiple", "resolve_device"]
