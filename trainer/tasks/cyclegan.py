"""CycleGAN: two generators (A -> B, B -> A) trained with adversarial, cycle and identity losses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import ImagePool, diversity_figures
from ..settings import setting
from .base import register_task
from .reference import ReferenceSettings, UnpairedTask


@dataclass
class CycleGANSettings(ReferenceSettings):
    lambda_cycle: float = setting(10.0, "Weight of the cycle loss.", float)
    lambda_identity: float = setting(
        0.5, "Weight of the identity loss, relative to the cycle's.", float
    )

    def fill(self) -> None:
        self.gan_loss = self.gan_loss or "lsgan"
        super().fill()


@register_task("cyclegan")
class CycleGAN(UnpairedTask):
    """CycleGAN: learn A -> B (and B -> A) from two unrelated sets of images.

    \b
      stylize-train --unpaired photos/ paintings/ -o runs/vangogh
      stylize-train --unpaired vangogh2photo/ -o runs/vangogh   # trainA/, trainB/ (testA/, testB/)
    """

    settings_class = CycleGANSettings
    s: CycleGANSettings
    aliases = ("--unpaired",)
    evaluation = (
        "the cycle L1 of each side (A -> B -> A and B -> A -> B, on [-1, 1]), from two folders "
        "(A and B) or one with testA/ and testB/; the shorter side is reused in turn so that "
        "every image of the longer one is scored"
    )
    preview_columns = ("input", "output", "reconstruction")
    preview_rows = 2  # A -> B -> A, then B -> A -> B
    preview_note = (
        "Rows go in pairs: first A -> B -> A (an A image, its translation to B, and that "
        "translated back), then B -> A -> B."
    )

    def __init__(self, s, device) -> None:
        super().__init__(s, device)
        self.G_A = self.add_net("G_A", self.generator())  # A -> B
        self.G_B = self.add_net("G_B", self.generator())  # B -> A
        self.D_A = self.add_net("D_A", self.discriminator(3))  # judges B-domain images
        self.D_B = self.add_net("D_B", self.discriminator(3))  # judges A-domain images
        n = self.nets
        self.optims = {
            "G": self.adam(n["G_A"], n["G_B"]),
            "D": self.adam(n["D_A"], n["D_B"]),
        }
        self.pools = {"A": ImagePool(s.pool_size), "B": ImagePool(s.pool_size)}

    def train_step(self, batch):
        s, n = self.s, self.nets
        real_a, real_b = self.to_device(batch["A"]), self.to_device(batch["B"])
        self.set_requires_grad(False, n["D_A"], n["D_B"])
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            fake_b, fake_a = self.G_A(real_a), self.G_B(real_b)
            rec_a, rec_b = self.G_B(fake_b), self.G_A(fake_a)
            losses = {
                "G_A": self.gan(self.judge(self.D_A, fake_b), True),
                "G_B": self.gan(self.judge(self.D_B, fake_a), True),
                "cycle_A": F.l1_loss(rec_a.float(), real_a) * s.lambda_cycle,
                "cycle_B": F.l1_loss(rec_b.float(), real_b) * s.lambda_cycle,
            }
            if s.lambda_identity > 0:
                w = s.lambda_cycle * s.lambda_identity
                losses["idt_A"] = F.l1_loss(self.G_A(real_b).float(), real_b) * w
                losses["idt_B"] = F.l1_loss(self.G_B(real_a).float(), real_a) * w
            loss_g = sum(losses.values())
        loss_g.backward()
        self.optims["G"].step()
        losses["G_grad"] = self.grad_norm(n["G_A"], n["G_B"])

        self.set_requires_grad(True, n["D_A"], n["D_B"])
        self.optims["D"].zero_grad(set_to_none=True)
        pooled_b = self.pools["B"].query(fake_b)
        pooled_a = self.pools["A"].query(fake_a)
        with self.autocast:
            verdicts = {
                "D_A": (self.judge(self.D_A, real_b), self.judge(self.D_A, pooled_b)),
                "D_B": (self.judge(self.D_B, real_a), self.judge(self.D_B, pooled_a)),
            }
            for name, (on_real, on_made) in verdicts.items():
                losses[name] = (self.gan(on_real, True) + self.gan(on_made, False)) * 0.5
        rests = self.discriminator_rests(losses["D_A"] + losses["D_B"], 2 * self.gan.chance)
        if not rests:
            (losses["D_A"] + losses["D_B"]).backward()
            self.optims["D"].step()
        if s.balance:
            losses["D_rests"] = rests
        losses["D_grad"] = self.grad_norm(n["D_A"], n["D_B"])
        for name, (on_real, on_made) in verdicts.items():
            losses[f"{name}_acc_real"] = self.gan.accuracy(on_real, True)
            losses[f"{name}_acc_fake"] = self.gan.accuracy(on_made, False)
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def evaluate(self, batch):
        a, b = batch["A"].to(self.device), batch["B"].to(self.device)
        g_a, g_b = self.plain(self.nets["G_A"]).eval(), self.plain(self.nets["G_B"]).eval()
        fake_b, fake_a = g_a(a).float(), g_b(b).float()
        rec_a, rec_b = g_b(fake_b).float(), g_a(fake_a).float()
        g_a.train(), g_b.train()
        metrics = {
            "val_cycle_A": F.l1_loss(rec_a, a).item(),
            "val_cycle_B": F.l1_loss(rec_b, b).item(),
        } | diversity_figures(fake_b, b)
        rows = itertools.chain.from_iterable(
            [(a[i], fake_b[i], rec_a[i]), (b[i], fake_a[i], rec_b[i])] for i in range(len(a))
        )
        return metrics, torch.stack([im for row in rows for im in row])

    def generator_for(self, direction):
        return self.plain(self.nets["G_A" if direction == "AtoB" else "G_B"])

    def state_dict(self):
        return super().state_dict() | {k: p.state_dict() for k, p in self.pools.items()}

    def load_state_dict(self, state, nets_only=False):
        super().load_state_dict(state, nets_only)
        if nets_only:
            return
        for k, p in self.pools.items():
            p.load_state_dict(state[k], self.device)
