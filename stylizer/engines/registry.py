"""Backends by name: each backend file registers its ``Engine`` subclass here."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..registry import Registry
from .base import Engine

ENGINES: Registry[Engine] = Registry("backend")
register_engine = ENGINES.register

#: What ``auto`` tries for a long job, best first, per device type; a short one runs eager.
AUTO_ORDER = {"cuda": ("tensorrt", "compile", "eager"), "cpu": ("compile", "ort", "eager")}
# On a CPU, compile and ort run the vangogh preset at 720p about equally fast (2 Skylake cores
# in one run: eager 5.90 s a frame, compile 3.32, ort 3.46); ort prepares in a quarter of the
# time (13 s against 54), so it serves where there is no C++ compiler for compile.

#: ``auto`` builds a TensorRT engine or compiles only for jobs of at least this many pixels
#: (frames x size). On a CPU compiling takes about 15 s, and then frames run 1.5x faster (the
#: vangogh preset at 720p on 2 cores: 0.86 s a frame against 1.29 s eager), so it pays off after
#: about 35 MP; 100 MP is a 720p video of 4 seconds. On a GPU an engine takes a minute or more to
#: build, which one image or a short clip never earns back either.
COMPILE_PIXELS = 100_000_000


def engine_class(
    name: str,
    device: torch.device,
    notice: Callable[[str], None] = lambda msg: None,
    workload: int = 0,
) -> type[Engine]:
    """The backend called ``name``; ``auto`` picks the best one that can run on ``device``.

    ``workload`` is the pixels the job will process, when known: it decides whether building a
    TensorRT engine or compiling pays off. A named backend that cannot run here (TensorRT not
    installed, no GPU) is replaced by what ``auto`` picks, with a one-line ``notice``.
    """
    if name != "auto":
        chosen = ENGINES.get_class(name)
        reason = chosen.unavailable(device)
        if reason is None:
            return chosen
    long_job = workload >= COMPILE_PIXELS
    for candidate in AUTO_ORDER[device.type] if long_job else ("eager",):
        cls = ENGINES.get(candidate)
        if cls is not None and cls.unavailable(device) is None:
            if name != "auto":
                notice(f"backend {name} is unavailable ({reason}); using {candidate}")
            elif long_job and candidate != "eager":
                notice(f"a long job: preparing the model first (backend {candidate})")
            return cls
    raise AssertionError("the eager backend runs everywhere")
