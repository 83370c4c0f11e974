"""Generator architectures (registered by name; one file each, found by discovery) and the
PatchGAN discriminator."""

from ..registry import discover
from .base import GENERATORS, Generator, GeneratorSpec, build_generator, frame_flops, register
from .norms import NORMS, set_bn_per_image
from .patchgan import PatchDiscriminator

discover(__name__)

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
