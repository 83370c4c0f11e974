"""Normalisation layers that can use statistics of a whole image while seeing only a tile of it.

Instance norm (and batch norm run the reference's way at test time: per-image statistics) normalise
with the mean and variance of the whole image. When a large image is processed in tiles, each tile
would otherwise normalise with its own statistics and the tiles would differ in colour. These layers
can therefore be handed fixed statistics (``stats_override``) and can report what they see to a
collector (``stats_sink``); ``stylizer.tiling`` drives both.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import StylizeError
from .spec import NORMS


class StatsSink(Protocol):
    def add(self, layer: object, x: torch.Tensor) -> None: ...


class WholeImageStats:
    """Mixin: per-image normalisation whose statistics can be fixed or collected from outside."""

    stats_override: tuple[torch.Tensor, torch.Tensor] | None = None
    stats_sink: StatsSink | None = None

    def _per_image_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
    ) -> torch.Tensor:
        if self.stats_sink is not None:
            self.stats_sink.add(self, x)
        if self.stats_override is None:
            if x.device.type == "cpu" and _channels_last(x):
                # The same normalisation; PyTorch's CPU instance norm copies a channels-last
                # tensor to NCHW and back, its group norm runs on it in place: one group per
                # channel at 720p on one core, 91 ms against 476 (171 for NCHW instance norm).
                # One image at a time: in bf16 its result for an image depends on the batch
                # around it (3 grey levels), and a frame must not depend on its neighbours.
                # On a GPU, never measured here, instance norm stays as it was.
                parts = [F.group_norm(one, x.shape[1], weight, bias, eps) for one in x.split(1)]
                return parts[0] if len(parts) == 1 else torch.cat(parts)
            return F.instance_norm(x, weight=weight, bias=bias, eps=eps)
        mean, var = (s.to(x.dtype)[None, :, None, None] for s in self.stats_override)
        y = (x - mean) * torch.rsqrt(var + eps)
        if weight is not None and bias is not None:
            y = y * weight[None, :, None, None] + bias[None, :, None, None]
        return y


def _channels_last(x: torch.Tensor) -> bool:
    """Laid out channels-last (and not also NCHW, as a 1x1 image or one channel would be)."""
    return (
        x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and not x.is_contiguous()
    )


class InstanceNorm(WholeImageStats, nn.InstanceNorm2d):
    """The reference's instance norm (no affine, no running stats, so no state-dict keys)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=False, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._per_image_norm(x, None, None, self.eps)


class BatchNorm(WholeImageStats, nn.BatchNorm2d):
    """Batch norm that, outside training, normalises each image by its own statistics.

    The reference runs pix2pix generators at test time in train mode with batch size 1, i.e. with
    per-image statistics; ``per_image=False`` uses the running averages instead (plain eval mode).
    Either way the result does not depend on which images share a batch.
    """

    per_image: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.per_image:
            return super().forward(x)
        return self._per_image_norm(x, self.weight, self.bias, self.eps)


def make_norm(kind: str, channels: int) -> nn.Module:
    """The norm layer the reference puts after a conv (Identity keeps the layer indices)."""
    if kind == "instance":
        return InstanceNorm(channels)
    if kind == "batch":
        return BatchNorm(channels)
    if kind == "none":
        return nn.Identity()
    raise StylizeError(f"unknown norm {kind!r}: choose from {', '.join(NORMS)}")


def conv_bias(kind: str) -> bool:
    """The reference gives convs before a norm a bias only with instance norm."""
    return kind == "instance"


def set_bn_per_image(module: nn.Module, per_image: bool) -> None:
    for layer in module.modules():
        if isinstance(layer, BatchNorm):
            layer.per_image = per_image
