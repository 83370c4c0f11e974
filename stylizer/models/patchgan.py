"""The PatchGAN discriminator of pix2pix and CycleGAN (the reference's NLayerDiscriminator)."""

from __future__ import annotations

import torch
from torch import nn

from .norms import conv_bias, make_norm


class PatchDiscriminator(nn.Module):
    """Scores overlapping patches (70x70 with ``n_layers=3``) as real or fake."""

    def __init__(
        self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance"
    ) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                make_norm(norm, ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def looks_like_discriminator(state: dict[str, torch.Tensor]) -> bool:
    """True for a PatchGAN state dict: 4x4 convs ending in a single-channel conv."""
    convs = [v for k, v in state.items() if k.endswith(".weight") and v.dim() == 4]
    return bool(convs) and all(c.shape[-1] == 4 for c in convs) and convs[-1].shape[0] == 1
