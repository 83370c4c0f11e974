"""Generator architectures (registered by name) and the PatchGAN discriminator."""

from . import compact, resnet, resnet_resize, unet  # noqa: F401  (importing registers them)
from .base import GENERATORS, Generator, GeneratorSpec, build_generator, frame_flops, register
from .norms import NORMS, set_bn_per_image
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
