"""Backends by name: each backend file registers its ``Engine`` subclass here."""

from __future__ import annotations

from ..errors import StylizeError
from .base import Engine

ENGINES: dict[str, type[Engine]] = {}


def register_engine(name: str):
    def add(cls: type[Engine]) -> type[Engine]:
        cls.name = name
        ENGINES[name] = cls
        return cls

    return add


def engine_class(name: str) -> type[Engine]:
    if name == "auto":
        name = "eager"
    try:
        return ENGINES[name]
    except KeyError:
        raise StylizeError(f"unknown backend {name!r}: choose auto, {', '.join(ENGINES)}") from None
