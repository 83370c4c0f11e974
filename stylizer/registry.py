"""Classes by name, so that a new architecture, backend or training task is one new file that
registers itself, not edits scattered across the tree."""

from __future__ import annotations

from .errors import StylizeError


class Registry(dict):
    """``@REGISTRY.register("name")`` on a class makes it available as ``REGISTRY["name"]``."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str):
        def add(cls: type) -> type:
            cls.name = name
            self[name] = cls
            return cls

        return add

    def get_class(self, name: str) -> type:
        try:
            return self[name]
        except KeyError:
            raise StylizeError(
                f"unknown {self.kind} {name!r}: choose from {', '.join(self)}"
            ) from None
