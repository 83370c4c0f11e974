"""CUT and FastCUT: one generator learns A -> B from unpaired images, with a patchwise contrastive
loss in place of CycleGAN's second generator and cycle (Park, Efros, Zhang and Zhu, "Contrastive
Learning for Unpaired Image-to-Image Translation", ECCV 2020).

The generator's own encoder reads both the input and the output. A patch of the output should
correspond to the patch of the input at the same place, and to no other patch of that input:
after a small MLP head per encoder layer, each output patch's feature is scored against the input
features at 256 sampled places, and a cross-entropy (InfoNCE, temperature 0.07) asks it to pick
out its own place. Only one generator and one discriminator are trained, so a step costs about
half of CycleGAN's. CUT adds the same loss on B images passed through the generator (which
should leave them alone); FastCUT drops it, weights the contrastive loss 10x, and asks for
flip-equivariance instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from stylizer.errors import StylizeError

from ..losses import diversity_figures
from ..settings import setting
from .base import register_task
from .reference import ReferenceSettings, UnpairedTask

#: Architectures whose ``model`` is the reference's layer sequence: stem (pad, conv, norm, ReLU),
#: two down-samplings (conv, norm, ReLU), then the residual blocks.
ENCODER_ARCHS = ("resnet", "resnet-resize")
#: Where the residual blocks start in that sequence.
FIRST_BLOCK = 10


def encoder_layers(depth: int) -> tuple[int, ...]:
    """The layers of the sequence whose outputs are compared: the padded input (pixels), the
    first down-sampling convolution, the second's normalisation, and the residual blocks about a
    quarter and two thirds of the way in (the paper's 0, 4, 8, 12, 16 for 9 blocks)."""
    blocks = {FIRST_BLOCK + int(depth * f + 0.5) for f in (0.25, 0.7)}
    return (0, 4, 8, *sorted(b for b in blocks if b < FIRST_BLOCK + depth))


def encode(generator: nn.Module, x: torch.Tensor, layers: tuple[int, ...]) -> list[torch.Tensor]:
    """The outputs of ``layers`` of the generator's sequence for input ``x`` (the rest is not
    run)."""
    features = []
    sequence = generator.model
    assert isinstance(sequence, nn.Sequential), "an encoder architecture (ENCODER_ARCHS)"
    for index, layer in enumerate(sequence[: max(layers) + 1]):
        x = layer(x)
        if index in layers:
            features.append(x)
    return features


class PatchHeads(nn.Module):
    """One two-layer MLP per compared layer, mapping each sampled place's feature to a unit
    vector of ``width`` values."""

    def __init__(self, channels: list[int], width: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(c, width), nn.ReLU(), nn.Linear(width, width)) for c in channels
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(
        self, features: list[torch.Tensor], places: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """For each layer, the features at ``places`` (indices into H*W), as B x P x width."""
        out = []
        for head, feature, chosen in zip(self.heads, features, places, strict=True):
            flat = feature.flatten(2).transpose(1, 2)[:, chosen]  # B x P x C
            out.append(F.normalize(head(flat.float()), dim=-1))
        return out


def patch_nce(query: torch.Tensor, key: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of each query place against the key at the same place (positive) and at the
    other sampled places of the same image (negatives); B x P x C unit vectors each."""
    key = key.detach()
    positive = (query * key).sum(-1, keepdim=True)  # B x P x 1
    negative = query @ key.transpose(1, 2)  # B x P x P
    places = query.shape[1]
    same = torch.eye(places, dtype=torch.bool, device=query.device)
    negative = negative.masked_fill(same, -10.0)  # a place is not its own negative
    logits = torch.cat([positive, negative], dim=-1) / temperature
    target = torch.zeros(logits.shape[0] * places, dtype=torch.long, device=query.device)
    return F.cross_entropy(logits.flatten(0, 1), target)


@dataclass
class CUTSettings(ReferenceSettings):
    lambda_nce: float | None = setting(None, "Weight of the contrastive loss (CUT 1, FastCUT 10).", float)  # fmt: skip
    nce_identity: bool | None = setting(
        None,
        "Also ask B images passed through the generator to keep their patches (CUT yes, FastCUT "
        "no).",
        bool,
    )
    flip_equivariance: bool | None = setting(
        None, "Flip half the inputs and their output's features back (CUT no, FastCUT yes).", bool
    )
    nce_patches: int = setting(256, "Places sampled per layer and image.", 1)
    nce_temperature: float = 0.07
    nce_width: int = 256

    #: This variant's defaults: lambda_nce, nce_identity, flip_equivariance.
    VARIANT = (1.0, True, False)

    def fill(self) -> None:
        lam, identity, flip = self.VARIANT
        self.lambda_nce = lam if self.lambda_nce is None else self.lambda_nce
        self.nce_identity = identity if self.nce_identity is None else self.nce_identity
        self.flip_equivariance = flip if self.flip_equivariance is None else self.flip_equivariance
        self.gan_loss = self.gan_loss or "lsgan"
        super().fill()

    def check(self) -> None:
        if self.arch not in ENCODER_ARCHS:
            raise StylizeError(
                f"{self.task} compares the generator's encoder features: use --arch "
                f"{' or '.join(ENCODER_ARCHS)} (not {self.arch})"
            )
        super().check()


@dataclass
class FastCUTSettings(CUTSettings):
    VARIANT = (10.0, False, True)


@register_task("cut")
class CUT(UnpairedTask):
    """CUT: learn A -> B from two unrelated sets of images with one generator, faster than CycleGAN.

    \b
      stylize-train --task cut photos/ paintings/ -o runs/vangogh-cut
      stylize-train --task cut photos/ paintings/ -o runs/v2 --init-from vangogh --diffaugment color,translation,cutout
    """

    settings_class = CUTSettings
    s: CUTSettings
    evaluation = (
        "the L1 between each A image and its translation, which says how much of the scene is "
        "kept (not how strong the style is), from two folders (A and B) or one with testA/ and "
        "testB/"
    )
    preview_columns = ("held-out A image", "its translation", "a B image through the generator")
    preview_note = "A B image through the generator should come out as it went in."
    preview_rows = 1

    def __init__(self, s, device) -> None:
        super().__init__(s, device)
        self.layers = encoder_layers(s.depth)
        self.G = self.add_net("G", self.generator())
        self.D = self.add_net("D", self.discriminator(3))
        with torch.no_grad():
            probe = torch.zeros(1, 3, 32, 32, device=device)
            channels = [f.shape[1] for f in encode(self.plain(self.G), probe, self.layers)]
        self.heads = self.add_net("F", PatchHeads(channels, s.nce_width))
        self.optims = {"G": self.adam(self.nets["G"], self.nets["F"]), "D": self.adam(self.nets["D"])}  # fmt: skip

    def nce(self, source: torch.Tensor, output: torch.Tensor, flipped: bool) -> torch.Tensor:
        """The contrastive loss of ``output`` against the input ``source`` it was made from,
        averaged over the compared layers."""
        generator = self.plain(self.G)
        queries = encode(generator, output, self.layers)
        if flipped:  # the output was made from the flipped source: flip its features back
            queries = [q.flip(3) for q in queries]
        keys = encode(generator, source, self.layers)
        places = [
            torch.randperm(k.shape[2] * k.shape[3], device=k.device)[: self.s.nce_patches]
            for k in keys
        ]
        q, k = self.heads(queries, places), self.heads(keys, places)
        losses = [patch_nce(qi, ki, self.s.nce_temperature) for qi, ki in zip(q, k, strict=True)]
        assert self.s.lambda_nce is not None, "settings not resolved"
        return torch.stack(losses).mean() * self.s.lambda_nce

    def train_step(self, batch):
        real_a, real_b = self.to_device(batch["A"]), self.to_device(batch["B"])
        flipped = bool(self.s.flip_equivariance) and bool(torch.rand(()) < 0.5)
        inputs = real_a.flip(3) if flipped else real_a
        if self.s.nce_identity:
            inputs = torch.cat([inputs, real_b])
        with self.autocast:
            made = self.G(inputs)
        fake_b, idt_b = made[: len(real_a)], made[len(real_a) :]
        # Discriminator: B images towards 1, generated ones towards 0.
        judged = self.discriminator_step(self.D, real_b, fake_b)
        # Generator and heads: fool D, and keep each patch's correspondence.
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            losses = {"G_GAN": self.gan(self.judge(self.D, fake_b), True)}
            losses["NCE"] = self.nce(real_a, fake_b, flipped)
            if self.s.nce_identity:
                losses["NCE_idt"] = self.nce(real_b, idt_b, False)
                nce = (losses["NCE"] + losses["NCE_idt"]) * 0.5
            else:
                nce = losses["NCE"]
            loss_g = losses["G_GAN"] + nce
        loss_g.backward()
        self.optims["G"].step()
        losses |= judged | {"G_grad": self.grad_norm(self.G)}
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def evaluate(self, batch):
        a, b = batch["A"].to(self.device), batch["B"].to(self.device)
        g = self.plain(self.G).eval()
        fake_b, idt_b = g(a).float(), g(b).float()
        g.train()
        metrics = {"val_scene_L1": F.l1_loss(fake_b, a).item(), "val_idt_L1": F.l1_loss(idt_b, b).item()}  # fmt: skip
        metrics |= diversity_figures(fake_b, b)
        return metrics, torch.stack([a, fake_b, idt_b], 1).flatten(0, 1)

    @override
    def generator_for(self, direction):
        if direction != "AtoB":
            raise StylizeError(f"{self.name} learns A -> B only: export it with --direction AtoB")
        return self.plain(self.G)


@register_task("fastcut")
class FastCUT(CUT):
    """FastCUT: CUT without the identity pass, a stronger contrastive loss, flip-equivariance.

    \b
      stylize-train --task fastcut photos/ paintings/ -o runs/vangogh-fastcut
    """

    settings_class = FastCUTSettings
    s: FastCUTSettings
