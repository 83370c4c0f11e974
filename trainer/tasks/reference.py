"""What pix2pix, CycleGAN and CUT share, as the reference implementation has them: a PatchGAN
discriminator, its objective (with optional DiffAugment), and the augmentation (resize to
``load_size``, random crop of ``crop_size``); and the unpaired data of CycleGAN and CUT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from typing_extensions import override

from stylizer.errors import StylizeError
from stylizer.models import PatchDiscriminator

from ..augment import DiffAugment, parse_policy
from ..data import Augment, UnpairedData, folder_items, split_holdout, two_folder_items
from ..losses import GANLoss
from ..settings import Settings, setting
from .base import Task


@dataclass
class ReferenceSettings(Settings):
    load_size: int = setting(286, "Images are resized to this before cropping.", 8)
    gan_loss: str = setting("", "The adversarial objective.", ("lsgan", "vanilla"))
    diffaugment: str = setting(
        "",
        "Differentiable augmentation of every image the discriminator judges, real and generated "
        "alike (DiffAugment): any of color,translation,cutout, comma-separated. For few images "
        "(hundreds of paintings), where the discriminator would memorise them.",
        str,
    )
    ndf: int = 64
    d_layers: int = 3
    pool_size: int = 50

    def check(self) -> None:
        parse_policy(self.diffaugment)
        if self.crop_size > self.load_size:
            raise StylizeError(f"--crop-size {self.crop_size} exceeds --load-size {self.load_size}")
        super().check()


class ReferenceTask(Task):
    """A generator judged by a PatchGAN discriminator, trained on crops of resized images."""

    settings_class = ReferenceSettings
    s: ReferenceSettings

    def __init__(self, s: ReferenceSettings, device: torch.device) -> None:
        super().__init__(s, device)
        self.augment = DiffAugment(s.diffaugment)
        self.gan = GANLoss(s.gan_loss).to(device)

    def discriminator(self, in_channels: int) -> nn.Module:
        return PatchDiscriminator(in_channels, self.s.ndf, self.s.d_layers, self.s.norm)

    def discriminator_step(
        self, discriminator: nn.Module, real: torch.Tensor, made: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One update of ``discriminator`` (``Task.discriminator_update``), judging through
        ``--diffaugment``."""
        return self.discriminator_update(
            discriminator, self.gan, real, made, lambda x: self.judge(discriminator, x)
        )

    def judge(self, discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """The discriminator's verdict on ``images``, augmented as ``--diffaugment`` says (the
        same for real and generated ones, on both networks' steps)."""
        return discriminator(self.augment(images))

    def record(self, direction: str = "AtoB") -> dict:
        return {
            "intended_input": f"images like {self.inputs(direction)}; trained on "
            f"{self.s.crop_size}px crops of them resized to {self.s.load_size}",
            "working_size": self.s.load_size,
        }

    def inputs(self, direction: str) -> str:
        """What the generator for ``direction`` was given in training, in words."""
        data, side = self.s.data, 0 if direction == "AtoB" else 1
        if len(data) == 1:
            return f"those in {Path(data[0]) / ('trainA', 'trainB')[side]}"
        return f"those in {data[side]}"


class UnpairedTask(ReferenceTask):
    """A task that learns from two unrelated sets of images (CycleGAN, CUT): folders A and B,
    or one with trainA/ and trainB/ (and testA/, testB/ for validation)."""

    @override
    @classmethod
    def datasets(cls, s, warn, run_root):
        (a, b), val_items = two_folder_items(False, False, s.data, warn, s.crop_size)
        if val_items is None:
            (a, va), (b, vb) = split_holdout(a, s.val_count), split_holdout(b, s.val_count)
        else:
            va, vb = val_items
        if not a or not b:
            raise StylizeError("each side needs at least one training image")
        n = min(len(va), len(vb), s.val_count)
        aug = Augment(s.load_size, s.crop_size, s.flip)
        return UnpairedData(a, b, aug, True), UnpairedData(va[:n], vb[:n], aug, False)

    @override
    @classmethod
    def evaluation_data(cls, s, roots, size, warn):
        if len(roots) == 1:
            if not (roots[0] / "testA").is_dir():
                raise StylizeError("give two folders (A and B), or one with testA/ and testB/")
            roots = [roots[0] / "testA", roots[0] / "testB"]
        a, b = folder_items(False, False, roots, warn)
        return UnpairedData(a, b, Augment(size, size, False), False)
