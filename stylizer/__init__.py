"""stylize: image-to-image GAN generators (CycleGAN, pix2pix) for photos and videos."""

from .errors import StylizeError
from .loading import load_generator
from .models import GeneratorSpec, build_generator

__all__ = ["GeneratorSpec", "StylizeError", "build_generator", "load_generator"]
