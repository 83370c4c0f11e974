"""Classes by name, so that a new architecture, backend, smoother, control, media kind or
training task is one new file that registers itself, not edits scattered across the tree.

A package of plugins calls ``discover(__name__)`` at the end of its ``__init__``: every module in
it is imported, and each registers its class as it is imported. Where order matters (which
architecture detection tries first, which backend ``auto`` prefers), the plugin says what it
goes ``before``, so the order never depends on file names or import order.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, TypeVar

from .errors import StylizeError

T = TypeVar("T")


class Registry(dict[str, type[T]]):
    """``@REGISTRY.register("name")`` on a class makes it available as ``REGISTRY["name"]``;
    iterating gives the names in the order their ``before`` declarations ask for."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._before: dict[str, tuple[str, ...]] = {}

    def register(self, name: str, before: Iterable[str] = ()) -> Callable[[type[T]], type[T]]:
        """Register the decorated class as ``name``, ahead of the classes named in ``before``
        (those not registered are ignored)."""

        def add(cls: type[T]) -> type[T]:
            cls.name = name  # type: ignore[attr-defined]  # every registered class has one
            self[name] = cls
            self._before[name] = tuple(before)
            self._reorder()
            return cls

        return add

    def _reorder(self) -> None:
        """Registration order, except that each entry moves ahead of those it goes before."""
        placed: list[str] = []

        def place(name: str, seen: tuple[str, ...]) -> None:
            if name in placed or name in seen:
                return
            for other in self:  # everything that must come first
                if name in self._before.get(other, ()):
                    place(other, (*seen, name))
            placed.append(name)

        for name in list(self):
            place(name, ())
        classes = dict(self)
        self.clear()
        self.update((name, classes[name]) for name in placed)

    def get_class(self, name: str) -> type[T]:
        try:
            return self[name]
        except KeyError:
            raise StylizeError(
                f"unknown {self.kind} {name!r}: choose from {', '.join(self)}"
            ) from None


def plugin_modules(package: str) -> list[str]:
    """The names of the public modules of the package ``package``, without importing them."""
    path = importlib.import_module(package).__path__
    return sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_"))


def discover(package: str) -> None:
    """Import every public module of the package ``package`` (a plugin file registers itself
    when imported): dropping a file into the package is all it takes to add one."""
    for module in plugin_modules(package):
        importlib.import_module(f"{package}.{module}")


def lazy_exports(
    package: str, homes: dict[str, str], plugins: bool = False
) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` that imports each name of ``homes`` (name: relative
    module) on first use, so that importing the package stays light; with ``plugins``, every
    plugin module of the package is discovered first."""

    def attribute(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if plugins:
            discover(package)
        return getattr(importlib.import_module(homes[name], package), name)

    return attribute


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, loaded on first use of one of its attributes
    (``importlib.util.LazyLoader``): for a module only some runs need (PyAV, which only videos
    use, takes 60 ms to import). Bind it to a name (``av = lazy_module("av")``): an ``import``
    statement would load it at once."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
