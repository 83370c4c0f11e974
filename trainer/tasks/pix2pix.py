"""pix2pix: a generator learns A -> B from aligned pairs, judged by a conditional PatchGAN."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import GANLoss
from .base import Task, register_task


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1], measured on [0, 1]."""
    mse = ((a - b) / 2).float().pow(2).mean().item()
    return 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-10))).item()


@register_task("pix2pix")
class Pix2Pix(Task):
    def __init__(self, s, device) -> None:
        super().__init__(s, device)
        self.G = self.add_net("G", self.generator())
        self.D = self.add_net("D", self.discriminator(6))
        self.optims = {"G": self.adam(self.nets["G"]), "D": self.adam(self.nets["D"])}
        self.gan = GANLoss(s.gan_loss).to(device)

    def train_step(self, batch):
        a, b = self.to_device(batch["A"]), self.to_device(batch["B"])
        with self.autocast:
            fake = self.G(a)
        # Discriminator: real pairs towards 1, generated pairs towards 0.
        self.set_requires_grad(True, self.nets["D"])
        self.optims["D"].zero_grad(set_to_none=True)
        with self.autocast:
            d_fake = self.gan(self.D(torch.cat([a, fake.detach()], 1)), False)
            d_real = self.gan(self.D(torch.cat([a, b], 1)), True)
            loss_d = (d_fake + d_real) * 0.5
        loss_d.backward()
        self.optims["D"].step()
        # Generator: fool D and stay close to the target.
        self.set_requires_grad(False, self.nets["D"])
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            g_gan = self.gan(self.D(torch.cat([a, fake], 1)), True)
            g_l1 = F.l1_loss(fake.float(), b) * self.s.lambda_l1
            loss_g = g_gan + g_l1
        loss_g.backward()
        self.optims["G"].step()
        losses = {"G_GAN": g_gan, "G_L1": g_l1, "D_real": d_real, "D_fake": d_fake}
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def evaluate(self, batch):
        a, b = batch["A"].to(self.device), batch["B"].to(self.device)
        g = self.plain(self.nets["G"]).eval()
        fake = g(a).float()
        g.train()
        metrics = {"val_L1": F.l1_loss(fake, b).item(), "val_PSNR": psnr(fake, b)}
        return metrics, torch.stack([a, fake, b], 1).flatten(0, 1)

    def generator_for(self, direction):
        return self.plain(self.nets["G"])  # the data is swapped for BtoA, not the network
