"""pix2pix: a generator learns A -> B from aligned pairs, judged by a conditional PatchGAN."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from typing_extensions import override

from stylizer.errors import StylizeError

from ..data import Augment, PairedData, folder_items, split_holdout, two_folder_items
from ..losses import diversity_figures, psnr
from ..settings import setting
from .base import register_task
from .reference import ReferenceSettings, ReferenceTask


@dataclass
class Pix2PixSettings(ReferenceSettings):
    aligned: bool = setting(False, "One folder of side-by-side AB images.", bool)
    direction: str = setting("AtoB", "Which side is the input.", ("AtoB", "BtoA"))
    lambda_l1: float = setting(100.0, "Weight of the L1 loss to the target.", float)

    def fill(self) -> None:
        self.arch = self.arch or "unet"
        self.norm = self.norm or "batch"
        self.dropout = True if self.dropout is None else self.dropout
        self.gan_loss = self.gan_loss or "vanilla"
        super().fill()

    def check(self) -> None:
        if self.direction not in ("AtoB", "BtoA"):
            raise StylizeError("--direction must be AtoB or BtoA")
        super().check()


@register_task("pix2pix")
class Pix2Pix(ReferenceTask):
    """pix2pix: learn A -> B from aligned pairs, judged by a conditional PatchGAN.

    \b
      stylize-train --paired sketches/ shibas/ -o runs/shiba   # A/B files matched by name
      stylize-train --aligned --direction BtoA edges2shoes/ -o runs/shoes   # side-by-side AB
    """

    settings_class = Pix2PixSettings
    s: Pix2PixSettings
    aliases = ("--paired", "--aligned")
    evaluation = (
        "the L1 and PSNR of the output against the target, from two folders matched by name, or "
        "one of side-by-side AB images"
    )
    best_by = ("val_L1", "lower")
    preview_columns = ("held-out input", "output", "real target")
    figures = (
        "figures: G_L1 is the L1 error times --lambda-l1 (100), what training minimises; val_L1 "
        "is the plain error on held-out pairs (0: exact, 2: every value wrong by the whole range)"
    )

    @override
    def inputs(self, direction):
        side = 0 if self.s.direction == "AtoB" else 1
        if self.s.aligned:
            return f"the {('left', 'right')[side]} halves of the images in {self.s.data[0]}"
        return super().inputs(("AtoB", "BtoA")[side])

    @override
    @classmethod
    def datasets(cls, s, warn, run_root):
        items, val_items = two_folder_items(True, s.aligned, s.data, warn, s.crop_size)
        if val_items is None:
            items, val_items = split_holdout(items, s.val_count)
        if not items:
            raise StylizeError("no training pairs left")
        aug = Augment(s.load_size, s.crop_size, s.flip)
        return (
            PairedData(items, aug, True, s.direction),
            PairedData(val_items[: s.val_count], aug, False, s.direction),
        )

    @classmethod
    def evaluation_data(cls, s, roots, size, warn):
        items = folder_items(True, s.aligned, roots, warn)
        return PairedData(items, Augment(size, size, False), False, s.direction)

    def __init__(self, s, device) -> None:
        super().__init__(s, device)
        self.G = self.add_net("G", self.generator())
        self.D = self.add_net("D", self.discriminator(6))
        self.optims = {"G": self.adam(self.nets["G"]), "D": self.adam(self.nets["D"])}

    def train_step(self, batch):
        a, b = self.to_device(batch["A"]), self.to_device(batch["B"])
        with self.autocast:
            fake = self.G(a)
        # Discriminator: real pairs towards 1, generated pairs towards 0.
        judged = self.discriminator_step(self.D, torch.cat([a, b], 1), torch.cat([a, fake], 1))
        # Generator: fool D and stay close to the target.
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            g_gan = self.gan(self.judge(self.D, torch.cat([a, fake], 1)), True)
            g_l1 = F.l1_loss(fake.float(), b) * self.s.lambda_l1
            loss_g = g_gan + g_l1
        loss_g.backward()
        self.optims["G"].step()
        losses = {"G_GAN": g_gan, "G_L1": g_l1} | judged | {"G_grad": self.grad_norm(self.G)}
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def evaluate(self, batch):
        a, b = batch["A"].to(self.device), batch["B"].to(self.device)
        g = self.plain(self.nets["G"]).eval()
        fake = g(a).float()
        g.train()
        metrics = {"val_L1": F.l1_loss(fake, b).item(), "val_PSNR": psnr(fake, b)}
        metrics |= diversity_figures(fake, b)
        return metrics, torch.stack([a, fake, b], 1).flatten(0, 1)

    @override
    def generator_for(self, direction):
        return self.plain(self.nets["G"])  # the data is swapped for BtoA, not the network
