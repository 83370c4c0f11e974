"""pix2pix's U-Net generator, nested as the reference nests it so its state dicts load as they are."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import StylizeError
from .base import Generator, register
from .norms import conv_bias, make_norm
from .spec import GeneratorSpec


class UnetSkipBlock(nn.Module):
    """One level of the U: down, the inner levels, up; the output is concatenated with the input."""

    def __init__(
        self,
        outer: int,
        inner: int,
        norm: str,
        sub: nn.Module | None = None,
        in_channels: int | None = None,
        outermost: bool = False,
        dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        down = nn.Conv2d(in_channels or outer, inner, 4, stride=2, padding=1, bias=bias)
        layers: list[Any]
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif sub is None:  # innermost
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, make_norm(norm, outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, make_norm(norm, inner), sub]
            layers += [nn.ReLU(True), up, make_norm(norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        return y if self.outermost else torch.cat([x, y], 1)


@register("unet")
class UnetGenerator(Generator):
    """U-Net with ``depth`` down-samplings (7: unet_128, 8: unet_256), widths ngf..8*ngf."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__(spec)
        if spec.depth < 5:
            raise StylizeError("a U-Net generator needs at least 5 down-samplings")
        ngf, norm = spec.ngf, spec.norm
        block = UnetSkipBlock(ngf * 8, ngf * 8, norm)
        for _ in range(spec.depth - 5):
            block = UnetSkipBlock(ngf * 8, ngf * 8, norm, block, dropout=spec.dropout)
        for mult in (4, 2, 1):
            block = UnetSkipBlock(ngf * mult, ngf * mult * 2, norm, block)
        self.model = UnetSkipBlock(
            spec.out_channels, ngf, norm, block, in_channels=spec.in_channels, outermost=True
        )

    @property
    def size_multiple(self) -> int:
        return 2**self.spec.depth

    @property
    def halo(self) -> int:
        return 2**self.spec.depth

    @classmethod
    def detect(cls, state: dict[str, torch.Tensor]) -> GeneratorSpec | None:
        stem, head = state.get("model.model.0.weight"), state.get("model.model.3.weight")
        if stem is None or head is None or stem.dim() != 4 or head.dim() != 4:
            return None
        prefix, depth = "model.model.1.model.", 1
        while f"{prefix}1.weight" in state:
            depth += 1
            if f"{prefix}3.model.1.weight" not in state:
                break
            prefix += "3.model."
        if depth < 5:
            return None
        if "model.model.0.bias" in state:
            norm = "instance"
        elif "model.model.1.model.2.running_mean" in state:
            norm = "batch"
        else:
            norm = "none"
        return GeneratorSpec(
            arch="unet",
            depth=depth,
            ngf=stem.shape[0],
            in_channels=stem.shape[1],
            out_channels=head.shape[1],
            norm=norm,
            dropout=False,  # dropout has no weights and is off at inference
        )

    @classmethod
    def describe(cls, spec: GeneratorSpec) -> str:
        return (
            f"U-Net generator (unet_{2**spec.depth}), ngf {spec.ngf}, {spec.norm} norm, "
            f"{spec.in_channels}->{spec.out_channels} channels"
        )
