"""Classes by name, so that a new architecture, backend or training task is one new file that
registers itself, not edits scattered across the tree."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .errors import StylizeError

T = TypeVar("T")


class Registry(dict[str, type[T]]):
    """``@REGISTRY.register("name")`` on a class makes it available as ``REGISTRY["name"]``."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def add(cls: type[T]) -> type[T]:
            cls.name = name  # type: ignore[attr-defined]  # every registered class has one
            self[name] = cls
            return cls

        return add

    def get_class(self, name: str) -> type[T]:
        try:
            return self[name]
        except KeyError:
            raise StylizeError(
                f"unknown {self.kind} {name!r}: choose from {', '.join(self)}"
            ) from None
