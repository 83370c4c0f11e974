"""stylize: image-to-image GAN generators (CycleGAN, pix2pix) for photos and videos.

The names below are imported on first use, so that importing a light module of the package (the
command-line launcher, say) does not import PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import StylizeError
    from .models import GeneratorSpec, build_generator
    from .styles.loading import load_generator

__all__ = ["GeneratorSpec", "StylizeError", "build_generator", "load_generator"]

_HOMES = {
    "GeneratorSpec": ".models",
    "StylizeError": ".errors",
    "build_generator": ".models",
    "load_generator": ".styles.loading",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'stylizer' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
