"""What pix2pix and CycleGAN share, as the reference implementation has them: a PatchGAN
discriminator, its objective, and the augmentation (resize to ``load_size``, random crop of
``crop_size``)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from stylizer.errors import StylizeError
from stylizer.models import PatchDiscriminator

from ..settings import Settings, setting
from .base import Task


@dataclass
class ReferenceSettings(Settings):
    load_size: int = setting(286, "Images are resized to this before cropping.", 8)
    gan_loss: str = setting("", "The adversarial objective.", ("lsgan", "vanilla"))
    ndf: int = 64
    d_layers: int = 3
    pool_size: int = 50

    def check(self) -> None:
        if self.crop_size > self.load_size:
            raise StylizeError(f"--crop-size {self.crop_size} exceeds --load-size {self.load_size}")
        super().check()


class ReferenceTask(Task):
    """A generator judged by a PatchGAN discriminator, trained on crops of resized images."""

    settings_class = ReferenceSettings
    s: ReferenceSettings

    def discriminator(self, in_channels: int) -> nn.Module:
        return PatchDiscriminator(in_channels, self.s.ndf, self.s.d_layers, self.s.norm)

    def record(self) -> dict:
        return {
            "intended_input": f"photos; trained on {self.s.crop_size}px crops of images resized "
            f"to {self.s.load_size}",
            "working_size": self.s.load_size,
        }
