"""stylize: image-to-image GAN generators (CycleGAN, pix2pix) for photos and videos.

The names below are imported on first use, so that importing a light module of the package (the
command-line launcher, say) does not import PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import lazy_exports

if TYPE_CHECKING:
    from .errors import StylizeError
    from .models import GeneratorSpec, build_generator
    from .styles.loading import load_generator

__all__ = ["GeneratorSpec", "StylizeError", "build_generator", "load_generator"]

__getattr__ = lazy_exports(
    __name__,
    {
        "GeneratorSpec": ".models",
        "StylizeError": ".errors",
        "build_generator": ".models",
        "load_generator": ".styles.loading",
    },
)
