"""Backends by name: each backend file registers its ``Engine`` subclass here."""

from __future__ import annotations

from ..registry import Registry
from .base import Engine

ENGINES = Registry("backend")
register_engine = ENGINES.register


def engine_class(name: str) -> type[Engine]:
    """The backend called ``name``; ``auto`` picks the best one available."""
    return ENGINES.get_class("eager" if name == "auto" else name)
