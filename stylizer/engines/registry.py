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

#: On a CPU, ``auto`` compiles only for jobs of at least this many pixels (frames x size):
#: compiling takes about 15 s, and then frames run 1.5x faster (the vangogh preset at 720p on
#: 2 cores: 0.86 s a frame against 1.29 s eager), so it pays off after about 35 MP; 100 MP is a
#: 720p video of 4 seconds.
CPU_COMPILE_PIXELS = 100_000_000


def engine_class(
    name: str,
    device: torch.device,
    notice: Callable[[str], None] = lambda msg: None,
    workload: int = 0,
) -> type[Engine]:
    """The backend called ``name``; ``auto`` picks the best one that can run on ``device``.

    ``workload`` is the pixels the job will process, when known: on a CPU it decides whether
    compiling pays off. A named backend that cannot run here (TensorRT not installed, no GPU) is
    replaced by what ``auto`` picks, with a one-line ``notice`` saying so.
    """
    if name != "auto":
        chosen = ENGINES.get_class(name)
        reason = chosen.unavailable(device)
        if reason is None:
            return chosen
    long_cpu_job = device.type == "cpu" and workload >= CPU_COMPILE_PIXELS
    order = ("compile", *AUTO_ORDER["cpu"]) if long_cpu_job else AUTO_ORDER[device.type]
    for candidate in order:
        cls = ENGINES.get(candidate)
        if cls is not None and cls.unavailable(device) is None:
            if name != "auto":
                notice(f"backend {name} is unavailable ({reason}); using {candidate}")
            elif long_cpu_job and candidate == "compile":
                notice("a long job: compiling the model first (backend compile)")
            return cls
    raise AssertionError("the eager backend runs everywhere")
