"""Unconditional generation: new images like a folder's, from random vectors (a DCGAN).

The generator is ``stylizer.models.dcgan``; the discriminator mirrors it (stride-2 3x3
convolutions doubling the channels, leaky ReLU, a 4x4 convolution to one logit). What makes such
a pair train on a few hundred pictures, each a setting so it can be measured on and off:
spectral norm on the discriminator's layers (keeps its gradients bounded), the hinge or
non-saturating loss (the generator still learns while the discriminator wins), differentiable
augmentation of everything the discriminator judges (it cannot memorise few images), separate
learning rates (TTUR: the discriminator's 4x the generator's) and an exponential moving average
of the generator's weights, which previews, samples and exports use (smoother than the last
step's weights).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchvision.transforms import v2
from typing_extensions import override

from stylizer.errors import StylizeError

from ..augment import DiffAugment, parse_policy
from ..data import load_rgb, scan, split_holdout, to_unit
from ..losses import diversity, sliced_wasserstein
from ..settings import Settings, setting
from .base import Task, register_task

#: What ``fill`` sets where the settings leave it to the task.
DEFAULTS = {
    "arch": "dcgan",
    "ngf": 32,
    "lr": 1e-4,
    "beta1": 0.5,
    "batch_size": 32,
    "epochs": 300,
    "decay_epochs": 0,
    "val_count": 32,
    "diffaugment": "color,translation,cutout",
}
#: Samples drawn from fixed random vectors at each validation (the first 32 are the preview
#: grid), and training images they are compared with (``val_SWD``).
SAMPLE_COUNT = 128


class FolderImages(Dataset):
    """The images of one folder as squares: the shorter side resized to ``size``, then a
    random (training) or central square crop, flipped at random in training; ``half`` takes the
    left or right half of side-by-side AB images first."""

    def __init__(self, files: list[Path], size: int, train: bool, flip: bool, half: str) -> None:
        self.files, self.half = files, half
        crop = v2.RandomCrop(size) if train else v2.CenterCrop(size)
        steps = [v2.Resize(size, antialias=True), crop]
        self.tf = v2.Compose([*steps, *([v2.RandomHorizontalFlip()] if train and flip else [])])

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        i, seed = key if isinstance(key, tuple) else (key, key)
        image = load_rgb(self.files[i])
        width = image.shape[2] // 2
        if self.half == "left":
            image = image[:, :, :width]
        elif self.half == "right":
            image = image[:, :, width : 2 * width]
        torch.manual_seed(seed)
        return {"B": to_unit(self.tf(v2.functional.to_image(image)))}


def discriminator(size: int, ndf: int, spectral: bool) -> nn.Module:
    """Stride-2 3x3 convolutions from ``size`` down to 4x4 (channels doubling from ``ndf`` up to
    8 x ``ndf``), leaky ReLU, then a 4x4 convolution to one logit per image."""
    wrap = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
    layers: list[nn.Module] = []
    width, side, channels = 3, size, ndf
    while side > 4:
        layers += [wrap(nn.Conv2d(width, channels, 3, 2, 1)), nn.LeakyReLU(0.2, True)]
        width, side, channels = channels, side // 2, min(channels * 2, ndf * 8)
    layers += [wrap(nn.Conv2d(width, 1, 4)), nn.Flatten()]
    return nn.Sequential(*layers)


@dataclass
class UnconditionalSettings(Settings):
    image_size: int = setting(64, "Side of the images made (64 or 128; any 4 x 2^k).", 8)
    latent: int = setting(128, "Length of the random vector each image is made from.", 1)
    gan_loss: str = setting(
        "hinge",
        "The adversarial objective: hinge, or the non-saturating log loss. Both keep the "
        "generator learning while the discriminator is ahead.",
        ("hinge", "nonsaturating"),
    )
    spectral_norm: bool = setting(True, "Spectral norm on the discriminator's layers.", bool)
    diffaugment: str = setting(
        "",
        "Differentiable augmentation of what the discriminator judges (default "
        "color,translation,cutout; none turns it off).",
        str,
    )
    lr_d: float | None = setting(
        None, "The discriminator's learning rate (default 4x --lr: TTUR).", float
    )
    ema: float = setting(
        0.999,
        "Decay of the moving average of the generator's weights that samples are drawn with "
        "(0: the last step's weights).",
        float,
    )
    half: str = setting(
        "", "Take the left or right half of side-by-side AB images.", ("", "left", "right")
    )
    ndf: int = setting(32, "Discriminator width.", 1)

    adjustable = frozenset({"lr_d"})

    def fill(self) -> None:
        self.fill_unset(DEFAULTS)
        self.norm = "batch"  # the only one it has
        self.diffaugment = "" if self.diffaugment == "none" else self.diffaugment
        self.crop_size = self.image_size
        self.depth = self.depth or max(1, (self.image_size // 4).bit_length() - 1)
        super().fill()
        self.lr_d = self.lr_d or 4 * (self.lr or 0.0)

    def check(self) -> None:
        side = self.image_size
        if side < 8 or side & (side - 1) or 4 * 2**self.depth != side:  # type: ignore[operator]
            raise StylizeError(
                f"--image-size {side}: use a power of two from 8 (64 and 128 are usual); "
                "--depth follows from it"
            )
        if self.arch != "dcgan":
            raise StylizeError(f"{self.task} trains the dcgan generator (not --arch {self.arch})")
        if len(self.data) != 1:
            raise StylizeError(f"{self.task} learns from one folder of images")
        if not 0 <= self.ema < 1:
            raise StylizeError(f"--ema {self.ema}: use a decay in [0, 1), such as 0.999")
        parse_policy(self.diffaugment)
        super().check()


@register_task("unconditional")
class Unconditional(Task):
    """Unconditional: a generator of new images like those of one folder, from random numbers.

    \b
      stylize-train --task unconditional shoes/ -o runs/shoes
      stylize-train --task unconditional edges2shoes/train --half left -o runs/shoes
      stylize-train export runs/shoes --name shoes && stylize generate --preset shoes -n 16 -o new/
    """

    settings_class = UnconditionalSettings
    s: UnconditionalSettings
    evaluation = ""
    best_by = ("val_SWD", "lower")
    figures = (
        "figures: val_SWD is how far the samples' 7x7 patches are from the training images' "
        "at three scales (sliced Wasserstein x 1000, lower is better; two sets of 128 real "
        "shoe photos differ by about 4); diversity is how different the images of one batch are"
    )
    preview_columns = ("samples",) * 8
    timelapse = True
    preview_note = (
        "The same 32 random vectors at every preview (drawn by the averaged generator), so "
        "each image shows one vector's drawing getting better."
    )
    preview_rows = 1

    @override
    @classmethod
    def datasets(cls, s, warn, run_root):
        files = sorted(scan(Path(s.data[0]), warn, s.image_size, halves=bool(s.half)))
        train, held = split_holdout(files, s.val_count or 0)
        if len(train) < 2:
            raise StylizeError(f"{s.data[0]}: a generator needs more than one image to learn from")
        make = FolderImages
        return make(train, s.image_size, True, s.flip, s.half), make(held, s.image_size, False, False, s.half)  # fmt: skip

    def __init__(self, s: UnconditionalSettings, device: torch.device) -> None:
        super().__init__(s, device)
        self.G = self.add_net("G", self.generator(in_channels=s.latent))
        self.D = self.add_net("D", discriminator(s.image_size, s.ndf, s.spectral_norm))
        # Not trained (no optimiser, no gradients): kept and saved with the networks.
        self.G_ema = copy.deepcopy(self.plain(self.G)).requires_grad_(False)
        self.nets["G_ema"] = self.G_ema
        self.augment = DiffAugment(s.diffaugment)
        beta1, beta2 = s.beta1, s.beta2
        assert beta1 is not None and s.lr_d is not None, "settings not resolved"
        self.optims = {
            "G": self.adam(self.nets["G"]),
            "D": torch.optim.Adam(self.nets["D"].parameters(), lr=s.lr_d, betas=(beta1, beta2)),
        }
        self.averaged = 0  # updates of G_ema so far
        # The preview grid's vectors, the same for the whole run (from the run's seed).
        self.fixed = torch.randn(
            SAMPLE_COUNT, s.latent, generator=torch.Generator().manual_seed(s.seed + 1)
        ).to(device)
        self.reference = torch.zeros(0)

    @override
    def prepare(self, train_set, val_set, log, progress, rank, world):
        """Keep up to 128 training images, evenly spread and not augmented, to compare samples
        with."""
        files = cast(FolderImages, train_set).files
        chosen = files[:: max(1, len(files) // SAMPLE_COUNT)][:SAMPLE_COUNT]
        plain = FolderImages(chosen, self.s.image_size, False, False, self.s.half)
        self.reference = torch.stack([plain[i]["B"] for i in range(len(plain))])

    @override
    def learning_rates(self) -> dict[str, float]:
        assert self.s.lr is not None and self.s.lr_d is not None, "settings not resolved"
        return {"G": self.s.lr, "D": self.s.lr_d}

    def noise(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.s.latent, device=self.device)

    def d_losses(self, real: torch.Tensor, made: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The discriminator's loss on real and made images, and its logits for both."""
        real_logit = self.D(self.augment(real)).flatten()
        made_logit = self.D(self.augment(made)).flatten()
        if self.s.gan_loss == "hinge":
            loss_real, loss_made = F.relu(1 - real_logit).mean(), F.relu(1 + made_logit).mean()
        else:
            loss_real, loss_made = F.softplus(-real_logit).mean(), F.softplus(made_logit).mean()
        return loss_real, loss_made, real_logit, made_logit

    def g_loss(self, made: torch.Tensor) -> torch.Tensor:
        logit = self.D(self.augment(made)).flatten()
        return -logit.mean() if self.s.gan_loss == "hinge" else F.softplus(-logit).mean()

    def train_step(self, batch):
        real = self.to_device(batch["B"])
        # Discriminator: real images up, made ones down.
        self.set_requires_grad(True, self.D)
        self.optims["D"].zero_grad(set_to_none=True)
        with self.autocast:
            made = self.G(self.noise(len(real)))
            loss_real, loss_made, real_logit, made_logit = self.d_losses(real, made.detach())
        chance = 2.0 if self.s.gan_loss == "hinge" else 2 * 0.6931
        rests = self.discriminator_rests(loss_real + loss_made, chance)
        if not rests:
            (loss_real + loss_made).backward()
            self.optims["D"].step()
        d_grad = self.grad_norm(self.D)
        # Generator: be taken for real.
        self.set_requires_grad(False, self.D)
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            loss_g = self.g_loss(made)
        loss_g.backward()
        g_grad = self.grad_norm(self.G)
        self.optims["G"].step()
        self.update_average()
        losses = {"G_GAN": loss_g, "D_real": loss_real, "D_fake": loss_made}
        if self.s.balance:
            losses["D_rests"] = rests
        return {k: v.detach() for k, v in losses.items()} | {
            "D_acc_real": (real_logit > 0).float().mean(),
            "D_acc_fake": (made_logit < 0).float().mean(),
            "G_grad": g_grad,
            "D_grad": d_grad,
            "diversity": diversity(made),
            "real_diversity": diversity(real),
        }

    @torch.no_grad()
    def update_average(self) -> None:
        """G_ema <- decay x G_ema + (1 - decay) x G, integer buffers copied. The decay grows
        from 0.1 towards ``--ema`` over the first steps, so the average soon forgets the
        random start (with 0.999 from step 1, it would still be half of it at step 700)."""
        self.averaged += 1
        decay = min(self.s.ema, self.averaged / (self.averaged + 10))
        for average, current in zip(
            self.G_ema.state_dict().values(), self.plain(self.G).state_dict().values(), strict=True
        ):
            if average.is_floating_point() and decay:
                average.lerp_(current, 1 - decay)
            else:
                average.copy_(current)

    @torch.no_grad()
    def evaluate(self, batch):
        samples = self.sample(self.fixed)
        metrics = {
            "val_SWD": sliced_wasserstein(self.reference, samples),
            "val_diversity": float(diversity(samples)),
            "val_real_diversity": float(diversity(batch["B"])),
        }
        return metrics, samples[:32]

    def sample(self, vectors: torch.Tensor) -> torch.Tensor:
        """Images from ``vectors`` by the averaged generator, in inference mode."""
        g = self.plain(self.G_ema).eval()
        images = g(vectors).float()
        g.train()
        return images

    @override
    def state_dict(self) -> dict:
        return super().state_dict() | {"averaged": self.averaged}

    @override
    def load_state_dict(self, state: dict, nets_only: bool = False) -> None:
        super().load_state_dict(state, nets_only)
        self.averaged = 0 if nets_only else state.get("averaged", 0)

    @override
    def generator_for(self, direction):
        return self.plain(self.G_ema)

    @override
    def record(self, direction: str = "AtoB") -> dict:
        return {
            "intended_input": f"random vectors of {self.s.latent} numbers (stylize generate); "
            f"draws {self.s.image_size}x{self.s.image_size} images like {self.s.data[0]}",
            "working_size": self.s.image_size,
        }
