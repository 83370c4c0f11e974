"""Generator architectures (registered by name; one file each, found by discovery) and the
PatchGAN discriminator.

``GeneratorSpec`` and ``NORMS`` come without PyTorch (``spec``); the other names import it and
discover the architectures on first use, so reading a preset stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import lazy_exports
from .spec import NORMS, GeneratorSpec

if TYPE_CHECKING:
    from .base import GENERATORS, Generator, build_generator, frame_flops, register
    from .norms import set_bn_per_image
    from .patchgan import PatchDiscriminator

__all__ = [
    "GENERATORS",
    "NORMS",
    "Generator",
    "GeneratorSpec",
    "PatchDiscriminator",
    "build_generator",
    "frame_flops",
    "register",
    "set_bn_per_image",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "GENERATORS": ".base",
        "Generator": ".base",
        "build_generator": ".base",
        "frame_flops": ".base",
        "register": ".base",
        "set_bn_per_image": ".norms",
        "PatchDiscriminator": ".patchgan",
    },
    plugins=True,  # every architecture registers itself
)
