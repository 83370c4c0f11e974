"""Inference backends, one file each, chosen by name: a module dropped into this package that
registers a ``Backend`` subclass under its own file name (``choice.register_backend``) is a
backend.

``backend_names`` lists them without importing any (the command line's choices need no
PyTorch); the other names import PyTorch and discover every backend on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import lazy_exports, plugin_modules

if TYPE_CHECKING:
    from .base import Backend
    from .choice import BACKENDS, backend_class

__all__ = [
    "BACKENDS",
    "Backend",
    "backend_class",
    "backend_names",
]

#: Modules of this package that hold what backends share, not a backend.
SHARED = ("base", "cache", "choice")


def backend_names() -> list[str]:
    """Every backend's name (its file's), without importing them."""
    return [name for name in plugin_modules(__name__) if name not in SHARED]


__getattr__ = lazy_exports(
    __name__,
    {"BACKENDS": ".choice", "Backend": ".base", "backend_class": ".choice"},
    plugins=True,
)
