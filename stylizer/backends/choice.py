"""Backends by name: each backend file registers its ``Backend`` subclass here and declares where
``auto`` tries it (``Backend.auto_before``), so a new backend is one new file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..registry import Registry, discover

if TYPE_CHECKING:
    import torch

    from .base import Backend

BACKENDS: Registry[Backend] = Registry("backend")  # complete once ``discovered``


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Register a backend class under the name of its file (``backends/NAME.py`` is
    ``--backend NAME``), so that the command line lists the backends without importing them
    (``backends.backend_names``) and PyTorch."""
    return BACKENDS.register(cls.__module__.rpartition(".")[2])(cls)


#: ``auto`` builds a TensorRT engine or compiles only for jobs of at least this many pixels
#: (frames x size). On a CPU compiling takes about 15 s, and then frames run 1.5x faster (the
#: vangogh preset at 720p on 2 cores: 0.86 s a frame against 1.29 s eager), so it pays off after
#: about 35 MP; 100 MP is a 720p video of 4 seconds. On a GPU an engine takes a minute or more to
#: build, which one image or a short clip never earns back either.
COMPILE_PIXELS = 100_000_000


def discovered() -> Registry[Backend]:
    """``BACKENDS``, every backend file of the package imported (once; imports are cached)."""
    discover(__package__ or "stylizer.backends")
    return BACKENDS


def auto_order(device_type: str) -> list[str]:
    """What ``auto`` tries for a long job on ``device_type``, best first: the backends that
    declare a place there, in the order their ``auto_before`` asks for."""
    order: Registry[Backend] = Registry("backend")
    for name, cls in discovered().items():
        if device_type in cls.auto_before:
            order.register(name, before=cls.auto_before[device_type])(cls)
    return list(order)


def backend_class(
    name: str,
    device: torch.device,
    notice: Callable[[str], None] = lambda msg: None,
    workload: int = 0,
) -> type[Backend]:
    """The backend called ``name``; ``auto`` picks the best one that can run on ``device``.

    ``workload`` is the pixels the job will process, when known: it decides whether building a
    TensorRT engine or compiling pays off. A named backend that cannot run here (TensorRT not
    installed, no GPU) is replaced by what ``auto`` picks, with a one-line ``notice``.
    """
    backends = discovered()
    if name != "auto":
        chosen = backends.get_class(name)
        reason = chosen.unavailable(device)
        if reason is None:
            return chosen
    long_job = workload >= COMPILE_PIXELS
    for candidate in auto_order(device.type) if long_job else ("eager",):
        cls = backends[candidate]
        if cls.unavailable(device) is None:
            if name != "auto":
                notice(f"backend {name} is unavailable ({reason}); using {candidate}")
            elif long_job and candidate != "eager":
                notice(f"a long job: preparing the model first (backend {candidate})")
            return cls
    raise AssertionError("the eager backend runs everywhere")
