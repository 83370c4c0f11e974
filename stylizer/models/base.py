"""What every generator architecture provides, and the registry that finds them by name."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import Registry
from .spec import GeneratorSpec


class Generator(nn.Module):
    """Base of the generator architectures: NCHW in [-1, 1] to NCHW in [-1, 1]."""

    name: str = ""  # set by ``register``
    model: nn.Module
    #: Whether it draws new images from random vectors (``stylize generate``) instead of
    #: translating images.
    from_noise: bool = False

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every architecture keeps its layers in ``self.model``, named as the reference names
        them, so that state dicts load key for key."""
        return self.model(x)

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        raise NotImplementedError

    @property
    def min_size(self) -> int:
        """Smallest input side the layers accept (reflection pads and instance norm need more
        than one pixel at the coarsest scale); smaller images are padded up to it."""
        return self.size_multiple

    @property
    def activation_bytes_per_pixel(self) -> int:
        """Peak activation memory per input pixel of one image, which sizes batches and tiles
        (measured for the reference's ResNet: ~1 KB/px at ngf 64)."""
        return 16 * self.spec.ngf

    @property
    def halo(self) -> int:
        """Context (pixels) a tile needs on each side for its centre to match the whole image."""
        raise NotImplementedError

    @classmethod
    def detect(cls, state: dict[str, torch.Tensor]) -> GeneratorSpec | None:
        """The spec of this architecture that produced ``state``, or None if it is another one."""
        raise NotImplementedError

    @classmethod
    def describe(cls, spec: GeneratorSpec) -> str:
        raise NotImplementedError

    @classmethod
    def adopt(cls, donor: Generator) -> dict[str, torch.Tensor] | None:  # noqa: ARG003
        """Starting weights of this architecture made from a generator of another one (so that a
        shipped style can seed a run of a better architecture), or None where it cannot."""
        return None


GENERATORS: Registry[Generator] = Registry("architecture")
register = GENERATORS.register


def build_generator(spec: GeneratorSpec) -> Generator:
    return GENERATORS.get_class(spec.arch)(spec)


def frame_flops(spec: GeneratorSpec, width: int = 1280, height: int = 720) -> int:
    """Floating-point operations of one forward pass on a ``width`` x ``height`` frame padded
    to the architecture's size multiple (as the engine pads it), as PyTorch counts them (a
    multiply-add is two), on the meta device: no memory, no arithmetic. A generator from noise
    counts one image of its own size."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build_generator(spec)
        m = model.size_multiple
        shape = (1, spec.in_channels, -(-height // m) * m, -(-width // m) * m)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.zeros(shape[:2] if model.from_noise else shape))
    return counter.get_total_flops()
