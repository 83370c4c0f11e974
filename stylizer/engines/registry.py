"""Backends by name: each backend file registers its ``Engine`` subclass here."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..registry import Registry
from .base import Engine

ENGINES = Registry("backend")
register_engine = ENGINES.register

#: What ``auto`` tries, best first, per device type.
AUTO_ORDER = {"cuda": ("tensorrt", "compile", "eager"), "cpu": ("eager",)}


def engine_class(
    name: str, device: torch.device, notice: Callable[[str], None] = lambda msg: None
) -> type[Engine]:
    """The backend called ``name``; ``auto`` picks the best one that can run on ``device``.

    A named backend that cannot run here (TensorRT not installed, no GPU) is replaced by what
    ``auto`` picks, with a one-line ``notice`` saying so.
    """
    if name != "auto":
        chosen = ENGINES.get_class(name)
        reason = chosen.unavailable(device)
        if reason is None:
            return chosen
    for candidate in AUTO_ORDER[device.type]:
        cls = ENGINES.get(candidate)
        if cls is not None and cls.unavailable(device) is None:
            if name != "auto":
                notice(f"backend {name} is unavailable ({reason}); using {candidate}")
            return cls
    raise AssertionError("the eager backend runs everywhere")
