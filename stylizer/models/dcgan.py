"""A generator of new images from random vectors, DCGAN-shaped (Radford, Metz and Chintala,
"Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks",
2016): the vector becomes a 4x4 map, then each stage doubles the size (nearest-neighbour
doubling and a 3x3 convolution, which leaves no checkerboard, unlike the paper's transposed
convolutions), with batch norm and ReLU, halving the channels down to ``ngf``; a last 3x3
convolution and tanh give the image.

The spec's ``in_channels`` is the length of the random vector and ``depth`` the number of
doublings: 4 gives 64 px images, 5 gives 128 px. It draws images (``stylize generate``); it does
not stylize them.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .base import Generator, register
from .spec import GeneratorSpec

_STAGE_KEY = re.compile(r"^grow\.(\d+)\.1\.weight$")


def stage_channels(ngf: int, depth: int, stage: int) -> int:
    """Channels after ``stage`` doublings (stage 0 is the 4x4 start): ``ngf`` at the last,
    twice that a stage earlier, at most 8 x ``ngf``."""
    return ngf * min(8, 2 ** (depth - stage))


@register("dcgan")
class NoiseGenerator(Generator):
    """Random vector -> 4x4 map (transposed 4x4 convolution of a 1x1 input, batch norm, ReLU)
    -> ``depth`` stages of (double, 3x3 conv, batch norm, ReLU) -> 3x3 conv -> tanh."""

    TITLE = "DCGAN image generator"
    from_noise = True

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__(spec)
        ngf, depth = spec.ngf, spec.depth
        first = stage_channels(ngf, depth, 0)
        self.start = nn.Sequential(
            nn.ConvTranspose2d(spec.in_channels, first, 4, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(True),
        )
        stages = []
        for stage in range(1, depth + 1):
            wide, narrow = stage_channels(ngf, depth, stage - 1), stage_channels(ngf, depth, stage)
            stages.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(wide, narrow, 3, padding=1, bias=False),
                    nn.BatchNorm2d(narrow),
                    nn.ReLU(True),
                )
            )
        self.grow = nn.Sequential(*stages)
        self.model = nn.Sequential(nn.Conv2d(ngf, spec.out_channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """N random vectors (N x in_channels, or N x in_channels x 1 x 1) to N images."""
        return self.model(self.grow(self.start(z.reshape(len(z), -1, 1, 1))))

    @property
    def image_size(self) -> int:
        return 4 * 2**self.spec.depth

    @property
    def size_multiple(self) -> int:
        return 1

    @property
    def halo(self) -> int:
        return 0

    @classmethod
    def detect(cls, state: dict[str, torch.Tensor]) -> GeneratorSpec | None:
        start, head = state.get("start.0.weight"), state.get("model.0.weight")
        stages = sorted(int(m.group(1)) for k in state if (m := _STAGE_KEY.match(k)))
        if start is None or head is None or start.dim() != 4 or head.dim() != 4:
            return None
        if stages != list(range(len(stages))) or not stages:
            return None
        return GeneratorSpec(
            arch=cls.name,
            depth=len(stages),
            ngf=head.shape[1],
            in_channels=start.shape[0],
            out_channels=head.shape[0],
            norm="batch",
        )

    @classmethod
    def describe(cls, spec: GeneratorSpec) -> str:
        size = 4 * 2**spec.depth
        return (
            f"{cls.TITLE}, {size}x{size} px from {spec.in_channels} random numbers, ngf {spec.ngf}"
        )
