"""CycleGAN's ResNet generator, laid out so the reference's state dicts load key for key."""

from __future__ import annotations

import re

import torch
from torch import nn

from .base import Generator, register
from .norms import conv_bias, make_norm
from .spec import GeneratorSpec

_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.weight$")


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            make_norm(norm, dim),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


@register("resnet")
class ResnetGenerator(Generator):
    """7x7 conv, two stride-2 downs, ``depth`` residual blocks at 1/4 scale, two ups, 7x7 conv, tanh."""

    TITLE = "ResNet generator"

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__(spec)
        ngf, norm, bias = spec.ngf, spec.norm, conv_bias(spec.norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(spec.in_channels, ngf, 7, bias=bias),
            make_norm(norm, ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                make_norm(norm, ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, spec.dropout) for _ in range(spec.depth)]
        for mult in (4, 2):
            layers += [
                self.upsample(ngf * mult, ngf * mult // 2, bias),
                make_norm(norm, ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, spec.out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    @staticmethod
    def upsample(in_channels: int, out_channels: int, bias: bool) -> nn.Module:
        """Twice the size: the reference's transposed convolution."""
        return nn.ConvTranspose2d(
            in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=bias
        )

    @property
    def size_multiple(self) -> int:
        return 4

    @property
    def min_size(self) -> int:
        return 2 * self.size_multiple  # 2x2 at 1/4 scale, where the blocks reflect-pad by 1

    @property
    def halo(self) -> int:
        # Two 3x3 convs per block at 1/4 scale reach 8 input pixels; the stem, the downs and the
        # ups add 11 (transposed convolutions) or 15 (resize-convolutions).
        return 8 * self.spec.depth + 16

    @classmethod
    def detect(cls, state: dict[str, torch.Tensor]) -> GeneratorSpec | None:
        blocks: dict[int, set[int]] = {}
        for key, value in state.items():
            if (m := _BLOCK_KEY.match(key)) and value.dim() == 4:
                blocks.setdefault(int(m[1]), set()).add(int(m[2]))
        stem = state.get("model.1.weight")
        if not blocks or stem is None or stem.dim() != 4 or stem.shape[-1] != 7:
            return None
        n_blocks = len(blocks)
        if sorted(blocks) != list(range(10, 10 + n_blocks)):
            return None
        layouts = {frozenset(v) for v in blocks.values()}
        if layouts == {frozenset({1, 5})}:
            dropout = False
        elif layouts == {frozenset({1, 6})}:
            dropout = True
        else:
            return None
        if "model.1.bias" in state:
            norm = "instance"
        elif "model.2.weight" in state and "model.2.running_mean" in state:
            norm = "batch"
        else:
            norm = "none"
        head = state.get(f"model.{17 + n_blocks}.weight")
        # The up-sampling's own layout tells the ResNet variants apart.
        up_weight = next(iter(cls.upsample(1, 1, False).state_dict()))
        if head is None or head.dim() != 4 or f"model.{10 + n_blocks}.{up_weight}" not in state:
            return None
        return GeneratorSpec(
            arch=cls.name,
            depth=n_blocks,
            ngf=stem.shape[0],
            in_channels=stem.shape[1],
            out_channels=head.shape[0],
            norm=norm,
            dropout=dropout,
        )

    @classmethod
    def describe(cls, spec: GeneratorSpec) -> str:
        return (
            f"{cls.TITLE}, {spec.depth} blocks, ngf {spec.ngf}, {spec.norm} norm"
            f"{', dropout' if spec.dropout else ''}, {spec.in_channels}->{spec.out_channels} channels"
        )
