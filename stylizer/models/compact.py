"""A compact generator for fast styles: no layer at full resolution.

The ResNet generators spend most of a CPU's time at full resolution: the 7x7 stem and head
convolutions, their reflection pads and instance norms, on tensors ``ngf`` channels deep, where
memory, not arithmetic, sets the pace (narrow ResNets reach only 24 GFLOP/s on 2 cores). Here the
image is folded into a 4x smaller one of 4x the channels (pixel unshuffle) before the first
convolution, and unfolded (pixel shuffle, a sub-pixel convolution) after the last; everything
between runs at 1/2 and 1/4 of the size, with residual blocks ``2 * ngf`` deep at 1/4.

Measured side by side by ``bench/fast.py`` at 1280x720 on 2 Skylake cores (one run, the two fast
presets, which share this architecture, spread as shown): ngf 24 and 4 blocks, 28 GFLOP, 0.74-1.06
s a frame eager, 0.51-0.66 compiled, 0.73-0.80 through ONNX Runtime; the vangogh preset (ResNet,
ngf 32, 6 blocks, 255 GFLOP) 5.67, 3.49 and 4.05 s. It is meant to learn from a larger generator
(distillation), and loads no reference checkpoint.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .base import Generator, register
from .norms import conv_bias, make_norm
from .resnet import ResnetBlock
from .spec import GeneratorSpec

_BLOCK_KEY = re.compile(r"^body\.(\d+)\.conv_block\.(\d+)\.weight$")
#: Index of the first residual block in ``body``.
_FIRST_BLOCK = 7


@register("compact")
class CompactGenerator(Generator):
    """Pixel unshuffle; 3x3 conv at 1/2, stride-2 conv to 1/4, ``depth`` residual blocks,
    nearest doubling and 3x3 conv back at 1/2 (``body``); then a 3x3 conv of those features
    together with the unshuffled input to 4 x out channels, and pixel shuffle (``head``).

    Handing the input itself to the last convolution lets fine detail skip the 1/4-scale
    bottleneck: distilling vangogh at 192 px crops, 100 steps reached 19.8 dB to the teacher
    with it and 16.2 dB without (one run each, the same data and seed).
    """

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__(spec)
        ngf, norm, bias = spec.ngf, spec.norm, conv_bias(spec.norm)
        deep, folded = 2 * ngf, 4 * spec.in_channels
        self.unshuffle = nn.PixelUnshuffle(2)
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(folded, ngf, 3, bias=bias),
            make_norm(norm, ngf),
            nn.ReLU(True),
            nn.Conv2d(ngf, deep, 3, stride=2, padding=1, bias=bias),
            make_norm(norm, deep),
            nn.ReLU(True),
            *[ResnetBlock(deep, norm, spec.dropout) for _ in range(spec.depth)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ReflectionPad2d(1),
            nn.Conv2d(deep, ngf, 3, bias=bias),
            make_norm(norm, ngf),
            nn.ReLU(True),
        )
        self.head = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(ngf + folded, 4 * spec.out_channels, 3),
            nn.PixelShuffle(2),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        folded = self.unshuffle(x)
        return self.head(torch.cat([self.body(folded), folded], 1))

    @property
    def size_multiple(self) -> int:
        return 4

    @property
    def min_size(self) -> int:
        return 8  # 2x2 at 1/4 scale, where the blocks reflect-pad by 1

    @property
    def activation_bytes_per_pixel(self) -> int:
        # Nothing at full size: ngf channels at 1/4 of the pixels, 2 * ngf at 1/16.
        return 8 * self.spec.ngf

    @property
    def halo(self) -> int:
        # Two 3x3 convs per block at 1/4 scale reach 8 input pixels; the rest adds under 16.
        return 8 * self.spec.depth + 16

    @classmethod
    def detect(cls, state: dict[str, torch.Tensor]) -> GeneratorSpec | None:
        stem, head = state.get("body.1.weight"), state.get("head.1.weight")
        if stem is None or head is None or stem.dim() != 4 or head.dim() != 4:
            return None
        if stem.shape[1] % 4 or head.shape[0] % 4 or head.shape[1] != stem.shape[0] + stem.shape[1]:
            return None
        blocks: dict[int, set[int]] = {}
        for key, value in state.items():
            if (m := _BLOCK_KEY.match(key)) and value.dim() == 4:
                blocks.setdefault(int(m[1]), set()).add(int(m[2]))
        depth = len(blocks)
        if sorted(blocks) != list(range(_FIRST_BLOCK, _FIRST_BLOCK + depth)):
            return None
        layouts = {frozenset(v) for v in blocks.values()} or {frozenset({1, 5})}
        if layouts not in ({frozenset({1, 5})}, {frozenset({1, 6})}):
            return None
        if "body.1.bias" in state:
            norm = "instance"
        elif "body.2.running_mean" in state:
            norm = "batch"
        else:
            norm = "none"
        return GeneratorSpec(
            arch=cls.name,
            depth=depth,
            ngf=stem.shape[0],
            in_channels=stem.shape[1] // 4,
            out_channels=head.shape[0] // 4,
            norm=norm,
            dropout=layouts == {frozenset({1, 6})},
        )

    @classmethod
    def describe(cls, spec: GeneratorSpec) -> str:
        return (
            f"Compact generator (sub-pixel, nothing at full size), {spec.depth} blocks, ngf "
            f"{spec.ngf}, {spec.norm} norm, {spec.in_channels}->{spec.out_channels} channels"
        )
