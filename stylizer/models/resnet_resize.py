"""The ResNet generator with resize-convolutions in place of transposed ones.

A stride-2 transposed 3x3 convolution gives every other output pixel a different set of
weights, which shows as a checkerboard lattice in textures a GAN learns (Odena et al., 2016,
"Deconvolution and Checkerboard Artifacts"). Nearest-neighbour doubling followed by a 3x3
convolution treats every output pixel alike. Same size, speed and layer layout otherwise, so
it trains and exports like ``resnet``; it cannot load the reference's checkpoints.
"""

from __future__ import annotations

from torch import nn

from .base import register
from .resnet import ResnetGenerator


@register("resnet-resize")
class ResizeConvResnetGenerator(ResnetGenerator):
    TITLE = "ResNet generator with resize-convolutions"
    UPSAMPLE_KEY = "model.{}.2.weight"

    @staticmethod
    def upsample(in_channels: int, out_channels: int, bias: bool) -> nn.Module:
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_channels, out_channels, 3, bias=bias),
        )
